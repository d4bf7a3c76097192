// Golden tests of the vision encoders (ViT, DINOv2, DINOv2 with registers,
// CLIP's vision tower, a full CLIP checkpoint): every hook, in the token order
// [CLS, registers..., patches row-major], and the final norm's output against
// the float64 Hugging Face forward of scripts/fixtures/make_vision_models.py
// (tests/data/vision/refs.json), from the exact pixels of each folder's pixels.npy.

#include <cmath>

#include <gtest/gtest.h>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/model/image_tokens.h"
#include "superlens/core/model/npy.h"
#include "golden_compare.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::flatten;
using superlens::test::relativeMaxError;
using superlens::test::testData;

namespace {


const char* kVisionModels[] = {"vit-f32", "dinov2-f32", "dinov2-registers-bf16", "clip-vision-f16", "clip-full-f32"};

constexpr double kTolerance = 1e-4;

class VisionGolden : public superlens::test::GoldenFixture {
protected:
    void SetUp() override {
        open("vision");
        auto px = loadNpy(testData() / "vision" / m_name / "pixels.npy");
        ASSERT_TRUE(px.ok()) << px.error().message;
        m_pixels = std::make_shared<const PixelTensor>(std::move(px).value());
    }
    std::shared_ptr<const PixelTensor> m_pixels;
};

TEST_P(VisionGolden, EveryHookAndTheFinalHiddenStatesMatchReference) {
    ForwardRequest req;
    req.pixels = m_pixels;
    req.record = HookSelection::all();
    auto result = m_engine->run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;
    const auto& ref = *m_ref;
    const auto grid = ref["grid"].get<std::vector<std::int64_t>>();
    const std::int64_t T = 1 + ref["registers"].get<std::int64_t>() + grid[0] * grid[1];
    EXPECT_EQ((*result)->positions, T);
    EXPECT_TRUE((*result)->logits.values.empty());  // no vocabulary
    const double finalErr = relativeMaxError((*result)->activation("ln_final.hook_normalized")->values, flatten(ref["hooks"]["ln_final.hook_normalized"]));
    std::printf("%s %s final hidden states rel error %.3g\n", m_name, std::get<1>(GetParam()) == Precision::Float64 ? "f64" : "f32", finalErr);
    for (const auto& [hook, values] : ref["hooks"].items()) {
        const ActivationTensor* a = (*result)->activation(hook);
        ASSERT_NE(a, nullptr) << m_name << " did not record " << hook;
        EXPECT_EQ(a->shape[0], hook.find("hook_pattern") != std::string::npos ? m_model->config().numHeads : T) << hook;
        EXPECT_LT(relativeMaxError(a->values, flatten(values)), kTolerance) << m_name << " " << hook;
    }
    for (const auto& [point, tensor] : (*result)->activations) {
        EXPECT_TRUE(ref["hooks"].contains(hookName(point))) << m_name << " recorded " << hookName(point) << " which the reference lacks";
    }
}

// Another image size than the trained one: position embeddings interpolated
// as Hugging Face's interpolate_pos_encoding (torch bicubic; antialiased for
// DINOv2 with registers), against the fixture's torch float64 interpolation.
TEST_P(VisionGolden, OtherImageSizesInterpolateThePositionEmbeddings) {
    const auto& other = (*m_ref)["interpolated"];
    auto px = loadNpy(testData() / "vision" / m_name / other["pixels_file"].get<std::string>());
    ASSERT_TRUE(px.ok()) << px.error().message;
    ForwardRequest req;
    req.pixels = std::make_shared<const PixelTensor>(std::move(px).value());
    req.record = HookSelection::patterns({"hook_pos_embed", "ln_final.hook_normalized"});
    auto result = m_engine->run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;
    const auto grid = other["grid"].get<std::vector<std::int64_t>>();
    ASSERT_NE(grid, ((*m_ref)["grid"].get<std::vector<std::int64_t>>()));
    EXPECT_EQ((*result)->positions, 1 + (*m_ref)["registers"].get<std::int64_t>() + grid[0] * grid[1]);
    EXPECT_EQ((*result)->patchGridWidth, grid[1]);
    for (const char* hook : {"hook_pos_embed", "ln_final.hook_normalized"}) {
        const double err = relativeMaxError((*result)->activation(hook)->values, flatten(other["hooks"][hook]));
        std::printf("%s %s %lldx%lld grid: %s rel error %.3g\n", m_name, std::get<1>(GetParam()) == Precision::Float64 ? "f64" : "f32",
                    static_cast<long long>(grid[0]), static_cast<long long>(grid[1]), hook, err);
        EXPECT_LT(err, kTolerance) << m_name << " " << hook;
    }
}

TEST_P(VisionGolden, ActivationEditOnAPatchRecomputesIncrementally) {
    ForwardRequest req;
    req.pixels = m_pixels;
    req.record = HookSelection::patterns({"ln_final.hook_normalized"});
    auto base = m_engine->run(req);
    ASSERT_TRUE(base.ok()) << base.error().message;
    const std::int64_t last = (*base)->positions - 1;
    auto edits = parseEdits({"blocks.1.hook_resid_pre[" + std::to_string(last) + ",3]=0"}, *m_model, (*base)->positions);
    ASSERT_TRUE(edits.ok()) << edits.error().message;
    req.edits = *edits;
    auto full = m_engine->run(req);
    ASSERT_TRUE(full.ok()) << full.error().message;
    req.previous = *base;
    auto incremental = m_engine->run(req);
    ASSERT_TRUE(incremental.ok());
    EXPECT_EQ((*incremental)->recomputedFromStage, 2);
    EXPECT_EQ((*incremental)->activation("ln_final.hook_normalized")->values, (*full)->activation("ln_final.hook_normalized")->values);
    EXPECT_NE((*full)->activation("ln_final.hook_normalized")->values, (*base)->activation("ln_final.hook_normalized")->values);
}

TEST_P(VisionGolden, TokensAndOversizedImagesAreRefusedByName) {
    ForwardRequest tokens;
    tokens.tokens = {1, 2, 3};
    auto t = m_engine->run(tokens);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("reads an image"), std::string::npos) << t.error().message;
    // More patches than kMaxImagePatches: refused before anything is allocated for them.
    auto huge = std::make_shared<PixelTensor>(*m_pixels);
    const int p = m_model->config().patchSize;
    huge->height = huge->width = static_cast<int>((128 + 1) * p);
    huge->values.assign(static_cast<std::size_t>(huge->channels) * huge->height * huge->width, 0.0f);
    ForwardRequest req;
    req.pixels = huge;
    auto r = m_engine->run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("patches; at most 16384"), std::string::npos) << r.error().message;
    auto gray = std::make_shared<PixelTensor>(*m_pixels);
    gray->channels = 1;
    gray->values.resize(static_cast<std::size_t>(gray->height * gray->width));
    req.pixels = gray;
    auto g = m_engine->run(req);
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.error().message.find("channels"), std::string::npos) << g.error().message;
}

