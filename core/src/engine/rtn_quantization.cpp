#include "superlens/core/engine/rtn_quantization.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <immintrin.h>
#include <sys/mman.h>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "superlens/core/system/blas.h"

namespace superlens::core {

// ---------------------------------------------------------------------------
// Round-to-nearest quantization
// ---------------------------------------------------------------------------

std::uint8_t* CodeAllocator::allocate(std::size_t n) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    if (n >= kHuge) {
        // 2 MB alignment lets the kernel back the buffer with huge pages.
        const std::size_t bytes = (n + kHuge - 1) / kHuge * kHuge;
        void* p = std::aligned_alloc(kHuge, bytes);
        if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
        madvise(p, bytes, MADV_HUGEPAGE);
#endif
        return static_cast<std::uint8_t*>(p);
    }
    void* p = std::malloc(std::max<std::size_t>(1, n));
    if (!p) throw std::bad_alloc();
    return static_cast<std::uint8_t*>(p);
}

void CodeAllocator::deallocate(std::uint8_t* p, std::size_t) noexcept { std::free(p); }

namespace {

// Two-sided dequantization of n codes of one block (see the header). AVX2 +
// FMA are part of the x86-64-v3 baseline; the scalar tail uses the same
// fused operations, so every element gets the same bits either way.
void decodeBlockSegment(const std::uint8_t* c, std::int64_t n, float lo, float hi, float s, int levels, float* d) {
    const int half = levels / 2;
    const float top = static_cast<float>(levels);
    std::int64_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vs = _mm256_set1_ps(s), vtop = _mm256_set1_ps(top);
    const __m256i vhalf = _mm256_set1_epi32(half);
    for (; j + 8 <= n; j += 8) {
        const __m256i ci = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + j)));
        const __m256 cf = _mm256_cvtepi32_ps(ci);
        const __m256 fromLo = _mm256_fmadd_ps(cf, vs, vlo);                     // lo + c s
        const __m256 fromHi = _mm256_fnmadd_ps(_mm256_sub_ps(vtop, cf), vs, vhi);  // hi - (L - c) s
        const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ci, vhalf));
        _mm256_storeu_ps(d + j, _mm256_blendv_ps(fromLo, fromHi, upper));
    }
#endif
    for (; j < n; ++j) {
        const float cf = static_cast<float>(c[j]);
        d[j] = c[j] <= half ? std::fma(cf, s, lo) : std::fma(-(top - cf), s, hi);
    }
}

}  // namespace

BlockQuantizedWeight::BlockQuantizedWeight(std::int64_t rows, std::int64_t cols, int bits, std::int64_t blockSize,
                                           CodeVector codes, std::vector<float> minimums, std::vector<float> maximums,
                                           std::vector<float> scales, std::vector<Override> overrides)
    : m_rows(rows), m_cols(cols), m_bits(bits), m_blockSize(blockSize), m_codes(std::move(codes)), m_min(std::move(minimums)),
      m_max(std::move(maximums)), m_scales(std::move(scales)), m_overrides(std::move(overrides)) {
    SL_ASSERT(bits >= 1 && bits <= 8);
    SL_ASSERT(blockSize >= 1);
    SL_ASSERT(static_cast<std::int64_t>(m_codes.size()) == rows * cols);
    SL_ASSERT(m_min.size() == m_scales.size() && m_max.size() == m_scales.size());
    std::sort(m_overrides.begin(), m_overrides.end(), [](const Override& a, const Override& b) { return a.index < b.index; });
}

