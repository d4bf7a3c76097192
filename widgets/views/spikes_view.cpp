#include "spikes_view.h"

#include <cmath>

#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

SpikesView::SpikesView(QWidget* parent) : PlotView(parent) {
    connect(plot(), &QCustomPlot::mousePress, this, &SpikesView::onMousePress);
    connect(plot(), &QCustomPlot::mouseMove, this, &SpikesView::onMouseMove);
    plot()->setToolTip(tr("Click a layer to select it"));
}

bool SpikesView::rebuild(QString* emptyReason) {
    const ViewSnapshot& s = *snapshot();
    if (s.originalStats.empty()) {
        *emptyReason = tr("This run recorded no down_proj activations.");
        return false;
    }
    QCustomPlot* p = plot();
    const PlotStyle& st = plotStyle();
    const int L = static_cast<int>(s.originalStats.size());
    QVector<double> keys(L), inO(L), outO(L), inE(L), outE(L);
    std::vector<double> all;
    for (int l = 0; l < L; ++l) {
        keys[l] = l;
        // Routed-experts layers have no single down_proj input: a gap in that line.
        const bool routed = s.originalStats[l].routed;
        inO[l] = routed ? qQNaN() : s.originalStats[l].downIn.absValue();
        outO[l] = s.originalStats[l].downOut.absValue();
        inE[l] = routed ? qQNaN() : s.editedStats[l].downIn.absValue();
        outE[l] = s.editedStats[l].downOut.absValue();
        all.push_back(outO[l]);
        if (!routed) all.push_back(inO[l]);
        if (s.hasEdits()) {
            all.push_back(outE[l]);
            if (!routed) all.push_back(inE[l]);
        }
    }
    const double lo = minPositive(all), hi = maxValue(all);
    // Log axis: clamp zeros to the lower bound so every point stays inside the axis rect.
    auto clamp = [lo](QVector<double> v) {
        for (double& x : v) {
            if (!std::isnan(x)) x = std::max(x, lo);
        }
        return v;
    };
    auto addSeries = [&](const QString& name, const QVector<double>& values, const QColor& color, bool edited, QCPScatterStyle::ScatterShape shape) {
        QCPGraph* g = p->addGraph();
        g->setName(name);
        g->setData(keys, clamp(values), true);
        QPen pen(color, st.lineWidth, edited ? Qt::DashLine : Qt::SolidLine);
        g->setPen(pen);
        g->setScatterStyle(QCPScatterStyle(shape, color, edited ? Qt::white : color, edited ? 7 : 5));
        return g;
    };
    const QColor inColor = st.original, outColor = st.edited;
    addSeries(tr("max |down_proj input|"), inO, inColor, false, QCPScatterStyle::ssCircle);
    addSeries(tr("max |down_proj output|"), outO, outColor, false, QCPScatterStyle::ssCircle);
    if (s.hasEdits()) {
        addSeries(tr("input, %1").arg(QString::fromStdString(s.sideName(true))), inE, inColor, true, QCPScatterStyle::ssDiamond);
        addSeries(tr("output, %1").arg(QString::fromStdString(s.sideName(true))), outE, outColor, true, QCPScatterStyle::ssDiamond);
    }
    // Super weights: a star on the output spike of their layer, with the coordinate.
    if (!s.superWeights.empty()) {
        QCPGraph* marks = p->addGraph();
        marks->setName(tr("super weight"));
        marks->setLineStyle(QCPGraph::lsNone);
        marks->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, st.highlight, 14));
        QPen starPen(st.highlight, 2.0);
        marks->setPen(starPen);
        QVector<double> mk, mv;
        for (const auto& sw : s.superWeights) {
            if (sw.layer < 0 || sw.layer >= L) continue;
            mk << sw.layer;
            mv << std::max(outO[sw.layer], lo);
            auto* label = new QCPItemText(p);
            label->position->setCoords(sw.layer, std::max(outO[sw.layer], lo));
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
            label->setPadding(QMargins(6, 0, 0, 4));
            const QString where = sw.expert >= 0 ? QStringLiteral("E%1 ").arg(sw.expert) : QString();
            label->setText(QStringLiteral("%1[%2, %3]").arg(where).arg(sw.row).arg(sw.col));
            label->setColor(st.foreground);
        }
        marks->setData(mk, mv);
    }
    p->xAxis->setLabel(tr("layer"));
    p->yAxis->setLabel(tr("max |activation|"));
    setIntegerTicks(p->xAxis);
    // Room for the coordinate label only when a super weight sits in the last layer.
    bool lastLayerLabel = false;
    for (const auto& sw : s.superWeights) lastLayerLabel = lastLayerLabel || sw.layer == L - 1;
    p->xAxis->setRange(-0.5, L - 0.5 + (lastLayerLabel ? 0.8 : 0.0));
    setLogAxis(p->yAxis, lo, hi, 0.4);
    if (selectedLayer() >= 0) addVerticalMarker(p, p->axisRect(), selectedLayer(), QColor(0x88, 0x88, 0x88));
    p->legend->setVisible(true);
    // Top right: super weights live in early layers, later layers sit low on the log axis.
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    return true;
}

