// superlens: the desktop app (docs/GUI.md).
//
//   superlens [--model DIR] [--prompt TEXT | --ids 1,2,3 | --image FILE] [--edit SPEC]... [--edits FILE]
//             [--activations FILE.h5] [--study FILE.json [--study-state KEY=VALUE]...]
//             [--held-out-loss] [--compare-with B] [--imatrix FILE]
//             [--screenshot FILE.png [--view KIND] [--layer N] [--size WxH] [--compare-edit E]...]
//
// Without --model the bundled demo model opens. --screenshot opens the window
// at 1440x900 (at least 1280x800), runs, waits until every view shows the
// result, saves the window as PNG without any modal dialog and exits 0 (1 on
// any error, with one line on stderr).

#include <cstdio>
#include <string_view>

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include "ablation_commands.h"
#include "ablation_panel.h"
#include "ablation_set.h"
#include "study_jobs.h"
#include "lens_session.h"
#include "main_window.h"
#include "path_conversion.h"
#include "prompt_panel.h"
#include "resource_locator.h"
#include "run_history.h"
#include "run_history_panel.h"
#include "superlens/core/engine/edit_spec.h"
#include "view_registry.h"
#include "views/loss_view.h"

namespace {

int failWith(const QString& message) {
    std::fprintf(stderr, "superlens: error: %s\n", qPrintable(message));
    return 1;
}

// Without a display, requests that need no window (help, version, a
// screenshot) use the offscreen platform instead of failing to start.
void preferOffscreenWithoutDisplay(int argc, char** argv) {
    if (qEnvironmentVariableIsSet("QT_QPA_PLATFORM") || qEnvironmentVariableIsSet("DISPLAY") ||
        qEnvironmentVariableIsSet("WAYLAND_DISPLAY")) {
        return;
    }
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help" || a == "--help-all" || a == "-v" || a == "--version" || a == "--screenshot") {
            qputenv("QT_QPA_PLATFORM", "offscreen");
            return;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    preferOffscreenWithoutDisplay(argc, argv);
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("SuperLens"));
    QApplication::setApplicationName(QStringLiteral("SuperLens"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("SuperLens: find, toggle and plot the super weights and massive activations of LLMs"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("Hugging Face model folder (default: the bundled demo model)"), QStringLiteral("DIR"));
    const QCommandLineOption promptOpt(QStringLiteral("prompt"), QStringLiteral("Prompt text"), QStringLiteral("TEXT"));
    const QCommandLineOption idsOpt(QStringLiteral("ids"), QStringLiteral("Token ids, comma-separated (used exactly as given)"), QStringLiteral("IDS"));
    const QCommandLineOption imageOpt(QStringLiteral("image"), QStringLiteral("Vision models: the image to run (PNG, JPEG, or a .npy pixel_values tensor)"),
                                      QStringLiteral("FILE"));
    const QCommandLineOption editOpt(QStringLiteral("edit"), QStringLiteral("Edit to apply (DESIGN.md syntax); repeatable"), QStringLiteral("SPEC"));
    const QCommandLineOption editsOpt(QStringLiteral("edits"), QStringLiteral("JSON edits file or saved experiment"), QStringLiteral("FILE"));
    const QCommandLineOption shotOpt(QStringLiteral("screenshot"), QStringLiteral("Run, save the window as PNG and exit"), QStringLiteral("FILE.png"));
    const QCommandLineOption viewOpt(QStringLiteral("view"), QStringLiteral("View tab to show: %1").arg(superlens::widgets::viewKindNames().join(QStringLiteral(", "))),
                                     QStringLiteral("KIND"));
    const QCommandLineOption layerOpt(QStringLiteral("layer"), QStringLiteral("Layer to select"), QStringLiteral("N"));
    const QCommandLineOption cacheOpt(QStringLiteral("activations"), QStringLiteral("Show the runs of an HDF5 activation cache instead of a model"),
                                      QStringLiteral("FILE.h5"));
    const QCommandLineOption sizeOpt(QStringLiteral("size"), QStringLiteral("Window size for --screenshot (default 1440x900)"), QStringLiteral("WxH"));
    const QCommandLineOption studyOpt(QStringLiteral("study"), QStringLiteral("Show a study JSON (superlens-cli study laser|quant|superweight --json) in its view"),
                                      QStringLiteral("FILE.json"));
    const QCommandLineOption studyStateOpt(QStringLiteral("study-state"),
                                           QStringLiteral("With --study: a control of the study view, as figure options without '--' "
                                                          "(e.g. show=null, metric=ppl_ratio)"),
                                           QStringLiteral("KEY=VALUE"));
    const QCommandLineOption compareOpt(QStringLiteral("compare-edit"),
                                        QStringLiteral("With --screenshot: after the run, run again with these edits instead of --edit and "
                                                       "show the two runs compared (History dock)"),
                                        QStringLiteral("SPEC"));
    const QCommandLineOption heldOutOpt(QStringLiteral("held-out-loss"), QStringLiteral("The Loss view shows the bundled held-out text (not the prompt)"));
    const QCommandLineOption compareWithOpt(QStringLiteral("compare-with"),
                                            QStringLiteral("A second model of the same shapes (folder or .gguf) beside --model: the Compare view "
                                                           "(File → Compare with model…)"),
                                            QStringLiteral("B"));
    const QCommandLineOption overlayOpt(QStringLiteral("overlay-b"), QStringLiteral("With --compare-with: every view draws model B's run as the second side"));
    const QCommandLineOption imatrixOpt(QStringLiteral("imatrix"),
                                        QStringLiteral("llama.cpp importance matrix (imatrix.dat or GGUF imatrix) for the Layer view"), QStringLiteral("FILE"));
    parser.addOptions({modelOpt, promptOpt, idsOpt, imageOpt, editOpt, editsOpt, shotOpt, viewOpt, layerOpt, cacheOpt, sizeOpt, studyOpt, studyStateOpt, compareOpt, heldOutOpt,
                       compareWithOpt, overlayOpt, imatrixOpt});
    parser.process(app);

    if (int(parser.isSet(promptOpt)) + int(parser.isSet(idsOpt)) + int(parser.isSet(imageOpt)) > 1)
        return failWith(QStringLiteral("--prompt, --ids and --image exclude each other"));
    const QString screenshot = parser.value(shotOpt);
    const bool shotMode = !screenshot.isEmpty();
    const QString activations = parser.value(cacheOpt);
    QString model = parser.value(modelOpt);
    if (model.isEmpty() && activations.isEmpty()) model = superlens::gui::demoModelDir();
    if (shotMode && model.isEmpty() && activations.isEmpty()) {
        return failWith(QStringLiteral("no --model given and the demo model was not found (looked in %1)")
                            .arg(superlens::gui::resourceSearchPath().join(QStringLiteral(", "))));
    }
    QStringList edits = parser.values(editOpt);
    if (parser.isSet(editsOpt)) {
        // The enabled edits of an experiments file, read as the CLI reads them (one rule, in core).
        auto specs = superlens::core::loadEditsFile(superlens::gui::toPath(parser.value(editsOpt)));
        if (!specs) return failWith(QString::fromStdString(specs.error().message));
        QStringList fromFile;
        for (const auto& e : *specs) fromFile << QString::fromStdString(e.text());
        edits = fromFile + edits;
    }
    if (parser.isSet(overlayOpt) && !parser.isSet(compareWithOpt)) return failWith(QStringLiteral("--overlay-b needs --compare-with B"));
    if (!parser.value(viewOpt).isEmpty() && !superlens::widgets::viewKindNames().contains(parser.value(viewOpt))) {
        return failWith(QStringLiteral("--view: unknown view '%1' (one of %2)").arg(parser.value(viewOpt), superlens::widgets::viewKindNames().join(QStringLiteral(", "))));
    }

    superlens::gui::MainWindow window(!shotMode);
    QSize size(1440, 900);
    if (parser.isSet(sizeOpt)) {
        const QStringList wh = parser.value(sizeOpt).split(QLatin1Char('x'));
        if (wh.size() == 2) size = QSize(std::max(1280, wh[0].toInt()), std::max(800, wh[1].toInt()));
    }
    if (shotMode) window.resize(size);
    if (parser.isSet(heldOutOpt)) {
        if (auto* loss = qobject_cast<superlens::widgets::LossView*>(window.view(QStringLiteral("loss")))) loss->setHeldOutText(true);
    }
    window.show();
    if (parser.isSet(studyOpt)) {
        QString error;
        QString kind;
        if (!window.studies()->openStudyFile(parser.value(studyOpt), &error, &kind)) return failWith(error);
        for (const QString& state : parser.values(studyStateOpt)) {
            const qsizetype eq = state.indexOf(QLatin1Char('='));
            bool applied = false;
            for (superlens::widgets::PlotView* v : window.studies()->views()) {
                if (v->kind() == kind && eq > 0) applied = v->applyFigureState(state.left(eq), state.mid(eq + 1), &error);
            }
            if (!applied) return failWith(error.isEmpty() ? QStringLiteral("--study-state %1: not a control of the %2 study view").arg(state, kind) : error);
        }
    }

    const bool custom = parser.isSet(promptOpt) || parser.isSet(idsOpt) || parser.isSet(imageOpt) || !edits.isEmpty() || shotMode;
    window.setAutoRunOnOpen(!custom);
    auto* session = window.session();
    int exitCode = 0;
    bool failed = false;
    bool modelBRequested = false;
    bool overlayDone = !parser.isSet(overlayOpt);
    QObject::connect(session, &superlens::gui::LensSession::modelBChanged, &window, [&] {
        if (overlayDone || !session->hasModelB()) return;
        overlayDone = true;
        session->setOverlayModelB(true);
    });
    QObject::connect(session, &superlens::gui::LensSession::modelOpened, &window, [&] {
        // --compare-with and --imatrix go with the first model opened.
        if (!modelBRequested) {
            modelBRequested = true;
            if (parser.isSet(imatrixOpt)) window.openImatrix(parser.value(imatrixOpt));
            if (parser.isSet(compareWithOpt)) window.openModelB(parser.value(compareWithOpt));
        }
        if (!custom) return;
        if (parser.isSet(promptOpt)) {
            window.promptPanel()->setIdsMode(false);
            window.promptPanel()->setText(parser.value(promptOpt));
        } else if (parser.isSet(idsOpt)) {
            window.promptPanel()->setIdsMode(true);
            window.promptPanel()->setText(parser.value(idsOpt));
        } else if (parser.isSet(imageOpt)) {
            if (!session->isVisionModel()) {
                failed = shotMode;
                exitCode = failWith(QStringLiteral("--image: %1").arg(QString::fromUtf8(superlens::gui::kImageToTextModel)));
                if (shotMode) QTimer::singleShot(0, &app, [&] { app.exit(exitCode); });
                return;
            }
            window.promptPanel()->setImage(parser.value(imageOpt));
        }
        if (session->isVisionModel() && !parser.isSet(imageOpt) && (parser.isSet(promptOpt) || parser.isSet(idsOpt))) {
            failed = shotMode;
            exitCode = failWith(QStringLiteral("--prompt/--ids: %1").arg(QString::fromUtf8(superlens::gui::kTextToVisionModel)));
            if (shotMode) QTimer::singleShot(0, &app, [&] { app.exit(exitCode); });
            return;
        }
        for (const QString& e : edits) {
            if (!window.ablationPanel()->addSpec(e, true) && shotMode) {
                failed = true;
                exitCode = failWith(QStringLiteral("--edit '%1' is not valid for this model").arg(e));
                QTimer::singleShot(0, &app, [&] { app.exit(exitCode); });
                return;
            }
        }
        window.runPrompt(true);
    });
    if (shotMode) {
        auto failNow = [&](const QString& message) {
            if (failed) return;
            failed = true;
            exitCode = failWith(message);
            QTimer::singleShot(0, &app, [&] { app.exit(exitCode); });
        };
        QObject::connect(session, &superlens::gui::LensSession::errorOccurred, &window, failNow);
        // A run that cannot start (a vision model without --image) must not leave the script waiting.
        QObject::connect(window.promptPanel(), &superlens::gui::PromptPanel::problem, &window, failNow);
        // --compare-edit: run 1 (the --edit list), run 2 (the --compare-edit list), then run 1 vs run 2.
        const QStringList compareEdits = parser.values(compareOpt);
        int compareStage = compareEdits.isEmpty() ? 2 : 0;
        int firstRun = 0;
        QObject::connect(session, &superlens::gui::LensSession::idle, &window, [&] {
            if (failed || !session->snapshot()) return;
            auto* history = window.runHistory();
            if (compareStage == 0 && !history->runs().isEmpty()) {
                compareStage = 1;
                firstRun = history->runs().back().number;
                QList<superlens::gui::AblationEntry> entries;
                for (const QString& spec : compareEdits) {
                    superlens::gui::AblationEntry e;
                    e.spec = e.label = spec;
                    e.enabled = true;
                    entries << e;
                }
                window.undoStack()->push(new superlens::gui::SetAblationsCommand(window.ablations(), entries, QStringLiteral("compare")));
                return;
            }
            if (compareStage == 1) {
                compareStage = 2;
                const int secondRun = history->runs().back().number;
                window.runHistoryPanel()->selectRuns({firstRun, secondRun});
                QString error;
                if (!window.compareRuns(firstRun, secondRun, &error)) {
                    failed = true;
                    app.exit(failWith(error));
                }
                return;
            }
            if (!parser.value(viewOpt).isEmpty()) window.showView(parser.value(viewOpt));
            if (parser.isSet(layerOpt)) window.selectLayer(parser.value(layerOpt).toInt());
            // One more event-loop turn so layouts settle before grabbing.
            QTimer::singleShot(50, &window, [&] {
                const QPixmap shot = window.grab();
                if (!shot.save(screenshot, "PNG")) {
                    app.exit(failWith(QStringLiteral("%1: cannot write the screenshot").arg(screenshot)));
                    return;
                }
                std::printf("%s (%dx%d)\n", qPrintable(screenshot), shot.width(), shot.height());
                app.exit(0);
            });
        });
        // Never hang a script: give up after ten minutes.
        QTimer::singleShot(600000, &app, [&] { app.exit(failWith(QStringLiteral("timed out waiting for the views"))); });
    }
    if (!activations.isEmpty()) {
        window.openActivations(activations);
    } else if (!model.isEmpty()) {
        if (!QFileInfo(model).isDir() && !model.endsWith(QLatin1String(".gguf"))) {
            return failWith(QStringLiteral("%1: not a model folder or .gguf file").arg(model));
        }
        window.openModel(model);
    }
    return app.exec();
}
