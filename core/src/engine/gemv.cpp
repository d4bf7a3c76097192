#include "gemv.h"

#include <type_traits>
#include <vector>

#include <immintrin.h>

#include "stored_elements.h"
#include "superlens/core/system/gemm_path.h"

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// __Y = __Y idiom (as in gemm_amx.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace superlens::core::gemv {
namespace {

using stored::Stored;
using stored::load8;
using stored::loadOne;

// Only the functions marked SL_AVX512 use AVX-512 instructions (the build
// stays x86-64-v3); they run only when gemm::gemvPath() chose them.
#define SL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

constexpr std::int64_t kRowsPerPass = 4;
constexpr std::int64_t kPassesAhead = 2;  // prefetch distance, in passes (measured: 1 and 4 were slower)

// The scalar columns past the last full vector, added after the lanes.
template <DType D>
inline float tailDot(const Stored<D>* row, const float* x, std::int64_t from, std::int64_t cols) {
    float s = 0;
    for (std::int64_t c = from; c < cols; ++c) s += loadOne<D>(row + c) * x[c];
    return s;
}

// Prefetches (to L2) the `lines` cache lines from p on, unless p is past
// `end`. A macro, not a function: GCC 12 finds a function that only
// prefetches free of side effects and deletes the calls.
#define SL_PREFETCH_LINES(p, end, lines)                                               \
    do {                                                                               \
        const char* const slPf = (p);                                                  \
        if (slPf < (end))                                                              \
            for (int slI = 0; slI < (lines); ++slI) _mm_prefetch(slPf + 64 * slI, _MM_HINT_T1); \
    } while (false)

// ---- AVX2 (x86-64-v3): 8 columns per step.

inline float sum8(__m256 v) {
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

template <DType D>
void rowsAvx2(const Stored<D>* w, std::int64_t cols, const float* x, float* y, std::int64_t r0, std::int64_t r1, std::int64_t prefetchEnd) {
    constexpr std::int64_t kStepBytes = kRowsPerPass * 8 * static_cast<std::int64_t>(sizeof(Stored<D>));  // one step of a pass
    constexpr int kLines = static_cast<int>(kStepBytes / 64);
    const std::int64_t vecEnd = cols / 8 * 8;
    const char* end = reinterpret_cast<const char*>(w + prefetchEnd * cols);
    std::int64_t r = r0;
    for (; r + kRowsPerPass <= r1; r += kRowsPerPass) {
        const Stored<D>* w0 = w + r * cols;
        const Stored<D>* w1 = w0 + cols;
        const Stored<D>* w2 = w1 + cols;
        const Stored<D>* w3 = w2 + cols;
        // The pass kPassesAhead on: kRowsPerPass contiguous rows, walked as fast as this pass.
        const char* ahead = reinterpret_cast<const char*>(w0 + kPassesAhead * kRowsPerPass * cols);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (std::int64_t c = 0; c < vecEnd; c += 8) {
            SL_PREFETCH_LINES(ahead + c / 8 * kStepBytes, end, kLines);
            const __m256 xv = _mm256_loadu_ps(x + c);
            a0 = _mm256_fmadd_ps(load8<D>(w0 + c), xv, a0);
            a1 = _mm256_fmadd_ps(load8<D>(w1 + c), xv, a1);
            a2 = _mm256_fmadd_ps(load8<D>(w2 + c), xv, a2);
            a3 = _mm256_fmadd_ps(load8<D>(w3 + c), xv, a3);
        }
        y[r] = sum8(a0) + tailDot<D>(w0, x, vecEnd, cols);
        y[r + 1] = sum8(a1) + tailDot<D>(w1, x, vecEnd, cols);
        y[r + 2] = sum8(a2) + tailDot<D>(w2, x, vecEnd, cols);
        y[r + 3] = sum8(a3) + tailDot<D>(w3, x, vecEnd, cols);
    }
    for (; r < r1; ++r) {
        const Stored<D>* w0 = w + r * cols;
        __m256 a0 = _mm256_setzero_ps();
        for (std::int64_t c = 0; c < vecEnd; c += 8) a0 = _mm256_fmadd_ps(load8<D>(w0 + c), _mm256_loadu_ps(x + c), a0);
        y[r] = sum8(a0) + tailDot<D>(w0, x, vecEnd, cols);
    }
}

// ---- AVX-512: 16 columns per step.

template <DType D>
SL_AVX512 inline __m512 load16(const Stored<D>* p) {
    if constexpr (D == DType::F32) {
        return _mm512_loadu_ps(p);
    } else {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        if constexpr (D == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
        else return _mm512_cvtph_ps(h);
    }
}

// The 16 lanes in one fixed order: halves, then as sum8.
SL_AVX512 inline float sum16(__m512 v) {
    const __m256 lo = _mm512_castps512_ps256(v), hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    const __m256 s = _mm256_add_ps(lo, hi);
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 h = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

template <DType D>
SL_AVX512 void rowsAvx512(const Stored<D>* w, std::int64_t cols, const float* x, float* y, std::int64_t r0, std::int64_t r1,
                          std::int64_t prefetchEnd) {
    constexpr std::int64_t kStepBytes = kRowsPerPass * 16 * static_cast<std::int64_t>(sizeof(Stored<D>));
    constexpr int kLines = static_cast<int>(kStepBytes / 64);
    const std::int64_t vecEnd = cols / 16 * 16;
    const char* end = reinterpret_cast<const char*>(w + prefetchEnd * cols);
    std::int64_t r = r0;
    for (; r + kRowsPerPass <= r1; r += kRowsPerPass) {
        const Stored<D>* w0 = w + r * cols;
        const Stored<D>* w1 = w0 + cols;
        const Stored<D>* w2 = w1 + cols;
        const Stored<D>* w3 = w2 + cols;
        const char* ahead = reinterpret_cast<const char*>(w0 + kPassesAhead * kRowsPerPass * cols);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (std::int64_t c = 0; c < vecEnd; c += 16) {
            SL_PREFETCH_LINES(ahead + c / 16 * kStepBytes, end, kLines);
            const __m512 xv = _mm512_loadu_ps(x + c);
            a0 = _mm512_fmadd_ps(load16<D>(w0 + c), xv, a0);
            a1 = _mm512_fmadd_ps(load16<D>(w1 + c), xv, a1);
            a2 = _mm512_fmadd_ps(load16<D>(w2 + c), xv, a2);
            a3 = _mm512_fmadd_ps(load16<D>(w3 + c), xv, a3);
        }
        y[r] = sum16(a0) + tailDot<D>(w0, x, vecEnd, cols);
        y[r + 1] = sum16(a1) + tailDot<D>(w1, x, vecEnd, cols);
        y[r + 2] = sum16(a2) + tailDot<D>(w2, x, vecEnd, cols);
        y[r + 3] = sum16(a3) + tailDot<D>(w3, x, vecEnd, cols);
    }
    for (; r < r1; ++r) {
        const Stored<D>* w0 = w + r * cols;
        __m512 a0 = _mm512_setzero_ps();
        for (std::int64_t c = 0; c < vecEnd; c += 16) a0 = _mm512_fmadd_ps(load16<D>(w0 + c), _mm512_loadu_ps(x + c), a0);
        y[r] = sum16(a0) + tailDot<D>(w0, x, vecEnd, cols);
    }
}

// ---- bf16 on AVX-512, in pairs: a bf16 is the high half of an fp32, so a
// 32-bit lane holding two of them gives the odd column's value by masking off
// its low half and the even column's by shifting it up. That replaces the
// widening shuffle (vpmovzxwd zmm, a cross-lane op that Zen 4 runs at half
// rate) by two one-cycle integer ops per 32 columns, and decode ran 1.13x
// faster on Zen 4 with the weights in 2 MiB pages (docs/PERFORMANCE.md). x is
// laid out once per call to match: per 32 columns, the 16 even ones, then the
// 16 odd ones. (On AVX2 the same trick measured 1.00x: not used there.)

// out[32b + j] = x[32b + 2j], out[32b + 16 + j] = x[32b + 2j + 1] for j < 16, b < blocks.
const float* splitPairs(const float* x, std::int64_t blocks) {
    thread_local std::vector<float> t_split;
    t_split.resize(static_cast<std::size_t>(blocks * 32));
    float* out = t_split.data();
    for (std::int64_t b = 0; b < blocks; ++b, x += 32, out += 32)
        for (int j = 0; j < 16; ++j) out[j] = x[2 * j], out[16 + j] = x[2 * j + 1];
    return t_split.data();
}

// 32 columns of one row: even ones into e, odd ones into o.
SL_AVX512 inline void pairStep(const std::uint16_t* p, __m512 xe, __m512 xo, __m512i high, __m512& e, __m512& o) {
    const __m512i v = _mm512_loadu_si512(p);
    e = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xe, e);
    o = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high)), xo, o);
}

