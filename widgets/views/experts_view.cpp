#include "experts_view.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

namespace {

using core::HookKind;
using core::HookPoint;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const core::ActivationTensor* routing(const core::ForwardResult* r, int layer) {
    return r ? r->activation(HookPoint{HookKind::ExpertWeights, layer}) : nullptr;
}

// The experts pruned by the edits (expert:L:E=off, with or without :renorm).
QList<QPair<int, int>> prunedBy(const core::ForwardResult* r) {
    QList<QPair<int, int>> out;
    if (!r) return out;
    for (const auto& e : r->edits) {
        if (e.kind == core::EditKind::ExpertOff) out << qMakePair(e.expertLayer, e.expert);
    }
    return out;
}

// The k largest entries of a row (the experts a token was sent to), as the router picks them.
std::vector<int> topK(const core::ActivationTensor& w, std::int64_t t, int k) {
    std::vector<int> idx(static_cast<std::size_t>(w.cols()));
    std::iota(idx.begin(), idx.end(), 0);
    k = std::clamp(k, 0, static_cast<int>(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
        const float va = w.at(t, a), vb = w.at(t, b);
        return va != vb ? va > vb : a < b;
    });
    idx.resize(static_cast<std::size_t>(k));
    return idx;
}

double meanRouting(const core::ActivationTensor* w, int expert) {
    if (!w || w->rows() == 0 || expert >= w->cols()) return kNaN;
    double sum = 0;
    for (std::int64_t t = 0; t < w->rows(); ++t) sum += w->at(t, expert);
    return sum / static_cast<double>(w->rows());
}

}  // namespace

ExpertsView::ExpertsView(QWidget* parent) : PlotView(parent) {
    connect(plot(), &QCustomPlot::mouseMove, this, &ExpertsView::onMouseMove);
    connect(plot(), &QCustomPlot::mousePress, this, &ExpertsView::onMousePress);
}

QString ExpertsView::pruneSpec(int layer, int expert) { return QString::fromStdString(core::expertOffText(layer, expert)); }

int ExpertsView::routedIndex(int layer) const {
    if (!snapshot() || !snapshot()->expertProfile) return -1;
    const auto& layers = snapshot()->expertProfile->layers;
    const auto it = std::find(layers.begin(), layers.end(), layer);
    return it == layers.end() ? -1 : static_cast<int>(it - layers.begin());
}

double ExpertsView::shownLogMax(int layer, int expert) const {
    const int li = routedIndex(layer);
    if (!m_profileMap || li < 0 || expert < 0 || expert >= snapshot()->expertProfile->experts) return kNaN;
    return m_profileMap->data()->cell(expert, li);
}

double ExpertsView::shownRouting(bool edited, int token, int expert) const {
    const QCPColorMap* map = edited ? m_routingEdited : m_routingOriginal;
    if (!map || token < 0 || expert < 0 || token >= map->data()->keySize() || expert >= map->data()->valueSize()) return kNaN;
    return map->data()->cell(token, expert);
}