FigureTable SpikesView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("layer"), QStringLiteral("down_in_absmax"), QStringLiteral("down_out_absmax"),
                 QStringLiteral("down_in_absmax_edited"), QStringLiteral("down_out_absmax_edited"), QStringLiteral("down_in_ratio"),
                 QStringLiteral("down_out_ratio"), QStringLiteral("super_weight")};
    if (!snapshot()) return t;
    const ViewSnapshot& s = *snapshot();
    for (std::size_t l = 0; l < s.originalStats.size(); ++l) {
        QStringList sws;
        for (const auto& sw : s.superWeights) {
            if (sw.layer == static_cast<int>(l)) sws << (sw.expert >= 0 ? QStringLiteral("E%1:").arg(sw.expert) : QString()) + QStringLiteral("%1:%2").arg(sw.row).arg(sw.col);
        }
        // Routed-experts layers: no single down_proj input (empty cells).
        const bool routed = s.originalStats[l].routed;
        t.addRow({QString::number(l), routed ? QString() : csvNumber(s.originalStats[l].downIn.absValue()), csvNumber(s.originalStats[l].downOut.absValue()),
                  routed ? QString() : csvNumber(s.editedStats[l].downIn.absValue()), csvNumber(s.editedStats[l].downOut.absValue()),
                  routed ? QString() : csvNumber(s.originalStats[l].downInRatio()), csvNumber(s.originalStats[l].downOutRatio()), sws.join(QLatin1Char(' '))});
    }
    return t;
}

void SpikesView::onMousePress(QMouseEvent* event) {
    if (!snapshot() || event->button() != Qt::LeftButton) return;
    const int layer = nearestIndexAt(plot()->xAxis, event->position().x(), static_cast<int>(snapshot()->originalStats.size()));
    if (layer >= 0) emit layerSelected(layer);
}

void SpikesView::onMouseMove(QMouseEvent* event) {
    if (!snapshot() || !hasData()) return;
    const ViewSnapshot& s = *snapshot();
    const int layer = nearestIndexAt(plot()->xAxis, event->position().x(), static_cast<int>(s.originalStats.size()));
    if (layer < 0) return;
    const auto& o = s.originalStats[static_cast<std::size_t>(layer)];
    QString text = tr("layer %1\nmax |down_proj input| %2 (%3× median), token %4, channel %5\nmax |down_proj output| %6 (%7× median), token %8, channel %9")
                       .arg(layer)
                       .arg(shortNumber(o.downIn.absValue()), shortNumber(o.downInRatio()))
                       .arg(o.downIn.token)
                       .arg(o.downIn.channel)
                       .arg(shortNumber(o.downOut.absValue()), shortNumber(o.downOutRatio()))
                       .arg(o.downOut.token)
                       .arg(o.downOut.channel);
    if (s.hasEdits()) {
        const auto& e = s.editedStats[static_cast<std::size_t>(layer)];
        text += tr("\nedited: input %1, output %2").arg(shortNumber(e.downIn.absValue()), shortNumber(e.downOut.absValue()));
    }
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(spikes_view, superlens::widgets::SpikesView, "spikes", 10)
