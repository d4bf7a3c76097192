// Exported figures are journal-ready (issue 25): for every view x width x
// style preset, on the demo model with the README's prompt and with a prompt
// of long tokens, both with the demo's super weight zeroed,
//   - the PDF's words, as poppler reads them back (`pdftotext -bbox`, via
//     tests/app/figure_layout_check.py), stay inside the page and off its
//     edge, and no two overlap; no ink touches the page edge;
//   - the SVG, rendered by QtSvg into a PDF, passes the same check, and the
//     PNG has the figure's pixel size and no ink on its edge;
//   - the text as drawn, rotated tick labels included (poppler skips rotated
//     glyphs), neither leaves the page nor overlaps;
//   - no legend box covers plotted data: the figure is rendered with its
//     legends hidden and the pixels under each legend box must be free of
//     data ink (coloured or dark pixels; grid and guide lines are light grey).
// checksFailOnTheViewsOwnLayout shows the checks fail without the layout
// pass (the state issue 25 describes) and prints the counts.

#include <cmath>

#include <QFileInfo>
#include <QFontDatabase>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPdfWriter>
#include <QPainter>
#include <QProcess>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>
#include <qcustomplot.h>

#include "superlens/core/view/build_view_snapshot.h"
#include "superlens/core/model/npy.h"
#include "figure_export.h"
#include "figure_layout.h"
#include "figure_presets.h"
#include "plot_view.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "compare_view_snapshot.h"
#include "moe_view_snapshot.h"
#include "test_paths.h"
#include "view_registry.h"

using namespace superlens;
using widgets::PlotView;
using core::view::SnapshotPtr;

