#include "massive_view.h"

#include <map>
#include <set>

#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

using core::HookKind;
using core::HookPoint;

namespace {
constexpr int kHeatmapChannels = 8;
}

MassiveView::MassiveView(QWidget* parent) : PlotView(parent) {
    connect(plot(), &QCustomPlot::mouseMove, this, &MassiveView::onMouseMove);
}

// Channels shown in the heatmap: the layer's flagged and top entries first,
// then tracked super-activation channels, then the next strongest channels.
std::vector<std::int64_t> MassiveView::heatmapChannels(int maxChannels) const {
    const ViewSnapshot& s = *snapshot();
    const int layer = selectedLayer();
    std::vector<std::int64_t> channels;
    auto add = [&](std::int64_t c) {
        if (static_cast<int>(channels.size()) < maxChannels && std::find(channels.begin(), channels.end(), c) == channels.end()) channels.push_back(c);
    };
    for (const auto& m : s.originalMassive.flagged) {
        if (m.layer == layer) add(m.channel);
    }
    if (layer < static_cast<int>(s.originalMassive.topPerLayer.size())) {
        for (const auto& m : s.originalMassive.topPerLayer[static_cast<std::size_t>(layer)]) add(m.channel);
    }
    for (const auto& tc : s.tracked) add(tc.channel);
    // Fill with the channels holding the largest |value| at any token (reading the recorded tensor).
    const core::ActivationTensor* a = s.original->activation(HookPoint{HookKind::ResidPost, layer});
    if (a && static_cast<int>(channels.size()) < maxChannels) {
        std::vector<std::pair<float, std::int64_t>> peaks;
        for (std::int64_t c = 0; c < a->cols(); ++c) {
            float m = 0;
            for (std::int64_t t = 0; t < a->rows(); ++t) m = std::max(m, std::fabs(a->at(t, c)));
            peaks.push_back({m, c});
        }
        std::sort(peaks.begin(), peaks.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
        for (const auto& [m, c] : peaks) add(c);
    }
    return channels;
}

bool MassiveView::rebuild(QString* emptyReason) {
    m_originalBars = m_carrierBars = m_editedBars = nullptr;
    m_map = nullptr;
    m_barRect = nullptr;
    const ViewSnapshot& s = *snapshot();
    const int layer = selectedLayer();
    if (layer < 0 || layer >= static_cast<int>(s.originalTokenPeak.size())) {
        *emptyReason = tr("Select a layer in the layer navigator.");
        return false;
    }
    const core::ActivationTensor* a = s.original->activation(HookPoint{HookKind::ResidPost, layer});
    if (!a) {
        *emptyReason = tr("This run did not record the residual stream of layer %1.").arg(layer);
        return false;
    }
    const PlotStyle& st = plotStyle();
    QCustomPlot* p = plot();
    const int T = static_cast<int>(s.tokenCount());
    QStringList tokenLabels;
    for (int t = 0; t < T; ++t) tokenLabels << QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]);

    // Heatmap: channels (rows) x tokens (columns).
    // A printed figure shows as many channel rows as its heatmap has room
    // for with readable labels (the heatmap gets about 40 % of the height
    // left after titles and token labels); the screen shows kHeatmapChannels.
    int maxChannels = kHeatmapChannels;
    if (st.figureHeight > 0) {
        const double rowPitch = 1.2 * 0.9 * st.fontSize;
        maxChannels = std::clamp(static_cast<int>((st.figureHeight - 70.0) * 0.4 / rowPitch), 3, kHeatmapChannels);
    }
    const std::vector<std::int64_t> channels = heatmapChannels(maxChannels);
    QCPAxisRect* mapRect = p->axisRect();
    m_map = new QCPColorMap(mapRect->axis(QCPAxis::atBottom), mapRect->axis(QCPAxis::atLeft));
    const int C = static_cast<int>(channels.size());
    m_map->data()->setSize(T, C);
    m_map->data()->setRange(QCPRange(0, T - 1), QCPRange(0, std::max(0, C - 1)));
    double hi = 1e-12;
    for (int t = 0; t < T; ++t) {
        for (int i = 0; i < C; ++i) hi = std::max(hi, static_cast<double>(std::fabs(a->at(t, channels[static_cast<std::size_t>(i)]))));
    }
    const double lo = hi * 1e-4;
    for (int t = 0; t < T; ++t) {
        for (int i = 0; i < C; ++i) m_map->data()->setCell(t, i, std::max(lo, static_cast<double>(std::fabs(a->at(t, channels[static_cast<std::size_t>(i)])))));
    }
    auto* scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    // Connect the scale first: it hands its gradient and range to the map.
    m_map->setColorScale(scale);
    scale->setDataScaleType(QCPAxis::stLogarithmic);
    m_map->setGradient(QCPColorGradient(QCPColorGradient::gpThermal));
    m_map->setDataRange(QCPRange(lo, hi));
    m_map->setInterpolate(false);
    scale->setBarWidth(10);
    scale->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    scale->axis()->setNumberFormat(QStringLiteral("eb"));
    scale->axis()->setNumberPrecision(0);
    scale->axis()->setLabel(tr("|resid|"));
    QStringList channelLabels;
    for (std::int64_t c : channels) channelLabels << QStringLiteral("ch %1").arg(c);
    setTextTicks(mapRect->axis(QCPAxis::atLeft), channelLabels);
    mapRect->axis(QCPAxis::atLeft)->setRange(-0.5, C - 0.5);
    mapRect->axis(QCPAxis::atLeft)->setRangeReversed(true);
    mapRect->axis(QCPAxis::atBottom)->setRange(-0.5, T - 0.5);
    mapRect->axis(QCPAxis::atBottom)->setTickLabels(false);
    mapRect->axis(QCPAxis::atLeft)->setLabel(tr("layer %1").arg(layer));

    // Bars: each token's largest |residual|, original and edited side by side.
    m_barRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(1, 0, m_barRect);
    p->plotLayout()->setRowStretchFactors({1.0, 1.3});
    QCPAxis* keyAxis = m_barRect->axis(QCPAxis::atBottom);
    QCPAxis* valueAxis = m_barRect->axis(QCPAxis::atLeft);
    const auto& po = s.originalTokenPeak[static_cast<std::size_t>(layer)];
    const auto& pe = s.editedTokenPeak[static_cast<std::size_t>(layer)];
    std::vector<double> all(po.begin(), po.end());
    if (s.hasEdits()) all.insert(all.end(), pe.begin(), pe.end());
    const double blo = minPositive(all), bhi = maxValue(all);
    setLogAxis(valueAxis, blo, bhi, 0.5);
    const double base = valueAxis->range().lower;  // bars start at the axis floor: no clipping needed in SVG
    const double width = s.hasEdits() ? 0.4 : 0.7;
    const double shift = s.hasEdits() ? 0.2 : 0.0;
    auto makeBars = [&](const QString& name, const QColor& color, bool edited) {
        auto* bars = new QCPBars(keyAxis, valueAxis);
        bars->setName(name);
        bars->setWidth(width);
        bars->setBaseValue(base);
        bars->setPen(QPen(edited ? color : color.darker(130), edited ? 0.9 : 0.5));
        bars->setBrush(edited ? tint(color, 0.3) : color);
        return bars;
    };
    m_originalBars = makeBars(tr("max |resid|"), st.original, false);
    m_carrierBars = makeBars(tr("first token / delimiter"), st.highlight, false);
    for (int t = 0; t < T; ++t) {
        const double v = std::max(static_cast<double>(po[static_cast<std::size_t>(t)]), base);
        (s.delimiterToken[static_cast<std::size_t>(t)] ? m_carrierBars : m_originalBars)->addData(t - shift, v);
    }
    if (s.hasEdits()) {
        m_editedBars = makeBars(QString::fromStdString(s.sideName(true)), st.edited, true);
        for (int t = 0; t < T; ++t) m_editedBars->addData(t + shift, std::max(static_cast<double>(pe[static_cast<std::size_t>(t)]), base));
    }
    // Median of the whole layer tensor, for scale (massive = >= 100x the median).
    if (layer < static_cast<int>(s.originalMassive.layerMedian.size())) {
        const double median = std::max(s.originalMassive.layerMedian[static_cast<std::size_t>(layer)], base);
        QCPGraph* g = p->addGraph(keyAxis, valueAxis);
        g->setName(tr("layer median"));
        g->setData({-0.5, T - 0.5}, {median, median});
        g->setPen(QPen(st.accent, st.lineWidth, Qt::DashLine));
    }
    // Label the layer's largest entries with their channel.
    if (layer < static_cast<int>(s.originalMassive.topPerLayer.size())) {
        std::set<std::int64_t> labelled;
        for (const auto& m : s.originalMassive.topPerLayer[static_cast<std::size_t>(layer)]) {
            if (!labelled.insert(m.token).second || m.token >= T) continue;
            auto* text = new QCPItemText(p);
            text->setClipAxisRect(m_barRect);
            text->position->setAxes(keyAxis, valueAxis);
            text->position->setCoords(m.token - shift, std::max(static_cast<double>(std::fabs(m.value)), base));
            // Centred on its bar, except at the ends of the axis, where a centred
            // label would stick out of the plot.
            const Qt::Alignment side = m.token == 0 ? Qt::AlignLeft : (m.token == T - 1 ? Qt::AlignRight : Qt::AlignHCenter);
            text->setPositionAlignment(side | Qt::AlignBottom);
            text->setText(QStringLiteral("ch %1").arg(m.channel));
            text->setColor(st.foreground);
        }
    }
    setTextTicks(keyAxis, tokenLabels, 32);
    keyAxis->setTickLabelRotation(T > 8 ? 60 : 0);
    keyAxis->setRange(-0.5, T - 0.5);
    valueAxis->setLabel(tr("max |resid| per token"));

    auto* legend = new QCPLegend;
    m_barRect->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
    legend->setLayer(QStringLiteral("legend"));
    for (int i = 0; i < p->plottableCount(); ++i) {
        QCPAbstractPlottable* pl = p->plottable(i);
        if (pl != m_map) pl->addToLegend(legend);
    }
    auto* group = new QCPMarginGroup(p);
    mapRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    m_barRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    auto* group2 = new QCPMarginGroup(p);
    mapRect->setMarginGroup(QCP::msTop | QCP::msBottom, group2);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, group2);
    return true;
}

