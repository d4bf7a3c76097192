// The super-weight scan: exactly the planted coordinates on every reference
// model (refs.json "planted"), nothing on llama3-rope-scaled and on the real
// trained stories260K (negative controls), values against the float64 hook
// dumps, incremental recompute between iterations, the two guards, prompt
// consistency, keep_super resolution and the published-coordinates table.

#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/published_coordinates.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/tokenizer/tokenizer.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

using Coord = std::tuple<int, std::int64_t, std::int64_t>;

std::set<Coord> planted(const nlohmann::json& ref) {
    std::set<Coord> out;
    for (const auto& c : ref["planted"]) out.insert({c[0].get<int>(), c[1].get<std::int64_t>(), c[2].get<std::int64_t>()});
    return out;
}

std::set<Coord> coords(const std::vector<SuperWeight>& sws) {
    std::set<Coord> out;
    for (const auto& s : sws) out.insert({s.layer, s.row, s.col});
    return out;
}

class ScanReference : public ::testing::TestWithParam<const char*> {};

TEST_P(ScanReference, FindsExactlyThePlantedCoordinates) {
    const std::string name = GetParam();
    const auto& ref = referenceAnswers()[name];
    auto model = openModelOrDie(referenceModel(name));
    Engine engine(model);
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    auto scan = scanSuperWeights(engine, ids, {});
    ASSERT_TRUE(scan.ok()) << scan.error().message;
    const auto want = planted(ref);
    EXPECT_EQ(coords(scan->superWeights), want) << name;
    EXPECT_EQ(scan->superWeights.size(), want.size()) << name << ": a coordinate was reported twice";
    // One pass per weight found, plus the pass that finds nothing more.
    EXPECT_EQ(scan->forwardPasses, static_cast<int>(want.size()) + 1);
    ASSERT_EQ(scan->iterationSeconds.size(), static_cast<std::size_t>(scan->forwardPasses));
    ASSERT_EQ(scan->iterationStartLayer.size(), static_cast<std::size_t>(scan->forwardPasses));
    EXPECT_EQ(scan->iterationStartLayer[0], 0);

    const auto W = [&](const SuperWeight& sw) { return engine.storedWeight(sw.tensorName(*model))->at(sw.row, sw.col); };
    for (std::size_t i = 0; i < scan->superWeights.size(); ++i) {
        const SuperWeight& sw = scan->superWeights[i];
        EXPECT_EQ(sw.iteration, static_cast<int>(i));
        EXPECT_EQ(sw.token, 0) << "planted super weights fire on BOS";
        EXPECT_EQ(sw.value, W(sw));
        // Incremental recompute: pass i+1 restarts at the layer of the weight just zeroed.
        EXPECT_EQ(scan->iterationStartLayer[i + 1], sw.layer);
        // Input at (token, col) is upstream of the zeroed weights: it equals the unedited reference.
        const std::string p = "blocks." + std::to_string(sw.layer) + ".";
        const double in = ref["hooks"][p + "mlp.hook_post"][sw.token][sw.col].get<double>();
        EXPECT_NEAR(sw.downIn, in, 1e-4 * std::abs(in));
        EXPECT_GE(sw.outputRatio, 50.0);
        EXPECT_GE(sw.inputRatio, 20.0);
        EXPECT_GE(sw.residRatio, 50.0);
    }
    if (!scan->superWeights.empty()) {
        // The first weight's output is the unedited model's (float64 reference).
        const SuperWeight& sw = scan->superWeights[0];
        const double out = ref["hooks"]["blocks." + std::to_string(sw.layer) + ".hook_mlp_out"][sw.token][sw.row].get<double>();
        EXPECT_NEAR(sw.downOut, out, 1e-4 * std::abs(out));
    }
    // firstPass describes the unedited model.
    for (std::size_t l = 0; l < scan->firstPass.size(); ++l) {
        const double out = ref["down_out_absmax"][l].get<double>();
        EXPECT_NEAR(scan->firstPass[l].downOut.absValue(), out, 1e-4 * out);
    }
    // The incremental result equals a from-scratch run with every weight zeroed (bit-identical).
    ForwardRequest full;
    full.tokens = ids;
    full.edits = scan->zeroEdits;
    full.record = superWeightHooks();
    auto fresh = engine.run(full);
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ((*fresh)->logits.values, scan->lastResult->logits.values);
    if (!want.empty()) {
        // With the first weight zeroed the logits match refs.json "edited" (float64).
        ForwardRequest edited;
        edited.tokens = ids;
        auto e = parseEdit(ref["edited"]["edit"].get<std::string>());
        ASSERT_TRUE(e.ok());
        edited.edits = {*e};
        auto er = engine.run(edited);
        ASSERT_TRUE(er.ok());
        const auto wantLogits = ref["edited"]["logits"].get<std::vector<double>>();
        double maxAbs = 0, maxErr = 0;
        for (std::size_t i = 0; i < wantLogits.size(); ++i) {
            maxAbs = std::max(maxAbs, std::abs(wantLogits[i]));
            maxErr = std::max(maxErr, std::abs((*er)->logits.values[i] - wantLogits[i]));
        }
        EXPECT_LT(maxErr / maxAbs, 1e-4);
    }
}

