// Layer spike statistics against refs.json (per-layer max |value| and full
// hook dumps, float64 reference forward) and medians computed here in float64.

#include <random>

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/layer_stats.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

class LayerStatsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LayerStatsTest, PeaksAndMediansMatchReference) {
    const std::string name = GetParam();
    const auto& ref = referenceAnswers()[name];
    Engine engine(openModelOrDie(referenceModel(name)));
    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.record = superWeightHooks();
    auto r = engine.run(req);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto stats = layerSpikeStats(**r);
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    const int L = ref["layers"].get<int>();
    ASSERT_EQ(static_cast<int>(stats->size()), L);
    for (int l = 0; l < L; ++l) {
        const LayerSpikeStats& s = (*stats)[static_cast<std::size_t>(l)];
        EXPECT_EQ(s.layer, l);
        const double in = ref["down_in_absmax"][l].get<double>();
        const double out = ref["down_out_absmax"][l].get<double>();
        const double res = ref["resid_absmax"][l].get<double>();
        EXPECT_NEAR(s.downIn.absValue(), in, 1e-4 * in) << name << " layer " << l;
        EXPECT_NEAR(s.downOut.absValue(), out, 1e-4 * out) << name << " layer " << l;
        EXPECT_NEAR(s.resid.absValue(), res, 1e-4 * res) << name << " layer " << l;

        // Medians and peak positions from the float64 hook dumps.
        const std::string p = "blocks." + std::to_string(l) + ".";
        const auto dIn = flatten(ref["hooks"][p + "mlp.hook_post"]);
        const auto dOut = flatten(ref["hooks"][p + "hook_mlp_out"]);
        const auto dRes = flatten(ref["hooks"][p + "hook_resid_post"]);
        EXPECT_NEAR(s.downInMedian, medianAbs64(dIn), 1e-4 * in) << name << " layer " << l;
        EXPECT_NEAR(s.downOutMedian, medianAbs64(dOut), 1e-4 * out) << name << " layer " << l;
        EXPECT_NEAR(s.residMedian, medianAbs64(dRes), 1e-4 * res) << name << " layer " << l;
        const auto argmaxAbs = [](const std::vector<double>& v) {
            return std::max_element(v.begin(), v.end(), [](double a, double b) { return std::abs(a) < std::abs(b); }) - v.begin();
        };
        const std::int64_t d = ref["hidden"].get<std::int64_t>();
        const std::int64_t f = ref["intermediate"].get<std::int64_t>();
        // Peak positions are only well defined when the peak stands out.
        if (s.downOutRatio() > 20) {
            EXPECT_EQ(s.downOut.token * d + s.downOut.channel, argmaxAbs(dOut)) << name << " layer " << l;
            EXPECT_EQ(s.downIn.token * f + s.downIn.channel, argmaxAbs(dIn)) << name << " layer " << l;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Reference, LayerStatsTest, ::testing::ValuesIn(kReferenceModels),
                         [](const auto& info) {
                             std::string n = info.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

TEST(LayerStats, ChannelAcrossLayersFollowsTheSuperActivation) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.record = superWeightHooks();
    auto r = engine.run(req);
    ASSERT_TRUE(r.ok());
    auto track = channelAcrossLayers(**r, 0, 13);
    ASSERT_TRUE(track.ok());
    ASSERT_EQ(track->size(), 4u);
    for (int l = 0; l < 4; ++l) {
        const double want = std::abs(ref["hooks"]["blocks." + std::to_string(l) + ".hook_resid_post"][0][13].get<double>());
        EXPECT_NEAR((*track)[static_cast<std::size_t>(l)], want, 1e-4 * std::max(1.0, want));
    }
    EXPECT_FALSE(channelAcrossLayers(**r, 10, 0).ok());  // token out of range
    EXPECT_FALSE(channelAcrossLayers(**r, 0, 64).ok());  // channel out of range
}

TEST(LayerStats, StoriesNegativeControlMatchesReference) {
    const auto ref = readJson(testData() / "stories260K" / "reference.json");
    Engine engine(openModelOrDie(testData() / "stories260K"));
    for (const auto& p : ref["prompts"]) {
        ForwardRequest req;
        req.tokens = p["ids"].get<std::vector<TokenId>>();
        req.record = superWeightHooks();
        auto r = engine.run(req);
        ASSERT_TRUE(r.ok());
        auto stats = layerSpikeStats(**r);
        ASSERT_TRUE(stats.ok());
        for (std::size_t l = 0; l < stats->size(); ++l) {
            EXPECT_NEAR((*stats)[l].downIn.absValue(), p["down_in_absmax"][l].get<double>(), 1e-4);
            EXPECT_NEAR((*stats)[l].downOut.absValue(), p["down_out_absmax"][l].get<double>(), 1e-4);
            EXPECT_NEAR((*stats)[l].resid.absValue(), p["resid_absmax"][l].get<double>(), 1e-4);
            // A trained model without massive activations: residual peaks stay far below 100x the median.
            EXPECT_LT((*stats)[l].residRatio(), 50.0);
        }
    }
}

TEST(LayerStats, MedianAbsConventions) {
    EXPECT_DOUBLE_EQ(medianAbs({}), 0.0);
    EXPECT_DOUBLE_EQ(medianAbs({-3.0f}), 3.0);
    EXPECT_DOUBLE_EQ(medianAbs({-1.0f, 4.0f, 2.0f}), 2.0);
    EXPECT_DOUBLE_EQ(medianAbs({-1.0f, 4.0f, 2.0f, -8.0f}), 3.0);  // mean of the two middle values
}

// The histogram selection against a float64 sort, on inputs that put the two
// middle ranks in one bucket, in neighbouring buckets, and everything in one bucket.
TEST(LayerStats, MedianAbsMatchesSortedFloat64) {
    std::mt19937 rng(22);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto check = [](const std::vector<float>& v, const char* what) {
        std::vector<double> d(v.begin(), v.end());
        EXPECT_DOUBLE_EQ(medianAbs(v), medianAbs64(d)) << what << ", n=" << v.size();
    };
    for (std::size_t n : {1u, 2u, 5u, 64u, 65536u, 65537u, 180224u}) {
        std::vector<float> v(n);
        for (float& x : v) x = normal(rng) * 3.0f;
        check(v, "normal");
        for (std::size_t i = 0; i < n; i += 7) v[i] = -v[i] * 1e6f;  // massive entries, negative signs
        check(v, "spikes");
        for (float& x : v) x = static_cast<float>(static_cast<int>(x) % 4);  // few distinct values, signed zeros
        check(v, "integers");
        std::fill(v.begin(), v.end(), -0.75f);
        check(v, "constant");
    }
    // The two middle values in different buckets: 1.0 and 2.0 differ in the top bits.
    check({1.0f, -2.0f, 0.5f, 4.0f}, "split");
    check({0.0f, -0.0f, 1e-40f, -1e-40f, 3e38f, 1e-30f}, "denormals");
}

TEST(LayerStats, MissingHooksAreAnError) {
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    ForwardRequest req;
    req.tokens = {1, 5, 77};
    req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto r = engine.run(req);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(layerSpikeStats(**r).ok());
}

}  // namespace
