#include "superlens/core/model/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <optional>

namespace superlens::core {
namespace {

// Smallest encodings, used to refuse counts that the bytes left cannot hold
// before anything is reserved or looped over.
constexpr std::uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;           // key length, 1-byte key, type, 1-byte value
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name length, 1-byte name, n_dims, one dim, type, offset
constexpr std::uint64_t kHeaderBytes = 4 + 4 + 8 + 8;

// A name or key from the file, quoted for a one-line message: control bytes,
// quotes and backslashes escaped, long ones cut.
std::string quoteName(std::string_view s) {
    constexpr std::size_t kMaxShown = 80;
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
            static const char* kHex = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > kMaxShown) out += "...";
    out += "'";
    return out;
}

std::optional<std::size_t> fixedValueSize(GgufValueType t) {
    switch (t) {
        case GgufValueType::UInt8:
        case GgufValueType::Int8:
        case GgufValueType::Bool: return 1;
        case GgufValueType::UInt16:
        case GgufValueType::Int16: return 2;
        case GgufValueType::UInt32:
        case GgufValueType::Int32:
        case GgufValueType::Float32: return 4;
        case GgufValueType::UInt64:
        case GgufValueType::Int64:
        case GgufValueType::Float64: return 8;
        case GgufValueType::String:
        case GgufValueType::Array: return std::nullopt;
    }
    return std::nullopt;
}

bool knownValueType(std::uint32_t t) { return t <= static_cast<std::uint32_t>(GgufValueType::Float64); }

bool isSigned(GgufValueType t) {
    return t == GgufValueType::Int8 || t == GgufValueType::Int16 || t == GgufValueType::Int32 || t == GgufValueType::Int64;
}

// Bounds-checked little-endian reads over [data, data + size). Every failure
// is one error: "<file>: truncated in <context> (...)".
class Reader {
public:
    Reader(const std::byte* data, std::uint64_t size, std::uint64_t pos, const std::string& where)
        : m_data(data), m_size(size), m_pos(pos), m_where(where) {}

    std::uint64_t pos() const { return m_pos; }
    std::uint64_t left() const { return m_size - m_pos; }
    const std::byte* here() const { return m_data + m_pos; }
    const std::string& where() const { return m_where; }

    Error truncated(const std::string& context, std::uint64_t needed) const {
        return Error{m_where + "truncated in " + context + " (" + std::to_string(needed) + " bytes needed at offset " +
                     std::to_string(m_pos) + ", " + std::to_string(left()) + " left)"};
    }

    template <class T>
    Result<T> read(const std::string& context) {
        if (left() < sizeof(T)) return truncated(context, sizeof(T));
        T v;
        std::memcpy(&v, m_data + m_pos, sizeof v);  // GGUF is little-endian, as is every target we build for
        m_pos += sizeof(T);
        return v;
    }

    Result<std::string_view> readString(const std::string& context, std::uint64_t maxBytes) {
        auto len = read<std::uint64_t>(context);
        if (!len) return len.error();
        if (*len > maxBytes) {
            return Error{m_where + context + ": string length " + std::to_string(*len) + " exceeds the limit of " +
                         std::to_string(maxBytes) + " bytes"};
        }
        if (*len > left()) {
            return Error{m_where + context + ": string length " + std::to_string(*len) + " runs past the end of the file (" +
                         std::to_string(left()) + " bytes left at offset " + std::to_string(m_pos) + ")"};
        }
        std::string_view s(reinterpret_cast<const char*>(m_data + m_pos), static_cast<std::size_t>(*len));
        m_pos += *len;
        return s;
    }

