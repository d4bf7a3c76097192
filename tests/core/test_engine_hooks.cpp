// Every hook point of the DESIGN.md table, on every reference architecture,
// against an independent float64 forward written in the test.

#include <gtest/gtest.h>

#include "reference_forward.h"
#include "superlens/core/engine/engine.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

class HookTest : public ::testing::TestWithParam<const char*> {};

TEST_P(HookTest, EveryHookMatchesIndependentFloat64Forward) {
    const char* name = GetParam();
    auto model = Model::open(referenceModel(name));
    ASSERT_TRUE(model.ok()) << model.error().message;
    const std::vector<int> ids = referenceAnswers()[name]["ids"].get<std::vector<int>>();
    const ReferenceRun ref = referenceForward(**model, ids);

    Engine engine(*model);
    ForwardRequest req;
    req.tokens.assign(ids.begin(), ids.end());
    req.record = HookSelection::all();
    req.allPositionLogits = true;
    auto result = engine.run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;

    const int layers = (*model)->config().numLayers;
    ASSERT_EQ((*result)->activations.size(), static_cast<std::size_t>(2 + 8 * layers));
    for (const auto& [hook, want] : ref.hooks) {
        const ActivationTensor* got = (*result)->activation(hook);
        ASSERT_NE(got, nullptr) << hook;
        ASSERT_EQ(got->rows(), static_cast<std::int64_t>(want.size())) << hook;
        ASSERT_EQ(got->cols(), static_cast<std::int64_t>(want[0].size())) << hook;
        double maxAbs = 0, maxErr = 0;
        for (std::size_t r = 0; r < want.size(); ++r)
            for (std::size_t c = 0; c < want[r].size(); ++c) {
                maxAbs = std::max(maxAbs, std::abs(want[r][c]));
                maxErr = std::max(maxErr, std::abs(want[r][c] - got->at(static_cast<std::int64_t>(r), static_cast<std::int64_t>(c))));
            }
        EXPECT_LE(maxErr, 1e-4 * maxAbs) << name << " " << hook;
    }
    // Shapes from the hook table: attention pattern is [H, T, T].
    const ActivationTensor* pattern = (*result)->activation("blocks.0.attn.hook_pattern");
    ASSERT_NE(pattern, nullptr);
    EXPECT_EQ(pattern->shape, (std::vector<std::int64_t>{(*model)->config().numHeads, static_cast<std::int64_t>(ids.size()),
                                                         static_cast<std::int64_t>(ids.size())}));
    const ActivationTensor* post = (*result)->activation("blocks.0.mlp.hook_post");
    EXPECT_EQ(post->shape, (std::vector<std::int64_t>{static_cast<std::int64_t>(ids.size()), (*model)->config().intermediateSize}));
}

TEST(HookSelectionTest, RecordsOnlyWhatIsAskedFor) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok());
    Engine engine(*model);
    ForwardRequest req;
    req.tokens = {1, 5, 77};
    req.record = HookSelection::patterns({"blocks.1.*"});
    auto r = engine.run(req);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->activations.size(), 8u);
    for (const auto& [p, _] : (*r)->activations) EXPECT_EQ(p.layer, 1);

    req.record = HookSelection::none();
    r = engine.run(req);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE((*r)->activations.empty());

    req.record = HookSelection::patterns({"blocks.*.hook_mpl_out"});  // typo
    r = engine.run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("matches no hook"), std::string::npos);
}

TEST(HookNamesTest, ParseAndFormatRoundTrip) {
    HookLayout layout;
    layout.layers = 3;
    layout.posEmbed = true;
    for (const HookPoint& p : allHookPoints(layout)) {
        const auto back = parseHookName(hookName(p));
        ASSERT_TRUE(back.has_value()) << hookName(p);
        EXPECT_EQ(*back, p);
    }
    EXPECT_FALSE(parseHookName("blocks.01.hook_mlp_out"));
    EXPECT_FALSE(parseHookName("blocks.-1.hook_mlp_out"));
    EXPECT_FALSE(parseHookName("blocks.1.hook_nothing"));
    EXPECT_TRUE(globMatch("model.layers.*.mlp.*", "model.layers.12.mlp.down_proj.weight"));
    EXPECT_FALSE(globMatch("model.layers.*.mlp.*", "model.layers.12.self_attn.q_proj.weight"));
    EXPECT_TRUE(globMatch("*", ""));
    EXPECT_TRUE(globMatch("blocks.*.hook_*", "blocks.3.hook_resid_post"));
}

INSTANTIATE_TEST_SUITE_P(AllReferenceModels, HookTest, ::testing::ValuesIn(kReferenceModels), [](const auto& info) {
    std::string n = info.param;
    for (char& ch : n) if (ch == '-') ch = '_';
    return n;
});

}  // namespace