void MassiveView::onMouseMove(QMouseEvent* event) {
    if (!snapshot() || !hasData() || !m_barRect) return;
    const ViewSnapshot& s = *snapshot();
    const int T = static_cast<int>(s.tokenCount());
    QCPAxis* keyAxis = m_barRect->axis(QCPAxis::atBottom);
    const int t = nearestIndexAt(keyAxis, event->position().x(), T);
    if (t < 0) return;
    const int layer = selectedLayer();
    QString text = tr("token %1 %2\nmax |resid| %3").arg(t).arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]))
                       .arg(shortNumber(s.originalTokenPeak[static_cast<std::size_t>(layer)][static_cast<std::size_t>(t)]));
    if (s.hasEdits()) text += tr(", edited %1").arg(shortNumber(s.editedTokenPeak[static_cast<std::size_t>(layer)][static_cast<std::size_t>(t)]));
    if (s.delimiterToken[static_cast<std::size_t>(t)]) text += tr("\nfirst token / delimiter: a typical massive-activation carrier");
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

FigureTable MassiveView::dataTable() const {
    FigureTable t;
    t.title = title();
    // top_channel: the channel of the layer's largest entries at that token,
    // the bars' "ch N" annotations (all of them, also those a narrow figure
    // leaves out).
    t.columns = {QStringLiteral("layer"), QStringLiteral("token"), QStringLiteral("label"), QStringLiteral("carrier"),
                 QStringLiteral("max_abs_resid"), QStringLiteral("max_abs_resid_edited"), QStringLiteral("top_channel")};
    if (!snapshot() || !hasData()) return t;
    const ViewSnapshot& s = *snapshot();
    const int layer = selectedLayer();
    std::map<std::int64_t, std::int64_t> topChannel;
    if (layer < static_cast<int>(s.originalMassive.topPerLayer.size())) {
        for (const auto& m : s.originalMassive.topPerLayer[static_cast<std::size_t>(layer)]) topChannel.emplace(m.token, m.channel);
    }
    for (std::size_t tok = 0; tok < s.tokenLabels.size(); ++tok) {
        const auto top = topChannel.find(static_cast<std::int64_t>(tok));
        t.addRow({QString::number(layer), QString::number(tok), QString::fromStdString(s.tokenLabels[tok]),
                  s.delimiterToken[tok] ? QStringLiteral("1") : QStringLiteral("0"),
                  csvNumber(s.originalTokenPeak[static_cast<std::size_t>(layer)][tok]), csvNumber(s.editedTokenPeak[static_cast<std::size_t>(layer)][tok]),
                  top == topChannel.end() ? QString() : QString::number(top->second)});
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(massive_view, superlens::widgets::MassiveView, "massive", 40)