    Status skip(const std::string& context, std::uint64_t n) {
        if (left() < n) return truncated(context, n);
        m_pos += n;
        return {};
    }

private:
    const std::byte* m_data;
    std::uint64_t m_size;
    std::uint64_t m_pos;
    const std::string& m_where;
};

// Reads one value of type `type` (validated: known element types, lengths
// within the bytes left, bools 0/1, nesting bounded). `context` names the key.
Result<GgufValue> readValue(Reader& r, GgufValueType type, const std::string& context, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
        case GgufValueType::UInt8: {
            auto x = r.read<std::uint8_t>(context);
            if (!x) return x.error();
            v.bits = *x;
            return v;
        }
        case GgufValueType::Int8: {
            auto x = r.read<std::int8_t>(context);
            if (!x) return x.error();
            v.bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(*x));
            return v;
        }
        case GgufValueType::Bool: {
            auto x = r.read<std::uint8_t>(context);
            if (!x) return x.error();
            if (*x > 1) return Error{r.where() + context + ": bool value " + std::to_string(*x) + " is neither 0 nor 1"};
            v.bits = *x;
            return v;
        }
        case GgufValueType::UInt16: {
            auto x = r.read<std::uint16_t>(context);
            if (!x) return x.error();
            v.bits = *x;
            return v;
        }
        case GgufValueType::Int16: {
            auto x = r.read<std::int16_t>(context);
            if (!x) return x.error();
            v.bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(*x));
            return v;
        }
        case GgufValueType::UInt32:
        case GgufValueType::Float32: {
            auto x = r.read<std::uint32_t>(context);
            if (!x) return x.error();
            v.bits = *x;
            return v;
        }
        case GgufValueType::Int32: {
            auto x = r.read<std::int32_t>(context);
            if (!x) return x.error();
            v.bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(*x));
            return v;
        }
        case GgufValueType::UInt64:
        case GgufValueType::Int64:
        case GgufValueType::Float64: {
            auto x = r.read<std::uint64_t>(context);
            if (!x) return x.error();
            v.bits = *x;
            return v;
        }
        case GgufValueType::String: {
            auto s = r.readString(context, std::numeric_limits<std::uint64_t>::max());
            if (!s) return s.error();
            v.string = *s;
            return v;
        }
        case GgufValueType::Array: break;
    }

    auto elementType = r.read<std::uint32_t>(context + " (array element type)");
    if (!elementType) return elementType.error();
    if (!knownValueType(*elementType)) {
        return Error{r.where() + context + ": unknown array element type " + std::to_string(*elementType)};
    }
    v.elementType = static_cast<GgufValueType>(*elementType);
    auto length = r.read<std::uint64_t>(context + " (array length)");
    if (!length) return length.error();
    v.length = *length;
    const std::uint64_t start = r.pos();
    const std::string lengthError = context + ": array length " + std::to_string(v.length);
    if (const auto size = fixedValueSize(v.elementType)) {
        std::uint64_t bytes = 0;
        if (__builtin_mul_overflow(v.length, static_cast<std::uint64_t>(*size), &bytes) || bytes > r.left()) {
            return Error{r.where() + lengthError + " of " + std::string(ggufValueTypeName(v.elementType)) +
                         " runs past the end of the file (" + std::to_string(r.left()) + " bytes left at offset " +
                         std::to_string(r.pos()) + ")"};
        }
        if (v.elementType == GgufValueType::Bool) {
            for (std::uint64_t i = 0; i < v.length; ++i) {
                const auto b = std::to_integer<std::uint8_t>(r.here()[i]);
                if (b > 1) {
                    return Error{r.where() + context + ": bool element " + std::to_string(i) + " is " + std::to_string(b) +
                                 ", neither 0 nor 1"};
                }
            }
        }
        SL_TRY(r.skip(context, bytes));
    } else {
        // Strings take at least their 8-byte length, arrays their type and length.
        const std::uint64_t minBytes = v.elementType == GgufValueType::String ? 8 : 12;
        if (v.length > r.left() / minBytes) {
            return Error{r.where() + lengthError + " of " + std::string(ggufValueTypeName(v.elementType)) +
                         " cannot fit in the " + std::to_string(r.left()) + " bytes left at offset " + std::to_string(r.pos())};
        }
        if (v.elementType == GgufValueType::Array && depth + 1 >= kGgufMaxArrayDepth) {
            return Error{r.where() + context + ": arrays nested deeper than " + std::to_string(kGgufMaxArrayDepth) + " levels"};
        }
        for (std::uint64_t i = 0; i < v.length; ++i) {
            auto item = readValue(r, v.elementType, context, depth + 1);
            if (!item) return item.error();
        }
    }
    v.encoded = std::string_view(reinterpret_cast<const char*>(r.here()) - (r.pos() - start),
                                 static_cast<std::size_t>(r.pos() - start));
    return v;
}

