// Logit lens: the last layer's row is the model's own output (bit for bit),
// every layer against a float64 final norm + unembedding of the reference
// forward's residuals (refs.json, llama-planted), edits reach the lens, and
// reusing a previous lens changes nothing.

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/logit_lens.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

std::shared_ptr<const ForwardResult> runLens(Engine& engine, const std::vector<TokenId>& ids, std::vector<EditSpec> edits = {},
                                             std::shared_ptr<const ForwardResult> previous = nullptr) {
    ForwardRequest req;
    req.tokens = ids;
    req.edits = std::move(edits);
    req.record = logitLensHooks();
    req.allPositionLogits = true;
    req.previous = std::move(previous);
    auto r = engine.run(req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return *r;
}

// Softmax in float64 straight from the definition.
std::vector<double> softmax64(const std::vector<double>& row) {
    auto ls = logSoftmax64(row);
    for (double& x : ls) x = std::exp(x);
    return ls;
}

void expectLastLayerIsOutput(Engine& engine, const ForwardResult& run) {
    const int L = engine.model().config().numLayers;
    const std::int64_t T = static_cast<std::int64_t>(run.tokens.size());
    // The unembedding of the final residual is the run's logits, bit for bit.
    auto logits = engine.unembed(*run.activation(HookPoint{HookKind::ResidPost, L - 1}), run.edits);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    EXPECT_EQ(logits->shape, run.logits.shape);
    EXPECT_TRUE(logits->values == run.logits.values);
    auto lens = logitLens(engine, run, {.position = -1, .topK = 5});
    ASSERT_TRUE(lens.ok()) << lens.error().message;
    const LensLayer* last = lens->layer(L - 1);
    ASSERT_NE(last, nullptr);
    const auto p = softmax64(rowOf(run.logits, T - 1));
    const auto best = std::max_element(p.begin(), p.end()) - p.begin();
    EXPECT_EQ(lens->finalToken, best);
    EXPECT_EQ(last->top.front().id, best);
    EXPECT_EQ(last->finalRank, 0);
    for (const auto& tok : last->top) EXPECT_NEAR(tok.prob, p[static_cast<std::size_t>(tok.id)], 1e-15);
    for (std::int64_t t = 0; t < T; ++t) {
        const auto q = softmax64(rowOf(run.logits, t));
        const auto b = std::max_element(q.begin(), q.end()) - q.begin();
        EXPECT_EQ(lens->top1Id[static_cast<std::size_t>(L)][static_cast<std::size_t>(t)], b);
        EXPECT_NEAR(lens->top1Prob[static_cast<std::size_t>(L)][static_cast<std::size_t>(t)], q[static_cast<std::size_t>(b)], 1e-15);
    }
}

TEST(LogitLens, LastLayerIsTheModelsOwnOutputOnTheDemoModel) {
    Engine engine(openModelOrDie(demoModel()));
    const std::vector<TokenId> ids{1, 450, 783, 310, 344, 338, 17, 93};
    auto run = runLens(engine, ids);
    expectLastLayerIsOutput(engine, *run);
    // Edited: zero a the super weight, and a channel after block 3; the lens follows the edited run.
    auto edits = parseEdits({"model.layers.1.mlp.down_proj.weight[87,233]=0", "blocks.3.hook_mlp_out[*,5]=0"}, engine.model(), 8);
    ASSERT_TRUE(edits.ok()) << edits.error().message;
    auto edited = runLens(engine, ids, *edits, run);
    expectLastLayerIsOutput(engine, *edited);
}

TEST(LogitLens, MatchesFloat64FinalNormAndUnembeddingOfTheReferenceResiduals) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    const std::int64_t T = static_cast<std::int64_t>(ids.size());
    auto run = runLens(engine, ids);
    const int L = ref["layers"].get<int>();
    const std::int64_t d = ref["hidden"].get<std::int64_t>();
    const RowMatrixF normW = engine.storedWeight("model.norm.weight")->toDense();
    const RowMatrixF head = engine.storedWeight("lm_head.weight")->toDense();
    const std::int64_t V = head.rows();
    const double eps = engine.model().config().normEps;
    for (std::int64_t P : {std::int64_t{0}, T / 2, T - 1}) {
        auto lens = logitLens(engine, *run, {.position = P, .topK = 4});
        ASSERT_TRUE(lens.ok()) << lens.error().message;
        EXPECT_EQ(lens->position, P);
        ASSERT_EQ(static_cast<int>(lens->layers.size()), L + 1);
        std::vector<double> finalP;
        for (int l = L - 1; l >= 0; --l) {  // the last layer first: its top-1 is the final prediction
            const auto resid = flatten(ref["hooks"]["blocks." + std::to_string(l) + ".hook_resid_post"]);
            // LlamaRMSNorm then lm_head, in float64.
            double ms = 0;
            for (std::int64_t c = 0; c < d; ++c) ms += resid[static_cast<std::size_t>(P * d + c)] * resid[static_cast<std::size_t>(P * d + c)];
            const double inv = 1.0 / std::sqrt(ms / static_cast<double>(d) + eps);
            std::vector<double> logits(static_cast<std::size_t>(V), 0.0);
            for (std::int64_t v = 0; v < V; ++v) {
                double acc = 0;
                for (std::int64_t c = 0; c < d; ++c) acc += head(v, c) * (resid[static_cast<std::size_t>(P * d + c)] * inv * normW(0, c));
                logits[static_cast<std::size_t>(v)] = acc;
            }
            const auto p = softmax64(logits);
            if (l == L - 1) finalP = p;
            const auto finalId = std::max_element(finalP.begin(), finalP.end()) - finalP.begin();
            const LensLayer* row = lens->layer(l);
            ASSERT_NE(row, nullptr);
            ASSERT_EQ(row->top.size(), 4u);
            std::vector<std::int64_t> order(static_cast<std::size_t>(V));
            std::iota(order.begin(), order.end(), 0);
            std::sort(order.begin(), order.end(), [&](auto a, auto b) { return p[a] > p[b]; });
            for (int i = 0; i < 4; ++i) {
                EXPECT_EQ(row->top[static_cast<std::size_t>(i)].id, order[static_cast<std::size_t>(i)]) << "layer " << l << " P " << P;
                EXPECT_NEAR(row->top[static_cast<std::size_t>(i)].prob, p[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])], 2e-5);
            }
            double h = 0;
            for (double q : p) h -= q > 0 ? q * std::log(q) : 0.0;
            EXPECT_NEAR(row->entropy, h, 1e-4);
            EXPECT_EQ(lens->finalToken, finalId);
            EXPECT_NEAR(row->finalProb, p[static_cast<std::size_t>(finalId)], 2e-5);
            const auto rank = std::find(order.begin(), order.end(), finalId) - order.begin();
            EXPECT_EQ(row->finalRank, rank);
            EXPECT_NEAR(lens->top1Prob[static_cast<std::size_t>(l + 1)][static_cast<std::size_t>(P)], p[static_cast<std::size_t>(order[0])], 2e-5);
        }
    }
}

