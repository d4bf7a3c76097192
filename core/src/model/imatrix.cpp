#include "superlens/core/model/imatrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "superlens/core/model/gguf.h"
#include "superlens/core/model/mapped_file.h"

namespace superlens::core {
namespace {

// A name from the file for a one-line message: control bytes, quotes and
// backslashes escaped, long names cut.
std::string quote(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < 200; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > 200) out += "...";
    return out + "'";
}

class Reader {
public:
    Reader(const std::byte* d, std::size_t n) : m_data(d), m_size(n) {}
    std::size_t left() const { return m_size - m_pos; }
    std::size_t pos() const { return m_pos; }
    bool i32(std::int32_t& v) {
        if (left() < 4) return false;
        std::memcpy(&v, m_data + m_pos, 4);
        m_pos += 4;
        return true;
    }
    const std::byte* take(std::size_t n) {
        if (left() < n) return nullptr;
        const std::byte* p = m_data + m_pos;
        m_pos += n;
        return p;
    }

private:
    const std::byte* m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
};

Result<Imatrix> fail(const std::string& file, const std::string& m) { return Error{file + ": " + m}; }

bool isGguf(const std::byte* data, std::size_t size) { return size >= 4 && std::memcmp(data, "GGUF", 4) == 0; }

}  // namespace

std::int64_t ImatrixEntry::rank(std::int64_t column, std::int64_t matrix) const {
    const double v = at(column, matrix);
    std::int64_t above = 0;
    for (std::int64_t c = 0; c < columns; ++c) {
        if (at(c, matrix) > v) ++above;
    }
    return above + 1;
}

double ImatrixEntry::ratioToMedian(std::int64_t column, std::int64_t matrix) const {
    std::vector<double> row(importance.begin() + matrix * columns, importance.begin() + (matrix + 1) * columns);
    std::nth_element(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(row.size() / 2), row.end());
    const double median = row[row.size() / 2];
    return median > 0 ? at(column, matrix) / median : std::numeric_limits<double>::infinity();
}

