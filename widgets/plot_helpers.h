#pragma once
// Small drawing helpers shared by the views (axes, tickers, ranges, markers).

#include <vector>

#include <QColor>
#include <QString>
#include <QStringList>

class QCPAxis;
class QCPAxisRect;
class QCustomPlot;
class QCPGraph;
class QCPColorMap;
class QCPColorGradient;
class QCPColorScale;
class QCPMarginGroup;

namespace superlens::widgets {

struct PlotStyle;

// Text ticks at 0..n-1 (token labels, layer names); shows every k-th label when crowded.
void setTextTicks(QCPAxis* axis, const QStringList& labels, int maxLabels = 40);
// Integer ticks (layers, channels).
void setIntegerTicks(QCPAxis* axis);
// Log axis with powers of ten and a range covering [lo, hi] with headroom.
void setLogAxis(QCPAxis* axis, double lo, double hi, double headroomDecades = 0.3);
// Smallest positive / largest value of a list (for log ranges); fallback when none.
double minPositive(const std::vector<double>& v, double fallback = 1e-6);
double maxValue(const std::vector<double>& v, double fallback = 1.0);

// A dashed vertical marker at x inside the axis rect (selected layer).
void addVerticalMarker(QCustomPlot* plot, QCPAxisRect* rect, double x, const QColor& color);

// Adds a title row above the plot layout.
void addTitle(QCustomPlot* plot, const QString& text);
// A title added by addTitle sits in column 0 of the plot layout, so beside a
// column of colour scales it is centred over the plots' column only: moves
// every other row into one nested grid (stretch factors and spacing kept) so
// the title spans, and is centred over, the whole figure.
void centerTitleOverColumns(QCustomPlot* plot);

// Key of the nearest integer position under a pixel x in an axis rect, or -1 outside [0, count).
int nearestIndexAt(QCPAxis* keyAxis, double pixel, int count);

// The colour mixed with white: amount 1 is the colour, 0 is white (edited
// bars: a light tint with a dark outline reads apart from solid bars in grey).
QColor tint(const QColor& color, double amount);

// Viridis (perceptually uniform, colour-blind safe, readable in grey) for maps of values in [0, 1].
QCPColorGradient viridisGradient();

// Heatmap panels side by side in row `row` of the plot's layout: the plot's
// axis rect (original), a second one when `withEdited`, and one colour scale
// on their right with `gradient` and `label`. All three share a margin group,
// so the maps' tops and bottoms stay aligned with the scale whatever their
// tick labels take. Maps added to the rects take `scale` as their colour scale.
struct MapPanels {
    QCPAxisRect* original = nullptr;
    QCPAxisRect* edited = nullptr;  // null without withEdited
    QCPColorScale* scale = nullptr;
};
MapPanels addMapPanels(QCustomPlot* plot, int row, bool withEdited, const QCPColorGradient& gradient, const QString& label);

// Short human form of a magnitude: 1234.5 -> "1.23e+03", 0.5 -> "0.5".
QString shortNumber(double v);

// A figure's --head state (the Attention and Patch grid views): "mean" (-1)
// or a head 0..heads-1; false with *error naming the value otherwise.
bool parseHeadState(const QString& value, int heads, int* head, QString* error);

}  // namespace superlens::widgets
