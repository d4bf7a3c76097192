// The interpretability views of issue 24 on the bundled demo model (its super
// weight model.layers.1.mlp.down_proj.weight[87,233] zeroed for the edited
// run): the values each view plots, read back from the plot objects, against
// core's analyses run here on the same forward results and against float64
// recomputations from the engine's logits.

#include <cmath>

#include <QComboBox>
#include <QSignalSpy>
#include <QTest>
#include <qcustomplot.h>

#include "superlens/core/view/build_view_snapshot.h"
#include "plot_view.h"
#include "superlens/core/analysis/logit_lens.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"
#include "view_registry.h"
#include "superlens/core/analysis/attention_sinks.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/token_loss.h"
#include "views/lens_view.h"
#include "views/loss_view.h"
#include "views/sinks_view.h"

using namespace superlens;
using widgets::PlotView;
using core::view::SnapshotPtr;

namespace {

const char* kPrompt = "In the beginning God created the heaven and the earth.";
const char* kSuperWeight = "model.layers.1.mlp.down_proj.weight[87,233]=0";

struct Fixture {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Engine> engine;
    std::unique_ptr<core::Tokenizer> tokenizer;
    std::vector<core::TokenId> ids;
    std::shared_ptr<const core::ForwardResult> original, edited;
    SnapshotPtr plain, withEdit, noEngine;
};

Fixture& fixture() {
    static Fixture f = [] {
        Fixture x;
        auto m = core::Model::open(test::demoModel());
        if (!m) qFatal("%s", m.error().message.c_str());
        x.model = *m;
        x.engine = std::make_unique<core::Engine>(x.model);
        auto tok = core::Tokenizer::loadFromFolder(test::demoModel());
        if (!tok) qFatal("%s", tok.error().message.c_str());
        x.tokenizer = std::move(tok).value();
        x.ids = x.tokenizer->encode(kPrompt, true);
        auto original = x.engine->run(core::view::viewForwardRequest(x.ids, {}));
        if (!original) qFatal("%s", original.error().message.c_str());
        x.original = *original;
        auto edits = core::parseEdits({kSuperWeight}, *x.model);
        if (!edits) qFatal("%s", edits.error().message.c_str());
        auto edited = x.engine->run(core::view::viewForwardRequest(x.ids, *edits, x.original));
        if (!edited) qFatal("%s", edited.error().message.c_str());
        x.edited = *edited;
        core::view::SnapshotInputs in;
        in.model = x.model.get();
        in.modelName = "demo";
        in.tokenizer = x.tokenizer.get();
        in.original = x.original;
        in.engine = x.engine.get();
        auto plain = core::view::buildViewSnapshot(in);
        if (!plain) qFatal("%s", plain.error().message.c_str());
        x.plain = *plain;
        in.edited = x.edited;
        in.originalLens = x.plain->originalLens;  // as the GUI does: the original lens is reused
        auto snap = core::view::buildViewSnapshot(in);
        if (!snap) qFatal("%s", snap.error().message.c_str());
        x.withEdit = *snap;
        in.engine = nullptr;
        in.originalLens = nullptr;
        auto bare = core::view::buildViewSnapshot(in);
        if (!bare) qFatal("%s", bare.error().message.c_str());
        x.noEngine = *bare;
        return x;
    }();
    return f;
}

template <class V>
std::unique_ptr<V> makeView(const QString& kind, const SnapshotPtr& snapshot, int layer = 1) {
    std::unique_ptr<PlotView> v(widgets::createView(kind));
    v->resize(1100, 800);
    v->setSelectedLayer(layer);
    v->setSnapshot(snapshot);
    auto* typed = dynamic_cast<V*>(v.get());
    if (!typed) qFatal("view %s has the wrong class", qPrintable(kind));
    v.release();
    return std::unique_ptr<V>(typed);
}

// Float64 softmax of one logits row.
std::vector<double> softmax64(const core::ActivationTensor& logits, std::int64_t row) {
    const std::int64_t V = logits.cols();
    std::vector<double> p(static_cast<std::size_t>(V));
    double m = -1e300, sum = 0;
    for (std::int64_t i = 0; i < V; ++i) m = std::max(m, static_cast<double>(logits.at(row, i)));
    for (std::int64_t i = 0; i < V; ++i) sum += (p[static_cast<std::size_t>(i)] = std::exp(logits.at(row, i) - m));
    for (double& x : p) x /= sum;
    return p;
}

}  // namespace

