// Round-to-nearest weight quantization (quantizeRtn, BlockQuantizedWeight):
// per-block error bounds, exact range ends, keep_super, clipping, the
// streaming (large-block) path and independence from thread count and
// input storage. Every expectation is recomputed here from the input values.

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <numeric>

#include <gtest/gtest.h>

#include "compression_test_util.h"
#include "superlens/core/engine/rtn_quantization.h"

using namespace superlens::core;
using superlens::test::IndirectWeight;
using superlens::test::llmLikeMatrix;

namespace {

const BlockQuantizedWeight& asQuantized(const WeightPtr& w) {
    const auto* q = dynamic_cast<const BlockQuantizedWeight*>(w.get());
    EXPECT_NE(q, nullptr);
    return *q;
}

float ulp(float x) {
    const float a = std::abs(x);
    return std::nextafter(a, std::numeric_limits<float>::infinity()) - a;
}

struct Case {
    int bits;
    std::int64_t block;  // 0 = tensor
};

// Independent min/max of a block's non-kept elements.
std::pair<float, float> blockExtent(const RowMatrixF& a, std::int64_t s0, std::int64_t s1, const std::vector<std::int64_t>& kept) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (std::int64_t i = s0; i < s1; ++i) {
        if (std::binary_search(kept.begin(), kept.end(), i)) continue;
        lo = std::min(lo, a.data()[i]);
        hi = std::max(hi, a.data()[i]);
    }
    return {lo, hi};
}

// The contract for unclipped quantization: range = [min, max] of the
// non-kept elements, both ends exact, every element within half a step.
void checkUnclipped(const RowMatrixF& a, const BlockQuantizedWeight& q, int bits, const std::vector<std::int64_t>& kept) {
    const RowMatrixF d = q.toDense();
    const std::int64_t n = a.size(), block = q.blockSize();
    const int levels = (1 << bits) - 1;
    ASSERT_EQ(q.blockCount(), (n + block - 1) / block);
    for (std::int64_t b = 0; b < q.blockCount(); ++b) {
        const std::int64_t s0 = b * block, s1 = std::min(n, s0 + block);
        const auto [lo, hi] = blockExtent(a, s0, s1, kept);
        ASSERT_EQ(q.blockMin(b), lo) << "block " << b;
        ASSERT_EQ(q.blockMax(b), hi) << "block " << b;
        const double step = (static_cast<double>(hi) - lo) / levels;
        EXPECT_NEAR(q.blockScale(b), step, step * 1e-6 + 1e-30);
        const double tol = step / 2 * (1 + 1e-5) + 2 * ulp(std::max(std::abs(lo), std::abs(hi)));
        for (std::int64_t i = s0; i < s1; ++i) {
            const float x = a.data()[i], y = d.data()[i];
            if (std::binary_search(kept.begin(), kept.end(), i)) {
                ASSERT_EQ(y, x) << "kept element " << i << " must be restored bit-exactly";
                continue;
            }
            ASSERT_LE(std::abs(static_cast<double>(x) - y), tol) << "element " << i << " block " << b;
            // The ends of the range are representable: the extreme elements come back exactly.
            if (x == lo || x == hi) ASSERT_EQ(y, x) << "range end at element " << i;
        }
    }
}

class RtnBounds : public ::testing::TestWithParam<Case> {};

TEST_P(RtnBounds, EveryBlockWithinHalfStepAndEndsExact) {
    const Case c = GetParam();
    const RowMatrixF a = llmLikeMatrix(96, 172, 11);  // 172 columns: blocks straddle rows
    RtnOptions o;
    o.bits = c.bits;
    o.block = c.block;
    const WeightPtr q = quantizeRtn(DenseWeight(a), o);
    checkUnclipped(a, asQuantized(q), c.bits, {});
}