bool ExpertsView::rebuild(QString* emptyReason) {
    m_profileMap = m_routingOriginal = m_routingEdited = nullptr;
    m_routingLayer = -1;
    m_pruned.clear();
    const ViewSnapshot& s = *snapshot();
    if (!s.expertProfile) {
        *emptyReason = tr("This model has no routed experts (a dense MLP in every layer): the Experts view is for mixture-of-experts models.");
        return false;
    }
    const core::SuperExpertProfile& prof = *s.expertProfile;
    const int R = static_cast<int>(prof.layers.size()), E = prof.experts;
    if (R == 0 || E == 0) {
        *emptyReason = tr("The expert profile is empty.");
        return false;
    }
    m_pruned = prunedBy(s.edited.get());
    // The routing shown: the selected layer when routed, else the first super expert's, else the first routed layer.
    m_routingLayer = routedIndex(selectedLayer()) >= 0 ? selectedLayer()
                     : !prof.superExperts.empty()     ? prof.superExperts.front().layer
                                                      : prof.layers.front();
    const core::ActivationTensor* wo = routing(s.original.get(), m_routingLayer);
    const core::ActivationTensor* we = s.hasEdits() ? routing(s.edited.get(), m_routingLayer) : nullptr;

    const PlotStyle& st = plotStyle();
    QCustomPlot* p = plot();
    QStringList supers;
    for (const auto& x : prof.superExperts) supers << tr("L%1 E%2").arg(x.layer).arg(x.expert);
    QString summary = supers.isEmpty() ? tr("no super expert (max |down_proj out| above %1)").arg(shortNumber(prof.threshold))
                                       : tr("super experts %1 (max |down_proj out| > %2)").arg(supers.join(QStringLiteral(", ")), shortNumber(prof.threshold));
    if (!m_pruned.isEmpty()) summary += tr("; %n pruned", nullptr, static_cast<int>(m_pruned.size()));
    addTitle(p, summary);

    QCPAxisRect* profileRect = p->axisRect();
    auto* grid = new QCPLayoutGrid;
    const int row = p->plotLayout()->rowCount() - 1;
    p->plotLayout()->take(profileRect);
    p->plotLayout()->addElement(row, 0, grid);
    auto* top = new QCPLayoutGrid;
    auto* bottom = new QCPLayoutGrid;
    grid->addElement(0, 0, top);
    grid->addElement(1, 0, bottom);
    top->addElement(0, 0, profileRect);

    // Profile map: x = expert, y = routed layer (row index, labelled with the layer number).
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& stat : prof.stats) {
        if (stat.maxAbsOut > 0) {
            lo = std::min(lo, std::log10(stat.maxAbsOut));
            hi = std::max(hi, std::log10(stat.maxAbsOut));
        }
    }
    if (!std::isfinite(lo)) lo = hi = 0;
    if (hi - lo < 1e-9) hi = lo + 1;
    QCPAxis* px = profileRect->axis(QCPAxis::atBottom);
    QCPAxis* py = profileRect->axis(QCPAxis::atLeft);
    m_profileMap = new QCPColorMap(px, py);
    m_profileMap->data()->setSize(E, R);
    m_profileMap->data()->setRange(QCPRange(0, E - 1), QCPRange(0, R - 1));
    for (int li = 0; li < R; ++li) {
        for (int e = 0; e < E; ++e) {
            const double v = prof.at(static_cast<std::size_t>(li), e).maxAbsOut;
            m_profileMap->data()->setCell(e, li, v > 0 ? std::log10(v) : lo);  // never routed: the floor
        }
    }
    auto* profileScale = new QCPColorScale(p);
    top->addElement(0, 1, profileScale);
    profileScale->setBarWidth(8);
    profileScale->setGradient(viridisGradient());
    profileScale->setDataRange(QCPRange(lo, hi));
    profileScale->axis()->setLabel(tr("log10 max |out|"));
    m_profileMap->setColorScale(profileScale);
    m_profileMap->setGradient(viridisGradient());
    m_profileMap->setDataRange(QCPRange(lo, hi));
    m_profileMap->setInterpolate(false);
    QStringList expertLabels, layerLabels;
    for (int e = 0; e < E; ++e) expertLabels << QString::number(e);
    for (int l : prof.layers) layerLabels << QString::number(l);
    setTextTicks(px, expertLabels, 32);
    setTextTicks(py, layerLabels, 24);
    px->setRange(-0.5, E - 0.5);
    py->setRange(-0.5, R - 0.5);
    py->setRangeReversed(true);
    px->setLabel(tr("expert"));
    py->setLabel(tr("layer"));
    for (const auto& x : prof.superExperts) {
        const int li = routedIndex(x.layer);
        auto* box = new QCPItemRect(p);
        box->setClipAxisRect(profileRect);
        box->topLeft->setAxes(px, py);
        box->bottomRight->setAxes(px, py);
        box->topLeft->setCoords(x.expert - 0.45, li - 0.45);
        box->bottomRight->setCoords(x.expert + 0.45, li + 0.45);
        box->setPen(QPen(st.highlight, 2.0));
        box->setBrush(Qt::NoBrush);
    }
    for (const auto& [l, e] : m_pruned) {
        const int li = routedIndex(l);
        if (li < 0) continue;
        for (int d : {1, -1}) {
            auto* line = new QCPItemLine(p);
            line->setClipAxisRect(profileRect);
            line->start->setAxes(px, py);
            line->end->setAxes(px, py);
            line->start->setCoords(e - 0.4, li - 0.4 * d);
            line->end->setCoords(e + 0.4, li + 0.4 * d);
            line->setPen(QPen(st.edited, 2.0));
        }
    }
    // The routing layer's row, marked on the profile.
    if (const int li = routedIndex(m_routingLayer); li >= 0) {
        auto* mark = new QCPItemRect(p);
        mark->setClipAxisRect(profileRect);
        mark->topLeft->setAxes(px, py);
        mark->bottomRight->setAxes(px, py);
        mark->topLeft->setCoords(-0.5, li - 0.5);
        mark->bottomRight->setCoords(E - 0.5, li + 0.5);
        mark->setPen(QPen(st.foreground, 1.0, Qt::DashLine));
        mark->setBrush(Qt::NoBrush);
    }

    // Routing of the selected layer: x = token, y = expert, router probability.
    auto* group = new QCPMarginGroup(p);
    auto* routingScale = new QCPColorScale(p);
    routingScale->setBarWidth(8);
    routingScale->setGradient(viridisGradient());
    routingScale->setDataRange(QCPRange(0, 1));
    routingScale->axis()->setLabel(tr("router p"));
    auto makeRouting = [&](QCPAxisRect* rect, const core::ActivationTensor& w, const QString& title) {
        const int T = static_cast<int>(w.rows());
        QCPAxis* x = rect->axis(QCPAxis::atBottom);
        QCPAxis* y = rect->axis(QCPAxis::atLeft);
        auto* map = new QCPColorMap(x, y);
        map->data()->setSize(T, E);
        map->data()->setRange(QCPRange(0, T - 1), QCPRange(0, E - 1));
        for (int t = 0; t < T; ++t) {
            for (int e = 0; e < E && e < w.cols(); ++e) map->data()->setCell(t, e, w.at(t, e));
        }
        map->setColorScale(routingScale);
        map->setGradient(viridisGradient());
        map->setDataRange(QCPRange(0, 1));
        map->setInterpolate(false);
        // The experts each token was sent to (its top-k).
        auto* sent = new QCPGraph(x, y);
        sent->setLineStyle(QCPGraph::lsNone);
        sent->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(st.highlight, 1.5), Qt::NoBrush, 5));
        QVector<double> keys, values;
        for (int t = 0; t < T; ++t) {
            for (int e : topK(w, t, prof.topK)) {
                keys << t;
                values << e;
            }
        }
        sent->setData(keys, values, true);
        sent->removeFromLegend();
        QStringList tokenLabels;
        for (int t = 0; t < T; ++t) tokenLabels << QString::fromStdString(s.tokenLabels.at(static_cast<std::size_t>(t)));
        setTextTicks(x, tokenLabels, 24);
        x->setTickLabelRotation(-60);
        setTextTicks(y, expertLabels, 16);
        x->setRange(-0.5, T - 0.5);
        y->setRange(-0.5, E - 0.5);
        y->setRangeReversed(true);
        x->setLabel(title);
        y->setLabel(tr("expert"));
        rect->setMarginGroup(QCP::msTop | QCP::msBottom, group);
        return map;
    };
    // Paper figures (a fixed printed height) show the profile alone: two stacked
    // maps do not fit a column's height; the CSV has the routing's means.
    const bool paper = st.figureHeight > 0;
    if (wo && !paper) {
        auto* rect = new QCPAxisRect(p);
        bottom->addElement(0, 0, rect);
        m_routingOriginal = makeRouting(rect, *wo, we ? tr("layer %1 routing (original)").arg(m_routingLayer) : tr("layer %1 routing").arg(m_routingLayer));
        if (we) {
            auto* editedRect = new QCPAxisRect(p);
            bottom->addElement(0, 1, editedRect);
            m_routingEdited = makeRouting(editedRect, *we, tr("layer %1 routing (edited)").arg(m_routingLayer));
        }
        bottom->addElement(0, bottom->columnCount(), routingScale);
        routingScale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    } else {
        delete routingScale;
    }
    if (paper) {
        grid->remove(bottom);
        grid->simplify();
    } else {
        grid->setRowStretchFactors({1.0, 1.0});
    }
    return true;
}

