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
// One token over rows whose x is this small (a row's fp32 activations, or
// bf16's split of them) reads the rows one at a time instead of four a pass:
// with four rows a pass a core follows four streams. f32 rows prefetch (to
// L2) kRowAheadBytes ahead in that single stream; bf16 rows do where
// gemm::gemvPath().bf16RowPrefetch says so (not on AMD, where they read
// faster with the hardware prefetcher alone; f32 the other way:
// gemm_path.h, bf16RowPrefetchFor). x is then read once per row
// instead of once per four, so it has to stay in L1 (32 KiB on Zen 4): at
// 2048 columns (8 KiB) the rows streamed faster, at 3072-5632 they ran at
// 0.6-0.9x the passes (docs/PERFORMANCE.md, "Decode against the memory read,
// step by step"). Only kernels whose row loop takes a whole cache line per
// step (K::kStreamsRows: AVX-512 f32 and bf16 pairs) stream rows: a row has
// one accumulator (bf16 pairs two), and with narrower steps that chain of
// FMAs became the limit (the AVX2 bf16 kernel fell from 0.88 to 0.73 of the
// read). A row keeps its order, so the bits do not change.
// (kRowStreamMaxXBytes and kRowAheadBytes are in gemv.h.)

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

// One column step of a token block's prefetch share (see Prefetch): the
// block prefetches at every `phases`-th step, counting down in `wait`
// (which starts at the block's phase). A macro for the same reason.
#define SL_PREFETCH_SHARE(wait, phases, p, end, lines) \
    do {                                               \
        if ((wait) == 0) {                             \
            SL_PREFETCH_LINES(p, end, lines);          \
            (wait) = (phases);                         \
        }                                              \
        --(wait);                                      \
    } while (false)

// Keeps v in a register: an f32 weight feeding two tokens' FMAs is loaded
// once, not folded into each FMA as a memory operand (GCC 12 does that: ten
// loads per eight FMAs instead of six).
#define SL_IN_REGISTER(v) __asm__("" : "+v"(v))

// What a pass prefetches: the rows kPassesAhead passes on, up to row `end`,
// one column step in `phases` starting at step `phase`. A pass over n
// tokens runs in (n + 1) / 2 blocks (its rows in L1 after the first); each
// block prefetches its share, so the memory streams through the whole pass
// instead of only while the first block runs.
struct Prefetch {
    std::int64_t end;
    int phase = 0, phases = 1;
};

// Runs kernel k over the rows `source` hands out: one token over short rows
// (x of up to kRowStreamMaxXBytes, in a kernel that streams rows) row by row;
// otherwise per four-row pass, the tokens two at a time (the last alone when
// n is odd), then the remainder rows one at a time per token.
template <class K>
void drive(const K& k, std::int64_t n, RowSource& source) {
    std::int64_t r0 = 0, r1 = 0, prefetchEnd = 0;
    const int blocks = static_cast<int>((n + 1) / 2);
    const bool streamRows = K::kStreamsRows && n == 1 && k.cols * 4 <= kRowStreamMaxXBytes;
    while (source.next(r0, r1, prefetchEnd)) {
        if (streamRows) {
            for (std::int64_t r = r0; r < r1; ++r) k.row(r, 0, prefetchEnd);
            continue;
        }
        std::int64_t r = r0;
        for (; r + kRowsPerPass <= r1; r += kRowsPerPass) {
            std::int64_t t = 0;
            for (; t + 2 <= n; t += 2) k.template pass<2>(r, t, Prefetch{prefetchEnd, static_cast<int>(t / 2), blocks});
            if (t < n) k.template pass<1>(r, t, Prefetch{prefetchEnd, static_cast<int>(t / 2), blocks});
        }
        for (; r < r1; ++r)
            for (std::int64_t t = 0; t < n; ++t) k.row(r, t, prefetchEnd);
    }
}

// ---- AVX2 (x86-64-v3): 8 columns per step.

