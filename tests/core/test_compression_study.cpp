// LASER and quantization studies (compression_study.h) on the planted
// reference model: the measures agree with core::perplexity / a manual
// answer-loss computation, incremental reuse changes no bit, the sweep
// grids and heatmaps are laid out as documented, keep_super wins in the
// Fig. 7 sweep, exports parse, progress counts cells, cancel stops.

#include <cmath>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "superlens/core/analysis/compression_study.h"
#include "superlens/core/analysis/metrics.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::referenceModel;

namespace {

// BOS then pseudo-random ids: the planted model fires its super weight on BOS.
std::vector<TokenId> syntheticText(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> id(3, 255);
    std::vector<TokenId> t{1};
    while (t.size() < n) t.push_back(id(rng));
    return t;
}

std::vector<ZeroShotTask> idTasks() {
    std::vector<ZeroShotTask> tasks;
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> id(3, 255);
    for (int i = 0; i < 6; ++i) {
        ZeroShotTask t;
        t.contextIds = {1};
        for (int j = 0; j < 6; ++j) t.contextIds.push_back(id(rng));
        for (int c = 0; c < 3; ++c) t.choiceIds.push_back({id(rng), id(rng)});
        t.choices = {"a", "b", "c"};
        t.gold = i % 3;
        tasks.push_back(std::move(t));
    }
    return tasks;
}

std::vector<AnswerTask> idAnswers() {
    std::vector<AnswerTask> a;
    std::mt19937_64 rng(9);
    std::uniform_int_distribution<int> id(3, 255);
    for (int i = 0; i < 5; ++i) {
        AnswerTask t;
        t.contextIds = {1};
        for (int j = 0; j < 5 + i; ++j) t.contextIds.push_back(id(rng));
        t.answerIds = {id(rng), id(rng)};
        a.push_back(std::move(t));
    }
    return a;
}

struct Fixture {
    std::shared_ptr<const Model> model;
    std::unique_ptr<Engine> engine;
    std::vector<TokenId> text = syntheticText(150, 3);
    std::vector<ZeroShotTask> tasks = idTasks();
    std::vector<AnswerTask> answers = idAnswers();
    CompressionStudyInputs inputs;

