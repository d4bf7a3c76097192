// The view model (core/view: what the GUI's views and `superlens-cli figure`
// draw) without a QApplication, and the rules it shares with the analyses:
// the softmax (core/analysis/softmax.h) and the delimiter rule of the
// massive-activation scan. Before these had one home, the view model carried
// its own softmax and a second delimiter rule, and the Massive view could mark
// other carrier tokens than `scan` reported.

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/softmax.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/model/model.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "superlens/core/view/build_view_snapshot.h"
#include "test_paths.h"

using namespace superlens;

namespace {

// Independent float64 softmax written for the test: plain exp/sum with the
// maximum subtracted, summed with Kahan compensation.
std::vector<double> referenceSoftmax(const std::vector<float>& row) {
    double m = row[0];
    for (float v : row) m = std::max(m, static_cast<double>(v));
    std::vector<double> e;
    double sum = 0, comp = 0;
    for (float v : row) {
        e.push_back(std::exp(static_cast<double>(v) - m));
        const double y = e.back() - comp;
        const double t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    for (double& x : e) x /= sum;
    return e;
}

TEST(Softmax, ClosedFormValues) {
    // exp(0) : exp(ln 2) : exp(ln 3) = 1 : 2 : 3.
    const std::vector<float> row = {0.0f, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0))};
    std::vector<double> p, lp;
    core::softmax(row.data(), 3, p);
    core::logSoftmax(row.data(), 3, lp);
    const double z = 1.0 + std::exp(static_cast<double>(row[1])) + std::exp(static_cast<double>(row[2]));
    for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(p[static_cast<std::size_t>(i)], std::exp(static_cast<double>(row[static_cast<std::size_t>(i)])) / z, 1e-15);
        EXPECT_NEAR(lp[static_cast<std::size_t>(i)], static_cast<double>(row[static_cast<std::size_t>(i)]) - std::log(z), 1e-15);
    }
    EXPECT_NEAR(core::logSumExp(row.data(), 3), std::log(z), 1e-15);
}