INSTANTIATE_TEST_SUITE_P(BitsAndBlocks, RtnBounds,
                         ::testing::Values(Case{2, 64}, Case{3, 64}, Case{4, 64}, Case{8, 64}, Case{4, 100}, Case{4, 128}, Case{4, 172},
                                           Case{4, 1000}, Case{4, 0}, Case{8, 0}, Case{2, 0}, Case{4, 1 << 20}));

TEST(Rtn, KeepSuperRestoresExactValuesAndLeavesThemOutOfTheRange) {
    RowMatrixF a = llmLikeMatrix(64, 172, 5, 16, 0);
    // A super weight: orders of magnitude above the rest (the paper's Fig. 1 regime).
    const std::int64_t r = 13, col = 57;
    a(r, col) = -25.0f;
    const std::vector<std::int64_t> kept{r * 172 + col};
    for (std::int64_t block : {std::int64_t{64}, std::int64_t{128}, std::int64_t{0}}) {
        RtnOptions o;
        o.bits = 4;
        o.block = block;
        o.keep = {{r, col}};
        const WeightPtr qp = quantizeRtn(DenseWeight(a), o);
        const BlockQuantizedWeight& q = asQuantized(qp);
        checkUnclipped(a, q, 4, kept);
        ASSERT_EQ(q.overrides().size(), 1u);
        EXPECT_EQ(q.at(r, col), -25.0f);
        // The block holding the super weight has the range of the others.
        const std::int64_t b = kept[0] / q.blockSize();
        EXPECT_GT(q.blockMin(b), -1.0f) << "block " << block;

        // Plain RTN of the same block: the super weight stretches the range.
        RtnOptions plain = o;
        plain.keep.clear();
        const WeightPtr pp = quantizeRtn(DenseWeight(a), plain);
        const BlockQuantizedWeight& p = asQuantized(pp);
        EXPECT_EQ(p.blockMin(b), -25.0f);
        EXPECT_GT(p.blockScale(b), 10 * q.blockScale(b));
        // ... and costs every other weight of that block precision.
        double errKeep = 0, errPlain = 0;
        const RowMatrixF dq = q.toDense(), dp = p.toDense();
        const std::int64_t s0 = b * q.blockSize(), s1 = std::min<std::int64_t>(a.size(), s0 + q.blockSize());
        for (std::int64_t i = s0; i < s1; ++i) {
            errKeep += std::abs(dq.data()[i] - a.data()[i]);
            errPlain += std::abs(dp.data()[i] - a.data()[i]);
        }
        EXPECT_LT(errKeep * 5, errPlain) << "block " << block;
    }
}

TEST(Rtn, KeepSeveralInOneBlockAndDuplicates) {
    RowMatrixF a = llmLikeMatrix(8, 64, 3, 4, 0);
    a(2, 3) = 9.0f;
    a(2, 40) = -7.0f;
    RtnOptions o;
    o.bits = 3;
    o.block = 0;
    o.keep = {{2, 3}, {2, 40}, {2, 3}};
    const WeightPtr qp = quantizeRtn(DenseWeight(a), o);
    const auto& q = asQuantized(qp);
    checkUnclipped(a, q, 3, {2 * 64 + 3, 2 * 64 + 40});
    EXPECT_EQ(q.overrides().size(), 2u);
}