template <class S>
void BlockQuantizedWeight::decode(std::int64_t r0, std::int64_t r1, S* dst) const {
    const std::int64_t begin = r0 * m_cols, end = r1 * m_cols;
    const int levels = (1 << m_bits) - 1;
    // float64 callers get the fp32 values widened (the quantized weight is an
    // fp32 object), decoded through a small stack tile.
    constexpr std::int64_t kTile = 1024;
    float tile[kTile];
    for (std::int64_t i = begin; i < end;) {
        const std::int64_t b = i / m_blockSize;
        const std::int64_t segEnd = std::min(end, (b + 1) * m_blockSize);
        const float lo = m_min[static_cast<std::size_t>(b)], hi = m_max[static_cast<std::size_t>(b)];
        const float s = m_scales[static_cast<std::size_t>(b)];
        if constexpr (std::is_same_v<S, float>) {
            decodeBlockSegment(m_codes.data() + i, segEnd - i, lo, hi, s, levels, dst + (i - begin));
        } else {
            for (std::int64_t t = i; t < segEnd; t += kTile) {
                const std::int64_t len = std::min(kTile, segEnd - t);
                decodeBlockSegment(m_codes.data() + t, len, lo, hi, s, levels, tile);
                for (std::int64_t k = 0; k < len; ++k) dst[t - begin + k] = tile[k];
            }
        }
        i = segEnd;
    }
    auto it = std::lower_bound(m_overrides.begin(), m_overrides.end(), begin, [](const Override& o, std::int64_t v) { return o.index < v; });
    for (; it != m_overrides.end() && it->index < end; ++it) dst[it->index - begin] = static_cast<S>(it->value);
}

void BlockQuantizedWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const { decode(r0, r1, dst); }
void BlockQuantizedWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const { decode(r0, r1, dst); }

std::size_t BlockQuantizedWeight::ownedBytes() const {
    return m_codes.size() + (m_min.size() + m_max.size() + m_scales.size()) * sizeof(float) + m_overrides.size() * sizeof(Override);
}

namespace {

// Work unit of the streaming quantizer: 256K elements = 1 MB of fp32 scratch per worker.
constexpr std::int64_t kChunk = std::int64_t{1} << 18;

// Reads element ranges of a matrix as contiguous fp32: straight from an F32
// mmap, or by decoding just the rows that cover the range.
class ElementReader {
public:
    explicit ElementReader(const WeightMatrix& w) : m_w(w), m_direct(w.directF32()), m_cols(w.cols()) {}
    const float* read(std::int64_t e0, std::int64_t e1, std::vector<float>& scratch) const {
        if (m_direct) return m_direct + e0;
        const std::int64_t r0 = e0 / m_cols, r1 = (e1 + m_cols - 1) / m_cols;
        scratch.resize(static_cast<std::size_t>((r1 - r0) * m_cols));
        m_w.decodeRows(r0, r1, scratch.data());
        return scratch.data() + (e0 - r0 * m_cols);
    }

private:
    const WeightMatrix& m_w;
    const float* m_direct;
    std::int64_t m_cols;
};

// Calls fn(first, count) for the runs of [e0, e1) that are not kept
// (`keep` sorted, absolute element indices); `data` holds element e0.
template <class Fn>
void forEachUnkept(const float* data, std::int64_t e0, std::int64_t e1, const std::vector<std::int64_t>& keep, Fn&& fn) {
    auto it = std::lower_bound(keep.begin(), keep.end(), e0);
    std::int64_t pos = e0;
    for (; it != keep.end() && *it < e1; ++it) {
        if (*it > pos) fn(data + (pos - e0), *it - pos);
        pos = *it + 1;
    }
    if (e1 > pos) fn(data + (pos - e0), e1 - pos);
}

// Block statistics of the non-kept elements. The min/max loop keeps 16
// independent lanes so the compiler vectorises it without reassociating
// anything (min and max are exact, so the result is the same as a scalar
// loop); the float64 sum is only taken when z-clipping needs the mean.
struct Moments {
    std::int64_t count = 0;
    float lo = std::numeric_limits<float>::infinity();
    float hi = -std::numeric_limits<float>::infinity();
    double sum = 0;
    bool withSum = false;

    explicit Moments(bool needSum = false) : withSum(needSum) {}

