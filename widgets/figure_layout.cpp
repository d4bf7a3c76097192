#include "figure_layout.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

#include <QFontMetricsF>
#include <QHash>
#include <QPaintDevice>
#include <QPaintEngine>
#include <QTextItem>
#include <qcustomplot.h>

namespace superlens::widgets {

// ---------------------------------------------------------------------------
// Text recorder: a paint device whose engine keeps every text run drawn, with
// the painter's transform applied (rotated tick labels included), and
// ignores everything else.

namespace {

class RecordingEngine : public QPaintEngine {
public:
    RecordingEngine() : QPaintEngine(QPaintEngine::AllFeatures) {}
    bool begin(QPaintDevice*) override { return true; }
    bool end() override { return true; }
    Type type() const override { return QPaintEngine::User; }
    void updateState(const QPaintEngineState& state) override {
        if (state.state() & QPaintEngine::DirtyTransform) m_transform = state.transform();
    }
    void drawPixmap(const QRectF&, const QPixmap&, const QRectF&) override {}
    void drawImage(const QRectF&, const QImage&, const QRectF&, Qt::ImageConversionFlags) override {}
    void drawTiledPixmap(const QRectF&, const QPixmap&, const QPointF&) override {}
    void drawPath(const QPainterPath&) override {}
    void drawPolygon(const QPointF*, int, PolygonDrawMode) override {}
    void drawPolygon(const QPoint*, int, PolygonDrawMode) override {}
    void drawLines(const QLineF*, int) override {}
    void drawLines(const QLine*, int) override {}
    void drawRects(const QRectF*, int) override {}
    void drawRects(const QRect*, int) override {}
    void drawEllipse(const QRectF&) override {}
    void drawEllipse(const QRect&) override {}
    void drawPoints(const QPointF*, int) override {}
    void drawPoints(const QPoint*, int) override {}
    void drawTextItem(const QPointF& p, const QTextItem& item) override {
        const QString text = item.text();
        if (text.trimmed().isEmpty()) return;
        RecordedText r;
        r.text = text;
        const QRectF local(p.x(), p.y() - item.ascent(), item.width(), item.ascent() + item.descent());
        r.box = m_transform.map(QPolygonF(local));
        if (r.box.size() > 4) r.box.resize(4);  // QPolygonF(QRectF) closes the polygon with a fifth point
        r.bounds = r.box.boundingRect();
        const QPointF dir = m_transform.map(QPointF(1, 0)) - m_transform.map(QPointF(0, 0));
        r.angle = std::atan2(dir.y(), dir.x()) * 180.0 / M_PI;
        texts.push_back(r);
    }

    QList<RecordedText> texts;

private:
    QTransform m_transform;
};

class RecordingDevice : public QPaintDevice {
public:
    RecordingDevice(int w, int h) : m_w(w), m_h(h) {}
    QPaintEngine* paintEngine() const override { return &m_engine; }
    RecordingEngine& engine() const { return m_engine; }

protected:
    int metric(PaintDeviceMetric metric) const override {
        switch (metric) {
            case PdmWidth: return m_w;
            case PdmHeight: return m_h;
            case PdmWidthMM: return static_cast<int>(std::lround(m_w * 25.4 / 72.0));
            case PdmHeightMM: return static_cast<int>(std::lround(m_h * 25.4 / 72.0));
            case PdmNumColors: return INT_MAX;
            case PdmDepth: return 32;
            case PdmDpiX:
            case PdmDpiY:
            case PdmPhysicalDpiX:
            case PdmPhysicalDpiY: return 72;
            case PdmDevicePixelRatio: return 1;
            case PdmDevicePixelRatioScaled: return static_cast<int>(QPaintDevice::devicePixelRatioFScale());
            default: return 0;
        }
    }

private:
    int m_w, m_h;
    mutable RecordingEngine m_engine;
};

// Projections of a convex polygon on an axis.
void project(const QPolygonF& poly, const QPointF& axis, double* lo, double* hi) {
    *lo = std::numeric_limits<double>::infinity();
    *hi = -*lo;
    for (const QPointF& p : poly) {
        const double d = p.x() * axis.x() + p.y() * axis.y();
        *lo = std::min(*lo, d);
        *hi = std::max(*hi, d);
    }
}

}  // namespace

QList<RecordedText> recordPlotTexts(QCustomPlot* plot, int width, int height) {
    RecordingDevice device(width, height);
    QCPPainter painter;
    if (!painter.begin(&device)) return {};
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    plot->toPainter(&painter, width, height);
    painter.end();
    return device.engine().texts;
}

bool textBoxesOverlap(const RecordedText& a, const RecordedText& b, double slack) {
    if (a.box.size() != 4 || b.box.size() != 4) return false;
    if (!a.bounds.adjusted(slack, slack, -slack, -slack).intersects(b.bounds)) return false;
    // A box spans the font's ascent and descent (about 1.16 em), so lines set
    // solid overlap by about 0.15 of a box height without any glyph
    // touching: across the lines that much is allowed, along them `slack`.
    auto height = [](const QPolygonF& p) { return QLineF(p[1], p[2]).length(); };
    const double lineSlack = std::max(slack, 0.15 * std::min(height(a.box), height(b.box)));
    // Separating-axis test on the edge normals of both (convex) boxes. Edges
    // 0 and 2 run along the text (their normal is across the lines), 1 and 3 across it.
    for (const QPolygonF* poly : {&a.box, &b.box}) {
        for (int i = 0; i < 4; ++i) {
            const QPointF e = poly->at((i + 1) % 4) - poly->at(i);
            const double len = std::hypot(e.x(), e.y());
            if (len < 1e-9) continue;
            const QPointF axis(-e.y() / len, e.x() / len);
            double alo, ahi, blo, bhi;
            project(a.box, axis, &alo, &ahi);
            project(b.box, axis, &blo, &bhi);
            if (std::min(ahi, bhi) - std::max(alo, blo) <= (i % 2 == 0 ? lineSlack : slack)) return false;
        }
    }
    return true;
}

// Legend entries drawn in less room than they need: QCustomPlot squeezes a
// layout that is too small for its elements' minimum sizes and clips each
// legend entry to its box, so such an entry loses part of its text and icon.
// Called after a replot at the figure's size.
static QStringList squeezedLegendEntries(QCustomPlot* plot) {
    QList<QCPLegend*> legends;
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true)) {
        if (auto* l = qobject_cast<QCPLegend*>(el)) legends << l;
    }
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPLayoutElement* el : rect->insetLayout()->elements(false)) {
            if (auto* l = qobject_cast<QCPLegend*>(el); l && !legends.contains(l)) legends << l;
        }
    }
    QStringList out;
    for (QCPLegend* l : legends) {
        if (!l->visible() || !l->realVisibility()) continue;
        for (int i = 0; i < l->itemCount(); ++i) {
            QCPAbstractLegendItem* item = l->item(i);
            if (!item || !item->visible()) continue;
            const QSize need = item->minimumOuterSizeHint();
            const QRect got = item->outerRect();
            if (got.height() + 0.5 < need.height() || got.width() + 0.5 < need.width()) {
                auto* pl = qobject_cast<QCPPlottableLegendItem*>(item);
                out << QStringLiteral("legend entry '%1' is cut off (%2x%3 of %4x%5)")
                           .arg(pl ? pl->plottable()->name() : QString())
                           .arg(got.width()).arg(got.height()).arg(need.width()).arg(need.height());
            }
        }
    }
    return out;
}

