// Golden tests of the mixture-of-experts families (Mixtral, Qwen2-MoE with its
// shared expert, Qwen3-MoE, OLMoE): logits, every hook (router probabilities,
// selected experts, per-expert pre/post/out, shared expert), the routing with
// its near ties, edits inside experts, expert removal (expert:L:E=off, :renorm),
// incremental recompute and KV-cached generation, against the float64
// Hugging Face forward of scripts/fixtures/make_moe_models.py
// (tests/data/moe/refs.json).

#include <cmath>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "golden_compare.h"
#include "engine_runs.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::flatten;
using superlens::test::relativeMaxError;
using superlens::test::testData;

namespace {

const nlohmann::json& moeAnswers() { return superlens::test::folderAnswers("moe"); }

const char* kMoeModels[] = {"mixtral-bf16", "qwen2-moe-f32", "qwen3-moe-f16", "olmoe-f32"};

constexpr double kTolerance = 1e-4;

class MoeGolden : public superlens::test::GoldenFixture {
protected:
    void SetUp() override {
        open("moe");
    }
    std::shared_ptr<const ForwardResult> run(const std::vector<std::string>& specs, HookSelection record = HookSelection::none(),
                                             std::shared_ptr<const ForwardResult> previous = nullptr) {
        return superlens::test::runWithEdits(*m_engine, ids(), specs, std::move(previous), std::move(record));
    }

};

TEST_P(MoeGolden, ConfigIsReadAsTheFamilyDefines) {
    const auto& ref = *m_ref;
    const ExpertsRecipe& e = m_model->config().experts;
    EXPECT_EQ(e.count, ref["experts"].get<int>());
    EXPECT_EQ(e.topK, ref["top_k"].get<int>());
    EXPECT_EQ(e.intermediate, ref["expert_intermediate"].get<int>());
    EXPECT_EQ(e.sharedIntermediate, ref["shared_intermediate"].get<int>());
    EXPECT_EQ(e.renormalize, ref["renormalize"].get<bool>());
    std::vector<int> routed;
    for (int l = 0; l < m_model->config().numLayers; ++l) {
        if (m_model->config().isExpertLayer(l)) routed.push_back(l);
    }
    EXPECT_EQ(routed, ref["routed_layers"].get<std::vector<int>>());
}

TEST_P(MoeGolden, LogitsAndEveryHookMatchReference) {
    const auto& ref = *m_ref;
    auto result = run({}, HookSelection::all());
    ASSERT_NE(result, nullptr);
    const double logitErr = relativeMaxError(result->logits.values, flatten(ref["logits_all"]));
    std::printf("%s %s logits rel error %.3g\n", m_name, std::get<1>(GetParam()) == Precision::Float64 ? "f64" : "f32", logitErr);
    EXPECT_LT(logitErr, kTolerance);
    for (const auto& [hook, values] : ref["hooks"].items()) {
        const ActivationTensor* a = result->activation(hook);
        ASSERT_NE(a, nullptr) << m_name << " did not record " << hook;
        EXPECT_LT(relativeMaxError(a->values, flatten(values)), kTolerance) << m_name << " " << hook;
    }
    for (const auto& [point, tensor] : result->activations) {
        EXPECT_TRUE(ref["hooks"].contains(hookName(point))) << m_name << " recorded " << hookName(point) << " which the reference lacks";
    }
}

TEST_P(MoeGolden, RoutingMatchesReferenceIncludingNearTies) {
    // The selected experts, in top-k order, for every token of every routed
    // layer; the near ties (k-th vs (k+1)-th probability within 0.2 %) included.
    const auto& ref = *m_ref;
    auto result = run({}, HookSelection::patterns({"blocks.*.mlp.hook_expert_indices"}));
    ASSERT_NE(result, nullptr);
    for (const auto& [layer, routing] : ref["routing"].items()) {
        const ActivationTensor* got = result->activation("blocks." + layer + ".mlp.hook_expert_indices");
        ASSERT_NE(got, nullptr) << layer;
        const std::vector<double> want = flatten(routing["indices"]);
        ASSERT_EQ(got->values.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got->values[i], want[i]) << m_name << " layer " << layer << " entry " << i;
    }
    ASSERT_FALSE(ref["near_ties"].empty());
    EXPECT_LT(ref["near_ties"][0]["relative_gap"].get<double>(), 2e-3);
}

TEST_P(MoeGolden, EditsInsideExpertsAndExpertRemovalMatchReference) {
    const auto& ref = *m_ref;
    for (const char* key : {"edited_expert_weight", "expert_off", "expert_off_renorm"}) {
        const std::string spec = ref[key]["edit"].get<std::string>();
        auto result = run({spec});
        ASSERT_NE(result, nullptr) << spec;
        EXPECT_LT(relativeMaxError(result->logits.values, flatten(ref[key]["logits_all"])), kTolerance) << m_name << " " << spec;
        EXPECT_GT(ref[key]["relative_change"].get<double>(), 1e-3) << spec << " should change the logits visibly";
    }
}

TEST_P(MoeGolden, IncrementalRecomputeIsBitIdentical) {
    const auto& ref = *m_ref;
    const HookSelection record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto base = run({}, record);
    ASSERT_NE(base, nullptr);
    for (const char* key : {"expert_off", "edited_expert_weight"}) {
        const std::string spec = ref[key]["edit"].get<std::string>();
        auto full = run({spec}, record);
        auto incremental = run({spec}, record, base);
        ASSERT_NE(full, nullptr);
        ASSERT_NE(incremental, nullptr);
        const int layer = ref["routed_layers"].back().get<int>();
        EXPECT_EQ(incremental->recomputedFromStage, 1 + layer) << spec;
        EXPECT_EQ(incremental->logits.values, full->logits.values) << spec;
        // Undo: back to the unedited edits list restarts at the same block and restores the logits exactly.
        auto undone = run({}, record, incremental);
        ASSERT_NE(undone, nullptr);
        EXPECT_EQ(undone->recomputedFromStage, 1 + layer);
        EXPECT_EQ(undone->logits.values, base->logits.values);
    }
}

TEST_P(MoeGolden, KvCachedGenerationAgreesWithFullPasses) {
    const std::vector<TokenId> prompt = ids();
    GenerateRequest g;
    g.prompt = prompt;
    g.maxNewTokens = 3;
    auto gen = m_engine->generate(g);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    std::vector<TokenId> seq = prompt;
    for (TokenId next : gen->tokens) {
        ForwardRequest req;
        req.tokens = seq;
        auto r = m_engine->run(req);
        ASSERT_TRUE(r.ok()) << r.error().message;
        const auto last = (*r)->lastLogits();
        EXPECT_EQ(static_cast<TokenId>(std::max_element(last.begin(), last.end()) - last.begin()), next) << m_name;
        seq.push_back(next);
    }
}

std::string paramName(const ::testing::TestParamInfo<std::tuple<const char*, Precision>>& info) {
    std::string n = std::get<0>(info.param);
    for (char& ch : n) if (ch == '-') ch = '_';
    return n + (std::get<1>(info.param) == Precision::Float64 ? "_f64" : "_f32");
}

INSTANTIATE_TEST_SUITE_P(AllMoeFamilies, MoeGolden,
                         ::testing::Combine(::testing::ValuesIn(kMoeModels), ::testing::Values(Precision::Float32, Precision::Float64)),
                         paramName);

TEST(MoeNames, ExpertTensorsAsTheHubFilesStoreThem) {
    auto mixtral = Model::open(testData() / "moe" / "mixtral-bf16");
    auto qwen2 = Model::open(testData() / "moe" / "qwen2-moe-f32");
    ASSERT_TRUE(mixtral.ok() && qwen2.ok());
    EXPECT_EQ((*mixtral)->expertWeightName(1, 2, ExpertWeight::Down), "model.layers.1.block_sparse_moe.experts.2.w2.weight");
    EXPECT_EQ((*mixtral)->expertWeightName(1, 2, ExpertWeight::Gate), "model.layers.1.block_sparse_moe.experts.2.w1.weight");
    EXPECT_EQ((*mixtral)->expertWeightName(1, 2, ExpertWeight::Up), "model.layers.1.block_sparse_moe.experts.2.w3.weight");
    EXPECT_EQ((*mixtral)->layerWeightName(1, LayerWeight::Router), "model.layers.1.block_sparse_moe.gate.weight");
    EXPECT_EQ((*mixtral)->downProjectionName(1), "");
    // Qwen2-MoE layer 1 is in mlp_only_layers: a dense MLP, no router.
    EXPECT_EQ((*qwen2)->downProjectionName(1), "model.layers.1.mlp.down_proj.weight");
    EXPECT_EQ((*qwen2)->layerWeightName(1, LayerWeight::Router), "");
    EXPECT_EQ((*qwen2)->expertWeightName(1, 0, ExpertWeight::Down), "");
    EXPECT_EQ((*qwen2)->layerWeightName(2, LayerWeight::SharedExpertGate), "model.layers.2.mlp.shared_expert_gate.weight");
    const TensorRole* role = (*qwen2)->tensorRole("model.layers.2.mlp.experts.5.down_proj.weight");
    ASSERT_NE(role, nullptr);
    EXPECT_EQ(role->layer, 2);
    EXPECT_EQ(role->expert, 5);
    EXPECT_TRUE(role->matrix);
    // The router is not quantized by RTN patterns.
    EXPECT_FALSE((*qwen2)->tensorRole("model.layers.2.mlp.gate.weight")->matrix);
}

TEST(MoeHooks, RoutedLayersHaveExpertHooksInsteadOfTheMlpHooks) {
    auto model = Model::open(testData() / "moe" / "qwen2-moe-f32");
    ASSERT_TRUE(model.ok()) << model.error().message;
    const HookLayout h = hookLayoutOf((*model)->config());
    EXPECT_TRUE(h.has({HookKind::ExpertWeights, 0}));
    EXPECT_TRUE(h.has({HookKind::ExpertOut, 0, 7}));
    EXPECT_TRUE(h.has({HookKind::SharedOut, 2}));
    EXPECT_TRUE(h.has({HookKind::MlpPost, 1}));        // the dense layer
    EXPECT_FALSE(h.has({HookKind::ExpertWeights, 1}));
    EXPECT_FALSE(h.has({HookKind::ExpertOut, 0, 8}));  // out of range
    EXPECT_NE(h.missingReason({HookKind::MlpPost, 0}).find("experts"), std::string::npos);
    for (const char* name : {"blocks.0.mlp.experts.3.hook_post", "blocks.2.mlp.shared_expert.hook_out", "blocks.0.mlp.hook_expert_indices"}) {
        const auto p = parseHookName(name);
        ASSERT_TRUE(p.has_value()) << name;
        EXPECT_EQ(hookName(*p), name);
    }
    EXPECT_FALSE(parseHookName("blocks.0.mlp.experts.03.hook_post").has_value());
    EXPECT_FALSE(parseHookName("blocks.0.mlp.experts.3.hook_mid").has_value());
    Engine engine(*model);
    ForwardRequest req;
    req.tokens = {1, 2, 3};
    req.record = HookSelection::patterns({"blocks.0.mlp.hook_post"});
    auto r = engine.run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("experts"), std::string::npos) << r.error().message;
    // Mixtral has no shared expert.
    auto mixtral = Model::open(testData() / "moe" / "mixtral-bf16");
    ASSERT_TRUE(mixtral.ok());
    EXPECT_NE(hookLayoutOf((*mixtral)->config()).missingReason({HookKind::SharedOut, 0}).find("shared"), std::string::npos);
}