class TestInterpretabilityViews : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY(fixture().withEdit); }

    void lensHeatmapsPlotTheTop1ProbabilityOfEveryLayerAndPosition() {
        const Fixture& f = fixture();
        auto v = makeView<widgets::LensView>("lens", f.withEdit);
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        const int L = f.model->config().numLayers;
        const int T = static_cast<int>(f.ids.size());
        for (bool edited : {false, true}) {
            const auto& run = edited ? *f.edited : *f.original;
            // core's lens of the same run, computed here without any reuse.
            auto lens = core::logitLens(*f.engine, run, {.position = -1, .topK = 5, .allPositions = true});
            QVERIFY(lens.ok());
            for (int l = -1; l < L; ++l) {
                for (int t = 0; t < T; ++t) QCOMPARE(v->heatmapValue(edited, l, t), lens->top1Prob[static_cast<std::size_t>(l + 1)][static_cast<std::size_t>(t)]);
            }
            // The last layer's row is the model's own output: the top-1 probability of the run's logits.
            for (int t = 0; t < T; ++t) {
                const auto p = softmax64(run.logits, t);
                QVERIFY(std::fabs(v->heatmapValue(edited, L - 1, t) - *std::max_element(p.begin(), p.end())) < 1e-12);
            }
        }
        // Zeroing the super weight changes the prediction at the last layer somewhere.
        bool changed = false;
        for (int t = 0; t < T; ++t) changed = changed || v->heatmapValue(false, L - 1, t) != v->heatmapValue(true, L - 1, t);
        QVERIFY(changed);
    }

    void lensCurvesFollowThePosition() {
        const Fixture& f = fixture();
        auto v = makeView<widgets::LensView>("lens", f.withEdit);
        const int L = f.model->config().numLayers;
        const int T = static_cast<int>(f.ids.size());
        QCOMPARE(v->position(), T - 1);
        for (int P : {T - 1, 2}) {
            v->setPosition(P);
            QCOMPARE(v->position(), P);
            for (bool edited : {false, true}) {
                auto lens = core::logitLens(*f.engine, edited ? *f.edited : *f.original, {.position = P, .topK = 5});
                QVERIFY(lens.ok());
                const QVector<double> curve = v->finalProbabilityCurve(edited);
                const QVector<double> entropy = v->entropyCurve(edited);
                QCOMPARE(curve.size(), L + 1);
                for (int r = 0; r < L + 1; ++r) {
                    QCOMPARE(entropy[r], lens->layers[static_cast<std::size_t>(r)].entropy);
                    QCOMPARE(curve[r], lens->layers[static_cast<std::size_t>(r)].finalProb);
                }
                QCOMPARE(curve[L], lens->layers.back().top.front().prob);  // the final layer's top-1 is the prediction
                const QString label = QString::fromStdString(f.withEdit->vocabLabel(lens->layers.back().top.front().id));
                QVERIFY2(v->topLine(edited, L - 1).startsWith(label), qPrintable(v->topLine(edited, L - 1)));
            }
        }
    }

    void lensCurvesEndAtEachRunsOwnPrediction() {
        // Each curve gives, per layer, the probability of its run's own final
        // prediction: at the last layer that is the top-1 probability of the
        // run's logits, recomputed here in float64.
        const Fixture& f = fixture();
        auto v = makeView<widgets::LensView>("lens", f.withEdit);
        const int L = f.model->config().numLayers;
        const int P = static_cast<int>(f.ids.size()) - 1;
        for (bool edited : {false, true}) {
            const auto p = softmax64((edited ? f.edited : f.original)->logits, P);
            QVERIFY(std::fabs(v->finalProbabilityCurve(edited)[L] - *std::max_element(p.begin(), p.end())) < 1e-12);
        }
        // Zeroing the super weight changes the demo's prediction at the last position.
        QVERIFY(v->finalProbabilityCurve(true) != v->finalProbabilityCurve(false));
    }

    void lensTableAndMessages() {
        const Fixture& f = fixture();
        auto v = makeView<widgets::LensView>("lens", f.withEdit);
        const int L = f.model->config().numLayers;
        const int T = static_cast<int>(f.ids.size());
        const auto table = v->dataTable();
        QCOMPARE(table.rows.size(), 2 * T * (L + 1));
        // Row (original, position t, layer l): its top-1 probability is the heatmap's cell.
        for (const QStringList& row : table.rows) {
            const bool edited = row[0] == QLatin1String("edited");
            QCOMPARE(row[5].toDouble(), v->heatmapValue(edited, row[2].toInt(), row[1].toInt()));
        }
        auto plain = makeView<widgets::LensView>("lens", f.plain);
        QVERIFY(plain->hasData());
        QVERIFY(std::isnan(plain->heatmapValue(true, 0, 0)));  // no edited map without edits
        QVERIFY(plain->finalProbabilityCurve(true).isEmpty());
        auto bare = makeView<widgets::LensView>("lens", f.noEngine);
        QVERIFY(!bare->hasData());
        QVERIFY(bare->emptyMessage().contains(QStringLiteral("needs the model")));
    }

    void sinksPlotTheAttentionMassOfEveryHead() {
        const Fixture& f = fixture();
        auto v = makeView<widgets::SinksView>("sinks", f.withEdit);
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        const int L = f.model->config().numLayers, H = f.model->config().numHeads;
        const auto carriers = core::massiveCarrierTokens(f.withEdit->originalMassive);
        for (bool all : {false, true}) {
            v->setCarriers(all);
            for (bool edited : {false, true}) {
                const auto& run = edited ? *f.edited : *f.original;
                // Recomputed here from the recorded patterns: mean over queries 1.. of the mass on the first token / the carriers.
                for (int l = 0; l < L; ++l) {
                    const auto* a = run.activation(core::HookPoint{core::HookKind::AttnPattern, l});
                    QVERIFY(a);
                    const std::int64_t T = a->shape[1];
                    for (int h = 0; h < H; ++h) {
                        double m = 0;
                        for (std::int64_t q = 1; q < T; ++q) {
                            m += a->values[static_cast<std::size_t>((h * T + q) * T)];
                            if (all) {
                                for (std::int64_t k : carriers) {
                                    if (k != 0) m += a->values[static_cast<std::size_t>((h * T + q) * T + k)];
                                }
                            }
                        }
                        QVERIFY2(std::fabs(v->shownMass(edited, l, h) - m / static_cast<double>(T - 1)) < 1e-9, qPrintable(QStringLiteral("L%1 H%2").arg(l).arg(h)));
                    }
                }
            }
            // The outlined heads are core's lost sinks, and the demo's super weight takes some away.
            auto a = core::attentionSinks(*f.original, carriers);
            auto b = core::attentionSinks(*f.edited, carriers);
            auto lost = core::lostSinks(*a, *b, !all);
            QVERIFY(lost.ok());
            QCOMPARE(v->highlightedHeads().size(), static_cast<qsizetype>(lost->size()));
            for (std::size_t i = 0; i < lost->size(); ++i) QCOMPARE(v->highlightedHeads()[static_cast<qsizetype>(i)], qMakePair((*lost)[i].layer, (*lost)[i].head));
        }
        v->setCarriers(false);
        QVERIFY(!v->highlightedHeads().isEmpty());
        // No edits: one map, nothing outlined.
        auto plain = makeView<widgets::SinksView>("sinks", f.plain);
        QVERIFY(std::isnan(plain->shownMass(true, 0, 0)));
        QVERIFY(plain->highlightedHeads().isEmpty());
    }

    void clickingASinkCellAsksForThatHead() {
        const Fixture& f = fixture();
        auto v = makeView<widgets::SinksView>("sinks", f.withEdit);
        v->show();
        QVERIFY(QTest::qWaitForWindowExposed(v.get()));
        v->plot()->replot();
        const auto lostHead = v->highlightedHeads().front();
        QSignalSpy spy(v.get(), &PlotView::attentionHeadRequested);
        // Find the pixel of (layer, head) on the edited map through the view's own hit test.
        QPoint hit;
        bool found = false;
        for (int y = 0; y < v->plot()->height() && !found; y += 2) {
            for (int x = v->plot()->width() / 2; x < v->plot()->width() && !found; x += 2) {
                int l = -1, h = -1;
                bool edited = false;
                if (v->cellAt(QPoint(x, y), &l, &h, &edited) && edited && l == lostHead.first && h == lostHead.second) {
                    hit = QPoint(x, y);
                    found = true;
                }
            }
        }
        QVERIFY(found);
        QTest::mouseClick(v->plot(), Qt::LeftButton, Qt::NoModifier, hit);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), lostHead.first);
        QCOMPARE(spy.at(0).at(1).toInt(), lostHead.second);
        QCOMPARE(spy.at(0).at(2).toBool(), true);
    }

    void lossStripsPlotEachTokensNll() {
        const Fixture& f = fixture();
        auto v = makeView<widgets::LossView>("loss", f.withEdit);
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        const int T = static_cast<int>(f.ids.size());
        QVERIFY(std::isnan(v->stripValue(0, 0)));  // nothing predicts the first token
        std::vector<std::pair<double, int>> deltas;
        for (int t = 1; t < T; ++t) {
            const auto po = softmax64(f.original->logits, t - 1);
            const auto pe = softmax64(f.edited->logits, t - 1);
            const double lo = -std::log(po[static_cast<std::size_t>(f.ids[static_cast<std::size_t>(t)])]);
            const double le = -std::log(pe[static_cast<std::size_t>(f.ids[static_cast<std::size_t>(t)])]);
            QVERIFY(std::fabs(v->stripValue(0, t) - lo) < 1e-9 * std::max(1.0, lo));
            QVERIFY(std::fabs(v->stripValue(1, t) - le) < 1e-9 * std::max(1.0, le));
            QVERIFY(std::fabs(v->stripValue(2, t) - (le - lo)) < 1e-8);
            deltas.push_back({std::fabs(le - lo), t});
        }
        // The listed tokens are the largest |changes|, in order.
        std::stable_sort(deltas.begin(), deltas.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        const QVector<int> listed = v->listedPositions();
        QCOMPARE(listed.size(), std::min<qsizetype>(8, T - 1));
        for (qsizetype i = 0; i < listed.size(); ++i) {
            QCOMPARE(listed[i], deltas[static_cast<std::size_t>(i)].second);
            QVERIFY(std::fabs(std::fabs(v->listedChanges()[i]) - deltas[static_cast<std::size_t>(i)].first) < 1e-8);
        }
        // Zeroing the super weight raises the mean loss.
        double mo = 0, me = 0;
        for (int t = 1; t < T; ++t) {
            mo += v->stripValue(0, t);
            me += v->stripValue(1, t);
        }
        QVERIFY(me > mo);
        // Every strip is two rows of cells whose centres are half a unit apart,
        // so it covers a band of height 1 around its row (a single row of
        // cells has no spacing and is drawn with zero height, i.e. not at all).
        bool found = false;
        QCOMPARE(v->deltaMap()->data()->valueSize(), 2);
        const QCPRange deltaBand = v->deltaMap()->getValueRange(found);
        QVERIFY(found);
        QCOMPARE(deltaBand.lower, -0.25);
        QCOMPARE(deltaBand.upper, 0.25);
        QCOMPARE(v->lossMap()->data()->valueSize(), 2);
        const QCPRange lossBand = v->lossMap()->getValueRange(found);
        QCOMPARE(lossBand.lower, 0.0);
        QCOMPARE(lossBand.upper, 1.0);
        const auto table = v->dataTable();
        QCOMPARE(table.rows.size(), T - 1);
        auto plain = makeView<widgets::LossView>("loss", f.plain);
        QVERIFY(plain->hasData());
        QVERIFY(std::isnan(plain->stripValue(1, 1)));
        QVERIFY(plain->listedPositions().isEmpty());
        QCOMPARE(plain->lossMap()->data()->valueSize(), 2);
        const QCPRange plainBand = plain->lossMap()->getValueRange(found);
        QCOMPARE(plainBand.lower, -0.25);
        QCOMPARE(plainBand.upper, 0.25);
    }

    // The Loss view on a held-out text: the first 128 tokens of the bundled
    // text (BOS first), each token's NLL recomputed here in float64 from a
    // forward pass of this test's own, original and super weight zeroed.
    void lossStripsOfAHeldOutText() {
        const Fixture& f = fixture();
        const std::string text = (test::resourcesDir() / "texts" / "kjv_heldout_ruth_jonah_james.txt").string();
        auto edits = core::parseEdits({kSuperWeight}, *f.model);
        QVERIFY(edits.ok());
        auto held = core::view::heldOutLossOf(*f.engine, *f.tokenizer, text, {}, *edits);
        QVERIFY2(held.ok(), held.ok() ? "" : held.error().message.c_str());
        const core::view::HeldOutLoss& h = *held->loss;
        QCOMPARE(h.tokens.size(), std::size_t{128});
        QCOMPARE(h.textName, std::string("kjv_heldout_ruth_jonah_james.txt"));
        QCOMPARE(h.tokens.front(), *f.tokenizer->bosId());
        core::ForwardRequest req;
        req.tokens = h.tokens;
        req.allPositionLogits = true;
        auto o = f.engine->run(req);
        QVERIFY(o.ok());
        req.edits = *edits;
        auto e = f.engine->run(req);
        QVERIFY(e.ok());
        auto in = std::make_shared<core::view::ViewSnapshot>(*f.withEdit);
        in->heldOutLoss = held->loss;
        auto v = makeView<widgets::LossView>("loss", in);
        QVERIFY(v->hasData());
        QCOMPARE(v->stripValue(0, 5), f.withEdit->originalLoss[5]);  // the prompt until asked
        QSignalSpy asked(v.get(), &widgets::LossView::heldOutLossRequested);
        v->setHeldOutText(true);
        QCOMPARE(asked.count(), 1);
        QCOMPARE(asked.front().front().toBool(), true);
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        double mo = 0, me = 0;
        for (int t = 1; t < 128; ++t) {
            const auto po = softmax64((*o)->logits, t - 1);
            const auto pe = softmax64((*e)->logits, t - 1);
            const double lo = -std::log(po[static_cast<std::size_t>(h.tokens[static_cast<std::size_t>(t)])]);
            const double le = -std::log(pe[static_cast<std::size_t>(h.tokens[static_cast<std::size_t>(t)])]);
            QVERIFY2(std::fabs(v->stripValue(0, t) - lo) < 1e-9 * std::max(1.0, lo), qPrintable(QString::number(t)));
            QVERIFY(std::fabs(v->stripValue(1, t) - le) < 1e-9 * std::max(1.0, le));
            mo += lo;
            me += le;
        }
        QVERIFY(me > mo);  // the super weight matters on unseen text too
        QCOMPARE(v->dataTable().rows.size(), 127);
        QCOMPARE(v->figureState().value(0), qMakePair(QStringLiteral("loss-text"), QString::fromStdString(text)));
        // Without the held-out loss in the snapshot (not computed yet, or no
        // tokenizer) the view draws the prompt's and its export names no text.
        auto waiting = makeView<widgets::LossView>("loss", f.withEdit);
        waiting->setHeldOutText(true);
        QVERIFY(waiting->hasData());
        QCOMPARE(waiting->stripValue(0, 5), f.withEdit->originalLoss[5]);
        QVERIFY(waiting->figureState().isEmpty());
        // The unedited run is handed back for reuse, and a missing file is one clear error.
        QVERIFY(held->unedited && held->unedited->edits.empty());
        auto missing = core::view::heldOutLossOf(*f.engine, *f.tokenizer, "/nonexistent/text.txt", {}, *edits);
        QVERIFY(!missing.ok() && missing.error().message.find("/nonexistent/text.txt") != std::string::npos);
    }
};

QTEST_MAIN(TestInterpretabilityViews)
#include "test_interpretability_views.moc"
