// The edit overlay (set / scale / rows / columns / 1-D, activation edits),
// exact restoration on removal, incremental recompute, and refusal of bad specs.

#include <cstring>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

std::shared_ptr<const Model> openReference(const char* name) {
    auto m = Model::open(referenceModel(name));
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
    return *m;
}

std::vector<TokenId> referenceIds(const char* name) { return referenceAnswers()[name]["ids"].get<std::vector<TokenId>>(); }

bool bitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<EditSpec> edits(const Model& m, std::vector<std::string> specs, std::int64_t tokens = 0) {
    auto e = parseEdits(specs, m, tokens);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return e.ok() ? *e : std::vector<EditSpec>{};
}

std::shared_ptr<const ForwardResult> run(Engine& engine, const std::vector<TokenId>& ids, std::vector<EditSpec> e,
                                         std::shared_ptr<const ForwardResult> previous = nullptr, bool record = true) {
    ForwardRequest req;
    req.tokens = ids;
    req.edits = std::move(e);
    req.allPositionLogits = true;
    if (record) req.record = HookSelection::all();
    req.previous = std::move(previous);
    auto r = engine.run(req);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return *r;
}

TEST(WeightEdits, RemovingAnEditRestoresBitIdenticalOutputs) {
    auto model = openReference("mistral-bf16-sharded");
    Engine engine(model);
    const auto ids = referenceIds("mistral-bf16-sharded");
    const auto original = run(engine, ids, {});
    const auto zeroed = run(engine, ids, edits(*model, {"model.layers.1.mlp.down_proj.weight[40,99]=0"}));
    EXPECT_FALSE(bitIdentical(original->logits.values, zeroed->logits.values));
    const auto restored = run(engine, ids, {});
    EXPECT_TRUE(bitIdentical(original->logits.values, restored->logits.values));
    for (const auto& [p, a] : original->activations) EXPECT_TRUE(bitIdentical(a->values, restored->activations.at(p)->values)) << hookName(p);
    // And the weight itself: the stored tensor is untouched by the overlay.
    auto w = engine.effectiveWeight("model.layers.1.mlp.down_proj.weight", {});
    ASSERT_TRUE(w.ok());
    EXPECT_EQ((*w)->at(40, 99), model->tensor("model.layers.1.mlp.down_proj.weight")->at(40 * 256 + 99));
}

TEST(WeightEdits, SetScaleRowColumnAndVectorEditsChangeExactlyTheirElements) {
    auto model = openReference("llama-planted");
    Engine engine(model);
    const std::string down = "model.layers.1.mlp.down_proj.weight";
    const TensorView* t = model->tensor(down);
    const std::int64_t cols = t->shape[1];
    struct Case {
        std::string spec;
        std::function<float(std::int64_t, std::int64_t, float)> expect;
    };
    const std::vector<Case> cases = {
        {down + "[13,57]=0", [](auto r, auto c, float v) { return r == 13 && c == 57 ? 0.0f : v; }},
        {down + "[13,57]*=2.5", [](auto r, auto c, float v) { return r == 13 && c == 57 ? static_cast<float>(v * 2.5) : v; }},
        {down + "[13,*]=0", [](auto r, auto, float v) { return r == 13 ? 0.0f : v; }},
        {down + "[*,57]*=-1", [](auto, auto c, float v) { return c == 57 ? -v : v; }},
        {down + "[3,4]=-1234.5", [](auto r, auto c, float v) { return r == 3 && c == 4 ? -1234.5f : v; }},
    };
    for (const auto& tc : cases) {
        auto w = engine.effectiveWeight(down, edits(*model, {tc.spec}));
        ASSERT_TRUE(w.ok()) << tc.spec;
        for (std::int64_t r = 0; r < t->shape[0]; ++r)
            for (std::int64_t c = 0; c < cols; ++c) ASSERT_EQ((*w)->at(r, c), tc.expect(r, c, t->at(r * cols + c))) << tc.spec << " " << r << "," << c;
    }
    auto norm = engine.effectiveWeight("model.norm.weight", edits(*model, {"model.norm.weight[5]=0"}));
    ASSERT_TRUE(norm.ok());
    EXPECT_EQ((*norm)->at(0, 5), 0.0f);
    EXPECT_EQ((*norm)->at(0, 6), model->tensor("model.norm.weight")->at(6));
    // Two edits on one tensor compose in order.
    auto both = engine.effectiveWeight(down, edits(*model, {down + "[13,57]=2", down + "[13,57]*=3"}));
    EXPECT_EQ((*both)->at(13, 57), 6.0f);
}

