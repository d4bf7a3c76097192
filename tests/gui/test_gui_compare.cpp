// Issue 19 in the GUI: model B beside model A. The llama-q256 checkpoint
// (tests/data/gguf) is A and its Q4_K GGUF (fixture gguf_quant, written by
// scripts/fixtures/make_gguf_models.py) is B:
//   - the Compare view draws what `superlens-cli compare A B --json` reports
//     (run here) and the fixture script's float64 values;
//   - a model of other shapes is refused in one status-bar line;
//   - its export's embedded command (`figure compare A --compare-with B`)
//     writes the same CSV;
//   - the "Model B" overlay draws B's own run as every view's second side;
//   - an importance matrix (written here in llama.cpp's legacy layout) gives
//     the Layer view each down_proj input column's rank, equal to the parser's.

#include <cmath>

#include <QFile>
#include <QLabel>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>

#include "figure_export.h"
#include "lens_session.h"
#include "main_window.h"
#include "plot_view.h"
#include "prompt_panel.h"
#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/model/imatrix.h"
#include "gui_session_wait.h"
#include "gui_settings.h"
#include "test_paths.h"
#include "views/compare_view.h"
#include "views/layer_detail_view.h"
#include "views/spikes_view.h"

using namespace superlens;

namespace {

std::filesystem::path quantDir() { return SUPERLENS_GGUF_QUANT_DIR; }
std::filesystem::path sourceModel() { return test::testData() / "gguf" / "llama-q256"; }
std::filesystem::path q4k() { return quantDir() / "llama-q256-Q4_K.gguf"; }

bool closeTo(double got, double want, double rel, double abs = 0.0) { return std::fabs(got - want) <= abs + rel * std::fabs(want); }

// Rows of a figure table as column -> value maps.
QList<QMap<QString, QString>> rowsOf(const widgets::FigureTable& t, const QString& section) {
    QList<QMap<QString, QString>> out;
    for (const QStringList& r : t.rows) {
        if (r.value(0) != section) continue;
        QMap<QString, QString> m;
        for (int i = 0; i < t.columns.size(); ++i) m[t.columns[i]] = r.value(i);
        out << m;
    }
    return out;
}

QStringList csvDataRows(const QString& csv) {
    QFile f(csv);
    if (!f.open(QIODevice::ReadOnly)) return {QStringLiteral("(cannot read %1)").arg(csv)};
    QStringList rows;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (!line.startsWith("# ")) rows << QString::fromUtf8(line);
    }
    return rows;
}

}  // namespace

class TestGuiCompare : public QObject {
    Q_OBJECT
    QTemporaryDir m_settingsDir;  // this process's own QSettings folder (gui_settings.h)
    std::unique_ptr<gui::MainWindow> m_window;
    nlohmann::json m_refs;
    QString m_ids;

    bool waitIdle() { return test::waitSessionIdle(*m_window); }

    nlohmann::json cliJson(const QStringList& args) {
        QProcess p;
        p.start(QString::fromStdString((test::binDir() / "superlens-cli").string()), args);
        if (!p.waitForFinished(300000) || p.exitCode() != 0) {
            qWarning("%s", p.readAllStandardError().constData());
            return {};
        }
        return nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    }

