// Golden tests: logits and hooks of every reference checkpoint against the
// float64 Hugging Face reference answers in tests/data/reference/refs.json.

#include <cmath>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "reference_forward.h"
#include "golden_compare.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::flatten;
using superlens::test::relativeMaxError;

namespace {

// Each test: one reference model (m_name, its answers m_ref) and an engine at one precision.
class GoldenTest : public superlens::test::GoldenFixture {
protected:
    void SetUp() override {
        open("reference");
    }
};

TEST_P(GoldenTest, LogitsAndHooksMatchReference) {
    const auto [name, precision] = GetParam();
    const auto& ref = *m_ref;
    Engine& engine = *m_engine;

    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.allPositionLogits = true;
    req.record = HookSelection::patterns({"blocks.*.mlp.hook_post", "blocks.*.hook_mlp_out", "blocks.*.hook_resid_post"});
    auto result = engine.run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;
    const double tol = 1e-4;
    RecordProperty("logits_rel_error", std::to_string(relativeMaxError((*result)->logits.values, flatten(ref["logits_all"]))));
    std::printf("%s %s logits rel error %.3g\n", name, precision == Precision::Float64 ? "f64" : "f32",
                relativeMaxError((*result)->logits.values, flatten(ref["logits_all"])));
    EXPECT_LT(relativeMaxError((*result)->logits.values, flatten(ref["logits_all"])), tol);
    EXPECT_LT(relativeMaxError((*result)->lastLogits(), ref["logits_last"].get<std::vector<double>>()), tol);

    for (const auto& [hook, rows] : ref["hooks"].items()) {
        const ActivationTensor* a = (*result)->activation(hook);
        ASSERT_NE(a, nullptr) << hook;
        EXPECT_LT(relativeMaxError(a->values, flatten(rows)), tol) << name << " " << hook;
    }
    // Per-layer maxima (the detector's inputs) too.
    const int layers = ref["layers"].get<int>();
    for (int l = 0; l < layers; ++l) {
        const auto absmax = [&](const char* hook) {
            const ActivationTensor* a = (*result)->activation("blocks." + std::to_string(l) + "." + hook);
            double m = 0;
            for (float v : a->values) m = std::max(m, std::abs(static_cast<double>(v)));
            return m;
        };
        const double wantIn = ref["down_in_absmax"][l].get<double>();
        const double wantOut = ref["down_out_absmax"][l].get<double>();
        const double wantRes = ref["resid_absmax"][l].get<double>();
        EXPECT_NEAR(absmax("mlp.hook_post"), wantIn, 1e-4 * wantIn) << name << " layer " << l;
        EXPECT_NEAR(absmax("hook_mlp_out"), wantOut, 1e-4 * wantOut) << name << " layer " << l;
        EXPECT_NEAR(absmax("hook_resid_post"), wantRes, 1e-4 * wantRes) << name << " layer " << l;
    }
}

// One token goes through the single-token GEMV kernels (the decode path),
// not the GEMM. BOS alone is position 0 of the reference prompt, so its
// logits are logits_all[0] (causal attention); an ordinary token alone (where
// no super activation drowns the other channels) is checked against the
// independent float64 forward of tests/support/reference_forward.h. Covers
// f32, bf16 and f16 rows and row lengths that are not a multiple of the
// vector width (172).
TEST_P(GoldenTest, SingleTokenGemvPathMatchesReference) {
    const char* name = m_name;
    const auto& ref = *m_ref;
    Engine& engine = *m_engine;
    ForwardRequest req;
    req.tokens = {ref["ids"][0].get<TokenId>()};
    auto bos = engine.run(req);
    ASSERT_TRUE(bos.ok()) << bos.error().message;
    EXPECT_LT(relativeMaxError((*bos)->lastLogits(), ref["logits_all"][0].get<std::vector<double>>()), 1e-4) << name;
    for (const TokenId token : {5, 77}) {
        req.tokens = {token};
        auto one = engine.run(req);
        ASSERT_TRUE(one.ok()) << one.error().message;
        const auto want = superlens::test::referenceForward(*m_model, {token}).logits[0];
        EXPECT_LT(relativeMaxError((*one)->lastLogits(), want), 1e-5) << name << " token " << token;
    }
}

TEST_P(GoldenTest, EditedLogitsMatchReference) {
    const auto& ref = *m_ref;
    if (ref["edited"].is_null()) {
        // Only the model without a planted super weight has no edited reference.
        EXPECT_TRUE(ref["planted"].empty()) << m_name;
        return;
    }
    Engine& engine = *m_engine;
    auto edits = parseEdits({ref["edited"]["edit"].get<std::string>()}, *m_model);
    ASSERT_TRUE(edits.ok()) << edits.error().message;
    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.edits = *edits;
    auto result = engine.run(req);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_LT(relativeMaxError((*result)->lastLogits(), ref["edited"]["logits"].get<std::vector<double>>()), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(AllReferenceModels, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(superlens::test::kReferenceModels),
                                            ::testing::Values(Precision::Float32, Precision::Float64)),
                         [](const auto& info) {
                             std::string n = std::get<0>(info.param);
                             for (char& ch : n) if (ch == '-') ch = '_';
                             return n + (std::get<1>(info.param) == Precision::Float64 ? "_f64" : "_f32");
                         });

}  // namespace
