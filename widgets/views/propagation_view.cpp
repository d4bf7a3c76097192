#include "propagation_view.h"

#include <algorithm>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

PropagationView::PropagationView(QWidget* parent) : PlotView(parent) {
    m_channelBox = new QComboBox(this);
    m_channelBox->setToolTip(tr("Residual channel to follow (super activations first)"));
    m_channelBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_tokenBox = new QComboBox(this);
    m_tokenBox->setToolTip(tr("Token position whose residual value is plotted"));
    m_tokenBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    controls()->addWidget(new QLabel(tr("Channel"), this));
    controls()->addWidget(m_channelBox);
    controls()->addWidget(new QLabel(tr("Token"), this));
    controls()->addWidget(m_tokenBox);
    controls()->addStretch(1);
    connect(m_channelBox, &QComboBox::currentIndexChanged, this, [this] {
        // Following a new channel: start at the token where it was found.
        if (snapshot() && m_channelBox->currentIndex() >= 0 && m_channelBox->currentIndex() < static_cast<int>(snapshot()->tracked.size())) {
            QSignalBlocker block(m_tokenBox);
            m_tokenBox->setCurrentIndex(static_cast<int>(snapshot()->tracked[static_cast<std::size_t>(m_channelBox->currentIndex())].token));
        }
        refresh();
    });
    connect(m_tokenBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mousePress, this, &PropagationView::onMousePress);
}

void PropagationView::setTrackedIndex(int index) { m_channelBox->setCurrentIndex(index); }
void PropagationView::setToken(int token) { m_tokenBox->setCurrentIndex(token); }

QCPGraph* PropagationView::topGraph(int rank, bool edited) const { return m_top[edited ? 1 : 0][rank]; }

void PropagationView::fillChoices() {
    const ViewSnapshot& s = *snapshot();
    // Keep the user's choice across edits of the same prompt; reset for a new prompt.
    std::vector<std::int64_t> channels;
    for (const auto& tc : s.tracked) channels.push_back(tc.channel);
    if (m_choiceTokens == s.tokens && m_choiceLabels == s.tokenLabels && m_choiceChannels == channels && m_tokenBox->count() > 0) return;
    m_choiceTokens = s.tokens;
    m_choiceLabels = s.tokenLabels;
    m_choiceChannels = channels;
    QSignalBlocker b1(m_channelBox), b2(m_tokenBox);
    m_channelBox->clear();
    for (const auto& tc : s.tracked) m_channelBox->addItem(tr("%1 (%2)").arg(tc.channel).arg(QString::fromStdString(tc.origin)));
    m_tokenBox->clear();
    for (std::size_t t = 0; t < s.tokenLabels.size(); ++t) m_tokenBox->addItem(QStringLiteral("%1 %2").arg(t).arg(QString::fromStdString(s.tokenLabels[t])));
    if (!s.tracked.empty()) {
        m_channelBox->setCurrentIndex(0);
        m_tokenBox->setCurrentIndex(static_cast<int>(s.tracked.front().token));
    }
}