namespace {

const char* const kSuperWeightEdit = "model.layers.1.mlp.down_proj.weight[87,233]=0";
const char* const kGenesis = "In the beginning God created the heaven and the earth.";
// Whole-word tokens of 10-14 characters: long tick labels on every token axis.
const char* const kLongTokens =
    "The congregation of righteousness and understanding kept the commandments throughout the generations of the "
    "Philistines in the wilderness of Jerusalem.";

struct Fixture {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Engine> engine;
    std::unique_ptr<core::Tokenizer> tokenizer;
    SnapshotPtr genesis;
    SnapshotPtr longTokens;
    // The Experts view draws mixture-of-experts models: the Mixtral fixture with its super expert pruned.
    test::MoeViewSnapshot moe;
    SnapshotPtr experts;
    // The Patch grid view draws vision models: DINOv2 with registers (2x2
    // patches, 4 registers) and ViT on a 4x5 grid, each with an activation edit.
    std::vector<std::shared_ptr<const core::Model>> visionModels;
    std::vector<std::unique_ptr<core::Engine>> visionEngines;
    SnapshotPtr vision;
    SnapshotPtr visionLarge;
    // The Compare view's: the genesis snapshot with the demo compared with itself.
    SnapshotPtr compare;
};

SnapshotPtr buildVisionSnapshot(Fixture& x, const std::string& name, const std::string& pixelsFile, const std::string& edit) {
    auto m = core::Model::open(test::testData() / "vision" / name);
    if (!m) qFatal("%s", m.error().message.c_str());
    x.visionModels.push_back(*m);
    x.visionEngines.push_back(std::make_unique<core::Engine>(*m));
    core::Engine& engine = *x.visionEngines.back();
    auto px = core::loadNpy(test::testData() / "vision" / name / pixelsFile);
    if (!px) qFatal("%s", px.error().message.c_str());
    auto pixels = std::make_shared<const core::PixelTensor>(std::move(px).value());
    auto original = engine.run(core::view::viewForwardRequest(pixels, {}));
    if (!original) qFatal("%s", original.error().message.c_str());
    auto edits = core::parseEdits({edit}, **m, (*original)->positions);
    if (!edits) qFatal("%s", edits.error().message.c_str());
    auto edited = engine.run(core::view::viewForwardRequest(pixels, *edits, *original));
    if (!edited) qFatal("%s", edited.error().message.c_str());
    core::view::SnapshotInputs in;
    in.model = m->get();
    in.modelName = name;
    in.original = *original;
    in.edited = *edited;
    in.engine = &engine;
    in.imageSource = pixelsFile;
    auto snap = core::view::buildViewSnapshot(in);
    if (!snap) qFatal("%s", snap.error().message.c_str());
    return *snap;
}

SnapshotPtr buildSnapshot(Fixture& x, const std::string& prompt) {
    const std::vector<core::TokenId> ids = x.tokenizer->encode(prompt);
    auto original = x.engine->run(core::view::viewForwardRequest(ids, {}));
    if (!original) qFatal("%s", original.error().message.c_str());
    auto scan = core::scanSuperWeights(*x.engine, ids, {});
    if (!scan) qFatal("%s", scan.error().message.c_str());
    auto edits = core::parseEdits({kSuperWeightEdit}, *x.model);
    if (!edits) qFatal("%s", edits.error().message.c_str());
    auto edited = x.engine->run(core::view::viewForwardRequest(ids, *edits, *original));
    if (!edited) qFatal("%s", edited.error().message.c_str());
    core::view::SnapshotInputs in;
    in.model = x.model.get();
    in.modelName = "demo";
    in.tokenizer = x.tokenizer.get();
    in.original = *original;
    in.edited = *edited;
    in.superWeights = scan->superWeights;
    in.scanned = true;
    in.stopwordIds = core::stopwordTokenIds(*x.tokenizer, core::englishStopwords());
    in.engine = x.engine.get();  // the logit lens
    auto snap = core::view::buildViewSnapshot(in);
    if (!snap) qFatal("%s", snap.error().message.c_str());
    return *snap;
}

Fixture& fixture() {
    static Fixture f = [] {
        Fixture x;
        auto m = core::Model::open(test::demoModel());
        if (!m) qFatal("%s", m.error().message.c_str());
        x.model = *m;
        x.engine = std::make_unique<core::Engine>(x.model);
        auto t = core::Tokenizer::loadFromFolder(test::demoModel());
        if (!t) qFatal("%s", t.error().message.c_str());
        x.tokenizer = std::move(t).value();
        x.genesis = buildSnapshot(x, kGenesis);
        x.longTokens = buildSnapshot(x, kLongTokens);
        x.moe = test::mixtralExpertsSnapshot();
        x.experts = x.moe.snapshot;
        x.vision = buildVisionSnapshot(x, "dinov2-registers-bf16", "pixels.npy", "blocks.1.hook_resid_post[0,3]=0");
        x.visionLarge = buildVisionSnapshot(x, "vit-f32", "pixels-16x21.npy", "blocks.0.hook_mlp_out[5,2]=0");
        x.compare = test::withModelComparison(x.genesis, x.model, x.model, "demo (itself)");
        return x;
    }();
    return f;
}

std::unique_ptr<PlotView> makeView(const QString& kind, SnapshotPtr snapshot) {
    // Dense-model snapshots have nothing for the Experts view: it gets the mixture-of-experts one.
    if (kind == QLatin1String("experts") && !snapshot->expertProfile) snapshot = fixture().experts;
    // Text snapshots have no image for the Patch grid: it gets a vision model's (the larger grid for the long-token rows).
    if (kind == QLatin1String("patches") && !snapshot->image) snapshot = snapshot == fixture().longTokens ? fixture().visionLarge : fixture().vision;
    // The Compare view draws a second model beside: the demo compared with itself.
    if (kind == QLatin1String("compare") && !snapshot->modelComparison) snapshot = fixture().compare;
    std::unique_ptr<PlotView> v(widgets::createView(kind));
    v->resize(1000, 700);
    v->setSelectedLayer(core::view::defaultSelectedLayer(*snapshot));
    v->setSnapshot(snapshot);
    return v;
}

// Runs tests/app/figure_layout_check.py on the files: {file: {clipped, overlapping, edge_ink}}.
QJsonObject checkFiles(const QStringList& files) {
    QProcess p;
    p.start(QStringLiteral("/usr/bin/python3"),
            QStringList{QStringLiteral(SUPERLENS_SOURCE_DIR "/tests/app/figure_layout_check.py"), QStringLiteral("--json")} + files);
    if (!p.waitForFinished(120000)) qFatal("figure_layout_check.py did not finish");
    const QJsonDocument doc = QJsonDocument::fromJson(p.readAllStandardOutput());
    if (!doc.isObject()) qFatal("figure_layout_check.py: %s", p.readAllStandardError().constData());
    return doc.object()[QStringLiteral("files")].toObject();
}

QStringList fileProblems(const QJsonObject& result, const QString& label) {
    QStringList out;
    for (const char* key : {"clipped", "overlapping"}) {
        for (const QJsonValue& v : result[QLatin1String(key)].toArray()) out << label + QStringLiteral(": ") + v.toString();
    }
    if (result[QStringLiteral("edge_ink")].toInt() > 0) out << label + QStringLiteral(": ink on the page edge");
    return out;
}

// "NAME emb=yes|no" for every font pdffonts lists (subset tag removed).
QStringList embeddedFonts(const QString& pdf) {
    QProcess p;
    p.start(QStringLiteral("pdffonts"), {pdf});
    if (!p.waitForFinished(30000) || p.exitCode() != 0) qFatal("pdffonts %s failed", qPrintable(pdf));
    QStringList out;
    const QStringList lines = QString::fromUtf8(p.readAllStandardOutput()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    for (const QString& line : lines.mid(2)) {  // a header and a rule
        const QStringList cols = line.split(QLatin1Char(' '), Qt::SkipEmptyParts);
        if (cols.size() < 6) continue;
        QString name = cols.first();
        if (name.size() > 7 && name[6] == QLatin1Char('+')) name = name.mid(7);
        // name, type (one or more words), encoding, emb, sub, uni, object id, generation
        out << name + QStringLiteral(" emb=") + cols[cols.size() - 5];
    }
    return out;
}

// SVG -> PDF through QtSvg (another renderer than the one that wrote it), so
// poppler can read its words.
bool svgToPdf(const QString& svg, const QString& pdf, int w, int h) {
    QSvgRenderer renderer(svg);
    if (!renderer.isValid()) return false;
    QPdfWriter writer(pdf);
    writer.setResolution(72);
    writer.setPageSize(QPageSize(QSizeF(w, h), QPageSize::Point, QString(), QPageSize::ExactMatch));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    QPainter painter(&writer);
    renderer.render(&painter, QRectF(0, 0, w, h));
    return true;
}

QList<QCPLegend*> visibleLegends(QCustomPlot* plot) {
    QList<QCPLegend*> out;
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPLayoutElement* el : rect->insetLayout()->elements(false)) {
            auto* l = qobject_cast<QCPLegend*>(el);
            if (l && l->visible() && l->itemCount() > 0) out << l;
        }
    }
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true)) {
        auto* l = qobject_cast<QCPLegend*>(el);
        if (l && l->visible() && l->itemCount() > 0 && !out.contains(l)) out << l;
    }
    return out;
}