TEST(MoeConfig, BadExpertFieldsAreRefusedWithTheFieldName) {
    const std::string base = R"({"model_type":"qwen2_moe","hidden_size":32,"intermediate_size":48,"num_hidden_layers":3,
        "num_attention_heads":4,"vocab_size":128)";
    auto tooMany = ModelConfig::parse(base + R"(,"num_experts":4,"num_experts_per_tok":5})", "config.json");
    ASSERT_FALSE(tooMany.ok());
    EXPECT_NE(tooMany.error().message.find("num_experts_per_tok"), std::string::npos) << tooMany.error().message;
    auto badLayer = ModelConfig::parse(base + R"(,"mlp_only_layers":[7]})", "config.json");
    ASSERT_FALSE(badLayer.ok());
    EXPECT_NE(badLayer.error().message.find("mlp_only_layers"), std::string::npos) << badLayer.error().message;
    auto huge = ModelConfig::parse(base + R"(,"num_experts":100000000})", "config.json");
    ASSERT_FALSE(huge.ok());
    EXPECT_NE(huge.error().message.find("num_experts"), std::string::npos) << huge.error().message;
    // decoder_sparse_step 2: layers 1 (and 3, ...) route; HF's defaults otherwise (60 experts, top 4, no renormalisation).
    auto step = ModelConfig::parse(base + R"(,"decoder_sparse_step":2})", "config.json");
    ASSERT_TRUE(step.ok()) << step.error().message;
    EXPECT_FALSE(step->isExpertLayer(0));
    EXPECT_TRUE(step->isExpertLayer(1));
    EXPECT_FALSE(step->isExpertLayer(2));
    EXPECT_EQ(step->experts.count, 60);
    EXPECT_EQ(step->experts.topK, 4);
    EXPECT_FALSE(step->experts.renormalize);
    EXPECT_EQ(step->experts.sharedIntermediate, 5632);
}

}  // namespace