TEST(LogitLens, ReusingThePreviousLensGivesTheSameResult) {
    Engine engine(openModelOrDie(demoModel()));
    const std::vector<TokenId> ids{1, 450, 783, 310, 344, 338};
    auto run = runLens(engine, ids);
    auto edits = parseEdits({"model.layers.3.mlp.down_proj.weight[7,9]=0"}, engine.model(), 6);
    ASSERT_TRUE(edits.ok());
    auto edited = runLens(engine, ids, *edits, run);
    ASSERT_EQ(edited->recomputedFromStage, 4);  // blocks 0..2 shared with the original run
    auto base = logitLens(engine, *run);
    ASSERT_TRUE(base.ok());
    const LogitLensOptions all{.position = 2, .topK = 6, .allPositions = true};
    auto baseAll = logitLens(engine, *run, all);
    ASSERT_TRUE(baseAll.ok());
    auto freshAll = logitLens(engine, *edited, all);
    auto reusedAll = logitLens(engine, *edited, all, RunControl::none(), &*baseAll, run.get());
    ASSERT_TRUE(freshAll.ok() && reusedAll.ok());
    ASSERT_EQ(freshAll->perPosition.size(), ids.size());
    EXPECT_EQ(freshAll->finalTokens, reusedAll->finalTokens);
    for (std::size_t t = 0; t < ids.size(); ++t) {
        for (std::size_t l = 0; l < freshAll->layers.size(); ++l) {
            const auto& a = freshAll->perPosition[t][l];
            const auto& b = reusedAll->perPosition[t][l];
            EXPECT_EQ(a.entropy, b.entropy);
            EXPECT_EQ(a.finalProb, b.finalProb);
            EXPECT_EQ(a.top.front().id, b.top.front().id);
            EXPECT_EQ(a.top.front().prob, freshAll->top1Prob[l][t]);  // the heatmap is the rows' top-1
        }
    }
    // The rows at `position` are that position's per-position rows; the final token is its last layer's top-1.
    for (std::size_t l = 0; l < freshAll->layers.size(); ++l) EXPECT_EQ(freshAll->layers[l].entropy, freshAll->perPosition[2][l].entropy);
    EXPECT_EQ(freshAll->finalToken, freshAll->finalTokens[2]);
    EXPECT_EQ(freshAll->finalTokens[5], freshAll->top1Id.back()[5]);

    auto fresh = logitLens(engine, *edited);
    auto reused = logitLens(engine, *edited, {}, RunControl::none(), &*base, run.get());
    ASSERT_TRUE(fresh.ok() && reused.ok());
    EXPECT_EQ(fresh->finalToken, reused->finalToken);
    EXPECT_EQ(fresh->top1Prob, reused->top1Prob);
    EXPECT_EQ(fresh->top1Id, reused->top1Id);
    for (std::size_t i = 0; i < fresh->layers.size(); ++i) {
        EXPECT_EQ(fresh->layers[i].entropy, reused->layers[i].entropy);
        EXPECT_EQ(fresh->layers[i].finalRank, reused->layers[i].finalRank);
        ASSERT_EQ(fresh->layers[i].top.size(), reused->layers[i].top.size());
        for (std::size_t k = 0; k < fresh->layers[i].top.size(); ++k) EXPECT_EQ(fresh->layers[i].top[k].id, reused->layers[i].top[k].id);
    }
}

TEST(LogitLens, ClearErrors) {
    Engine engine(openModelOrDie(demoModel()));
    ForwardRequest req;
    req.tokens = {1, 450, 783};
    auto plain = engine.run(req);
    ASSERT_TRUE(plain.ok());
    auto missing = logitLens(engine, **plain);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("blocks.0.hook_resid_pre"), std::string::npos) << missing.error().message;
    auto run = runLens(engine, {1, 450, 783});
    auto far = logitLens(engine, *run, {.position = 3});
    ASSERT_FALSE(far.ok());
    EXPECT_NE(far.error().message.find("position 3"), std::string::npos);
    auto badK = logitLens(engine, *run, {.position = -1, .topK = 0});
    EXPECT_FALSE(badK.ok());
    ActivationTensor wrong;
    wrong.shape = {2, 3};
    wrong.values.assign(6, 0.0f);
    EXPECT_FALSE(engine.unembed(wrong, {}).ok());
}

}  // namespace