inline float sum8(__m256 v) {
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

template <DType D>
struct Avx2Rows {
    static constexpr bool kStreamsRows = false;  // 32 bytes of f32 a step, 16 of bf16/f16
    const Stored<D>* w;
    std::int64_t cols;
    Tokens t;

    // Rows [r, r + 4) for tokens [t0, t0 + TB), prefetching pf's share.
    template <int TB>
    void pass(std::int64_t r, std::int64_t t0, Prefetch pf) const {
        constexpr std::int64_t kStepBytes = kRowsPerPass * 8 * static_cast<std::int64_t>(sizeof(Stored<D>));  // one step of a pass
        constexpr int kLines = static_cast<int>(kStepBytes / 64);
        const std::int64_t vecEnd = cols / 8 * 8;
        const Stored<D>* w0 = w + r * cols;
        // The pass kPassesAhead on: kRowsPerPass contiguous rows, walked as fast as this pass.
        const char* ahead = reinterpret_cast<const char*>(w0 + kPassesAhead * kRowsPerPass * cols);
        const char* end = reinterpret_cast<const char*>(w + pf.end * cols);
        int wait = pf.phase;
        const float* x = t.x + t0 * t.ldx;
        __m256 a[kRowsPerPass][TB];
#pragma GCC unroll 8
        for (int i = 0; i < kRowsPerPass; ++i)
#pragma GCC unroll 2
            for (int j = 0; j < TB; ++j) a[i][j] = _mm256_setzero_ps();
        for (std::int64_t c = 0; c < vecEnd; c += 8) {
            SL_PREFETCH_SHARE(wait, pf.phases, ahead + c / 8 * kStepBytes, end, kLines);
            __m256 xv[TB];
#pragma GCC unroll 2
            for (int j = 0; j < TB; ++j) xv[j] = _mm256_loadu_ps(x + j * t.ldx + c);
#pragma GCC unroll 8
            for (int i = 0; i < kRowsPerPass; ++i) {
                __m256 wv = load8<D>(w0 + i * cols + c);
                if constexpr (TB == 2) SL_IN_REGISTER(wv);
#pragma GCC unroll 2
                for (int j = 0; j < TB; ++j) a[i][j] = _mm256_fmadd_ps(wv, xv[j], a[i][j]);
            }
        }
        for (int j = 0; j < TB; ++j)
            for (int i = 0; i < kRowsPerPass; ++i)
                t.y[(t0 + j) * t.ldy + r + i] = sum8(a[i][j]) + tailDot<D>(w0 + i * cols, x + j * t.ldx, vecEnd, cols);
    }

    // Row r for token tok (the remainder rows of a pass: this kernel does not stream rows).
    void row(std::int64_t r, std::int64_t tok, std::int64_t /*prefetchEnd*/) const {
        const std::int64_t vecEnd = cols / 8 * 8;
        const Stored<D>* w0 = w + r * cols;
        const float* x = t.x + tok * t.ldx;
        __m256 a0 = _mm256_setzero_ps();
        for (std::int64_t c = 0; c < vecEnd; c += 8) a0 = _mm256_fmadd_ps(load8<D>(w0 + c), _mm256_loadu_ps(x + c), a0);
        t.y[tok * t.ldy + r] = sum8(a0) + tailDot<D>(w0, x, vecEnd, cols);
    }
};

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
struct Avx512Rows {
    static constexpr bool kStreamsRows = D == DType::F32;  // 64 bytes a step in f32, 32 in f16
    const Stored<D>* w;
    std::int64_t cols;
    Tokens t;

    template <int TB>
    SL_AVX512 void pass(std::int64_t r, std::int64_t t0, Prefetch pf) const {
        constexpr std::int64_t kStepBytes = kRowsPerPass * 16 * static_cast<std::int64_t>(sizeof(Stored<D>));
        constexpr int kLines = static_cast<int>(kStepBytes / 64);
        const std::int64_t vecEnd = cols / 16 * 16;
        const Stored<D>* w0 = w + r * cols;
        const char* ahead = reinterpret_cast<const char*>(w0 + kPassesAhead * kRowsPerPass * cols);
        const char* end = reinterpret_cast<const char*>(w + pf.end * cols);
        int wait = pf.phase;
        const float* x = t.x + t0 * t.ldx;
        __m512 a[kRowsPerPass][TB];
#pragma GCC unroll 8
        for (int i = 0; i < kRowsPerPass; ++i)
#pragma GCC unroll 2
            for (int j = 0; j < TB; ++j) a[i][j] = _mm512_setzero_ps();
        for (std::int64_t c = 0; c < vecEnd; c += 16) {
            SL_PREFETCH_SHARE(wait, pf.phases, ahead + c / 16 * kStepBytes, end, kLines);
            __m512 xv[TB];
#pragma GCC unroll 2
            for (int j = 0; j < TB; ++j) xv[j] = _mm512_loadu_ps(x + j * t.ldx + c);
#pragma GCC unroll 8
            for (int i = 0; i < kRowsPerPass; ++i) {
                __m512 wv = load16<D>(w0 + i * cols + c);
                if constexpr (TB == 2) SL_IN_REGISTER(wv);
#pragma GCC unroll 2
                for (int j = 0; j < TB; ++j) a[i][j] = _mm512_fmadd_ps(wv, xv[j], a[i][j]);
            }
        }
        for (int j = 0; j < TB; ++j)
            for (int i = 0; i < kRowsPerPass; ++i)
                t.y[(t0 + j) * t.ldy + r + i] = sum16(a[i][j]) + tailDot<D>(w0 + i * cols, x + j * t.ldx, vecEnd, cols);
    }

    // Row r for token tok, prefetching kRowAheadBytes ahead up to row prefetchEnd.
    SL_AVX512 void row(std::int64_t r, std::int64_t tok, std::int64_t prefetchEnd) const {
        const std::int64_t vecEnd = cols / 16 * 16;
        const Stored<D>* w0 = w + r * cols;
        const char* end = reinterpret_cast<const char*>(w + prefetchEnd * cols);
        const float* x = t.x + tok * t.ldx;
        __m512 a0 = _mm512_setzero_ps();
        for (std::int64_t c = 0; c < vecEnd; c += 16) {
            if ((c * static_cast<std::int64_t>(sizeof(Stored<D>))) % 64 == 0)
                SL_PREFETCH_LINES(reinterpret_cast<const char*>(w0 + c) + kRowAheadBytes, end, 1);
            a0 = _mm512_fmadd_ps(load16<D>(w0 + c), _mm512_loadu_ps(x + c), a0);
        }
        t.y[tok * t.ldy + r] = sum16(a0) + tailDot<D>(w0, x, vecEnd, cols);
    }
};

// ---- bf16 on AVX-512, in pairs: a bf16 is the high half of an fp32, so a
// 32-bit lane holding two of them gives the odd column's value by masking off
// its low half and the even column's by shifting it up. That replaces the
// widening shuffle (vpmovzxwd zmm, a cross-lane op that Zen 4 runs at half
// rate) by two one-cycle integer ops per 32 columns, and decode ran 1.13x
// faster on Zen 4 with the weights in 2 MiB pages (docs/PERFORMANCE.md). x is
// laid out once per call to match: per 32 columns, the 16 even ones, then the
// 16 odd ones. (On AVX2 the same trick measured 1.00x: not used there.)

// Where a row's 32-column blocks lie. Rows of a multiple of 64 bytes all
// start at one offset in a cache line, `lead` bf16 into it: the blocks then
// start `lead` columns before the row, on the line, so that no 64-byte load
// straddles two lines, and the first and last blocks are read through a mask
// (the columns outside the row read as zero, x there is zero too). The
// tensors of a safetensors file start wherever its header ends (48 bytes
// into a line in bench/make_checkpoint.py's files; Hugging Face pads the
// header to 8 bytes); with several tokens, where the FMAs are the limit, the
// straddling loads cost 1.14-1.21x (docs/PERFORMANCE.md, "Up to 31
// tokens"). Other rows: the blocks from column 0, then one 16-column step
// when 16 or more columns are left, then scalars. Fixed for a matrix, so
// every call, token and row split reduces a row in one order.
struct Bf16Blocks {
    std::int64_t lead = 0, blocks = 0;
    __mmask32 first = ~0u, last = ~0u;  // the lanes read in the first and in the last block
    std::int64_t pairEnd = 0, vecEnd = 0;  // columns past the blocks: [pairEnd, vecEnd) one step, then scalars

    Bf16Blocks(const std::uint16_t* w, std::int64_t cols) {
        const auto address = reinterpret_cast<std::uintptr_t>(w);
        if (cols > 0 && (cols * 2) % 64 == 0 && address % 2 == 0) {
            lead = static_cast<std::int64_t>(address % 64 / 2);
            blocks = (cols + lead + 31) / 32;
            first = ~0u << lead;
            const std::int64_t lastLanes = cols + lead - 32 * (blocks - 1);
            last = lastLanes == 32 ? ~0u : (1u << lastLanes) - 1;
            pairEnd = vecEnd = cols;
        } else {
            blocks = cols / 32;
            pairEnd = blocks * 32;
            vecEnd = cols / 16 * 16;
        }
    }
    // The lanes of block b read from memory.
    __mmask32 mask(std::int64_t b) const { return (b == 0 ? first : ~0u) & (b == blocks - 1 ? last : ~0u); }
    // step(b, masked) for every block in order: a shifted row's first and
    // last block through the mask, the others plainly (peeled, so that they
    // compile to plain loads: a masked load in every step ran at half the
    // rate on Zen 4).
    template <class Step>
    SL_AVX512 void each(Step&& step) const {
        const bool shifted = lead > 0;
        std::int64_t b = 0;
        if (shifted && blocks > 0) step(b++, true);
        for (; b < blocks - (shifted ? 1 : 0); ++b) step(b, false);
        if (b < blocks) step(b, true);
    }
    // Where block 0 of a row starts: `lead` columns before it, on the cache
    // line (reached by address arithmetic: it may lie before the tensor;
    // the masked loads read none of those columns).
    const std::uint16_t* blockZero(const std::uint16_t* row) const {
        return reinterpret_cast<const std::uint16_t*>(reinterpret_cast<std::uintptr_t>(row) - static_cast<std::uintptr_t>(2 * lead));
    }
};

// For each token t < n and block b: out[(t * blocks + b) * 32 + j] = x[t * ldx + c]
// for the even column c = 32b - lead + 2j, and the odd column c + 1 at 16 + j,
// for j < 16; zero for a column outside [0, cols).
const float* splitPairs(const float* x, std::int64_t ldx, std::int64_t n, std::int64_t cols, const Bf16Blocks& g) {
    thread_local std::vector<float> t_split;
    t_split.resize(static_cast<std::size_t>(n * g.blocks * 32));
    float* out = t_split.data();
    for (std::int64_t t = 0; t < n; ++t) {
        const float* xt = x + t * ldx;
        for (std::int64_t b = 0; b < g.blocks; ++b, out += 32) {
            const std::int64_t c0 = 32 * b - g.lead;
            if (c0 >= 0 && c0 + 32 <= cols) {  // inside the row: every block but a shifted row's first and last
                for (int j = 0; j < 16; ++j) out[j] = xt[c0 + 2 * j], out[16 + j] = xt[c0 + 2 * j + 1];
                continue;
            }
            for (int j = 0; j < 32; ++j) {
                const std::int64_t c = c0 + j;
                out[(j % 2) * 16 + j / 2] = c >= 0 && c < cols ? xt[c] : 0.0f;
            }
        }
    }
    return t_split.data();
}

// One row's fixed order: even + odd lanes, then one 16-column step when one
// is left after the blocks, then the lanes, then the scalar tail.
SL_AVX512 inline float finishBf16Row(const std::uint16_t* row, const float* x, __m512 e, __m512 o, const Bf16Blocks& g, std::int64_t cols) {
    __m512 a = _mm512_add_ps(e, o);
    if (g.vecEnd > g.pairEnd) a = _mm512_fmadd_ps(load16<DType::BF16>(row + g.pairEnd), _mm512_loadu_ps(x + g.pairEnd), a);
    return sum16(a) + tailDot<DType::BF16>(row, x, g.vecEnd, cols);
}

struct Bf16PairsAvx512 {
    static constexpr bool kStreamsRows = true;  // a 64-byte block a step, into two accumulators
    const std::uint16_t* w;
    std::int64_t cols;
    Tokens t;
    Bf16Blocks g;
    const float* xs;  // splitPairs(t.x, ...), g.blocks * 32 floats per token
    bool rowPrefetch;  // gemm::gemvPath().bf16RowPrefetch

    template <int TB>
    SL_AVX512 void pass(std::int64_t r, std::int64_t t0, Prefetch pf) const {
        constexpr std::int64_t kStepBytes = kRowsPerPass * 64;
        constexpr int kLines = static_cast<int>(kStepBytes / 64);
        const std::int64_t span = g.blocks * 32;
        const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
        const std::uint16_t* w0 = w + r * cols;
        const std::uint16_t* b0 = g.blockZero(w0);
        const char* ahead = reinterpret_cast<const char*>(w0 + kPassesAhead * kRowsPerPass * cols);
        const char* end = reinterpret_cast<const char*>(w + pf.end * cols);
        int wait = pf.phase;
        const float* x = xs + t0 * span;
        __m512 e[kRowsPerPass][TB], o[kRowsPerPass][TB];
#pragma GCC unroll 8
        for (int i = 0; i < kRowsPerPass; ++i)
#pragma GCC unroll 2
            for (int j = 0; j < TB; ++j) e[i][j] = o[i][j] = _mm512_setzero_ps();
        // Block b of the four rows.
        g.each([&](std::int64_t b, bool masked) SL_AVX512 {
            SL_PREFETCH_SHARE(wait, pf.phases, ahead + b * kStepBytes, end, kLines);
            const __mmask32 m = g.mask(b);
            __m512 xe[TB], xo[TB];
#pragma GCC unroll 2
            for (int j = 0; j < TB; ++j) xe[j] = _mm512_loadu_ps(x + j * span + 32 * b), xo[j] = _mm512_loadu_ps(x + j * span + 32 * b + 16);
#pragma GCC unroll 8
            for (int i = 0; i < kRowsPerPass; ++i) {
                const std::uint16_t* p = b0 + i * cols + 32 * b;
                const __m512i v = masked ? _mm512_maskz_loadu_epi16(m, p) : _mm512_loadu_si512(p);
                const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), wo = _mm512_castsi512_ps(_mm512_and_si512(v, high));
#pragma GCC unroll 2
                for (int j = 0; j < TB; ++j) e[i][j] = _mm512_fmadd_ps(we, xe[j], e[i][j]), o[i][j] = _mm512_fmadd_ps(wo, xo[j], o[i][j]);
            }
        });
        for (int j = 0; j < TB; ++j)
            for (int i = 0; i < kRowsPerPass; ++i)
                t.y[(t0 + j) * t.ldy + r + i] = finishBf16Row(w0 + i * cols, t.x + (t0 + j) * t.ldx, e[i][j], o[i][j], g, cols);
    }

    // Row r for token tok, prefetching kRowAheadBytes ahead up to row
    // prefetchEnd where rowPrefetch says so (see kRowAheadBytes).
    SL_AVX512 void row(std::int64_t r, std::int64_t tok, std::int64_t prefetchEnd) const {
        if (rowPrefetch) rowWith<true>(r, tok, prefetchEnd);
        else rowWith<false>(r, tok, prefetchEnd);
    }

    template <bool kPrefetch>
    SL_AVX512 void rowWith(std::int64_t r, std::int64_t tok, std::int64_t prefetchEnd) const {
        const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
        const std::uint16_t* w0 = w + r * cols;
        const std::uint16_t* b0 = g.blockZero(w0);
        const char* end = reinterpret_cast<const char*>(w + prefetchEnd * cols);
        const float* x = xs + tok * g.blocks * 32;
        __m512 e = _mm512_setzero_ps(), o = e;
        g.each([&](std::int64_t b, bool masked) SL_AVX512 {
            if constexpr (kPrefetch) SL_PREFETCH_LINES(reinterpret_cast<const char*>(b0 + 32 * b) + kRowAheadBytes, end, 1);
            const __m512i v = masked ? _mm512_maskz_loadu_epi16(g.mask(b), b0 + 32 * b) : _mm512_loadu_si512(b0 + 32 * b);
            e = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(x + 32 * b), e);
            o = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high)), _mm512_loadu_ps(x + 32 * b + 16), o);
        });
        t.y[tok * t.ldy + r] = finishBf16Row(w0, t.x + tok * t.ldx, e, o, g, cols);
    }
};

template <DType D>
void dispatch(const void* w, std::int64_t cols, const Tokens& t, RowSource& source) {
    const auto* s = static_cast<const Stored<D>*>(w);
    if (gemm::gemvPath().isa == gemm::GemvIsa::Avx512) {
        if constexpr (D == DType::BF16) {
            const Bf16Blocks g(s, cols);
            drive(Bf16PairsAvx512{s, cols, t, g, splitPairs(t.x, t.ldx, t.n, cols, g), gemm::gemvPath().bf16RowPrefetch}, t.n, source);
        } else {
            drive(Avx512Rows<D>{s, cols, t}, t.n, source);
        }
    } else {
        drive(Avx2Rows<D>{s, cols, t}, t.n, source);
    }
}

}  // namespace

void rows(DType dtype, const void* w, std::int64_t cols, const Tokens& tokens, RowSource& source) {
    if (dtype == DType::F32) dispatch<DType::F32>(w, cols, tokens, source);
    else if (dtype == DType::BF16) dispatch<DType::BF16>(w, cols, tokens, source);
    else dispatch<DType::F16>(w, cols, tokens, source);
}

}  // namespace superlens::core::gemv

#pragma GCC diagnostic pop
