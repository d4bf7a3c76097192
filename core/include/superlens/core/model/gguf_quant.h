#pragma once
// ggml tensor types as GGUF files store them, and dequantization to fp32.
//
// A ggml tensor row is a run of blocks: `blockElements` values packed into
// `blockBytes` bytes (F32/F16/BF16 are blocks of one value). A row of n values
// (n a multiple of blockElements) takes n / blockElements * blockBytes bytes,
// and any whole-block sub-range of a row can be decoded on its own, which is
// what a GEMM that dequantizes tile by tile needs: point `src` at block
// c0 / blockElements of the row and decode c1 - c0 values.
//
// The decoders follow the block layouts of ggml (ggml-common.h: block_q4_0 ...
// block_q8_K) and give, bit for bit, the floats ggml's reference
// dequantize_row_* functions give: every intermediate product is exact in fp32
// (an fp16 scale has 11 significant bits, the integer factors at most 8), so
// each value is rounded once, whatever the order of operations or FMA
// contraction (Q6_K's last product and Q8_K's fp32 scale times an int8 are
// that one rounding). They multiply in ggml's order (block scale times
// sub-block scale first), which also gives zeros ggml's sign. Checked against
// ggml's own dequantize_row_* on ggml-quantized and random blocks: identical
// bits (docs/GGUF.md). docs/GGUF.md lists the formulas.
//
// Thread-safety: all functions are pure; call them from any thread.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace superlens::core {

// Type ids as written in a GGUF tensor info (ggml's enum ggml_type). Ids that
// ggml removed (4, 5, 31-33, 36-38) are not listed and are refused as unknown.
enum class GgmlType : std::uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct GgmlTypeInfo {
    GgmlType type;
    std::string_view name;       // ggml's name: "Q4_K", "BF16", ...
    std::int64_t blockElements;  // values per block
    std::int64_t blockBytes;     // bytes per block
    bool dequantizable;          // dequantizeRow supports it
};

// The table entry of a type id from a file; nullptr for ids ggml does not define.
const GgmlTypeInfo* ggmlTypeInfo(std::uint32_t id);
const GgmlTypeInfo& ggmlTypeInfo(GgmlType type);
inline std::string_view ggmlTypeName(GgmlType type) { return ggmlTypeInfo(type).name; }
inline bool canDequantize(GgmlType type) { return ggmlTypeInfo(type).dequantizable; }

// "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K"
std::string_view dequantizableTypeList();

// Decodes n values (n >= 0, a multiple of the type's blockElements) from the
// blocks at `src` into dst[0, n). `src` needs no alignment. No allocation, no
// state: cheap enough to call per tile. Programmer errors (an unsupported type,
// n not a whole number of blocks) abort with SL_ASSERT; check canDequantize
// and the row length first (GgufFile validates rows are whole blocks).
void dequantizeRow(GgmlType type, const std::byte* src, float* dst, std::int64_t n);

// The same results from the plain C++ block decoders only (dequantizeRow
// takes AVX2 paths for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q5_K and Q6_K
// when the build targets AVX2): what a build without AVX2 runs, kept callable so the tests
// check both paths against the same references.
void dequantizeRowPortable(GgmlType type, const std::byte* src, float* dst, std::int64_t n);

}  // namespace superlens::core
