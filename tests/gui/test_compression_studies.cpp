// The Studies menu end to end, offscreen, on stories260K (a real trained
// model with a tokenizer): a LASER sweep runs as a background job and its
// heatmap shows the measured numbers (the baseline is core::perplexity of
// the same tokens; rho = 1 gives the baseline back), a quantization sweep
// can be cancelled, and study JSON files open (or fail with the file named).

#include <cmath>
#include <fstream>
#include <sstream>

#include <QMenuBar>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "study_jobs.h"
#include "jobs/job_lane.h"
#include "lens_session.h"
#include "main_window.h"
#include "studies/laser_heatmap_view.h"
#include "studies/quant_plot_view.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "gui_session_wait.h"
#include "test_paths.h"

using namespace superlens;

namespace {

QString stories() { return QString::fromStdString((test::testData() / "stories260K").string()); }
QString heldOut() { return QString::fromStdString((test::resourcesDir() / "texts" / "kjv_heldout_ruth_jonah_james.txt").string()); }

}  // namespace

class TestCompressionStudies : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<gui::MainWindow> m_window;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->setAutoRunOnOpen(false);
        QVERIFY(test::openModelAndWait(*m_window, stories()));
    }

    void theStudiesMenuAndTabsExist() {
        QStringList menus;
        for (QAction* a : m_window->menuBar()->actions()) menus << a->text();
        QVERIFY(menus.contains(QStringLiteral("&Studies")));
        QVERIFY(!m_window->studies()->laserView()->hasData());
        QVERIFY(m_window->studies()->laserView()->parentWidget() != nullptr);
    }

    void laserSweepRunsInTheBackgroundAndShowsItsNumbers() {
        gui::LaserSweepSettings s;
        s.types = {QStringLiteral("o"), QStringLiteral("down")};
        s.layers = {0, 4};
        s.rhos = {0.1, 1.0};
        s.measure.textFile = heldOut();
        s.measure.maxTokens = 64;
        s.measure.context = 32;
        s.measure.zeroShot = false;
        auto* studies = m_window->studies();
        QSignalSpy shown(studies, &gui::StudyJobs::studyShown);
        QSignalSpy progress(studies, &gui::StudyJobs::jobProgress);
        QVERIFY(studies->runLaser(s));
        QVERIFY(studies->isRunning());
        QVERIFY(shown.wait(120000));
        QCOMPARE(shown[0][0].toString(), QStringLiteral("laser"));
        QVERIFY(!progress.isEmpty());
        auto* view = studies->laserView();
        QVERIFY2(view->hasData(), qPrintable(view->emptyMessage()));
        const auto& study = *view->study();
        QCOMPARE(study.cells.size(), std::size_t{2 * 2 * 2});

        // The baseline is core::perplexity of the same tokens and windows.
        const auto* loaded = m_window->session()->model();
        std::ifstream in(heldOut().toStdString());
        std::stringstream ss;
        ss << in.rdbuf();
        auto ids = loaded->tokenizer->encode(ss.str(), true);
        ids.resize(64);
        core::PerplexityOptions po;
        po.context = 32;
        auto ref = core::perplexity(*loaded->engine, ids, {}, po);
        QVERIFY(ref.ok());
        QCOMPARE(study.baseline.ppl, ref->ppl);
        // rho = 1 keeps every singular value.
        for (const auto& c : study.cells) {
            if (c.rho == 1.0) QVERIFY(std::abs(c.metrics.ppl / study.baseline.ppl - 1) < 1e-4);
        }
        QCOMPARE(view->shownHeatmap().values, study.heatmap(view->shownHeatmap().type, "ppl").values);
    }

    void aQuantSweepCanBeCancelled() {
        gui::QuantSweepSettings s;
        s.measure.textFile = heldOut();
        s.measure.maxTokens = 256;
        s.measure.context = 64;
        auto* studies = m_window->studies();
        QSignalSpy finished(studies, &gui::StudyJobs::jobFinished);
        QSignalSpy shown(studies, &gui::StudyJobs::studyShown);
        QVERIFY(studies->runQuant(s));
        studies->cancel();
        QVERIFY(!studies->isRunning());
        QVERIFY(finished.size() >= 1);
        QCOMPARE(finished.back()[2].toString(), QString::fromLatin1(core::kCancelledMessage));
        studies->lane()->waitForIdle();
        QTest::qWait(50);
        QCOMPARE(shown.size(), 0);
        QVERIFY(!studies->quantView()->hasData());
    }

    void studyJsonOpensAndBadFilesAreNamed() {
        QTemporaryDir dir;
        auto* studies = m_window->studies();
        QString error, kind;
        QVERIFY(studies->saveStudyFile(QStringLiteral("laser"), dir.filePath("laser.json"), &error));
        QVERIFY(!studies->saveStudyFile(QStringLiteral("quant"), dir.filePath("quant.json"), &error));
        QVERIFY(error.contains(QStringLiteral("no quant study")));
        const std::string before = studies->laserView()->study()->toJson();
        QVERIFY2(studies->openStudyFile(dir.filePath("laser.json"), &error, &kind), qPrintable(error));
        QCOMPARE(kind, QStringLiteral("laser"));
        QCOMPARE(studies->laserView()->study()->toJson(), before);

        QFile bad(dir.filePath("bad.json"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("{\"study\": \"quant\", \"bits\": 4}");
        bad.close();
        QVERIFY(!studies->openStudyFile(dir.filePath("bad.json"), &error));
        QVERIFY2(error.contains(dir.filePath("bad.json")) && error.contains(QStringLiteral("baseline")), qPrintable(error));
        QVERIFY(!studies->openStudyFile(dir.filePath("missing.json"), &error));
        QVERIFY2(error.contains(QStringLiteral("missing.json")), qPrintable(error));
    }
};

QTEST_MAIN(TestCompressionStudies)
#include "test_compression_studies.moc"
