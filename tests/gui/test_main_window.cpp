// The main window end to end, offscreen: open a model, run, select a layer
// (views change), toggle the super weight (logits and propagation change;
// switching it off restores exactly the original numbers), undo/redo, save
// an experiment the CLI can read, and cancel a long job.
//
// Model: the bundled demo model when present, else the llama-planted
// reference model (planted super weight at layer 1, row 13, col 57).

#include <cmath>

#include <QListWidget>
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
#include "test_paths.h"
#include "views/experts_view.h"
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
    // Every view draws every model, but the Experts view only mixture-of-experts ones.
    bool expectsData(const widgets::PlotView* v) const {
        return v->kind() != QLatin1String("experts") || m_window->session()->model()->model->config().hasExperts();
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
        for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(v->kind() + ": " + v->emptyMessage()));
        // The window starts at the super weight's layer.
        QCOMPARE(m_window->selectedLayer(), m_window->session()->superWeights().front().layer);
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
            QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
            m_window->openModel(QString::fromStdString((test::testData() / "moe" / name).string()));
            QVERIFY2(opened.wait(60000), name);
            QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
            QStringList ids;
            for (const auto& id : ref["ids"]) ids << QString::number(id.get<int>());
            m_window->promptPanel()->setIdsMode(true);
            m_window->promptPanel()->setText(ids.join(QStringLiteral(", ")));
            m_window->runPrompt(true);
            QVERIFY2(waitIdleWithSnapshot(), name);
            for (auto* v : m_window->views()) QVERIFY2(v->hasData(), qPrintable(QString::fromUtf8(name) + " " + v->kind() + ": " + v->emptyMessage()));
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
        QSignalSpy opened(m_window->session(), &gui::LensSession::modelOpened);
        m_window->openModel(QString::fromStdString((test::testData() / "stories260K" / "stories260K.gguf").string()));
        QVERIFY(opened.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(m_window->session()->isIdle(), 60000);
        m_window->promptPanel()->setIdsMode(true);
        m_window->promptPanel()->setText(QStringLiteral("1, 403, 407, 261, 378, 300, 33, 91"));
        m_window->runPrompt(true);
        QVERIFY(waitIdleWithSnapshot());
        for (auto* v : m_window->views()) QVERIFY2(v->hasData() == expectsData(v), qPrintable(v->kind() + ": " + v->emptyMessage()));
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
