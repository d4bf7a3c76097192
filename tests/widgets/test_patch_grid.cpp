// The Patch grid view and the other views on vision and encoder models.
// The patch grid's drawn values equal a float64 computation from the
// fixtures' reference hooks (tests/data/vision/refs.json, written by
// scripts/fixtures/make_vision_models.py) within 1e-4 of the values' scale,
// for every fixture, layer and quantity; edits show on the edited side;
// the views that do not apply to an encoder say why in one line; the
// attention of an encoder is the full (bidirectional) matrix.

#include <cmath>

#include <QSignalSpy>
#include <QTest>
#include <qcustomplot.h>

#include "superlens/core/view/build_view_snapshot.h"
#include "golden_compare.h"
#include "plot_view.h"
#include "superlens/core/model/npy.h"
#include "superlens/core/tokenizer/mask_token.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"
#include "view_registry.h"
#include "views/attention_view.h"
#include "views/patch_grid_view.h"

using namespace superlens;
using widgets::PatchGridView;
using core::view::PatchQuantity;

namespace {

const char* kVisionModels[] = {"vit-f32", "dinov2-f32", "dinov2-registers-bf16", "clip-vision-f16", "clip-full-f32"};

const nlohmann::json& visionRefs() {
    static const nlohmann::json s_refs = test::readJson(test::testData() / "vision" / "refs.json");
    return s_refs;
}

struct VisionRun {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Engine> engine;
    std::shared_ptr<const core::ForwardResult> original;
    core::view::SnapshotPtr plain;
};

VisionRun visionRun(const std::string& name, const std::vector<std::string>& edits = {}) {
    VisionRun v;
    auto m = core::Model::open(test::testData() / "vision" / name);
    if (!m) qFatal("%s", m.error().message.c_str());
    v.model = *m;
    v.engine = std::make_unique<core::Engine>(v.model);
    auto px = core::loadNpy(test::testData() / "vision" / name / "pixels.npy");
    if (!px) qFatal("%s", px.error().message.c_str());
    auto pixels = std::make_shared<const core::PixelTensor>(std::move(px).value());
    auto original = v.engine->run(core::view::viewForwardRequest(pixels, {}));
    if (!original) qFatal("%s", original.error().message.c_str());
    v.original = *original;
    core::view::SnapshotInputs in;
    in.model = v.model.get();
    in.modelName = name;
    in.original = v.original;
    in.engine = v.engine.get();
    in.imageSource = "pixels.npy";
    if (!edits.empty()) {
        auto specs = core::parseEdits(edits, *v.model, v.original->positions);
        if (!specs) qFatal("%s", specs.error().message.c_str());
        auto edited = v.engine->run(core::view::viewForwardRequest(pixels, *specs, v.original));
        if (!edited) qFatal("%s", edited.error().message.c_str());
        in.edited = *edited;
    }
    auto snap = core::view::buildViewSnapshot(in);
    if (!snap) qFatal("%s", snap.error().message.c_str());
    v.plain = *snap;
    return v;
}

// The float64 per-position values of a quantity, from the reference hooks.
std::vector<double> referenceValues(const nlohmann::json& hooks, PatchQuantity q, int layer, std::int64_t channel, int head, int registers,
                                    const std::string& hook) {
    std::vector<double> out;
    if (q == PatchQuantity::AttentionToCls || q == PatchQuantity::AttentionToRegisters) {
        const auto& p = hooks["blocks." + std::to_string(layer) + ".attn.hook_pattern"];  // [H][T][T]
        const int H = static_cast<int>(p.size());
        const auto T = p[0].size();
        for (std::size_t t = 0; t < T; ++t) {
            double sum = 0;
            for (int h = (head < 0 ? 0 : head); h < (head < 0 ? H : head + 1); ++h) {
                if (q == PatchQuantity::AttentionToCls) sum += p[h][t][0].get<double>();
                else
                    for (int r = 1; r <= registers; ++r) sum += p[h][t][r].get<double>();
            }
            out.push_back(sum / (head < 0 ? H : 1));
        }
        return out;
    }
    const auto& a = hooks[q == PatchQuantity::HookChannel ? hook : "blocks." + std::to_string(layer) + ".hook_resid_post"];
    for (const auto& row : a) {
        if (q == PatchQuantity::HookChannel) out.push_back(row[channel].get<double>());
        else if (channel >= 0) out.push_back(std::fabs(row[channel].get<double>()));
        else {
            double m = 0;
            for (const auto& x : row) m = std::max(m, std::fabs(x.get<double>()));
            out.push_back(m);
        }
    }
    return out;
}

}  // namespace