QStringList figureTextProblems(QCustomPlot* plot, int width, int height, double pad) {
    const QList<RecordedText> texts = recordPlotTexts(plot, width, height);
    QStringList problems = squeezedLegendEntries(plot);
    const QRectF page(pad, pad, width - 2 * pad, height - 2 * pad);
    for (const RecordedText& t : texts) {
        if (!page.contains(t.bounds)) problems << QStringLiteral("'%1' leaves the page").arg(t.text);
    }
    for (int i = 0; i < texts.size(); ++i) {
        for (int j = i + 1; j < texts.size(); ++j) {
            if (textBoxesOverlap(texts[i], texts[j])) problems << QStringLiteral("'%1' overlaps '%2'").arg(texts[i].text, texts[j].text);
        }
    }
    return problems;
}

// ---------------------------------------------------------------------------
// The layout pass.

namespace {

constexpr double kLegendOffset = 3.0;  // legend distance from the axis rect border
constexpr double kTickGap = 2.0;       // minimum gap between neighbouring horizontal tick labels

// Splits text into at most maxLines lines no wider than maxWidth: the split
// (at spaces) that makes the widest line narrowest; the last line is
// shortened with "…" when nothing fits.
QString fitText(const QString& text, const QFont& font, double maxWidth, int maxLines, bool* shortened) {
    *shortened = false;
    const QFontMetricsF fm(font);
    const QString flat = QString(text).replace(QLatin1Char('\n'), QLatin1Char(' ')).simplified();
    if (fm.horizontalAdvance(flat) <= maxWidth) return flat;
    const QStringList words = flat.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    auto clean = [](QString line) {
        // A separator dot at a line break is dropped: the break separates.
        line = line.trimmed();
        while (line.startsWith(QStringLiteral("·"))) line = line.mid(1).trimmed();
        while (line.endsWith(QStringLiteral("·"))) line.chop(1), line = line.trimmed();
        return line;
    };
    if (maxLines >= 2 && words.size() >= 2) {
        double best = std::numeric_limits<double>::infinity();
        QString bestText;
        for (int k = 1; k < words.size(); ++k) {
            const QString a = clean(words.mid(0, k).join(QLatin1Char(' ')));
            const QString b = clean(words.mid(k).join(QLatin1Char(' ')));
            if (a.isEmpty() || b.isEmpty()) continue;
            // A break before a parenthesis or after a comma reads better: a
            // small bonus for it.
            const bool natural = b.startsWith(QLatin1Char('(')) || a.endsWith(QLatin1Char(',')) || words[k - 1] == QStringLiteral("·");
            const double wmax = std::max(fm.horizontalAdvance(a), fm.horizontalAdvance(b));
            if (natural && wmax > maxWidth) continue;
            const double score = (natural ? 0.9 : 1.0) * wmax;
            if (score < best) {
                best = score;
                bestText = a + QLatin1Char('\n') + b;
            }
        }
        if (!bestText.isEmpty() && fm.horizontalAdvance(bestText.section(QLatin1Char('\n'), 0, 0)) <= maxWidth &&
            fm.horizontalAdvance(bestText.section(QLatin1Char('\n'), 1)) <= maxWidth) {
            return bestText;
        }
        // Greedy lines, the last one shortened.
        QStringList lines;
        QString current;
        for (const QString& w : words) {
            const QString candidate = current.isEmpty() ? w : current + QLatin1Char(' ') + w;
            if (fm.horizontalAdvance(clean(candidate)) <= maxWidth || current.isEmpty()) {
                current = candidate;
            } else {
                lines << clean(current);
                current = w;
            }
        }
        lines << clean(current);
        if (lines.size() > maxLines) {
            QStringList tail = lines.mid(maxLines - 1);
            lines = lines.mid(0, maxLines - 1);
            lines << tail.join(QLatin1Char(' '));
        }
        for (QString& l : lines) {
            if (fm.horizontalAdvance(l) > maxWidth) l = fm.elidedText(l, Qt::ElideRight, maxWidth);
        }
        *shortened = true;
        return lines.join(QLatin1Char('\n'));
    }
    *shortened = true;
    return fm.elidedText(flat, Qt::ElideRight, maxWidth);
}

struct AxisInfo {
    QCPAxis* axis = nullptr;
    QRect dataRect;   // the axis rect (or colour-scale bar) the axis borders
    QRect outerRect;  // the element's outer rect: the band between the two holds the axis' text
};

QList<AxisInfo> allAxes(QCustomPlot* plot) {
    QList<AxisInfo> out;
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true)) {
        if (auto* rect = qobject_cast<QCPAxisRect*>(el)) {
            for (QCPAxis* a : rect->axes()) {
                if (a->visible()) out.push_back({a, rect->rect(), rect->outerRect()});
            }
        } else if (auto* scale = qobject_cast<QCPColorScale*>(el)) {
            if (scale->visible() && scale->axis() && scale->axis()->axisRect()) {
                out.push_back({scale->axis(), scale->axis()->axisRect()->rect(), scale->outerRect()});
            }
        }
    }
    return out;
}

