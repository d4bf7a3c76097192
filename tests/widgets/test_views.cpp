// The views draw exactly what the snapshot holds: spikes match the reference
// implementation's per-layer maxima, selecting a layer changes the layer
// views, edits show as overlays, and every export format is valid with a CSV
// that matches the plotted data. Data: the llama-planted reference model
// (planted super weight at layer 1, row 13, col 57), real engine runs.

#include <cmath>

#include <QBuffer>
#include <QXmlStreamReader>
#include <QFile>
#include <QImage>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <qcustomplot.h>

#include "superlens/core/view/build_view_snapshot.h"
#include "superlens/core/model/npy.h"
#include "figure_export.h"
#include "layer_navigator.h"
#include "plot_view.h"
#include "superlens/core/analysis/super_weights.h"
#include "compare_view_snapshot.h"
#include "csv_rows.h"
#include "moe_view_snapshot.h"
#include "test_paths.h"
#include "view_registry.h"
#include "views/attention_view.h"
#include "views/layer_detail_view.h"
#include "views/logits_view.h"
#include "views/massive_view.h"
#include "views/propagation_view.h"
#include "views/spikes_view.h"

using namespace superlens;
using widgets::PlotView;
using core::view::SnapshotPtr;

namespace {

struct Fixture {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Engine> engine;
    std::vector<core::TokenId> ids;
    SnapshotPtr plain;   // no edits
    SnapshotPtr edited;  // planted super weight zeroed
    // The Experts view's: the Mixtral fixture with its super expert pruned.
    test::MoeViewSnapshot moe;
    SnapshotPtr experts;
    // The Patch grid view's: DINOv2 with registers on its pixels, CLS channel 3 zeroed after block 1.
    std::shared_ptr<const core::Model> visionModel;
    std::unique_ptr<core::Engine> visionEngine;
    SnapshotPtr vision;
    // The Compare view's: the edited snapshot with the model compared with itself.
    SnapshotPtr compare;
};

Fixture& fixture() {
    static Fixture f = [] {
        Fixture x;
        auto m = core::Model::open(test::referenceModel("llama-planted"));
        if (!m) qFatal("%s", m.error().message.c_str());
        x.model = *m;
        x.engine = std::make_unique<core::Engine>(x.model);
        for (const auto& id : test::referenceAnswers()["llama-planted"]["ids"]) x.ids.push_back(id.get<core::TokenId>());
        auto original = x.engine->run(core::view::viewForwardRequest(x.ids, {}));
        if (!original) qFatal("%s", original.error().message.c_str());
        auto scan = core::scanSuperWeights(*x.engine, x.ids, {});
        if (!scan) qFatal("%s", scan.error().message.c_str());
        core::view::SnapshotInputs in;
        in.model = x.model.get();
        in.modelName = "llama-planted";
        in.original = *original;
        in.superWeights = scan->superWeights;
        in.scanned = true;
        in.engine = x.engine.get();  // the logit lens
        auto plain = core::view::buildViewSnapshot(in);
        if (!plain) qFatal("%s", plain.error().message.c_str());
        x.plain = *plain;
        auto edits = core::parseEdits({"model.layers.1.mlp.down_proj.weight[13,57]=0"}, *x.model);
        auto edited = x.engine->run(core::view::viewForwardRequest(x.ids, *edits, *original));
        if (!edited) qFatal("%s", edited.error().message.c_str());
        in.edited = *edited;
        auto snap = core::view::buildViewSnapshot(in);
        if (!snap) qFatal("%s", snap.error().message.c_str());
        x.edited = *snap;
        x.moe = test::mixtralExpertsSnapshot();
        x.experts = x.moe.snapshot;
        auto vm = core::Model::open(test::testData() / "vision" / "dinov2-registers-bf16");
        if (!vm) qFatal("%s", vm.error().message.c_str());
        x.visionModel = *vm;
        x.visionEngine = std::make_unique<core::Engine>(x.visionModel);
        auto px = core::loadNpy(test::testData() / "vision" / "dinov2-registers-bf16" / "pixels.npy");
        if (!px) qFatal("%s", px.error().message.c_str());
        auto pixels = std::make_shared<const core::PixelTensor>(std::move(px).value());
        auto vo = x.visionEngine->run(core::view::viewForwardRequest(pixels, {}));
        if (!vo) qFatal("%s", vo.error().message.c_str());
        auto ve = core::parseEdits({"blocks.1.hook_resid_post[0,3]=0"}, *x.visionModel, (*vo)->positions);
        auto vr = x.visionEngine->run(core::view::viewForwardRequest(pixels, *ve, *vo));
        if (!vr) qFatal("%s", vr.error().message.c_str());
        core::view::SnapshotInputs vin;
        vin.model = x.visionModel.get();
        vin.original = *vo;
        vin.edited = *vr;
        vin.engine = x.visionEngine.get();
        auto vs = core::view::buildViewSnapshot(vin);
        if (!vs) qFatal("%s", vs.error().message.c_str());
        x.vision = *vs;
        x.compare = test::withModelComparison(x.edited, x.model, x.model, "llama-planted (itself)");
        return x;
    }();
    return f;
}

std::unique_ptr<PlotView> makeView(const QString& kind, SnapshotPtr snapshot, int layer) {
    // The dense fixture has no experts: the Experts view draws the mixture-of-experts one.
    if (kind == QLatin1String("experts") && snapshot && !snapshot->expertProfile) snapshot = fixture().experts;
    // ... and no image: the Patch grid draws the vision one.
    if (kind == QLatin1String("patches") && snapshot && !snapshot->image) snapshot = fixture().vision;
    // The Compare view draws a second model beside: the fixture compared with itself.
    if (kind == QLatin1String("compare") && snapshot && !snapshot->modelComparison) snapshot = fixture().compare;
    std::unique_ptr<PlotView> v(widgets::createView(kind));
    v->resize(900, 600);
    v->setSelectedLayer(layer);
    v->setSnapshot(snapshot);
    return v;
}

}  // namespace