bool ExpertsView::cellAt(const QPoint& pos, int* layer, int* expert) const {
    if (!hasData() || !m_profileMap || !m_profileMap->keyAxis()->axisRect()->rect().contains(pos)) return false;
    const core::SuperExpertProfile& prof = *snapshot()->expertProfile;
    const int e = static_cast<int>(std::lround(m_profileMap->keyAxis()->pixelToCoord(pos.x())));
    const int li = static_cast<int>(std::lround(m_profileMap->valueAxis()->pixelToCoord(pos.y())));
    if (e < 0 || li < 0 || e >= prof.experts || li >= static_cast<int>(prof.layers.size())) return false;
    *layer = prof.layers[static_cast<std::size_t>(li)];
    *expert = e;
    return true;
}

void ExpertsView::onMousePress(QMouseEvent* event) {
    int layer = 0, expert = 0;
    if (event->button() != Qt::LeftButton || !cellAt(event->position().toPoint(), &layer, &expert)) return;
    const bool pruned = m_pruned.contains(qMakePair(layer, expert));
    emit editToggled(pruneSpec(layer, expert), tr("prune layer %1 expert %2").arg(layer).arg(expert));
    emit layerSelected(layer);
    emit statusMessage(pruned ? tr("Restoring layer %1 expert %2").arg(layer).arg(expert) : tr("Pruning layer %1 expert %2 (%3)").arg(layer).arg(expert).arg(pruneSpec(layer, expert)));
}