// The band outside the data rect on the axis' side, where its tick labels and title are drawn.
QRectF axisBand(const AxisInfo& info) {
    const QRectF d = info.dataRect, o = info.outerRect;
    const double far = 60;  // rotated and end labels may stick out along the axis
    switch (info.axis->axisType()) {
        case QCPAxis::atLeft: return QRectF(QPointF(o.left() - far, d.top() - far), QPointF(d.left(), d.bottom() + far));
        case QCPAxis::atRight: return QRectF(QPointF(d.right(), d.top() - far), QPointF(o.right() + far, d.bottom() + far));
        case QCPAxis::atTop: return QRectF(QPointF(d.left() - far, o.top() - far), QPointF(d.right() + far, d.top()));
        case QCPAxis::atBottom: return QRectF(QPointF(d.left() - far, d.bottom()), QPointF(d.right() + far, o.bottom() + far));
    }
    return {};
}

QString fullLabel(QCPAxis* axis) {
    const QVariant v = axis->property("superlensFullLabel");
    if (v.isValid()) return v.toString();
    axis->setProperty("superlensFullLabel", axis->label());
    return axis->label();
}

// Axis titles no longer than their axis.
void fitAxisTitles(QCustomPlot* plot, FigureLayoutReport* report) {
    for (const AxisInfo& info : allAxes(plot)) {
        const QString full = fullLabel(info.axis);
        if (full.isEmpty()) continue;
        const double length = (info.axis->orientation() == Qt::Horizontal ? info.dataRect.width() : info.dataRect.height()) - 2;
        if (length < 10) continue;
        // Two lines at the style's size, else at up to 15 % smaller, else shortened.
        if (!info.axis->property("superlensLabelPixels").isValid()) info.axis->setProperty("superlensLabelPixels", info.axis->labelFont().pixelSize());
        const int pixels = info.axis->property("superlensLabelPixels").toInt();
        QFont font = info.axis->labelFont();
        bool shortened = false;
        QString fitted;
        for (double scale : {1.0, 0.92, 0.85}) {
            if (pixels > 0) font.setPixelSize(std::max(1, static_cast<int>(std::lround(pixels * scale))));
            fitted = fitText(full, font, length, 2, &shortened);
            if (!shortened || pixels <= 0) break;
        }
        if (!shortened) info.axis->setLabelFont(font);
        if (shortened && !report->shortenedTexts.contains(full)) report->shortenedTexts << full;
        if (fitted != info.axis->label()) info.axis->setLabel(fitted);
    }
}

// Makes the labels of a text ticker (names: tokens, channels) a step
// smaller, down to 80 % of their size and not below 5.5 units, then halves
// them; asks a numeric ticker for one tick fewer. False when nothing is left
// to thin.
bool thinAxis(QCPAxis* axis) {
    QSharedPointer<QCPAxisTicker> ticker = axis->ticker();
    if (auto text = ticker.dynamicCast<QCPAxisTickerText>()) {
        QFont f = axis->tickLabelFont();
        if (!axis->property("superlensTickPixels").isValid()) axis->setProperty("superlensTickPixels", f.pixelSize());
        const int original = axis->property("superlensTickPixels").toInt();
        if (f.pixelSize() > 0 && f.pixelSize() - 1 >= std::max(5.5, 0.8 * original)) {
            f.setPixelSize(f.pixelSize() - 1);
            axis->setTickLabelFont(f);
            return true;
        }
        QMap<double, QString>& ticks = text->ticks();
        if (ticks.size() <= 1) return false;
        QMap<double, QString> kept;
        int i = 0;
        for (auto it = ticks.cbegin(); it != ticks.cend(); ++it, ++i) {
            if (i % 2 == 0) kept.insert(it.key(), it.value());
        }
        text->setTicks(kept);
        return true;
    }
    const int count = ticker->tickCount();
    // A log ticker steps by whole decades: fewer ticks only help down to one.
    if (count > (ticker.dynamicCast<QCPAxisTickerLog>() ? 1 : 2)) {
        ticker->setTickCount(count - 1);
        return true;
    }
    if (ticker->tickStepStrategy() != QCPAxisTicker::tssMeetTickCount && !ticker.dynamicCast<QCPAxisTickerLog>()) {
        ticker->setTickStepStrategy(QCPAxisTicker::tssMeetTickCount);
        return true;
    }
    // Last resort: label only the ends of the axis (then only its top end),
    // as the axis labelled them.
    const QVector<double> ticks = axis->tickVector();
    const QVector<QString> labels = axis->tickVectorLabels();
    QMap<double, QString> ends;
    for (int i = 0; i < ticks.size() && i < labels.size(); ++i) {
        if (axis->range().contains(ticks[i])) ends.insert(ticks[i], labels[i]);
    }
    if (ends.size() <= 1) return false;
    QSharedPointer<QCPAxisTickerText> text(new QCPAxisTickerText);
    if (ends.size() > 2) {
        text->addTick(ends.firstKey(), ends.first());
        text->addTick(ends.lastKey(), ends.last());
    } else {
        text->addTick(ends.lastKey(), ends.last());
    }
    text->setSubTickCount(0);
    axis->setTicker(text);
    return true;
}

// Token and channel names longer than a share of the figure are shortened
// with "…" (the CSV keeps them whole): at most maxExtent units across the
// axis, for horizontal labels their width, for slanted ones their drop.
void elideLongTickLabels(QCPAxis* axis, double maxExtent) {
    auto text = axis->ticker().dynamicCast<QCPAxisTickerText>();
    if (!text || maxExtent <= 0) return;
    const QFontMetricsF fm(axis->tickLabelFont());
    const double angle = std::fabs(axis->tickLabelRotation()) * M_PI / 180.0;
    const double h = fm.ascent() + fm.descent();
    double maxWidth = maxExtent;
    if (axis->orientation() == Qt::Horizontal) {
        if (angle < 1e-3) return;  // horizontal labels on a horizontal axis: thinning handles them
        maxWidth = (maxExtent - h * std::cos(angle)) / std::max(0.2, std::sin(angle));
    } else if (angle > 1e-3) {
        maxWidth = (maxExtent - h * std::sin(angle)) / std::max(0.2, std::cos(angle));
    }
    maxWidth = std::max(maxWidth, fm.horizontalAdvance(QStringLiteral("MMM…")));
    QMap<double, QString> ticks = text->ticks();
    bool changed = false;
    for (auto it = ticks.begin(); it != ticks.end(); ++it) {
        if (fm.horizontalAdvance(it.value()) > maxWidth) {
            it.value() = fm.elidedText(it.value(), Qt::ElideRight, maxWidth);
            changed = true;
        }
    }
    if (changed) text->setTicks(ticks);
}

