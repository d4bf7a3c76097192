#include "gemm_avx512.h"

#include <algorithm>

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// __Y = __Y idiom (as in gemm_amx.cpp and gemv.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "stored_elements.h"
#include "superlens/core/result.h"
#include "superlens/core/system/cpu_features.h"

// Only the functions marked SL_AVX512 use AVX-512 instructions (target
// attributes, not translation-unit flags: the build stays x86-64-v3); they
// run only where available() said so.
#define SL_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))

namespace superlens::core::avx512gemm {
namespace {

using stored::Stored;

constexpr int kRows = 8;                     // weight rows per block (8 x 2 accumulators)
constexpr std::int64_t kCols = 256;          // columns per block: 8 KB of fp32 weights and a 32 KB token panel slice
constexpr std::int64_t kLdBuf = kCols + 16;  // not a multiple of 4 KB: the 8 rows fall in different L1 sets
// Measured on AMD Zen 4 (TinyLlama shapes, one thread, weights from DRAM, a
// throwaway harness against cblas_sgemm): 8 rows 85-99 GFLOP/s at 128
// tokens, 12 rows 81-89, 14 rows 74-82; 256 columns against 512: equal at 128
// tokens, +4-15 % for bf16 at 32 tokens (81-89 against 71-82), 128 columns
// 2-5 % below 256. Reading the rows in place instead of through the buffer
// lost 10-20 % whenever the row stride was a multiple of 4 KB (the 8 rows
// then share L1 sets).

// Widens columns [0, n) of one stored row into fp32 (exact for bf16 and f16).
template <DType D>
SL_AVX512 void decodeRow(const Stored<D>* src, std::int64_t n, float* dst) {
    std::int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        if constexpr (D == DType::F32) {
            _mm512_storeu_ps(dst + c, _mm512_loadu_ps(src + c));
        } else {
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c));
            if constexpr (D == DType::BF16) _mm512_storeu_ps(dst + c, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
            else _mm512_storeu_ps(dst + c, _mm512_cvtph_ps(h));
        }
    }
    for (; c < n; ++c) dst[c] = stored::loadOne<D>(src + c);
}

// acc[r][0..32) (+)= sum_k w[r * kLdBuf + k] * xp[k * 32 .. k * 32 + 32) for r < R.
template <int R>
SL_AVX512 void microKernel(const float* w, const float* xp, std::int64_t kc, float* acc, bool first) {
    __m512 a0[R], a1[R];
    for (int r = 0; r < R; ++r) {
        a0[r] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + r * kPanelTokens);
        a1[r] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + r * kPanelTokens + 16);
    }
    for (std::int64_t k = 0; k < kc; ++k) {
        const __m512 x0 = _mm512_loadu_ps(xp + k * kPanelTokens);
        const __m512 x1 = _mm512_loadu_ps(xp + k * kPanelTokens + 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m512 b = _mm512_set1_ps(w[r * kLdBuf + k]);
            a0[r] = _mm512_fmadd_ps(b, x0, a0[r]);
            a1[r] = _mm512_fmadd_ps(b, x1, a1[r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        _mm512_storeu_ps(acc + r * kPanelTokens, a0[r]);
        _mm512_storeu_ps(acc + r * kPanelTokens + 16, a1[r]);
    }
}

using MicroKernel = void (*)(const float*, const float*, std::int64_t, float*, bool);
constexpr MicroKernel kKernels[kRows + 1] = {nullptr,         microKernel<1>, microKernel<2>, microKernel<3>, microKernel<4>,
                                              microKernel<5>, microKernel<6>, microKernel<7>, microKernel<8>};

template <DType D>
SL_AVX512 void rowsOf(const PackedTokens& x, const Stored<D>* w, std::int64_t ld, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    alignas(64) static thread_local float t_block[kRows * kLdBuf];
    thread_local std::vector<float> t_acc;
    t_acc.resize(static_cast<std::size_t>(x.panels * kRows * kPanelTokens));
    float* acc = t_acc.data();
    constexpr std::int64_t kLineElements = 64 / static_cast<std::int64_t>(sizeof(Stored<D>));
    for (std::int64_t b0 = r0; b0 < r1; b0 += kRows) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kRows, r1 - b0));
        const MicroKernel kernel = kKernels[rows];
        for (std::int64_t c0 = 0; c0 < x.k; c0 += kCols) {
            const std::int64_t kc = std::min(kCols, x.k - c0);
            for (int r = 0; r < rows; ++r) decodeRow<D>(w + (b0 + r) * ld + c0, kc, t_block + r * kLdBuf);
            // The block decoded next (the next columns of these rows, or the
            // next rows' first columns) into L2 while this one is multiplied.
            // Measured (TinyLlama shapes, f32, 128 tokens): without it 3-5 %
            // slower; 2 or 4 blocks ahead the same as 1 within the VM's noise.
            const bool lastCols = c0 + kCols >= x.k;
            const std::int64_t nb = lastCols ? b0 + kRows : b0, nc = lastCols ? 0 : c0 + kCols;
            const std::int64_t nrows = std::min<std::int64_t>(kRows, r1 - nb), ncols = std::min(kCols, x.k - nc);
            for (std::int64_t r = 0; r < nrows; ++r)
                for (std::int64_t c = 0; c < ncols; c += kLineElements) _mm_prefetch(reinterpret_cast<const char*>(w + (nb + r) * ld + nc + c), _MM_HINT_T1);
            for (std::int64_t p = 0; p < x.panels; ++p)
                kernel(t_block, x.panel(p) + c0 * kPanelTokens, kc, acc + p * kRows * kPanelTokens, c0 == 0);
        }
        for (std::int64_t i = 0; i < x.m; ++i) {
            const float* a = acc + (i / kPanelTokens) * kRows * kPanelTokens + i % kPanelTokens;
            for (int r = 0; r < rows; ++r) y[i * ldy + b0 + r] = a[r * kPanelTokens];
        }
    }
}

}  // namespace