INSTANTIATE_TEST_SUITE_P(Reference, ScanReference, ::testing::ValuesIn(kReferenceModels), [](const auto& info) {
    std::string n = info.param;
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
});

TEST(Scan, AgreesWithTheReferenceImplementationsScan) {
    // refs.json lists what the float64 reference implementation's own scan
    // (scripts/fixtures, written independently of core) found on each model:
    // core's scan must find the same coordinates.
    int withWeights = 0;
    for (const char* name : kReferenceModels) {
        const auto& ref = referenceAnswers()[name];
        std::set<Coord> sr;
        for (const auto& c : ref["scan_reference"]) sr.insert({c[0].get<int>(), c[1].get<std::int64_t>(), c[2].get<std::int64_t>()});
        withWeights += !sr.empty();  // llama3-rope-scaled has none: a negative control
        auto model = openModelOrDie(referenceModel(name));
        Engine engine(model);
        auto scan = scanSuperWeights(engine, ref["ids"].get<std::vector<TokenId>>(), {});
        ASSERT_TRUE(scan.ok()) << scan.error().message;
        EXPECT_EQ(coords(scan->superWeights), sr) << name;
    }
    EXPECT_GE(withWeights, 5);
}

TEST(Scan, StoriesNegativeControlHasNoSuperWeight) {
    auto model = openModelOrDie(testData() / "stories260K");
    Engine engine(model);
    const auto ref = readJson(testData() / "stories260K" / "reference.json");
    for (const auto& p : ref["prompts"]) {
        auto scan = scanSuperWeights(engine, p["ids"].get<std::vector<TokenId>>(), {});
        ASSERT_TRUE(scan.ok());
        EXPECT_TRUE(scan->superWeights.empty()) << p["text"];
        EXPECT_EQ(scan->forwardPasses, 1);
    }
    // And on the bundled default prompts, tokenized by its own tokenizer.
    auto tok = Tokenizer::loadFromFolder(testData() / "stories260K");
    ASSERT_TRUE(tok.ok());
    std::vector<std::vector<TokenId>> prompts;
    for (const auto& line : bundledDefaultPrompts()) prompts.push_back((*tok)->encode(line, true));
    ASSERT_FALSE(prompts.empty());
    auto cons = scanConsistency(engine, prompts, {});
    ASSERT_TRUE(cons.ok());
    EXPECT_TRUE(cons->empty());
}