    explicit Fixture(const char* name = "llama-planted") {
        auto m = Model::open(referenceModel(name));
        EXPECT_TRUE(m.ok());
        model = *m;
        engine = std::make_unique<Engine>(model);
        inputs.textTokens = text;
        inputs.perplexity.context = 48;
        inputs.perplexity.stride = 32;
        inputs.tasks = &tasks;
        inputs.answers = &answers;
    }
};

TEST(CompressionStudy, PerplexityMatchesCorePerplexityAndReuseChangesNoBit) {
    Fixture f;
    LaserStudyOptions o;
    o.types = {"up", "down"};
    o.layers = {1, 3};
    o.rhos = {0.05, 1.0};
    auto study = studyLaser(*f.engine, f.inputs, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;

    auto ref = perplexity(*f.engine, f.text, {}, f.inputs.perplexity);
    ASSERT_TRUE(ref.ok()) << ref.error().message;
    EXPECT_EQ(study->baseline.ppl, ref->ppl);
    EXPECT_EQ(study->baseline.pplTokens, ref->tokens);
    const LaserCell& cell = study->cells[0];
    auto edits = parseEdits({cell.edit}, *f.model);
    ASSERT_TRUE(edits.ok());
    auto refEdited = perplexity(*f.engine, f.text, *edits, f.inputs.perplexity);
    ASSERT_TRUE(refEdited.ok());
    EXPECT_EQ(cell.metrics.ppl, refEdited->ppl) << "incremental windows must give core::perplexity's value bit for bit";

    auto zs = zeroShot(*f.engine, static_cast<const Tokenizer*>(nullptr), f.tasks, *edits);
    ASSERT_TRUE(zs.ok()) << zs.error().message;
    EXPECT_EQ(cell.metrics.accuracy, zs->accuracy);

    auto loss = answerLoss(*f.engine, nullptr, f.answers, *edits);
    ASSERT_TRUE(loss.ok()) << loss.error().message;
    EXPECT_EQ(cell.metrics.answerLoss, loss->meanNll);
    EXPECT_EQ(cell.metrics.answerExactMatch, loss->exactMatch);

    // Every window and answer restarted from the unedited checkpoints ...
    EXPECT_EQ(study->sequences, 5 + 5);  // windows at 0, 32, 64, 96, 128 (150 tokens, ctx 48, stride 32) + 5 answers
    EXPECT_EQ(study->reusedSequences, study->sequences);
    // ... and with no reuse at all, the same numbers.
    CompressionStudyInputs noReuse = f.inputs;
    noReuse.reuseBudgetBytes = 0;
    auto again = studyLaser(*f.engine, noReuse, {}, o);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->reusedSequences, 0);
    EXPECT_FALSE(again->notes.empty());
    for (std::size_t i = 0; i < study->cells.size(); ++i) {
        EXPECT_EQ(again->cells[i].metrics.ppl, study->cells[i].metrics.ppl) << i;
        EXPECT_EQ(again->cells[i].metrics.answerLoss, study->cells[i].metrics.answerLoss) << i;
    }
}

// Intervals (issue 23): the ppl interval of a cell and of its change from the
// baseline are the percentile intervals of replicates recomputed here from
// independent core::perplexity passes on the same seeded window resamples;
// the accuracy interval from zeroShot's predictions; JSON round trip keeps them.
TEST(CompressionStudy, IntervalsFromIndependentPasses) {
    Fixture f;
    f.inputs.perplexity.stride = 48;  // 4 disjoint windows: more units than overlapping ones
    f.inputs.bootstrap.resamples = 400;
    LaserStudyOptions o;
    o.types = {"down"};
    o.layers = {1};
    o.rhos = {0.05};
    auto study = studyLaser(*f.engine, f.inputs, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    const LaserCell& cell = study->cells[0];
    auto edits = parseEdits({cell.edit}, *f.model);
    ASSERT_TRUE(edits.ok());
    auto p0 = perplexity(*f.engine, f.text, {}, f.inputs.perplexity);
    auto p1 = perplexity(*f.engine, f.text, *edits, f.inputs.perplexity);
    ASSERT_TRUE(p0.ok() && p1.ok());
    const std::size_t W = p0->windowNll.size();
    ASSERT_GE(W, 3u);
    Resampler r(W, f.inputs.bootstrap.seed);
    std::vector<double> value, delta;
    std::vector<std::uint32_t> k;
    for (int b = 0; b < f.inputs.bootstrap.resamples; ++b) {
        r.next(k);
        double n0 = 0, n1 = 0, t = 0;
        for (std::size_t w = 0; w < W; ++w) {
            n0 += k[w] * p0->windowNll[w];
            n1 += k[w] * p1->windowNll[w];
            t += k[w] * double(p0->windowTokens[w]);
        }
        value.push_back(std::exp(n1 / t));
        delta.push_back(std::exp(n1 / t) - std::exp(n0 / t));
    }
    const Interval v = percentileInterval(value, 0.95), d = percentileInterval(delta, 0.95);
    ASSERT_TRUE(cell.metrics.ci.count("ppl"));
    EXPECT_NEAR(cell.metrics.ci.at("ppl").lo, v.lo, 1e-9 * v.lo);
    EXPECT_NEAR(cell.metrics.ci.at("ppl").hi, v.hi, 1e-9 * v.hi);
    EXPECT_NEAR(cell.metrics.deltaCi.at("ppl").lo, d.lo, 1e-9 * std::max(1.0, std::abs(d.lo)));
    EXPECT_NEAR(cell.metrics.deltaCi.at("ppl").hi, d.hi, 1e-9 * std::max(1.0, std::abs(d.hi)));
    // Baseline against itself: a zero-width delta.
    EXPECT_EQ(study->baseline.deltaCi.at("ppl").lo, 0.0);
    EXPECT_EQ(study->baseline.deltaCi.at("ppl").hi, 0.0);
    // Accuracy: tasks resampled.
    auto zs = zeroShot(*f.engine, static_cast<const Tokenizer*>(nullptr), f.tasks, *edits);
    ASSERT_TRUE(zs.ok());
    std::vector<double> correct;
    for (std::size_t t = 0; t < f.tasks.size(); ++t) correct.push_back(zs->predictions[t] == f.tasks[t].gold ? 1.0 : 0.0);
    BootstrapOptions bo = f.inputs.bootstrap;
    const Interval acc = bootstrapInterval(correct.size(), bo, [&](const auto& c) { return weightedSum(correct, c) / correct.size(); });
    EXPECT_DOUBLE_EQ(cell.metrics.ci.at("accuracy").lo, acc.lo);
    EXPECT_DOUBLE_EQ(cell.metrics.ci.at("accuracy").hi, acc.hi);
    EXPECT_TRUE(cell.metrics.ci.at("answer_loss").contains(cell.metrics.answerLoss));
    // JSON: <name>_ci and <name>_delta_ci, read back.
    const std::string json = study->toJson();
    EXPECT_NE(json.find("\"ppl_ci\""), std::string::npos);
    EXPECT_NE(json.find("\"ppl_delta_ci\""), std::string::npos);
    auto back = parseLaserStudyJson(json, "study.json");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_DOUBLE_EQ(back->cells[0].metrics.ci.at("ppl").lo, cell.metrics.ci.at("ppl").lo);
    EXPECT_DOUBLE_EQ(back->cells[0].metrics.deltaCi.at("ppl").hi, cell.metrics.deltaCi.at("ppl").hi);
    // Off: no intervals.
    f.inputs.bootstrap.resamples = 0;
    auto off = studyLaser(*f.engine, f.inputs, {}, o);
    ASSERT_TRUE(off.ok());
    EXPECT_TRUE(off->cells[0].metrics.ci.empty());
    EXPECT_EQ(off->toJson().find("_ci\""), std::string::npos);
}

TEST(CompressionStudy, AnswerLossIsTheMeanNllOfTheAnswerTokens) {
    Fixture f;
    auto loss = answerLoss(*f.engine, nullptr, f.answers, {});
    ASSERT_TRUE(loss.ok());
    double sum = 0;
    std::int64_t count = 0;
    int exact = 0;
    for (const AnswerTask& t : f.answers) {
        ForwardRequest req;
        req.tokens = t.contextIds;
        req.tokens.insert(req.tokens.end(), t.answerIds.begin(), t.answerIds.end());
        req.allPositionLogits = true;
        auto r = f.engine->run(req);
        ASSERT_TRUE(r.ok());
        const std::int64_t V = (*r)->logits.cols();
        bool all = true;
        for (std::size_t j = 0; j < t.answerIds.size(); ++j) {
            const std::int64_t pos = static_cast<std::int64_t>(t.contextIds.size() + j) - 1;
            const float* row = (*r)->logits.values.data() + pos * V;
            double maxv = row[0], z = 0;
            for (std::int64_t v = 0; v < V; ++v) maxv = std::max(maxv, static_cast<double>(row[v]));
            for (std::int64_t v = 0; v < V; ++v) z += std::exp(row[v] - maxv);
            sum += -(row[t.answerIds[j]] - maxv - std::log(z));
            ++count;
            all = all && (std::max_element(row, row + V) - row == t.answerIds[j]);
        }
        exact += all;
    }
    EXPECT_NEAR(loss->meanNll, sum / static_cast<double>(count), 1e-12);
    EXPECT_EQ(loss->tokens, count);
    EXPECT_DOUBLE_EQ(loss->exactMatch, static_cast<double>(exact) / 5);
}

TEST(CompressionStudy, LaserGridHeatmapAndExports) {
    Fixture f;
    LaserStudyOptions o;
    o.types = {"q", "down"};
    o.layers = {0, 2};
    o.rhos = {0.1, 0.5, 1.0};
    std::vector<std::pair<std::int64_t, std::int64_t>> ticks;
    RunControl control([&](std::int64_t done, std::int64_t total, const char* stage) {
        if (std::string(stage) == "laser") ticks.emplace_back(done, total);
    });
    auto study = studyLaser(*f.engine, f.inputs, {}, o, control);
    ASSERT_TRUE(study.ok()) << study.error().message;
    ASSERT_EQ(study->cells.size(), 2u * 2u * 3u);
    ASSERT_EQ(ticks.size(), 13u);
    EXPECT_EQ(ticks.back(), std::make_pair(std::int64_t{13}, std::int64_t{13}));
    // Order: type-major, then layer, then rho.
    EXPECT_EQ(study->cells[0].type, "q");
    EXPECT_EQ(study->cells[0].layer, 0);
    EXPECT_EQ(study->cells[1].rho, 0.5);
    EXPECT_EQ(study->cells[3].layer, 2);
    EXPECT_EQ(study->cells[6].type, "down");
    EXPECT_EQ(study->cells[6].tensor, "model.layers.0.mlp.down_proj.weight");
    EXPECT_EQ(study->cells[6].rank, 6);  // floor(0.1 * 64)
    EXPECT_EQ(study->cells[6].maxRank, 64);
    // rho = 1 keeps every singular value: the model is unchanged up to rounding.
    EXPECT_NEAR(study->cells[2].metrics.ppl, study->baseline.ppl, 1e-4 * study->baseline.ppl);

    const LaserHeatmap h = study->heatmap("down", "ppl");
    ASSERT_EQ(h.layers, (std::vector<int>{0, 2}));
    ASSERT_EQ(h.rhos, (std::vector<double>{0.1, 0.5, 1.0}));
    EXPECT_EQ(h.at(1, 0), study->cells[9].metrics.ppl);  // layer 2, rho 0.1
    EXPECT_EQ(h.baseline, study->baseline.ppl);

    const auto j = nlohmann::json::parse(study->toJson());
    EXPECT_EQ(j["study"], "laser");
    EXPECT_EQ(j["cells"].size(), 12u);
    EXPECT_EQ(j["metrics"], (nlohmann::json{"ppl", "nll", "accuracy", "accuracy_norm", "answer_loss", "answer_exact_match"}));
    // One heatmap per type and metric; values [layers][rhos].
    EXPECT_EQ(j["heatmaps"].size(), 2u * 6u);
    EXPECT_EQ(j["heatmaps"][6]["type"], "down");
    EXPECT_EQ(j["heatmaps"][6]["values"][1][0].get<double>(), study->cells[9].metrics.ppl);

    const std::string csv = study->csv();
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 14);  // header, baseline, 12 cells
    EXPECT_NE(study->markdown().find("| down | 2 | 0.1 | 6/64 |"), std::string::npos);

    // Read back (the GUI opens CLI JSON): every cell and the heatmaps survive bit for bit.
    auto back = parseLaserStudyJson(study->toJson(), "laser.json");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->toJson(), study->toJson());
    EXPECT_EQ(back->heatmap("down", "ppl").values, h.values);
    EXPECT_EQ(compressionStudyKind(study->toJson(), "laser.json").value(), "laser");
    auto wrongKind = parseQuantStudyJson(study->toJson(), "laser.json");
    ASSERT_FALSE(wrongKind.ok());
    EXPECT_NE(wrongKind.error().message.find("laser.json: a 'laser' study"), std::string::npos) << wrongKind.error().message;
    auto noCells = nlohmann::json::parse(study->toJson());
    noCells["cells"][3].erase("rho");
    auto missing = parseLaserStudyJson(noCells.dump(), "laser.json");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message, "laser.json: cells[3]: missing field \"rho\"");
    EXPECT_FALSE(compressionStudyKind("{not json", "x.json").ok());
}

