// Massive activations against the float64 hook dumps of refs.json: a flagged
// entry at token 0 in the planted row from the super weight's layer on, ratios
// recomputed here in float64, persistence, and nothing on the negative controls.

#include <set>

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/tokenizer/tokenizer.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

class MassiveReference : public ::testing::TestWithParam<const char*> {};

TEST_P(MassiveReference, FlagsTheSuperActivationAtTokenZero) {
    const std::string name = GetParam();
    const auto& ref = referenceAnswers()[name];
    Engine engine(openModelOrDie(referenceModel(name)));
    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.record = superWeightHooks();
    auto r = engine.run(req);
    ASSERT_TRUE(r.ok());
    auto rep = findMassiveActivations(**r, nullptr);
    ASSERT_TRUE(rep.ok()) << rep.error().message;
    const int L = ref["layers"].get<int>();
    ASSERT_EQ(static_cast<int>(rep->layerMedian.size()), L);
    ASSERT_EQ(static_cast<int>(rep->topPerLayer.size()), L);

    for (int l = 0; l < L; ++l) {
        const auto dump = flatten(ref["hooks"]["blocks." + std::to_string(l) + ".hook_resid_post"]);
        const double med = medianAbs64(dump);
        EXPECT_NEAR(rep->layerMedian[static_cast<std::size_t>(l)], med, 1e-5 * std::max(1.0, med));
        const auto& top = rep->topPerLayer[static_cast<std::size_t>(l)];
        ASSERT_EQ(top.size(), 3u);
        EXPECT_GE(std::abs(top[0].value), std::abs(top[1].value));
        EXPECT_GE(std::abs(top[1].value), std::abs(top[2].value));
        EXPECT_NEAR(std::abs(top[0].value), ref["resid_absmax"][l].get<double>(), 1e-4 * ref["resid_absmax"][l].get<double>());
    }
    // Every flagged entry: value and ratio against the float64 dump.
    const std::int64_t d = ref["hidden"].get<std::int64_t>();
    for (const auto& m : rep->flagged) {
        const auto dump = flatten(ref["hooks"]["blocks." + std::to_string(m.layer) + ".hook_resid_post"]);
        const double want = dump[static_cast<std::size_t>(m.token * d + m.channel)];
        EXPECT_NEAR(m.value, want, 1e-4 * std::abs(want));
        EXPECT_NEAR(m.ratio, std::abs(want) / medianAbs64(dump), 1e-3 * m.ratio);
        EXPECT_GE(m.ratio, 100.0);
        EXPECT_EQ(m.firstToken, m.token == 0);
    }
    std::set<std::pair<int, std::int64_t>> rows;  // (first layer, row) of the planted super weights
    for (const auto& c : ref["planted"]) rows.insert({c[0].get<int>(), c[1].get<std::int64_t>()});
    if (rows.empty()) {
        EXPECT_TRUE(rep->flagged.empty()) << name;
        EXPECT_TRUE(rep->persistent.empty());
    }
    for (const auto& [layer, row] : rows) {
        for (int l = layer; l < L; ++l) {
            const bool flagged = std::any_of(rep->flagged.begin(), rep->flagged.end(),
                                             [&](const MassiveActivation& m) { return m.layer == l && m.token == 0 && m.channel == row; });
            EXPECT_TRUE(flagged) << name << ": layer " << l << " channel " << row;
        }
        if (layer == L - 1) continue;  // a super weight in the last layer (qwen2-f16-tied) has no later layer to persist into
        const bool persists = std::any_of(rep->persistent.begin(), rep->persistent.end(), [&](const auto& p) {
            return p.token == 0 && p.channel == row && p.firstLayer == layer && p.lastLayer == L - 1;
        });
        EXPECT_TRUE(persists) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Reference, MassiveReference, ::testing::ValuesIn(kReferenceModels), [](const auto& info) {
    std::string n = info.param;
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
});

TEST(Massive, StoriesNegativeControlHasNone) {
    const auto ref = readJson(testData() / "stories260K" / "reference.json");
    Engine engine(openModelOrDie(testData() / "stories260K"));
    auto tok = Tokenizer::loadFromFolder(testData() / "stories260K");
    ASSERT_TRUE(tok.ok());
    for (const auto& p : ref["prompts"]) {
        ForwardRequest req;
        req.tokens = p["ids"].get<std::vector<TokenId>>();
        req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
        auto r = engine.run(req);
        ASSERT_TRUE(r.ok());
        auto rep = findMassiveActivations(**r, tok->get());
        ASSERT_TRUE(rep.ok());
        EXPECT_TRUE(rep->flagged.empty());
        EXPECT_TRUE(rep->persistent.empty());
        // The top entries are still listed, with delimiters marked.
        for (const auto& top : rep->topPerLayer) {
            ASSERT_EQ(top.size(), 3u);
            for (const auto& m : top) {
                const std::string text = (*tok)->tokenText(p["ids"][m.token].get<TokenId>());
                const bool punct = text == "." || text == "," || m.token == 0;
                if (punct) {
                    EXPECT_TRUE(m.delimiter) << text;
                }
            }
        }
    }
}

TEST(Massive, DelimiterTokens) {
    auto tok = Tokenizer::loadFromFolder(testData() / "stories260K");
    ASSERT_TRUE(tok.ok());
    const auto idOf = [&](const std::string& s) {
        const auto ids = (*tok)->encode(s, false);
        return ids.back();
    };
    EXPECT_TRUE(isDelimiterToken(**tok, 1));  // BOS
    EXPECT_TRUE(isDelimiterToken(**tok, idOf("a.")));
    EXPECT_TRUE(isDelimiterToken(**tok, idOf("a,")));
    EXPECT_FALSE(isDelimiterToken(**tok, idOf("the")));
}

TEST(Massive, ThresholdAndCapOptions) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto r = engine.run(req);
    ASSERT_TRUE(r.ok());
    MassiveActivationOptions o;
    o.ratioThreshold = 1e12;
    EXPECT_TRUE(findMassiveActivations(**r, nullptr, o)->flagged.empty());
    o.ratioThreshold = 1.0;
    o.maxFlaggedPerLayer = 2;
    o.topK = 5;
    auto rep = findMassiveActivations(**r, nullptr, o);
    ASSERT_TRUE(rep.ok());
    EXPECT_EQ(rep->flagged.size(), 8u);  // 4 layers x 2
    EXPECT_EQ(rep->topPerLayer[0].size(), 5u);
    ForwardRequest noHooks;
    noHooks.tokens = {1, 2};
    auto r2 = engine.run(noHooks);
    EXPECT_FALSE(findMassiveActivations(**r2, nullptr).ok());
}

}  // namespace