TEST(IncrementalRecompute, EqualsFullRecomputeBitForBit) {
    for (const char* name : {"llama-planted", "phi3-bf16-two-super-weights", "qwen2-f16-tied", "olmo-f32"}) {
        auto model = openReference(name);
        const auto ids = referenceIds(name);
        const auto planted = referenceAnswers()[name]["edited"]["edit"].get<std::string>();
        Engine engine(model);
        const auto original = run(engine, ids, {});
        const auto incremental = run(engine, ids, edits(*model, {planted}), original);
        Engine fresh(model);
        const auto full = run(fresh, ids, edits(*model, {planted}));
        // The planted weights live in down_proj of layer 1 (qwen2: layer 2): start there.
        const int plantedLayer = referenceAnswers()[name]["planted"][0][0].get<int>();
        EXPECT_EQ(incremental->recomputedFromStage, 1 + plantedLayer) << name;
        EXPECT_EQ(full->recomputedFromStage, 0);
        EXPECT_TRUE(bitIdentical(incremental->logits.values, full->logits.values)) << name;
        ASSERT_EQ(incremental->activations.size(), full->activations.size());
        for (const auto& [p, a] : full->activations) EXPECT_TRUE(bitIdentical(a->values, incremental->activations.at(p)->values)) << name << " " << hookName(p);
        // Toggling back off restores the original bits, again incrementally.
        const auto back = run(engine, ids, {}, incremental);
        EXPECT_EQ(back->recomputedFromStage, 1 + plantedLayer);
        EXPECT_TRUE(bitIdentical(back->logits.values, original->logits.values)) << name;
    }
}

TEST(IncrementalRecompute, HeadOnlyAndActivationEditsStartAtTheirStage) {
    auto model = openReference("llama-planted");
    const auto ids = referenceIds("llama-planted");
    Engine engine(model);
    const auto original = run(engine, ids, {});
    const auto head = run(engine, ids, edits(*model, {"lm_head.weight[3,4]=0"}), original);
    EXPECT_EQ(head->recomputedFromStage, 1 + 4);
    const auto act = run(engine, ids, edits(*model, {"blocks.2.hook_mlp_out[0,13]=0"}, 10), original);
    EXPECT_EQ(act->recomputedFromStage, 1 + 2);
    Engine fresh(model);
    EXPECT_TRUE(bitIdentical(act->logits.values, run(fresh, ids, edits(*model, {"blocks.2.hook_mlp_out[0,13]=0"}, 10))->logits.values));
}