// Pixels of plotted data under each legend box: the plot drawn at 4 px per
// unit with its legends on a hidden layer, then every pixel inside a legend's
// box (less half a unit of antialiasing) that is coloured or dark. Grid lines
// (#dddddd) and the selected-layer guide (#888888) are neither.
QStringList legendsOverData(QCustomPlot* plot, int w, int h) {
    const QList<QCPLegend*> legends = visibleLegends(plot);
    if (legends.isEmpty()) return {};
    if (!plot->layer(QStringLiteral("testHidden"))) plot->addLayer(QStringLiteral("testHidden"));
    plot->layer(QStringLiteral("testHidden"))->setVisible(false);
    QList<QCPLayer*> saved;
    for (QCPLegend* l : legends) {
        saved << l->layer();
        l->setLayer(QStringLiteral("testHidden"));
    }
    const double scale = 4.0;
    QImage image(static_cast<int>(w * scale), static_cast<int>(h * scale), QImage::Format_RGB32);
    image.fill(Qt::white);
    {
        QCPPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.scale(scale, scale);
        plot->toPainter(&painter, w, h);
    }
    QStringList out;
    for (int i = 0; i < legends.size(); ++i) {
        legends[i]->setLayer(saved[i]);
        const QRectF box = QRectF(legends[i]->outerRect()).adjusted(0.5, 0.5, -0.5, -0.5);
        int ink = 0;
        for (int y = static_cast<int>(box.top() * scale); y < static_cast<int>(box.bottom() * scale); ++y) {
            for (int x = static_cast<int>(box.left() * scale); x < static_cast<int>(box.right() * scale); ++x) {
                if (x < 0 || y < 0 || x >= image.width() || y >= image.height()) continue;
                const QColor c = image.pixelColor(x, y);
                const int hi = std::max({c.red(), c.green(), c.blue()}), lo = std::min({c.red(), c.green(), c.blue()});
                if (hi - lo > 60 || hi < 110) ++ink;
            }
        }
        // A few pixels are the antialiased fringe of a line that passes close by.
        if (ink > 6) {
            QStringList names;
            for (int k = 0; k < legends[i]->itemCount(); ++k) {
                if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legends[i]->item(k))) names << item->plottable()->name();
            }
            out << QStringLiteral("legend (%1) covers %2 px of data").arg(names.join(QStringLiteral(", "))).arg(ink);
        }
    }
    return out;
}

