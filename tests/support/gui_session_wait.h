#pragma once
// How the GUI tests drive a main window and wait for its session: open a
// model as File → Open does, type token ids and run them, wait until every
// lane is idle (and the newest snapshot is published). One copy for every
// GUI test file; each waits on the session's own signals, never on time.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QString>
#include <QTest>

#include "lens_session.h"
#include "main_window.h"
#include "prompt_panel.h"

namespace superlens::test {

// Every lane of the session finished; with `snapshot`, the newest snapshot
// was published too (the views have something to draw).
inline bool waitSessionIdle(gui::MainWindow& window, bool snapshot = true, int timeoutMs = 120000) {
    auto* s = window.session();
    QElapsedTimer t;
    t.start();
    QTest::qWait(20);  // let queued work start before asking whether it ended
    while (t.elapsed() < timeoutMs) {
        if (s->isIdle() && (!snapshot || s->snapshot())) return true;
        QSignalSpy spy(s, &gui::LensSession::idle);
        spy.wait(500);
    }
    return false;
}

// Opens a model folder or GGUF file and waits for it to open and for the
// session to go idle (the automatic run, when on, included).
inline bool openModelAndWait(gui::MainWindow& window, const QString& path, int timeoutMs = 120000) {
    QSignalSpy opened(window.session(), &gui::LensSession::modelOpened);
    window.openModel(path);
    return opened.wait(timeoutMs) && waitSessionIdle(window, false, timeoutMs);
}

// Types `ids` ("1, 5, 77") into the prompt panel, runs them (with a
// super-weight scan when `scan`) and waits for the views' snapshot.
inline bool runIdsAndWait(gui::MainWindow& window, const QString& ids, bool scan = true) {
    window.promptPanel()->setIdsMode(true);
    window.promptPanel()->setText(ids);
    window.runPrompt(scan);
    return waitSessionIdle(window);
}

}  // namespace superlens::test