TEST(CompressionStudy, QuantSweepKeepSuperBeatsPlainAtLargeBlocks) {
    Fixture f;
    QuantStudyOptions o;
    o.bits = 6;
    o.pattern = "model.layers.*.mlp.down_proj.weight";
    o.blocks = {64, 0};
    o.superWeights = {{1, 13, 57}};
    o.actBits = 8;
    o.actBlocks = {0};
    for (std::int64_t t = 0; t < 48; ++t) o.superActivations.push_back({t, 13});
    auto study = studyQuant(*f.engine, f.inputs, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    ASSERT_EQ(study->points.size(), 2u + 2u + 1u + 1u);
    const auto plot = study->plot("ppl");
    ASSERT_EQ(plot.size(), 4u);
    EXPECT_EQ(plot[0].name, "rtn");
    EXPECT_EQ(plot[1].name, "rtn_keep_super");
    EXPECT_EQ(plot[2].name, "actq");
    EXPECT_EQ(plot[3].name, "actq_keep_super");
    EXPECT_EQ(plot[0].blocks, (std::vector<std::int64_t>{64, 0}));
    const double base = study->baseline.ppl;
    // Fig. 7's shape: at block = tensor, keeping the super weight stays near
    // the baseline while plain RTN does not; the same for the activations.
    const double plainTensor = std::abs(plot[0].values[1] - base), keepTensor = std::abs(plot[1].values[1] - base);
    std::printf("ppl baseline %.4f  rtn tensor %.4f  keep %.4f  actq tensor %.4f  keep %.4f\n", base, plot[0].values[1], plot[1].values[1],
                plot[2].values[0], plot[3].values[0]);
    EXPECT_LT(keepTensor * 3, plainTensor);
    EXPECT_LT(std::abs(plot[3].values[0] - base) * 3, std::abs(plot[2].values[0] - base));
    EXPECT_EQ(study->points[1].edit, "rtn:model.layers.*.mlp.down_proj.weight:bits=6:block=tensor");
    EXPECT_EQ(study->points[3].edit, "rtn:model.layers.*.mlp.down_proj.weight:bits=6:block=tensor:keep_super=1:13:57");

    const auto j = nlohmann::json::parse(study->toJson());
    EXPECT_EQ(j["points"].size(), 6u);
    EXPECT_EQ(j["points"][1]["block_label"], "tensor");
    EXPECT_EQ(j["plots"][0]["metric"], "ppl");
    EXPECT_EQ(j["plots"][0]["series"][1]["name"], "rtn_keep_super");
    EXPECT_EQ(j["super_weights"][0]["row"], 13);
    const std::string csv = study->csv();
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 8);

    auto back = parseQuantStudyJson(study->toJson(), "quant.json");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->toJson(), study->toJson());
    EXPECT_EQ(back->plot("ppl")[1].values, plot[1].values);
}