    void add(const float* x, std::int64_t n) {
        float l = lo, h = hi;
        std::int64_t i = 0;
#if defined(__AVX2__)
        if (n >= 16) {
            __m256 l0 = _mm256_set1_ps(l), l1 = l0, h0 = _mm256_set1_ps(h), h1 = h0;
            for (; i + 16 <= n; i += 16) {
                const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
                l0 = _mm256_min_ps(l0, a);
                l1 = _mm256_min_ps(l1, b);
                h0 = _mm256_max_ps(h0, a);
                h1 = _mm256_max_ps(h1, b);
            }
            alignas(32) float lv[8], hv[8];
            _mm256_store_ps(lv, _mm256_min_ps(l0, l1));
            _mm256_store_ps(hv, _mm256_max_ps(h0, h1));
            for (int j = 0; j < 8; ++j) {
                l = std::min(l, lv[j]);
                h = std::max(h, hv[j]);
            }
        }
#endif
        for (; i < n; ++i) {
            l = std::min(l, x[i]);
            h = std::max(h, x[i]);
        }
        lo = l;
        hi = h;
        if (withSum) {
            double s = 0;
            for (std::int64_t k = 0; k < n; ++k) s += x[k];
            sum += s;
        }
        count += n;
    }
    void merge(const Moments& o) {
        count += o.count;
        lo = std::min(lo, o.lo);
        hi = std::max(hi, o.hi);
        sum += o.sum;
    }
};

double squaredDeviation(const float* x, std::int64_t n, double mean) {
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean;
        s += d * d;
    }
    return s;
}

// Order-statistic ranks of the percentile clip (nearest rank on an n-1 scale).
std::pair<std::int64_t, std::int64_t> percentileRanks(std::int64_t count, double percent) {
    const double q = percent / 100.0;
    const double last = static_cast<double>(count - 1);
    return {std::llround((1.0 - q) * last), std::llround(q * last)};
}

struct BlockRange {
    float lo = 0, hi = 0;
};

// Range of a block from its statistics and clip bounds (zclip/pclip already reduced).
BlockRange clipRange(const Moments& m, std::optional<std::pair<double, double>> zBounds, std::optional<std::pair<float, float>> pBounds) {
    if (m.count == 0) return {};  // every element kept: nothing to quantize
    BlockRange r{m.lo, m.hi};
    if (zBounds) {
        r.lo = std::max(r.lo, static_cast<float>(zBounds->first));
        r.hi = std::min(r.hi, static_cast<float>(zBounds->second));
    }
    if (pBounds) {
        r.lo = std::max(r.lo, pBounds->first);
        r.hi = std::min(r.hi, pBounds->second);
    }
    if (r.lo > r.hi) {
        // Disjoint z and percentile ranges (skewed data): collapse to the mean.
        const float mid = m.withSum ? static_cast<float>(m.sum / static_cast<double>(m.count)) : 0.5f * (r.lo + r.hi);
        r.lo = r.hi = std::clamp(mid, m.lo, m.hi);
    }
    return r;
}

// Codes of [e0, e1) in one block: floor((clamp(x) - lo) / step + 1/2) in
// float64, the step being (hi - lo) / L exactly (not its fp32 rounding), so
// the code is the nearest point of the ideal grid (ties round up). AVX2 for
// 8 elements at a time, the scalar tail with the same fused operations.
void encode(const float* x, std::int64_t n, BlockRange r, int levels, std::uint8_t* out) {
    if (!(r.hi > r.lo)) {
        std::fill(out, out + n, std::uint8_t{0});
        return;
    }
    const double lo = r.lo, hi = r.hi;
    const double inv = static_cast<double>(levels) / (hi - lo);
    std::int64_t i = 0;
#if defined(__AVX2__)
    const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi), vinv = _mm256_set1_pd(inv), vhalf = _mm256_set1_pd(0.5);
    const __m128i vtop = _mm_set1_epi32(levels);
    auto codes4 = [&](__m128 f) {
        __m256d v = _mm256_cvtps_pd(f);
        v = _mm256_min_pd(_mm256_max_pd(v, vlo), vhi);
        const __m256d t = _mm256_fmadd_pd(_mm256_sub_pd(v, vlo), vinv, vhalf);
        return _mm_min_epi32(_mm256_cvttpd_epi32(t), vtop);
    };
    for (; i + 8 <= n; i += 8) {
        const __m128i a = codes4(_mm_loadu_ps(x + i)), b = codes4(_mm_loadu_ps(x + i + 4));
        const __m128i w = _mm_packus_epi32(a, b);     // 8 x u16
        const __m128i bytes = _mm_packus_epi16(w, w);  // 8 x u8 (twice)
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), bytes);
    }
