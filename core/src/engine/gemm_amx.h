#pragma once
// Linear layers on Intel AMX (TDPBF16PS) with fp32-class accuracy. Internal to core.
//
// AMX multiplies bf16 by bf16 and accumulates in fp32. The product of two
// bf16 numbers (8-bit significands) is exact in fp32, so the only rounding
// is the fp32 accumulation, as in an sgemm, provided the operands are split
// into bf16 parts that add up to the fp32 values:
//   x = x_hi + x_mid + x_lo  (three bf16, round-to-nearest, each the rounded
//                             remainder of the previous: 24 bits, exact for
//                             every fp32 in the normal range)
// Activations are always split in three. Weights: bf16 are used as stored
// (one part: read straight from the mapped checkpoint, never copied), f16 in
// two parts (11 bits: exact), f32 in three. Per output element the kernel
// adds the part products W_a * X_b with a + b <= 2 (the "bf16x6" scheme of
// Henry, Tang, Heinecke 2019 for f32 weights; for bf16 weights it is exact
// up to fp32 accumulation); the terms left out for f32 weights are below
// 2^-24 relative. Weights are converted tile by tile (32 rows x 512 columns),
// never as a whole copy.
//
// Deterministic: every output element is reduced in one fixed order
// (k blocks in order, parts in a fixed order), whatever the thread split.
// AMX flushes denormal inputs and outputs to zero (|x| < 1.2e-38).

#include <cstdint>
#include <string>
#include <vector>

#include "superlens/core/model/dtype.h"

namespace superlens::core::amx {

// X[m, k] (fp32, row-major) split into three bf16 parts, laid out as AMX B
// tiles (16 k-pairs x 16 rows of X, VNNI pairs), zero padded to m a
// multiple of 32 and k a multiple of 32.
class PackedActivations {
public:
    std::int64_t m = 0, k = 0, mPadded = 0, kBlocks = 0;

    // Sizes the buffer; then packRows for every 16-row block (blocks are
    // independent: the caller may pack them on several threads).
    void resize(std::int64_t rows, std::int64_t cols);
    std::int64_t rowBlocks() const { return mPadded / 16; }
    void packRows(const float* x, std::int64_t ldx, std::int64_t block0, std::int64_t block1);

    // The tile of 16-row block `mb`, k block `kb`, part `p` (0 hi, 1 mid, 2 lo): 16 x 32 bf16.
    const std::uint16_t* tile(std::int64_t mb, std::int64_t kb, int p) const {
        return m_data.data() + ((mb * kBlocks + kb) * 3 + p) * 512;
    }

private:
    std::vector<std::uint16_t> m_data;
};

// A weight matrix [n, k] stored row-major with leading dimension `ld`
// elements, in F32, BF16 or F16.
struct WeightSource {
    const void* data = nullptr;
    DType dtype = DType::F32;
    std::int64_t rows = 0;
    std::int64_t ld = 0;
};

// Y[i, r] = sum_c X[i, c] * W[r, c] for r in [r0, r1), i < x.m; Y row-major
// with leading dimension ldy. Call only after tilesEnabled() returned true.
void multiplyRows(const PackedActivations& x, const WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy);

// The CPU has AMX-BF16 and AVX-512 BF16 and the kernel granted this process
// the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once). `why`
// receives the reason when it is false.
bool tilesEnabled(std::string* why = nullptr);

}  // namespace superlens::core::amx
