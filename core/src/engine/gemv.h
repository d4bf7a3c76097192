#pragma once
// GEMV over stored weight rows for one token (decode) or a few (short
// prompts). Internal to core.
//
// y[t, r] = <W[r, :], x[t, :]> for the rows a RowSource hands out and every
// token t, of a row-major matrix W[rows, cols] stored as f32, bf16 or f16
// (16-bit values widened to fp32 in registers, nothing buffered), x and y
// fp32. Memory-bound: the kernel reads four rows per pass (each x load feeds
// four FMAs) and prefetches the rows two passes ahead into L2, since a
// 2048-column bf16 row is one 4 KiB page and the hardware prefetcher stops at
// page boundaries. With several tokens, a pass takes them two at a time (each
// widened weight feeds two FMAs) while its four rows stay in L1: the weights
// still stream from memory once per call. The ISA (AVX-512 or AVX2) is chosen
// at run time by gemm::gemvPath(). bf16 on AVX-512 is widened in pairs (two
// bf16 per 32-bit lane: one shifted up, one masked), against a copy of x
// split into even and odd columns per 32.
//
// Exact to fp32 accumulation. Each (token, row) is reduced in one fixed order
// (per vector lane over the columns, then the lanes, then the scalar tail)
// whether it falls in a four-row pass or in the remainder, alone or beside
// another token, so y[t, r] does not depend on the ranges handed out, on the
// worker that computes it or on the other tokens: a token of a short prompt
// gets the bits it gets alone.

#include <cstdint>

#include "superlens/core/model/dtype.h"

namespace superlens::core::gemv {

// Where a worker's rows come from, a range at a time (kernels.cpp: the
// worker's RowClaims, row_claims.h: its own slice, then a slower worker's).
class RowSource {
public:
    // The next rows [r0, r1) and the row up to which the kernel may
    // prefetch (>= r1, within the matrix); false when none are left.
    virtual bool next(std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) = 0;

protected:
    ~RowSource() = default;
};

// Rows [0, n) handed out at once (a matrix one worker multiplies whole).
class OneRange final : public RowSource {
public:
    explicit OneRange(std::int64_t n) : m_n(n) {}
    bool next(std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) override {
        if (m_done) return false;
        m_done = true;
        r0 = 0, r1 = prefetchEnd = m_n;
        return true;
    }

private:
    std::int64_t m_n;
    bool m_done = false;
};

// The activations: n tokens, token t's `cols` values at x + t * ldx and its
// outputs at y + t * ldy.
struct Tokens {
    const float* x = nullptr;
    std::int64_t ldx = 0;
    float* y = nullptr;
    std::int64_t ldy = 0;
    std::int64_t n = 1;
};

// One token over rows whose activations take at most this many bytes (a
// row's fp32 x, or bf16's split of it) is read a row at a time by the
// AVX-512 kernels, prefetching kRowAheadBytes ahead where they prefetch
// (gemv.cpp says why; gemm::gemvPath() names them).
constexpr std::int64_t kRowStreamMaxXBytes = 8192;
constexpr std::int64_t kRowAheadBytes = 1024;

// dtype is F32, BF16 or F16; w points at element [0, 0]. x is prepared once
// (bf16 pairs) for all the ranges the source hands out.
void rows(DType dtype, const void* w, std::int64_t cols, const Tokens& tokens, RowSource& source);

}  // namespace superlens::core::gemv