namespace {

TEST(MoeEdits, ExpertRemovalParsesValidatesAndRoundTrips) {
    auto e = parseEdit(" expert:2:5=off:renorm ");
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(e->kind, EditKind::ExpertOff);
    EXPECT_EQ(e->expertLayer, 2);
    EXPECT_EQ(e->expert, 5);
    EXPECT_TRUE(e->renorm);
    EXPECT_EQ(e->text(), "expert:2:5=off:renorm");
    EXPECT_EQ(parseEdit("expert:0:1=off")->text(), "expert:0:1=off");
    for (const char* badSpec : {"expert:1=off", "expert:1:2=on", "expert:a:2=off", "expert:1:-2=off", "expert:1:2=off:keep", "expert:1:2"}) {
        auto b = parseEdit(badSpec);
        EXPECT_FALSE(b.ok()) << badSpec;
        if (!b.ok()) {
            EXPECT_NE(b.error().message.find(badSpec), std::string::npos) << b.error().message;
        }
    }
    auto qwen2 = Model::open(testData() / "moe" / "qwen2-moe-f32");
    ASSERT_TRUE(qwen2.ok());
    EXPECT_TRUE(parseEdits({"expert:2:7=off"}, **qwen2).ok());
    auto dense = parseEdits({"expert:1:0=off"}, **qwen2);  // mlp_only_layers
    ASSERT_FALSE(dense.ok());
    EXPECT_NE(dense.error().message.find("dense"), std::string::npos) << dense.error().message;
    auto range = parseEdits({"expert:2:8=off"}, **qwen2);
    ASSERT_FALSE(range.ok());
    EXPECT_NE(range.error().message.find("out of range"), std::string::npos) << range.error().message;
    auto indices = parseEdits({"blocks.0.mlp.hook_expert_indices[0,0]=1"}, **qwen2);
    ASSERT_FALSE(indices.ok());
    EXPECT_NE(indices.error().message.find("read-only"), std::string::npos) << indices.error().message;
    auto width = parseEdits({"blocks.0.mlp.experts.1.hook_post[*,24]=0"}, **qwen2);  // expert width 24
    ASSERT_FALSE(width.ok());
    EXPECT_TRUE(parseEdits({"blocks.0.mlp.experts.1.hook_post[*,23]=0", "blocks.2.mlp.shared_expert.hook_pre[*,39]=0"}, **qwen2).ok());
    // A dense model has no experts to remove.
    auto dense2 = Model::open(testData() / "families" / "qwen3-bf16");
    ASSERT_TRUE(dense2.ok());
    auto none = parseEdits({"expert:0:0=off"}, **dense2);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find("no routed experts"), std::string::npos) << none.error().message;
}