void PackedTokens::resize(std::int64_t rows, std::int64_t cols) {
    m = rows;
    k = cols;
    panels = (rows + kPanelTokens - 1) / kPanelTokens;
    m_data.resize(static_cast<std::size_t>(panels * kPanelTokens * cols));
}

void PackedTokens::packPanels(const float* x, std::int64_t ldx, std::int64_t p0, std::int64_t p1) {
    // Column blocks of 16, each read row by row (one cache line per token):
    // reading a column down 32 rows 8 KB apart would put all 32 lines in one
    // L1 set (measured 3x slower for 128 x 2048).
    constexpr std::int64_t kBlock = 16;
    for (std::int64_t p = p0; p < p1; ++p) {
        float* out = m_data.data() + p * k * kPanelTokens;
        const std::int64_t t0 = p * kPanelTokens, tokens = std::min(kPanelTokens, m - t0);
        if (tokens < kPanelTokens) std::fill(out, out + k * kPanelTokens, 0.0f);
        for (std::int64_t c0 = 0; c0 < k; c0 += kBlock) {
            const std::int64_t c1 = std::min(k, c0 + kBlock);
            for (std::int64_t t = 0; t < tokens; ++t) {
                const float* src = x + (t0 + t) * ldx;
                for (std::int64_t c = c0; c < c1; ++c) out[c * kPanelTokens + t] = src[c];
            }
        }
    }
}

void multiplyRows(const PackedTokens& x, const amx::WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    if (r0 >= r1 || x.m == 0) return;
    switch (w.dtype) {
        case DType::F32: return rowsOf<DType::F32>(x, static_cast<const float*>(w.data), w.ld, r0, r1, y, ldy);
        case DType::BF16: return rowsOf<DType::BF16>(x, static_cast<const std::uint16_t*>(w.data), w.ld, r0, r1, y, ldy);
        case DType::F16: return rowsOf<DType::F16>(x, static_cast<const std::uint16_t*>(w.data), w.ld, r0, r1, y, ldy);
        default: SL_ASSERT(false && "avx512gemm::multiplyRows: weights must be F32, BF16 or F16");
    }
}

bool available(std::string* why) {
    const CpuFeatures& cpu = cpuFeatures();
    if (cpu.avx512Common()) return true;
    if (why) *why = "the CPU (or its OS) has no AVX-512 F/DQ/BW/VL";
    return false;
}

}  // namespace superlens::core::avx512gemm

#pragma GCC diagnostic pop