bool PropagationView::rebuild(QString* emptyReason) {
    m_originalGraph = m_editedGraph = nullptr;
    for (auto& row : m_top) for (auto*& g : row) g = nullptr;
    fillChoices();
    const ViewSnapshot& s = *snapshot();
    if (s.tracked.empty() || s.originalMassive.topPerLayer.empty()) {
        *emptyReason = tr("No residual-stream activations were recorded for this run.");
        return false;
    }
    const int ci = std::clamp(m_channelBox->currentIndex(), 0, static_cast<int>(s.tracked.size()) - 1);
    const TrackedChannel& tc = s.tracked[static_cast<std::size_t>(ci)];
    const int token = std::clamp(m_tokenBox->currentIndex(), 0, static_cast<int>(tc.original.size()) - 1);
    const PlotStyle& st = plotStyle();
    QCustomPlot* p = plot();
    const int L = static_cast<int>(tc.original[static_cast<std::size_t>(token)].size());

    // Top panel: the tracked channel.
    QCPAxisRect* top = p->axisRect();
    QVector<double> keys(L), vo(L), ve(L);
    std::vector<double> all;
    for (int l = 0; l < L; ++l) {
        keys[l] = l;
        vo[l] = tc.original[static_cast<std::size_t>(token)][static_cast<std::size_t>(l)];
        ve[l] = tc.edited[static_cast<std::size_t>(token)][static_cast<std::size_t>(l)];
        all.push_back(vo[l]);
        if (s.hasEdits()) all.push_back(ve[l]);
    }
    // Bottom panel data, gathered first so both panels share one log range logic.
    QCPAxisRect* bottom = new QCPAxisRect(p);
    p->plotLayout()->addElement(1, 0, bottom);
    std::vector<double> allBottom;
    auto topSeries = [&](const core::MassiveActivationReport& r, int rank) {
        QVector<double> v(L, 0.0);
        for (int l = 0; l < L && l < static_cast<int>(r.topPerLayer.size()); ++l) {
            const auto& e = r.topPerLayer[static_cast<std::size_t>(l)];
            if (rank < 3) v[l] = rank < static_cast<int>(e.size()) ? std::fabs(e[static_cast<std::size_t>(rank)].value) : 0.0;
            else v[l] = l < static_cast<int>(r.layerMedian.size()) ? r.layerMedian[static_cast<std::size_t>(l)] : 0.0;
        }
        for (double x : v) allBottom.push_back(x);
        return v;
    };
    QVector<double> series[2][4];
    for (int rank = 0; rank < 4; ++rank) {
        series[0][rank] = topSeries(s.originalMassive, rank);
        if (s.hasEdits()) series[1][rank] = topSeries(s.editedMassive, rank);
    }
    // Exact zeros (a super activation removed by zeroing its weight, or a layer
    // before the one that creates it) sit three decades below the smallest
    // positive value instead of on it, so they never look like the original.
    const bool zeros1 = std::any_of(all.begin(), all.end(), [](double x) { return !(x > 0); });
    const double lo1 = minPositive(all) * (zeros1 ? 1e-3 : 1.0), hi1 = maxValue(all);
    const double lo2 = minPositive(allBottom), hi2 = maxValue(allBottom);
    auto clampTo = [](QVector<double> v, double lo) {
        for (double& x : v) x = std::max(x, lo);
        return v;
    };

    m_originalGraph = p->addGraph(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
    m_originalGraph->setName(QString::fromStdString(s.sideName(false)));
    m_originalGraph->setData(keys, clampTo(vo, lo1), true);
    m_originalGraph->setPen(QPen(st.original, st.lineWidth));
    m_originalGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, st.original, st.original, 5));
    if (s.hasEdits()) {
        m_editedGraph = p->addGraph(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
        m_editedGraph->setName(QString::fromStdString(s.sideName(true)));
        m_editedGraph->setData(keys, clampTo(ve, lo1), true);
        m_editedGraph->setPen(QPen(st.edited, st.lineWidth, Qt::DashLine));
        m_editedGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, st.edited, Qt::white, 7));
    }
    top->axis(QCPAxis::atLeft)->setLabel(tr("|resid| ch %1, tok %2").arg(tc.channel).arg(token));
    setIntegerTicks(top->axis(QCPAxis::atBottom));
    top->axis(QCPAxis::atBottom)->setRange(-0.5, L - 0.5);
    setLogAxis(top->axis(QCPAxis::atLeft), lo1, hi1, 0.3);

    const QString names[4] = {tr("top 1"), tr("top 2"), tr("top 3"), tr("median")};
    const QColor colors[4] = {st.edited, st.highlight, st.extra, st.accent};
    for (int e = 0; e < (s.hasEdits() ? 2 : 1); ++e) {
        for (int rank = 0; rank < 4; ++rank) {
            QCPGraph* g = p->addGraph(bottom->axis(QCPAxis::atBottom), bottom->axis(QCPAxis::atLeft));
            g->setName(e == 0 ? names[rank] : names[rank] + QStringLiteral(", ") + QString::fromStdString(s.sideName(true)));
            g->setData(keys, clampTo(series[e][rank], lo2), true);
            g->setPen(QPen(colors[rank], e == 0 ? st.lineWidth : st.lineWidth * 0.8, e == 0 ? Qt::SolidLine : Qt::DashLine));
            g->setScatterStyle(QCPScatterStyle(e == 0 ? QCPScatterStyle::ssDisc : QCPScatterStyle::ssCircle, colors[rank], e == 0 ? colors[rank] : Qt::white, 4));
            if (e == 1) g->removeFromLegend();
            m_top[e][rank] = g;
        }
    }
    bottom->axis(QCPAxis::atBottom)->setLabel(tr("layer"));
    bottom->axis(QCPAxis::atLeft)->setLabel(tr("|residual| after block"));
    setIntegerTicks(bottom->axis(QCPAxis::atBottom));
    bottom->axis(QCPAxis::atBottom)->setRange(-0.5, L - 0.5);
    setLogAxis(bottom->axis(QCPAxis::atLeft), lo2, hi2, 0.3);

    // Legends: the top panel's inside its top-left corner; the bottom panel's
    // four series span the whole height range, so their legend gets a row of
    // its own under the panel instead of covering the lines.
    p->legend->setVisible(true);
    top->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    auto* legend2 = new QCPLegend;
    p->plotLayout()->addElement(2, 0, legend2);
    p->plotLayout()->setRowStretchFactor(2, 0.001);
    legend2->setLayer(QStringLiteral("legend"));
    legend2->setBorderPen(Qt::NoPen);
    for (int rank = 0; rank < 4; ++rank) {
        m_top[0][rank]->removeFromLegend(p->legend);
        m_top[0][rank]->addToLegend(legend2);
    }
    legend2->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend2->setWrap(4);
    auto* group = new QCPMarginGroup(p);
    top->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    bottom->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    if (selectedLayer() >= 0) {
        addVerticalMarker(p, top, selectedLayer(), QColor(0x88, 0x88, 0x88));
        addVerticalMarker(p, bottom, selectedLayer(), QColor(0x88, 0x88, 0x88));
    }
    return true;
}