TEST(ActivationEdits, SetScaleMeanAndPatternEditsActWhereTheySay) {
    auto model = openReference("llama-planted");
    const auto ids = referenceIds("llama-planted");
    Engine engine(model);
    const auto original = run(engine, ids, {});
    const auto* mlpOut = original->activation("blocks.1.hook_mlp_out");

    const auto set = run(engine, ids, edits(*model, {"blocks.1.hook_mlp_out[0,13]=-1234.5"}, 10));
    EXPECT_EQ(set->activation("blocks.1.hook_mlp_out")->at(0, 13), -1234.5f);
    EXPECT_EQ(set->activation("blocks.1.hook_mlp_out")->at(1, 13), mlpOut->at(1, 13));
    // The residual downstream carries the edited value: resid_post = resid_mid + mlp_out.
    EXPECT_EQ(set->activation("blocks.1.hook_resid_post")->at(0, 13), set->activation("blocks.1.hook_resid_mid")->at(0, 13) + -1234.5f);

    const auto scaled = run(engine, ids, edits(*model, {"blocks.1.hook_mlp_out[*,13]*=0.5"}, 10));
    for (std::int64_t t = 0; t < 10; ++t) EXPECT_EQ(scaled->activation("blocks.1.hook_mlp_out")->at(t, 13), static_cast<float>(mlpOut->at(t, 13) * 0.5));

    const auto mean = run(engine, ids, edits(*model, {"blocks.1.hook_mlp_out[*,13]=mean"}, 10));
    double want = 0;
    for (std::int64_t t = 0; t < 10; ++t) want += mlpOut->at(t, 13);
    want /= 10;
    for (std::int64_t t = 0; t < 10; ++t) EXPECT_NEAR(mean->activation("blocks.1.hook_mlp_out")->at(t, 13), want, 1e-3);

    const auto pattern = run(engine, ids, edits(*model, {"blocks.2.attn.hook_pattern[1,5,0]=0"}, 10));
    const ActivationTensor* p = pattern->activation("blocks.2.attn.hook_pattern");
    EXPECT_EQ(p->at(1 * 10 + 5, 0), 0.0f);
    EXPECT_EQ(p->at(1 * 10 + 5, 1), original->activation("blocks.2.attn.hook_pattern")->at(1 * 10 + 5, 1));
}

TEST(ActivationEdits, RestoringTheSuperActivationUndoesTheDamage) {
    // The super-weight paper's Table 1 pattern on a planted model: zeroing the
    // weight moves the logits far; writing the original down_proj output of
    // that channel back (at every token the planted weight feeds) undoes it.
    auto model = openReference("llama-planted");
    const auto ids = referenceIds("llama-planted");
    Engine engine(model);
    const auto original = run(engine, ids, {});
    const ActivationTensor* mlpOut = original->activation("blocks.1.hook_mlp_out");
    std::vector<std::string> specs = {"model.layers.1.mlp.down_proj.weight[13,57]=0"};
    const auto zeroed = run(engine, ids, edits(*model, specs), nullptr, false);
    for (std::int64_t t = 0; t < 10; ++t) specs.push_back("blocks.1.hook_mlp_out[" + std::to_string(t) + ",13]=" + formatNumber(mlpOut->at(t, 13)));
    const auto restored = run(engine, ids, edits(*model, specs, 10), nullptr, false);
    auto distance = [&](const ForwardResult& r) {
        double d = 0;
        for (std::size_t i = 0; i < r.logits.values.size(); ++i) d = std::max(d, std::abs(static_cast<double>(r.logits.values[i] - original->logits.values[i])));
        return d;
    };
    EXPECT_GT(distance(*zeroed), 0.5);
    EXPECT_LT(distance(*restored), 1e-4 * distance(*zeroed));
}

