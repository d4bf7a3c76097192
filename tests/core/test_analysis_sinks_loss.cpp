// Attention sinks per head and per-token loss against the float64 reference
// forward passes of tests/data/families (refs.json: full attention patterns
// and every position's logits), recomputed here from their definitions.

#include <cmath>

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/attention_sinks.h"
#include "superlens/core/analysis/token_loss.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

const nlohmann::json& familyAnswers() {
    static const nlohmann::json s_refs = readJson(testData() / "families" / "refs.json");
    return s_refs;
}

std::shared_ptr<const ForwardResult> runFamily(Engine& engine, const std::vector<TokenId>& ids, std::vector<EditSpec> edits = {}) {
    ForwardRequest req;
    req.tokens = ids;
    req.edits = std::move(edits);
    req.record = HookSelection::patterns({"blocks.*.attn.hook_pattern"});
    req.allPositionLogits = true;
    auto r = engine.run(req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return *r;
}

class Families : public ::testing::TestWithParam<const char*> {};

TEST_P(Families, SinkMassIsTheMeanAttentionOnTheCarriersOverQueriesAfterTheFirst) {
    const std::string name = GetParam();
    const auto& ref = familyAnswers()[name];
    Engine engine(openModelOrDie(testData() / "families" / name));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    const std::int64_t T = static_cast<std::int64_t>(ids.size());
    auto run = runFamily(engine, ids);
    auto rep = attentionSinks(*run, {3, 3, 5});
    ASSERT_TRUE(rep.ok()) << rep.error().message;
    const int L = ref["layers"].get<int>(), H = ref["heads"].get<int>();
    ASSERT_EQ(rep->layers, L);
    ASSERT_EQ(rep->heads, H);
    EXPECT_EQ(rep->carriers, (std::vector<std::int64_t>{0, 3, 5}));
    for (int l = 0; l < L; ++l) {
        const auto& pattern = ref["hooks"]["blocks." + std::to_string(l) + ".attn.hook_pattern"];  // [H][T][T], float64
        for (int h = 0; h < H; ++h) {
            double first = 0, carriers = 0;
            for (std::int64_t q = 1; q < T; ++q) {
                first += pattern[h][q][0].get<double>();
                carriers += pattern[h][q][0].get<double>() + pattern[h][q][3].get<double>() + pattern[h][q][5].get<double>();
            }
            EXPECT_NEAR(rep->firstTokenMass[l][h], first / static_cast<double>(T - 1), 2e-5) << name << " L" << l << " H" << h;
            EXPECT_NEAR(rep->carrierMass[l][h], carriers / static_cast<double>(T - 1), 2e-5);
        }
    }
}

TEST_P(Families, TokenLossIsTheNegativeLogLikelihoodOfTheNextToken) {
    const std::string name = GetParam();
    const auto& ref = familyAnswers()[name];
    Engine engine(openModelOrDie(testData() / "families" / name));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    auto run = runFamily(engine, ids);
    auto loss = tokenLosses(*run);
    ASSERT_TRUE(loss.ok()) << loss.error().message;
    ASSERT_EQ(loss->size(), ids.size());
    EXPECT_TRUE(std::isnan((*loss)[0]));
    for (std::size_t t = 1; t < ids.size(); ++t) {
        std::vector<double> row;
        for (const auto& v : ref["logits_all"][t - 1]) row.push_back(v.get<double>());
        const double want = -logSoftmax64(row)[static_cast<std::size_t>(ids[t])];
        EXPECT_NEAR((*loss)[t], want, 1e-4 * std::max(1.0, want)) << name << " t" << t;
    }
}

INSTANTIATE_TEST_SUITE_P(AttentionAndLoss, Families, ::testing::Values("gpt2-f32", "gemma2-f32", "phi-f32", "qwen3-bf16", "pythia-f16"));

TEST(AttentionSinks, ZeroingTheDemoSuperWeightTakesSinksAway) {
    Engine engine(openModelOrDie(demoModel()));
    const std::vector<TokenId> ids{1, 450, 783, 310, 344, 338, 17, 93, 1200, 29};
    auto original = runFamily(engine, ids);
    auto edits = parseEdits({"model.layers.1.mlp.down_proj.weight[87,233]=0"}, engine.model());
    ASSERT_TRUE(edits.ok());
    auto edited = runFamily(engine, ids, *edits);
    auto a = attentionSinks(*original);
    auto b = attentionSinks(*edited);
    ASSERT_TRUE(a.ok() && b.ok());
    // Blocks up to the edited one attend exactly as before.
    for (int l = 0; l <= 1; ++l) EXPECT_EQ(a->firstTokenMass[l], b->firstTokenMass[l]);
    auto lost = lostSinks(*a, *b);
    ASSERT_TRUE(lost.ok());
    for (const auto& c : *lost) {
        EXPECT_GE(c.layer, 2);
        EXPECT_GE(c.original, 0.3);
        EXPECT_LT(c.edited, 0.5 * c.original);
        EXPECT_EQ(c.original, a->firstTokenMass[c.layer][c.head]);
        EXPECT_EQ(c.edited, b->firstTokenMass[c.layer][c.head]);
    }
    for (std::size_t i = 1; i < lost->size(); ++i) EXPECT_GE((*lost)[i - 1].original - (*lost)[i - 1].edited, (*lost)[i].original - (*lost)[i].edited);
}

TEST(AttentionSinks, LostSinksFollowTheThresholds) {
    AttentionSinkReport a, b;
    a.layers = b.layers = 1;
    a.heads = b.heads = 4;
    a.firstTokenMass = {{0.9, 0.9, 0.2, 0.6}};
    b.firstTokenMass = {{0.1, 0.5, 0.0, 0.2}};
    a.carrierMass = a.firstTokenMass;
    b.carrierMass = b.firstTokenMass;
    auto lost = lostSinks(a, b);
    ASSERT_TRUE(lost.ok());
    ASSERT_EQ(lost->size(), 2u);  // head 1 keeps > half, head 2 was no sink
    EXPECT_EQ((*lost)[0].head, 0);  // drop 0.8 before drop 0.4
    EXPECT_EQ((*lost)[1].head, 3);
    b.heads = 3;
    EXPECT_FALSE(lostSinks(a, b).ok());
}

TEST(AttentionSinks, ClearErrors) {
    Engine engine(openModelOrDie(demoModel()));
    ForwardRequest req;
    req.tokens = {1, 450, 783};
    auto plain = engine.run(req);
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE(attentionSinks(**plain).ok());
    EXPECT_FALSE(tokenLosses(**plain).ok());  // last-position logits only
    auto run = runFamily(engine, {1, 450, 783});
    auto far = attentionSinks(*run, {3});
    ASSERT_FALSE(far.ok());
    EXPECT_NE(far.error().message.find("carrier token 3"), std::string::npos);
}

TEST(TokenLoss, LargestChangesFirst) {
    const double nan = std::nan("");
    auto c = largestLossChanges({nan, 1.0, 2.0, 3.0, 1.0}, {nan, 1.5, 0.0, 3.0, 0.5}, 3);
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->size(), 3u);
    EXPECT_EQ((*c)[0].position, 2);
    EXPECT_DOUBLE_EQ((*c)[0].delta(), -2.0);
    EXPECT_EQ((*c)[1].position, 1);  // |0.5| tie: earlier position first
    EXPECT_EQ((*c)[2].position, 4);
    EXPECT_FALSE(largestLossChanges({1.0}, {1.0, 2.0}, 3).ok());
}

}  // namespace
