#pragma once
// Linear layers on an AVX-512 kernel of our own (fp32 FMA), for f32, bf16 and
// f16 weights read straight from the mapped checkpoint. Internal to core.
//
// Y = X W^T in broadcast form. The activations are transposed once per call
// into panels of 32 tokens (PackedTokens: panel p holds, for every column k,
// the 32 tokens' values side by side). The weights are read in blocks of
// 8 rows x 512 columns; each block is decoded (f32 copied, bf16/f16 widened:
// exact) into a small buffer that stays in L1 while every token panel passes
// over it, and the next block's rows are prefetched meanwhile. The
// micro-kernel broadcasts one weight and multiplies it into 32 tokens (two
// zmm): 8 rows x 32 tokens of accumulators in 16 registers.
//
// Why not OpenBLAS: its sgemm packs the weight matrix into its own layout on
// every call, so a prompt's pass streams each weight twice (23 % of an f32
// pass on Intel under perf), and bf16/f16 weights were first decoded into
// 4 MB fp32 tiles and then packed again. Here each weight is read from the
// checkpoint once per pass and decoded into L1 only. Measured against
// OpenBLAS's kernels in bench/bench_machine and docs/PERFORMANCE.md.
//
// Exactness: every output element is the sum over k, in increasing order, of
// fp32 fused multiply-adds (one rounding per step, as in an sgemm), computed
// by one thread: the result does not depend on the thread split.

#include <cstdint>
#include <string>
#include <vector>

#include "gemm_amx.h"

namespace superlens::core::avx512gemm {

constexpr std::int64_t kPanelTokens = 32;

// X[m, k] (fp32, row-major) as panels of 32 tokens: panel p, column c holds
// X[32p .. 32p+31, c] contiguously; tokens past m are zero.
class PackedTokens {
public:
    std::int64_t m = 0, k = 0, panels = 0;

    // Sizes the buffer; then packPanels for every panel (panels are
    // independent: the caller may pack them on several threads).
    void resize(std::int64_t rows, std::int64_t cols);
    void packPanels(const float* x, std::int64_t ldx, std::int64_t p0, std::int64_t p1);
    const float* panel(std::int64_t p) const { return m_data.data() + p * k * kPanelTokens; }

private:
    std::vector<float> m_data;
};

// Y[i, r] = sum_c X[i, c] * W[r, c] for r in [r0, r1), i < x.m; Y row-major
// with leading dimension ldy. W is F32, BF16 or F16. Call only where
// available() is true.
void multiplyRows(const PackedTokens& x, const amx::WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy);

// The CPU and the OS have AVX-512 F/DQ/BW/VL (with the ZMM state enabled).
// `why` receives the reason when it is false.
bool available(std::string* why = nullptr);

}  // namespace superlens::core::avx512gemm
