// The main window end to end, offscreen: open a model, run, select a layer
// (views change), toggle the super weight (logits and propagation change;
// switching it off restores exactly the original numbers), undo/redo, save
// an experiment the CLI can read, and cancel a long job.
//
// Model: the bundled demo model when present, else the llama-planted
// reference model (planted super weight at layer 1, row 13, col 57).
//
// Every test slot starts from the same state (init(): a new window, settings
// cleared, the model opened, its prompt run and scanned) and sets up what it
// needs itself, so slots pass alone and in any order: CTest runs them once in
// the declared order and once reversed (test_main_window_reversed).

#include <cmath>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

#include <functional>

#include <QAction>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMenuBar>
#include <QMimeData>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QUrl>
#include <QSettings>
#include <QListWidget>
#include <QProcess>
#include <QStatusBar>
#include <QMessageBox>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>
#include <qcustomplot.h>

#include "ablation_panel.h"
#include "superlens/core/system/system_report.h"
#include "ablation_set.h"
#include "layer_navigator.h"
#include "lens_session.h"
#include "main_window.h"
#include "prompt_panel.h"
#include "superlens/core/engine/edit_spec.h"
#include "golden_compare.h"
#include "gui_session_wait.h"
#include "gui_settings.h"
#include "test_paths.h"
#include "views/experts_view.h"
#include "figure_export.h"
#include "run_history.h"
#include "views/attention_view.h"
#include "views/layer_detail_view.h"
#include "views/lens_view.h"
#include "views/loss_view.h"
#include "views/sinks_view.h"
#include "views/logits_view.h"
#include "views/propagation_view.h"

using namespace superlens;