class TestPatchGrid : public QObject {
    Q_OBJECT
private slots:
    void theViewIsRegistered() {
        QVERIFY(widgets::viewKindNames().contains(QStringLiteral("patches")));
        std::unique_ptr<widgets::PlotView> v(widgets::createView(QStringLiteral("patches")));
        QVERIFY(qobject_cast<PatchGridView*>(v.get()));
    }

    // Every fixture, layer and quantity: the drawn value of every position
    // equals the reduction of the float64 reference hooks.
    void drawnValuesEqualTheFloat64Reference() {
        double worst = 0;
        int compared = 0;
        for (const char* name : kVisionModels) {
            const auto& ref = visionRefs()[name];
            const int registers = ref["registers"].get<int>();
            const auto grid = ref["grid"].get<std::vector<int>>();
            VisionRun v = visionRun(name);
            const core::view::ViewSnapshot& s = *v.plain;
            QVERIFY(s.image);
            QCOMPARE(s.image->registers, registers);
            QCOMPARE(s.image->gridRows, grid[0]);
            QCOMPARE(s.image->gridCols, grid[1]);
            QCOMPARE(s.tokenCount(), 1 + registers + grid[0] * grid[1]);
            QCOMPARE(QString::fromStdString(s.tokenLabels[0]), QStringLiteral("CLS"));
            if (registers > 0) QCOMPARE(QString::fromStdString(s.tokenLabels[1]), QStringLiteral("reg0"));
            QCOMPARE(QString::fromStdString(s.tokenLabels.back()), QStringLiteral("p(%1,%2)").arg(grid[0] - 1).arg(grid[1] - 1));
            QCOMPARE(s.image->rgb.size(), static_cast<std::size_t>(s.image->width) * s.image->height * 3);
            PatchGridView view;
            view.resize(900, 600);
            struct Case {
                PatchQuantity q;
                std::int64_t channel;
                int head;
                QString hook;
            };
            std::vector<Case> cases = {{PatchQuantity::MassivePeak, -1, -1, {}},
                                       {PatchQuantity::MassivePeak, 3, -1, {}},
                                       {PatchQuantity::AttentionToCls, -1, -1, {}},
                                       {PatchQuantity::AttentionToCls, -1, 1, {}},
                                       {PatchQuantity::HookChannel, 5, -1, QStringLiteral("hook_mlp_out")},
                                       {PatchQuantity::HookChannel, 2, -1, QStringLiteral("mlp.hook_post")},
                                       {PatchQuantity::HookChannel, 7, -1, QStringLiteral("hook_resid_post")}};
            if (registers > 0) {
                cases.push_back({PatchQuantity::AttentionToRegisters, -1, -1, {}});
                cases.push_back({PatchQuantity::AttentionToRegisters, -1, 2, {}});
            }
            for (int layer = 0; layer < s.layers; ++layer) {
                view.setSelectedLayer(layer);
                view.setSnapshot(v.plain);
                for (const Case& c : cases) {
                    view.setQuantity(c.q);
                    view.setHead(c.head);
                    if (!c.hook.isEmpty()) view.setHook(c.hook);
                    view.setChannel(c.channel);
                    QVERIFY2(view.hasData(), qPrintable(view.emptyMessage()));
                    const std::string hook = "blocks." + std::to_string(layer) + "." + c.hook.toStdString();
                    const auto want = referenceValues(ref["hooks"], c.q, layer, c.channel, c.head, registers, hook);
                    QCOMPARE(static_cast<std::int64_t>(want.size()), s.tokenCount());
                    double scale = 1.0;
                    for (double w : want) scale = std::max(scale, std::fabs(w));
                    for (std::size_t t = 0; t < want.size(); ++t) {
                        const double err = std::fabs(view.shownValue(false, static_cast<std::int64_t>(t)) - want[t]) / scale;
                        worst = std::max(worst, err);
                        ++compared;
                        QVERIFY2(err < 1e-4, qPrintable(QStringLiteral("%1 layer %2 quantity %3 position %4: %5 vs %6")
                                                            .arg(QString::fromLatin1(name)).arg(layer).arg(static_cast<int>(c.q)).arg(t)
                                                            .arg(view.shownValue(false, static_cast<std::int64_t>(t))).arg(want[t])));
                        // The colour map holds the same number in the cell of that position.
                        const int specials = 1 + registers;
                        const auto ti = static_cast<std::int64_t>(t);
                        const int col = ti < specials ? grid[1] + 1 : static_cast<int>((ti - specials) % grid[1]);
                        const int row = ti < specials ? static_cast<int>(ti) : static_cast<int>((ti - specials) / grid[1]);
                        QCOMPARE(view.colorMap(false)->data()->cell(col, row), view.shownValue(false, ti));
                    }
                    // The CSV carries the drawn values in full precision.
                    const widgets::FigureTable table = view.dataTable();
                    QCOMPARE(table.rows.size(), static_cast<qsizetype>(want.size()));
                    QCOMPARE(table.rows.back()[7].toDouble(), view.shownValue(false, static_cast<std::int64_t>(want.size()) - 1));
                }
            }
        }
        qInfo("patch grid vs float64 reference: %d values, worst error %.3g of the values' scale", compared, worst);
    }

