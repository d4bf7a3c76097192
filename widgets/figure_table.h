#pragma once
// The data behind a figure, as a table written to CSV next to the figure.
// Numbers are written in their shortest round-trip form, so a CSV value
// parses back to exactly the double that was plotted.

#include <QList>
#include <QString>
#include <QStringList>

namespace superlens::widgets {

struct FigureTable {
    QString title;
    QStringList columns;
    QList<QStringList> rows;
    // Written first, each as "# line" (the figure's provenance).
    QStringList comments;

    void addRow(QStringList cells) { rows.push_back(std::move(cells)); }
    QString toCsv() const;
    // Writes the CSV; false with *error set on failure.
    bool write(const QString& path, QString* error = nullptr) const;
};

// Shortest decimal that round-trips the double.
QString csvNumber(double value);

}  // namespace superlens::widgets
