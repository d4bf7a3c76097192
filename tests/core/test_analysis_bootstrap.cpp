// The bootstrap and null-control statistics (bootstrap.h) against values
// computed here from their definitions: numpy's linear percentiles by hand,
// the exact bootstrap distribution of 3 items by enumerating all 27
// resamples, the normal-theory interval of a mean, and the null summary's
// closed forms.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "superlens/core/analysis/bootstrap.h"

using namespace superlens::core;

namespace {

TEST(Bootstrap, PercentileIsNumpyLinear) {
    const std::vector<double> v = {1, 2, 3, 4};
    // numpy.percentile([1,2,3,4], [0, 25, 50, 90, 100]) = 1, 1.75, 2.5, 3.7, 4
    EXPECT_DOUBLE_EQ(percentileSorted(v, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(percentileSorted(v, 0.25), 1.75);
    EXPECT_DOUBLE_EQ(percentileSorted(v, 0.5), 2.5);
    EXPECT_NEAR(percentileSorted(v, 0.9), 3.7, 1e-12);
    EXPECT_DOUBLE_EQ(percentileSorted(v, 1.0), 4.0);
    EXPECT_TRUE(std::isnan(percentileSorted({}, 0.5)));
    const Interval i = percentileInterval({4, 1, 3, 2}, 0.5);  // unsorted input
    EXPECT_DOUBLE_EQ(i.lo, 1.75);
    EXPECT_DOUBLE_EQ(i.hi, 3.25);
    EXPECT_FALSE(percentileInterval({}, 0.9).valid());
}

TEST(Bootstrap, ResamplerDrawsNWithReplacementDeterministically) {
    Resampler a(7, 42), b(7, 42), c(7, 43);
    std::vector<std::uint32_t> ca, cb, cc;
    bool differs = false;
    for (int k = 0; k < 50; ++k) {
        a.next(ca);
        b.next(cb);
        c.next(cc);
        EXPECT_EQ(ca, cb);
        differs |= ca != cc;
        std::uint32_t sum = 0;
        for (auto x : ca) sum += x;
        EXPECT_EQ(sum, 7u);
    }
    EXPECT_TRUE(differs);
    SeededRng rng(1);
    for (std::size_t n : {1u, 2u, 3u, 1000u}) {
        for (int k = 0; k < 200; ++k) EXPECT_LT(rng.below(n), n);
    }
}

// Every resample of 3 items has probability 1/27 per ordered draw; the
// bootstrap's resample frequencies and percentiles must converge to that.
TEST(Bootstrap, ThreeItemsAgainstAllTwentySevenResamples) {
    const std::vector<double> x = {1.0, 2.0, 7.0};
    std::map<std::vector<std::uint32_t>, double> exact;  // counts -> probability
    std::vector<std::pair<double, double>> means;        // (mean, probability)
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
            for (int k = 0; k < 3; ++k) {
                std::vector<std::uint32_t> c(3, 0);
                ++c[i], ++c[j], ++c[k];
                exact[c] += 1.0 / 27;
                means.emplace_back((x[i] + x[j] + x[k]) / 3, 1.0 / 27);
            }
        }
    }
    ASSERT_EQ(exact.size(), 10u);  // multisets of size 3 from 3 items
    const int N = 40000;
    std::map<std::vector<std::uint32_t>, int> seen;
    Resampler r(3, BootstrapOptions{}.seed);
    std::vector<std::uint32_t> c;
    for (int k = 0; k < N; ++k) {
        r.next(c);
        ++seen[c];
    }
    ASSERT_EQ(seen.size(), exact.size());
    for (const auto& [counts, p] : exact) {
        const double sd = std::sqrt(p * (1 - p) / N);
        EXPECT_NEAR(seen[counts] / double(N), p, 5 * sd);
    }
    // The exact quantiles of the bootstrap mean at 10% and 90%: walk the sorted atoms.
    std::sort(means.begin(), means.end());
    const auto quantile = [&](double q) {
        double cum = 0;
        for (const auto& [m, p] : means) {
            cum += p;
            if (cum > q) return m;
        }
        return means.back().first;
    };
    EXPECT_DOUBLE_EQ(quantile(0.1), 4.0 / 3);   // cumulative 1/27 then 4/27 > 0.1
    EXPECT_DOUBLE_EQ(quantile(0.9), 16.0 / 3);  // from the top: 1/27, then 4/27 > 0.1
    BootstrapOptions o;
    o.resamples = 20000;
    o.level = 0.8;
    const Interval i = bootstrapInterval(3, o, [&](const auto& k) { return weightedSum(x, k) / 3; });
    EXPECT_NEAR(i.lo, quantile(0.1), 1e-12);
    EXPECT_NEAR(i.hi, quantile(0.9), 1e-12);
    o.level = 0.95;  // the 2.5% tails sit inside the atoms {1} and {7} (1/27 each)
    const Interval w = bootstrapInterval(3, o, [&](const auto& k) { return weightedSum(x, k) / 3; });
    EXPECT_DOUBLE_EQ(w.lo, 1.0);
    EXPECT_DOUBLE_EQ(w.hi, 7.0);
}

// The mean of n normal draws: the percentile interval approaches
// mean +- z * s / sqrt(n) (z = 1.959964 at 95%).
TEST(Bootstrap, MeanOfNormalSampleMatchesNormalTheory) {
    std::mt19937_64 gen(7);
    std::normal_distribution<double> normal(3.0, 2.0);
    const std::size_t n = 2000;
    std::vector<double> x(n);
    double mean = 0;
    for (double& v : x) mean += (v = normal(gen));
    mean /= n;
    double ss = 0;
    for (double v : x) ss += (v - mean) * (v - mean);
    const double se = std::sqrt(ss / (n - 1)) / std::sqrt(double(n));
    BootstrapOptions o;
    o.resamples = 4000;
    const Interval i = bootstrapInterval(n, o, [&](const auto& k) { return weightedSum(x, k) / n; });
    const double half = 1.959964 * se;
    EXPECT_NEAR(i.lo, mean - half, 0.08 * half);
    EXPECT_NEAR(i.hi, mean + half, 0.08 * half);
    EXPECT_TRUE(i.contains(mean));
}

TEST(Bootstrap, SameSeedPairsTwoStatistics) {
    const std::vector<double> a = {1, 5, 2, 8, 3}, b = {2, 2, 9, 1, 4};
    BootstrapOptions o;
    o.resamples = 300;
    auto ra = bootstrapReplicates(5, o, [&](const auto& k) { return weightedSum(a, k); });
    auto rb = bootstrapReplicates(5, o, [&](const auto& k) { return weightedSum(b, k); });
    auto rd = bootstrapReplicates(5, o, [&](const auto& k) { return weightedSum(a, k) - weightedSum(b, k); });
    ASSERT_TRUE(ra.ok() && rb.ok() && rd.ok());
    ASSERT_EQ(ra->size(), 300u);
    for (std::size_t k = 0; k < 300; ++k) EXPECT_DOUBLE_EQ((*rd)[k], (*ra)[k] - (*rb)[k]);
}

TEST(Bootstrap, OptionsAreChecked) {
    BootstrapOptions o;
    EXPECT_TRUE(validate(o).ok());
    o.level = 1.0;
    EXPECT_FALSE(validate(o).ok());
    o.level = 0.0;
    EXPECT_NE(validate(o).error().message.find("--ci"), std::string::npos);
    o.level = 0.9;
    o.resamples = -1;
    EXPECT_NE(validate(o).error().message.find("--bootstrap"), std::string::npos);
    o.resamples = 0;
    EXPECT_FALSE(bootstrapInterval(3, o, [](const auto&) { return 1.0; }).valid());
    o.resamples = 10;
    EXPECT_FALSE(bootstrapReplicates(0, o, [](const auto&) { return 1.0; }).ok());
}

TEST(Bootstrap, NullSummaryClosedForm) {
    const NullSummary s = summarizeNull({4, 1, 3, 2}, 3.0);
    EXPECT_DOUBLE_EQ(s.mean, 2.5);
    EXPECT_NEAR(s.sd, std::sqrt(5.0 / 3.0), 1e-15);  // sum of squares 5, K - 1 = 3
    EXPECT_DOUBLE_EQ(s.percentile, 62.5);            // 2 below, 1 equal: (2 + 0.5) / 4
    ASSERT_TRUE(s.z.has_value());
    EXPECT_NEAR(*s.z, 0.5 / std::sqrt(5.0 / 3.0), 1e-15);
    EXPECT_EQ(s.values, (std::vector<double>{4, 1, 3, 2}));  // draw order kept
    const NullSummary top = summarizeNull({1, 1, 1}, 9.0);
    EXPECT_DOUBLE_EQ(top.percentile, 100.0);
    EXPECT_DOUBLE_EQ(top.sd, 0.0);
    EXPECT_FALSE(top.z.has_value());
    EXPECT_DOUBLE_EQ(summarizeNull({5}, 1.0).percentile, 0.0);
}

}  // namespace