std::string typeNameOf(const GgufValue& v) {
    if (v.type != GgufValueType::Array) return std::string(ggufValueTypeName(v.type));
    return "array of " + std::string(ggufValueTypeName(v.elementType));
}

}  // namespace

std::string_view ggufValueTypeName(GgufValueType type) {
    switch (type) {
        case GgufValueType::UInt8: return "uint8";
        case GgufValueType::Int8: return "int8";
        case GgufValueType::UInt16: return "uint16";
        case GgufValueType::Int16: return "int16";
        case GgufValueType::UInt32: return "uint32";
        case GgufValueType::Int32: return "int32";
        case GgufValueType::Float32: return "float32";
        case GgufValueType::Bool: return "bool";
        case GgufValueType::String: return "string";
        case GgufValueType::Array: return "array";
        case GgufValueType::UInt64: return "uint64";
        case GgufValueType::Int64: return "int64";
        case GgufValueType::Float64: return "float64";
    }
    return "?";
}

bool GgufValue::isInteger() const {
    switch (type) {
        case GgufValueType::UInt8:
        case GgufValueType::Int8:
        case GgufValueType::UInt16:
        case GgufValueType::Int16:
        case GgufValueType::UInt32:
        case GgufValueType::Int32:
        case GgufValueType::UInt64:
        case GgufValueType::Int64: return true;
        default: return false;
    }
}

std::string GgufValue::typeName() const { return typeNameOf(*this); }

std::vector<GgufValue> GgufValue::items() const {
    std::vector<GgufValue> out;
    if (type != GgufValueType::Array) return out;
    const std::string where = "metadata array: ";
    Reader r(reinterpret_cast<const std::byte*>(encoded.data()), encoded.size(), 0, where);
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, encoded.size())));
    for (std::uint64_t i = 0; i < length; ++i) {
        auto item = readValue(r, elementType, "element", 1);
        SL_ASSERT(item.ok());  // validated when the file was opened
        out.push_back(std::move(item).value());
    }
    return out;
}

std::vector<std::int64_t> GgufTensor::shape() const { return {ne.rbegin(), ne.rend()}; }

std::int64_t GgufTensor::rowCount() const {
    std::int64_t n = 1;
    for (std::size_t i = 1; i < ne.size(); ++i) n *= ne[i];
    return n;
}

std::uint64_t GgufTensor::rowBytes() const {
    const GgmlTypeInfo& t = typeInfo();
    return static_cast<std::uint64_t>(ne[0] / t.blockElements) * static_cast<std::uint64_t>(t.blockBytes);
}

void GgufTensor::dequantizeRows(std::int64_t firstRow, std::int64_t rows, float* dst) const {
    SL_ASSERT(firstRow >= 0 && rows >= 0 && firstRow <= rowCount() && rows <= rowCount() - firstRow);
    for (std::int64_t r = 0; r < rows; ++r) dequantizeRow(type, row(firstRow + r), dst + r * ne[0], ne[0]);
}