TEST(EditSpecs, BadSpecsAreRefusedWithOneClearMessage) {
    auto model = openReference("llama-planted");
    struct Bad {
        std::string spec;
        std::string fragment;
    };
    const std::vector<Bad> bad = {
        {"model.layers.1.mlp.down_proj.weight[64,0]=0", "row 64 is out of range"},
        {"model.layers.1.mlp.down_proj.weight[0,172]=0", "column 172 is out of range"},
        {"model.layers.9.mlp.down_proj.weight[0,0]=0", "unknown tensor"},
        {"model.layers.1.mlp.down_proj.weight[0]=0", "2 dimension(s)"},
        {"model.layers.1.mlp.down_proj.weight[0,0]=abc", "not a finite number"},
        {"model.layers.1.mlp.down_proj.weight[0,0]=nan", "not a finite number"},
        {"model.layers.1.mlp.down_proj.weight[0,0]=1e39", "beyond the float32 range"},
        {"model.layers.1.mlp.down_proj.weight[0,0]*=-1e39", "beyond the float32 range"},
        {"blocks.1.hook_mlp_out[0,0]=3.5e38", "beyond the float32 range"},
        {"model.layers.1.mlp.down_proj.weight[-1,0]=0", "negative"},
        {"model.layers.1.mlp.down_proj.weight[0,0]", "expected '=VALUE'"},
        {"model.layers.1.mlp.down_proj.weight=0", "expected NAME[i,j]"},
        {"blocks.9.hook_mlp_out[0,1]=0", "layer 9 is out of range"},
        {"blocks.1.hook_mlp_out[0,64]=0", "channel 64 is out of range"},
        {"blocks.1.hook_mlp_out[12,0]=0", "token 12 is out of range"},
        {"blocks.1.hook_nope[0,0]=0", "not a hook name"},
        {"laser:model.layers.1.mlp.up_proj.weight:rank=0", "rank must be a fraction"},
        {"laser:model.layers.1.mlp.up_proj.weight:rank=1.5", "rank must be a fraction"},
        {"laser:nope:rank=0.5", "unknown tensor"},
        {"rtn:model.layers.*.mlp.*:bits=1:block=64", "bits must be"},
        {"rtn:model.layers.*.mlp.*:bits=4", "missing block"},
        {"rtn:nothing.*:bits=4:block=64", "matches no quantizable weight"},
        {"rtn:model.layers.*.mlp.*:bits=4:block=64:keep_super=1:64:0", "outside model.layers.1.mlp.down_proj.weight"},
        {"", "empty edit"},
    };
    for (const auto& b : bad) {
        auto e = parseEdits({b.spec}, *model, 10);
        ASSERT_FALSE(e.ok()) << b.spec;
        EXPECT_NE(e.error().message.find(b.fragment), std::string::npos) << b.spec << " -> " << e.error().message;
        EXPECT_EQ(e.error().message.find('\n'), std::string::npos) << "one line: " << e.error().message;
    }
}

TEST(EditSpecs, CanonicalTextRoundTrips) {
    for (const std::string s : {"model.layers.2.mlp.down_proj.weight[3968,7003]=0", "blocks.2.hook_mlp_out[*,3968]*=0.5",
                                "blocks.2.hook_mlp_out[0,3968]=-1234.5", "laser:model.layers.27.mlp.up_proj.weight:rank=0.01",
                                "rtn:model.layers.*.mlp.*:bits=4:block=128:keep_super", "rtn:model.layers.*:bits=3:block=tensor:keep_super=2:3968:7003;1:2:3",
                                "rtn:model.layers.*:bits=8:block=64:zclip=3:pclip=99.9", "actq:blocks.*.hook_resid_post:bits=8:block=token:keep_super=0:13",
                                "blocks.1.hook_resid_post[*,13]=mean"}) {
        auto e = parseEdit(s);
        ASSERT_TRUE(e.ok()) << s << ": " << e.error().message;
        EXPECT_EQ(e->text(), s);
        auto again = parseEdit(e->text());
        ASSERT_TRUE(again.ok());
        EXPECT_EQ(again->text(), s);
    }
    // Whitespace and number spellings are normalised.
    EXPECT_EQ(parseEdit(" model.x.weight[ 1 , 2 ] = 0.50 ")->text(), "model.x.weight[1,2]=0.5");
}

TEST(EngineInput, TokenIdsOutsideTheVocabularyAreRefused) {
    auto model = openReference("llama-planted");
    Engine engine(model);
    ForwardRequest req;
    req.tokens = {1, 256};
    auto r = engine.run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("outside the vocabulary"), std::string::npos);
    req.tokens = {};
    EXPECT_FALSE(engine.run(req).ok());
}

TEST(EngineControl, CancelStopsARun) {
    auto model = openReference("llama-planted");
    Engine engine(model);
    RunControl control;
    control.cancel();
    ForwardRequest req;
    req.tokens = {1, 2, 3};
    auto r = engine.run(req, control);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, kCancelledMessage);
}

}  // namespace