TEST(Scan, ConsistencyOverPrompts) {
    const auto& ref = referenceAnswers()["llama-two-in-one-row-mqa"];
    Engine engine(openModelOrDie(referenceModel("llama-two-in-one-row-mqa")));
    const std::vector<std::vector<TokenId>> prompts = {ref["ids"].get<std::vector<TokenId>>(), {1, 9, 8, 7, 6, 5}, {1, 200, 201, 202}, {1, 42}};
    auto cons = scanConsistency(engine, prompts, {});
    ASSERT_TRUE(cons.ok()) << cons.error().message;
    ASSERT_EQ(cons->size(), 2u);
    for (const auto& c : *cons) {
        EXPECT_EQ(c.promptsFound, 4);
        EXPECT_EQ(c.promptsTotal, 4);
        EXPECT_DOUBLE_EQ(c.fraction(), 1.0);
    }
}

TEST(Scan, UserEditsAreTheBaseline) {
    // Zeroing the planted weight by hand: the scan of that model finds nothing.
    const auto& ref = referenceAnswers()["llama-planted"];
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    auto e = parseEdit("model.layers.1.mlp.down_proj.weight[13,57]=0");
    ASSERT_TRUE(e.ok());
    auto scan = scanSuperWeights(engine, ref["ids"].get<std::vector<TokenId>>(), {*e});
    ASSERT_TRUE(scan.ok());
    EXPECT_TRUE(scan->superWeights.empty());
    ASSERT_EQ(scan->zeroEdits.size(), 1u);
}

TEST(Scan, MaxIterationsCapsTheSearch) {
    const auto& ref = referenceAnswers()["phi3-bf16-two-super-weights"];
    Engine engine(openModelOrDie(referenceModel("phi3-bf16-two-super-weights")));
    SuperWeightScanOptions o;
    o.maxIterations = 1;
    auto scan = scanSuperWeights(engine, ref["ids"].get<std::vector<TokenId>>(), {}, o);
    ASSERT_TRUE(scan.ok());
    EXPECT_EQ(scan->superWeights.size(), 1u);
    EXPECT_EQ(scan->forwardPasses, 2);  // the final pass shows the model with the found weight zeroed
}

// The leftover-input guard: after a super weight is zeroed its input spike
// (625 at column 57) remains, and the ordinary weights of column 57 turn it
// into new output spikes. The planted model's ordinary weights are too small
// for that, so column 57 is scaled by 30 first (the super weight restored to
// its value): the leftover spikes then reach ~200x the layer median and build
// persistent residual spikes, which only the leftover guard rejects.
TEST(Scan, LeftoverInputGuardRejectsOrdinaryWeightsOfTheSameColumn) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    auto scale = parseEdit("model.layers.1.mlp.down_proj.weight[*,57]*=30");
    auto keep = parseEdit("model.layers.1.mlp.down_proj.weight[13,57]=12");
    ASSERT_TRUE(scale.ok() && keep.ok());
    SuperWeightScanOptions o;
    o.requirePersistence = false;
    o.leftoverGuard = false;
    o.maxIterations = 2;
    auto unguarded = scanSuperWeights(engine, ids, {*scale, *keep}, o);
    ASSERT_TRUE(unguarded.ok());
    ASSERT_EQ(unguarded->superWeights.size(), 2u);
    EXPECT_EQ(unguarded->superWeights[0].coord(), (SuperWeightCoord{1, 13, 57}));
    EXPECT_EQ(unguarded->superWeights[1].layer, 1);
    EXPECT_EQ(unguarded->superWeights[1].col, 57) << "the false positive sits on the leftover input column";
    o.leftoverGuard = true;
    o.maxIterations = 16;
    auto guarded = scanSuperWeights(engine, ids, {*scale, *keep}, o);
    ASSERT_TRUE(guarded.ok());
    EXPECT_EQ(coords(guarded->superWeights), planted(ref));
    // With both guards on (the defaults) the result is the same.
    auto defaults = scanSuperWeights(engine, ids, {*scale, *keep});
    ASSERT_TRUE(defaults.ok());
    EXPECT_EQ(coords(defaults->superWeights), planted(ref));
}