Result<std::shared_ptr<const GgufFile>> GgufFile::open(const std::filesystem::path& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    auto file = std::shared_ptr<GgufFile>(new GgufFile());
    file->m_name = path.string();
    file->m_mapped = std::move(mapped).value();
    file->m_data = file->m_mapped->data();
    file->m_size = file->m_mapped->size();
    return parse(std::move(file));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::fromBytes(std::vector<std::byte> bytes, std::string displayName) {
    auto file = std::shared_ptr<GgufFile>(new GgufFile());
    file->m_name = std::move(displayName);
    file->m_buffer = std::move(bytes);
    file->m_data = file->m_buffer.data();
    file->m_size = file->m_buffer.size();
    return parse(std::move(file));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::parse(std::shared_ptr<GgufFile> file) {
    const std::string where = file->m_name + ": ";
    const std::uint64_t size = file->m_size;
    if (size < 4) {
        return Error{where + "truncated file (" + std::to_string(size) + " bytes; a GGUF file starts with the magic 'GGUF')"};
    }
    if (std::memcmp(file->m_data, "GGUF", 4) != 0) {
        return Error{where + "not a GGUF file (it starts with " +
                     quoteName(std::string_view(reinterpret_cast<const char*>(file->m_data), 4)) + ", not 'GGUF')"};
    }
    Reader r(file->m_data, size, 4, where);
    if (size < kHeaderBytes) return r.truncated("the header", kHeaderBytes - 4);
    const std::uint32_t version = *r.read<std::uint32_t>("the header");
    if (version != 2 && version != 3) {
        const std::uint32_t swapped = __builtin_bswap32(version);
        if (swapped >= 1 && swapped <= 3) {
            return Error{where + "big-endian GGUF file (version " + std::to_string(swapped) +
                         " with its bytes swapped): only little-endian files are supported"};
        }
        if (version == 1) return Error{where + "GGUF version 1 is not supported (only versions 2 and 3): convert the model again"};
        return Error{where + "unsupported GGUF version " + std::to_string(version) + " (only versions 2 and 3)"};
    }
    file->m_version = version;
    const std::uint64_t tensorCount = *r.read<std::uint64_t>("the header");
    const std::uint64_t keyCount = *r.read<std::uint64_t>("the header");
    if (tensorCount > kGgufMaxTensors) {
        return Error{where + "tensor count " + std::to_string(tensorCount) + " exceeds the limit of " + std::to_string(kGgufMaxTensors)};
    }
    if (keyCount > kGgufMaxKeys) {
        return Error{where + "metadata key count " + std::to_string(keyCount) + " exceeds the limit of " + std::to_string(kGgufMaxKeys)};
    }
    // Both sections must fit in what is left; checked separately so neither product can overflow.
    if (keyCount > r.left() / kMinKeyValueBytes || tensorCount > r.left() / kMinTensorInfoBytes ||
        keyCount * kMinKeyValueBytes + tensorCount * kMinTensorInfoBytes > r.left()) {
        return Error{where + "header announces " + std::to_string(keyCount) + " metadata keys and " + std::to_string(tensorCount) +
                     " tensors, more than the file's " + std::to_string(size) + " bytes can hold: truncated or damaged"};
    }

    // Metadata.
    file->m_metadata.reserve(static_cast<std::size_t>(keyCount));
    for (std::uint64_t i = 0; i < keyCount; ++i) {
        const std::string entry = "metadata entry " + std::to_string(i);
        auto key = r.readString(entry + " (key)", kGgufMaxKeyBytes);
        if (!key) return key.error();
        if (key->empty()) return Error{where + entry + " has an empty key"};
        const std::string context = "metadata key " + quoteName(*key);
        auto type = r.read<std::uint32_t>(context + " (value type)");
        if (!type) return type.error();
        if (!knownValueType(*type)) return Error{where + context + ": unknown value type " + std::to_string(*type)};
        auto value = readValue(r, static_cast<GgufValueType>(*type), context, 0);
        if (!value) return value.error();
        if (!file->m_keyIndex.emplace(*key, file->m_metadata.size()).second) return Error{where + "duplicate metadata key " + quoteName(*key)};
        file->m_metadata.emplace_back(*key, std::move(value).value());
    }

    if (const GgufValue* a = file->find("general.alignment")) {
        if (a->type != GgufValueType::UInt32) {
            return Error{where + "metadata key 'general.alignment' is " + a->typeName() + ", expected uint32"};
        }
        const std::uint64_t alignment = a->bits;
        if (alignment == 0 || !std::has_single_bit(alignment)) {
            return Error{where + "general.alignment " + std::to_string(alignment) + " is not a power of two"};
        }
        file->m_alignment = static_cast<std::uint32_t>(alignment);
    }
    const std::uint64_t alignment = file->m_alignment;

    // Tensor infos.
    file->m_tensors.reserve(static_cast<std::size_t>(tensorCount));
    for (std::uint64_t i = 0; i < tensorCount; ++i) {
        const std::string entry = "tensor info " + std::to_string(i);
        auto name = r.readString(entry + " (name)", kGgufMaxTensorName);
        if (!name) return name.error();
        if (name->empty()) return Error{where + entry + " has an empty name"};
        const std::string tw = where + "tensor " + quoteName(*name) + ": ";
        const std::string context = "tensor " + quoteName(*name);
        auto nDims = r.read<std::uint32_t>(context + " (dimension count)");
        if (!nDims) return nDims.error();
        if (*nDims < 1 || *nDims > static_cast<std::uint32_t>(kGgufMaxDims)) {
            return Error{tw + std::to_string(*nDims) + " dimensions (ggml tensors have 1 to " + std::to_string(kGgufMaxDims) + ")"};
        }
        GgufTensor t;
        t.name = std::string(*name);
        std::int64_t elements = 1;
        for (std::uint32_t d = 0; d < *nDims; ++d) {
            auto dim = r.read<std::uint64_t>(context + " (dimensions)");
            if (!dim) return dim.error();
            if (*dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                return Error{tw + "dimension " + std::to_string(d) + " is " + std::to_string(*dim) + ", beyond int64"};
            }
            t.ne.push_back(static_cast<std::int64_t>(*dim));
            if (__builtin_mul_overflow(elements, t.ne.back(), &elements)) {
                return Error{tw + "the element count of its dimensions overflows 64 bits"};
            }
        }
        auto typeId = r.read<std::uint32_t>(context + " (type)");
        if (!typeId) return typeId.error();
        const GgmlTypeInfo* info = ggmlTypeInfo(*typeId);
        if (!info) return Error{tw + "unknown ggml type " + std::to_string(*typeId)};
        t.type = info->type;
        auto offset = r.read<std::uint64_t>(context + " (offset)");
        if (!offset) return offset.error();
        t.offset = *offset;
        t.elementCount = elements;
        if (t.ne[0] % info->blockElements != 0) {
            return Error{tw + "row length " + std::to_string(t.ne[0]) + " is not a multiple of the " + std::string(info->name) +
                         " block size " + std::to_string(info->blockElements)};
        }
        // Bytes = blocks per row x block bytes x rows; every factor <= int64 max, products checked.
        std::uint64_t bytes = static_cast<std::uint64_t>(t.ne[0] / info->blockElements);
        if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(info->blockBytes), &bytes)) {
            return Error{tw + "its byte size overflows 64 bits"};
        }
        for (std::size_t d = 1; d < t.ne.size(); ++d) {
            if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(t.ne[d]), &bytes)) {
                return Error{tw + "its byte size overflows 64 bits"};
            }
        }
        t.byteSize = bytes;
        if (t.offset % alignment != 0) {
            return Error{tw + "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment)};
        }
        if (!file->m_tensorIndex.emplace(t.name, file->m_tensors.size()).second) {
            return Error{where + "duplicate tensor name " + quoteName(t.name)};
        }
        file->m_tensors.push_back(std::move(t));
    }
    file->m_infosEnd = r.pos();
    // The data section starts at the next multiple of the alignment. A file
    // without tensors may end before it (llama.cpp's vocabulary files do).
    const std::uint64_t pad = (alignment - file->m_infosEnd % alignment) % alignment;
    if (__builtin_add_overflow(file->m_infosEnd, pad, &file->m_dataOffset)) {
        return Error{where + "the data section's offset overflows 64 bits"};
    }
    for (GgufTensor& t : file->m_tensors) {
        std::uint64_t begin = 0, end = 0;
        if (__builtin_add_overflow(file->m_dataOffset, t.offset, &begin) || __builtin_add_overflow(begin, t.byteSize, &end) || end > size) {
            return Error{where + "tensor " + quoteName(t.name) + ": data at offset " + std::to_string(t.offset) + " (" +
                         std::to_string(t.byteSize) + " bytes of " + std::string(t.typeInfo().name) +
                         ") lies outside the file (data section of " +
                         std::to_string(size > file->m_dataOffset ? size - file->m_dataOffset : 0) + " bytes): truncated?"};
        }
        t.data = file->m_data + begin;
    }

    // Overlapping tensors would alias each other's data: refuse them.
    std::vector<const GgufTensor*> byOffset;
    byOffset.reserve(file->m_tensors.size());
    for (const GgufTensor& t : file->m_tensors) byOffset.push_back(&t);
    std::sort(byOffset.begin(), byOffset.end(), [](const GgufTensor* a, const GgufTensor* b) {
        return a->offset < b->offset || (a->offset == b->offset && a->byteSize < b->byteSize);
    });
    // `last` is the tensor reaching furthest so far (zero-byte tensors overlap nothing).
    const GgufTensor* last = nullptr;
    for (const GgufTensor* cur : byOffset) {
        if (cur->byteSize == 0) continue;
        if (last && cur->offset < last->offset + last->byteSize) {
            return Error{where + "tensors " + quoteName(last->name) + " and " + quoteName(cur->name) + " overlap in the data section"};
        }
        if (!last || cur->offset + cur->byteSize > last->offset + last->byteSize) last = cur;
    }
    return std::shared_ptr<const GgufFile>(std::move(file));
}