TEST(Rtn, ZClipUsesMeanPlusMinusZSigmaOfTheUnkeptElements) {
    const RowMatrixF a = llmLikeMatrix(40, 172, 8, 8, 6);
    for (std::int64_t block : {std::int64_t{64}, std::int64_t{0}}) {
        RtnOptions o;
        o.bits = 4;
        o.block = block;
        o.zclip = 3.0;
        o.keep = {{1, 2}};
        const std::vector<std::int64_t> kept{172 + 2};
        const WeightPtr qp = quantizeRtn(DenseWeight(a), o);
        const auto& q = asQuantized(qp);
        const RowMatrixF d = q.toDense();
        const std::int64_t n = a.size(), bs = q.blockSize();
        for (std::int64_t b = 0; b < q.blockCount(); ++b) {
            const std::int64_t s0 = b * bs, s1 = std::min(n, s0 + bs);
            double sum = 0, count = 0;
            for (std::int64_t i = s0; i < s1; ++i) {
                if (std::binary_search(kept.begin(), kept.end(), i)) continue;
                sum += a.data()[i];
                ++count;
            }
            const double mean = sum / count;
            double ss = 0;
            for (std::int64_t i = s0; i < s1; ++i) {
                if (std::binary_search(kept.begin(), kept.end(), i)) continue;
                ss += (a.data()[i] - mean) * (a.data()[i] - mean);
            }
            const double sd = std::sqrt(ss / count);
            const auto [mn, mx] = blockExtent(a, s0, s1, kept);
            const float lo = std::max(mn, static_cast<float>(mean - 3 * sd));
            const float hi = std::min(mx, static_cast<float>(mean + 3 * sd));
            EXPECT_NEAR(q.blockMin(b), lo, 1e-6 * std::abs(lo)) << "block " << b;
            EXPECT_NEAR(q.blockMax(b), hi, 1e-6 * std::abs(hi)) << "block " << b;
            const double step = (static_cast<double>(q.blockMax(b)) - q.blockMin(b)) / 15;
            for (std::int64_t i = s0; i < s1; ++i) {
                if (std::binary_search(kept.begin(), kept.end(), i)) {
                    EXPECT_EQ(d.data()[i], a.data()[i]);
                    continue;
                }
                const float x = a.data()[i];
                if (x <= q.blockMin(b)) EXPECT_EQ(d.data()[i], q.blockMin(b)) << "clipped low";
                else if (x >= q.blockMax(b)) EXPECT_EQ(d.data()[i], q.blockMax(b)) << "clipped high";
                else EXPECT_LE(std::abs(d.data()[i] - x), step / 2 * (1 + 1e-5) + 2 * ulp(std::max(std::abs(lo), std::abs(hi))));
            }
        }
    }
}

// Order statistics ranks of the percentile clip, recomputed by sorting.
std::pair<float, float> percentileRange(std::vector<float> v, double p) {
    std::sort(v.begin(), v.end());
    const double last = static_cast<double>(v.size() - 1);
    return {v[static_cast<std::size_t>(std::llround((1 - p / 100) * last))], v[static_cast<std::size_t>(std::llround(p / 100 * last))]};
}

TEST(Rtn, PClipUsesOrderStatisticsSmallAndStreamingBlocks) {
    // 600 x 1000 = 600K elements: block=tensor and block=300000 take the
    // streaming (histogram) path, block=500 the in-chunk path.
    const RowMatrixF a = llmLikeMatrix(600, 1000, 21, 16, 40);
    for (std::int64_t block : {std::int64_t{500}, std::int64_t{300000}, std::int64_t{0}}) {
        RtnOptions o;
        o.bits = 4;
        o.block = block;
        o.pclip = 99.9;
        o.keep = {{0, 0}, {599, 999}};
        const std::vector<std::int64_t> kept{0, 600 * 1000 - 1};
        const WeightPtr qp = quantizeRtn(DenseWeight(a), o);
        const auto& q = asQuantized(qp);
        const std::int64_t n = a.size(), bs = q.blockSize();
        for (std::int64_t b = 0; b < q.blockCount(); ++b) {
            const std::int64_t s0 = b * bs, s1 = std::min(n, s0 + bs);
            std::vector<float> v;
            for (std::int64_t i = s0; i < s1; ++i) {
                if (!std::binary_search(kept.begin(), kept.end(), i)) v.push_back(a.data()[i]);
            }
            const auto [lo, hi] = percentileRange(v, 99.9);
            ASSERT_EQ(q.blockMin(b), lo) << "block size " << block << " block " << b;
            ASSERT_EQ(q.blockMax(b), hi) << "block size " << block << " block " << b;
        }
        EXPECT_EQ(q.at(0, 0), a(0, 0));
        EXPECT_EQ(q.at(599, 999), a(599, 999));
    }
}