struct RowResult {
    QStringList words;     // from the files
    QStringList drawn;     // text as drawn (rotated included)
    QStringList legends;   // legends over data
};

RowResult exportAndCheck(const QString& kind, const SnapshotPtr& snapshot, const widgets::ExportOptions& options, bool allFormats,
                         const QString& dir, const QString& tag) {
    RowResult r;
    auto view = makeView(kind, snapshot);
    if (!view->hasData()) qFatal("%s: %s", qPrintable(kind), qPrintable(view->emptyMessage()));
    {
        widgets::FigureExportScope scope(*view, options);
        r.drawn = widgets::figureTextProblems(view->plot(), scope.widthPoints(), scope.heightPoints());
        r.legends = legendsOverData(view->plot(), scope.widthPoints(), scope.heightPoints());
    }
    QStringList files;
    QString error;
    const QString pdf = dir + QLatin1Char('/') + tag + QStringLiteral(".pdf");
    if (!widgets::exportFigure(*view, pdf, options, &error)) qFatal("%s", qPrintable(error));
    files << pdf;
    if (allFormats) {
        const QString svg = dir + QLatin1Char('/') + tag + QStringLiteral(".svg");
        const QString png = dir + QLatin1Char('/') + tag + QStringLiteral(".png");
        if (!widgets::exportFigure(*view, svg, options, &error)) qFatal("%s", qPrintable(error));
        if (!widgets::exportFigure(*view, png, options, &error)) qFatal("%s", qPrintable(error));
        const QString svgPdf = dir + QLatin1Char('/') + tag + QStringLiteral("-svg.pdf");
        if (!svgToPdf(svg, svgPdf, options.widthPoints(), options.heightPoints())) r.words << QStringLiteral("svg: QtSvg cannot read it");
        files << svgPdf << png;
        const QImage image(png);
        const QSize expected(static_cast<int>(std::lround(options.widthPoints() * options.dpi / 72.0)),
                             static_cast<int>(std::lround(options.heightPoints() * options.dpi / 72.0)));
        if (image.size() != expected) r.words << QStringLiteral("png: %1x%2 px, expected %3x%4").arg(image.width()).arg(image.height()).arg(expected.width()).arg(expected.height());
    }
    const QJsonObject results = checkFiles(files);
    for (const QString& f : files) r.words << fileProblems(results[f].toObject(), QFileInfo(f).fileName());
    return r;
}

}  // namespace