    // An edit changes the edited side only: zeroing channel 3 of CLS after block 1
    // makes its |channel 3| zero there; the original is the reference's.
    void editsShowOnTheEditedSide() {
        VisionRun v = visionRun("dinov2-registers-bf16", {"blocks.1.hook_resid_post[0,3]=0"});
        PatchGridView view;
        view.resize(900, 600);
        view.setSelectedLayer(1);
        view.setSnapshot(v.plain);
        view.setQuantity(PatchQuantity::MassivePeak);
        view.setChannel(3);
        QVERIFY(view.hasData());
        QVERIFY(view.colorMap(true));
        QCOMPARE(view.shownValue(true, 0), 0.0);
        QVERIFY(view.shownValue(false, 0) > 0.0);
        for (std::int64_t t = 1; t < v.plain->tokenCount(); ++t) QCOMPARE(view.shownValue(true, t), view.shownValue(false, t));
        // figure state round trip: what an export's command passes.
        const auto state = view.figureState();
        QVERIFY(state.contains(qMakePair(QStringLiteral("quantity"), QStringLiteral("massive"))));
        QVERIFY(state.contains(qMakePair(QStringLiteral("channel"), QStringLiteral("3"))));
        QString error;
        QVERIFY(!view.applyFigureState(QStringLiteral("quantity"), QStringLiteral("nonsense"), &error));
        QVERIFY(error.contains(QStringLiteral("--quantity")));
        QVERIFY(!view.applyFigureState(QStringLiteral("head"), QStringLiteral("99"), &error));
        QVERIFY(view.applyFigureState(QStringLiteral("quantity"), QStringLiteral("attn-registers"), &error));
        QVERIFY(view.applyFigureState(QStringLiteral("head"), QStringLiteral("1"), &error));
        QCOMPARE(view.request().head, 1);
        QVERIFY(view.hasData());
    }