// True when two neighbouring tick labels of the axis touch (from the tick
// positions and label sizes of the last layout).
bool tickLabelsCollide(QCPAxis* axis) {
    if (!axis->tickLabels()) return false;
    const QVector<double> ticks = axis->tickVector();
    const QVector<QString> labels = axis->tickVectorLabels();
    const QFontMetricsF fm(axis->tickLabelFont());
    struct L {
        double pos, size;
    };
    std::vector<L> shown;
    const QCPRange range = axis->range();
    for (int i = 0; i < ticks.size() && i < labels.size(); ++i) {
        if (labels[i].isEmpty() || !range.contains(ticks[i])) continue;
        QString label = labels[i];
        label.replace(QLatin1Char('^'), QString());  // beautiful powers: exponent drawn small, superscript
        // A wrapped label is as wide as its widest line.
        double width = 0;
        for (const QString& line : label.split(QLatin1Char('\n'))) width = std::max(width, fm.horizontalAdvance(line));
        shown.push_back({axis->coordToPixel(ticks[i]), width});
    }
    std::sort(shown.begin(), shown.end(), [](const L& a, const L& b) { return a.pos < b.pos; });
    const double angle = std::fabs(axis->tickLabelRotation()) * M_PI / 180.0;
    // Line pitch needed between stacked (or slanted) labels: a little more
    // than "set solid" (see textBoxesOverlap).
    const double h = 0.9 * (fm.ascent() + fm.descent()) - 0.2;
    for (std::size_t i = 1; i < shown.size(); ++i) {
        const double sep = shown[i].pos - shown[i - 1].pos;
        if (axis->orientation() == Qt::Horizontal) {
            if (angle < 1e-3) {
                if (sep < (shown[i].size + shown[i - 1].size) / 2 + kTickGap) return true;
            } else if (sep * std::sin(angle) < h + 0.5) {
                return true;
            }
        } else if (angle < 1e-3 || angle > M_PI / 2 - 1e-3) {
            if (sep < h + 0.5) return true;
        } else if (sep * std::cos(angle) < h + 0.5) {
            return true;
        }
    }
    return false;
}

// ----- data occupancy, for legends and annotations

struct Obstacles {
    QList<QRectF> rects;
    QList<QLineF> segments;
    bool full = false;  // a colour map fills the rect

    bool hits(const QRectF& r) const {
        if (full) return true;
        for (const QRectF& o : rects) {
            if (o.intersects(r)) return true;
        }
        for (const QLineF& s : segments) {
            const double len = s.length();
            const int n = std::max(1, static_cast<int>(std::ceil(len / 0.5)));
            for (int i = 0; i <= n; ++i) {
                if (r.contains(s.pointAt(static_cast<double>(i) / n))) return true;
            }
        }
        return false;
    }
    // Top-most y of anything inside the x range [x0, x1] (for headroom).
    double topIn(double x0, double x1) const {
        double top = std::numeric_limits<double>::infinity();
        for (const QRectF& o : rects) {
            if (o.right() >= x0 && o.left() <= x1) top = std::min(top, o.top());
        }
        for (const QLineF& s : segments) {
            const int n = std::max(1, static_cast<int>(std::ceil(s.length() / 0.5)));
            for (int i = 0; i <= n; ++i) {
                const QPointF p = s.pointAt(static_cast<double>(i) / n);
                if (p.x() >= x0 && p.x() <= x1) top = std::min(top, p.y());
            }
        }
        return top;
    }
};

QRectF itemTextRect(QCPItemText* t) {
    return QRectF(t->topLeft->pixelPosition(), t->bottomRight->pixelPosition()).normalized();
}

Obstacles collectObstacles(QCustomPlot* plot, QCPAxisRect* rect) {
    Obstacles o;
    for (int i = 0; i < plot->plottableCount(); ++i) {
        QCPAbstractPlottable* pl = plot->plottable(i);
        if (!pl->visible() || !pl->keyAxis() || pl->keyAxis()->axisRect() != rect) continue;
        if (qobject_cast<QCPColorMap*>(pl)) {
            o.full = true;
        } else if (auto* g = qobject_cast<QCPGraph*>(pl)) {
            const double r = g->scatterStyle().isNone() ? 1.0 : g->scatterStyle().size() / 2 + 1.0;
            QPointF prev;
            bool havePrev = false;
            for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
                if (!std::isfinite(it->key) || !std::isfinite(it->value)) {
                    havePrev = false;
                    continue;
                }
                const QPointF p = g->coordsToPixels(it->key, it->value);
                o.rects << QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r);
                if (havePrev && g->lineStyle() != QCPGraph::lsNone) o.segments << QLineF(prev, p);
                prev = p;
                havePrev = true;
            }
        } else if (auto* b = qobject_cast<QCPBars*>(pl)) {
            double half = b->width() / 2;
            if (QCPBarsGroup* group = b->barsGroup()) {
                double total = 0;
                for (QCPBars* m : group->bars()) total += m->width();
                half = total / 2;
            }
            for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it) {
                const QPointF a = b->coordsToPixels(it->key - half, b->baseValue());
                const QPointF c = b->coordsToPixels(it->key + half, it->value);
                o.rects << QRectF(a, c).normalized().adjusted(-0.5, -0.5, 0.5, 0.5);
            }
        } else {
            o.full = true;  // unknown plottable: never cover it
        }
    }
    for (int i = 0; i < plot->itemCount(); ++i) {
        QCPAbstractItem* item = plot->item(i);
        if (!item->visible() || item->clipAxisRect() != rect) continue;
        if (auto* t = qobject_cast<QCPItemText*>(item)) {
            o.rects << itemTextRect(t);
        } else if (auto* l = qobject_cast<QCPItemLine*>(item)) {
            if (l->property("superlensMarker").toBool()) continue;  // selection guide, not data
            o.segments << QLineF(l->start->pixelPosition(), l->end->pixelPosition());
        }
    }
    return o;
}

enum class Corner { TopRight, TopLeft, BottomRight, BottomLeft, Top, Bottom };

