// The main window end to end, offscreen: open a model, run, select a layer
// (views change), toggle the super weight (logits and propagation change;
// switching it off restores exactly the original numbers), undo/redo, save
// an experiment the CLI can read, and cancel a long job.
//
// Model: the bundled demo model when present, else the llama-planted
// reference model (planted super weight at layer 1, row 13, col 57).

#include <cmath>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

#include <QListWidget>
#include <QStatusBar>
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
#include "test_paths.h"
#include "views/layer_detail_view.h"
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
    std::unique_ptr<gui::MainWindow> m_window;

    bool waitIdleWithSnapshot(int timeoutMs = 120000) {
        auto* s = m_window->session();
        QElapsedTimer t;
        t.start();
        // Idle means every lane finished and the newest snapshot was published.
        while (t.elapsed() < timeoutMs) {
            if (s->isIdle() && s->snapshot()) return true;
            QSignalSpy spy(s, &gui::LensSession::idle);
            spy.wait(500);
        }
        return false;
    }
    widgets::LogitsView* logits() const { return static_cast<widgets::LogitsView*>(m_window->view("logits")); }
    widgets::PropagationView* propagation() const { return static_cast<widgets::PropagationView*>(m_window->view("propagation")); }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test location
        QCoreApplication::setOrganizationName(QStringLiteral("SuperLensTest"));
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }
    void cleanupTestCase() { m_window.reset(); }

    void aboutShowsTheMachineAndItsKernels() {
        const QString about = gui::MainWindow::aboutText();
        QVERIFY(about.contains(QStringLiteral("BLAS kernels")));
        QVERIFY(about.contains(QString::fromStdString(core::blas::info().core)));
        const auto& cpu = core::cpuFeatures();
        QVERIFY(about.contains(QString::fromStdString(cpu.brand.empty() ? cpu.vendor : cpu.brand).toHtmlEscaped()));
        for (const std::string& f : core::cpuFeatures().names()) QVERIFY2(about.contains(QString::fromStdString(f)), f.c_str());
    }

    void opensRunsAndScans() {
        QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
        m_window->setAutoRunOnOpen(false);
        m_window->openModel(modelUnderTest());
        QVERIFY(opened.wait(60000));
        if (!usesDemo()) {
            m_window->promptPanel()->setIdsMode(true);
            m_window->promptPanel()->setText(QStringLiteral("1, 5, 77, 130, 12, 200, 99, 31, 250, 64"));
        }
        m_window->runPrompt(true);
        QVERIFY(waitIdleWithSnapshot());
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
        for (auto* v : m_window->views()) QVERIFY2(v->hasData(), qPrintable(v->kind() + ": " + v->emptyMessage()));
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
            QCOMPARE(g_warnings.size(), 1);
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
        for (auto* v : m_window->views()) QVERIFY2(v->hasData(), qPrintable(v->kind() + ": " + v->emptyMessage()));
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
            QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
            m_window->openModel(QString::fromStdString((test::testData() / "families" / name).string()));
            QVERIFY2(opened.wait(60000), name);
            QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
            QStringList ids;
            for (const auto& id : ref["ids"]) ids << QString::number(id.get<int>());
            m_window->promptPanel()->setIdsMode(true);
            m_window->promptPanel()->setText(ids.join(QStringLiteral(", ")));
            m_window->runPrompt(true);
            QVERIFY2(waitIdleWithSnapshot(), name);
            QVERIFY2(!m_window->session()->superWeights().empty(), name);
            const auto& sw = m_window->session()->superWeights().front();
            const auto& planted = ref["planted"][0];
            QCOMPARE(sw.layer, planted["layer"].get<int>());
            QCOMPARE(sw.row, planted["row"].get<std::int64_t>());
            QCOMPARE(sw.col, planted["col"].get<std::int64_t>());
            QCOMPARE(sw.outputChannel(), planted["output_channel"].get<std::int64_t>());
            for (auto* v : m_window->views()) QVERIFY2(v->hasData(), qPrintable(QString::fromUtf8(name) + " " + v->kind() + ": " + v->emptyMessage()));
            // Toggle the detected super weight (the first ablation entry) and see the logits move.
            const QVector<double> original = barValues(logits()->probabilityBars(false));
            m_window->ablationPanel()->list()->item(0)->setCheckState(Qt::Checked);
            QVERIFY(waitIdleWithSnapshot());
            QVERIFY2(barValues(logits()->probabilityBars(true)) != original, name);
            m_window->ablationPanel()->list()->item(0)->setCheckState(Qt::Unchecked);
            QVERIFY(waitIdleWithSnapshot());
        }
    }

    // Issue 19: a GGUF file opens like a folder (stories260K as llama.cpp stores it).
    void opensAGgufFile() {
        QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
        m_window->openModel(QString::fromStdString((test::testData() / "stories260K" / "stories260K.gguf").string()));
        QVERIFY(opened.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
        m_window->promptPanel()->setIdsMode(true);
        m_window->promptPanel()->setText(QStringLiteral("1, 403, 407, 261, 378, 300, 33, 91"));
        m_window->runPrompt(true);
        QVERIFY(waitIdleWithSnapshot());
        for (auto* v : m_window->views()) QVERIFY2(v->hasData(), qPrintable(v->kind() + ": " + v->emptyMessage()));
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