class TestViews : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY(fixture().plain); }

    void everyKindIsRegistered() {
        const QStringList kinds = widgets::viewKindNames();
        QCOMPARE(kinds, QStringList({"spikes", "layer", "propagation", "massive", "logits", "attention", "lens", "sinks", "loss", "compare", "experts", "patches"}));
    }

    // Dense models: the Experts view says why it is empty.
    void expertsViewExplainsDenseModels() {
        std::unique_ptr<PlotView> v(widgets::createView(QStringLiteral("experts")));
        v->setSnapshot(fixture().edited);
        QVERIFY(!v->hasData());
        QVERIFY2(v->emptyMessage().contains(QStringLiteral("no routed experts")), qPrintable(v->emptyMessage()));
    }

    void everyViewDrawsTheSnapshot_data() {
        QTest::addColumn<QString>("kind");
        for (const QString& k : widgets::viewKindNames()) QTest::newRow(qPrintable(k)) << k;
    }
    void everyViewDrawsTheSnapshot() {
        QFETCH(QString, kind);
        std::unique_ptr<PlotView> empty(widgets::createView(kind));
        empty->setSnapshot(nullptr);
        QVERIFY(!empty->hasData());
        QVERIFY(!empty->emptyMessage().isEmpty());  // a clear message instead of a blank plot
        auto v = makeView(kind, fixture().edited, 1);
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        QVERIFY(v->plot()->plottableCount() > 0);
        QVERIFY(!v->dataTable().rows.isEmpty());
    }

    void scanFindsThePlantedSuperWeight() {
        const auto& sws = fixture().plain->superWeights;
        QCOMPARE(sws.size(), std::size_t{1});
        QCOMPARE(sws[0].layer, 1);
        QCOMPARE(sws[0].row, std::int64_t{13});
        QCOMPARE(sws[0].col, std::int64_t{57});
    }

    void spikesPlotTheReferenceMaxima() {
        auto v = makeView("spikes", fixture().plain, 0);
        const auto& ref = test::referenceAnswers()["llama-planted"];
        QCPGraph* in = v->plot()->graph(0);
        QCPGraph* out = v->plot()->graph(1);
        QCOMPARE(in->data()->size(), 4);
        const double scale = ref["down_out_absmax"][1].get<double>();  // the planted spike, ~7500
        for (int l = 0; l < 4; ++l) {
            const double refIn = ref["down_in_absmax"][l].get<double>();
            const double refOut = ref["down_out_absmax"][l].get<double>();
            QVERIFY(std::fabs(in->data()->at(l)->value - refIn) <= 1e-4 * scale);
            QVERIFY(std::fabs(out->data()->at(l)->value - refOut) <= 1e-4 * scale);
        }
        // The super weight is marked at its layer.
        QCPGraph* marks = v->plot()->graph(2);
        QCOMPARE(marks->name(), QStringLiteral("super weight"));
        QCOMPARE(marks->data()->size(), 1);
        QCOMPARE(marks->data()->at(0)->key, 1.0);
    }

    void clickingASpikeSelectsItsLayer() {
        auto v = makeView("spikes", fixture().plain, 0);
        v->show();
        QVERIFY(QTest::qWaitForWindowExposed(v.get()));
        v->plot()->replot();
        QSignalSpy spy(v.get(), &PlotView::layerSelected);
        const int x = static_cast<int>(v->plot()->xAxis->coordToPixel(1.0));
        const int y = v->plot()->axisRect()->center().y();
        QTest::mouseClick(v->plot(), Qt::LeftButton, {}, QPoint(x, y));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), 1);
    }

    void selectingALayerChangesTheLayerViews() {
        auto v = makeView("layer", fixture().plain, 0);
        auto* layer = static_cast<widgets::LayerDetailView*>(v.get());
        const double peak0 = layer->colorMap()->data()->dataBounds().upper;
        v->setSelectedLayer(1);
        const double peak1 = layer->colorMap()->data()->dataBounds().upper;
        // Layer 1 carries the planted output spike (~7500; the float64 reference's value).
        const double spike = test::referenceAnswers()["llama-planted"]["down_out_absmax"][1].get<double>();
        QVERIFY(peak1 > 100 * peak0);
        QVERIFY(std::fabs(peak1 - spike) < 1e-4 * spike);
        // Hovering is read-only; clicking the spike cell proposes the planted weight.
        QSignalSpy spy(v.get(), &PlotView::ablationProposed);
        v->show();
        QVERIFY(QTest::qWaitForWindowExposed(v.get()));
        v->plot()->replot();
        const auto peak = fixture().plain->originalStats[1].downOut;
        const QPoint cell(static_cast<int>(v->plot()->xAxis->coordToPixel(static_cast<double>(peak.channel))),
                          static_cast<int>(v->plot()->yAxis->coordToPixel(static_cast<double>(peak.token))));
        QTest::mouseClick(v->plot(), Qt::LeftButton, {}, cell);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toString(), QStringLiteral("model.layers.1.mlp.down_proj.weight[13,57]=0"));
    }

    void editsShowAsOverlays() {
        auto prop = makeView("propagation", fixture().edited, 1);
        auto* p = static_cast<widgets::PropagationView*>(prop.get());
        QVERIFY(p->channelGraph(true));
        // Zeroing the super weight removes the super activation from layer 1 on.
        const double before = p->channelGraph(false)->data()->at(2)->value;
        const double after = p->channelGraph(true)->data()->at(2)->value;
        QVERIFY2(after < before / 10, qPrintable(QStringLiteral("%1 vs %2").arg(before).arg(after)));
        auto logits = makeView("logits", fixture().edited, 1);
        auto* l = static_cast<widgets::LogitsView*>(logits.get());
        QVERIFY(l->probabilityBars(true));
        bool differs = false;
        for (int i = 0; i < l->probabilityBars(false)->data()->size(); ++i) {
            differs = differs || l->probabilityBars(false)->data()->at(i)->value != l->probabilityBars(true)->data()->at(i)->value;
        }
        QVERIFY(differs);
        // Without edits there is no edited series.
        auto plainLogits = makeView("logits", fixture().plain, 1);
        QVERIFY(!static_cast<widgets::LogitsView*>(plainLogits.get())->probabilityBars(true));
    }

    void attentionShowsTheSink() {
        auto v = makeView("attention", fixture().plain, 2);
        auto* a = static_cast<widgets::AttentionView*>(v.get());
        QCOMPARE(a->shownValue(0, 0), 1.0);  // causal: the first query sees only itself
        double rowSum = 0;
        for (int k = 0; k < 10; ++k) rowSum += a->shownValue(5, k);
        QVERIFY(std::fabs(rowSum - 1.0) < 1e-4);
    }

    void massiveHighlightsTheFirstToken() {
        auto v = makeView("massive", fixture().plain, 1);
        auto* m = static_cast<widgets::MassiveView*>(v.get());
        QVERIFY(m->carrierBars()->data()->size() >= 1);
        QCOMPARE(m->carrierBars()->data()->at(0)->key, 0.0);  // token 0 is a carrier
    }

    void layerNavigatorFollowsKeys() {
        widgets::LayerNavigator nav;
        nav.setSnapshot(fixture().plain);
        QCOMPARE(nav.count(), 4);
        nav.show();
        QVERIFY(QTest::qWaitForWindowExposed(&nav));
        QSignalSpy spy(&nav, &widgets::LayerNavigator::layerSelected);
        nav.setFocus();
        QTest::keyClick(&nav, Qt::Key_End);
        QCOMPARE(spy.last().at(0).toInt(), 3);
        QTest::keyClick(&nav, Qt::Key_Home);
        QCOMPARE(spy.last().at(0).toInt(), 0);
        QTest::keyClick(&nav, Qt::Key_Down);
        QCOMPARE(spy.last().at(0).toInt(), 1);
    }

    void exportsAreValid_data() {
        QTest::addColumn<QString>("kind");
        for (const QString& k : widgets::viewKindNames()) QTest::newRow(qPrintable(k)) << k;
    }
    void exportsAreValid() {
        QFETCH(QString, kind);
        QTemporaryDir dir;
        auto v = makeView(kind, fixture().edited, 1);
        widgets::ExportOptions options = widgets::ExportOptions::oneColumn();
        options.dpi = 200;
        QString error;
        const QString pdf = dir.filePath(kind + ".pdf"), svg = dir.filePath(kind + ".svg"), png = dir.filePath(kind + ".png");
        QVERIFY2(widgets::exportFigure(*v, pdf, options, &error), qPrintable(error));
        QVERIFY2(widgets::exportFigure(*v, svg, options, &error), qPrintable(error));
        QVERIFY2(widgets::exportFigure(*v, png, options, &error), qPrintable(error));
        QFile p(pdf);
        QVERIFY(p.open(QIODevice::ReadOnly));
        QCOMPARE(p.read(4), QByteArray("%PDF"));
        QFile s(svg);
        QVERIFY(s.open(QIODevice::ReadOnly));
        QXmlStreamReader xml(&s);
        QString root;
        while (!xml.atEnd()) {
            xml.readNext();
            if (xml.isStartElement() && root.isEmpty()) root = xml.name().toString();
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QCOMPARE(root, QStringLiteral("svg"));
        QImage image(png);
        QVERIFY(!image.isNull());
        QCOMPARE(image.width(), qRound(options.widthPoints() * 200 / 72.0));
        QCOMPARE(image.height(), qRound(options.heightPoints() * 200 / 72.0));
        QCOMPARE(image.width(), 700);  // 3.5 in at 200 dpi
        QVERIFY(QFile::exists(dir.filePath(kind + ".csv")));
        // The view keeps its screen style after exporting.
        QVERIFY(!v->plotStyle().unitSizedFonts);
        // Two-column preset: twice as wide.
        QVERIFY(widgets::exportFigure(*v, png, widgets::ExportOptions::twoColumn(), &error));
        QCOMPARE(QImage(png).width(), 7 * 300);
    }

    void spikesCsvMatchesThePlottedData() {
        QTemporaryDir dir;
        auto v = makeView("spikes", fixture().edited, 1);
        QString error;
        QVERIFY2(widgets::exportFigure(*v, dir.filePath("spikes.svg"), widgets::ExportOptions::oneColumn(), &error), qPrintable(error));
        const auto rows = test::readCsvRows(dir.filePath("spikes.csv"));
        QCOMPARE(rows.size(), 1 + 4);
        QCOMPARE(rows[0][1], QStringLiteral("down_in_absmax"));
        for (int l = 0; l < 4; ++l) {
            // Columns: layer, in, out, in edited, out edited (graphs 0..3 in that order: in, out, in edited, out edited).
            QCOMPARE(rows[1 + l][0].toInt(), l);
            QCOMPARE(rows[1 + l][1].toDouble(), v->plot()->graph(0)->data()->at(l)->value);
            QCOMPARE(rows[1 + l][2].toDouble(), v->plot()->graph(1)->data()->at(l)->value);
            QCOMPARE(rows[1 + l][3].toDouble(), v->plot()->graph(2)->data()->at(l)->value);
            QCOMPARE(rows[1 + l][4].toDouble(), v->plot()->graph(3)->data()->at(l)->value);
        }
    }

    void logitsCsvMatchesThePlottedBars() {
        QTemporaryDir dir;
        auto v = makeView("logits", fixture().edited, 1);
        auto* l = static_cast<widgets::LogitsView*>(v.get());
        QString error;
        QVERIFY2(widgets::exportFigure(*v, dir.filePath("logits.pdf"), widgets::ExportOptions::oneColumn(), &error), qPrintable(error));
        const auto rows = test::readCsvRows(dir.filePath("logits.csv"));
        int checked = 0;
        for (const auto& row : rows) {
            if (row[0] != QLatin1String("next_token")) continue;
            const int rank = row[1].toInt();
            QCOMPARE(row[4].toDouble(), l->probabilityBars(false)->data()->at(rank)->value);
            QCOMPARE(row[5].toDouble(), l->probabilityBars(true)->data()->at(rank)->value);
            ++checked;
        }
        QCOMPARE(checked, l->probabilityBars(false)->data()->size());
    }

    void layerCsvMatchesTheHeatmap() {
        QTemporaryDir dir;
        auto v = makeView("layer", fixture().plain, 1);
        auto* layer = static_cast<widgets::LayerDetailView*>(v.get());
        QString error;
        QVERIFY2(widgets::exportFigure(*v, dir.filePath("layer.png"), widgets::ExportOptions::oneColumn(), &error), qPrintable(error));
        const auto rows = test::readCsvRows(dir.filePath("layer.csv"));
        QCOMPARE(rows.size(), 1 + 10 * 64);
        const double floor = layer->colorMap()->dataRange().lower;
        for (int i = 1; i < rows.size(); i += 37) {
            const int token = rows[i][0].toInt(), channel = rows[i][2].toInt();
            const double plotted = layer->colorMap()->data()->cell(channel, token);
            QCOMPARE(plotted, std::max(floor, rows[i][4].toDouble()));  // drawn at the log scale's floor when smaller
        }
    }
};

QTEST_MAIN(TestViews)
#include "test_views.moc"
