#include "figure_table.h"

#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>

#include <QFile>

#include "superlens/core/system/output_file.h"

namespace superlens::widgets {
namespace {

QString csvCell(const QString& cell) {
    if (!cell.contains(QLatin1Char(',')) && !cell.contains(QLatin1Char('"')) && !cell.contains(QLatin1Char('\n')) &&
        !cell.startsWith(QLatin1Char(' ')) && !cell.endsWith(QLatin1Char(' '))) {
        return cell;
    }
    QString quoted = cell;
    quoted.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

}  // namespace

QString csvNumber(double value) {
    if (std::isnan(value)) return QStringLiteral("nan");
    std::array<char, 64> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    return QString::fromLatin1(buf.data(), static_cast<int>(res.ptr - buf.data()));
}

QString FigureTable::toCsv() const {
    QString out;
    for (const QString& c : comments) {
        QString line = c;
        line.replace(QLatin1Char('\n'), QLatin1Char(' '));
        out += QStringLiteral("# ") + line + QLatin1Char('\n');
    }
    QStringList header;
    for (const QString& c : columns) header << csvCell(c);
    out += header.join(QLatin1Char(',')) + QLatin1Char('\n');
    for (const QStringList& row : rows) {
        QStringList cells;
        for (const QString& c : row) cells << csvCell(c);
        out += cells.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

bool FigureTable::write(const QString& path, QString* error) const {
    // Through a temporary and a rename, never into a model folder (core/system/output_file.h).
    const auto ok = core::writeFileAtomically(std::filesystem::path(path.toStdU16String()), toCsv().toUtf8().toStdString(), "the table");
    if (!ok && error) *error = QString::fromStdString(ok.error().message);
    return ok.ok();
}

}  // namespace superlens::widgets