    widgets::PlotView* compareView() const { return m_window->view(QStringLiteral("compare")); }

private slots:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("SuperLensTest"));
        QVERIFY2(test::useOwnSettings(m_settingsDir), qPrintable(QSettings().fileName()));
        qputenv("SUPERLENS_RUN_CACHE", "off");
        m_refs = test::readJson(quantDir() / "refs.json");
        QStringList ids;
        for (const auto& id : m_refs["ids"]) ids << QString::number(id.get<int>());
        m_ids = ids.join(QLatin1Char(','));
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->resize(1200, 800);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        QVERIFY(test::openModelAndWait(*m_window, QString::fromStdString(sourceModel().string())));
        QVERIFY(test::runIdsAndWait(*m_window, m_ids));
        QVERIFY(!compareView()->hasData());
        QVERIFY(!m_window->overlayModelBAction()->isEnabled());
    }
    void cleanupTestCase() { m_window.reset(); }

    // The Compare view's numbers are `superlens-cli compare A B --json`'s and the fixture script's.
    void compareViewEqualsCliAndFixture() {
        m_window->openModelB(QString::fromStdString(q4k().string()));
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->modelComparison() != nullptr, 120000);
        QVERIFY(waitIdle());
        QVERIFY(m_window->overlayModelBAction()->isEnabled());
        QVERIFY(m_window->windowTitle().contains(QStringLiteral("B: ")));
        auto* view = static_cast<widgets::CompareView*>(compareView());
        QVERIFY2(view->hasData(), qPrintable(view->emptyMessage()));
        QVERIFY(view->kinds().contains(QStringLiteral("mlp.down_proj")));
        QVERIFY(view->kinds().contains(QStringLiteral("self_attn.q_proj")));
        const widgets::FigureTable table = view->dataTable();

        const nlohmann::json cli =
            cliJson({QStringLiteral("compare"), QString::fromStdString(sourceModel().string()), QString::fromStdString(q4k().string()), QStringLiteral("--ids"), m_ids,
                     QStringLiteral("--json")});
        QVERIFY(!cli.is_null());
        const auto& ref = m_refs["types"]["Q4_K"];
        // Per tensor: the CLI's relative error to the last bit, the fixture's within 1e-6.
        const auto tensors = rowsOf(table, QStringLiteral("tensor"));
        QCOMPARE(static_cast<std::size_t>(tensors.size()), cli["tensors"].size());
        for (const auto& t : cli["tensors"]) {
            const QString name = QString::fromStdString(t["name"].get<std::string>());
            bool found = false;
            for (const auto& row : tensors) {
                if (row["name"] != name) continue;
                found = true;
                QVERIFY2(row["relative_error"].toDouble() == t["relative_error"].get<double>(), qPrintable(name));
                QVERIFY2(row["max_abs_error"].toDouble() == t["max_abs_error"].get<double>(), qPrintable(name));
                QCOMPARE(row["kind"].toStdString(), t["kind"].get<std::string>());
                QCOMPARE(row["storage_b"].toStdString(), t["storage_b"].get<std::string>());
                QVERIFY2(closeTo(row["relative_error"].toDouble(), ref["relative_error"][name.toStdString()].get<double>(), 1e-6, 1e-12), qPrintable(name));
            }
            QVERIFY2(found, qPrintable(name));
        }
        // Per layer (the bars' pooled marker and largest tensor).
        const auto layers = rowsOf(table, QStringLiteral("layer"));
        QCOMPARE(static_cast<std::size_t>(layers.size()), cli["layers"].size());
        for (std::size_t l = 0; l < cli["layers"].size(); ++l) {
            QCOMPARE(layers[static_cast<int>(l)]["relative_error"].toDouble(), cli["layers"][l]["relative_error"].get<double>());
            QCOMPARE(layers[static_cast<int>(l)]["max_abs_error"].toDouble(), cli["layers"][l]["max_relative_error"].get<double>());
        }
        // The super weight: value in both, B's step, error in steps, the super activation.
        const auto sws = rowsOf(table, QStringLiteral("super_weight"));
        QCOMPARE(static_cast<std::size_t>(sws.size()), cli["super_weights"].size());
        const auto& sw = m_refs["super_weight"];
        bool planted = false;
        for (int i = 0; i < sws.size(); ++i) {
            const auto& c = cli["super_weights"][static_cast<std::size_t>(i)];
            QVERIFY(sws[i]["value_a"].toFloat() == c["value_a"].get<float>());
            QVERIFY(sws[i]["value_b"].toFloat() == c["value_b"].get<float>());
            QVERIFY(sws[i]["step_b"].toFloat() == c["step_b"].get<float>());
            QCOMPARE(sws[i]["error_in_steps_b"].toDouble(), c["error_in_steps_b"].get<double>());
            QVERIFY(sws[i]["activation_a"].toFloat() == c["activation_a"].get<float>());
            QVERIFY(sws[i]["activation_b"].toFloat() == c["activation_b"].get<float>());
            if (c["layer"] == 1 && c["row"] == sw["row"] && c["col"] == sw["col"]) {
                planted = true;
                QCOMPARE(sws[i]["name"], QStringLiteral("model.layers.1.mlp.down_proj.weight[%1,%2]").arg(sw["row"].get<int>()).arg(sw["col"].get<int>()));
                QVERIFY(sws[i]["value_a"].toFloat() == sw["value"].get<float>());
                QVERIFY(sws[i]["value_b"].toFloat() == ref["super_weight"].get<float>());
                QVERIFY(sws[i]["step_b"].toFloat() == ref["super_weight_step"].get<float>());
                QVERIFY(closeTo(sws[i]["activation_b"].toDouble(), ref["super_activation"].get<double>(), 1e-4));
                QVERIFY(closeTo(sws[i]["activation_a"].toDouble(), m_refs["safetensors"]["super_activation"].get<double>(), 1e-4));
            }
        }
        QVERIFY(planted);
        // KL, perplexity, top-1 agreement.
        const auto lg = rowsOf(table, QStringLiteral("logits"));
        QCOMPARE(lg.size(), qsizetype(1));
        QCOMPARE(lg[0]["kl_mean"].toDouble(), cli["logits"]["kl_mean"].get<double>());
        QCOMPARE(lg[0]["kl_max"].toDouble(), cli["logits"]["kl_max"].get<double>());
        QCOMPARE(lg[0]["ppl_a"].toDouble(), cli["logits"]["ppl_a"].get<double>());
        QCOMPARE(lg[0]["ppl_b"].toDouble(), cli["logits"]["ppl_b"].get<double>());
        QCOMPARE(lg[0]["top1_agreement"].toDouble(), cli["logits"]["top1_agreement"].get<double>());
        QVERIFY(closeTo(lg[0]["kl_mean"].toDouble(), ref["kl_mean"].get<double>(), 1e-3, 2e-6));
        QVERIFY(closeTo(lg[0]["ppl_b"].toDouble(), std::exp(ref["nll"].get<double>()), 1e-4));
        QVERIFY(view->summaryText().contains(QStringLiteral("top-1 agreement")));
    }

    // A model of other shapes, dropped with Shift held (as model B): one line in the status bar; model B stays.
    void otherShapesAreRefusedInOneLine() {
        const QString before = m_window->session()->modelB()->folder;
        const QString modelA = m_window->session()->model()->folder;
        m_window->openDropped({QUrl::fromLocalFile(QString::fromStdString((test::testData() / "stories260K").string()))}, Qt::ShiftModifier);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->statusBar()->currentMessage().contains(QStringLiteral("cannot be compared")), 60000);
        const QString message = m_window->statusBar()->currentMessage();
        QVERIFY2(message.contains(QStringLiteral("layers 2 vs 5")), qPrintable(message));
        QVERIFY(!message.contains(QLatin1Char('\n')));
        QVERIFY(waitIdle());
        QCOMPARE(m_window->session()->modelB()->folder, before);
        QCOMPARE(m_window->session()->model()->folder, modelA);  // opened as model B, not as the model
        QVERIFY(compareView()->hasData());
    }

    // The Compare view's export embeds `figure compare A --compare-with B`, which writes the same CSV.
    void compareExportRedrawsFromItsCommand() {
        QTemporaryDir dir;
        widgets::PlotView* v = compareView();
        const QString path = dir.filePath(QStringLiteral("compare.svg"));
        widgets::ExportOptions options = widgets::ExportOptions::oneColumn();
        options.provenance = m_window->figureProvenance(*v, path, options);
        QString error;
        QVERIFY2(widgets::exportFigure(*v, path, options, &error), qPrintable(error));
        QStringList words;
        QVERIFY(widgets::splitShellWords(options.provenance.command, &words));
        QCOMPARE(words.value(2), QStringLiteral("compare"));
        const qsizetype with = words.indexOf(QStringLiteral("--compare-with"));
        QVERIFY2(with > 0 && words[with + 1] == QFileInfo(QString::fromStdString(q4k().string())).absoluteFilePath(), qPrintable(options.provenance.command));
        const qsizetype out = words.indexOf(QStringLiteral("--out"));
        words[out + 1] = dir.filePath(QStringLiteral("cli.svg"));
        QProcess cli;
        cli.start(QString::fromStdString((test::binDir() / "superlens-cli").string()), words.mid(1));
        QVERIFY(cli.waitForFinished(300000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const QStringList gui = csvDataRows(widgets::csvPathFor(path));
        QVERIFY(gui.size() > 10);
        QCOMPARE(csvDataRows(dir.filePath(QStringLiteral("cli.csv"))), gui);
    }

    // "Overlay model B": every view draws B's own run of the prompt as the second side.
    void overlayDrawsModelBsRun() {
        m_window->overlayModelBAction()->setChecked(true);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->snapshot() && m_window->session()->snapshot()->secondSideIsModelB, 120000);
        QVERIFY(waitIdle());
        const auto snap = m_window->session()->snapshot();
        QVERIFY(snap->hasEdits());
        QVERIFY(QString::fromStdString(snap->comparison).contains(QStringLiteral("B: ")));
        // B's own run, made here with its own engine.
        auto b = core::Model::open(q4k());
        QVERIFY(b);
        core::Engine engine(*b);
        std::vector<core::TokenId> ids;
        for (const auto& id : m_refs["ids"]) ids.push_back(id.get<int>());
        auto run = engine.run(core::view::viewForwardRequest(ids, {}));
        QVERIFY(run);
        QCOMPARE(snap->edited->logits.values, (*run)->logits.values);
        QCOMPARE(snap->original->logits.values, m_window->session()->originalResult()->logits.values);
        auto stats = core::layerSpikeStats(**run);
        QVERIFY(stats);
        // The Spikes view's second side is B's run, value for value.
        const widgets::FigureTable t = m_window->view(QStringLiteral("spikes"))->dataTable();
        QCOMPARE(static_cast<std::size_t>(t.rows.size()), stats->size());
        const int outE = static_cast<int>(t.columns.indexOf(QStringLiteral("down_out_absmax_edited")));
        const int inE = static_cast<int>(t.columns.indexOf(QStringLiteral("down_in_absmax_edited")));
        for (std::size_t l = 0; l < stats->size(); ++l) {
            QCOMPARE(t.rows[static_cast<int>(l)][outE].toDouble(), static_cast<double>((*stats)[l].downOut.absValue()));
            QCOMPARE(t.rows[static_cast<int>(l)][inE].toDouble(), static_cast<double>((*stats)[l].downIn.absValue()));
        }
        // B's super activation is the Layer view's edited side at the super weight's cell.
        const auto& sw = m_refs["super_weight"];
        const core::ActivationTensor* resid = snap->edited->activation(core::HookPoint{core::HookKind::ResidPost, 1});
        QVERIFY(resid);
        QVERIFY(closeTo(resid->at(0, sw["row"].get<std::int64_t>()), m_refs["types"]["Q4_K"]["super_activation"].get<double>(), 1e-4));
        // The banner names both models; an export's command redraws the overlay.
        QTemporaryDir dir;
        widgets::PlotView* v = m_window->view(QStringLiteral("spikes"));
        const QString path = dir.filePath(QStringLiteral("spikes.svg"));
        widgets::ExportOptions options = widgets::ExportOptions::oneColumn();
        options.provenance = m_window->figureProvenance(*v, path, options);
        QString error;
        QVERIFY2(widgets::exportFigure(*v, path, options, &error), qPrintable(error));
        QStringList words;
        QVERIFY(widgets::splitShellWords(options.provenance.command, &words));
        QVERIFY2(words.contains(QStringLiteral("--compare-with")) && words.contains(QStringLiteral("--overlay-b")), qPrintable(options.provenance.command));
        words[words.indexOf(QStringLiteral("--out")) + 1] = dir.filePath(QStringLiteral("cli.svg"));
        QProcess cli;
        cli.start(QString::fromStdString((test::binDir() / "superlens-cli").string()), words.mid(1));
        QVERIFY(cli.waitForFinished(300000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        QCOMPARE(csvDataRows(dir.filePath(QStringLiteral("cli.csv"))), csvDataRows(widgets::csvPathFor(path)));
        // Off again: the live view of A alone.
        m_window->overlayModelBAction()->setChecked(false);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->snapshot() && !m_window->session()->snapshot()->secondSideIsModelB, 120000);
        QVERIFY(waitIdle());
        QVERIFY(!m_window->session()->snapshot()->hasEdits());
    }

    // llama.cpp's importance matrix: the Layer view's down_proj input column ranks are the parser's.
    void imatrixRanksInTheLayerView() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("imatrix.dat"));
        {
            // Legacy layout (llama.cpp tools/imatrix): count; per entry name, ncall, nval, nval sums (mean square x ncall).
            QByteArray bytes;
            auto i32 = [&bytes](std::int32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
            auto f32 = [&bytes](float v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
            const std::int32_t ncall = 7;
            i32(2);
            for (int layer = 0; layer < 2; ++layer) {
                const QByteArray name = QStringLiteral("blk.%1.ffn_down.weight").arg(layer).toLatin1();
                i32(static_cast<std::int32_t>(name.size()));
                bytes.append(name);
                i32(ncall);
                i32(512);
                for (int c = 0; c < 512; ++c) {
                    // Distinct values with one tie, and the super weight's column 300 on top in layer 1.
                    const double meanSq = layer == 1 && c == 300 ? 4000.0 : (c == 11 || c == 12 ? 2.5 : 0.5 + std::fmod(c * 0.6180339887, 1.0) * (layer + 1));
                    f32(static_cast<float>(meanSq * ncall));
                }
            }
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(bytes);
        }
        m_window->openImatrix(path);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->imatrix() != nullptr, 60000);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->snapshot() && m_window->session()->snapshot()->imatrix, 60000);
        // The comparison is made again with the matrix: the super weight's column rank.
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->modelComparison() && !m_window->session()->modelComparison()->superWeights.empty() &&
                                     m_window->session()->modelComparison()->superWeights.front().hasImportance, 120000);
        QVERIFY(waitIdle());
        auto parsed = core::Imatrix::open(path.toStdString());
        QVERIFY(parsed);
        const core::ImatrixEntry* entry = parsed->find("blk.1.ffn_down.weight");
        QVERIFY(entry);
        auto* layer = static_cast<widgets::LayerDetailView*>(m_window->view(QStringLiteral("layer")));
        m_window->selectLayer(1);
        layer->setTensor(widgets::LayerDetailView::Tensor::DownInput);
        QVERIFY2(layer->hasData(), qPrintable(layer->emptyMessage()));
        QVERIFY(layer->importanceEntry());
        QCOMPARE(layer->importanceEntry()->name, std::string("blk.1.ffn_down.weight"));
        const widgets::FigureTable t = layer->dataTable();
        const int rankCol = static_cast<int>(t.columns.indexOf(QStringLiteral("imatrix_rank")));
        const int valueCol = static_cast<int>(t.columns.indexOf(QStringLiteral("imatrix_importance")));
        const int channelCol = static_cast<int>(t.columns.indexOf(QStringLiteral("channel")));
        QVERIFY(rankCol > 0 && valueCol > 0);
        int checked = 0;
        for (const QStringList& row : t.rows) {
            const int c = row[channelCol].toInt();
            QCOMPARE(static_cast<std::int64_t>(row[rankCol].toLongLong()), entry->rank(c));
            QCOMPARE(row[valueCol].toDouble(), entry->at(c));
            ++checked;
        }
        QVERIFY(checked >= 512);
        QCOMPARE(entry->rank(300), std::int64_t{1});
        QVERIFY2(layer->importanceText().contains(QStringLiteral("column 300")) && layer->importanceText().contains(QStringLiteral("rank 1 of 512")),
                 qPrintable(layer->importanceText()));
        // The same rank in the Compare view.
        const auto sws = rowsOf(compareView()->dataTable(), QStringLiteral("super_weight"));
        bool found = false;
        for (const auto& s : sws) {
            if (s["name"].endsWith(QStringLiteral("[%1,300]").arg(m_refs["super_weight"]["row"].get<int>()))) {
                found = true;
                QCOMPARE(s["imatrix_rank"], QStringLiteral("1"));
            }
        }
        QVERIFY(found);
        // The layer figure's command carries --imatrix and --tensor input, and redraws the same CSV.
        QTemporaryDir out;
        const QString fig = out.filePath(QStringLiteral("layer.svg"));
        widgets::ExportOptions options = widgets::ExportOptions::oneColumn();
        options.provenance = m_window->figureProvenance(*layer, fig, options);
        QString error;
        QVERIFY2(widgets::exportFigure(*layer, fig, options, &error), qPrintable(error));
        QStringList words;
        QVERIFY(widgets::splitShellWords(options.provenance.command, &words));
        QVERIFY2(words.contains(QStringLiteral("--imatrix")) && words[words.indexOf(QStringLiteral("--tensor")) + 1] == QStringLiteral("input"),
                 qPrintable(options.provenance.command));
        words[words.indexOf(QStringLiteral("--out")) + 1] = out.filePath(QStringLiteral("cli.svg"));
        QProcess cli;
        cli.start(QString::fromStdString((test::binDir() / "superlens-cli").string()), words.mid(1));
        QVERIFY(cli.waitForFinished(300000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        QCOMPARE(csvDataRows(out.filePath(QStringLiteral("cli.csv"))), csvDataRows(widgets::csvPathFor(fig)));
    }

    // Closing model B empties the Compare view and disables the overlay.
    void closingModelB() {
        m_window->session()->closeModelB();
        QVERIFY(waitIdle());
        QVERIFY(!m_window->session()->hasModelB());
        QVERIFY(!compareView()->hasData());
        QVERIFY(!m_window->overlayModelBAction()->isEnabled());
    }
};

QTEST_MAIN(TestGuiCompare)
#include "test_gui_compare.moc"