// One row's fixed order: even + odd lanes, then one 16-column step when
// cols % 32 >= 16, then the lanes, then the scalar tail.
SL_AVX512 inline float finishBf16Row(const std::uint16_t* row, const float* x, __m512 e, __m512 o, std::int64_t pairEnd,
                                     std::int64_t vecEnd, std::int64_t cols) {
    __m512 a = _mm512_add_ps(e, o);
    if (vecEnd > pairEnd) a = _mm512_fmadd_ps(load16<DType::BF16>(row + pairEnd), _mm512_loadu_ps(x + pairEnd), a);
    return sum16(a) + tailDot<DType::BF16>(row, x, vecEnd, cols);
}

SL_AVX512 void rowsBf16Avx512(const std::uint16_t* w, std::int64_t cols, const float* x, const float* xs, float* y, std::int64_t r0,
                              std::int64_t r1, std::int64_t prefetchEnd) {
    constexpr std::int64_t kStepBytes = kRowsPerPass * 64;
    constexpr int kLines = static_cast<int>(kStepBytes / 64);
    const std::int64_t pairEnd = cols / 32 * 32, vecEnd = cols / 16 * 16;
    const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    const char* end = reinterpret_cast<const char*>(w + prefetchEnd * cols);
    std::int64_t r = r0;
    for (; r + kRowsPerPass <= r1; r += kRowsPerPass) {
        const std::uint16_t* w0 = w + r * cols;
        const std::uint16_t* w1 = w0 + cols;
        const std::uint16_t* w2 = w1 + cols;
        const std::uint16_t* w3 = w2 + cols;
        const char* ahead = reinterpret_cast<const char*>(w0 + kPassesAhead * kRowsPerPass * cols);
        __m512 e0 = _mm512_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0;
        for (std::int64_t c = 0; c < pairEnd; c += 32) {
            SL_PREFETCH_LINES(ahead + c / 32 * kStepBytes, end, kLines);
            const __m512 xe = _mm512_loadu_ps(xs + c), xo = _mm512_loadu_ps(xs + c + 16);
            pairStep(w0 + c, xe, xo, high, e0, o0);
            pairStep(w1 + c, xe, xo, high, e1, o1);
            pairStep(w2 + c, xe, xo, high, e2, o2);
            pairStep(w3 + c, xe, xo, high, e3, o3);
        }
        y[r] = finishBf16Row(w0, x, e0, o0, pairEnd, vecEnd, cols);
        y[r + 1] = finishBf16Row(w1, x, e1, o1, pairEnd, vecEnd, cols);
        y[r + 2] = finishBf16Row(w2, x, e2, o2, pairEnd, vecEnd, cols);
        y[r + 3] = finishBf16Row(w3, x, e3, o3, pairEnd, vecEnd, cols);
    }
    for (; r < r1; ++r) {
        const std::uint16_t* w0 = w + r * cols;
        __m512 e0 = _mm512_setzero_ps(), o0 = e0;
        for (std::int64_t c = 0; c < pairEnd; c += 32) pairStep(w0 + c, _mm512_loadu_ps(xs + c), _mm512_loadu_ps(xs + c + 16), high, e0, o0);
        y[r] = finishBf16Row(w0, x, e0, o0, pairEnd, vecEnd, cols);
    }
}