class TestFigureLayout : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QVERIFY(fixture().genesis);
        QVERIFY(fixture().longTokens);
        QVERIFY2(!QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty(), "pdftotext (poppler-utils) is needed");
    }

    // Issue 25 as filed: the view's own layout at one column has clipped and
    // overlapping text and legends over data. The checks must see that.
    void checksFailOnTheViewsOwnLayout() {
        QTemporaryDir dir;
        int words = 0, drawn = 0, legends = 0;
        for (const QString& width : {QStringLiteral("one"), QStringLiteral("two")}) {
            for (const QString& kind : widgets::viewKindNames()) {
                widgets::ExportOptions o = width == QLatin1String("one") ? widgets::ExportOptions::oneColumn() : widgets::ExportOptions::twoColumn();
                o.fitLayout = false;
                const RowResult r = exportAndCheck(kind, fixture().genesis, o, false, dir.path(), kind + QLatin1Char('-') + width);
                words += static_cast<int>(r.words.size());
                drawn += static_cast<int>(r.drawn.size());
                legends += static_cast<int>(r.legends.size());
                for (const QString& p : r.words + r.drawn + r.legends) qInfo("without the layout pass, %s %s: %s", qPrintable(kind), qPrintable(width), qPrintable(p));
            }
        }
        qInfo("without the layout pass: %d word problems in the PDFs, %d drawn-text problems, %d legends over data", words, drawn, legends);
        QVERIFY(words > 0);
        QVERIFY(drawn > 0);
        QVERIFY(legends > 0);
    }

    void figuresAreClean_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("style");
        QTest::addColumn<bool>("two");
        QTest::addColumn<bool>("longTokens");
        // SUPERLENS_FIGURE_KINDS=spikes,layer runs those views' rows only ("none":
        // no rows; CTest runs one test per view and width, tests/widgets/widgets.cmake).
        const QString only = qEnvironmentVariable("SUPERLENS_FIGURE_KINDS");
        const QStringList kinds = only.isEmpty() ? widgets::viewKindNames() : only.split(QLatin1Char(','), Qt::SkipEmptyParts);
        for (const QString& kind : kinds) {
            if (kind != QLatin1String("none") && !widgets::viewKindNames().contains(kind)) qFatal("SUPERLENS_FIGURE_KINDS: unknown view %s", qPrintable(kind));
        }
        // SUPERLENS_FIGURE_WIDTHS=one|two: only that width.
        const QString widths = qEnvironmentVariable("SUPERLENS_FIGURE_WIDTHS", QStringLiteral("one,two"));
        for (const QString& style : widgets::figurePresetIds()) {
            for (const QString& kind : widgets::viewKindNames()) {
                if (!kinds.contains(kind)) continue;
                for (bool two : {false, true}) {
                    if (!widths.split(QLatin1Char(',')).contains(two ? QStringLiteral("two") : QStringLiteral("one"))) continue;
                    for (bool longTokens : {false, true}) {
                        QTest::addRow("%s-%s-%s-%s", qPrintable(kind), qPrintable(style), two ? "two" : "one", longTokens ? "long" : "genesis")
                            << kind << style << two << longTokens;
                    }
                }
            }
        }
    }
    void figuresAreClean() {
        if (!QTest::currentDataTag()) QSKIP("SUPERLENS_FIGURE_KINDS=none: the figures run in test_figure_layout_<view>_<width>");
        QFETCH(QString, kind);
        QFETCH(QString, style);
        QFETCH(bool, two);
        QFETCH(bool, longTokens);
        const widgets::FigurePreset* preset = widgets::findFigurePreset(style);
        QVERIFY(preset);
        const widgets::ExportOptions options = widgets::presetExportOptions(*preset, two);
        // SVG and PNG for the default and the narrowest preset; PDF for all.
        const bool allFormats = style == QLatin1String("default") || style == QLatin1String("science");
        QTemporaryDir dir;
        const RowResult r = exportAndCheck(kind, longTokens ? fixture().longTokens : fixture().genesis, options, allFormats, dir.path(), kind);
        const QStringList all = r.words + r.drawn + r.legends;
        QVERIFY2(all.isEmpty(), qPrintable(all.join(QStringLiteral("\n"))));
    }

    // Original and edited stay apart without colour: different grey levels
    // and, for lines, dash pattern and marker.
    void paletteReadsInGreyscale() {
        const widgets::PlotStyle s = widgets::PlotStyle::figure(QStringLiteral("DejaVu Sans"), 8);
        auto grey = [](const QColor& c) { return 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue(); };
        QVERIFY(std::fabs(grey(s.original) - grey(s.edited)) > 25);
        auto view = makeView(QStringLiteral("propagation"), fixture().genesis);
        widgets::FigureExportScope scope(*view, widgets::ExportOptions::oneColumn());
        QCustomPlot* p = view->plot();
        QCPGraph* original = nullptr;
        QCPGraph* edited = nullptr;
        for (int i = 0; i < p->graphCount(); ++i) {
            if (p->graph(i)->name() == QLatin1String("original")) original = p->graph(i);
            if (p->graph(i)->name() == QLatin1String("edited")) edited = p->graph(i);
        }
        QVERIFY(original && edited);
        QVERIFY(original->pen().style() != edited->pen().style());
        QVERIFY(original->scatterStyle().shape() != edited->scatterStyle().shape());
    }

    // A long title is wrapped or shortened on the page, never lost: the
    // report (and so the file's metadata) keeps it whole.
    void longTitlesKeepTheirFullText() {
        auto view = makeView(QStringLiteral("logits"), fixture().genesis);
        widgets::ExportOptions o = widgets::ExportOptions::oneColumn();
        o.widthInches = 2.0;
        QTemporaryDir dir;
        widgets::ExportReport report;
        QString error;
        QVERIFY2(widgets::exportFigure(*view, dir.filePath(QStringLiteral("logits.pdf")), o, &error, &report), qPrintable(error));
        QVERIFY(!report.layout.fullTitles.isEmpty());
        QVERIFY(report.layout.fullTitles.first().contains(QStringLiteral("stopword mass")));
        QVERIFY(report.caption.contains(report.layout.fullTitles.first()));
        QVERIFY(!report.layout.shortenedTexts.isEmpty() || report.layout.fullTitles.first().size() < 40);
        const QJsonObject r = checkFiles({dir.filePath(QStringLiteral("logits.pdf"))});
        const QStringList problems = fileProblems(r[dir.filePath(QStringLiteral("logits.pdf"))].toObject(), QStringLiteral("logits 2 in"));
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }

    // The screen style comes back after an export, and a second export lays
    // out the same (no state left from the first layout pass).
    void exportLeavesNoLayoutState() {
        auto view = makeView(QStringLiteral("massive"), fixture().genesis);
        const QMargins before = view->plot()->plotLayout()->margins();
        QTemporaryDir dir;
        QString error;
        const QString a = dir.filePath(QStringLiteral("a.svg")), b = dir.filePath(QStringLiteral("b.svg"));
        QVERIFY(widgets::exportFigure(*view, a, widgets::ExportOptions::oneColumn(), &error));
        QCOMPARE(view->plot()->plotLayout()->margins(), before);
        QVERIFY(!view->plotStyle().unitSizedFonts);
        QVERIFY(widgets::exportFigure(*view, b, widgets::ExportOptions::oneColumn(), &error));
        QFile fa(a), fb(b);
        QVERIFY(fa.open(QIODevice::ReadOnly) && fb.open(QIODevice::ReadOnly));
        QCOMPARE(fa.readAll(), fb.readAll());
    }

    // Panels a, b, c: clean like single figures, one CSV per panel; entries
    // that two panels draw the same are shown once, above the panels.
    void multiPanelFigures() {
        QTemporaryDir dir;
        for (const bool two : {false, true}) {
            std::vector<std::unique_ptr<PlotView>> owned;
            QList<PlotView*> views;
            for (const char* kind : {"spikes", "propagation", "logits"}) {
                owned.push_back(makeView(QLatin1String(kind), fixture().genesis));
                views << owned.back().get();
            }
            const QString path = dir.filePath(two ? QStringLiteral("panels-two.pdf") : QStringLiteral("panels-one.pdf"));
            widgets::MultiPanelReport report;
            QString error;
            QVERIFY2(widgets::exportMultiPanelFigure(views, path, two ? widgets::ExportOptions::twoColumn() : widgets::ExportOptions::oneColumn(),
                                                     &error, &report),
                     qPrintable(error));
            QCOMPARE(report.panels.size(), 3);
            for (const widgets::PanelReport& panel : report.panels) {
                QVERIFY2(QFileInfo(panel.csv).size() > 0, qPrintable(panel.csv));
                QVERIFY2(panel.layout.problems.isEmpty(), qPrintable(panel.layout.problems.join(QLatin1Char('\n'))));
            }
            const QStringList problems = fileProblems(checkFiles({path})[path].toObject(), QFileInfo(path).fileName());
            QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
        }
        // The same view twice: every legend entry is shared and drawn once.
        std::unique_ptr<PlotView> a = makeView(QStringLiteral("spikes"), fixture().genesis), b = makeView(QStringLiteral("spikes"), fixture().genesis);
        const QString path = dir.filePath(QStringLiteral("twice.pdf"));
        widgets::MultiPanelReport report;
        QString error;
        QVERIFY2(widgets::exportMultiPanelFigure({a.get(), b.get()}, path, widgets::ExportOptions::twoColumn(), &error, &report), qPrintable(error));
        QVERIFY2(report.sharedLegend.contains(QStringLiteral("super weight")), qPrintable(report.sharedLegend.join(QStringLiteral(", "))));
        QProcess p;
        p.start(QStringLiteral("pdftotext"), {path, QStringLiteral("-")});
        QVERIFY(p.waitForFinished(30000));
        const QString text = QString::fromUtf8(p.readAllStandardOutput());
        QCOMPARE(text.count(QStringLiteral("super weight")), 1);
        const QStringList problems = fileProblems(checkFiles({path})[path].toObject(), QStringLiteral("twice.pdf"));
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }

    // Multi-panel figures of the newer views (lens, sinks, loss; attention,
    // layer, spikes), on both prompts, at one column in every preset: clean files,
    // one CSV per panel, no legend entry cut off, a letter per panel.
    void multiPanelNewViews_data() {
        QTest::addColumn<QString>("style");
        QTest::addColumn<bool>("longTokens");
        QTest::addColumn<QString>("kinds_");
        for (const QString& id : widgets::figurePresetIds()) {
            for (bool longTokens : {false, true}) {
                for (const char* kinds : {"lens,sinks,loss", "attention,layer,spikes"}) {
                    QTest::addRow("%s-%s-%s", kinds, qPrintable(id), longTokens ? "long" : "genesis") << id << longTokens << QString::fromLatin1(kinds);
                }
            }
        }
    }
    void multiPanelNewViews() {
        QFETCH(QString, style);
        QFETCH(bool, longTokens);
        QFETCH(QString, kinds_);
        const SnapshotPtr& snap = longTokens ? fixture().longTokens : fixture().genesis;
        const QStringList kinds = kinds_.split(QLatin1Char(','));
        std::vector<std::unique_ptr<PlotView>> owned;
        QList<PlotView*> views;
        for (const QString& kind : kinds) {
            owned.push_back(makeView(kind, snap));
            views << owned.back().get();
        }
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("panels.pdf"));
        widgets::MultiPanelReport report;
        QString error;
        const widgets::ExportOptions o = widgets::presetExportOptions(*widgets::findFigurePreset(style), false);
        QVERIFY2(widgets::exportMultiPanelFigure(views, path, o, &error, &report), qPrintable(error));
        QCOMPARE(report.panels.size(), kinds.size());
        for (int i = 0; i < report.panels.size(); ++i) {
            const widgets::PanelReport& panel = report.panels[i];
            QCOMPARE(panel.kind, kinds[i]);
            QCOMPARE(panel.letter, QString(QChar(u'a' + i)));
            QVERIFY2(QFileInfo(panel.csv).size() > 0, qPrintable(panel.csv));
            QVERIFY2(panel.layout.problems.isEmpty(), qPrintable(panel.kind + QStringLiteral(": ") + panel.layout.problems.join(QLatin1Char('\n'))));
        }
        const QStringList problems = fileProblems(checkFiles({path})[path].toObject(), style + QStringLiteral(" panels.pdf"));
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }

    void presetsAreComplete() {
        const QStringList ids = widgets::figurePresetIds();
        for (const char* id : {"default", "neurips", "icml", "iclr", "acl", "nature", "science", "ieee", "arxiv"}) {
            QVERIFY2(ids.contains(QLatin1String(id)), id);
        }
        for (const widgets::FigurePreset& p : widgets::figurePresets()) {
            QVERIFY(p.oneInches > 1.5 && p.oneInches < p.twoInches && p.twoInches <= 7.5);
            QVERIFY(p.fontPoints >= 5 && p.fontPoints <= 10);
            const widgets::ExportOptions o = widgets::presetExportOptions(p, false);
            QVERIFY2(QFontDatabase::families().contains(o.fontFamily), qPrintable(p.id + QStringLiteral(": ") + o.fontFamily));
            // scripts/setup.sh installs every preset's first face: no preset falls back.
            QVERIFY2(o.fontFamily == p.fontFamilies.first(),
                     qPrintable(p.id + QStringLiteral(": ") + o.fontFamily + QStringLiteral(" instead of ") + p.fontFamilies.first() +
                                QStringLiteral(" (run scripts/setup.sh)")));
        }
    }

    // Each preset's font is the one in the files: embedded in the PDF (as
    // pdffonts lists it) and named in the SVG's text. PNGs are drawn by the
    // same QPainter calls with the same QFont.
    void filesUseThePresetsFont_data() {
        QTest::addColumn<QString>("style");
        for (const QString& id : widgets::figurePresetIds()) QTest::addRow("%s", qPrintable(id)) << id;
    }
    void filesUseThePresetsFont() {
        QFETCH(QString, style);
        const widgets::FigurePreset* preset = widgets::findFigurePreset(style);
        QVERIFY(preset);
        const widgets::ExportOptions o = widgets::presetExportOptions(*preset, false);
        auto view = makeView(QStringLiteral("logits"), fixture().genesis);
        QTemporaryDir dir;
        const QString pdf = dir.filePath(QStringLiteral("f.pdf")), svg = dir.filePath(QStringLiteral("f.svg"));
        QString error;
        QVERIFY2(widgets::exportFigure(*view, pdf, o, &error), qPrintable(error));
        QVERIFY2(widgets::exportFigure(*view, svg, o, &error), qPrintable(error));
        const QString expected = QString(preset->fontFamilies.first()).remove(QLatin1Char(' '));
        const QStringList pdfFonts = embeddedFonts(pdf);
        QVERIFY2(!pdfFonts.isEmpty(), qPrintable(pdf));
        for (const QString& f : pdfFonts) {
            QVERIFY2(f.startsWith(expected, Qt::CaseInsensitive) && f.endsWith(QStringLiteral(" emb=yes")),
                     qPrintable(style + QStringLiteral(": PDF font ") + f + QStringLiteral(", expected ") + expected + QStringLiteral(" embedded")));
        }
        QFile in(svg);
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(in.readAll());
        const QString named = QStringLiteral("font-family=\"%1\"").arg(preset->fontFamilies.first());
        QVERIFY2(text.contains(named), qPrintable(style + QStringLiteral(": SVG does not name ") + named));
    }
};

QTEST_MAIN(TestFigureLayout)
#include "test_figure_layout.moc"