void ExpertsView::onMouseMove(QMouseEvent* event) {
    int layer = 0, expert = 0;
    if (!cellAt(event->position().toPoint(), &layer, &expert)) return;
    const core::SuperExpertProfile& prof = *snapshot()->expertProfile;
    const core::ExpertStat& x = prof.at(static_cast<std::size_t>(routedIndex(layer)), expert);
    QString text = tr("layer %1, expert %2\nmax |down_proj out| %3").arg(layer).arg(expert).arg(shortNumber(x.maxAbsOut));
    if (x.prompt >= 0) text += tr(" at token %1, channel %2").arg(x.token).arg(x.channel);
    text += tr("\nload %1 token(s)").arg(x.load);
    if (x.super) text += tr("\nsuper expert");
    text += m_pruned.contains(qMakePair(layer, expert)) ? tr("\nclick: restore it") : tr("\nclick: prune it (expert:%1:%2=off)").arg(layer).arg(expert);
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

FigureTable ExpertsView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("layer"),          QStringLiteral("expert"),           QStringLiteral("max_abs_out"),
                 QStringLiteral("value"),          QStringLiteral("token"),            QStringLiteral("channel"),
                 QStringLiteral("load"),           QStringLiteral("super"),            QStringLiteral("pruned"),
                 QStringLiteral("mean_p_original"), QStringLiteral("mean_p_edited")};
    if (!hasData() || !snapshot() || !snapshot()->expertProfile) return t;
    const ViewSnapshot& s = *snapshot();
    const core::SuperExpertProfile& prof = *s.expertProfile;
    for (std::size_t li = 0; li < prof.layers.size(); ++li) {
        const int l = prof.layers[li];
        const core::ActivationTensor* wo = routing(s.original.get(), l);
        const core::ActivationTensor* we = routing(s.edited.get(), l);
        for (int e = 0; e < prof.experts; ++e) {
            const core::ExpertStat& x = prof.at(li, e);
            t.addRow({QString::number(l), QString::number(e), csvNumber(x.maxAbsOut), csvNumber(x.value), QString::number(x.token),
                      QString::number(x.channel), QString::number(x.load), x.super ? QStringLiteral("1") : QStringLiteral("0"),
                      m_pruned.contains(qMakePair(l, e)) ? QStringLiteral("1") : QStringLiteral("0"), csvNumber(meanRouting(wo, e)),
                      csvNumber(meanRouting(we, e))});
        }
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(experts_view, superlens::widgets::ExpertsView, "experts", 100)