// The echo guard: a last-layer down_proj output that overshoots and cancels
// the residual super activation (SA ~ +7500 at token 0, row 13), as real
// models' last layers cancel theirs. It is made by a weight: W3[13,38] =
// -1.96 SA / 100 times an input spike of 100 placed at (token 0, channel 38),
// an output of -1.96 SA that leaves about -0.96 SA in the residual. Its output
// ratio beats the planted weight's, so without the guard it is taken first.
TEST(Scan, EchoThatCancelsTheResidualIsRejected) {
    const auto& ref = referenceAnswers()["llama-planted"];
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    const double sa = ref["hooks"]["blocks.2.hook_resid_post"][0][13].get<double>();
    ASSERT_GT(sa, 5000.0) << "the planted super activation reaches layer 2";
    auto input = parseEdit("blocks.3.mlp.hook_post[0,38]=100");
    auto weight = parseEdit("model.layers.3.mlp.down_proj.weight[13,38]=" + std::to_string(-1.96 * sa / 100));
    ASSERT_TRUE(input.ok() && weight.ok());
    SuperWeightScanOptions o;
    o.maxIterations = 1;
    auto guarded = scanSuperWeights(engine, ids, {*input, *weight}, o);
    ASSERT_TRUE(guarded.ok()) << guarded.error().message;
    // The echo: about -1.96 SA at (0, 13), leaving about -0.96 SA in the residual.
    EXPECT_EQ(guarded->firstPass[3].downOut.token, 0);
    EXPECT_EQ(guarded->firstPass[3].downOut.channel, 13);
    EXPECT_LT(guarded->firstPass[3].downOut.value, -1.9 * sa);
    EXPECT_GT(guarded->firstPass[3].downOutRatio(), guarded->firstPass[1].downOutRatio());
    ASSERT_EQ(guarded->superWeights.size(), 1u);
    EXPECT_EQ(guarded->superWeights[0].coord(), (SuperWeightCoord{1, 13, 57}));
    o.requirePersistence = false;
    auto unguarded = scanSuperWeights(engine, ids, {*input, *weight}, o);
    ASSERT_TRUE(unguarded.ok());
    ASSERT_EQ(unguarded->superWeights.size(), 1u);
    EXPECT_EQ(unguarded->superWeights[0].coord(), (SuperWeightCoord{3, 13, 38})) << "without the guard the echo is taken for a super weight";
}

// A spike the weights do not explain (here an activation edit) is not a super weight.
TEST(Scan, SpikesNotMadeByTheWeightsAreIgnored) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    auto spike = parseEdit("blocks.2.hook_mlp_out[0,40]=5000");
    ASSERT_TRUE(spike.ok());
    SuperWeightScanOptions o;
    o.inputRatio = 1;
    auto scan = scanSuperWeights(engine, ref["ids"].get<std::vector<TokenId>>(), {*spike}, o);
    ASSERT_TRUE(scan.ok());
    EXPECT_EQ(coords(scan->superWeights), planted(ref));
}

TEST(Scan, KeepSuperResolution) {
    const auto& ref = referenceAnswers()["llama-two-in-one-row-mqa"];
    Engine engine(openModelOrDie(referenceModel("llama-two-in-one-row-mqa")));
    auto rtn = parseEdit("rtn:model.layers.*.mlp.*:bits=4:block=128:keep_super");
    auto actq = parseEdit("actq:blocks.*.hook_resid_post:bits=8:keep_super");
    ASSERT_TRUE(rtn.ok() && actq.ok());
    auto resolved = resolveKeepSuperFromScan(engine, ref["ids"].get<std::vector<TokenId>>(), {*rtn, *actq});
    ASSERT_TRUE(resolved.ok()) << resolved.error().message;
    ASSERT_EQ(resolved->size(), 2u);
    std::set<Coord> kept;
    for (const auto& k : (*resolved)[0].keepWeights) kept.insert({k.layer, k.row, k.col});
    EXPECT_EQ(kept, planted(ref));
    ASSERT_EQ((*resolved)[1].keepActivations.size(), 1u);  // two weights, one super activation
    EXPECT_EQ((*resolved)[1].keepActivations[0], (ActivationCoord{0, 29}));
    EXPECT_FALSE((*resolved)[0].needsSuperWeightScan());
    EXPECT_FALSE((*resolved)[1].needsSuperActivationScan());
    ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<TokenId>>();
    req.edits = *resolved;
    EXPECT_TRUE(engine.run(req).ok());

    // Nothing to keep on a model without super weights: keep_super is dropped, the edit still runs.
    Engine plain(openModelOrDie(referenceModel("llama3-rope-scaled")));
    auto none = resolveKeepSuperFromScan(plain, {1, 5, 77, 130}, {*rtn});
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE((*none)[0].keepSuper);
}