QString cornerName(Corner c) {
    switch (c) {
        case Corner::TopRight: return QStringLiteral("top right");
        case Corner::TopLeft: return QStringLiteral("top left");
        case Corner::BottomRight: return QStringLiteral("bottom right");
        case Corner::BottomLeft: return QStringLiteral("bottom left");
        case Corner::Top: return QStringLiteral("top");
        case Corner::Bottom: return QStringLiteral("bottom");
    }
    return {};
}

QRectF cornerRect(const QRectF& r, const QSizeF& s, Corner c) {
    const double off = kLegendOffset;
    double x = r.right() - off - s.width(), y = r.top() + off;
    switch (c) {
        case Corner::TopRight: break;
        case Corner::TopLeft: x = r.left() + off; break;
        case Corner::BottomRight: y = r.bottom() - off - s.height(); break;
        case Corner::BottomLeft: x = r.left() + off, y = r.bottom() - off - s.height(); break;
        case Corner::Top: x = r.center().x() - s.width() / 2; break;
        case Corner::Bottom: x = r.center().x() - s.width() / 2, y = r.bottom() - off - s.height(); break;
    }
    return QRectF(QPointF(x, y), s);
}

Corner cornerFromAlignment(Qt::Alignment a) {
    const bool left = a & Qt::AlignLeft, bottom = a & Qt::AlignBottom;
    if (bottom) return left ? Corner::BottomLeft : Corner::BottomRight;
    return left ? Corner::TopLeft : Corner::TopRight;
}

void placeInset(QCPAxisRect* rect, int index, const QRectF& pixels) {
    // Inset rects are fractions of the inset layout's rect, which has its own
    // margins inside the axis rect (12 units in QCustomPlot's default rect).
    const QRectF r = rect->insetLayout()->rect();
    if (r.width() < 1 || r.height() < 1) return;
    rect->insetLayout()->setInsetPlacement(index, QCPLayoutInset::ipFree);
    rect->insetLayout()->setInsetRect(index, QRectF((pixels.left() - r.left()) / r.width(), (pixels.top() - r.top()) / r.height(),
                                                     pixels.width() / r.width(), pixels.height() / r.height()));
}

// Minimum margins of an axis rect, remembered before the layout pass first
// changes them (resetFigureLayout puts them back).
void setMinimumMarginsKept(QCPAxisRect* rect, const QMargins& m) {
    if (!rect->property("superlensMinimumMargins").isValid()) {
        const QMargins o = rect->minimumMargins();
        rect->setProperty("superlensMinimumMargins", QRect(o.left(), o.top(), o.right(), o.bottom()));
    }
    rect->setMinimumMargins(m);
}

// Transform of a value to the axis' linear pixel scale.
double axisT(QCPAxis* a, double v) { return a->scaleType() == QCPAxis::stLogarithmic ? std::log10(v) : v; }
double axisTInv(QCPAxis* a, double t) { return a->scaleType() == QCPAxis::stLogarithmic ? std::pow(10.0, t) : t; }

// Raises the upper end of a vertical value axis so that nothing plotted in
// [x0, x1] reaches above pixel y `limit`. False when that would squeeze the
// data into less than `minFraction` of the rect.
// The upper end a vertical value axis needs so that nothing plotted in
// [x0, x1] reaches above pixel y `limit`, and the share of the axis the data
// keep then (1 when nothing is in the way, 0 when it cannot be done).
double headroomShare(QCPAxisRect* rect, const Obstacles& obstacles, double x0, double x1, double limit, double* newUpper) {
    QCPAxis* v = rect->axis(QCPAxis::atLeft);
    *newUpper = v ? v->range().upper : 0;
    if (!v || v->rangeReversed() || obstacles.full) return 0;
    const QRectF r = rect->rect();
    const double top = obstacles.topIn(x0, x1);
    if (!std::isfinite(top) || top >= limit) return 1;
    const double room = r.bottom() - limit;
    if (room <= 1 || r.height() <= 1) return 0;
    const double lo = axisT(v, v->range().lower), hi = axisT(v, v->range().upper);
    const double tTop = lo + (r.bottom() - top) / r.height() * (hi - lo);
    const double newHi = lo + (tTop - lo) * r.height() / room;
    if (!(newHi > hi)) return 1;
    *newUpper = axisTInv(v, newHi);
    return (tTop - lo) / (newHi - lo);
}

// Raises the value axis as headroomShare says, when the data keep at least minShare.
bool addHeadroom(QCPAxisRect* rect, const Obstacles& obstacles, double x0, double x1, double limit, double minShare) {
    double upper = 0;
    const double share = headroomShare(rect, obstacles, x0, x1, limit, &upper);
    if (share < minShare) return false;
    QCPAxis* v = rect->axis(QCPAxis::atLeft);
    if (upper > v->range().upper) v->setRange(v->range().lower, upper);
    return true;
}

struct LegendSlot {
    QCPAxisRect* rect = nullptr;
    int index = 0;
    QCPLegend* legend = nullptr;
};

QList<LegendSlot> insetLegends(QCustomPlot* plot) {
    QList<LegendSlot> out;
    for (QCPAxisRect* rect : plot->axisRects()) {
        QCPLayoutInset* inset = rect->insetLayout();
        for (int i = 0; i < inset->elementCount(); ++i) {
            auto* legend = qobject_cast<QCPLegend*>(inset->elementAt(i));
            if (legend && legend->visible() && legend->itemCount() > 0) out.push_back({rect, i, legend});
        }
    }
    return out;
}

}  // namespace

void wrapLegend(QCPLegend* legend, double maxWidth) {
    maxWidth -= 4;  // slack: item sizes come from whole-unit font metrics
    int columns = legend->itemCount();
    for (; columns > 1; --columns) {
        legend->setWrap(columns);
        legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        if (legend->minimumOuterSizeHint().width() <= maxWidth) return;
    }
    legend->setWrap(1);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
}