std::string_view GgufFile::headerBytes() const {
    return {reinterpret_cast<const char*>(m_data), static_cast<std::size_t>(m_infosEnd)};
}

const GgufValue* GgufFile::find(std::string_view key) const {
    const auto it = m_keyIndex.find(key);
    return it == m_keyIndex.end() ? nullptr : &m_metadata[it->second].second;
}

const GgufTensor* GgufFile::findTensor(std::string_view name) const {
    const auto it = m_tensorIndex.find(name);
    return it == m_tensorIndex.end() ? nullptr : &m_tensors[it->second];
}

Error GgufFile::keyError(std::string_view key, std::string_view problem) const {
    return Error{m_name + ": metadata key " + quoteName(key) + " " + std::string(problem)};
}

Result<const GgufValue*> GgufFile::require(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return keyError(key, "is missing");
    return v;
}

Result<std::uint64_t> GgufFile::getUInt(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    const GgufValue& x = **v;
    if (!x.isInteger()) return keyError(key, "is " + x.typeName() + ", expected an unsigned integer");
    if (isSigned(x.type) && static_cast<std::int64_t>(x.bits) < 0) {
        return keyError(key, "is negative (" + std::to_string(static_cast<std::int64_t>(x.bits)) + "), expected an unsigned integer");
    }
    return x.bits;
}

