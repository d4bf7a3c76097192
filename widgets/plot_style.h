#pragma once
// Fonts and colours of a plot, for the screen and for paper figures. In
// export styles one logical unit is one typographic point (fonts are sized in
// those units), so PDF, SVG and PNG at any DPI lay out identically.

#include <QColor>
#include <QFont>
#include <QString>

class QCustomPlot;

namespace superlens::widgets {

struct PlotStyle {
    QString fontFamily = QStringLiteral("DejaVu Sans");
    double fontSize = 9.0;        // points (screen) or logical units (export)
    bool unitSizedFonts = false;  // export: QFont::setPixelSize, 1 unit = 1 pt
    QColor background = Qt::white;
    QColor foreground = QColor(0x22, 0x22, 0x22);
    QColor grid = QColor(0xdd, 0xdd, 0xdd);
    QColor original = QColor(0x1f, 0x77, 0xb4);   // blue
    QColor edited = QColor(0xd6, 0x27, 0x28);     // red
    QColor highlight = QColor(0xff, 0x7f, 0x0e);  // orange: selections, carriers
    QColor accent = QColor(0x2c, 0xa0, 0x2c);     // green: medians, thresholds
    QColor extra = QColor(0x94, 0x67, 0xbd);      // purple: a fourth series
    double lineWidth = 1.6;
    double figureHeight = 0;      // export: the figure's height in units (0 on screen)

    QFont font(double relativeSize = 1.0, bool bold = false) const;

    static PlotStyle screen();
    // The screen style with the figures' Okabe-Ito palette (View → Colour-blind-safe palette).
    static PlotStyle screenColorBlind();
    // Paper figure: light theme, the given font (points), thinner lines and
    // the colour-blind-safe Okabe-Ito palette (original blue, edited
    // vermillion, which also differ in grey; views draw edited series dashed
    // with other markers, edited bars as a light tint with a dark outline).
    static PlotStyle figure(const QString& family, double points);
};

// Markers are built at screen size; paper styles draw them this much smaller.
inline constexpr double kPaperMarkerScale = 0.6;

// Applies fonts and colours to every axis rect, legend, colour scale, text
// element and text item of the plot (call after building, before replot()).
void applyPlotStyle(QCustomPlot* plot, const PlotStyle& style);

}  // namespace superlens::widgets
