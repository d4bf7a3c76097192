#pragma once
// The layout pass of exported figures, in the spirit of matplotlib's
// constrained layout: after a view has built its plot in the export style,
// fitFigureLayout() lays it out at the figure's size (logical units =
// points) and changes what does not fit:
//   - an outer padding keeps every glyph off the page edge;
//   - titles wider than the page wrap onto two lines, then are shortened with
//     "…" (the full text is reported, for the caption and the metadata);
//   - axis titles longer than their axis wrap, then are shortened;
//   - tick labels that collide are thinned (text ticks) or fewer ticks are
//     asked for (numbers), until neighbours no longer touch;
//   - tick labels that stick out of the page widen the margin on that side;
//   - legends go where they cover no plotted data: the view's preferred
//     corner, another corner, the same corner after headroom is added to the
//     value axis, or a row above the axis rect;
//   - annotations (item texts) that collide with text or leave their axis
//     rect are hidden, least important first (QObject property
//     "importance", larger is kept; otherwise the order they were created).
// Then it checks what is actually drawn (recordPlotTexts) and repeats until
// no text leaves the page or overlaps another.
//
// Thread-safety: GUI thread only (QCustomPlot).

#include <QList>
#include <QPolygonF>
#include <QRectF>
#include <QString>
#include <QStringList>

class QCustomPlot;
class QCPLegend;

namespace superlens::widgets {

// One run of text as the plot draws it: its string and the box of its glyphs
// (ascent to descent, advance width) in figure units, rotation included.
struct RecordedText {
    QString text;
    QPolygonF box;     // four corners, as drawn
    QRectF bounds;     // axis-aligned bounds of box
    double angle = 0;  // degrees, 0 = horizontal
};

// Draws the plot at width x height units into a recorder and returns every
// text run drawn. The plot keeps the layout of that size afterwards (until
// its next replot on screen).
QList<RecordedText> recordPlotTexts(QCustomPlot* plot, int width, int height);

// True when the two boxes overlap by more than `slack` units (separating-axis test).
bool textBoxesOverlap(const RecordedText& a, const RecordedText& b, double slack = 0.5);

struct FigureLayoutReport {
    QStringList fullTitles;           // titles as the view wrote them, before wrapping or shortening
    QStringList shortenedTexts;       // "full text" for every title or axis title shown shortened
    QStringList droppedAnnotations;   // annotations hidden because they collided or did not fit
    QStringList legendPlacements;     // one per legend: "inside top right", "above", ...
    QStringList problems;             // text problems left after the last round (empty when the figure is clean)
};

// Lays the plot out for a width x height figure with `pad` units of white
// margin on every side. Call after the export style is applied.
FigureLayoutReport fitFigureLayout(QCustomPlot* plot, int width, int height, double pad = 3.0);

// Lays a legend's items out in rows (left to right, then down), as many per
// row as fit in maxWidth units.
void wrapLegend(QCPLegend* legend, double maxWidth);

// Undoes what fitFigureLayout changed on the objects a view keeps across
// rebuilds (the top layout, axis rects, their axes and inset legends).
void resetFigureLayout(QCustomPlot* plot);

// Text problems of what the plot draws at width x height: runs leaving the
// page (closer than `pad` to its edge) and overlapping pairs. Empty when clean.
QStringList figureTextProblems(QCustomPlot* plot, int width, int height, double pad = 0.5);

}  // namespace superlens::widgets
