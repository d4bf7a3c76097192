// Golden tests of the bidirectional encoders (BERT, RoBERTa, XLM-RoBERTa):
// MLM logits at every position and every hook against the float64 Hugging
// Face forward of scripts/fixtures/make_encoder_models.py
// (tests/data/encoders/refs.json), RoBERTa's position ids around padding,
// weight edits, the RoBERTa tokenizer's <mask> prompt, and the refusals of
// left-to-right measures.

#include <cmath>

#include <gtest/gtest.h>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "golden_compare.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::flatten;
using superlens::test::relativeMaxError;
using superlens::test::testData;

namespace {

const nlohmann::json& encoderAnswers() { return superlens::test::folderAnswers("encoders"); }

const char* kEncoderModels[] = {"roberta-f32", "bert-f16", "xlm-roberta-bf16"};

constexpr double kTolerance = 1e-4;

class EncoderGolden : public superlens::test::GoldenFixture {
protected:
    void SetUp() override {
        open("encoders");
    }
};

TEST_P(EncoderGolden, MlmLogitsAndEveryHookMatchReference) {
    for (const auto& prompt : (*m_ref)["prompts"]) {
        ForwardRequest req;
        req.tokens = prompt["ids"].get<std::vector<TokenId>>();
        req.allPositionLogits = true;
        req.record = HookSelection::all();
        auto result = m_engine->run(req);
        ASSERT_TRUE(result.ok()) << result.error().message;
        const double err = relativeMaxError((*result)->logits.values, flatten(prompt["logits_all"]));
        std::printf("%s %s (%zu tokens) MLM logits rel error %.3g\n", m_name, std::get<1>(GetParam()) == Precision::Float64 ? "f64" : "f32",
                    req.tokens.size(), err);
        EXPECT_LT(err, kTolerance);
        for (const auto& [hook, values] : prompt["hooks"].items()) {
            const ActivationTensor* a = (*result)->activation(hook);
            ASSERT_NE(a, nullptr) << m_name << " did not record " << hook;
            EXPECT_LT(relativeMaxError(a->values, flatten(values)), kTolerance) << m_name << " " << hook;
        }
        for (const auto& [point, tensor] : (*result)->activations) {
            EXPECT_TRUE(prompt["hooks"].contains(hookName(point))) << m_name << " recorded " << hookName(point) << " which the reference lacks";
        }
        // Bidirectional: the first query attends to the last key.
        const ActivationTensor* pattern = (*result)->activation("blocks.0.attn.hook_pattern");
        ASSERT_NE(pattern, nullptr);
        const std::int64_t T = static_cast<std::int64_t>(req.tokens.size());
        EXPECT_GT(pattern->values[static_cast<std::size_t>(T - 1)], 0.0f);
    }
}

TEST_P(EncoderGolden, WeightEditMatchesReference) {
    const auto& ref = *m_ref;
    auto edits = parseEdits({ref["edited"]["edit"].get<std::string>()}, *m_model);
    ASSERT_TRUE(edits.ok()) << edits.error().message;
    ForwardRequest req;
    req.tokens = ref["prompts"][0]["ids"].get<std::vector<TokenId>>();
    req.allPositionLogits = true;
    req.edits = *edits;
    auto result = m_engine->run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_LT(relativeMaxError((*result)->logits.values, flatten(ref["edited"]["logits_all"])), kTolerance);
    // Incremental recompute from the edited block equals the full run.
    ForwardRequest base = req;
    base.edits.clear();
    auto unedited = m_engine->run(base);
    ASSERT_TRUE(unedited.ok());
    req.previous = *unedited;
    auto incremental = m_engine->run(req);
    ASSERT_TRUE(incremental.ok());
    EXPECT_GT((*incremental)->recomputedFromStage, 0);
    EXPECT_EQ((*incremental)->logits.values, (*result)->logits.values);
}

TEST_P(EncoderGolden, LeftToRightMeasuresAreRefused) {
    const auto ids = (*m_ref)["prompts"][0]["ids"].get<std::vector<TokenId>>();
    GenerateRequest g;
    g.prompt = ids;
    g.maxNewTokens = 2;
    auto gen = m_engine->generate(g);
    ASSERT_FALSE(gen.ok());
    EXPECT_NE(gen.error().message.find("bidirectional encoder"), std::string::npos) << gen.error().message;
    auto ppl = perplexity(*m_engine, ids, {});
    ASSERT_FALSE(ppl.ok());
    EXPECT_NE(ppl.error().message.find("bidirectional encoder"), std::string::npos) << ppl.error().message;
}

TEST_P(EncoderGolden, ScanRunsOnTheEncoder) {
    const auto ids = (*m_ref)["prompts"][0]["ids"].get<std::vector<TokenId>>();
    auto scan = scanSuperWeights(*m_engine, ids, {});
    ASSERT_TRUE(scan.ok()) << scan.error().message;
    ForwardRequest req;
    req.tokens = ids;
    req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto r = m_engine->run(req);
    ASSERT_TRUE(r.ok());
    auto massive = findMassiveActivations(**r, nullptr);
    ASSERT_TRUE(massive.ok()) << massive.error().message;
    EXPECT_FALSE(massive->topPerLayer.empty());
}

std::string paramName(const ::testing::TestParamInfo<std::tuple<const char*, Precision>>& info) {
    std::string n = std::get<0>(info.param);
    for (char& ch : n) if (ch == '-') ch = '_';
    return n + (std::get<1>(info.param) == Precision::Float64 ? "_f64" : "_f32");
}

INSTANTIATE_TEST_SUITE_P(AllEncoders, EncoderGolden,
                         ::testing::Combine(::testing::ValuesIn(kEncoderModels), ::testing::Values(Precision::Float32, Precision::Float64)),
                         paramName);

TEST(EncoderTokenizer, MaskPromptGivesTheReferenceIds) {
    // The ids the reference ran come from Hugging Face tokenizers (expected.jsonl).
    const auto& ref = encoderAnswers()["roberta-f32"];
    auto tok = Tokenizer::loadFromFolder(testData() / "encoders" / "roberta-f32");
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    const auto ids = (*tok)->encode(ref["mask_text"].get<std::string>(), true);
    EXPECT_EQ(ids, ref["prompts"][0]["ids"].get<std::vector<TokenId>>());
    EXPECT_EQ(ids.front(), 0);  // <s>
    EXPECT_EQ(ids.back(), 2);   // </s>
}

TEST(EncoderPositions, RobertaPositionsCountFromPaddingIdxPlusOne) {
    auto model = Model::open(testData() / "encoders" / "roberta-f32");
    ASSERT_TRUE(model.ok()) << model.error().message;
    const ModelConfig& c = (*model)->config();
    EXPECT_FALSE(c.causal);
    EXPECT_TRUE(c.postNorm);
    ASSERT_TRUE(c.paddingIdx.has_value());
    EXPECT_EQ(*c.paddingIdx, 1);
    // 40 position embeddings, ids from 2: 38 tokens fit, 39 do not.
    Engine engine(*model);
    ForwardRequest req;
    req.tokens.assign(static_cast<std::size_t>(c.maxPositionEmbeddings - 2), 5);
    EXPECT_TRUE(engine.run(req).ok());
    req.tokens.push_back(5);
    auto r = engine.run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("position embeddings"), std::string::npos) << r.error().message;
}