// keep_super without coordinates (every front end's rule, now in core): the
// planted super weight from a scan of the text's head, its activation at
// (token 0, output channel 13) kept, patterns and explicit weights checked.
TEST(CompressionStudy, QuantKeepSuperSetUpFindsThePlantedWeight) {
    Fixture f;
    QuantStudyOptions o;
    o.pattern = "model.layers.*.mlp.down_proj.weight";
    ASSERT_TRUE(validateQuantStudyPatterns(*f.model, o).ok());
    auto found = findQuantStudySuperWeights(*f.engine, scanInputHead(f.text), {}, {}, o);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_FALSE(o.superWeights.empty());
    EXPECT_EQ(o.superWeights.front(), (SuperWeightCoord{1, 13, 57}));
    ASSERT_FALSE(o.superActivations.empty());
    EXPECT_EQ(o.superActivations.front(), (ActivationCoord{0, 13}));
    EXPECT_TRUE(validateQuantStudySuperWeights(*f.model, o).ok());
    EXPECT_EQ(scanInputHead(f.text).size(), kScanInputTokens);
    EXPECT_EQ(scanInputHead({1, 2}), (std::vector<TokenId>{1, 2}));

    QuantStudyOptions bad = o;
    bad.pattern = "model.nothing.*";
    EXPECT_FALSE(validateQuantStudyPatterns(*f.model, bad).ok());
    bad = o;
    bad.superWeights = {{99, 0, 0}};
    EXPECT_FALSE(validateQuantStudySuperWeights(*f.model, bad).ok());
    EXPECT_FALSE(findQuantStudySuperWeights(*f.engine, {}, {}, {}, bad).ok());
}