    // The largest value is drawn in the top colour of the scale, opaque beside
    // the grid (with gpHot's white top it read as an empty cell).
    void theLargestCellIsDrawn() {
        VisionRun v = visionRun("dinov2-registers-bf16", {"blocks.1.hook_resid_post[0,3]=50"});
        PatchGridView view;
        view.resize(900, 600);
        view.setSelectedLayer(2);
        view.setSnapshot(v.plain);
        QVERIFY(view.hasData());
        double largest = 0;
        for (std::int64_t t = 0; t < v.plain->tokenCount(); ++t) largest = std::max({largest, view.shownValue(false, t), view.shownValue(true, t)});
        QCOMPARE(view.shownValue(true, 0), largest);  // the planted activation at CLS
        const QImage image = view.plot()->toPixmap(900, 600).toImage();
        QCPColorMap* map = view.colorMap(true);
        const int gc = v.plain->image->gridCols;
        const QPoint cls(static_cast<int>(map->keyAxis()->coordToPixel(gc + 1)), static_cast<int>(map->valueAxis()->coordToPixel(0)));
        const QColor drawn = image.pixelColor(cls);
        const QColor top = map->gradient().color(1.0, QCPRange(0, 1));
        QVERIFY2(std::abs(drawn.red() - top.red()) < 8 && std::abs(drawn.green() - top.green()) < 8 && std::abs(drawn.blue() - top.blue()) < 8,
                 qPrintable(QStringLiteral("CLS cell drawn %1, top of the scale %2").arg(drawn.name(), top.name())));
    }