#endif
    for (; i < n; ++i) {
        double v = x[i];
        v = std::min(std::max(v, lo), hi);
        // The same fused operation as the vector path: identical codes wherever a segment starts.
        const int q = static_cast<int>(std::fma(v - lo, inv, 0.5));
        out[i] = static_cast<std::uint8_t>(std::min(q, levels));
    }
}

float stepOf(BlockRange r, int levels) {
    return r.hi > r.lo ? static_cast<float>((static_cast<double>(r.hi) - static_cast<double>(r.lo)) / levels) : 0.0f;
}

// Everything the quantizer needs about one input.
struct RtnJob {
    const WeightMatrix& w;
    const RtnOptions& o;
    ElementReader reader;
    std::vector<std::int64_t> keep;  // sorted element indices
    std::int64_t n, block, blocks;
    int levels;
    CodeVector codes;
    std::vector<float> lo, hi, scale;
    ThreadPool& pool;

    RtnJob(const WeightMatrix& weight, const RtnOptions& options, ThreadPool& p)
        : w(weight), o(options), reader(weight), n(weight.rows() * weight.cols()), pool(p) {
        block = o.block > 0 ? std::min(o.block, n) : n;
        block = std::max<std::int64_t>(1, block);
        blocks = (n + block - 1) / block;
        levels = (1 << o.bits) - 1;
        for (const auto& [r, c] : o.keep) {
            SL_ASSERT(r >= 0 && r < w.rows() && c >= 0 && c < w.cols());
            keep.push_back(r * w.cols() + c);
        }
        std::sort(keep.begin(), keep.end());
        keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
        codes.resize(static_cast<std::size_t>(n));
        lo.resize(static_cast<std::size_t>(blocks));
        hi.resize(static_cast<std::size_t>(blocks));
        scale.resize(static_cast<std::size_t>(blocks));
    }

    void setBlock(std::int64_t b, BlockRange r) {
        lo[static_cast<std::size_t>(b)] = r.lo;
        hi[static_cast<std::size_t>(b)] = r.hi;
        scale[static_cast<std::size_t>(b)] = stepOf(r, levels);
    }

    // Blocks of at most kChunk elements: groups of whole blocks per work item,
    // statistics and codes in one read.
    void smallBlocks() {
        const std::int64_t perChunk = std::max<std::int64_t>(1, kChunk / block);
        const std::int64_t chunks = (blocks + perChunk - 1) / perChunk;
        pool.parallelFor(chunks, 1, [&](std::int64_t c0, std::int64_t c1, int) {
            std::vector<float> scratch, values;
            for (std::int64_t c = c0; c < c1; ++c) {
                const std::int64_t b0 = c * perChunk, b1 = std::min(blocks, b0 + perChunk);
                const std::int64_t e0 = b0 * block, e1 = std::min(n, b1 * block);
                const float* data = reader.read(e0, e1, scratch);
                for (std::int64_t b = b0; b < b1; ++b) {
                    const std::int64_t s0 = b * block, s1 = std::min(n, s0 + block);
                    const float* x = data + (s0 - e0);
                    Moments m(o.zclip.has_value());
                    forEachUnkept(x, s0, s1, keep, [&](const float* p, std::int64_t len) { m.add(p, len); });
                    std::optional<std::pair<double, double>> z;
                    std::optional<std::pair<float, float>> pc;
                    if (o.zclip && m.count > 0) {
                        const double mean = m.sum / static_cast<double>(m.count);
                        double ss = 0;
                        forEachUnkept(x, s0, s1, keep, [&](const float* p, std::int64_t len) { ss += squaredDeviation(p, len, mean); });
                        const double sd = std::sqrt(ss / static_cast<double>(m.count));
                        z = std::make_pair(mean - *o.zclip * sd, mean + *o.zclip * sd);
                    }
                    if (o.pclip && m.count > 0) {
                        values.clear();
                        forEachUnkept(x, s0, s1, keep, [&](const float* p, std::int64_t len) { values.insert(values.end(), p, p + len); });
                        const auto [rl, rh] = percentileRanks(m.count, *o.pclip);
                        std::nth_element(values.begin(), values.begin() + rh, values.end());
                        const float vh = values[static_cast<std::size_t>(rh)];
                        std::nth_element(values.begin(), values.begin() + rl, values.begin() + rh);
                        pc = std::make_pair(values[static_cast<std::size_t>(rl)], vh);
                    }
                    const BlockRange r = clipRange(m, z, pc);
                    setBlock(b, r);
                    encode(x, s1 - s0, r, levels, codes.data() + s0);
                }
            }
        });
    }