TEST(CompressionStudy, CancelStopsTheSweep) {
    Fixture f;
    LaserStudyOptions o;
    o.types = {"up"};
    o.rhos = {0.1, 0.5};
    RunControl control;
    int ticks = 0;
    control.setProgressCallback([&](std::int64_t, std::int64_t, const char* stage) {
        if (std::string(stage) == "laser" && ++ticks == 2) control.cancel();
    });
    auto study = studyLaser(*f.engine, f.inputs, {}, o, control);
    ASSERT_FALSE(study.ok());
    EXPECT_EQ(study.error().message, kCancelledMessage);
    EXPECT_EQ(ticks, 2);
}

TEST(CompressionStudy, BadInputsAreClearErrors) {
    Fixture f;
    LaserStudyOptions o;
    o.types = {"qkv"};
    auto s = studyLaser(*f.engine, f.inputs, {}, o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("does not exist"), std::string::npos) << s.error().message;
    o.types = {"up"};
    o.rhos = {1.5};
    s = studyLaser(*f.engine, f.inputs, {}, o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("outside (0, 1]"), std::string::npos);
    CompressionStudyInputs none;
    s = studyLaser(*f.engine, none, {}, LaserStudyOptions{});
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("nothing to measure"), std::string::npos);

    Fixture phi("phi3-bf16-two-super-weights");
    EXPECT_EQ(laserMatrixTypes(*phi.model), (std::vector<std::string>{"gate_up", "down", "qkv", "o"}));
    EXPECT_EQ(laserMatrixTypes(*f.model), (std::vector<std::string>{"gate", "up", "down", "q", "k", "v", "o"}));
    auto name = laserTensorName(*phi.model, "q", 0);
    ASSERT_FALSE(name.ok());
    EXPECT_NE(name.error().message.find("qkv"), std::string::npos);

    EXPECT_FALSE(parseAnswerTasks("{\"context\": \"a\"}\n", "x.jsonl").ok());
    EXPECT_FALSE(parseAnswerTasks("not json\n", "x.jsonl").ok());
    auto bad = parseAnswerTasks("{\"context_ids\": [1], \"answer_ids\": []}\n", "x.jsonl");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("x.jsonl:1"), std::string::npos);
    auto good = parseAnswerTasks("\n{\"context\": \"The capital of France is\", \"answer\": \" Paris\"}\n", "x.jsonl");
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(good->size(), 1u);
    EXPECT_FALSE(tokenizeAnswerTask((*good)[0], nullptr).ok()) << "text answers need a tokenizer";
}

}  // namespace