    // Clicking a cell names that position (CLS, a register, a patch).
    void clickingACellSelectsItsToken() {
        VisionRun v = visionRun("dinov2-registers-bf16");
        PatchGridView view;
        view.resize(900, 600);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.setSelectedLayer(2);
        view.setSnapshot(v.plain);
        QVERIFY(view.hasData());
        QSignalSpy spy(&view, &PatchGridView::tokenSelected);
        QCPColorMap* map = view.colorMap(false);
        const auto at = [&](double col, double row) {
            return QPoint(static_cast<int>(map->keyAxis()->coordToPixel(col)), static_cast<int>(map->valueAxis()->coordToPixel(row)));
        };
        // Patch (1, 0) is position 1 + 4 registers + 1 * 2 + 0 = 7; register 2 is in the side column, row 3.
        QCOMPARE(view.positionAt(at(0, 1)), std::int64_t{7});
        QCOMPARE(view.positionAt(at(3, 3)), std::int64_t{3});
        QCOMPARE(view.positionAt(at(3, 0)), std::int64_t{0});
        QTest::mouseClick(view.plot(), Qt::LeftButton, {}, at(1, 1));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), 8);
    }

    // A text model: the patch grid says why in one line.
    void textModelsGetANote() {
        auto m = core::Model::open(test::referenceModel("llama-planted"));
        QVERIFY(m.ok());
        core::Engine engine(*m);
        auto r = engine.run(core::view::viewForwardRequest(std::vector<core::TokenId>{1, 5, 9}, {}));
        QVERIFY(r.ok());
        core::view::SnapshotInputs in;
        in.model = m->get();
        in.original = *r;
        auto snap = core::view::buildViewSnapshot(in);
        QVERIFY(snap.ok());
        PatchGridView view;
        view.setSnapshot(*snap);
        QVERIFY(!view.hasData());
        QVERIFY(view.emptyMessage().contains(QStringLiteral("reads text")));
    }

    // The other views on a vision model: those that apply draw, the attention
    // is the full matrix (CLS attends to the last patch), those that cannot
    // apply (logits, lens, loss) say why in one line.
    void otherViewsOnAVisionModel() {
        VisionRun v = visionRun("dinov2-registers-bf16", {"blocks.1.hook_resid_post[0,3]=0"});
        const auto& ref = visionRefs()["dinov2-registers-bf16"]["hooks"];
        for (const QString& kind : widgets::viewKindNames()) {
            std::unique_ptr<widgets::PlotView> view(widgets::createView(kind));
            view->resize(900, 600);
            view->setSelectedLayer(1);
            view->setSnapshot(v.plain);
            // The Compare view needs a second model open beside: it says so.
            const bool applies = kind != QLatin1String("logits") && kind != QLatin1String("lens") && kind != QLatin1String("loss") &&
                                 kind != QLatin1String("experts") && kind != QLatin1String("compare");
            QVERIFY2(view->hasData() == applies, qPrintable(kind + QStringLiteral(": ") + view->emptyMessage()));
            if (!applies) {
                QVERIFY2(!view->emptyMessage().isEmpty() && !view->emptyMessage().contains(QLatin1Char('\n')), qPrintable(kind));
                if (kind == QLatin1String("compare")) QVERIFY2(view->emptyMessage().contains(QStringLiteral("second model")), qPrintable(view->emptyMessage()));
                else if (kind != QLatin1String("experts")) QVERIFY2(view->emptyMessage().contains(QStringLiteral("vision encoder")), qPrintable(view->emptyMessage()));
            }
            if (auto* attention = qobject_cast<widgets::AttentionView*>(view.get())) {
                const auto& p = ref["blocks.1.attn.hook_pattern"];
                const int H = static_cast<int>(p.size());
                const int T = static_cast<int>(v.plain->tokenCount());
                for (int q = 0; q < T; ++q) {
                    for (int k = 0; k < T; ++k) {
                        double mean = 0;
                        for (int h = 0; h < H; ++h) mean += p[h][q][k].get<double>() / H;
                        QVERIFY(std::fabs(attention->shownValue(q, k) - mean) < 1e-4);
                    }
                }
                QVERIFY(attention->shownValue(0, T - 1) > 0.0);  // not causal-masked
            }
        }
    }

    // An encoder (RoBERTa): bidirectional attention drawn in full, the Logits
    // view shows the MLM prediction at <mask>, the Loss view says why it does not apply.
    void encoderViews() {
        const auto folder = test::testData() / "encoders" / "roberta-f32";
        auto m = core::Model::open(folder);
        QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
        auto tok = core::Tokenizer::loadForModel(**m);
        QVERIFY(tok.ok());
        core::Engine engine(*m);
        const auto ids = (*tok)->encode("The capital of France is <mask>.", true);
        auto r = engine.run(core::view::viewForwardRequest(ids, {}));
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
        core::view::SnapshotInputs in;
        in.model = m->get();
        in.tokenizer = tok->get();
        in.original = *r;
        in.engine = &engine;
        auto snap = core::view::buildViewSnapshot(in);
        QVERIFY2(snap.ok(), snap.ok() ? "" : snap.error().message.c_str());
        QVERIFY(!(*snap)->causal);
        QVERIFY((*snap)->originalLoss.empty());  // no next-token loss (the run history shows none either)
        const auto maskId = core::maskTokenId(**tok);
        QVERIFY(maskId.has_value());
        const auto mask = std::find(ids.begin(), ids.end(), *maskId) - ids.begin();
        QCOMPARE((*snap)->logitsPosition, static_cast<std::int64_t>(mask));
        const int T = static_cast<int>(ids.size());
        for (const QString& kind : widgets::viewKindNames()) {
            std::unique_ptr<widgets::PlotView> view(widgets::createView(kind));
            view->resize(900, 600);
            view->setSelectedLayer(0);
            view->setSnapshot(*snap);
            if (kind == QLatin1String("loss")) {
                QVERIFY(!view->hasData());
                QVERIFY(view->emptyMessage().contains(QStringLiteral("bidirectional encoder")));
            } else if (kind == QLatin1String("logits")) {
                QVERIFY(view->hasData());
                QVERIFY(view->plot()->xAxis->label().contains(QStringLiteral("MLM prediction at position %1").arg(mask)) ||
                        view->plot()->axisRect()->axis(QCPAxis::atBottom)->label().contains(QStringLiteral("MLM")));
            } else if (auto* attention = qobject_cast<widgets::AttentionView*>(view.get())) {
                QVERIFY(view->hasData());
                const core::ActivationTensor* a = (*r)->activation("blocks.0.attn.hook_pattern");
                QVERIFY(attention->shownValue(0, T - 1) > 0.0);  // the first token sees the last
                double mean = 0;
                for (std::int64_t h = 0; h < a->shape[0]; ++h) mean += a->values[static_cast<std::size_t>((h * T + 0) * T + T - 1)];
                QVERIFY(std::fabs(attention->shownValue(0, T - 1) - mean / static_cast<double>(a->shape[0])) < 1e-6);
            } else if (kind == QLatin1String("patches")) {
                QVERIFY(!view->hasData());
            }
        }
    }
};

QTEST_MAIN(TestPatchGrid)
#include "test_patch_grid.moc"