    // One large block (e.g. the whole tensor): several streaming passes over
    // kChunk slices. Partial sums are kept per slice and combined in slice
    // order, so the result does not depend on the thread count.
    void largeBlock(std::int64_t b) {
        const std::int64_t s0 = b * block, s1 = std::min(n, s0 + block);
        const std::int64_t slices = (s1 - s0 + kChunk - 1) / kChunk;
        auto sliceRange = [&](std::int64_t s) { return std::make_pair(s0 + s * kChunk, std::min(s1, s0 + (s + 1) * kChunk)); };
        std::vector<Moments> parts(static_cast<std::size_t>(slices), Moments(o.zclip.has_value()));
        pool.parallelFor(slices, 1, [&](std::int64_t a, std::int64_t z, int) {
            std::vector<float> scratch;
            for (std::int64_t s = a; s < z; ++s) {
                const auto [e0, e1] = sliceRange(s);
                const float* x = reader.read(e0, e1, scratch);
                forEachUnkept(x, e0, e1, keep, [&](const float* p, std::int64_t len) { parts[static_cast<std::size_t>(s)].add(p, len); });
            }
        });
        Moments m(o.zclip.has_value());
        for (const Moments& p : parts) m.merge(p);

        std::optional<std::pair<double, double>> zb;
        if (o.zclip && m.count > 0) {
            const double mean = m.sum / static_cast<double>(m.count);
            std::vector<double> ss(static_cast<std::size_t>(slices), 0.0);
            pool.parallelFor(slices, 1, [&](std::int64_t a, std::int64_t z, int) {
                std::vector<float> scratch;
                for (std::int64_t s = a; s < z; ++s) {
                    const auto [e0, e1] = sliceRange(s);
                    const float* x = reader.read(e0, e1, scratch);
                    forEachUnkept(x, e0, e1, keep, [&](const float* p, std::int64_t len) { ss[static_cast<std::size_t>(s)] += squaredDeviation(p, len, mean); });
                }
            });
            double total = 0;
            for (double v : ss) total += v;
            const double sd = std::sqrt(total / static_cast<double>(m.count));
            zb = std::make_pair(mean - *o.zclip * sd, mean + *o.zclip * sd);
        }
        std::optional<std::pair<float, float>> pb;
        if (o.pclip && m.count > 0) pb = streamingPercentiles(s0, s1, m);

        const BlockRange r = clipRange(m, zb, pb);
        setBlock(b, r);
        pool.parallelFor(slices, 1, [&](std::int64_t a, std::int64_t z, int) {
            std::vector<float> scratch;
            for (std::int64_t s = a; s < z; ++s) {
                const auto [e0, e1] = sliceRange(s);
                const float* x = reader.read(e0, e1, scratch);
                encode(x, e1 - e0, r, levels, codes.data() + e0);
            }
        });
    }

