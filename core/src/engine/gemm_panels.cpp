#include "gemm_panels.h"

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
// run only where available(Isa::Avx512) said so. The AVX2 functions are the
// baseline's own code.
#define SL_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))

namespace superlens::core::panels {
namespace {

using stored::Stored;

constexpr std::int64_t kCols = 256;          // columns per block: 8 KB of fp32 weights (AVX-512) and a 32 KB token panel slice
constexpr std::int64_t kLdBuf = kCols + 16;  // not a multiple of 4 KB: the rows fall in different L1 sets
// Measured on AMD Zen 4 (TinyLlama shapes, one thread, weights from DRAM, a
// throwaway harness against cblas_sgemm; docs/PERFORMANCE.md has the
// table), AVX-512 at 128 tokens: 8 rows through this buffer 81-100 GFLOP/s,
// 12 rows 74-90; 256 columns against 512: equal at 128 tokens, +6-15 % for
// bf16 at 32 tokens; 128 columns 1-7 % below 256 at 128 tokens, 0-4 % at 32. Rows read in place (no
// buffer) ran 20 % slower with 12 rows when the row stride was a multiple of
// 4 KB (the rows then share L1 sets). Without the weight stream (one block
// decoded for all) the kernel runs at 88-95 % of the FMA peak; with it, 82-86 %.
// AVX2 (16 registers): 6 rows x 2 vectors of 8 tokens.

// ---- AVX-512: 8 rows x 32 tokens.

// Widens columns [0, n) of one stored row into fp32 (exact for bf16 and f16).
template <DType D>
SL_AVX512 void decodeRow512(const Stored<D>* src, std::int64_t n, float* dst) {
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

// acc[r][0..32) (+)= sum_k w[r * kLdBuf + k] * xp[k * 32 .. k * 32 + 32) for r < R:
// the block's sum from zero by FMAs in k order, then added to acc unless
// `first`. (Starting from acc instead made GCC 12 store the AVX2 kernel's
// accumulators to the stack on every step: half the speed.) V = 1: only the
// panel's first 16 tokens (a last panel holding no more), in the same FMAs.
template <int R, int V = 2>
SL_AVX512 void kernel512(const float* w, const float* xp, std::int64_t kc, float* acc, bool first) {
    constexpr std::int64_t W = 32;
    __m512 a0[R], a1[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        a0[r] = _mm512_setzero_ps();
        if constexpr (V == 2) a1[r] = _mm512_setzero_ps();
    }
    for (std::int64_t k = 0; k < kc; ++k) {
        const __m512 x0 = _mm512_loadu_ps(xp + k * W);
        __m512 x1;
        if constexpr (V == 2) x1 = _mm512_loadu_ps(xp + k * W + 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m512 b = _mm512_set1_ps(w[r * kLdBuf + k]);
            a0[r] = _mm512_fmadd_ps(b, x0, a0[r]);
            if constexpr (V == 2) a1[r] = _mm512_fmadd_ps(b, x1, a1[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        if (!first) a0[r] = _mm512_add_ps(_mm512_loadu_ps(acc + r * W), a0[r]);
        _mm512_storeu_ps(acc + r * W, a0[r]);
        if constexpr (V == 2) {
            if (!first) a1[r] = _mm512_add_ps(_mm512_loadu_ps(acc + r * W + 16), a1[r]);
            _mm512_storeu_ps(acc + r * W + 16, a1[r]);
        }
    }
}

// ---- AVX2 (x86-64-v3): 6 rows x 16 tokens.

template <DType D>
void decodeRow2(const Stored<D>* src, std::int64_t n, float* dst) {
    std::int64_t c = 0;
    for (; c + 8 <= n; c += 8) _mm256_storeu_ps(dst + c, stored::load8<D>(src + c));
    for (; c < n; ++c) dst[c] = stored::loadOne<D>(src + c);
}

// The same for 16 tokens in two ymm (V = 1: the first 8).
template <int R, int V = 2>
void kernel2(const float* w, const float* xp, std::int64_t kc, float* acc, bool first) {
    constexpr std::int64_t W = 16;
    __m256 a0[R], a1[R];
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
        a0[r] = _mm256_setzero_ps();
        if constexpr (V == 2) a1[r] = _mm256_setzero_ps();
    }
    for (std::int64_t k = 0; k < kc; ++k) {
        const __m256 x0 = _mm256_loadu_ps(xp + k * W);
        __m256 x1;
        if constexpr (V == 2) x1 = _mm256_loadu_ps(xp + k * W + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
            const __m256 b = _mm256_broadcast_ss(w + r * kLdBuf + k);
            a0[r] = _mm256_fmadd_ps(b, x0, a0[r]);
            if constexpr (V == 2) a1[r] = _mm256_fmadd_ps(b, x1, a1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
        if (!first) a0[r] = _mm256_add_ps(_mm256_loadu_ps(acc + r * W), a0[r]);
        _mm256_storeu_ps(acc + r * W, a0[r]);
        if constexpr (V == 2) {
            if (!first) a1[r] = _mm256_add_ps(_mm256_loadu_ps(acc + r * W + 8), a1[r]);
            _mm256_storeu_ps(acc + r * W + 8, a1[r]);
        }
    }
}

using MicroKernel = void (*)(const float*, const float*, std::int64_t, float*, bool);

// Each ISA: rows per block, tokens per panel, its micro-kernel for every row
// count of a block (index = rows) over a whole panel and over its first half,
// its row decoder.
struct Avx512 {
    static constexpr int kRows = 8;
    static constexpr std::int64_t kWidth = 32;
    static constexpr MicroKernel kKernels[kRows + 1] = {nullptr,       kernel512<1>, kernel512<2>, kernel512<3>, kernel512<4>,
                                                        kernel512<5>, kernel512<6>, kernel512<7>, kernel512<8>};
    static constexpr MicroKernel kHalfKernels[kRows + 1] = {nullptr,          kernel512<1, 1>, kernel512<2, 1>, kernel512<3, 1>, kernel512<4, 1>,
                                                            kernel512<5, 1>, kernel512<6, 1>, kernel512<7, 1>, kernel512<8, 1>};
    template <DType D>
    static void decodeRow(const Stored<D>* src, std::int64_t n, float* dst) { decodeRow512<D>(src, n, dst); }
};

struct Avx2 {
    static constexpr int kRows = 6;
    static constexpr std::int64_t kWidth = 16;
    static constexpr MicroKernel kKernels[kRows + 1] = {nullptr, kernel2<1>, kernel2<2>, kernel2<3>, kernel2<4>, kernel2<5>, kernel2<6>};
    static constexpr MicroKernel kHalfKernels[kRows + 1] = {nullptr,       kernel2<1, 1>, kernel2<2, 1>, kernel2<3, 1>,
                                                            kernel2<4, 1>, kernel2<5, 1>, kernel2<6, 1>};
    template <DType D>
    static void decodeRow(const Stored<D>* src, std::int64_t n, float* dst) { decodeRow2<D>(src, n, dst); }
};

// Rows [r0, r1) of W times the token panels, for one ISA: blocks of kRows x
// kCols decoded into L1, every panel multiplied by each block in turn. w
// points at row r0 (leading dimension ld); outputs go to columns [r0, r1) of y.
template <class I, DType D>
void rowsOf(const PackedTokens& x, const Stored<D>* w, std::int64_t ld, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    constexpr int kRows = I::kRows;
    constexpr std::int64_t kWidth = I::kWidth;
    SL_ASSERT(x.width == kWidth);
    alignas(64) static thread_local float t_block[kRows * kLdBuf];
    thread_local std::vector<float> t_acc;
    t_acc.resize(static_cast<std::size_t>(x.panels * kRows * kWidth));
    float* acc = t_acc.data();
    constexpr std::int64_t kLineElements = 64 / static_cast<std::int64_t>(sizeof(Stored<D>));
    for (std::int64_t b0 = r0; b0 < r1; b0 += kRows) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kRows, r1 - b0));
        const MicroKernel kernel = I::kKernels[rows];
        // A last panel of at most half its width (16 tokens of 32 on AVX-512)
        // multiplies only its first half: on Zen 4 a 16-token prompt took
        // 0.38 s on whole panels, 0.23 s on the AVX2 kernel's 16-token ones.
        const MicroKernel last = x.m - (x.panels - 1) * kWidth <= kWidth / 2 ? I::kHalfKernels[rows] : kernel;
        for (std::int64_t c0 = 0; c0 < x.k; c0 += kCols) {
            const std::int64_t kc = std::min(kCols, x.k - c0);
            for (int r = 0; r < rows; ++r) I::template decodeRow<D>(w + (b0 - r0 + r) * ld + c0, kc, t_block + r * kLdBuf);
            // The block decoded next (the next columns of these rows, or the
            // next rows' first columns) into L1 while this one is multiplied.
            // Measured (TinyLlama shapes, f32, 128 tokens): without it 3-5 %
            // slower; 2 or 4 blocks ahead the same as 1 within the VM's noise.
            // Into L1 (T0), not L2 (T1): on Zen 4 the decode then took 6-7 %
            // of a 128-token bf16 prompt's samples instead of 10 %, and
            // prompts ran 2.5 % (bf16) and 1.9 % (f32) faster at 128 tokens,
            // 7.5 % at 48 (bf16; docs/PERFORMANCE.md, sixteenth session).
            const bool lastCols = c0 + kCols >= x.k;
            const std::int64_t nb = lastCols ? b0 + kRows : b0, nc = lastCols ? 0 : c0 + kCols;
            const std::int64_t nrows = std::min<std::int64_t>(kRows, r1 - nb), ncols = std::min(kCols, x.k - nc);
            for (std::int64_t r = 0; r < nrows; ++r)
                for (std::int64_t c = 0; c < ncols; c += kLineElements) _mm_prefetch(reinterpret_cast<const char*>(w + (nb - r0 + r) * ld + nc + c), _MM_HINT_T0);
            for (std::int64_t p = 0; p < x.panels; ++p)
                (p + 1 < x.panels ? kernel : last)(t_block, x.panel(p) + c0 * kWidth, kc, acc + p * kRows * kWidth, c0 == 0);
        }
        for (std::int64_t i = 0; i < x.m; ++i) {
            const float* a = acc + (i / kWidth) * kRows * kWidth + i % kWidth;
            for (int r = 0; r < rows; ++r) y[i * ldy + b0 + r] = a[r * kWidth];
        }
    }
}

template <class I>
void multiplyAs(const PackedTokens& x, const amx::WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    switch (w.dtype) {
        case DType::F32: return rowsOf<I, DType::F32>(x, static_cast<const float*>(w.data) + r0 * w.ld, w.ld, r0, r1, y, ldy);
        case DType::BF16: return rowsOf<I, DType::BF16>(x, static_cast<const std::uint16_t*>(w.data) + r0 * w.ld, w.ld, r0, r1, y, ldy);
        case DType::F16: return rowsOf<I, DType::F16>(x, static_cast<const std::uint16_t*>(w.data) + r0 * w.ld, w.ld, r0, r1, y, ldy);
    }
}

// Rows decoded by the weight's own decoder, kDecodedRows at a time into an
// fp32 buffer (L2), then multiplied from there like f32 rows.
constexpr std::int64_t kDecodedRows = 16;

template <class I>
void decodedAs(const PackedTokens& x, const RowDecoder& decode, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    thread_local std::vector<float> t_rows;
    t_rows.resize(static_cast<std::size_t>(kDecodedRows * x.k));
    for (std::int64_t g0 = r0; g0 < r1; g0 += kDecodedRows) {
        const std::int64_t g1 = std::min(r1, g0 + kDecodedRows);
        decode(g0, g1, t_rows.data());
        rowsOf<I, DType::F32>(x, t_rows.data(), x.k, g0, g1, y, ldy);
    }
}

}  // namespace

void PackedTokens::resize(std::int64_t rows, std::int64_t cols, std::int64_t panelWidth) {
    m = rows;
    k = cols;
    width = panelWidth;
    panels = (rows + width - 1) / width;
    m_data.resize(static_cast<std::size_t>(panels * width * cols));
}

void PackedTokens::packPanels(const float* x, std::int64_t ldx, std::int64_t p0, std::int64_t p1) {
    // Column blocks of 16, each read row by row (one cache line per token):
    // reading a column down 32 rows 8 KB apart would put all 32 lines in one
    // L1 set (measured 5x slower for 128 x 2048).
    constexpr std::int64_t kBlock = 16;
    for (std::int64_t p = p0; p < p1; ++p) {
        float* out = m_data.data() + p * k * width;
        const std::int64_t t0 = p * width, tokens = std::min(width, m - t0);
        if (tokens < width) std::fill(out, out + k * width, 0.0f);
        for (std::int64_t c0 = 0; c0 < k; c0 += kBlock) {
            const std::int64_t c1 = std::min(k, c0 + kBlock);
            for (std::int64_t t = 0; t < tokens; ++t) {
                const float* src = x + (t0 + t) * ldx;
                for (std::int64_t c = c0; c < c1; ++c) out[c * width + t] = src[c];
            }
        }
    }
}

void multiplyRows(Isa isa, const PackedTokens& x, const amx::WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    if (r0 >= r1 || x.m == 0) return;
    if (isa == Isa::Avx512) multiplyAs<Avx512>(x, w, r0, r1, y, ldy);
    else multiplyAs<Avx2>(x, w, r0, r1, y, ldy);
}

void multiplyDecodedRows(Isa isa, const PackedTokens& x, const RowDecoder& decode, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    if (r0 >= r1 || x.m == 0) return;
    if (isa == Isa::Avx512) decodedAs<Avx512>(x, decode, r0, r1, y, ldy);
    else decodedAs<Avx2>(x, decode, r0, r1, y, ldy);
}

bool available(Isa isa, std::string* why) {
    const CpuFeatures& cpu = cpuFeatures();
    const bool ok = isa == Isa::Avx512 ? cpu.avx512Common() : cpu.avx2 && cpu.fma && cpu.f16c;
    if (!ok && why) *why = isa == Isa::Avx512 ? "the CPU (or its OS) has no AVX-512 F/DQ/BW/VL" : "the CPU (or its OS) has no AVX2, FMA and F16C";
    return ok;
}

}  // namespace superlens::core::panels

#pragma GCC diagnostic pop
