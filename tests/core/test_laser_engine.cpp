// LASER through the Engine on the reference models: the edit reaches the
// forward pass as factors, incremental recompute starts at the edited layer,
// and removing the edit restores bit-identical logits.

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/laser.h"
#include "engine_runs.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::bitIdentical;
using superlens::test::maxAbsDiff;
using superlens::test::referenceAnswers;
using superlens::test::referenceModel;
using superlens::test::runWithEdits;

namespace {

class LaserEngine : public ::testing::TestWithParam<const char*> {};

TEST_P(LaserEngine, EditAppliesAndRemovalRestoresBitIdenticalLogits) {
    const char* name = GetParam();
    auto model = Model::open(referenceModel(name));
    ASSERT_TRUE(model.ok()) << model.error().message;
    const auto ids = referenceAnswers()[name]["ids"].get<std::vector<TokenId>>();
    Engine engine(*model);
    const std::string tensor = (*model)->layerWeightName(1, (*model)->config().fusedGateUp ? LayerWeight::GateUp : LayerWeight::Up);
    ASSERT_FALSE(tensor.empty());
    const std::string spec = "laser:" + tensor + ":rank=0.05";

    const auto original = runWithEdits(engine, ids, {});
    const auto edited = runWithEdits(engine, ids, {spec}, original);
    EXPECT_EQ(edited->recomputedFromStage, 2) << "an edit in layer 1 recomputes from block 1";
    const auto full = runWithEdits(engine, ids, {spec});
    EXPECT_TRUE(bitIdentical(edited->logits, full->logits)) << "incremental == full recompute";
    EXPECT_GT(maxAbsDiff(edited->logits, original->logits), 0.0);

    // The overlay holds the factors; the forward pass used them.
    auto edits = parseEdits({spec}, **model);
    auto w = engine.effectiveWeight(tensor, *edits);
    ASSERT_TRUE(w.ok());
    const auto lr = (*w)->lowRank();
    ASSERT_NE(lr.u, nullptr);
    const TensorView* view = (*model)->tensor(tensor);
    EXPECT_EQ(lr.u->cols(), laserRank(view->shape[0], view->shape[1], 0.05));

    // Remove the edit: from scratch and incrementally from the edited run.
    EXPECT_TRUE(bitIdentical(runWithEdits(engine, ids, {})->logits, original->logits));
    EXPECT_TRUE(bitIdentical(runWithEdits(engine, ids, {}, edited)->logits, original->logits));
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, LaserEngine,
                         ::testing::Values("llama-planted", "mistral-bf16-sharded", "phi3-bf16-two-super-weights", "qwen2-f16-tied"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& ch : n) if (ch == '-') ch = '_';
                             return n;
                         });

TEST(LaserEngine, FullRankIsTheOriginalModelUpToRounding) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok());
    const auto ids = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    Engine engine(*model);
    const auto original = runWithEdits(engine, ids, {});
    const auto full = runWithEdits(engine, ids, {"laser:model.layers.2.mlp.down_proj.weight:rank=1"});
    double maxLogit = 0;
    for (float v : original->logits.values) maxLogit = std::max(maxLogit, std::abs(static_cast<double>(v)));
    EXPECT_LT(maxAbsDiff(full->logits, original->logits), 1e-4 * maxLogit);
}

TEST(LaserEngine, RankOneOfTheSuperWeightLayerBreaksTheModel) {
    // rho = 0.01 keeps one direction of layer 1's down_proj: the planted super
    // weight dominates it, so the super activation survives while everything
    // else in that matrix is gone; the logits move, and the edit is undone exactly.
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok());
    const auto ids = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    Engine engine(*model);
    const auto original = runWithEdits(engine, ids, {});
    const auto reduced = runWithEdits(engine, ids, {"laser:model.layers.1.mlp.down_proj.weight:rank=0.01"});
    EXPECT_GT(maxAbsDiff(reduced->logits, original->logits), 1e-3);
    EXPECT_TRUE(bitIdentical(runWithEdits(engine, ids, {}, reduced)->logits, original->logits));
}

}  // namespace
