// Golden tests of every model family beyond Llama (GPT-2, GPT-J, GPT-NeoX,
// Phi, Qwen3, Gemma 2/3): logits, every hook, edits, KV-cached generation and
// the super-weight scan against the float64 Hugging Face forward of
// scripts/fixtures/make_family_models.py (tests/data/families/refs.json).

#include <cmath>

#include <gtest/gtest.h>

#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "golden_compare.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::flatten;
using superlens::test::relativeMaxError;
using superlens::test::testData;

namespace {


const char* kFamilyModels[] = {"gpt2-f32",  "gpt2-f16-noprefix", "gptj-bf16",  "pythia-f16",       "gpt-neox-sequential-f32",
                               "phi-f32",   "qwen3-bf16",        "gemma2-f32", "gemma3-text-bf16", "gemma3-multimodal-f32"};

class FamilyGolden : public superlens::test::GoldenFixture {
protected:
    void SetUp() override {
        open("families");
    }

};

constexpr double kTolerance = 1e-4;

TEST_P(FamilyGolden, LogitsAndEveryHookMatchReference) {
    const auto& ref = *m_ref;
    ForwardRequest req;
    req.tokens = ids();
    req.allPositionLogits = true;
    req.record = HookSelection::all();
    auto result = m_engine->run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;
    const double logitErr = relativeMaxError((*result)->logits.values, flatten(ref["logits_all"]));
    std::printf("%s %s logits rel error %.3g\n", m_name, std::get<1>(GetParam()) == Precision::Float64 ? "f64" : "f32", logitErr);
    EXPECT_LT(logitErr, kTolerance);
    EXPECT_LT(relativeMaxError((*result)->lastLogits(), flatten(ref["logits_last"])), kTolerance);

    ASSERT_FALSE(ref["hooks"].empty());
    for (const auto& [hook, values] : ref["hooks"].items()) {
        const ActivationTensor* a = (*result)->activation(hook);
        ASSERT_NE(a, nullptr) << m_name << " did not record " << hook;
        EXPECT_LT(relativeMaxError(a->values, flatten(values)), kTolerance) << m_name << " " << hook;
    }
    // Every hook the engine recorded is one the reference knows (no extra, no missing).
    for (const auto& [point, tensor] : (*result)->activations) {
        EXPECT_TRUE(ref["hooks"].contains(hookName(point))) << m_name << " recorded " << hookName(point) << " which the reference lacks";
    }
}

TEST_P(FamilyGolden, WeightEditsMatchReference) {
    const auto& ref = *m_ref;
    for (const char* key : {"edited", "edited_scale"}) {
        if (!ref.contains(key) || ref[key].is_null()) continue;
        const std::string spec = ref[key]["edit"].get<std::string>();
        auto edits = parseEdits({spec}, *m_model);
        ASSERT_TRUE(edits.ok()) << edits.error().message;
        ForwardRequest req;
        req.tokens = ids();
        req.allPositionLogits = true;
        req.edits = *edits;
        auto result = m_engine->run(req);
        ASSERT_TRUE(result.ok()) << result.error().message;
        EXPECT_LT(relativeMaxError((*result)->logits.values, flatten(ref[key]["logits_all"])), kTolerance) << m_name << " " << spec;
    }
}

TEST_P(FamilyGolden, KvCachedGenerationAgreesWithFullPasses) {
    // Greedy decoding through the KV cache (sliding windows, learned positions,
    // partial rotary) must pick what full recomputation picks.
    const std::vector<TokenId> prompt = ids();
    GenerateRequest g;
    g.prompt = prompt;
    g.maxNewTokens = 4;
    g.greedy = true;
    auto gen = m_engine->generate(g);
    ASSERT_TRUE(gen.ok()) << gen.error().message;
    std::vector<TokenId> seq = prompt;
    for (TokenId next : gen->tokens) {
        ForwardRequest req;
        req.tokens = seq;
        auto r = m_engine->run(req);
        ASSERT_TRUE(r.ok()) << r.error().message;
        const auto last = (*r)->lastLogits();
        const auto best = static_cast<TokenId>(std::max_element(last.begin(), last.end()) - last.begin());
        EXPECT_EQ(best, next) << m_name << " at length " << seq.size();
        seq.push_back(next);
    }
}

TEST_P(FamilyGolden, ScanFindsThePlantedSuperWeightInStoredCoordinates) {
    const auto& ref = *m_ref;
    if (!ref.contains("planted") || ref["planted"].empty()) GTEST_SKIP() << "no planted weight";
    auto scan = scanSuperWeights(*m_engine, ids(), {});
    ASSERT_TRUE(scan.ok()) << scan.error().message;
    ASSERT_FALSE(scan->superWeights.empty()) << m_name;
    const SuperWeight& sw = scan->superWeights.front();
    const auto& p = ref["planted"][0];
    EXPECT_EQ(sw.layer, p["layer"].get<int>());
    EXPECT_EQ(sw.row, p["row"].get<std::int64_t>());
    EXPECT_EQ(sw.col, p["col"].get<std::int64_t>());
    EXPECT_EQ(sw.outputAxis, p["output_axis"].get<int>());
    EXPECT_EQ(sw.outputChannel(), p["output_channel"].get<std::int64_t>());
    EXPECT_EQ(sw.tensorName(*m_model), p["tensor"].get<std::string>());
    EXPECT_EQ(m_model->downOutputAxis(), p["output_axis"].get<int>());
    // The zeroing edit the scan proposes parses against the stored tensor.
    auto zero = parseEdits({sw.zeroEdit(*m_model)}, *m_model);
    EXPECT_TRUE(zero.ok()) << sw.zeroEdit(*m_model);
}

std::string paramName(const ::testing::TestParamInfo<std::tuple<const char*, Precision>>& info) {
    std::string n = std::get<0>(info.param);
    for (char& ch : n) if (ch == '-') ch = '_';
    return n + (std::get<1>(info.param) == Precision::Float64 ? "_f64" : "_f32");
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, FamilyGolden,
                         ::testing::Combine(::testing::ValuesIn(kFamilyModels), ::testing::Values(Precision::Float32, Precision::Float64)),
                         paramName);

// Hooks a family lacks are refused by name, with the reason.
TEST(FamilyHooks, ParallelBlocksHaveNoResidMid) {
    for (const char* name : {"gptj-bf16", "phi-f32", "pythia-f16"}) {
        auto model = Model::open(testData() / "families" / name);
        ASSERT_TRUE(model.ok()) << model.error().message;
        EXPECT_FALSE((*model)->config().hasResidMid()) << name;
        Engine engine(*model);
        ForwardRequest req;
        req.tokens = {1, 2, 3};
        req.record = HookSelection::patterns({"blocks.0.hook_resid_mid"});
        auto r = engine.run(req);
        ASSERT_FALSE(r.ok()) << name;
        EXPECT_NE(r.error().message.find("parallel"), std::string::npos) << r.error().message;
        // The default capture set asks only for what the model has.
        req.record = HookSelection::captureDefault();
        auto d = engine.run(req);
        ASSERT_TRUE(d.ok()) << d.error().message;
        EXPECT_EQ(d.value()->activation("blocks.0.hook_resid_mid"), nullptr);
        EXPECT_NE(d.value()->activation("blocks.0.hook_resid_post"), nullptr);
        // An activation edit on the missing hook is refused the same way.
        auto e = parseEdits({"blocks.0.hook_resid_mid[0,0]=0"}, **model);
        ASSERT_FALSE(e.ok());
        EXPECT_NE(e.error().message.find("parallel"), std::string::npos) << e.error().message;
    }
}

TEST(FamilyHooks, OnlyLearnedPositionsHavePosEmbed) {
    auto gpt2 = Model::open(testData() / "families" / "gpt2-f32");
    auto qwen3 = Model::open(testData() / "families" / "qwen3-bf16");
    ASSERT_TRUE(gpt2.ok() && qwen3.ok());
    EXPECT_TRUE(hookLayoutOf((*gpt2)->config()).has({HookKind::PosEmbed, -1}));
    const HookLayout q = hookLayoutOf((*qwen3)->config());
    EXPECT_FALSE(q.has({HookKind::PosEmbed, -1}));
    EXPECT_NE(q.missingReason({HookKind::PosEmbed, -1}).find("rotary"), std::string::npos);
}

TEST(FamilyPositions, LearnedPositionsEndAtTheirTable) {
    auto model = Model::open(testData() / "families" / "gpt2-f32");
    ASSERT_TRUE(model.ok()) << model.error().message;
    Engine engine(*model);
    ForwardRequest req;
    req.tokens.assign(static_cast<std::size_t>((*model)->config().maxPositionEmbeddings) + 1, 1);
    auto r = engine.run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("position embeddings"), std::string::npos) << r.error().message;
}