TEST(Rtn, StreamingLargeBlocksMatchTheContract) {
    const RowMatrixF a = llmLikeMatrix(700, 1000, 4, 16, 10);  // 700K elements
    for (std::int64_t block : {std::int64_t{300000}, std::int64_t{0}}) {
        RtnOptions o;
        o.bits = 3;
        o.block = block;
        o.keep = {{350, 500}};
        const WeightPtr qp = quantizeRtn(DenseWeight(a), o);
        checkUnclipped(a, asQuantized(qp), 3, {350 * 1000 + 500});
    }
}

TEST(Rtn, SameBitsForAnyThreadCountAndInputStorage) {
    const RowMatrixF a = llmLikeMatrix(600, 1100, 9, 16, 8);
    for (std::int64_t block : {std::int64_t{64}, std::int64_t{4096}, std::int64_t{0}}) {
        for (bool z : {false, true}) {
            RtnOptions o;
            o.bits = 4;
            o.block = block;
            if (z) o.zclip = 4.0;
            o.keep = {{3, 4}};
            ThreadPool one(1), three(3);
            o.pool = &one;
            const RowMatrixF ref = quantizeRtn(DenseWeight(a), o)->toDense();
            o.pool = &three;
            const RowMatrixF threaded = quantizeRtn(DenseWeight(a), o)->toDense();
            const RowMatrixF indirect = quantizeRtn(IndirectWeight(a), o)->toDense();
            ASSERT_EQ(0, std::memcmp(ref.data(), threaded.data(), sizeof(float) * ref.size())) << "block " << block << " zclip " << z;
            ASSERT_EQ(0, std::memcmp(ref.data(), indirect.data(), sizeof(float) * ref.size())) << "block " << block << " zclip " << z;
        }
    }
}

TEST(Rtn, CodesTakeOneBytePerWeight) {
    const RowMatrixF a = llmLikeMatrix(256, 512, 2, 4, 0);
    RtnOptions o;
    o.bits = 4;
    o.block = 64;
    const WeightPtr q = quantizeRtn(DenseWeight(a), o);
    const std::size_t n = static_cast<std::size_t>(a.size());
    EXPECT_EQ(q->ownedBytes(), n + 3 * sizeof(float) * (n / 64));
    EXPECT_EQ(q->directF32(), nullptr);
}

TEST(Rtn, ConstantBlockDecodesExactly) {
    RowMatrixF a = RowMatrixF::Constant(4, 64, 0.25f);
    a(0, 0) = 3.0f;  // kept: the rest of its block is constant
    RtnOptions o;
    o.bits = 4;
    o.block = 64;
    o.keep = {{0, 0}};
    const RowMatrixF d = quantizeRtn(DenseWeight(a), o)->toDense();
    for (std::int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(d.data()[i], a.data()[i]);
}

TEST(Rtn, DoublePrecisionDecodeMatchesFloat) {
    const RowMatrixF a = llmLikeMatrix(16, 172, 6, 4, 2);
    RtnOptions o;
    o.bits = 5;
    o.block = 64;
    o.keep = {{1, 1}};
    const WeightPtr q = quantizeRtn(DenseWeight(a), o);
    std::vector<float> f(static_cast<std::size_t>(a.size()));
    std::vector<double> d(static_cast<std::size_t>(a.size()));
    q->decodeRows(0, 16, f.data());
    q->decodeRows(0, 16, d.data());
    for (std::size_t i = 0; i < f.size(); ++i) EXPECT_EQ(static_cast<double>(f[i]), d[i]);
    // Row ranges in the middle of a block decode like the whole matrix.
    std::vector<float> part(static_cast<std::size_t>(3 * 172));
    q->decodeRows(5, 8, part.data());
    for (std::size_t i = 0; i < part.size(); ++i) EXPECT_EQ(part[i], f[5 * 172 + i]);
}

}  // namespace
