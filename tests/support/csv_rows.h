#pragma once
// Reading back the CSV written next to an exported figure (widget tests):
// one QStringList per non-empty line, split at commas (figure CSVs quote
// nothing the views write).

#include <QFile>
#include <QList>
#include <QString>
#include <QStringList>

namespace superlens::test {

inline QList<QStringList> readCsvRows(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QList<QStringList> rows;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (!line.isEmpty()) rows << QString::fromUtf8(line).split(QLatin1Char(','));
    }
    return rows;
}

}  // namespace superlens::test
