#pragma once
// Each GUI test process keeps its QSettings in a fresh folder of its own.
// Qt's test mode alone puts them in ~/.qttest/config/ORG/BINARY.conf: one
// file for the two processes CTest runs of test_main_window at the same time
// (its _reversed twin), where one process's cleared or saved state reached
// the other's window (CI saw stateIsRestoredOnRestart restore no palette),
// and a file that outlives the run, so a window restored what an earlier run
// of the same binary had saved. Call from initTestCase with a QTemporaryDir
// the test object owns; false when the folder could not be made or QSettings
// does not use it.
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

namespace superlens::test {

inline bool useOwnSettings(const QTemporaryDir& dir) {
    QStandardPaths::setTestModeEnabled(true);
    if (!dir.isValid()) return false;
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir.path());
    return QSettings().fileName().startsWith(dir.path());
}

}  // namespace superlens::test
