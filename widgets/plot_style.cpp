#include "plot_style.h"

#include <qcustomplot.h>

namespace superlens::widgets {

QFont PlotStyle::font(double relativeSize, bool bold) const {
    QFont f(fontFamily);
    if (unitSizedFonts) {
        f.setPixelSize(std::max(1, static_cast<int>(std::lround(fontSize * relativeSize))));
    } else {
        f.setPointSizeF(fontSize * relativeSize);
    }
    f.setBold(bold);
    return f;
}

PlotStyle PlotStyle::screen() { return PlotStyle{}; }

PlotStyle PlotStyle::screenColorBlind() {
    PlotStyle s;
    const PlotStyle paper = figure(s.fontFamily, s.fontSize);
    s.original = paper.original;
    s.edited = paper.edited;
    s.highlight = paper.highlight;
    s.accent = paper.accent;
    s.extra = paper.extra;
    return s;
}

PlotStyle PlotStyle::figure(const QString& family, double points) {
    PlotStyle s;
    s.fontFamily = family;
    s.fontSize = points;
    s.unitSizedFonts = true;
    s.lineWidth = 1.0;
    // Okabe & Ito (2008), "Color Universal Design": distinguishable with every
    // common colour-vision deficiency.
    s.original = QColor(0x00, 0x72, 0xb2);   // blue
    s.edited = QColor(0xd5, 0x5e, 0x00);     // vermillion
    s.highlight = QColor(0xe6, 0x9f, 0x00);  // orange
    s.accent = QColor(0x00, 0x9e, 0x73);     // bluish green
    s.extra = QColor(0xcc, 0x79, 0xa7);      // reddish purple
    return s;
}

namespace {

// Legends sized for the medium: QCustomPlot's defaults (32x18 icons, 7-unit
// padding) are right on screen but, in point units, fill a 3.5 in figure.
void styleLegend(QCPLegend* legend, const PlotStyle& s) {
    legend->setFont(s.font(0.85));
    legend->setTextColor(s.foreground);
    legend->setBrush(QBrush(QColor(255, 255, 255, 220)));
    legend->setBorderPen(QPen(s.grid, 0));
    const bool paper = s.unitSizedFonts;
    legend->setIconSize(paper ? QSize(14, 6) : QSize(32, 18));
    legend->setIconTextPadding(paper ? 3 : 7);
    legend->setRowSpacing(paper ? 1 : 3);
    legend->setColumnSpacing(paper ? 6 : 8);
    legend->setMargins(paper ? QMargins(3, 1, 3, 1) : QMargins(7, 5, 7, 4));
    for (int i = 0; i < legend->itemCount(); ++i) {
        // A unit below the text: QCustomPlot clips an entry to its box, and a
        // font whose hinted descent rounds down (Liberation at 6 units) would
        // lose the tails of g, p, y.
        if (QCPAbstractLegendItem* item = legend->item(i)) item->setMargins(paper ? QMargins(1, 0, 1, 1) : QMargins(8, 2, 8, 2));
    }
}

void styleAxis(QCPAxis* axis, const PlotStyle& s) {
    axis->setTickLabelFont(s.font(0.9));
    axis->setLabelFont(s.font());
    axis->setTickLabelColor(s.foreground);
    axis->setLabelColor(s.foreground);
    QPen pen(s.foreground, 0);
    axis->setBasePen(pen);
    axis->setTickPen(pen);
    axis->setSubTickPen(pen);
    axis->grid()->setPen(QPen(s.grid, 0, Qt::DotLine));
    axis->grid()->setSubGridPen(Qt::NoPen);
    axis->grid()->setZeroLinePen(Qt::NoPen);
    // Paper: ticks point out of the axis rect, so a legend or annotation in a
    // corner never sits on them (QCustomPlot's default points them in).
    if (s.unitSizedFonts) {
        axis->setTickLength(0, 3);
        axis->setSubTickLength(0, 2);
    } else {
        axis->setTickLength(5, 0);
        axis->setSubTickLength(2, 0);
    }
}

}  // namespace

void applyPlotStyle(QCustomPlot* plot, const PlotStyle& s) {
    plot->setBackground(QBrush(s.background));
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true)) {
        if (auto* rect = qobject_cast<QCPAxisRect*>(el)) {
            for (QCPAxis* axis : rect->axes()) styleAxis(axis, s);
            // Legends live inside the axis rect's inset layout.
            for (QCPLayoutElement* inset : rect->insetLayout()->elements(false)) {
                if (auto* legend = qobject_cast<QCPLegend*>(inset)) styleLegend(legend, s);
            }
        } else if (auto* title = qobject_cast<QCPTextElement*>(el)) {
            title->setFont(s.font(1.05, true));
            title->setTextColor(s.foreground);
        } else if (auto* legend = qobject_cast<QCPLegend*>(el)) {
            styleLegend(legend, s);
        } else if (auto* scale = qobject_cast<QCPColorScale*>(el)) {
            styleAxis(scale->axis(), s);
        }
    }
    // Markers: views build them at screen size; a printed figure wants them smaller.
    if (s.unitSizedFonts) {
        for (int i = 0; i < plot->graphCount(); ++i) {
            QCPScatterStyle scatter = plot->graph(i)->scatterStyle();
            scatter.setSize(scatter.size() * kPaperMarkerScale);
            plot->graph(i)->setScatterStyle(scatter);
        }
    }
    for (int i = 0; i < plot->itemCount(); ++i) {
        if (auto* text = qobject_cast<QCPItemText*>(plot->item(i))) {
            QFont f = s.font(0.85, text->font().bold());
            text->setFont(f);
            text->setSelectedFont(f);
        }
    }
}

}  // namespace superlens::widgets