TEST(Published, BundledTableParsesAndMatches) {
    const auto& table = PublishedCoordinates::bundled();
    ASSERT_GE(table.models().size(), 9u);
    const auto find = [&](const std::string& n) -> const PublishedModel* {
        for (const auto& m : table.models()) {
            if (m.name == n) return &m;
        }
        return nullptr;
    };
    const PublishedModel* llama7 = find("Llama-7B");
    ASSERT_NE(llama7, nullptr);
    ASSERT_EQ(llama7->superWeights.size(), 1u);
    EXPECT_EQ(llama7->superWeights[0], (SuperWeightCoord{2, 3968, 7003}));
    const PublishedModel* phi3 = find("Phi-3-mini-4k-instruct");
    ASSERT_NE(phi3, nullptr);
    EXPECT_EQ(phi3->superWeights.size(), 6u);
    const PublishedModel* l2 = find("Llama-2-7B");
    ASSERT_NE(l2, nullptr);
    EXPECT_EQ(l2->massiveChannels, (std::vector<std::int64_t>{1415, 2533}));
    // Every entry's super-activation row is also a published massive channel when both are given.
    for (const auto& m : table.models()) {
        EXPECT_FALSE(m.source.empty()) << m.name;
        for (const auto& c : m.superWeights) {
            if (!m.massiveChannels.empty()) {
                EXPECT_NE(std::find(m.massiveChannels.begin(), m.massiveChannels.end(), c.row), m.massiveChannels.end()) << m.name;
            }
        }
    }

    ModelConfig c;
    c.modelType = "llama";
    c.hiddenSize = 4096;
    c.intermediateSize = 11008;
    c.numLayers = 32;
    c.vocabSize = 32000;
    c.maxPositionEmbeddings = 4096;
    auto byShape = table.match(c);
    ASSERT_TRUE(byShape.has_value());
    EXPECT_EQ(byShape->model->name, "Llama-2-7B");
    EXPECT_EQ(byShape->matchedBy, "shape");
    c.maxPositionEmbeddings = 2048;
    EXPECT_EQ(table.match(c)->model->name, "Llama-7B");
    c.nameOrPath = "meta-llama/Llama-2-7b-chat-hf";
    EXPECT_EQ(table.match(c)->model->name, "Llama-2-7B");
    EXPECT_EQ(table.match(c)->matchedBy, "name");
    ModelConfig other;
    other.modelType = "llama";
    other.hiddenSize = 64;
    EXPECT_FALSE(table.match(other, "llama-planted").has_value());
    // The reference models match nothing.
    for (const char* name : kReferenceModels) {
        auto m = openModelOrDie(referenceModel(name));
        EXPECT_FALSE(table.match(m->config(), name).has_value()) << name;
    }
    EXPECT_FALSE(PublishedCoordinates::parse("{\"models\": [{\"name\": \"x\", \"super_weights\": [[1, 2]]}]}", "t").ok());
    EXPECT_FALSE(PublishedCoordinates::parse("not json", "t").ok());
}

}  // namespace
