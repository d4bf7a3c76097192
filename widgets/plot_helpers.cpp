#include "plot_helpers.h"

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

#include "plot_style.h"

namespace superlens::widgets {

void setTextTicks(QCPAxis* axis, const QStringList& labels, int maxLabels) {
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    const int n = static_cast<int>(labels.size());
    const int step = std::max(1, (n + maxLabels - 1) / std::max(1, maxLabels));
    for (int i = 0; i < n; i += step) ticker->addTick(i, labels[i]);
    ticker->setSubTickCount(0);
    axis->setTicker(ticker);
}

void setIntegerTicks(QCPAxis* axis) {
    // Steps of 1, 2, 5, 10, ... (never fractions that would round to repeated labels).
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    ticker->setTickCount(8);
    axis->setTicker(ticker);
    axis->setNumberFormat(QStringLiteral("f"));
    axis->setNumberPrecision(0);
}

void setLogAxis(QCPAxis* axis, double lo, double hi, double headroomDecades) {
    axis->setScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
    ticker->setLogBase(10);
    ticker->setSubTickCount(0);
    // One tick per decade of the visible range (headroom included), so a
    // 10..3000 range reads 10^1, 10^2, 10^3 rather than 10^0, 10^2, 10^4.
    const double f = std::pow(10.0, headroomDecades);
    const double decades = std::log10(std::max(hi, lo * 10) / lo) + 2 * headroomDecades;
    ticker->setTickCount(std::clamp(static_cast<int>(std::ceil(decades)) + 1, 3, 8));
    axis->setTicker(ticker);
    axis->setNumberFormat(QStringLiteral("eb"));
    axis->setNumberPrecision(0);
    axis->setRange(lo / f, hi * f);
}

double minPositive(const std::vector<double>& v, double fallback) {
    double m = std::numeric_limits<double>::infinity();
    for (double x : v) {
        if (x > 0 && x < m) m = x;
    }
    return std::isfinite(m) ? m : fallback;
}

double maxValue(const std::vector<double>& v, double fallback) {
    if (v.empty()) return fallback;
    const double m = *std::max_element(v.begin(), v.end());
    return m > 0 ? m : fallback;
}

void addVerticalMarker(QCustomPlot* plot, QCPAxisRect* rect, double x, const QColor& color) {
    // A two-point line from the bottom to the top of the current value range:
    // it stays inside the axis rect (SVG export has no clipping).
    auto* line = new QCPItemLine(plot);
    line->setClipAxisRect(rect);
    for (QCPItemPosition* p : {line->start, line->end}) {
        p->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
        p->setAxisRect(rect);
        p->setTypeX(QCPItemPosition::ptPlotCoords);
        p->setTypeY(QCPItemPosition::ptAxisRectRatio);
    }
    line->start->setCoords(x, 1.0);
    line->end->setCoords(x, 0.0);
    QPen pen(color, 1.2, Qt::DashLine);
    line->setPen(pen);
    line->setProperty("superlensMarker", true);  // a guide, not data: legends may cover it (figure_layout.cpp)
}

void addTitle(QCustomPlot* plot, const QString& text) {
    plot->plotLayout()->insertRow(0);
    auto* title = new QCPTextElement(plot, text);
    plot->plotLayout()->addElement(0, 0, title);
    plot->plotLayout()->setRowStretchFactor(0, 0.01);
}

void centerTitleOverColumns(QCustomPlot* plot) {
    QCPLayoutGrid* top = plot->plotLayout();
    const int rows = top->rowCount(), cols = top->columnCount();
    if (cols < 2 || rows < 2 || !top->hasElement(0, 0) || !qobject_cast<QCPTextElement*>(top->element(0, 0))) return;
    for (int c = 1; c < cols; ++c) {
        if (top->hasElement(0, c) && top->element(0, c)) return;
    }
    const QList<double> rowStretch = top->rowStretchFactors();
    const QList<double> colStretch = top->columnStretchFactors();
    auto* body = new QCPLayoutGrid;
    top->addElement(rows, 0, body);  // first: a grid takes its plot from the layout it joins
    body->expandTo(rows - 1, cols);
    for (int r = 1; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
            if (!top->hasElement(r, c)) continue;
            if (QCPLayoutElement* el = top->element(r, c)) {
                top->take(el);
                body->addElement(r - 1, c, el);
            }
        }
    }
    body->setRowStretchFactors(rowStretch.mid(1));
    body->setColumnStretchFactors(colStretch);
    body->setRowSpacing(top->rowSpacing());
    body->setColumnSpacing(top->columnSpacing());
    top->simplify();  // the title above the body
    double bodyStretch = 0;
    for (double f : rowStretch.mid(1)) bodyStretch += f;
    top->setRowStretchFactors({rowStretch.value(0, 0.01), bodyStretch});
}

int nearestIndexAt(QCPAxis* keyAxis, double pixel, int count) {
    const double key = keyAxis->pixelToCoord(pixel);
    const int i = static_cast<int>(std::lround(key));
    return (i >= 0 && i < count) ? i : -1;
}

MapPanels addMapPanels(QCustomPlot* p, int row, bool withEdited, const QCPColorGradient& gradient, const QString& label) {
    MapPanels panels;
    panels.original = p->axisRect();
    auto* maps = new QCPLayoutGrid;
    p->plotLayout()->take(panels.original);
    p->plotLayout()->addElement(row, 0, maps);
    maps->addElement(0, 0, panels.original);
    if (withEdited) {
        panels.edited = new QCPAxisRect(p);
        maps->addElement(0, 1, panels.edited);
    }
    panels.scale = new QCPColorScale(p);
    maps->addElement(0, maps->columnCount(), panels.scale);
    panels.scale->setBarWidth(8);
    panels.scale->setGradient(gradient);
    panels.scale->axis()->setLabel(label);
    auto* group = new QCPMarginGroup(p);
    for (QCPLayoutElement* e : {static_cast<QCPLayoutElement*>(panels.original), static_cast<QCPLayoutElement*>(panels.edited),
                                static_cast<QCPLayoutElement*>(panels.scale)}) {
        if (e) e->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    }
    return panels;
}

QCPColorGradient viridisGradient() {
    QCPColorGradient g;
    g.setColorStopAt(0.0, QColor(0x44, 0x01, 0x54));
    g.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
    g.setColorStopAt(0.5, QColor(0x21, 0x91, 0x8c));
    g.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
    g.setColorStopAt(1.0, QColor(0xfd, 0xe7, 0x25));
    return g;
}

QColor tint(const QColor& color, double amount) {
    auto mix = [amount](int c) { return static_cast<int>(std::lround(255 - (255 - c) * amount)); };
    return QColor(mix(color.red()), mix(color.green()), mix(color.blue()));
}

QString shortNumber(double v) {
    const double a = std::fabs(v);
    if (a != 0 && (a >= 1e4 || a < 1e-3)) return QString::number(v, 'e', 2);
    return QString::number(v, 'g', 4);
}

bool parseHeadState(const QString& value, int heads, int* head, QString* error) {
    if (value == QLatin1String("mean")) {
        *head = -1;
        return true;
    }
    bool ok = false;
    const int h = value.toInt(&ok);
    if (!ok || h < 0 || h >= heads) {
        *error = QObject::tr("--head %1: expected mean or a head 0..%2").arg(value).arg(heads - 1);
        return false;
    }
    *head = h;
    return true;
}

}  // namespace superlens::widgets
