#pragma once
// One GGUF file (llama.cpp's single-file format, versions 2 and 3),
// memory-mapped and fully validated on open:
//   - header: magic "GGUF", version 2 or 3 (version 1 and big-endian files are
//     refused by name), tensor and key counts within kGgufMaxTensors /
//     kGgufMaxKeys and within what the file's size can hold;
//   - metadata: every key/value pair of every value type, arrays nested up to
//     kGgufMaxArrayDepth, every length checked against the bytes left before
//     it is used (no size from the file is trusted, no count multiplies
//     without an overflow check), bools 0 or 1, keys unique and at most 65535
//     bytes, `general.alignment` a uint32 power of two (default 32);
//   - tensor infos: unique names of at most kGgufMaxTensorName bytes, 1 to 4
//     dimensions, a known ggml type, rows of whole blocks, a byte size
//     computed without overflow, data offsets that are multiples of the
//     alignment, inside the file and not overlapping another tensor.
// Any damage gives one error, one line: "<file>: <problem>" (names from the
// file are quoted with control bytes escaped).
//
// Values and names are views into the mapping: they live as long as the
// GgufFile. Thread-safety: immutable after open; share it freely.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/model/gguf_quant.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/result.h"

namespace superlens::core {

inline constexpr std::uint64_t kGgufMaxTensors = std::uint64_t{1} << 20;  // largest published models: a few thousand
inline constexpr std::uint64_t kGgufMaxKeys = std::uint64_t{1} << 20;     // real files: tens
inline constexpr int kGgufMaxArrayDepth = 8;                             // arrays of arrays of ... (real files: 1)
inline constexpr std::size_t kGgufMaxKeyBytes = 65535;                    // the GGUF specification's limit
inline constexpr std::size_t kGgufMaxTensorName = 63;                     // ggml's GGML_MAX_NAME (64) with its NUL
inline constexpr int kGgufMaxDims = 4;                                    // ggml's GGML_MAX_DIMS
inline constexpr std::uint32_t kGgufDefaultAlignment = 32;

// Metadata value types (gguf_metadata_value_type).
enum class GgufValueType : std::uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};

// "uint32", "string", "array", ...
std::string_view ggufValueTypeName(GgufValueType type);

// One metadata value (already validated). Scalars hold their value; strings
// a view of their bytes; arrays their element type, length and a view of the
// encoded elements, decoded on demand by the accessors (a 150000-token
// vocabulary costs nothing until it is asked for).
struct GgufValue {
    GgufValueType type = GgufValueType::UInt8;
    std::uint64_t bits = 0;   // integers and bool: the value (signed ones sign-extended); floats: the IEEE bits
    std::string_view string;  // String
    GgufValueType elementType = GgufValueType::UInt8;  // Array
    std::uint64_t length = 0;                          // Array: number of elements
    std::string_view encoded;                          // Array: the element bytes as stored

    bool isInteger() const;
    bool isFloat() const { return type == GgufValueType::Float32 || type == GgufValueType::Float64; }
    // "uint32", or "array of string" for arrays.
    std::string typeName() const;
    // The elements of an array, decoded one level deep (nested arrays stay encoded).
    std::vector<GgufValue> items() const;
};

// A tensor as stored. ggml orders dimensions fastest first: ne[0] is the
// length of a contiguous row (a Hugging Face Linear weight [out, in] is stored
// with ne = {in, out}); shape() gives the row-major shape the rest of core
// uses ([ne1, ne0] for a matrix).
struct GgufTensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<std::int64_t> ne;  // 1..4 entries, ne[0] fastest
    std::uint64_t offset = 0;      // from the start of the data section (a multiple of the alignment)
    std::uint64_t byteSize = 0;
    std::int64_t elementCount = 0;
    const std::byte* data = nullptr;  // first byte of the tensor inside the mapping

    const GgmlTypeInfo& typeInfo() const { return ggmlTypeInfo(type); }
    std::vector<std::int64_t> shape() const;          // reversed ne: [ne3, ne2, ne1, ne0] without the missing ones
    std::int64_t rowLength() const { return ne[0]; }  // values per row (a multiple of the block size)
    std::int64_t rowCount() const;                    // ne1 * ne2 * ne3
    std::uint64_t rowBytes() const;
    const std::byte* row(std::int64_t r) const { return data + static_cast<std::uint64_t>(r) * rowBytes(); }
    // Decodes rows [firstRow, firstRow + rows) into dst (rows * rowLength()
    // floats). Programmer errors (range, a type canDequantize refuses) abort.
    void dequantizeRows(std::int64_t firstRow, std::int64_t rows, float* dst) const;
};

