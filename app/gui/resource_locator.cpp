#include "resource_locator.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace superlens::gui {

QStringList resourceSearchPath() {
    QStringList dirs;
    const QString env = qEnvironmentVariable("SUPERLENS_RESOURCES");
    if (!env.isEmpty()) dirs << env;
    dirs << QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../share/superlens/resources"));
#ifdef SUPERLENS_RESOURCES_DIR
    dirs << QStringLiteral(SUPERLENS_RESOURCES_DIR);
#endif
    return dirs;
}

QString resourcesDir() {
    for (const QString& d : resourceSearchPath()) {
        if (QFileInfo(d).isDir()) return QDir(d).canonicalPath();
    }
    return {};
}

QString demoModelDir() {
    for (const QString& d : resourceSearchPath()) {
        const QString demo = QDir(d).filePath(QStringLiteral("models/demo"));
        if (QFileInfo::exists(QDir(demo).filePath(QStringLiteral("config.json")))) return QDir(demo).canonicalPath();
    }
    return {};
}

QString heldOutTextFile() {
    for (const QString& d : resourceSearchPath()) {
        const QString f = QDir(d).filePath(QStringLiteral("texts/kjv_heldout_ruth_jonah_james.txt"));
        if (QFileInfo::exists(f)) return QFileInfo(f).canonicalFilePath();
    }
    return {};
}

}  // namespace superlens::gui
