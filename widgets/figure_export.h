#pragma once
// Paper figures from any view: PDF and SVG (vector) and PNG (chosen DPI) at
// one-column (3.5 in) or two-column (7 in) width, in a light theme with the
// chosen font, plus the data behind the figure as CSV alongside.
//
// SVG goes through QSvgGenerator + QCPPainter (QCustomPlot 2.1 has no
// saveSvg). Qt 6.4's SVG output has no clipping, so views keep their
// plottables inside the axis rect (ranges cover the data, bars on log axes
// start at the axis' lower bound).

#include <QList>
#include <QString>
#include <QStringList>

namespace superlens::widgets {

class PlotView;

enum class FigureFormat { Pdf, Svg, Png };

struct ExportOptions {
    double widthInches = 3.5;   // 3.5 one column, 7.0 two columns
    double heightInches = 2.6;
    QString fontFamily = QStringLiteral("DejaVu Sans");
    double fontPoints = 8.0;
    int dpi = 300;              // PNG only
    bool writeCsv = true;       // FILE.csv next to FILE.pdf/svg/png

    static ExportOptions oneColumn();
    static ExportOptions twoColumn();
    // Width and height in points (1/72 in): the logical size figures are laid out at.
    int widthPoints() const;
    int heightPoints() const;
};

// From the file suffix (.pdf, .svg, .png); false for anything else.
bool figureFormatFromPath(const QString& path, FigureFormat* format);
QString figureFormatSuffix(FigureFormat format);
// FILE.pdf -> FILE.csv
QString csvPathFor(const QString& figurePath);

// Renders the view with the export style and writes the file (and the CSV).
// The view's on-screen style is restored afterwards. False with *error set.
bool exportFigure(PlotView& view, const QString& path, const ExportOptions& options, QString* error = nullptr);

// Writes <dir>/<kind>.<suffix> for every view and format; returns the files written.
QStringList exportAllFigures(const QList<PlotView*>& views, const QString& directory, const QList<FigureFormat>& formats,
                             const ExportOptions& options, QString* error = nullptr);

}  // namespace superlens::widgets
