// The .npy reader (NumPy's format description, "NEP 1"): magic "\x93NUMPY",
// version 1.0 (2-byte header length) or 2.0/3.0 (4-byte), an ASCII Python
// dict literal with 'descr', 'fortran_order' and 'shape', then the data.
// Only what an image tensor needs is accepted; every size is checked before
// it is used.

#include "superlens/core/model/npy.h"

#include <cmath>
#include <cstring>

#include "superlens/core/model/mapped_file.h"

namespace superlens::core {
namespace {

constexpr std::size_t kMaxHeaderBytes = 1 << 16;  // NumPy writes ~128 bytes

std::uint32_t readLe(const std::byte* p, int bytes) {
    std::uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint32_t>(p[i]);
    return v;
}

// The value text of 'key' in the header dict (up to the next top-level ',' or '}').
bool dictValue(const std::string& header, const std::string& key, std::string& out) {
    const std::string quoted1 = "'" + key + "'", quoted2 = "\"" + key + "\"";
    std::size_t at = header.find(quoted1);
    std::size_t len = quoted1.size();
    if (at == std::string::npos) {
        at = header.find(quoted2);
        len = quoted2.size();
    }
    if (at == std::string::npos) return false;
    std::size_t i = header.find(':', at + len);
    if (i == std::string::npos) return false;
    ++i;
    int depth = 0;
    std::size_t j = i;
    for (; j < header.size(); ++j) {
        const char ch = header[j];
        if (ch == '(' || ch == '[') ++depth;
        else if (ch == ')' || ch == ']') {
            if (depth == 0) return false;
            --depth;
        } else if ((ch == ',' || ch == '}') && depth == 0) break;
    }
    if (j >= header.size() || depth != 0) return false;
    out = header.substr(i, j - i);
    const auto first = out.find_first_not_of(" \t");
    const auto last = out.find_last_not_of(" \t");
    out = first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
    return true;
}

// [1, C, H, W] or [C, H, W] with sides and channels in range; `shape`
// becomes [C, H, W]. After this no product of the sides can overflow.
Status checkImageShape(std::vector<std::int64_t>& shape, const std::string& shapeText, const std::string& where) {
    if (shape.size() == 4) {
        if (shape[0] != 1) return Error{where + "a batch of " + std::to_string(shape[0]) + " images; one image ([1, C, H, W] or [C, H, W]) is expected"};
        shape.erase(shape.begin());
    }
    if (shape.size() != 3) return Error{where + "shape " + shapeText + " is not [C, H, W] or [1, C, H, W]"};
    if (shape[0] < 1 || shape[0] > kMaxImageChannels) return Error{where + std::to_string(shape[0]) + " channels (1.." + std::to_string(kMaxImageChannels) + " accepted)"};
    for (int i : {1, 2}) {
        if (shape[i] < 1 || shape[i] > kMaxImageSide) return Error{where + "image side " + std::to_string(shape[i]) + " outside 1.." + std::to_string(kMaxImageSide)};
    }
    return {};
}

Status checkFinite(const std::vector<float>& values, const std::string& where) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) return Error{where + "value " + std::to_string(i) + " is not finite"};
    }
    return {};
}

}  // namespace

