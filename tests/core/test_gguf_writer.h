#pragma once
// A small GGUF writer for the tests, written from the GGUF specification
// (ggml docs/gguf.md) and sharing no code with core's reader: builds files
// with any metadata (every value type, nested arrays) and tensors, and can
// write every field wrong on purpose (counts, versions, dimension counts,
// type ids, offsets, lengths) for the damaged-file tests.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace superlens::test::gguf {

// Value type ids of the specification.
enum : std::uint32_t {
    kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
    kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

template <class T>
std::string le(T v) {
    std::string s(sizeof(T), '\0');
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        std::uint64_t u = 0;
        std::memcpy(&u, &v, sizeof(T));
        s[i] = static_cast<char>((u >> (8 * i)) & 0xFF);
    }
    return s;
}
inline std::string str(const std::string& s) { return le<std::uint64_t>(s.size()) + s; }
inline std::string f32(float f) { return le(f); }
inline std::string f64(double d) { return le(d); }
// An array value: element type, count, then the encoded elements.
inline std::string array(std::uint32_t elementType, const std::vector<std::string>& elements,
                         std::optional<std::uint64_t> countOverride = std::nullopt) {
    std::string s = le(elementType) + le<std::uint64_t>(countOverride.value_or(elements.size()));
    for (const auto& e : elements) s += e;
    return s;
}

struct Tensor {
    std::string name;
    std::vector<std::uint64_t> ne;  // ggml order, ne[0] fastest
    std::uint32_t type = 0;
    std::string data;                      // raw bytes
    std::optional<std::uint64_t> offset;   // default: packed after the previous tensor, aligned
    std::optional<std::uint32_t> nDims;    // default: ne.size()
};

class Builder {
public:
    std::string magic = "GGUF";
    std::uint32_t version = 3;
    std::optional<std::uint64_t> tensorCount;  // overrides of the header counts
    std::optional<std::uint64_t> keyCount;
    std::uint64_t alignment = 32;  // layout only; add general.alignment yourself when it is not 32

    void kv(const std::string& key, std::uint32_t type, const std::string& encodedValue) {
        m_kvs.push_back({key, type, encodedValue});
    }
    void kvU32(const std::string& key, std::uint32_t v) { kv(key, kU32, le(v)); }
    void kvString(const std::string& key, const std::string& v) { kv(key, kString, str(v)); }
    void tensor(Tensor t) { m_tensors.push_back(std::move(t)); }
    std::vector<Tensor>& tensors() { return m_tensors; }

    // Offsets (from the file start) where one section or field ends and the
    // next begins; the file itself ends at bytes.size().
    std::vector<std::size_t> boundaries;

    std::string build() {
        boundaries.clear();
        std::string out = magic;
        boundaries.push_back(out.size());
        out += le(version);
        boundaries.push_back(out.size());
        out += le<std::uint64_t>(tensorCount.value_or(m_tensors.size()));
        boundaries.push_back(out.size());
        out += le<std::uint64_t>(keyCount.value_or(m_kvs.size()));
        boundaries.push_back(out.size());
        for (const auto& kv : m_kvs) {
            out += str(kv.key);
            boundaries.push_back(out.size());
            out += le(kv.type);
            boundaries.push_back(out.size());
            out += kv.value;
            boundaries.push_back(out.size());
        }
        // Packed, aligned offsets for tensors without an explicit one.
        std::vector<std::uint64_t> offsets;
        std::uint64_t next = 0;
        for (const auto& t : m_tensors) {
            const std::uint64_t o = t.offset.value_or(next);
            offsets.push_back(o);
            next = alignUp(o + t.data.size());
        }
        for (std::size_t i = 0; i < m_tensors.size(); ++i) {
            const Tensor& t = m_tensors[i];
            out += str(t.name);
            boundaries.push_back(out.size());
            out += le<std::uint32_t>(t.nDims.value_or(static_cast<std::uint32_t>(t.ne.size())));
            boundaries.push_back(out.size());
            for (std::uint64_t d : t.ne) out += le(d);
            boundaries.push_back(out.size());
            out += le(t.type);
            boundaries.push_back(out.size());
            out += le(offsets[i]);
            boundaries.push_back(out.size());
        }
        if (m_tensors.empty()) return out;
        out.resize(alignUp(out.size()), '\0');
        const std::size_t dataStart = out.size();
        boundaries.push_back(dataStart);
        // Offsets beyond 1 GiB (hostile ones) get no data: the file ends before them.
        auto placed = [&](std::size_t i) { return offsets[i] < (std::uint64_t{1} << 30); };
        std::size_t end = dataStart;
        for (std::size_t i = 0; i < m_tensors.size(); ++i) {
            if (placed(i)) end = std::max<std::size_t>(end, dataStart + offsets[i] + m_tensors[i].data.size());
        }
        out.resize(end, '\0');
        for (std::size_t i = 0; i < m_tensors.size(); ++i) {
            if (!placed(i)) continue;
            std::memcpy(out.data() + dataStart + offsets[i], m_tensors[i].data.data(), m_tensors[i].data.size());
            boundaries.push_back(dataStart + offsets[i]);
            boundaries.push_back(dataStart + offsets[i] + m_tensors[i].data.size());
        }
        return out;
    }

private:
    struct Kv {
        std::string key;
        std::uint32_t type;
        std::string value;
    };
    std::uint64_t alignUp(std::uint64_t x) const { return (x + alignment - 1) / alignment * alignment; }
    std::vector<Kv> m_kvs;
    std::vector<Tensor> m_tensors;
};

}  // namespace superlens::test::gguf