namespace {

QString modelUnderTest() {
    if (std::filesystem::exists(test::demoModel() / "config.json")) return QString::fromStdString(test::demoModel().string());
    return QString::fromStdString(test::referenceModel("llama-planted").string());
}

bool usesDemo() { return std::filesystem::exists(test::demoModel() / "config.json"); }

// qWarning lines while damaged inputs are opened (the GUI's stderr).
QStringList g_warnings;
void collectWarnings(QtMsgType type, const QMessageLogContext&, const QString& message) {
    // The offscreen platform's own notes when a dialog is shown ("This plugin
    // does not support propagateSizeHints()", "... raise()") are not ours.
    if (message.startsWith(QStringLiteral("This plugin does not support"))) return;
    if (type == QtWarningMsg || type == QtCriticalMsg) g_warnings << message;
}

QVector<double> barValues(QCPBars* bars) {
    QVector<double> v;
    if (!bars) return v;
    for (int i = 0; i < bars->data()->size(); ++i) v << bars->data()->at(i)->value;
    return v;
}

QVector<double> graphValues(QCPGraph* g) {
    QVector<double> v;
    if (!g) return v;
    for (int i = 0; i < g->data()->size(); ++i) v << g->data()->at(i)->value;
    return v;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_settingsDir;  // this process's own QSettings folder (gui_settings.h)
    std::unique_ptr<gui::MainWindow> m_window;

    bool waitIdleWithSnapshot() { return test::waitSessionIdle(*m_window); }
    // Opens a fixture folder, runs its token ids with a scan, waits for the views.
    bool openAndScan(const std::filesystem::path& folder, const nlohmann::json& idList) {
        if (!test::openModelAndWait(*m_window, QString::fromStdString(folder.string()))) return false;
        QStringList ids;
        for (const auto& id : idList) ids << QString::number(id.get<int>());
        return test::runIdsAndWait(*m_window, ids.join(QStringLiteral(", ")));
    }
    // Every view draws every model, but the Experts view only mixture-of-experts ones.
    bool expectsData(const widgets::PlotView* v) const {
        const auto& config = m_window->session()->model()->model->config();
        if (v->kind() == QLatin1String("patches")) return config.pixelInput;  // vision models only
        if (v->kind() == QLatin1String("compare")) return m_window->session()->hasModelB();  // a second model open beside
        return v->kind() != QLatin1String("experts") || config.hasExperts();
    }
    // Checks the first ablation entry (the detected super weight) and waits for the views.
    bool setSuperWeightZeroed(bool on) {
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        m_window->ablationPanel()->setEntryEnabled(0, on);
        return updated.wait(60000) && waitIdleWithSnapshot();
    }
    widgets::LogitsView* logits() const { return static_cast<widgets::LogitsView*>(m_window->view("logits")); }
    widgets::PropagationView* propagation() const { return static_cast<widgets::PropagationView*>(m_window->view("propagation")); }

private slots:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("SuperLensTest"));
        QVERIFY2(test::useOwnSettings(m_settingsDir), qPrintable(QSettings().fileName()));
    }
    // The state every slot starts from: a new window on cleared settings, the
    // model under test opened (no automatic run), its prompt run with a scan.
    void init() {
        QSettings().clear();
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        m_window->setAutoRunOnOpen(false);
        QVERIFY(test::openModelAndWait(*m_window, modelUnderTest()));
        if (!usesDemo()) {
            m_window->promptPanel()->setIdsMode(true);
            m_window->promptPanel()->setText(QStringLiteral("1, 5, 77, 130, 12, 200, 99, 31, 250, 64"));
        }
        m_window->runPrompt(true);
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(!m_window->session()->superWeights().empty());
    }
    void cleanup() { m_window.reset(); }

    void aboutShowsTheMachineAndItsKernels() {
        const QString about = gui::MainWindow::aboutText();
        QVERIFY(about.contains(QStringLiteral("BLAS kernels")));
        QVERIFY(about.contains(QString::fromStdString(core::blas::info().core)));
        const auto& cpu = core::cpuFeatures();
        QVERIFY(about.contains(QString::fromStdString(cpu.brand.empty() ? cpu.vendor : cpu.brand).toHtmlEscaped()));
        for (const std::string& f : core::cpuFeatures().names()) QVERIFY2(about.contains(QString::fromStdString(f)), f.c_str());
    }

    // What init() did (open, run, scan), checked: the super weight found, listed, the views drawn.
    void opensRunsAndScans() {
        QVERIFY(!m_window->session()->superWeights().empty());
        if (!usesDemo()) {
            const auto& sw = m_window->session()->superWeights().front();
            QCOMPARE(sw.layer, 1);
            QCOMPARE(sw.row, std::int64_t{13});
            QCOMPARE(sw.col, std::int64_t{57});
        }
        // The detected super weight is listed, unchecked.
        QVERIFY(m_window->ablationPanel()->list()->count() >= 1);
        QCOMPARE(m_window->ablationPanel()->list()->item(0)->checkState(), Qt::Unchecked);
        for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(v->kind() + ": " + v->emptyMessage()));
        // The window starts at the super weight's layer.
        QCOMPARE(m_window->selectedLayer(), m_window->session()->superWeights().front().layer);
    }

    // Issue 15: a damaged model (config, weights, a crafted tokenizer.model
    // that crashed SentencePiece) or a damaged activation cache opened from
    // the GUI gives exactly one error, shown in the status bar (errors are not
    // modal, by design) and printed once, naming the file; the model that was
    // open stays open and keeps running.
    void damagedInputsShowOneErrorAndKeepTheSession() {
        QVERIFY(m_window->session()->hasModel());
        const QString openFolder = m_window->session()->model()->folder;
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const std::filesystem::path root = tmp.path().toStdString();
        const std::filesystem::path demo = std::filesystem::path(modelUnderTest().toStdString());
        // A copy of the model with one file replaced (the weights linked, not copied).
        auto damagedCopy = [&](const std::string& name, const std::string& file, const std::string& bytes) {
            const std::filesystem::path dir = root / name;
            std::filesystem::create_directories(dir);
            for (const auto& e : std::filesystem::directory_iterator(demo)) {
                if (e.path().extension() == ".safetensors") std::filesystem::create_symlink(e.path(), dir / e.path().filename());
                else std::filesystem::copy_file(e.path(), dir / e.path().filename());
            }
            std::filesystem::remove(dir / file);
            std::ofstream(dir / file, std::ios::binary) << bytes;
            return dir;
        };
        auto slurp = [](const std::filesystem::path& p) {
            std::ifstream in(p, std::ios::binary);
            return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        };
        struct Case {
            std::filesystem::path path;
            bool cache;
            std::string named;     // the file the message must name
            std::string problem;   // and a part of the problem
        };
        std::vector<Case> cases;
        {
            // A second num_attention_heads key: JSON keeps the last, so put the bad one last.
            std::string bad = slurp(demo / "config.json");
            const auto close = bad.rfind('}');
            bad.insert(close, ", \"num_attention_heads\": 4294967296");
            const auto dir = damagedCopy("heads", "config.json", bad);
            cases.push_back({dir, false, (dir / "config.json").string(), "num_attention_heads"});
        }
        {
            const auto dir = damagedCopy("weights", "model.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13));
            cases.push_back({dir, false, (dir / "model.safetensors").string(), ""});
        }
        if (std::filesystem::exists(demo / "tokenizer.model") && !std::filesystem::exists(demo / "tokenizer.json")) {
            const auto crafted = std::filesystem::path(SUPERLENS_SOURCE_DIR) / "tests" / "fuzz" / "regressions" / "tokenizer_model" /
                                 "charsmap-value-beyond-strings.model";
            const auto dir = damagedCopy("charsmap", "tokenizer.model", slurp(crafted));
            cases.push_back({dir, false, (dir / "tokenizer.model").string(), "precompiled_charsmap"});
        }
        {
            std::string junk(4096, '\0');
            for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + 7) & 0xFF);
            const auto file = root / "acts.h5";
            std::ofstream(file, std::ios::binary) << std::string("\x89HDF\r\n\x1a\n", 8) << junk;
            cases.push_back({file, true, file.string(), ""});
        }
        for (const Case& c : cases) {
            const QString path = QString::fromStdString(c.path.string());
            QSignalSpy errors(m_window->session(), &gui::LensSession::errorOccurred);
            g_warnings.clear();
            const QtMessageHandler previous = qInstallMessageHandler(collectWarnings);
            if (c.cache) m_window->openActivations(path);
            else m_window->openModel(path);
            const bool got = errors.wait(60000);
            QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
            QTest::qWait(200);  // a second error would arrive now
            qInstallMessageHandler(previous);
            QVERIFY2(got, qPrintable(path));
            QCOMPARE(errors.count(), 1);
            const QString message = errors.at(0).at(0).toString();
            QVERIFY2(!message.contains(QLatin1Char('\n')), qPrintable(message));
            QVERIFY2(message.contains(QString::fromStdString(c.named)), qPrintable(message));
            QVERIFY2(message.contains(QString::fromStdString(c.problem)), qPrintable(message));
            QCOMPARE(m_window->statusBar()->currentMessage(), QStringLiteral("Error: ") + message);
            // ... and in the error dialog, which does not block the window.
            QVERIFY(m_window->errorDialog());
            QVERIFY(m_window->errorDialog()->isVisible());
            QVERIFY(!m_window->errorDialog()->isModal());
            QCOMPARE(m_window->errorDialog()->text(), message);
            QCOMPARE(m_window->findChildren<QMessageBox*>(QStringLiteral("errorDialog")).size(), 1);
            m_window->errorDialog()->close();
            QVERIFY2(g_warnings.size() == 1, qPrintable(g_warnings.join(QStringLiteral(" | "))));
            QVERIFY2(g_warnings.front().contains(message), qPrintable(g_warnings.front()));
            // The model that was open is still the session's, and it still runs.
            QVERIFY(m_window->session()->hasModel());
            QCOMPARE(m_window->session()->model()->folder, openFolder);
        }
        // An experiment file that is a named pipe: refused at once (it blocked the GUI).
        const std::filesystem::path fifo = root / "experiment.json";
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QString error;
        QVERIFY(!m_window->loadExperimentFrom(QString::fromStdString(fifo.string()), &error));
        QCOMPARE(error, QString::fromStdString(fifo.string()) + QStringLiteral(": not a regular file"));
        m_window->runPrompt(true);
        QVERIFY(waitIdleWithSnapshot());
        for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(v->kind() + ": " + v->emptyMessage()));
    }

    void selectingALayerUpdatesTheViews() {
        auto* layer = static_cast<widgets::LayerDetailView*>(m_window->view("layer"));
        const int sw = m_window->session()->superWeights().front().layer;
        const double atSuper = layer->colorMap()->data()->dataBounds().upper;
        const int other = sw == 0 ? 1 : 0;
        m_window->layerNavigator()->setFocus();
        m_window->layerNavigator()->setSelectedLayer(other);
        QCOMPARE(m_window->selectedLayer(), other);
        QVERIFY(layer->colorMap()->data()->dataBounds().upper != atSuper);
        QCOMPARE(m_window->layerNavigator()->currentRow(), other);
        m_window->selectLayer(sw);
        QCOMPARE(layer->colorMap()->data()->dataBounds().upper, atSuper);
    }

    void togglingTheSuperWeightChangesLogitsAndRestoresExactly() {
        const QVector<double> original = barValues(logits()->probabilityBars(false));
        const QVector<double> channel = graphValues(propagation()->channelGraph(false));
        QVERIFY(!original.isEmpty());
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        m_window->ablationPanel()->list()->item(0)->setCheckState(Qt::Checked);  // as a click on the checkbox
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(m_window->session()->snapshot()->hasEdits());
        const QVector<double> edited = barValues(logits()->probabilityBars(true));
        QCOMPARE(edited.size(), barValues(logits()->probabilityBars(false)).size());
        QVERIFY(edited != barValues(logits()->probabilityBars(false)));
        const QVector<double> editedChannel = graphValues(propagation()->channelGraph(true));
        QVERIFY(!editedChannel.isEmpty());
        QVERIFY(editedChannel != channel);
        // The engine recomputed from the super weight's block, not from the embedding.
        QCOMPARE(m_window->session()->snapshot()->edited->recomputedFromStage, 1 + m_window->session()->superWeights().front().layer);

        m_window->ablationPanel()->list()->item(0)->setCheckState(Qt::Unchecked);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(!m_window->session()->snapshot()->hasEdits());
        QVERIFY(!logits()->probabilityBars(true));
        QCOMPARE(barValues(logits()->probabilityBars(false)), original);  // exactly
        QCOMPARE(graphValues(propagation()->channelGraph(false)), channel);
    }

    void undoRedoReplaysTheToggle() {
        QVERIFY(setSuperWeightZeroed(true));
        QVERIFY(setSuperWeightZeroed(false));
        QUndoStack* undo = m_window->undoStack();
        QVERIFY(undo->count() >= 2);
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        undo->undo();  // back to "super weight zeroed"
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QCOMPARE(m_window->ablations()->enabledSpecs().size(), 1);
        QVERIFY(m_window->session()->snapshot()->hasEdits());
        QCOMPARE(m_window->ablationPanel()->list()->item(0)->checkState(), Qt::Checked);
        undo->redo();
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(m_window->ablations()->enabledSpecs().isEmpty());
        QVERIFY(!m_window->session()->snapshot()->hasEdits());
    }

    void presetsAndScaleSlider() {
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        m_window->ablationPanel()->zeroSuperWeightsAndRestoreActivation();
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        const QStringList specs = m_window->ablations()->enabledSpecs();
        QCOMPARE(specs.size(), 2 * static_cast<int>(m_window->session()->superWeights().size()));
        QVERIFY(specs.last().contains(QStringLiteral("hook_mlp_out")));
        // Restoring the super activation brings the residual channel back near its original size.
        const QVector<double> o = graphValues(propagation()->channelGraph(false));
        const QVector<double> e = graphValues(propagation()->channelGraph(true));
        QVERIFY(std::fabs(e.last() - o.last()) < 0.1 * o.last());
        m_window->ablationPanel()->clearAll();
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        m_window->ablationPanel()->setScaleFactor(2.0);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QCOMPARE(m_window->ablations()->enabledSpecs().size(), 1);
        QVERIFY(m_window->ablations()->enabledSpecs().first().endsWith(QStringLiteral("*=2")));
        m_window->ablationPanel()->setScaleFactor(1.0);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(m_window->ablations()->enabledSpecs().isEmpty());
    }

    void experimentRoundTripsAndTheCliReadsIt() {
        QTemporaryDir dir;
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        m_window->ablationPanel()->setEntryEnabled(0, true);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        const QString path = dir.filePath(QStringLiteral("experiment.json"));
        QString error;
        QVERIFY2(m_window->saveExperimentTo(path, &error), qPrintable(error));
        // superlens-cli --edits reads the same file: the enabled edits, in order.
        auto edits = core::loadEditsFile(path.toStdString());
        QVERIFY2(edits.ok(), edits.ok() ? "" : edits.error().message.c_str());
        QCOMPARE(static_cast<int>(edits->size()), m_window->ablations()->enabledSpecs().size());
        QCOMPARE(QString::fromStdString((*edits)[0].text()), m_window->ablations()->enabledSpecs().first());
        m_window->ablationPanel()->clearAll();
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(m_window->loadExperimentFrom(path, &error));
        QVERIFY(updated.wait(60000));
        QCOMPARE(m_window->ablations()->enabledSpecs().size(), 1);
    }

    // A click on a cell of the Sinks view's edited map opens the Attention
    // view on that layer and head, showing the edited run's pattern.
    void sinkClickOpensThatHeadInTheAttentionView() {
        QVERIFY(setSuperWeightZeroed(true));
        const auto snap = m_window->session()->snapshot();
        QVERIFY(snap->hasEdits());
        auto* sinks = static_cast<widgets::SinksView*>(m_window->view(QStringLiteral("sinks")));
        m_window->showView(QStringLiteral("sinks"));
        QVERIFY(sinks->hasData());
        const int layer = snap->layers - 1, head = snap->heads - 1;
        QVERIFY(layer != m_window->selectedLayer());
        QCPColorMap* map = sinks->colorMap(true);
        QVERIFY(map);
        const QPoint pos(qRound(map->keyAxis()->coordToPixel(head)), qRound(map->valueAxis()->coordToPixel(layer)));
        QTest::mouseClick(sinks->plot(), Qt::LeftButton, {}, pos);
        auto* attention = qobject_cast<widgets::AttentionView*>(m_window->currentView());
        QVERIFY2(attention, "the click switched to the Attention tab");
        QCOMPARE(m_window->selectedLayer(), layer);
        QCOMPARE(attention->selectedLayer(), layer);
        const auto state = attention->figureState();
        QVERIFY(state.contains(qMakePair(QStringLiteral("head"), QString::number(head))));
        QVERIFY(state.contains(qMakePair(QStringLiteral("pattern"), QStringLiteral("edited"))));
        // The drawn pattern is the edited run's head, value for value.
        const core::ActivationTensor* a = snap->edited->activation(core::HookPoint{core::HookKind::AttnPattern, layer});
        QVERIFY(a);
        const int T = static_cast<int>(a->shape[1]);
        for (int q = 0; q < T; ++q) {
            for (int k = 0; k < T; ++k)
                QCOMPARE(attention->shownValue(q, k), static_cast<double>(a->values[static_cast<std::size_t>((head * T + q) * T + k)]));
        }
        // ... and differs from the original run's (the edit changes layer L-1's attention).
        const core::ActivationTensor* o = snap->original->activation(core::HookPoint{core::HookKind::AttnPattern, layer});
        QVERIFY(o->values != a->values);
    }

    // What the GUI exports embeds the command that draws the same state: the
    // Lens position, the Attention head and run, the Sinks carriers. Running
    // the embedded command with superlens-cli writes the same CSV data.
    void guiExportsRedrawFromTheirEmbeddedCommand() {
        QVERIFY(setSuperWeightZeroed(true));
        QTemporaryDir dir;
        auto* lens = static_cast<widgets::LensView*>(m_window->view(QStringLiteral("lens")));
        lens->setPosition(2);
        static_cast<widgets::SinksView*>(m_window->view(QStringLiteral("sinks")))->setCarriers(true);
        auto* attention = static_cast<widgets::AttentionView*>(m_window->view(QStringLiteral("attention")));
        attention->setHead(m_window->session()->snapshot()->heads - 1);
        attention->setShowEdited(true);
        const QList<QPair<QString, QStringList>> cases = {
            {QStringLiteral("lens"), {QStringLiteral("--position"), QStringLiteral("2")}},
            {QStringLiteral("attention"), {QStringLiteral("--head"), QString::number(m_window->session()->snapshot()->heads - 1),
                                           QStringLiteral("--pattern"), QStringLiteral("edited")}},
            {QStringLiteral("sinks"), {QStringLiteral("--carriers"), QStringLiteral("all")}}};
        auto dataRows = [](const QString& csv) {
            QFile f(csv);
            if (!f.open(QIODevice::ReadOnly)) return QStringList{QStringLiteral("(cannot read %1)").arg(csv)};
            QStringList rows;
            for (const QByteArray& line : f.readAll().split('\n')) {
                if (!line.startsWith("# ")) rows << QString::fromUtf8(line);
            }
            return rows;
        };
        for (const auto& [kind, expected] : cases) {
            widgets::PlotView* v = m_window->view(kind);
            const QString path = dir.filePath(kind + QStringLiteral(".svg"));
            widgets::ExportOptions options = widgets::ExportOptions::oneColumn();
            options.provenance = m_window->figureProvenance(*v, path, options);
            QString error;
            QVERIFY2(widgets::exportFigure(*v, path, options, &error), qPrintable(error));
            widgets::FigureProvenance read;
            QVERIFY2(widgets::readFigureProvenance(path, &read, &error), qPrintable(error));
            QStringList words;
            QVERIFY(widgets::splitShellWords(read.command, &words));
            for (int i = 0; i < expected.size(); i += 2) {
                const qsizetype at = words.indexOf(expected[i]);
                QVERIFY2(at > 0 && words[at + 1] == expected[i + 1], qPrintable(kind + QStringLiteral(": ") + read.command));
            }
            const QStringList gui = dataRows(widgets::csvPathFor(path));
            QVERIFY(gui.size() > 2);
            const qsizetype out = words.indexOf(QStringLiteral("--out"));
            words[out + 1] = dir.filePath(QStringLiteral("cli-") + kind + QStringLiteral(".svg"));
            QProcess cli;
            cli.start(QString::fromStdString((test::binDir() / "superlens-cli").string()), words.mid(1));
            QVERIFY(cli.waitForFinished(300000));
            QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
            QCOMPARE(dataRows(dir.filePath(QStringLiteral("cli-") + kind + QStringLiteral(".csv"))), gui);
        }
    }

    // View → Colour-blind-safe palette: every view redraws in the Okabe-Ito
    // colours (the edited propagation line is vermillion), and back.
    void colourBlindPaletteRecolorsEveryView() {
        QVERIFY(setSuperWeightZeroed(true));
        QVERIFY(m_window->session()->snapshot()->hasEdits());
        const QColor vermillion(0xd5, 0x5e, 0x00), blue(0x00, 0x72, 0xb2);
        QVERIFY(propagation()->channelGraph(true)->pen().color() != vermillion);
        m_window->setColorBlindPalette(true);
        for (auto* v : m_window->views()) {
            QCOMPARE(v->plotStyle().edited, vermillion);
            QCOMPARE(v->plotStyle().original, blue);
        }
        QCOMPARE(propagation()->channelGraph(true)->pen().color(), vermillion);
        QCOMPARE(propagation()->channelGraph(false)->pen().color(), blue);
        QVERIFY(QSettings().value(QStringLiteral("view/colorBlindPalette")).toBool());
        m_window->setColorBlindPalette(false);
        QCOMPARE(propagation()->channelGraph(true)->pen().color(), widgets::PlotStyle::screen().edited);
    }

    // Help → Keyboard shortcuts lists every menu shortcut (taken from the menus).
    void shortcutsAreListedInHelp() {
        const QString text = m_window->shortcutsText();
        int listed = 0;
        std::function<void(QMenu*)> walk = [&](QMenu* menu) {
            for (QAction* a : menu->actions()) {
                if (a->menu()) walk(a->menu());
                else if (!a->shortcut().isEmpty()) {
                    QVERIFY2(text.contains(a->shortcut().toString(QKeySequence::NativeText).toHtmlEscaped()), qPrintable(a->text()));
                    ++listed;
                }
            }
        };
        for (QAction* top : m_window->menuBar()->actions()) {
            if (top->menu()) walk(top->menu());
        }
        QVERIFY(listed >= 15);
        QVERIFY(text.contains(QStringLiteral("Alt+7")) && text.contains(QStringLiteral("View → Lens")));
        QVERIFY(text.contains(QStringLiteral("Ctrl+D")) && text.contains(QStringLiteral("Compare selected runs")));
        QVERIFY(text.contains(QStringLiteral("Ctrl+PgDown")) || text.contains(QStringLiteral("Ctrl+Page Down")));
    }

    // The History dock keeps every run; two runs of the same prompt compare
    // on every view (run A as "original", run B as "edited"), an experiment
    // saves and restores the history, Restore puts a run back.
    void runHistoryKeepsRunsAndComparesTwo() {
        // Runs 2-4: the super weight zeroed, restored, zeroed again (run 1 is init's).
        QVERIFY(setSuperWeightZeroed(true));
        QVERIFY(setSuperWeightZeroed(false));
        QVERIFY(setSuperWeightZeroed(true));
        gui::RunHistory* history = m_window->runHistory();
        QVERIFY(history->runs().size() >= 3);
        const auto live = m_window->session()->snapshot();
        const gui::RunRecord last = history->runs().back();
        QCOMPARE(last.tokens, live->tokens);
        QCOMPARE(last.edits, m_window->ablations()->enabledSpecs());
        QCOMPARE(last.edits.size(), 1);
        // Its key numbers, recomputed here in double from the edited run's logits.
        const core::ActivationTensor& logitsT = live->edited->logits;
        const std::int64_t T = static_cast<std::int64_t>(live->tokens.size()), V = logitsT.shape[1];
        QCOMPARE(logitsT.shape[0], T);
        auto logSumExp = [&](std::int64_t t) {
            double m = -1e300;
            for (std::int64_t v = 0; v < V; ++v) m = std::max(m, static_cast<double>(logitsT.values[static_cast<std::size_t>(t * V + v)]));
            double s = 0;
            for (std::int64_t v = 0; v < V; ++v) s += std::exp(static_cast<double>(logitsT.values[static_cast<std::size_t>(t * V + v)]) - m);
            return m + std::log(s);
        };
        double nll = 0;
        for (std::int64_t t = 1; t < T; ++t)
            nll += logSumExp(t - 1) - logitsT.values[static_cast<std::size_t>((t - 1) * V + live->tokens[static_cast<std::size_t>(t)])];
        QVERIFY(last.meanLoss.has_value());
        QVERIFY2(std::fabs(*last.meanLoss - nll / static_cast<double>(T - 1)) < 1e-4, qPrintable(QString::number(*last.meanLoss)));
        double best = -1e300;
        for (std::int64_t v = 0; v < V; ++v) best = std::max(best, static_cast<double>(logitsT.values[static_cast<std::size_t>((T - 1) * V + v)]));
        QVERIFY(std::fabs(last.predictionProb - std::exp(best - logSumExp(T - 1))) < 1e-5);

        // A run of the same prompt without edits.
        int plain = -1;
        for (const auto& r : history->runs()) {
            if (r.edits.isEmpty() && r.tokens == last.tokens) plain = r.number;
        }
        QVERIFY(plain > 0);
        QString error;
        QVERIFY(!m_window->compareRuns(9999, plain, &error));
        QVERIFY(error.contains(QStringLiteral("9999")));
        // A = the edited run, B = the plain one: every view swaps its sides.
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        QVERIFY2(m_window->compareRuns(last.number, plain, &error), qPrintable(error));
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        const auto cmp = m_window->session()->snapshot();
        QCOMPARE(QString::fromStdString(cmp->comparison), QStringLiteral("run %1 vs run %2").arg(last.number).arg(plain));
        QVERIFY(cmp->hasEdits() && cmp->editTexts.empty());
        QCOMPARE(cmp->baselineEditTexts.size(), std::size_t{1});
        QCOMPARE(cmp->topNext.size(), live->topNext.size());
        for (const auto& t : cmp->topNext) {
            bool found = false;
            for (const auto& u : live->topNext) {
                if (u.id != t.id) continue;
                found = true;
                QCOMPARE(t.original, u.edited);
                QCOMPARE(t.edited, u.original);
            }
            QVERIFY(found);
        }
        for (std::size_t t = 1; t < cmp->originalLoss.size(); ++t) {
            QCOMPARE(cmp->originalLoss[t], live->editedLoss[t]);
            QCOMPARE(cmp->editedLoss[t], live->originalLoss[t]);
        }
        // Drawn: the logits view's "original" bars are run A's (edited) probabilities.
        QVector<double> drawn = barValues(logits()->probabilityBars(false));
        QVector<double> expected;
        for (const auto& t : cmp->topNext) expected << t.original;
        QCOMPARE(drawn, expected);
        // An export while comparing names both runs' edits.
        const auto provenance = m_window->figureProvenance(*logits(), QStringLiteral("/tmp/x.pdf"), widgets::ExportOptions::oneColumn());
        QVERIFY2(provenance.command.contains(QStringLiteral("--baseline-edit")) && !provenance.command.contains(QStringLiteral(" --edit ")),
                 qPrintable(provenance.command));

        // Different prompts do not compare.
        gui::RunRecord other = last;
        other.tokens = {1, 2, 3};
        const int otherRow = history->record(other);
        QVERIFY(!m_window->compareRuns(history->runs()[otherRow].number, plain, &error));
        QVERIFY(error.contains(QStringLiteral("different prompts")));

        // Back to live: the current edits again, exactly.
        m_window->showLive();
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(m_window->session()->snapshot()->comparison.empty());
        QCOMPARE(m_window->session()->snapshot()->editTexts, live->editTexts);

        // The experiment file keeps the history; loading it restores the list.
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("history.json"));
        const QList<gui::RunRecord> saved = history->runs();
        QVERIFY2(m_window->saveExperimentTo(path, &error), qPrintable(error));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject root = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(root.value(QStringLiteral("history")).toArray().size(), saved.size());
        const QJsonObject first = root.value(QStringLiteral("history")).toArray().first().toObject();
        QCOMPARE(first.value(QStringLiteral("number")).toInt(), saved.first().number);
        QCOMPARE(first.value(QStringLiteral("ids")).toArray().size(), static_cast<qsizetype>(saved.first().tokens.size()));
        QCOMPARE(m_window->recentExperiments().value(0), QFileInfo(path).absoluteFilePath());
        history->clear();
        QVERIFY(m_window->loadExperimentFrom(path, &error));  // the same edits: no new run
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(history->runs().size() >= saved.size());
        for (qsizetype i = 0; i < saved.size(); ++i) {
            QCOMPARE(history->runs()[i].number, saved[i].number);
            QCOMPARE(history->runs()[i].tokens, saved[i].tokens);
            QCOMPARE(history->runs()[i].edits, saved[i].edits);
            QCOMPARE(history->runs()[i].meanLoss.has_value(), saved[i].meanLoss.has_value());
            if (saved[i].meanLoss) QCOMPARE(*history->runs()[i].meanLoss, *saved[i].meanLoss);
            QCOMPARE(history->runs()[i].time.toMSecsSinceEpoch(), saved[i].time.toMSecsSinceEpoch());
        }
        // A damaged history is refused with the entry named.
        QFile bad(dir.filePath(QStringLiteral("bad.json")));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write(R"({"edits": [], "history": [{"number": 1, "ids": [1, "x"], "edits": []}]})");
        bad.close();
        QVERIFY(!m_window->loadExperimentFrom(bad.fileName(), &error));
        QVERIFY2(error.contains(QStringLiteral("history entry 0")) && error.contains(QStringLiteral("bad.json")), qPrintable(error));

        // Restore the plain run: its (empty) edit list comes back.
        QVERIFY(m_window->restoreRun(plain, &error));
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(m_window->ablations()->enabledSpecs().isEmpty());
        QVERIFY(!m_window->session()->snapshot()->hasEdits());
    }

    // State restored on restart: the view, the selected layer, the prompt and the palette.
    void stateIsRestoredOnRestart() {
        m_window->setColorBlindPalette(true);
        m_window->showView(QStringLiteral("sinks"));
        const int layer = m_window->session()->snapshot()->layers - 2;
        m_window->selectLayer(layer);
        m_window->promptPanel()->setText(m_window->promptPanel()->text());
        m_window->saveSessionState();
        gui::MainWindow restored(true);
        QCOMPARE(restored.currentView()->kind(), QStringLiteral("sinks"));
        QVERIFY(restored.colorBlindPalette());
        QCOMPARE(restored.view(QStringLiteral("logits"))->plotStyle().edited, QColor(0xd5, 0x5e, 0x00));
        QCOMPARE(restored.promptPanel()->text(), m_window->promptPanel()->text());
        QCOMPARE(restored.promptPanel()->idsMode(), m_window->promptPanel()->idsMode());
        QVERIFY(test::openModelAndWait(restored, modelUnderTest()));
        QVERIFY(test::waitSessionIdle(restored));
        QCOMPARE(restored.selectedLayer(), layer);
        QCOMPARE(restored.session()->tokens(), m_window->session()->tokens());
        m_window->setColorBlindPalette(false);
    }

    // The Loss view's Text box: the held-out text's loss is computed (off the
    // UI thread) and drawn, and follows the edits.
    void lossViewShowsTheHeldOutText() {
        QVERIFY(waitIdleWithSnapshot());
        auto* loss = static_cast<widgets::LossView*>(m_window->view(QStringLiteral("loss")));
        QSignalSpy updated(m_window.get(), &gui::MainWindow::viewsUpdated);
        loss->setHeldOutText(true);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        const auto snap = m_window->session()->snapshot();
        QVERIFY(snap->heldOutLoss);
        QCOMPARE(snap->heldOutLoss->tokens.size(), std::size_t{128});
        QVERIFY2(loss->hasData(), qPrintable(loss->emptyMessage()));
        QCOMPARE(loss->stripValue(0, 10), snap->heldOutLoss->original[10]);
        // Zeroing the super weight: the edited strip is the edited held-out loss.
        m_window->ablationPanel()->setEntryEnabled(0, true);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        const auto edited = m_window->session()->snapshot();
        QVERIFY(edited->hasEdits() && edited->heldOutLoss);
        bool changed = false;
        for (std::size_t t = 1; t < 128; ++t) {  // entry 0 is NaN: nothing predicts the first token
            QCOMPARE(edited->heldOutLoss->original[t], snap->heldOutLoss->original[t]);  // the unedited run is reused
            changed = changed || edited->heldOutLoss->edited[t] != edited->heldOutLoss->original[t];
        }
        QVERIFY(changed);
        QCOMPARE(loss->stripValue(1, 10), edited->heldOutLoss->edited[10]);
        loss->setHeldOutText(false);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
        QVERIFY(!m_window->session()->snapshot()->heldOutLoss);
        m_window->ablationPanel()->setEntryEnabled(0, false);
        QVERIFY(updated.wait(60000));
        QVERIFY(waitIdleWithSnapshot());
    }

    void addingABadSpecIsRefused() {
        const int before = m_window->ablations()->entries().size();
        QVERIFY(!m_window->ablationPanel()->addSpec(QStringLiteral("model.layers.99.mlp.down_proj.weight[0,0]=0"), true));
        QVERIFY(!m_window->ablationPanel()->addSpec(QStringLiteral("not an edit"), true));
        QCOMPARE(m_window->ablations()->entries().size(), before);
    }

    void cancellingALongRunStopsIt() {
        QVERIFY(waitIdleWithSnapshot());
        auto* s = m_window->session();
        const auto before = s->snapshot();
        QSignalSpy finished(s, &gui::LensSession::jobFinished);
        // A long run: a 512-token prompt with a rescan; cancelled right away.
        std::vector<core::TokenId> many;
        for (int i = 0; i < 512; ++i) many.push_back(static_cast<core::TokenId>(1 + (i * 7) % 200));
        s->run(many, true);
        QVERIFY(!s->isIdle());
        s->cancelAll();
        QVERIFY(finished.count() >= 1);
        QCOMPARE(finished.last().at(2).toString(), QStringLiteral("cancelled"));
        // The views keep the previous result; nothing is published by the cancelled job.
        QTest::qWait(300);
        QCOMPARE(s->snapshot(), before);
        QTRY_VERIFY_WITH_TIMEOUT(s->isIdle(), 30000);
    }

    // Issue 16: the GUI on the families beyond Llama (Conv1D GPT-2, parallel
    // GPT-J, Gemma's sandwich block): open, run, scan finds the planted weight
    // in stored coordinates, every view draws, and zeroing it changes the logits.
    void opensEveryFamily() {
        const nlohmann::json refs = test::readJson(test::testData() / "families" / "refs.json");
        for (const char* name : {"gpt2-f32", "gptj-bf16", "gemma2-f32"}) {
            const auto& ref = refs[name];
            QVERIFY2(openAndScan(test::testData() / "families" / name, ref["ids"]), name);
            QVERIFY2(!m_window->session()->superWeights().empty(), name);
            const auto& sw = m_window->session()->superWeights().front();
            const auto& planted = ref["planted"][0];
            QCOMPARE(sw.layer, planted["layer"].get<int>());
            QCOMPARE(sw.row, planted["row"].get<std::int64_t>());
            QCOMPARE(sw.col, planted["col"].get<std::int64_t>());
            QCOMPARE(sw.outputChannel(), planted["output_channel"].get<std::int64_t>());
            for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(QString::fromUtf8(name) + " " + v->kind() + ": " + v->emptyMessage()));
            // Toggle the detected super weight (the first ablation entry) and see the logits move.
            const QVector<double> original = barValues(logits()->probabilityBars(false));
            m_window->ablationPanel()->list()->item(0)->setCheckState(Qt::Checked);
            QVERIFY(waitIdleWithSnapshot());
            QVERIFY2(barValues(logits()->probabilityBars(true)) != original, name);
            m_window->ablationPanel()->list()->item(0)->setCheckState(Qt::Unchecked);
            QVERIFY(waitIdleWithSnapshot());
        }
    }

    // Issue 17: the four mixture-of-experts families open, run and scan; the
    // Experts view plots the float64 profile and routing of the fixtures;
    // clicking the super expert prunes it live (and again restores it).
    void opensEveryMoeFamily() {
        const nlohmann::json refs = test::readJson(test::testData() / "moe" / "refs.json");
        for (const char* name : {"mixtral-bf16", "qwen2-moe-f32", "qwen3-moe-f16", "olmoe-f32"}) {
            const auto& ref = refs[name];
            QVERIFY2(openAndScan(test::testData() / "moe" / name, ref["ids"]), name);
            for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(QString::fromUtf8(name) + " " + v->kind() + ": " + v->emptyMessage()));
            auto* experts = static_cast<widgets::ExpertsView*>(m_window->view("experts"));
            const auto& prof = ref["expert_profile"];
            const auto& layers = prof["layers"];
            for (std::size_t li = 0; li < layers.size(); ++li) {
                const int l = layers[li].get<int>();
                for (std::size_t e = 0; e < prof["max_abs_out"][li].size(); ++e) {
                    const double want = prof["max_abs_out"][li][e].get<double>();
                    if (want <= 0) continue;  // never routed: drawn at the floor
                    QVERIFY2(std::fabs(experts->shownLogMax(l, static_cast<int>(e)) - std::log10(want)) < 1e-4, name);
                }
            }
            // The routing drawn is the router's probabilities (float64 hook reference) of the routing layer.
            const auto& supers = prof["super_experts"];
            const int routingLayer = supers.empty() ? layers[0].get<int>() : supers[0][0].get<int>();
            m_window->selectLayer(routingLayer);
            QTRY_VERIFY(experts->hasData());
            const auto& w = ref["hooks"]["blocks." + std::to_string(routingLayer) + ".mlp.hook_expert_weights"];
            for (std::size_t t = 0; t < w.size(); ++t) {
                for (std::size_t e = 0; e < w[t].size(); ++e) {
                    QVERIFY2(std::fabs(experts->shownRouting(false, static_cast<int>(t), static_cast<int>(e)) - w[t][e].get<double>()) < 1e-4, name);
                }
            }
            // The scan names the super weight inside the planted super expert.
            if (!ref["planted_super_expert"].is_null()) {
                const auto& planted = ref["planted_super_expert"];
                const auto& sws = m_window->session()->superWeights();
                QVERIFY2(std::any_of(sws.begin(), sws.end(), [&](const core::SuperWeight& sw) {
                    return sw.layer == planted[0].get<int>() && sw.expert == planted[1].get<int>() && sw.outputChannel() == planted[2].get<std::int64_t>();
                }), name);
            }
            if (supers.empty()) continue;
            // Click the super expert's cell: pruned live, the edited routing of later layers and logits move.
            const int l = supers[0][0].get<int>(), e = supers[0][1].get<int>();
            const QString spec = widgets::ExpertsView::pruneSpec(l, e);
            emit experts->editToggled(spec, QStringLiteral("prune"));
            QVERIFY(waitIdleWithSnapshot());
            QVERIFY2(experts->prunedExperts().contains(qMakePair(l, e)), name);
            QVERIFY2(m_window->session()->snapshot()->editTexts == std::vector<std::string>{spec.toStdString()}, name);
            emit experts->editToggled(spec, QStringLiteral("prune"));
            QVERIFY(waitIdleWithSnapshot());
            QVERIFY2(experts->prunedExperts().isEmpty(), name);
            QVERIFY2(!m_window->session()->snapshot()->hasEdits(), name);
            // The live edited run equals the float64 forward with that expert removed.
            const QString off = QString::fromStdString(ref["expert_off"]["edit"].get<std::string>());
            emit experts->editToggled(off, QStringLiteral("prune"));
            QVERIFY(waitIdleWithSnapshot());
            QVERIFY2(test::relativeMaxError(m_window->session()->snapshot()->edited->logits.values, test::flatten(ref["expert_off"]["logits_all"])) < 1e-4, name);
            emit experts->editToggled(off, QStringLiteral("prune"));
            QVERIFY(waitIdleWithSnapshot());
        }
    }

    // Issue 19: a GGUF file opens like a folder (stories260K as llama.cpp stores it).
    void opensAGgufFile() {
        QVERIFY(test::openModelAndWait(*m_window, QString::fromStdString((test::testData() / "stories260K" / "stories260K.gguf").string())));
        QVERIFY(test::runIdsAndWait(*m_window, QStringLiteral("1, 403, 407, 261, 378, 300, 33, 91")));
        QVERIFY(waitIdleWithSnapshot());
        for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(v->kind() + ": " + v->emptyMessage()));
    }

    // Dropping a model folder on the window opens it (and it joins File → Open recent).
    void droppingAModelFolderOpensIt() {
        QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(modelUnderTest())});
        QDragEnterEvent enter(QPoint(400, 300), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window.get(), &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(400, 300), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window.get(), &drop);
        QVERIFY(opened.wait(60000));
        QCOMPARE(m_window->session()->model()->folder, modelUnderTest());
        QCOMPARE(QSettings().value(QStringLiteral("recentModels")).toStringList().value(0), modelUnderTest());
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
    }

    // Issue 23: Analysis > Compute precision > bf16 reopens the model in a
    // bf16-emulating engine; its run gives the logits of torch's bf16 run
    // (tests/data/precision/refs.json, bit for bit on this fixture), and fp32 restores the exact engine.
    void computePrecisionMenuRunsTheModelInBf16() {
        auto* bf16 = m_window->findChild<QAction*>(QStringLiteral("computePrecision_bf16"));
        auto* fp32 = m_window->findChild<QAction*>(QStringLiteral("computePrecision_fp32"));
        QVERIFY(bf16 && fp32);
        QVERIFY(fp32->isChecked());
        const auto refs = nlohmann::json::parse(std::ifstream(test::testData() / "precision" / "refs.json"));
        const auto& ref = refs["models"]["llama-planted"];
        QVERIFY(openAndScan(test::testData() / "reference" / "llama-planted", ref["ids"]));
        QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
        bf16->trigger();
        QVERIFY(opened.wait(60000));
        QCOMPARE(m_window->session()->computeDtype(), core::ComputeDtype::BFloat16);
        QCOMPARE(m_window->session()->model()->engine->options().compute, core::ComputeDtype::BFloat16);
        QVERIFY(openAndScan(test::testData() / "reference" / "llama-planted", ref["ids"]));
        const auto run = m_window->session()->originalResult();
        QVERIFY(run);
        QCOMPARE(run->compute, core::ComputeDtype::BFloat16);
        const std::vector<float> last = run->lastLogits();
        const auto& want = ref["bf16"]["emulated"].back();
        QCOMPARE(static_cast<std::size_t>(want.size()), last.size());
        for (std::size_t i = 0; i < last.size(); ++i) QCOMPARE(last[i], want[i].get<float>());
        fp32->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(m_window->session()->model()->engine->options().compute, core::ComputeDtype::Float32, 60000);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