// The names each family reads, and where the super-weight scan looks.
TEST(FamilyNames, DownProjectionPerFamily) {
    const std::pair<const char*, const char*> expected[] = {
        {"gpt2-f32", "transformer.h.1.mlp.c_proj.weight"},
        {"gpt2-f16-noprefix", "h.1.mlp.c_proj.weight"},
        {"gptj-bf16", "transformer.h.1.mlp.fc_out.weight"},
        {"pythia-f16", "gpt_neox.layers.1.mlp.dense_4h_to_h.weight"},
        {"phi-f32", "model.layers.1.mlp.fc2.weight"},
        {"qwen3-bf16", "model.layers.1.mlp.down_proj.weight"},
        {"gemma2-f32", "model.layers.1.mlp.down_proj.weight"},
    };
    for (const auto& [folder, down] : expected) {
        auto model = Model::open(testData() / "families" / folder);
        ASSERT_TRUE(model.ok()) << model.error().message;
        EXPECT_EQ((*model)->downProjectionName(1), down) << folder;
        // RTN's default pattern covers every block matrix and nothing else.
        const std::string pattern = (*model)->layerTensorPattern();
        EXPECT_TRUE(globMatch(pattern, down)) << pattern;
        EXPECT_FALSE(globMatch(pattern, (*model)->modelWeightName(ModelWeight::Embed))) << pattern;
    }
}

}  // namespace
