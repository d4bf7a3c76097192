// Vision models in the main window (issue 18): an image dropped on the window
// (or opened with File → Open image…) runs the model through core's image
// preprocessing, equal to `superlens-cli --image` (the patch grid's CSV of
// the same image from `superlens-cli figure patches --image` is the GUI's);
// text prompts are refused for vision models and images for text models,
// each with one line; edits, toggles, the run history and a comparison of
// two runs work on images; clicking a patch selects its token in the other
// views; a GUI export's embedded command redraws the same CSV.

#include <QComboBox>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QMimeData>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <qcustomplot.h>

#include "ablation_set.h"
#include "figure_export.h"
#include "lens_session.h"
#include "main_window.h"
#include "prompt_panel.h"
#include "run_history.h"
#include "superlens/core/engine/experiment_file.h"
#include "superlens/core/model/image_input.h"
#include "superlens/core/model/npy.h"
#include "gui_session_wait.h"
#include "gui_settings.h"
#include "test_paths.h"
#include "views/lens_view.h"
#include "views/patch_grid_view.h"
#include "views/propagation_view.h"

using namespace superlens;

namespace {

// Absolute paths, as a file manager drops them (and as the history and exports keep them).
QString absolutePath(const std::filesystem::path& p) { return QFileInfo(QString::fromStdString(p.string())).absoluteFilePath(); }
QString visionModel() { return absolutePath(test::testData() / "vision" / "dinov2-registers-bf16"); }
QString pngImage() { return absolutePath(test::testData() / "vision" / "images" / "clip-shortest-edge.png"); }

QStringList dataRows(const QString& csv) {
    QFile f(csv);
    if (!f.open(QIODevice::ReadOnly)) return QStringList{QStringLiteral("(cannot read %1)").arg(csv)};
    QStringList rows;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (!line.startsWith("# ")) rows << QString::fromUtf8(line);
    }
    return rows;
}

}  // namespace