TEST(MoeEdits, ActivationEditsOnExpertHooksReachTheOutput) {
    // Zeroing an expert's whole output through its hook equals removing it.
    auto model = Model::open(testData() / "moe" / "olmoe-f32");
    ASSERT_TRUE(model.ok());
    Engine engine(*model, EngineOptions{Precision::Float64});
    const std::vector<TokenId> ids = moeAnswers()["olmoe-f32"]["ids"].get<std::vector<TokenId>>();
    auto runWith = [&](const std::string& spec) {
        ForwardRequest req;
        req.tokens = ids;
        req.edits = parseEdits({spec}, **model).value();
        return engine.run(req).value()->lastLogits();
    };
    const auto viaHook = runWith("blocks.1.mlp.experts.2.hook_out[*,*]=0");
    const auto viaOff = runWith("expert:1:2=off");
    ASSERT_EQ(viaHook.size(), viaOff.size());
    for (std::size_t i = 0; i < viaHook.size(); ++i) EXPECT_NEAR(viaHook[i], viaOff[i], 1e-6 * (1 + std::abs(viaOff[i])));
}

}  // namespace

#include "superlens/core/analysis/super_experts.h"

namespace {

TEST(SuperExperts, ProfileMatchesTheFloat64RuleAndFindsThePlantedExpert) {
    for (const char* name : kMoeModels) {
        const auto& ref = moeAnswers()[name];
        const auto& want = ref["expert_profile"];
        auto model = Model::open(testData() / "moe" / name);
        ASSERT_TRUE(model.ok()) << model.error().message;
        Engine engine(*model);
        auto profile = profileExperts(engine, {ref["ids"].get<std::vector<TokenId>>()});
        ASSERT_TRUE(profile.ok()) << profile.error().message;
        EXPECT_EQ(profile->layers, want["layers"].get<std::vector<int>>()) << name;
        ASSERT_EQ(profile->stats.size(), profile->layers.size() * 8u);
        for (std::size_t li = 0; li < profile->layers.size(); ++li) {
            for (int e = 0; e < profile->experts; ++e) {
                const ExpertStat& s = profile->at(li, e);
                const double w = want["max_abs_out"][li][e].get<double>();
                EXPECT_NEAR(s.maxAbsOut, w, 1e-4 * std::max(1.0, w)) << name << " layer " << s.layer << " expert " << e;
                EXPECT_EQ(s.load, want["load"][li][e].get<std::int64_t>()) << name << " layer " << s.layer << " expert " << e;
                if (s.load == 0) {
                    EXPECT_EQ(s.prompt, -1);
                }
            }
            EXPECT_EQ(profile->firstTokenExperts[li], want["first_token_experts"][li].get<std::vector<int>>()) << name;
        }
        EXPECT_NEAR(profile->threshold, want["threshold"].get<double>(), 1e-4 * want["threshold"].get<double>()) << name;
        std::vector<std::vector<int>> flagged;
        for (const ExpertStat& s : profile->superExperts) flagged.push_back({s.layer, s.expert});
        EXPECT_EQ(flagged, want["super_experts"].get<std::vector<std::vector<int>>>()) << name;
        if (!ref["planted_super_expert"].is_null()) {
            // The planted expert, and the output channel it amplifies.
            ASSERT_EQ(profile->superExperts.size(), 1u) << name;
            const ExpertStat& s = profile->superExperts.front();
            EXPECT_EQ(s.layer, ref["planted_super_expert"][0].get<int>());
            EXPECT_EQ(s.expert, ref["planted_super_expert"][1].get<int>());
            EXPECT_EQ(s.channel, ref["planted_super_expert"][2].get<std::int64_t>());
            EXPECT_EQ(profile->pruneEdits(), std::vector<std::string>{"expert:" + std::to_string(s.layer) + ":" + std::to_string(s.expert) + "=off"});
        }
    }
}

TEST(SuperExperts, PercentileIsNumpysLinearInterpolation) {
    // numpy.percentile([1, 2, 3, 4, 10], 99.5) = 4 + 0.98 * 6 = 9.88; 50 -> 3.
    EXPECT_NEAR(percentileLinear({10, 1, 3, 2, 4}, 99.5), 9.88, 1e-12);
    EXPECT_DOUBLE_EQ(percentileLinear({10, 1, 3, 2, 4}, 50), 3.0);
    EXPECT_DOUBLE_EQ(percentileLinear({7}, 99.5), 7.0);
}

TEST(SuperExperts, DenseModelsAreRefused) {
    auto model = Model::open(testData() / "families" / "qwen3-bf16");
    ASSERT_TRUE(model.ok());
    Engine engine(*model);
    auto p = profileExperts(engine, {{1, 2, 3}});
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message.find("mixture-of-experts"), std::string::npos) << p.error().message;
}

}  // namespace