// ---------------------------------------------------------------------------
// Masked-token measure (issue 18: LASER on RoBERTa)
// ---------------------------------------------------------------------------

namespace {

std::filesystem::path robertaFixture() { return superlens::test::testData() / "encoders" / "roberta-f32"; }

}  // namespace

// The sweep lists typed by a user: one rule for the CLI, the GUI and Python.
TEST(CompressionStudy, SweepListsParseByOneRule) {
    EXPECT_EQ(splitListItems(" a, b;c\n d,,"), (std::vector<std::string>{"a", "b", "c", "d"}));
    EXPECT_TRUE(splitListItems(" ,; ").empty());

    auto layers = parseLayerList("0, 2-4;7", 8, "--layers");
    ASSERT_TRUE(layers) << layers.error().message;
    EXPECT_EQ(*layers, (std::vector<int>{0, 2, 3, 4, 7}));
    EXPECT_EQ(*parseLayerList("30-31", 0, "x"), (std::vector<int>{30, 31}));  // no bound given
    const std::pair<const char*, const char*> badLayers[] = {
        {"8", "--layers: '8' is outside the model's layers 0..7"},
        {"4-2", "--layers: '4-2' is outside the model's layers 0..7"},
        {"-1", "--layers: '-1' is outside the model's layers 0..7"},
        {"2-", "--layers: '2-' is not a layer or a range of layers (e.g. 3 or 2-5)"},
        {"1.5", "--layers: '1.5' is not a layer or a range of layers (e.g. 3 or 2-5)"},
        {"99999999999", "--layers: '99999999999' is outside the model's layers 0..7"},
        {" , ", "--layers: no layer given"},
    };
    for (const auto& [text, message] : badLayers) {
        auto r = parseLayerList(text, 8, "--layers");
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().message, message);
    }
    EXPECT_EQ(parseLayerList("99999999999", 0, "L").error().message, "L: '99999999999' is outside the model's layers");

    auto rhos = parseRhoList("0.01 0.5,1", "--rhos");
    ASSERT_TRUE(rhos);
    EXPECT_EQ(*rhos, (std::vector<double>{0.01, 0.5, 1.0}));
    for (const char* bad : {"0", "1.5", "nan", "0.1x", "-0.5"}) {
        auto r = parseRhoList(bad, "--rhos");
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message, std::string("--rhos: '") + bad + "' is not a fraction in (0, 1]");
    }
    EXPECT_EQ(parseRhoList("", "rhos").error().message, "rhos: no value given");

    EXPECT_EQ(*parseBlockSizes("64,128,tensor", "--blocks", false), (std::vector<std::int64_t>{64, 128, 0}));
    EXPECT_EQ(*parseBlockSizes("token, tensor 4", "--act-blocks", true), (std::vector<std::int64_t>{-1, 0, 4}));
    EXPECT_EQ(parseBlockSizes("0", "--blocks", false).error().message, "--blocks: '0' is not a positive block size or 'tensor'");
    EXPECT_EQ(parseBlockSizes("token", "--blocks", false).error().message, "--blocks: 'token' is not a positive block size or 'tensor'");
    EXPECT_EQ(parseBlockSizes("-2", "--act-blocks", true).error().message, "--act-blocks: '-2' is not a positive block size, 'token' or 'tensor'");
    EXPECT_EQ(parseBlockSizes(";", "--blocks", false).error().message, "--blocks: no block size given");
}

