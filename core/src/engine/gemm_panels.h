#pragma once
// Linear layers on a GEMM kernel of our own (fp32 FMA), AVX-512 or AVX2, for
// f32, bf16 and f16 weights read straight from the mapped checkpoint.
// Internal to core.
//
// Y = X W^T in broadcast form. The activations are transposed once per call
// into panels of tokens (PackedTokens: 32 tokens for AVX-512, 16 for AVX2;
// panel p holds, for every column k, its tokens' values side by side). The
// weights are read in blocks of a few rows (8 for AVX-512, 6 for AVX2) x 256
// columns; each block is decoded (f32 copied, bf16/f16 widened: exact) into a
// small buffer that stays in L1 while every token panel passes over it, and
// the next block's rows are prefetched meanwhile. The micro-kernel
// broadcasts one weight and multiplies it into a panel's tokens (two
// vectors): rows x panel of accumulators in 16 (AVX-512) or 12 (AVX2)
// registers.
//
// Why not OpenBLAS: its sgemm packs the weight matrix into its own layout on
// every call, so a prompt's pass streams each weight twice (23 % of an f32
// pass on Intel under perf), and bf16/f16 weights were first decoded into
// 4 MB fp32 tiles and then packed again. Here each weight is read from the
// checkpoint once per pass and decoded into L1 only. Measured against
// OpenBLAS's kernels in bench/bench_machine and docs/PERFORMANCE.md.
//
// Exactness: every output element is a sum of fp32 fused multiply-adds (one
// rounding per step, as in an sgemm) in one fixed order: each 256-column
// block from zero in increasing k, the blocks' sums added in increasing
// order. One thread computes it: the result does not depend on the thread
// split.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gemm_amx.h"

namespace superlens::core::panels {

enum class Isa { Avx2, Avx512 };

// Tokens per panel: two vectors of floats.
constexpr std::int64_t panelWidth(Isa isa) { return isa == Isa::Avx512 ? 32 : 16; }

// X[m, k] (fp32, row-major) as panels of `width` tokens: panel p, column c
// holds X[width p .. width p + width - 1, c] contiguously; tokens past m are zero.
class PackedTokens {
public:
    std::int64_t m = 0, k = 0, width = 0, panels = 0;

    // Sizes the buffer; then packPanels for every panel (panels are
    // independent: the caller may pack them on several threads).
    void resize(std::int64_t rows, std::int64_t cols, std::int64_t panelWidth);
    void packPanels(const float* x, std::int64_t ldx, std::int64_t p0, std::int64_t p1);
    const float* panel(std::int64_t p) const { return m_data.data() + p * k * width; }

private:
    std::vector<float> m_data;
};

// Y[i, r] = sum_c X[i, c] * W[r, c] for r in [r0, r1), i < x.m; Y row-major
// with leading dimension ldy. W is F32, BF16 or F16; x was packed with
// panelWidth(isa). Call with Isa::Avx512 only where available(Avx512) is true.
void multiplyRows(Isa isa, const PackedTokens& x, const amx::WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy);

// The same for a weight the kernel cannot read in place (GGUF quantized
// blocks, RTN-rounded or quantized edits): `decode(g0, g1, dst)` writes rows
// [g0, g1) as fp32, row-major with x.k columns; 16 rows at a time are
// decoded into a buffer and multiplied from there (bit for bit what the
// stored rows would give, when they hold the same values).
using RowDecoder = std::function<void(std::int64_t, std::int64_t, float*)>;
void multiplyDecodedRows(Isa isa, const PackedTokens& x, const RowDecoder& decode, std::int64_t r0, std::int64_t r1, float* y,
                         std::int64_t ldy);

// AVX-512: the CPU and the OS have AVX-512 F/DQ/BW/VL (with the ZMM state
// enabled). AVX2: AVX2, FMA and F16C (the build's x86-64-v3 baseline).
// `why` receives the reason when it is false.
bool available(Isa isa, std::string* why = nullptr);

}  // namespace superlens::core::panels