TEST(EncoderConfig, UnsupportedVariantsAreRefusedByName) {
    const std::string base = R"({"model_type": "roberta", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1,
        "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 20)";
    auto rel = ModelConfig::parse(base + R"(, "position_embedding_type": "relative_key"})", "config.json");
    ASSERT_FALSE(rel.ok());
    EXPECT_NE(rel.error().message.find("relative_key"), std::string::npos);
    auto dec = ModelConfig::parse(base + R"(, "is_decoder": true})", "config.json");
    ASSERT_FALSE(dec.ok());
    EXPECT_NE(dec.error().message.find("is_decoder"), std::string::npos);
    auto pad = ModelConfig::parse(base + R"(, "pad_token_id": 19})", "config.json");
    ASSERT_FALSE(pad.ok());
    EXPECT_NE(pad.error().message.find("pad_token_id"), std::string::npos);
    auto ok = ModelConfig::parse(base + "}", "config.json");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_NE(ok->blockSummary().find("bidirectional"), std::string::npos) << ok->blockSummary();
    EXPECT_EQ(ok->blockSummary().find("rotary"), std::string::npos) << ok->blockSummary();
}

// Regression: the encoder commit's summary printed "rotary" for every
// learned-position model without token types (GPT-2).
TEST(EncoderConfig, LearnedPositionSummariesNameNoRotary) {
    auto gpt2 = Model::open(testData() / "families" / "gpt2-f32");
    ASSERT_TRUE(gpt2.ok()) << gpt2.error().message;
    const std::string s = (*gpt2)->config().blockSummary();
    EXPECT_NE(s.find("learned positions"), std::string::npos) << s;
    EXPECT_EQ(s.find("rotary"), std::string::npos) << s;
    auto qwen = Model::open(testData() / "families" / "qwen3-bf16");
    ASSERT_TRUE(qwen.ok());
    EXPECT_NE((*qwen)->config().blockSummary().find("rotary"), std::string::npos);
}

}  // namespace