const ImatrixEntry* Imatrix::find(const std::string& name) const {
    for (const ImatrixEntry& e : m_entries) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

Result<Imatrix> Imatrix::open(const std::filesystem::path& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    return fromBytes((*mapped)->data(), (*mapped)->size(), path.string());
}

Result<Imatrix> Imatrix::fromBytes(const std::byte* data, std::size_t size, const std::string& file) {
    Imatrix out;
    if (isGguf(data, size)) {
        out.m_format = "gguf";
        auto g = GgufFile::fromBytes(std::vector<std::byte>(data, data + size), file);
        if (!g) return g.error();
        const GgufFile& f = **g;
        if (f.has("general.type")) {
            auto type = f.getString("general.type");
            if (!type) return type.error();
            if (*type != "imatrix") return fail(file, "a GGUF file of general.type " + quote(*type) + ", not an importance matrix ('imatrix')");
        }
        if (f.has("imatrix.datasets")) {
            auto ds = f.getStringArray("imatrix.datasets");
            if (!ds) return ds.error();
            for (std::string_view d : *ds) out.m_datasets.emplace_back(d);
        }
        for (const char* key : {"imatrix.chunk_count", "imatrix.chunk_size"}) {
            if (!f.has(key)) continue;
            auto v = f.getUInt(key);
            if (!v) return v.error();
            if (*v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return fail(file, std::string(key) + " is too large");
            (std::string(key) == "imatrix.chunk_count" ? out.m_chunkCount : out.m_chunkSize) = static_cast<std::int64_t>(*v);
        }
        static const std::string kSum2 = ".in_sum2", kCounts = ".counts";
        auto floats = [&](const GgufTensor& t, std::vector<float>& v) -> Status {
            if (t.type != GgmlType::F32) return Error{file + ": tensor " + quote(t.name) + " is " + std::string(ggmlTypeName(t.type)) + ", expected F32"};
            v.resize(static_cast<std::size_t>(t.elementCount));
            if (t.elementCount) std::memcpy(v.data(), t.data, static_cast<std::size_t>(t.elementCount) * 4);
            for (float x : v) {
                if (!std::isfinite(x) || x < 0) return Error{file + ": tensor " + quote(t.name) + " holds " + std::to_string(x) + " (sums and counts are finite and >= 0)"};
            }
            return {};
        };
        for (const GgufTensor& t : f.tensors()) {
            if (t.name.size() <= kSum2.size() || t.name.compare(t.name.size() - kSum2.size(), kSum2.size(), kSum2) != 0) continue;
            const std::string name = t.name.substr(0, t.name.size() - kSum2.size());
            const GgufTensor* c = f.findTensor(name + kCounts);
            if (!c) return fail(file, "tensor " + quote(t.name) + " has no " + quote(name + kCounts));
            if (t.ne.size() > 2 || t.ne[0] < 1) return fail(file, "tensor " + quote(t.name) + " must be [columns, matrices]");
            const std::int64_t matrices = t.ne.size() == 2 ? t.ne[1] : 1;
            if (matrices < 1 || c->elementCount != matrices) {
                return fail(file, "tensor " + quote(name + kCounts) + " has " + std::to_string(c->elementCount) + " values for " + std::to_string(matrices) + " matrices");
            }
            if (static_cast<std::int64_t>(out.m_entries.size()) >= kImatrixMaxEntries) return fail(file, "more than " + std::to_string(kImatrixMaxEntries) + " entries");
            std::vector<float> sums, counts;
            if (auto s = floats(t, sums); !s) return s.error();
            if (auto s = floats(*c, counts); !s) return s.error();
            ImatrixEntry e;
            e.name = name;
            e.columns = t.ne[0];
            e.matrices = matrices;
            e.counts.assign(counts.begin(), counts.end());
            e.importance.resize(sums.size());
            for (std::size_t i = 0; i < sums.size(); ++i) {
                const double n = counts[i / static_cast<std::size_t>(e.columns)];
                e.importance[i] = n > 0 ? sums[i] / n : std::numeric_limits<double>::quiet_NaN();
            }
            out.m_entries.push_back(std::move(e));
        }
        if (out.m_entries.empty()) return fail(file, "no '<tensor>.in_sum2' tensors: not an importance matrix");
        return out;
    }

    out.m_format = "legacy";
    Reader r(data, size);
    std::int32_t n = 0;
    if (!r.i32(n)) return fail(file, "too short for an importance matrix (" + std::to_string(size) + " bytes)");
    // An entry takes at least 16 bytes (length, one name byte, ncall, nval, one value... nval >= 1: 17).
    if (n < 1 || n > kImatrixMaxEntries || static_cast<std::uint64_t>(n) * 17 > r.left()) {
        return fail(file, "entry count " + std::to_string(n) + " is not between 1 and what the file's " + std::to_string(size) + " bytes can hold");
    }
    std::map<std::string, bool> seen;
    for (std::int32_t i = 0; i < n; ++i) {
        const std::string where = "entry " + std::to_string(i) + ": ";
        std::int32_t len = 0;
        if (!r.i32(len)) return fail(file, where + "ends before its name length");
        if (len < 1 || len > kImatrixMaxNameBytes) return fail(file, where + "name length " + std::to_string(len) + " is not between 1 and " + std::to_string(kImatrixMaxNameBytes));
        const std::byte* p = r.take(static_cast<std::size_t>(len));
        if (!p) return fail(file, where + "name of " + std::to_string(len) + " bytes runs past the end of the file");
        ImatrixEntry e;
        e.name.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
        if (seen.count(e.name)) return fail(file, "duplicate entry " + quote(e.name));
        seen[e.name] = true;
        std::int32_t ncall = 0, nval = 0;
        if (!r.i32(ncall) || !r.i32(nval)) return fail(file, "entry " + quote(e.name) + " ends before its counts");
        if (ncall < 0) return fail(file, "entry " + quote(e.name) + ": negative call count " + std::to_string(ncall));
        if (nval < 1 || static_cast<std::uint64_t>(nval) * 4 > r.left()) {
            return fail(file, "entry " + quote(e.name) + ": " + std::to_string(nval) + " values run past the end of the file");
        }
        const std::byte* v = r.take(static_cast<std::size_t>(nval) * 4);
        e.columns = nval;
        e.counts = {static_cast<double>(ncall)};
        e.importance.resize(static_cast<std::size_t>(nval));
        for (std::int32_t k = 0; k < nval; ++k) {
            float x;
            std::memcpy(&x, v + 4 * static_cast<std::size_t>(k), 4);
            if (!std::isfinite(x) || x < 0) return fail(file, "entry " + quote(e.name) + " holds " + std::to_string(x) + " (values are finite and >= 0)");
            e.importance[static_cast<std::size_t>(k)] = ncall > 0 ? static_cast<double>(x) / ncall : static_cast<double>(x);
        }
        out.m_entries.push_back(std::move(e));
    }
    // Optional trailer: the last chunk, then the dataset's name.
    if (r.left() > 0) {
        std::int32_t last = 0, len = 0;
        if (!r.i32(last)) return fail(file, std::to_string(r.left()) + " stray bytes after the last entry");
        out.m_chunkCount = last;
        if (r.left() > 0) {
            if (!r.i32(len) || len < 0 || static_cast<std::size_t>(len) > r.left()) return fail(file, "dataset name runs past the end of the file");
            const std::byte* p = r.take(static_cast<std::size_t>(len));
            out.m_datasets.emplace_back(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
            if (r.left() > 0) return fail(file, std::to_string(r.left()) + " stray bytes after the dataset name");
        }
    }
    return out;
}

}  // namespace superlens::core