Result<std::int64_t> GgufFile::getInt(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    const GgufValue& x = **v;
    if (!x.isInteger()) return keyError(key, "is " + x.typeName() + ", expected an integer");
    if (x.type == GgufValueType::UInt64 && x.bits > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return keyError(key, "is " + std::to_string(x.bits) + ", beyond int64");
    }
    return static_cast<std::int64_t>(x.bits);
}

Result<double> GgufFile::getFloat(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    const GgufValue& x = **v;
    if (x.type == GgufValueType::Float32) {
        float f;
        const std::uint32_t b = static_cast<std::uint32_t>(x.bits);
        std::memcpy(&f, &b, sizeof f);
        return static_cast<double>(f);
    }
    if (x.type == GgufValueType::Float64) {
        double d;
        std::memcpy(&d, &x.bits, sizeof d);
        return d;
    }
    if (x.isInteger()) {
        constexpr std::uint64_t kExact = std::uint64_t{1} << 53;
        if (isSigned(x.type)) {
            const std::int64_t i = static_cast<std::int64_t>(x.bits);
            if (i >= -static_cast<std::int64_t>(kExact) && i <= static_cast<std::int64_t>(kExact)) return static_cast<double>(i);
        } else if (x.bits <= kExact) {
            return static_cast<double>(x.bits);
        }
        return keyError(key, "is an integer too large to be exact as a float");
    }
    return keyError(key, "is " + x.typeName() + ", expected a number");
}

Result<bool> GgufFile::getBool(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    if ((*v)->type != GgufValueType::Bool) return keyError(key, "is " + (*v)->typeName() + ", expected bool");
    return (*v)->bits != 0;
}

Result<std::string_view> GgufFile::getString(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    if ((*v)->type != GgufValueType::String) return keyError(key, "is " + (*v)->typeName() + ", expected string");
    return (*v)->string;
}