namespace {

// Legend above its axis rect: items in rows as wide as the rect, the rect's
// top margin grown to hold it.
void placeAbove(const LegendSlot& s, double pageRight) {
    QCPLegend* legend = s.legend;
    const QRectF r = s.rect->rect();
    // The rows may run on past the rect to the page's right edge (over a
    // colour scale's column, say), never past it.
    const double maxWidth = std::max(r.width(), pageRight - r.left());
    wrapLegend(legend, maxWidth);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    const QSize size = legend->minimumOuterSizeHint();
    const int gap = 2;
    QMargins min = s.rect->minimumMargins();
    const int wanted = s.rect->property("superlensAutoTop").toInt() + size.height() + gap;
    if (min.top() < wanted) {
        min.setTop(wanted);
        setMinimumMarginsKept(s.rect, min);
    }
    placeInset(s.rect, s.index, QRectF(QPointF(r.left(), r.top() - gap - size.height()), QSizeF(std::min<double>(size.width(), maxWidth), size.height())));
    legend->setProperty("superlensPlacement", QStringLiteral("above"));
}

// The legends: inside where they cover no data, else above their axis rect.
void placeLegends(QCustomPlot* plot, int w, int h, FigureLayoutReport* report) {
    QStringList placements;
    for (const LegendSlot& s : insetLegends(plot)) {
        if (s.legend->property("superlensPlacement").toString() == QLatin1String("above")) {
            placeAbove(s, w - 3.0);
            placements << QStringLiteral("above");
            continue;
        }
        if (!s.rect->property("superlensAutoTop").isValid()) s.rect->setProperty("superlensAutoTop", s.rect->margins().top());
        const QVariant pref = s.legend->property("superlensPreferred");
        if (!pref.isValid()) s.legend->setProperty("superlensPreferred", s.rect->insetLayout()->insetAlignment(s.index).toInt());
        const Corner preferred = cornerFromAlignment(Qt::Alignment::fromInt(s.legend->property("superlensPreferred").toInt()));
        const QList<Corner> order = {preferred, Corner::TopRight, Corner::TopLeft, Corner::BottomRight, Corner::BottomLeft, Corner::Top, Corner::Bottom};
        // Shapes: one column, then rows of 2 and of 3 entries (wider and flatter).
        QCPLegend* legend = s.legend;
        QList<int> shapes = {0};
        for (int c = 2; c <= std::min(3, legend->itemCount()); ++c) shapes << c;
        auto setShape = [legend](int columns) {
            legend->setWrap(columns);
            legend->setFillOrder(columns == 0 ? QCPLayoutGrid::foRowsFirst : QCPLayoutGrid::foColumnsFirst, true);
            return QSizeF(legend->minimumOuterSizeHint());
        };
        auto fits = [&](const QSizeF& size) {
            const QRectF r = s.rect->rect();
            return size.width() + 2 * kLegendOffset <= r.width() && size.height() + 2 * kLegendOffset <= r.height();
        };
        auto tryCorners = [&](const QList<Corner>& corners) {
            const Obstacles obstacles = collectObstacles(plot, s.rect);
            const QSizeF size = legend->minimumOuterSizeHint();
            for (Corner c : corners) {
                const QRectF candidate = cornerRect(s.rect->rect(), size, c);
                if (!obstacles.hits(candidate.adjusted(-1.5, -1.5, 1.5, 1.5))) {
                    placeInset(s.rect, s.index, candidate);
                    return QStringLiteral("inside ") + cornerName(c);
                }
            }
            return QString();
        };
        QString placed;
        // 1. An empty corner as the data are.
        for (int shape : shapes) {
            if (!placed.isEmpty()) break;
            if (fits(setShape(shape))) placed = tryCorners(order);
        }
        // 2. Headroom on the value axis for a top corner: the shape and corner
        //    that leave the data the largest share of the axis (at least 55 %).
        QCPAxis* value = s.rect->axis(QCPAxis::atLeft);
        const QCPRange savedRange = value ? value->range() : QCPRange();
        if (placed.isEmpty() && value) {
            const bool leftFirst = preferred == Corner::TopLeft || preferred == Corner::BottomLeft;
            const QList<Corner> tops = leftFirst ? QList<Corner>{Corner::TopLeft, Corner::TopRight} : QList<Corner>{Corner::TopRight, Corner::TopLeft};
            double bestShare = 0.55;
            int bestShape = -1;
            Corner bestCorner = tops.first();
            const Obstacles obstacles = collectObstacles(plot, s.rect);
            for (int shape : shapes) {
                const QSizeF size = setShape(shape);
                if (!fits(size)) continue;
                for (Corner c : tops) {
                    const QRectF candidate = cornerRect(s.rect->rect(), size, c);
                    double upper = 0;
                    const double share = headroomShare(s.rect, obstacles, candidate.left() - 2, candidate.right() + 2, candidate.bottom() + 2, &upper);
                    if (share > bestShare + 1e-9) {
                        bestShare = share;
                        bestShape = shape;
                        bestCorner = c;
                    }
                }
            }
            if (bestShape >= 0) {
                setShape(bestShape);
                for (int attempt = 0; attempt < 3 && placed.isEmpty(); ++attempt) {
                    const QRectF candidate = cornerRect(s.rect->rect(), legend->minimumOuterSizeHint(), bestCorner);
                    if (!addHeadroom(s.rect, collectObstacles(plot, s.rect), candidate.left() - 2, candidate.right() + 2, candidate.bottom() + 2, 0.5)) break;
                    recordPlotTexts(plot, w, h);  // lay out again with the new range
                    placed = tryCorners({bestCorner});
                }
            }
            if (placed.isEmpty()) {
                value->setRange(savedRange);
                setShape(0);
                recordPlotTexts(plot, w, h);
            }
        }
        if (placed.isEmpty()) {
            placeAbove(s, w - 3.0);
            placed = QStringLiteral("above");
        }
        placements << placed;
    }
    // A legend above its rect shrank the rect: place it again on the new geometry.
    if (placements.contains(QStringLiteral("above"))) {
        recordPlotTexts(plot, w, h);
        for (const LegendSlot& s : insetLegends(plot)) {
            if (s.legend->property("superlensPlacement").toString() == QLatin1String("above")) placeAbove(s, w - 3.0);
        }
    }
    report->legendPlacements = placements;
}

// Annotations: those reaching out of their axis rect get headroom (at the
// top) or are hidden; those overlapping a more important one are hidden.
void fitAnnotations(QCustomPlot* plot, int w, int h, FigureLayoutReport* report) {
    QList<QCPItemText*> items;
    for (int i = 0; i < plot->itemCount(); ++i) {
        auto* t = qobject_cast<QCPItemText*>(plot->item(i));
        if (t && t->visible()) items << t;
    }
    if (items.isEmpty()) return;
    QHash<QCPItemText*, double> importance;
    for (int i = 0; i < items.size(); ++i) {
        const QVariant v = items[i]->property("importance");
        importance[items[i]] = v.isValid() ? v.toDouble() : -static_cast<double>(i);
    }
    std::stable_sort(items.begin(), items.end(), [&](QCPItemText* a, QCPItemText* b) { return importance[a] > importance[b]; });
    // Labels sticking out sideways: anchor them at their other side instead.
    for (QCPItemText* t : items) {
        QCPAxisRect* rect = t->clipAxisRect();
        if (!rect) continue;
        const QRectF box = itemTextRect(t), r = rect->rect();
        const Qt::Alignment vertical = t->positionAlignment() & Qt::AlignVertical_Mask;
        if (box.left() < r.left() + 0.5 && box.right() < r.right()) t->setPositionAlignment(vertical | Qt::AlignLeft);
        else if (box.right() > r.right() - 0.5 && box.left() > r.left()) t->setPositionAlignment(vertical | Qt::AlignRight);
    }
    // Headroom for labels sticking out at the top.
    for (QCPItemText* t : items) {
        QCPAxisRect* rect = t->clipAxisRect();
        if (!rect) continue;
        const QRectF box = itemTextRect(t);
        if (box.top() < rect->rect().top() + 1) {
            Obstacles o;
            o.rects << box;
            if (addHeadroom(rect, o, box.left(), box.right(), rect->rect().top() + 2, 0.5)) recordPlotTexts(plot, w, h);
        }
    }
    QList<QRectF> kept;
    for (QCPItemText* t : items) {
        const QRectF box = itemTextRect(t);
        QCPAxisRect* rect = t->clipAxisRect();
        bool drop = rect && !QRectF(rect->rect()).adjusted(-0.5, -0.5, 0.5, 0.5).contains(box);
        for (const QRectF& k : kept) drop = drop || k.intersects(box.adjusted(-0.5, -0.5, 0.5, 0.5));
        if (drop) {
            t->setVisible(false);
            report->droppedAnnotations << t->text();
        } else {
            kept << box;
        }
    }
}

// ----- what the drawn text says

enum class OwnerKind { None, Title, AxisTitle, TickLabels, Legend, Annotation };
struct Owner {
    OwnerKind kind = OwnerKind::None;
    QCPAxis* axis = nullptr;
    QCPItemText* item = nullptr;
};

Owner ownerOf(QCustomPlot* plot, const RecordedText& t, const QList<AxisInfo>& axes) {
    const QPointF c = t.bounds.center();
    for (int i = 0; i < plot->itemCount(); ++i) {
        auto* it = qobject_cast<QCPItemText*>(plot->item(i));
        if (it && it->visible() && it->text().contains(t.text.trimmed()) && itemTextRect(it).adjusted(-1, -1, 1, 1).contains(c)) {
            return {OwnerKind::Annotation, nullptr, it};
        }
    }
    for (const LegendSlot& s : insetLegends(plot)) {
        if (QRectF(s.legend->outerRect()).contains(c)) return {OwnerKind::Legend, nullptr, nullptr};
    }
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true)) {
        if (qobject_cast<QCPTextElement*>(el) && QRectF(el->outerRect()).contains(c)) return {OwnerKind::Title, nullptr, nullptr};
        if (qobject_cast<QCPLegend*>(el) && el->visible() && QRectF(el->outerRect()).contains(c)) return {OwnerKind::Legend, nullptr, nullptr};
    }
    for (const AxisInfo& info : axes) {
        if (!axisBand(info).contains(c)) continue;
        const QStringList titleLines = info.axis->label().split(QLatin1Char('\n'));
        const bool isTitle = titleLines.contains(t.text.trimmed()) || (titleLines.size() == 1 && titleLines[0].contains(t.text.trimmed()) && t.text.size() > 3);
        return {isTitle ? OwnerKind::AxisTitle : OwnerKind::TickLabels, info.axis, nullptr};
    }
    return {};
}

}  // namespace