void PropagationView::onMousePress(QMouseEvent* event) {
    if (!snapshot() || !hasData() || event->button() != Qt::LeftButton) return;
    const int L = snapshot()->layers;
    for (QCPAxisRect* rect : plot()->axisRects()) {
        if (!rect->rect().contains(event->position().toPoint())) continue;
        const int layer = nearestIndexAt(rect->axis(QCPAxis::atBottom), event->position().x(), L);
        if (layer >= 0) emit layerSelected(layer);
    }
}

FigureTable PropagationView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("layer"), QStringLiteral("channel"), QStringLiteral("token"), QStringLiteral("channel_abs_original"),
                 QStringLiteral("channel_abs_edited"), QStringLiteral("top1"), QStringLiteral("top2"), QStringLiteral("top3"),
                 QStringLiteral("median"), QStringLiteral("top1_edited"), QStringLiteral("top2_edited"), QStringLiteral("top3_edited"),
                 QStringLiteral("median_edited")};
    if (!snapshot() || !m_originalGraph) return t;
    const ViewSnapshot& s = *snapshot();
    const int ci = std::clamp(m_channelBox->currentIndex(), 0, static_cast<int>(s.tracked.size()) - 1);
    const TrackedChannel& tc = s.tracked[static_cast<std::size_t>(ci)];
    const int token = std::clamp(m_tokenBox->currentIndex(), 0, static_cast<int>(tc.original.size()) - 1);
    auto rankValue = [](const core::MassiveActivationReport& r, std::size_t l, int rank) -> double {
        if (l >= r.topPerLayer.size()) return 0.0;
        if (rank == 3) return l < r.layerMedian.size() ? r.layerMedian[l] : 0.0;
        const auto& e = r.topPerLayer[l];
        return rank < static_cast<int>(e.size()) ? std::fabs(e[static_cast<std::size_t>(rank)].value) : 0.0;
    };
    for (std::size_t l = 0; l < tc.original[static_cast<std::size_t>(token)].size(); ++l) {
        QStringList row = {QString::number(l), QString::number(tc.channel), QString::number(token),
                           csvNumber(tc.original[static_cast<std::size_t>(token)][l]), csvNumber(tc.edited[static_cast<std::size_t>(token)][l])};
        for (int rank = 0; rank < 4; ++rank) row << csvNumber(rankValue(s.originalMassive, l, rank));
        for (int rank = 0; rank < 4; ++rank) row << csvNumber(rankValue(s.editedMassive, l, rank));
        t.addRow(row);
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(propagation_view, superlens::widgets::PropagationView, "propagation", 30)