TEST(MaskedLm, ScoreUsesTheFirstArgmaxAndFloat64LogSoftmax) {
    // Two masked positions of a 3-token window, vocabulary 4.
    ActivationTensor logits;
    logits.shape = {3, 4};
    logits.values = {0, 0, 0, 0,          // position 0: not masked
                     2, 2, 1, 0,          // position 1: tie between 0 and 1, target 1 -> wrong (first argmax is 0)
                     0, 0, 0, 3};         // position 2: target 3 -> correct
    MaskedWindow w;
    w.input = {5, 9, 9};
    w.positions = {1, 2};
    w.targets = {1, 3};
    const MaskedLmScore s = scoreMaskedWindow(logits, w);
    EXPECT_EQ(s.tokens, 2);
    EXPECT_EQ(s.correct, 1);
    const double nll1 = std::log(2 * std::exp(2.0) + std::exp(1.0) + 1.0) - 2.0;
    const double nll2 = std::log(3.0 + std::exp(3.0)) - 3.0;
    EXPECT_NEAR(s.nllSum, nll1 + nll2, 1e-12);
}

TEST(MaskedLm, WindowsWrapTheSpecialsAndMaskOnlyOrdinaryTokens) {
    auto tok = Tokenizer::loadFromFolder(robertaFixture());
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    const TokenId mask = 560;  // "<mask>" in the fixture's tokenizer.json
    ASSERT_EQ((*tok)->tokenToId("<mask>"), std::optional<TokenId>(mask));
    // <s> a b <pad> c d e f g h </s>: <pad> (1) inside is special and never masked.
    const std::vector<TokenId> ids = {0, 50, 60, 1, 70, 80, 90, 100, 110, 120, 2};
    MaskedLmOptions o;
    o.context = 6;  // 4 content tokens per window between <s> and </s>
    o.fraction = 0.5;
    auto w = maskedLmWindows(ids, **tok, o);
    ASSERT_TRUE(w.ok()) << w.error().message;
    ASSERT_EQ(w->size(), 3u);  // content 50 60 1 70 | 80 90 100 110 | 120
    const std::vector<std::size_t> masked = {2, 2, 1};  // floor(0.5 n + 0.5): n = 3, 4, 1
    for (std::size_t i = 0; i < w->size(); ++i) {
        const MaskedWindow& x = (*w)[i];
        EXPECT_EQ(x.input.front(), 0);
        EXPECT_EQ(x.input.back(), 2);
        EXPECT_LE(x.input.size(), 6u);
        ASSERT_EQ(x.positions.size(), masked[i]) << "window " << i;
        EXPECT_TRUE(std::is_sorted(x.positions.begin(), x.positions.end()));
        for (std::size_t k = 0; k < x.positions.size(); ++k) {
            const auto p = static_cast<std::size_t>(x.positions[k]);
            EXPECT_GT(p, 0u);
            EXPECT_LT(p, x.input.size() - 1);
            EXPECT_EQ(x.input[p], mask);
            EXPECT_NE(x.targets[k], 1) << "the inner <pad> was masked";
        }
    }
    EXPECT_EQ((*w)[0].input[3], 1);  // <pad> stays in place
    // The same seed gives the same windows; another seed other positions somewhere.
    auto again = maskedLmWindows(ids, **tok, o);
    ASSERT_TRUE(again.ok());
    for (std::size_t i = 0; i < w->size(); ++i) EXPECT_EQ((*w)[i].positions, (*again)[i].positions);
    bool differs = false;
    for (std::uint64_t seed = 1; seed < 20 && !differs; ++seed) {
        o.seed = seed;
        auto other = maskedLmWindows(ids, **tok, o);
        ASSERT_TRUE(other.ok());
        for (std::size_t i = 0; i < w->size(); ++i) differs = differs || (*other)[i].positions != (*w)[i].positions;
    }
    EXPECT_TRUE(differs);
    // Errors: fraction outside (0, 1], no room between the specials, nothing maskable.
    o.seed = 1;
    o.fraction = 0;
    EXPECT_FALSE(maskedLmWindows(ids, **tok, o).ok());
    o.fraction = 0.15;
    o.context = 2;
    auto tight = maskedLmWindows(ids, **tok, o);
    ASSERT_FALSE(tight.ok());
    EXPECT_NE(tight.error().message.find("no room"), std::string::npos);
    o.context = 8;
    EXPECT_FALSE(maskedLmWindows({0, 1, 1, 2}, **tok, o).ok());
}