TEST_P(VisionGolden, ScansReportTheTokenKindOfEachPosition) {
    SuperWeightScanOptions opts;
    opts.pixels = m_pixels;
    auto scan = scanSuperWeights(*m_engine, {}, {}, opts);
    ASSERT_TRUE(scan.ok()) << scan.error().message;
    auto massive = findMassiveActivations(*scan->firstResult, nullptr);
    ASSERT_TRUE(massive.ok()) << massive.error().message;
    ASSERT_FALSE(massive->topPerLayer.empty());
    const int R = (*m_ref)["registers"].get<int>();
    const std::int64_t gw = (*m_ref)["grid"][1].get<std::int64_t>();
    for (const auto& layer : massive->topPerLayer) {
        for (const MassiveActivation& a : layer) {
            ASSERT_TRUE(a.imageToken.has_value());
            const ImageToken& t = *a.imageToken;
            if (a.token == 0) {
                EXPECT_EQ(t.kind, ImageTokenKind::Cls);
            } else if (a.token <= R) {
                EXPECT_EQ(t.kind, ImageTokenKind::Register);
                EXPECT_EQ(t.index, a.token - 1);
            } else {
                EXPECT_EQ(t.kind, ImageTokenKind::Patch);
                EXPECT_EQ(t.row * gw + t.col, a.token - 1 - R);
            }
        }
    }
}

TEST(ImageTokens, OrderIsClsRegistersPatchesRowMajor) {
    EXPECT_EQ(imageTokenAt(0, 4, 3).label(), "CLS");
    EXPECT_EQ(imageTokenAt(1, 4, 3).label(), "register 0");
    EXPECT_EQ(imageTokenAt(4, 4, 3).label(), "register 3");
    EXPECT_EQ(imageTokenAt(5, 4, 3).label(), "patch (0, 0)");
    EXPECT_EQ(imageTokenAt(7, 4, 3).label(), "patch (0, 2)");
    EXPECT_EQ(imageTokenAt(8, 4, 3).label(), "patch (1, 0)");
    EXPECT_EQ(imageTokenAt(8, 4, 3).kindName(), "patch");
    EXPECT_EQ(imageTokenAt(3, 0, 2).label(), "patch (1, 0)");
}

std::string paramName(const ::testing::TestParamInfo<std::tuple<const char*, Precision>>& info) {
    std::string n = std::get<0>(info.param);
    for (char& ch : n) if (ch == '-') ch = '_';
    return n + (std::get<1>(info.param) == Precision::Float64 ? "_f64" : "_f32");
}

INSTANTIATE_TEST_SUITE_P(AllVisionModels, VisionGolden,
                         ::testing::Combine(::testing::ValuesIn(kVisionModels), ::testing::Values(Precision::Float32, Precision::Float64)),
                         paramName);

TEST(VisionConfig, RecipePerModelType) {
    struct Want { const char* name; int registers; bool layerScale; bool preNorm; };
    for (const Want& w : {Want{"vit-f32", 0, false, false}, Want{"dinov2-f32", 0, true, false}, Want{"dinov2-registers-bf16", 4, true, false},
                          Want{"clip-vision-f16", 0, false, true}, Want{"clip-full-f32", 0, false, true}}) {
        auto model = Model::open(testData() / "vision" / w.name);
        ASSERT_TRUE(model.ok()) << model.error().message;
        const ModelConfig& c = (*model)->config();
        EXPECT_TRUE(c.pixelInput) << w.name;
        EXPECT_FALSE(c.causal) << w.name;
        EXPECT_EQ(c.vocabSize, 0) << w.name;
        EXPECT_EQ(c.numRegisters, w.registers) << w.name;
        EXPECT_EQ(c.layerScale, w.layerScale) << w.name;
        EXPECT_EQ(c.embeddingNorm, w.preNorm) << w.name;
        EXPECT_EQ(c.blockSummary().find("rotary"), std::string::npos) << c.blockSummary();
        EXPECT_NE(c.blockSummary().find("-pixel patches"), std::string::npos) << c.blockSummary();
    }
    auto swiglu = ModelConfig::parse(R"({"model_type": "dinov2", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1,
        "use_swiglu_ffn": true})", "config.json");
    ASSERT_FALSE(swiglu.ok());
    EXPECT_NE(swiglu.error().message.find("use_swiglu_ffn"), std::string::npos);
}

}  // namespace