class GgufFile {
public:
    static Result<std::shared_ptr<const GgufFile>> open(const std::filesystem::path& path);
    // The same validation over bytes in memory; `displayName` stands for the
    // file in error messages (fuzzing and tests).
    static Result<std::shared_ptr<const GgufFile>> fromBytes(std::vector<std::byte> bytes, std::string displayName);

    const std::string& displayName() const { return m_name; }
    std::uint64_t fileSize() const { return m_size; }
    std::uint32_t version() const { return m_version; }
    std::uint32_t alignment() const { return m_alignment; }
    // Start of the data section (the aligned end of the tensor infos); may lie
    // past the end of a file without tensors (vocabulary-only files).
    std::uint64_t dataOffset() const { return m_dataOffset; }
    // Header, metadata and tensor infos as stored: what identifies the model (fingerprints).
    std::string_view headerBytes() const;

    // Metadata in file order.
    const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return m_metadata; }
    const GgufValue* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed accessors: an error names the file and the key when the key is
    // missing or holds another type ("<file>: metadata key 'llama.block_count'
    // is a string, expected an unsigned integer").
    // getUInt / getInt accept every integer type whose value fits; getFloat
    // accepts float32, float64 and integers of magnitude <= 2^53 (exact).
    Result<std::uint64_t> getUInt(std::string_view key) const;
    Result<std::int64_t> getInt(std::string_view key) const;
    Result<double> getFloat(std::string_view key) const;
    Result<bool> getBool(std::string_view key) const;
    Result<std::string_view> getString(std::string_view key) const;
    Result<std::vector<std::string_view>> getStringArray(std::string_view key) const;
    Result<std::vector<std::int64_t>> getIntArray(std::string_view key) const;    // any integer element type
    Result<std::vector<float>> getFloatArray(std::string_view key) const;         // float32 or float64 elements
    // general.architecture ("llama", "qwen2", ...), required by the specification.
    Result<std::string_view> architecture() const { return getString("general.architecture"); }

    // Tensors in file order.
    const std::vector<GgufTensor>& tensors() const { return m_tensors; }
    const GgufTensor* findTensor(std::string_view name) const;

private:
    GgufFile() = default;
    static Result<std::shared_ptr<const GgufFile>> parse(std::shared_ptr<GgufFile> file);
    Error keyError(std::string_view key, std::string_view problem) const;
    Result<const GgufValue*> require(std::string_view key) const;

    std::string m_name;
    std::shared_ptr<const MappedFile> m_mapped;
    std::vector<std::byte> m_buffer;
    const std::byte* m_data = nullptr;
    std::uint64_t m_size = 0;
    std::uint32_t m_version = 0;
    std::uint32_t m_alignment = kGgufDefaultAlignment;
    std::uint64_t m_infosEnd = 0;
    std::uint64_t m_dataOffset = 0;
    std::vector<std::pair<std::string_view, GgufValue>> m_metadata;
    std::map<std::string_view, std::size_t, std::less<>> m_keyIndex;
    std::vector<GgufTensor> m_tensors;
    std::map<std::string, std::size_t, std::less<>> m_tensorIndex;
};

// llama.cpp's converters store the rows of a llama-style attn_q / attn_k
// weight permuted per head (the interleaved rotary layout ggml's RoPE reads):
// GGUF row h*hd + 2i + s holds Hugging Face row h*hd + s*hd/2 + i, for head h,
// i < hd/2, s in {0, 1}, head dimension hd = rows / heads. These map a row of
// one layout to the other (heads = attention.head_count for q,
// attention.head_count_kv for k). `rows` must be a multiple of 2 * heads.
std::int64_t ggufQkRowToHuggingFace(std::int64_t ggufRow, std::int64_t rows, std::int64_t heads);
std::int64_t huggingFaceQkRowToGguf(std::int64_t hfRow, std::int64_t rows, std::int64_t heads);

}  // namespace superlens::core