template <DType D>
void dispatch(const void* w, std::int64_t cols, const float* x, float* y, RowSource& source) {
    const auto* s = static_cast<const Stored<D>*>(w);
    std::int64_t r0 = 0, r1 = 0, prefetchEnd = 0;
    if (gemm::gemvPath().isa == gemm::GemvIsa::Avx512) {
        if constexpr (D == DType::BF16) {
            const float* xs = splitPairs(x, cols / 32);
            while (source.next(r0, r1, prefetchEnd)) rowsBf16Avx512(s, cols, x, xs, y, r0, r1, prefetchEnd);
        } else {
            while (source.next(r0, r1, prefetchEnd)) rowsAvx512<D>(s, cols, x, y, r0, r1, prefetchEnd);
        }
    } else {
        while (source.next(r0, r1, prefetchEnd)) rowsAvx2<D>(s, cols, x, y, r0, r1, prefetchEnd);
    }
}

}  // namespace

void rows(DType dtype, const void* w, std::int64_t cols, const float* x, float* y, RowSource& source) {
    if (dtype == DType::F32) dispatch<DType::F32>(w, cols, x, y, source);
    else if (dtype == DType::BF16) dispatch<DType::BF16>(w, cols, x, y, source);
    else dispatch<DType::F16>(w, cols, x, y, source);
}

}  // namespace superlens::core::gemv

#pragma GCC diagnostic pop