    // Exact order statistics of a large block without copying it: a 65536-bin
    // histogram over [min, max] locates the bin of each wanted rank, then only
    // the values of those bins are collected and selected. Counts are
    // integers, so per-worker histograms sum to the same totals on any
    // thread count.
    std::pair<float, float> streamingPercentiles(std::int64_t s0, std::int64_t s1, const Moments& m) {
        const auto [rankLo, rankHi] = percentileRanks(m.count, *o.pclip);
        if (!(m.hi > m.lo)) return {m.lo, m.hi};
        constexpr std::int64_t kBins = 1 << 16;
        const double base = m.lo, width = static_cast<double>(kBins) / (static_cast<double>(m.hi) - static_cast<double>(m.lo));
        auto binOf = [&](float v) {
            const auto bin = static_cast<std::int64_t>((static_cast<double>(v) - base) * width);
            return std::clamp<std::int64_t>(bin, 0, kBins - 1);
        };
        const std::int64_t slices = (s1 - s0 + kChunk - 1) / kChunk;
        auto sliceRange = [&](std::int64_t s) { return std::make_pair(s0 + s * kChunk, std::min(s1, s0 + (s + 1) * kChunk)); };
        std::vector<std::vector<std::int64_t>> hist(static_cast<std::size_t>(pool.size()), std::vector<std::int64_t>(kBins, 0));
        pool.parallelFor(slices, 1, [&](std::int64_t a, std::int64_t z, int worker) {
            std::vector<float> scratch;
            auto& h = hist[static_cast<std::size_t>(worker)];
            for (std::int64_t s = a; s < z; ++s) {
                const auto [e0, e1] = sliceRange(s);
                const float* x = reader.read(e0, e1, scratch);
                forEachUnkept(x, e0, e1, keep, [&](const float* p, std::int64_t len) {
                    for (std::int64_t i = 0; i < len; ++i) ++h[static_cast<std::size_t>(binOf(p[i]))];
                });
            }
        });
        std::vector<std::int64_t> total(kBins, 0);
        for (const auto& h : hist) for (std::int64_t i = 0; i < kBins; ++i) total[static_cast<std::size_t>(i)] += h[static_cast<std::size_t>(i)];
        auto locate = [&](std::int64_t rank) {
            std::int64_t before = 0;
            for (std::int64_t i = 0; i < kBins; ++i) {
                if (before + total[static_cast<std::size_t>(i)] > rank) return std::make_pair(i, rank - before);
                before += total[static_cast<std::size_t>(i)];
            }
            return std::make_pair(kBins - 1, total[kBins - 1] - 1);
        };
        // Plain variables, not structured bindings: the lambda below captures
        // them (C++20 allows capturing bindings; clang does from version 16).
        const auto lo = locate(rankLo), hi = locate(rankHi);
        const std::int64_t binLo = lo.first, offLo = lo.second, binHi = hi.first, offHi = hi.second;
        std::vector<std::vector<float>> inLo(static_cast<std::size_t>(pool.size())), inHi(static_cast<std::size_t>(pool.size()));
        pool.parallelFor(slices, 1, [&](std::int64_t a, std::int64_t z, int worker) {
            std::vector<float> scratch;
            for (std::int64_t s = a; s < z; ++s) {
                const auto [e0, e1] = sliceRange(s);
                const float* x = reader.read(e0, e1, scratch);
                forEachUnkept(x, e0, e1, keep, [&](const float* p, std::int64_t len) {
                    for (std::int64_t i = 0; i < len; ++i) {
                        const std::int64_t bin = binOf(p[i]);
                        if (bin == binLo) inLo[static_cast<std::size_t>(worker)].push_back(p[i]);
                        if (bin == binHi) inHi[static_cast<std::size_t>(worker)].push_back(p[i]);
                    }
                });
            }
        });
        auto select = [](std::vector<std::vector<float>>& parts, std::int64_t offset) {
            std::vector<float> all;
            for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
            std::nth_element(all.begin(), all.begin() + offset, all.end());
            return all[static_cast<std::size_t>(offset)];
        };
        return {select(inLo, offLo), select(inHi, offHi)};
    }

    WeightPtr run() {
        if (block <= kChunk) smallBlocks();
        else for (std::int64_t b = 0; b < blocks; ++b) largeBlock(b);
        // Kept elements: their codes are irrelevant, the overrides restore them.
        std::vector<BlockQuantizedWeight::Override> overrides;
        std::vector<float> row(static_cast<std::size_t>(w.cols()));
        for (std::int64_t i : keep) {
            const float* x = reader.read(i, i + 1, row);
            overrides.push_back({i, *x});
        }
        return std::make_shared<BlockQuantizedWeight>(w.rows(), w.cols(), o.bits, block, std::move(codes), std::move(lo), std::move(hi),
                                                      std::move(scale), std::move(overrides));
    }
};

}  // namespace

WeightPtr quantizeRtn(const WeightMatrix& w, const RtnOptions& o) {
    SL_ASSERT(o.bits >= 2 && o.bits <= 8);
    ThreadPool& pool = o.pool ? *o.pool : defaultThreadPool();
    RtnJob job(w, o, pool);
    return job.run();
}

}  // namespace superlens::core