TEST(MaskedLm, StudyBaselineEqualsTheStandaloneMeasureAndCausalModelsAreRefused) {
    auto m = Model::open(robertaFixture());
    ASSERT_TRUE(m.ok()) << m.error().message;
    Engine engine(*m);
    auto tok = Tokenizer::loadFromFolder(robertaFixture());
    ASSERT_TRUE(tok.ok());
    const std::vector<TokenId> text = (*tok)->encode("The capital of France is Paris. The river runs to the sea and the dog sleeps.", true);
    CompressionStudyInputs in;
    in.textTokens = text;
    in.tokenizer = tok->get();
    in.perplexity.context = windowLength(0, (*m)->config());
    // Regression: the default window used to be max_position_embeddings (40),
    // which overruns RoBERTa's positions that start at padding_idx + 1.
    EXPECT_EQ(in.perplexity.context, 38);
    in.bootstrap.resamples = 0;
    LaserStudyOptions lo;
    lo.types = {"up"};
    lo.layers = {1};
    lo.rhos = {0.5};
    auto study = studyLaser(engine, in, {}, lo);
    ASSERT_TRUE(study.ok()) << study.error().message;
    MaskedLmOptions mo;
    mo.context = in.perplexity.context;
    auto windows = maskedLmWindows(text, **tok, mo);
    ASSERT_TRUE(windows.ok());
    auto standalone = maskedLm(engine, *windows, {});
    ASSERT_TRUE(standalone.ok()) << standalone.error().message;
    EXPECT_EQ(study->baseline.mlmLoss, standalone->loss);
    EXPECT_EQ(study->baseline.mlmAccuracy, standalone->accuracy);
    EXPECT_EQ(study->baseline.mlmTokens, standalone->tokens);
    EXPECT_TRUE(std::isnan(study->baseline.ppl));
    ASSERT_EQ(study->maskedWindows.size(), windows->size());
    auto e = parseEdit(study->cells[0].edit);
    ASSERT_TRUE(e.ok());
    auto edited = maskedLm(engine, *windows, {*e});
    ASSERT_TRUE(edited.ok());
    EXPECT_EQ(study->cells[0].metrics.mlmLoss, edited->loss);
    // A causal model's logits predict the next token: no masked-token measure.
    Fixture f;
    auto refused = maskedLm(*f.engine, *windows, {});
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("bidirectional encoder"), std::string::npos);
}