class TestGuiVision : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_settingsDir;  // this process's own QSettings folder (gui_settings.h)
    std::unique_ptr<gui::MainWindow> m_window;

    bool waitIdle() { return test::waitSessionIdle(*m_window, false); }
    bool open(const QString& folder) { return test::openModelAndWait(*m_window, folder); }
    void drop(const QString& file) {
        auto* mime = new QMimeData;
        mime->setUrls({QUrl::fromLocalFile(file)});
        // As a drag from a file manager: enter (accepted), then the drop.
        QDragEnterEvent enter(QPoint(400, 300), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window.get(), &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent event(QPointF(400, 300), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window.get(), &event);
        delete mime;
    }
    widgets::PatchGridView* grid() const { return static_cast<widgets::PatchGridView*>(m_window->view(QStringLiteral("patches"))); }
    // Runs superlens-cli with these arguments; its exit code (stderr into *err).
    int cli(const QStringList& args, QString* err) {
        QProcess p;
        p.start(QString::fromStdString((test::binDir() / "superlens-cli").string()), args);
        if (!p.waitForFinished(300000)) return -1;
        *err = QString::fromUtf8(p.readAllStandardError());
        return p.exitCode();
    }

private slots:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("SuperLensVisionTest"));
        QVERIFY2(test::useOwnSettings(m_settingsDir), qPrintable(QSettings().fileName()));
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }
    void cleanupTestCase() { m_window.reset(); }

    // A vision model opens with the image prompt; a text prompt is refused in one line.
    void visionModelsRefuseText() {
        QVERIFY(open(visionModel()));
        QVERIFY(m_window->session()->isVisionModel());
        QVERIFY(!m_window->promptPanel()->thumbnail()->isHidden() || m_window->promptPanel()->thumbnail()->isVisibleTo(m_window->promptPanel()));
        QSignalSpy errors(m_window->session(), &gui::LensSession::errorOccurred);
        m_window->session()->run({1, 2, 3});
        QCOMPARE(errors.count(), 1);
        const QString message = errors.at(0).at(0).toString();
        QCOMPARE(message, QString::fromUtf8(gui::kTextToVisionModel));
        QVERIFY(!message.contains(QLatin1Char('\n')));
        // Run without an image: the same line in the status bar, nothing runs.
        m_window->runPrompt(false);
        QVERIFY(m_window->statusBar()->currentMessage().contains(QStringLiteral("reads an image")));
        QVERIFY(!m_window->session()->snapshot());
    }

    // Dropping a PNG runs it: the pixels are core's preprocessing of the file
    // (equal to the processor's pixel_values the fixture script wrote), the
    // runs equal a direct engine run of core::loadImageForModel, and the
    // patch grid's CSV equals `superlens-cli figure patches --image`'s.
    void droppingAnImageRunsTheModel() {
        drop(pngImage());
        QVERIFY(waitIdle());
        auto snap = m_window->session()->snapshot();
        QVERIFY2(snap && snap->image, qPrintable(m_window->statusBar()->currentMessage()));
        QCOMPARE(m_window->session()->imageFile(), pngImage());
        QCOMPARE(m_window->promptPanel()->image(), pngImage());
        QVERIFY(!m_window->promptPanel()->thumbnail()->pixmap().isNull());
        QCOMPARE(snap->tokenCount(), 1 + 4 + 2 * 2);
        // Core's preprocessing: the processor's pixel_values (tests/data/vision/.../image-pixels.npy).
        auto want = core::loadNpy(test::testData() / "vision" / "dinov2-registers-bf16" / "image-pixels.npy");
        QVERIFY(want.ok());
        const core::PixelTensor& got = *snap->original->pixels;
        QCOMPARE(got.values.size(), want->values.size());
        for (std::size_t i = 0; i < got.values.size(); ++i) QVERIFY(std::fabs(got.values[i] - want->values[i]) < 1e-5);
        // The forward pass equals a direct run of the same file through core.
        auto direct = core::loadImageForModel(pngImage().toStdString(), visionModel().toStdString());
        QVERIFY(direct.ok());
        QVERIFY(*direct == got);
        core::Engine engine(m_window->session()->model()->model);
        core::ForwardRequest req;
        req.pixels = std::make_shared<const core::PixelTensor>(std::move(direct).value());
        req.record = core::HookSelection::patterns({"blocks.*.hook_resid_post"});
        auto run = engine.run(req);
        QVERIFY(run.ok());
        for (int l = 0; l < snap->layers; ++l) {
            const std::string hook = "blocks." + std::to_string(l) + ".hook_resid_post";
            QCOMPARE(snap->original->activation(hook)->values, (*run)->activation(hook)->values);
        }
        // The CLI on the same file: the patch grid's CSV (every token's max |resid_post|, and one channel) is the same.
        QTemporaryDir dir;
        for (const QStringList& state : {QStringList{QStringLiteral("--quantity"), QStringLiteral("massive")},
                                         QStringList{QStringLiteral("--quantity"), QStringLiteral("hook"), QStringLiteral("--hook"),
                                                     QStringLiteral("hook_resid_post"), QStringLiteral("--channel"), QStringLiteral("11")}}) {
            const int layer = snap->layers - 1;
            m_window->selectLayer(layer);
            QString error;
            for (int i = 0; i < state.size(); i += 2) QVERIFY2(grid()->applyFigureState(state[i].mid(2), state[i + 1], &error), qPrintable(error));
            QVERIFY(grid()->hasData());
            const QString out = dir.filePath(QStringLiteral("cli-%1.png").arg(state[1]));
            QString err;
            QCOMPARE(cli(QStringList{QStringLiteral("figure"), QStringLiteral("patches"), visionModel(), QStringLiteral("--image"), pngImage(),
                                     QStringLiteral("--layer"), QString::number(layer), QStringLiteral("--out"), out} + state,
                         &err),
                     0);
            QVERIFY2(err.isEmpty(), qPrintable(err));
            // The GUI's table as CSV (header and rows) against the CLI's file without its provenance lines.
            QStringList gui = grid()->dataTable().toCsv().split(QLatin1Char('\n'));
            QStringList cliRows = dataRows(widgets::csvPathFor(out));
            while (!gui.isEmpty() && gui.back().isEmpty()) gui.removeLast();
            while (!cliRows.isEmpty() && cliRows.back().isEmpty()) cliRows.removeLast();
            QCOMPARE(gui.size(), 1 + static_cast<qsizetype>(snap->tokenCount()));
            QCOMPARE(cliRows, gui);
        }
    }

    // Clicking a patch selects its token in the Propagation and Lens views' pickers.
    void clickingAPatchSelectsTheToken() {
        QVERIFY(waitIdle());
        m_window->showView(QStringLiteral("patches"));
        auto* view = grid();
        QVERIFY(view->hasData());
        QCPColorMap* map = view->colorMap(false);
        const QPoint at(static_cast<int>(map->keyAxis()->coordToPixel(1)), static_cast<int>(map->valueAxis()->coordToPixel(1)));
        QCOMPARE(view->positionAt(at), std::int64_t{8});
        QTest::mouseClick(view->plot(), Qt::LeftButton, {}, at);
        auto* propagation = static_cast<widgets::PropagationView*>(m_window->view(QStringLiteral("propagation")));
        QVERIFY(propagation->findChildren<QComboBox*>().size() >= 2);
        bool found = false;
        for (QComboBox* box : propagation->findChildren<QComboBox*>()) {
            if (box->currentText().startsWith(QStringLiteral("8 p(1,1)"))) found = true;
        }
        QVERIFY(found);
    }

    // Edits and toggles on an image: the edited side changes, the history
    // names the image, two runs of it compare; a different image is refused for comparison.
    void editsHistoryAndComparisonOnImages() {
        QVERIFY(waitIdle());
        gui::AblationEntry e;
        e.spec = e.label = QStringLiteral("blocks.1.hook_resid_post[0,3]=0");
        e.enabled = true;
        m_window->ablations()->setEntries({e});
        QVERIFY(waitIdle());
        auto snap = m_window->session()->snapshot();
        QVERIFY(snap && snap->hasEdits() && snap->image);
        m_window->selectLayer(1);
        QString error;
        QVERIFY(grid()->applyFigureState(QStringLiteral("quantity"), QStringLiteral("massive"), &error));
        QVERIFY(grid()->applyFigureState(QStringLiteral("channel"), QStringLiteral("3"), &error));
        QCOMPARE(grid()->shownValue(true, 0), 0.0);
        QVERIFY(grid()->shownValue(false, 0) > 0);
        // Toggle off: the original numbers come back.
        e.enabled = false;
        m_window->ablations()->setEntries({e});
        QVERIFY(waitIdle());
        QVERIFY(!m_window->session()->snapshot()->hasEdits());
        const auto& runs = m_window->runHistory()->runs();
        QVERIFY(runs.size() >= 2);
        for (const auto& r : runs) {
            QCOMPARE(r.image, pngImage());
            QCOMPARE(r.prompt, QStringLiteral("clip-shortest-edge.png"));
        }
        int edited = -1, plain = -1;
        for (const auto& r : runs) (r.edits.isEmpty() ? plain : edited) = r.number;
        QVERIFY(edited > 0 && plain > 0);
        QVERIFY2(m_window->compareRuns(plain, edited, &error), qPrintable(error));
        QVERIFY(waitIdle());
        snap = m_window->session()->snapshot();
        QVERIFY(!snap->comparison.empty());
        QCOMPARE(grid()->shownValue(true, 0), 0.0);
        // The experiments file keeps the image (core's writer and parser).
        core::Experiment x;
        x.history.emplace();
        x.history->push_back(runs.front().toExperimentRun());
        auto parsed = core::parseExperiment(core::experimentJson(x), "history");
        QVERIFY(parsed.ok());
        QCOMPARE(parsed->history->size(), std::size_t{1});
        QCOMPARE(QString::fromStdString(parsed->history->front().image), pngImage());
        QCOMPARE(gui::RunRecord::fromExperimentRun(parsed->history->front()).image, pngImage());
        m_window->showLive();
        QVERIFY(waitIdle());
    }

    // A GUI export of the patch grid embeds the command (--image, --quantity,
    // --head, ...) that writes the same CSV with superlens-cli.
    void guiExportRedrawsFromItsEmbeddedCommand() {
        QVERIFY(waitIdle());
        QString error;
        QVERIFY(grid()->applyFigureState(QStringLiteral("quantity"), QStringLiteral("attn-registers"), &error));
        QVERIFY(grid()->applyFigureState(QStringLiteral("head"), QStringLiteral("1"), &error));
        QVERIFY(grid()->hasData());
        QTemporaryDir dir;
        for (const QString& kind : {QStringLiteral("patches"), QStringLiteral("attention"), QStringLiteral("massive")}) {
            widgets::PlotView* v = m_window->view(kind);
            const QString path = dir.filePath(kind + QStringLiteral(".png"));
            widgets::ExportOptions options = widgets::ExportOptions::oneColumn();
            options.provenance = m_window->figureProvenance(*v, path, options);
            QVERIFY2(widgets::exportFigure(*v, path, options, &error), qPrintable(error));
            widgets::FigureProvenance read;
            QVERIFY2(widgets::readFigureProvenance(path, &read, &error), qPrintable(error));
            QCOMPARE(read.image, pngImage());
            QStringList words;
            QVERIFY(widgets::splitShellWords(read.command, &words));
            QVERIFY2(words.contains(QStringLiteral("--image")) && !words.contains(QStringLiteral("--prompt")), qPrintable(read.command));
            if (kind == QLatin1String("patches")) QVERIFY2(words.contains(QStringLiteral("attn-registers")), qPrintable(read.command));
            const QStringList gui = dataRows(widgets::csvPathFor(path));
            QVERIFY(gui.size() > 2);
            const qsizetype out = words.indexOf(QStringLiteral("--out"));
            words[out + 1] = dir.filePath(QStringLiteral("cli-") + kind + QStringLiteral(".png"));
            QString err;
            QCOMPARE(cli(words.mid(1), &err), 0);
            QVERIFY2(err.isEmpty(), qPrintable(err));
            QCOMPARE(dataRows(dir.filePath(QStringLiteral("cli-") + kind + QStringLiteral(".csv"))), gui);
        }
    }

    // A .npy pixel tensor dropped runs exactly those pixels.
    void droppingPixelsRunsThem() {
        const QString npy = absolutePath(test::testData() / "vision" / "dinov2-registers-bf16" / "pixels-4x13.npy");
        drop(npy);
        QVERIFY(waitIdle());
        auto snap = m_window->session()->snapshot();
        QVERIFY(snap && snap->image);
        auto want = core::loadNpy(npy.toStdString());
        QVERIFY(want.ok());
        QVERIFY(*snap->original->pixels == *want);
        QCOMPARE(snap->image->gridRows, 1);
        QCOMPARE(snap->image->gridCols, 3);
    }

    // A text model refuses an image in one line.
    void textModelsRefuseImages() {
        QVERIFY(open(absolutePath(test::referenceModel("llama-planted"))));
        drop(pngImage());
        QVERIFY(m_window->statusBar()->currentMessage().contains(QString::fromUtf8(gui::kImageToTextModel)));
        QSignalSpy errors(m_window->session(), &gui::LensSession::errorOccurred);
        m_window->session()->runImage(pngImage());
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).toString(), QString::fromUtf8(gui::kImageToTextModel));
    }
};

QTEST_MAIN(TestGuiVision)
#include "test_gui_vision.moc"