void resetFigureLayout(QCustomPlot* plot) {
    plot->plotLayout()->setMargins(QMargins());
    for (QCPAxisRect* rect : plot->axisRects()) {
        const QVariant saved = rect->property("superlensMinimumMargins");
        if (saved.isValid()) {
            const QRect m = saved.toRect();
            rect->setMinimumMargins(QMargins(m.left(), m.top(), m.width(), m.height()));
            rect->setProperty("superlensMinimumMargins", QVariant());
        }
        rect->setProperty("superlensAutoTop", QVariant());
        for (QCPAxis* axis : rect->axes()) {
            axis->setProperty("superlensFullLabel", QVariant());
            axis->setProperty("superlensTickPixels", QVariant());
            axis->setProperty("superlensLabelPixels", QVariant());
        }
        QCPLayoutInset* inset = rect->insetLayout();
        for (int i = 0; i < inset->elementCount(); ++i) {
            inset->setInsetPlacement(i, QCPLayoutInset::ipBorderAligned);
            if (auto* legend = qobject_cast<QCPLegend*>(inset->elementAt(i))) {
                legend->setProperty("superlensPlacement", QVariant());
                legend->setProperty("superlensPreferred", QVariant());
                legend->setWrap(0);
                legend->setFillOrder(QCPLayoutGrid::foRowsFirst, true);
            }
        }
    }
}