Result<std::vector<std::string_view>> GgufFile::getStringArray(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    const GgufValue& x = **v;
    if (x.type != GgufValueType::Array || x.elementType != GgufValueType::String) {
        return keyError(key, "is " + x.typeName() + ", expected array of string");
    }
    std::vector<std::string_view> out;
    out.reserve(static_cast<std::size_t>(x.length));
    // Validated on open: each element is an 8-byte length and that many bytes.
    const char* p = x.encoded.data();
    for (std::uint64_t i = 0; i < x.length; ++i) {
        std::uint64_t len;
        std::memcpy(&len, p, sizeof len);
        out.emplace_back(p + 8, static_cast<std::size_t>(len));
        p += 8 + len;
    }
    return out;
}

Result<std::vector<std::int64_t>> GgufFile::getIntArray(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    const GgufValue& x = **v;
    GgufValue probe;
    probe.type = x.elementType;
    if (x.type != GgufValueType::Array || !probe.isInteger()) return keyError(key, "is " + x.typeName() + ", expected array of integers");
    const std::size_t size = *fixedValueSize(x.elementType);
    std::vector<std::int64_t> out(static_cast<std::size_t>(x.length));
    const char* p = x.encoded.data();
    for (std::size_t i = 0; i < out.size(); ++i, p += size) {
        switch (x.elementType) {
            case GgufValueType::UInt8: out[i] = static_cast<std::uint8_t>(*p); break;
            case GgufValueType::Int8: out[i] = static_cast<std::int8_t>(*p); break;
            case GgufValueType::UInt16: { std::uint16_t e; std::memcpy(&e, p, 2); out[i] = e; break; }
            case GgufValueType::Int16: { std::int16_t e; std::memcpy(&e, p, 2); out[i] = e; break; }
            case GgufValueType::UInt32: { std::uint32_t e; std::memcpy(&e, p, 4); out[i] = e; break; }
            case GgufValueType::Int32: { std::int32_t e; std::memcpy(&e, p, 4); out[i] = e; break; }
            case GgufValueType::Int64: { std::int64_t e; std::memcpy(&e, p, 8); out[i] = e; break; }
            case GgufValueType::UInt64: {
                std::uint64_t e;
                std::memcpy(&e, p, 8);
                if (e > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                    return keyError(key, "element " + std::to_string(i) + " is " + std::to_string(e) + ", beyond int64");
                }
                out[i] = static_cast<std::int64_t>(e);
                break;
            }
            default: SL_ASSERT(false);
        }
    }
    return out;
}

Result<std::vector<float>> GgufFile::getFloatArray(std::string_view key) const {
    auto v = require(key);
    if (!v) return v.error();
    const GgufValue& x = **v;
    if (x.type != GgufValueType::Array || (x.elementType != GgufValueType::Float32 && x.elementType != GgufValueType::Float64)) {
        return keyError(key, "is " + x.typeName() + ", expected array of float32");
    }
    std::vector<float> out(static_cast<std::size_t>(x.length));
    if (x.elementType == GgufValueType::Float32) {
        if (!out.empty()) std::memcpy(out.data(), x.encoded.data(), out.size() * sizeof(float));
    } else {
        for (std::size_t i = 0; i < out.size(); ++i) {
            double d;
            std::memcpy(&d, x.encoded.data() + 8 * i, sizeof d);
            out[i] = static_cast<float>(d);
        }
    }
    return out;
}

std::int64_t ggufQkRowToHuggingFace(std::int64_t ggufRow, std::int64_t rows, std::int64_t heads) {
    SL_ASSERT(heads > 0 && rows > 0 && rows % (2 * heads) == 0 && ggufRow >= 0 && ggufRow < rows);
    const std::int64_t hd = rows / heads;
    const std::int64_t h = ggufRow / hd, r = ggufRow % hd;
    return h * hd + (r % 2) * (hd / 2) + r / 2;
}

std::int64_t huggingFaceQkRowToGguf(std::int64_t hfRow, std::int64_t rows, std::int64_t heads) {
    SL_ASSERT(heads > 0 && rows > 0 && rows % (2 * heads) == 0 && hfRow >= 0 && hfRow < rows);
    const std::int64_t hd = rows / heads;
    const std::int64_t h = hfRow / hd, r = hfRow % hd;
    return h * hd + 2 * (r % (hd / 2)) + r / (hd / 2);
}

}  // namespace superlens::core