Result<PixelTensor> parseNpy(std::span<const std::byte> bytes, const std::string& name) {
    const std::string where = name + ": ";
    static const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) return Error{where + "not a NumPy .npy file (bad magic)"};
    const int major = static_cast<int>(bytes[6]);
    if (major < 1 || major > 3) return Error{where + "unsupported .npy version " + std::to_string(major)};
    const int lenBytes = major == 1 ? 2 : 4;
    const std::size_t prefix = 8 + static_cast<std::size_t>(lenBytes);
    if (bytes.size() < prefix) return Error{where + "truncated .npy header"};
    const std::size_t headerLen = readLe(bytes.data() + 8, lenBytes);
    if (headerLen > kMaxHeaderBytes) return Error{where + ".npy header length " + std::to_string(headerLen) + " is too large"};
    if (headerLen > bytes.size() - prefix) return Error{where + "truncated .npy header"};
    const std::string header(reinterpret_cast<const char*>(bytes.data() + prefix), headerLen);

    std::string descr, fortran, shapeText;
    if (!dictValue(header, "descr", descr) || !dictValue(header, "fortran_order", fortran) || !dictValue(header, "shape", shapeText)) {
        return Error{where + ".npy header lacks descr, fortran_order or shape"};
    }
    std::size_t itemBytes = 0;
    if (descr == "'<f4'" || descr == "\"<f4\"") itemBytes = 4;
    else if (descr == "'<f8'" || descr == "\"<f8\"") itemBytes = 8;
    else return Error{where + "dtype " + descr + " is not supported (little-endian float32 '<f4' or float64 '<f8')"};
    if (fortran == "True") return Error{where + "Fortran-ordered arrays are not supported (save with np.ascontiguousarray)"};
    if (fortran != "False") return Error{where + "fortran_order must be True or False"};

    if (shapeText.size() < 2 || shapeText.front() != '(' || shapeText.back() != ')') return Error{where + "malformed .npy shape " + shapeText};
    std::vector<std::int64_t> shape;
    std::string cur;
    auto flush = [&]() -> Status {
        const auto a = cur.find_first_not_of(' '), b = cur.find_last_not_of(' ');
        const std::string t = a == std::string::npos ? std::string() : cur.substr(a, b - a + 1);
        cur.clear();
        if (t.empty()) return {};
        if (t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos) return Error{where + "malformed .npy shape " + shapeText};
        shape.push_back(std::stoll(t));
        return {};
    };
    for (std::size_t i = 1; i + 1 < shapeText.size(); ++i) {
        if (shapeText[i] == ',') SL_TRY(flush());
        else cur += shapeText[i];
    }
    SL_TRY(flush());
    SL_TRY(checkImageShape(shape, shapeText, where));
    // At most 16 * 16384 * 16384 * 8 bytes: no product can overflow 64 bits.
    const std::uint64_t count = static_cast<std::uint64_t>(shape[0]) * static_cast<std::uint64_t>(shape[1]) * static_cast<std::uint64_t>(shape[2]);
    const std::uint64_t dataBytes = count * itemBytes;
    const std::uint64_t available = bytes.size() - prefix - headerLen;
    if (available != dataBytes) {
        return Error{where + "data is " + std::to_string(available) + " bytes but shape " + shapeText + " needs " + std::to_string(dataBytes)};
    }
    PixelTensor t;
    t.channels = static_cast<int>(shape[0]);
    t.height = static_cast<int>(shape[1]);
    t.width = static_cast<int>(shape[2]);
    t.values.resize(static_cast<std::size_t>(count));
    const std::byte* data = bytes.data() + prefix + headerLen;
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        if (itemBytes == 4) {
            std::memcpy(&t.values[i], data + 4 * i, 4);
        } else {
            double v;
            std::memcpy(&v, data + 8 * i, 8);
            t.values[i] = static_cast<float>(v);
        }
    }
    SL_TRY(checkFinite(t.values, where));
    return t;
}

Result<PixelTensor> loadNpy(const std::filesystem::path& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    return parseNpy(std::span<const std::byte>((*mapped)->data(), (*mapped)->size()), path.string());
}

Result<PixelTensor> pixelTensor(std::span<const std::int64_t> dims, std::span<const float> values, const std::string& name) {
    const std::string where = name + ": ";
    std::vector<std::int64_t> shape(dims.begin(), dims.end());
    std::string shapeText = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) shapeText += (i ? ", " : "") + std::to_string(shape[i]);
    shapeText += shape.size() == 1 ? ",)" : ")";
    SL_TRY(checkImageShape(shape, shapeText, where));
    const std::uint64_t count = static_cast<std::uint64_t>(shape[0]) * static_cast<std::uint64_t>(shape[1]) * static_cast<std::uint64_t>(shape[2]);
    if (values.size() != count) {
        return Error{where + std::to_string(values.size()) + " values but shape " + shapeText + " needs " + std::to_string(count)};
    }
    PixelTensor t;
    t.channels = static_cast<int>(shape[0]);
    t.height = static_cast<int>(shape[1]);
    t.width = static_cast<int>(shape[2]);
    t.values.assign(values.begin(), values.end());
    SL_TRY(checkFinite(t.values, where));
    return t;
}

}  // namespace superlens::core
