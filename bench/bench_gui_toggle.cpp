// bench_gui_toggle: responsiveness of the live ablation loop. Opens the real
// main window offscreen, runs a prompt (with the super-weight scan), then
// toggles the first ablation entry on and off N times and measures, for each
// toggle, the time from the edit-list change to "every view redrawn"
// (MainWindow::viewsUpdated). Prints median and max, and the ratio to a full
// (non-incremental) forward pass of the same prompt measured in the same run.
//
//   bench_gui_toggle --model DIR (--ids 1,2,3 | --prompt TEXT | --tokens N) [--toggles N]
//
// Targets (issue 8): <= 100 ms on the demo model, <= 2 s on the TinyLlama-1.1B
// shape with a 32-token prompt (bench/make_checkpoint.py --preset tinyllama --plant ...).

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QEventLoop>
#include <QTimer>

#include "ablation_panel.h"
#include "ablation_set.h"
#include "superlens/core/view/build_view_snapshot.h"
#include "lens_session.h"
#include "main_window.h"
#include "prompt_panel.h"

using namespace superlens;

namespace {

// Waits for `signal` of `sender` (an event loop, as the app's own would run).
template <class Sender, class Signal>
bool waitFor(Sender* sender, Signal signal, int timeoutMs) {
    QEventLoop loop;
    bool fired = false;
    auto c = QObject::connect(sender, signal, &loop, [&] {
        fired = true;
        loop.quit();
    });
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    QObject::disconnect(c);
    return fired;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    qputenv("QT_QPA_PLATFORM", qgetenv("QT_QPA_PLATFORM").isEmpty() ? QByteArray("offscreen") : qgetenv("QT_QPA_PLATFORM"));
    QApplication app(argc, argv);
    QCommandLineParser p;
    p.addHelpOption();
    p.addOption({QStringLiteral("model"), QStringLiteral("model folder"), QStringLiteral("DIR")});
    p.addOption({QStringLiteral("ids"), QStringLiteral("token ids"), QStringLiteral("IDS")});
    p.addOption({QStringLiteral("prompt"), QStringLiteral("prompt text"), QStringLiteral("TEXT")});
    p.addOption({QStringLiteral("tokens"), QStringLiteral("synthetic prompt of N ids (BOS first)"), QStringLiteral("N")});
    p.addOption({QStringLiteral("toggles"), QStringLiteral("on/off pairs"), QStringLiteral("N"), QStringLiteral("10")});
    p.process(app);
    if (!p.isSet(QStringLiteral("model"))) {
        std::fprintf(stderr, "bench_gui_toggle: --model DIR is required\n");
        return 2;
    }
    gui::MainWindow window(false);
    window.setAutoRunOnOpen(false);
    window.resize(1440, 900);
    window.show();
    auto* session = window.session();
    window.openModel(p.value(QStringLiteral("model")));
    if (!waitFor(session, &gui::LensSession::modelOpened, 600000)) {
        std::fprintf(stderr, "bench_gui_toggle: model did not open\n");
        return 1;
    }
    if (p.isSet(QStringLiteral("prompt"))) {
        window.promptPanel()->setIdsMode(false);
        window.promptPanel()->setText(p.value(QStringLiteral("prompt")));
    } else {
        QString ids = p.value(QStringLiteral("ids"));
        if (ids.isEmpty()) {
            const int n = p.value(QStringLiteral("tokens")).isEmpty() ? 32 : p.value(QStringLiteral("tokens")).toInt();
            QStringList list{QStringLiteral("1")};
            for (int i = 1; i < n; ++i) list << QString::number(100 + 37 * i % 20000);
            ids = list.join(QLatin1Char(','));
        }
        window.promptPanel()->setIdsMode(true);
        window.promptPanel()->setText(ids);
    }
    const auto t0 = std::chrono::steady_clock::now();
    window.runPrompt(true);
    while (!(session->isIdle() && session->snapshot())) waitFor(session, &gui::LensSession::idle, 600000);
    const double runScanSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (window.ablations()->entries().isEmpty()) {
        std::fprintf(stderr, "bench_gui_toggle: no super weight detected, nothing to toggle (plant one with make_checkpoint.py --plant)\n");
        return 1;
    }
    const auto tokens = session->tokens();

    // Same-run baseline: a full forward pass recording the views' hooks, no reuse.
    const gui::LoadedModel* m = session->model();
    auto edits = core::parseEdits({window.ablations()->entries().first().spec.toStdString()}, *m->model);
    const auto b0 = std::chrono::steady_clock::now();
    auto full = m->engine->run(core::view::viewForwardRequest(tokens, *edits));
    const double fullMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - b0).count();
    if (!full) return 1;

    std::vector<double> on, off;
    const int toggles = p.value(QStringLiteral("toggles")).toInt();
    for (int i = 0; i < toggles; ++i) {
        for (bool enable : {true, false}) {
            double ms = -1;
            auto c = QObject::connect(&window, &gui::MainWindow::viewsUpdated, [&](double v) { ms = v; });
            window.ablationPanel()->setEntryEnabled(0, enable);
            while (ms < 0) waitFor(&window, &gui::MainWindow::viewsUpdated, 600000);
            QObject::disconnect(c);
            (enable ? on : off).push_back(ms);
        }
    }
    std::printf("model %s, %zu tokens, %d layers; run+scan %.2f s\n", qPrintable(m->displayName), tokens.size(), m->model->config().numLayers,
                runScanSeconds);
    std::printf("full forward (baseline, same run): %.1f ms\n", fullMs);
    std::printf("toggle on  -> all views updated: median %.1f ms, max %.1f ms (%.2fx a full forward)\n", median(on),
                *std::max_element(on.begin(), on.end()), median(on) / fullMs);
    std::printf("toggle off -> all views updated: median %.1f ms, max %.1f ms (%.2fx a full forward)\n", median(off),
                *std::max_element(off.begin(), off.end()), median(off) / fullMs);
    return 0;
}