FigureLayoutReport fitFigureLayout(QCustomPlot* plot, int width, int height, double pad) {
    FigureLayoutReport report;
    QCPLayoutGrid* grid = plot->plotLayout();
    const int ipad = static_cast<int>(std::ceil(pad));
    grid->setAutoMargins(QCP::msNone);
    grid->setMargins(QMargins(ipad, ipad, ipad, ipad));

    // Axis rects keep QCustomPlot's 15-unit minimum margins on screen; a
    // figure needs only a hairline where no axis is (the auto margins still
    // make room for every axis' labels).
    for (QCPAxisRect* rect : plot->axisRects()) setMinimumMarginsKept(rect, QMargins(2, 2, 2, 2));
    // QCustomPlot's 50x50 minimum plot area, two panels and a legend exceed
    // a short figure (Science's 2 in): the layout then squeezes every row
    // below its minimum and legend entries are cut off. The text decides.
    for (QCPAxisRect* rect : plot->axisRects()) rect->setMinimumSize(QSize(12, 12));

    // Titles: at most two lines as wide as the page.
    for (QCPLayoutElement* el : grid->elements(true)) {
        auto* title = qobject_cast<QCPTextElement*>(el);
        if (!title || title->text().isEmpty()) continue;
        report.fullTitles << title->text();
        bool shortened = false;
        const QString fitted = fitText(title->text(), title->font(), width - 2 * ipad - 2, 2, &shortened);
        if (shortened) report.shortenedTexts << title->text();
        title->setText(fitted);
    }

    // Legends that are rows of the layout (not inside an axis rect): as many
    // items per row as the page holds.
    for (QCPLayoutElement* el : grid->elements(false)) {
        if (auto* legend = qobject_cast<QCPLegend*>(el)) {
            if (legend->itemCount() > 0 && legend->minimumOuterSizeHint().width() > width - 2 * ipad) wrapLegend(legend, width - 2 * ipad);
        }
    }

    // Columns that hold only colour scales (and rows that hold only titles or
    // legends) take their minimum size; the plots get the rest.
    QList<QCPLayoutGrid*> grids = {grid};
    for (QCPLayoutElement* el : grid->elements(true)) {
        if (auto* g = qobject_cast<QCPLayoutGrid*>(el); g && !qobject_cast<QCPLegend*>(el)) grids << g;
    }
    for (QCPLayoutGrid* g : grids) {
        for (int c = 0; c < g->columnCount(); ++c) {
            bool onlyScales = false, other = false;
            for (int r = 0; r < g->rowCount(); ++r) {
                QCPLayoutElement* el = g->hasElement(r, c) ? g->element(r, c) : nullptr;
                if (!el) continue;
                if (qobject_cast<QCPColorScale*>(el)) onlyScales = true;
                else other = true;
            }
            if (onlyScales && !other) g->setColumnStretchFactor(c, 0.001);
        }
    }

    // Long names on token and channel axes: a fifth of the figure's height
    // for slanted labels under a plot, a quarter of its width beside one.
    for (const AxisInfo& info : allAxes(plot)) {
        elideLongTickLabels(info.axis, info.axis->orientation() == Qt::Horizontal ? 0.2 * height : 0.25 * width);
    }

    recordPlotTexts(plot, width, height);
    for (int iteration = 0; iteration < 8; ++iteration) {
        fitAxisTitles(plot, &report);
        recordPlotTexts(plot, width, height);
        // Tick labels: thin until neighbours no longer collide.
        for (int pass = 0; pass < 8; ++pass) {
            bool changed = false;
            for (const AxisInfo& info : allAxes(plot)) {
                if (tickLabelsCollide(info.axis)) changed = thinAxis(info.axis) || changed;
            }
            if (!changed) break;
            recordPlotTexts(plot, width, height);
        }
        fitAnnotations(plot, width, height, &report);
        placeLegends(plot, width, height, &report);
        const QList<RecordedText> texts = recordPlotTexts(plot, width, height);

        // What is drawn: text off the page or on other text.
        // Text may reach into the outer padding by half of it (QCustomPlot
        // sizes some elements with whole-unit font metrics), never further.
        const QList<AxisInfo> axes = allAxes(plot);
        const QRectF page(pad / 2, pad / 2, width - pad, height - pad);
        bool changed = false;
        QStringList problems;
        for (const RecordedText& t : texts) {
            if (page.contains(t.bounds)) continue;
            problems << QStringLiteral("'%1' leaves the page").arg(t.text);
            const Owner o = ownerOf(plot, t, axes);
            if (o.kind == OwnerKind::Annotation) {
                o.item->setVisible(false);
                report.droppedAnnotations << o.item->text();
                changed = true;
                continue;
            }
            // Widen the margin on the side the text sticks out, for the axis rect it belongs to.
            QCPAxisRect* rect = o.axis && plot->axisRects().contains(o.axis->axisRect()) ? o.axis->axisRect() : nullptr;
            if (!rect) continue;
            QMargins m = rect->minimumMargins();
            const QMargins cur = rect->margins();
            const int left = static_cast<int>(std::ceil(page.left() - t.bounds.left()));
            const int right = static_cast<int>(std::ceil(t.bounds.right() - page.right()));
            if (left > 0) m.setLeft(std::max(m.left(), cur.left() + left + 1));
            if (right > 0) m.setRight(std::max(m.right(), cur.right() + right + 1));
            if (m != rect->minimumMargins()) {
                setMinimumMarginsKept(rect, m);
                changed = true;
            }
        }
        for (int i = 0; i < texts.size(); ++i) {
            for (int j = i + 1; j < texts.size(); ++j) {
                if (!textBoxesOverlap(texts[i], texts[j])) continue;
                problems << QStringLiteral("'%1' overlaps '%2'").arg(texts[i].text, texts[j].text);
                const Owner a = ownerOf(plot, texts[i], axes), b = ownerOf(plot, texts[j], axes);
                if (a.kind == OwnerKind::Annotation || b.kind == OwnerKind::Annotation) {
                    QCPItemText* drop = a.kind == OwnerKind::Annotation ? a.item : b.item;
                    if (a.kind == OwnerKind::Annotation && b.kind == OwnerKind::Annotation &&
                        a.item->property("importance").toDouble() > b.item->property("importance").toDouble()) {
                        drop = b.item;
                    }
                    if (drop->visible()) {
                        drop->setVisible(false);
                        report.droppedAnnotations << drop->text();
                        changed = true;
                    }
                } else if (a.kind == OwnerKind::TickLabels || b.kind == OwnerKind::TickLabels) {
                    QCPAxis* axis = a.kind == OwnerKind::TickLabels ? a.axis : b.axis;
                    if (a.kind == OwnerKind::TickLabels && b.kind == OwnerKind::TickLabels && b.axis->tickVector().size() > a.axis->tickVector().size()) {
                        axis = b.axis;
                    }
                    changed = thinAxis(axis) || changed;
                } else if (a.kind == OwnerKind::Legend || b.kind == OwnerKind::Legend) {
                    for (const LegendSlot& s : insetLegends(plot)) {
                        if (s.legend->property("superlensPlacement").toString() != QLatin1String("above")) {
                            s.legend->setProperty("superlensPlacement", QStringLiteral("above"));
                            changed = true;
                        }
                    }
                }
            }
        }
        const QStringList squeezed = squeezedLegendEntries(plot);
        problems << squeezed;
        report.problems = problems;
        if (problems.isEmpty() || !changed) break;
        recordPlotTexts(plot, width, height);
    }
    return report;
}

}  // namespace superlens::widgets