TEST(Softmax, LargeLogitsDoNotOverflowAndSmallTermsSurvive) {
    // exp(600) overflows a float and exp(-640) underflows one: float32
    // arithmetic would lose both ends. 32k entries like a real vocabulary.
    std::vector<float> row(32000, -40.0f);
    row[7] = 600.0f;
    row[8] = 599.0f;
    std::vector<double> p;
    core::softmax(row.data(), static_cast<std::int64_t>(row.size()), p);
    const std::vector<double> ref = referenceSoftmax(row);
    double sum = 0;
    for (std::size_t i = 0; i < row.size(); ++i) {
        ASSERT_TRUE(std::isfinite(p[i]));
        EXPECT_NEAR(p[i], ref[i], 1e-15 + 1e-13 * ref[i]) << i;
        sum += p[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_NEAR(p[7] / p[8], std::exp(1.0), 1e-12);
    EXPECT_GT(p[0], 0.0);  // exp(-640): a double keeps it
    EXPECT_NEAR(p[0] / std::exp(-640.0), 1.0 / (1.0 + std::exp(-1.0)), 1e-9);
    EXPECT_NEAR(core::logSumExp(row.data(), static_cast<std::int64_t>(row.size())), 600.0 + std::log1p(std::exp(-1.0)), 1e-9);
}

TEST(DelimiterRule, TextsOfPunctuationNewlinesAndSpaces) {
    for (const char* t : {",", ".", "\n", " ", " .", "\n\n", ";:", "\t"}) EXPECT_TRUE(core::isDelimiterText(t)) << '"' << t << '"';
    for (const char* t : {"", "a", " the", "a,", "1", "\xc3\xa9", "\xe2\x80\x94"}) EXPECT_FALSE(core::isDelimiterText(t)) << '"' << t << '"';
}

struct DemoRun {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Engine> engine;
    std::unique_ptr<core::Tokenizer> tokenizer;
    std::shared_ptr<const core::ForwardResult> original, edited;
};

DemoRun& demo() {
    static DemoRun d = [] {
        DemoRun x;
        auto m = core::Model::open(test::demoModel());
        if (!m) throw std::runtime_error(m.error().message);
        x.model = *m;
        x.engine = std::make_unique<core::Engine>(x.model);
        auto tok = core::Tokenizer::loadFromFolder(test::demoModel());
        if (!tok) throw std::runtime_error(tok.error().message);
        x.tokenizer = std::move(tok).value();
        // Commas, a semicolon, a full stop and a newline: delimiters for both rules.
        const auto ids = x.tokenizer->encode("And God said, Let there be light: and there was light.\nAnd God saw the light;", true);
        auto original = x.engine->run(core::view::viewForwardRequest(ids, {}));
        if (!original) throw std::runtime_error(original.error().message);
        x.original = *original;
        auto edits = core::parseEdits({"model.layers.1.mlp.down_proj.weight[87,233]=0"}, *x.model);
        if (!edits) throw std::runtime_error(edits.error().message);
        auto edited = x.engine->run(core::view::viewForwardRequest(ids, *edits, x.original));
        if (!edited) throw std::runtime_error(edited.error().message);
        x.edited = *edited;
        return x;
    }();
    return d;
}

TEST(ViewModel, BuildsWithoutQtAndAgreesWithTheScanOnCarriers) {
    DemoRun& d = demo();
    core::view::SnapshotInputs in;
    in.modelName = "demo";
    in.model = d.model.get();
    in.tokenizer = d.tokenizer.get();
    in.original = d.original;
    in.edited = d.edited;
    in.engine = d.engine.get();
    auto snap = core::view::buildViewSnapshot(in);
    ASSERT_TRUE(snap) << snap.error().message;
    const core::view::ViewSnapshot& s = **snap;
    ASSERT_EQ(s.tokenCount(), static_cast<std::int64_t>(d.original->tokens.size()));
    ASSERT_EQ(s.layerCount(), 6);

    // Carrier tokens: the first token, and exactly the tokens the scan calls delimiters.
    int delimiters = 0;
    for (std::size_t t = 0; t < s.tokens.size(); ++t) {
        const bool scanRule = core::isDelimiterToken(*d.tokenizer, s.tokens[t]);
        EXPECT_EQ(s.delimiterToken[t], t == 0 || scanRule) << "token " << t << " " << s.tokenLabels[t];
        delimiters += scanRule && t > 0;
    }
    EXPECT_GE(delimiters, 4);  // ",", ":", ".", "\n", ";" (how the tokenizer splits them may merge some)
    auto scan = core::findMassiveActivations(*d.original, d.tokenizer.get());
    ASSERT_TRUE(scan);
    int checked = 0;
    for (const auto& layer : scan->topPerLayer) {
        for (const core::MassiveActivation& m : layer) {
            EXPECT_EQ(s.delimiterToken[static_cast<std::size_t>(m.token)], m.firstToken || m.delimiter) << "layer " << m.layer << " token " << m.token;
            ++checked;
        }
    }
    EXPECT_GT(checked, 0);

    // The next-token listing: float64 softmax of the last logits row, recomputed here.
    const std::int64_t V = d.original->logits.cols();
    const auto row = [&](const core::ForwardResult& r) {
        const float* p = r.logits.values.data() + (r.logits.rows() - 1) * V;
        return referenceSoftmax(std::vector<float>(p, p + V));
    };
    const std::vector<double> po = row(*d.original), pe = row(*d.edited);
    ASSERT_FALSE(s.topNext.empty());
    for (const core::view::TokenProbability& tp : s.topNext) {
        EXPECT_NEAR(tp.original, po[static_cast<std::size_t>(tp.id)], 1e-12);
        EXPECT_NEAR(tp.edited, pe[static_cast<std::size_t>(tp.id)], 1e-12);
    }
    // Zeroing the super weight changes the prediction.
    double moved = 0;
    for (std::int64_t i = 0; i < V; ++i) moved += std::fabs(po[static_cast<std::size_t>(i)] - pe[static_cast<std::size_t>(i)]);
    EXPECT_GT(moved, 1e-3);
}

// Every analysis of both sides, compared exactly (the reused side must be the same numbers).
void expectSameAnalyses(const core::view::ViewSnapshot& a, const core::view::ViewSnapshot& b, const char* what) {
    ASSERT_EQ(a.originalStats.size(), b.originalStats.size()) << what;
    ASSERT_EQ(a.editedStats.size(), b.editedStats.size()) << what;
    for (std::size_t l = 0; l < a.originalStats.size(); ++l) {
        for (const auto* pair : {&a.originalStats, &a.editedStats}) {
            const auto& x = (*pair)[l];
            const auto& y = (pair == &a.originalStats ? b.originalStats : b.editedStats)[l];
            EXPECT_EQ(x.residMedian, y.residMedian) << what << " layer " << l;
            EXPECT_EQ(x.downInMedian, y.downInMedian) << what << " layer " << l;
            EXPECT_EQ(x.downOutMedian, y.downOutMedian) << what << " layer " << l;
            EXPECT_EQ(x.resid.value, y.resid.value) << what << " layer " << l;
        }
    }
    for (const auto& [x, y] : {std::pair{&a.originalMassive, &b.originalMassive}, std::pair{&a.editedMassive, &b.editedMassive}}) {
        EXPECT_EQ(x->layerMedian, y->layerMedian) << what;
        ASSERT_EQ(x->flagged.size(), y->flagged.size()) << what;
        for (std::size_t i = 0; i < x->flagged.size(); ++i) EXPECT_EQ(x->flagged[i].value, y->flagged[i].value) << what;
    }
    EXPECT_EQ(a.originalTokenPeak, b.originalTokenPeak) << what;
    EXPECT_EQ(a.editedTokenPeak, b.editedTokenPeak) << what;
    EXPECT_EQ(a.originalHeadMean, b.originalHeadMean) << what;
    EXPECT_EQ(a.editedHeadMean, b.editedHeadMean) << what;
    EXPECT_EQ(a.originalSinks.layers, b.originalSinks.layers) << what;
    EXPECT_EQ(a.editedSinks.layers, b.editedSinks.layers) << what;
    ASSERT_EQ(a.originalLoss.size(), b.originalLoss.size()) << what;
    for (std::size_t t = 1; t < a.originalLoss.size(); ++t) {
        EXPECT_EQ(a.originalLoss[t], b.originalLoss[t]) << what;
        EXPECT_EQ(a.editedLoss[t], b.editedLoss[t]) << what;
    }
    EXPECT_EQ(a.originalMeanProb, b.originalMeanProb) << what;
    ASSERT_EQ(a.movers.size(), b.movers.size()) << what;
    for (std::size_t i = 0; i < a.movers.size(); ++i) {
        EXPECT_EQ(a.movers[i].id, b.movers[i].id) << what;
        EXPECT_EQ(a.movers[i].original, b.movers[i].original) << what;
        EXPECT_EQ(a.movers[i].edited, b.movers[i].edited) << what;
    }
    EXPECT_EQ(a.stopwordMassOriginal, b.stopwordMassOriginal) << what;
    EXPECT_EQ(a.stopwordMassEdited, b.stopwordMassEdited) << what;
    ASSERT_EQ(a.tracked.size(), b.tracked.size()) << what;
}

// A toggle in the GUI passes the last snapshot: the original side is taken
// from it (same run object) and must equal a fresh analysis; a snapshot of
// another run is ignored.
TEST(ViewModel, ReusesTheOriginalSideOfAnEarlierSnapshotOfTheSameRun) {
    DemoRun& d = demo();
    core::view::SnapshotInputs in;
    in.modelName = "demo";
    in.model = d.model.get();
    in.tokenizer = d.tokenizer.get();
    in.stopwordIds = {d.original->tokens.at(1)};
    in.original = d.original;
    in.edited = d.edited;
    auto freshEdited = core::view::buildViewSnapshot(in);
    ASSERT_TRUE(freshEdited) << freshEdited.error().message;
    ASSERT_FALSE((*freshEdited)->originalMeanProb.empty());
    core::view::SnapshotInputs plain = in;
    plain.edited = nullptr;
    auto freshPlain = core::view::buildViewSnapshot(plain);
    ASSERT_TRUE(freshPlain);

    // Toggle off, then on again, each reusing the snapshot before.
    plain.reuseOriginalFrom = *freshEdited;
    auto off = core::view::buildViewSnapshot(plain);
    ASSERT_TRUE(off);
    expectSameAnalyses(**off, **freshPlain, "toggle off");
    in.reuseOriginalFrom = *off;
    auto on = core::view::buildViewSnapshot(in);
    ASSERT_TRUE(on);
    expectSameAnalyses(**on, **freshEdited, "toggle on");

    // A snapshot whose original is the edited run: not reused.
    core::view::SnapshotInputs other = plain;
    other.original = d.edited;
    other.reuseOriginalFrom = nullptr;
    auto ofEdited = core::view::buildViewSnapshot(other);
    ASSERT_TRUE(ofEdited);
    ASSERT_NE((*ofEdited)->originalStats.back().residMedian, (*freshEdited)->originalStats.back().residMedian);
    in.reuseOriginalFrom = *ofEdited;
    auto ignored = core::view::buildViewSnapshot(in);
    ASSERT_TRUE(ignored);
    expectSameAnalyses(**ignored, **freshEdited, "another run's snapshot");
}

TEST(ViewModel, HooksEveryViewNeedsAreRecorded) {
    DemoRun& d = demo();
    const int L = 6;
    for (int l = 0; l < L; ++l) {
        for (core::HookKind k : {core::HookKind::ResidPost, core::HookKind::MlpPost, core::HookKind::MlpOut, core::HookKind::AttnPattern}) {
            EXPECT_NE(d.original->activation(core::HookPoint{k, l}), nullptr) << "layer " << l << " hook kind " << static_cast<int>(k);
        }
    }
    EXPECT_EQ(d.original->logits.rows(), static_cast<std::int64_t>(d.original->tokens.size()));  // every position (Loss view)
}

}  // namespace