namespace {

TEST(SuperExperts, SuperWeightInsideThePlantedExpertHasItsStoredCoordinates) {
    for (const char* name : {"mixtral-bf16", "olmoe-f32"}) {
        const auto& ref = moeAnswers()[name];
        const auto& want = ref["expert_profile"]["planted_super_weight"];
        auto model = Model::open(testData() / "moe" / name);
        ASSERT_TRUE(model.ok());
        Engine engine(*model);
        const std::vector<std::vector<TokenId>> prompts{ref["ids"].get<std::vector<TokenId>>()};
        auto profile = profileExperts(engine, prompts);
        ASSERT_TRUE(profile.ok()) << profile.error().message;
        auto sws = superWeightsInExperts(engine, *profile, prompts);
        ASSERT_TRUE(sws.ok()) << sws.error().message;
        ASSERT_EQ(sws->size(), 1u) << name;
        const ExpertSuperWeight& sw = sws->front();
        EXPECT_EQ(sw.tensor, want["tensor"].get<std::string>()) << name;
        EXPECT_EQ(sw.row, want["row"].get<std::int64_t>()) << name;
        EXPECT_EQ(sw.col, want["col"].get<std::int64_t>()) << name;
        EXPECT_EQ(sw.token, want["token"].get<std::int64_t>()) << name;
        EXPECT_NEAR(sw.value, want["value"].get<double>(), 1e-6 * std::abs(want["value"].get<double>())) << name;
        // The coordinate is an edit as it stands.
        EXPECT_TRUE(parseEdits({sw.tensor + "[" + std::to_string(sw.row) + "," + std::to_string(sw.col) + "]=0"}, **model).ok());
    }
}

}  // namespace
