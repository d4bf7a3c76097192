#include "compare_view.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

namespace {

QString swLabel(const core::SuperWeightComparison& s) {
    return QStringLiteral("L%1 [%2, %3]").arg(s.weight.layer).arg(s.weight.row).arg(s.weight.col);
}

}  // namespace

CompareView::CompareView(QWidget* parent) : PlotView(parent) {
    connect(plot(), &QCustomPlot::mousePress, this, &CompareView::onMousePress);
    connect(plot(), &QCustomPlot::mouseMove, this, &CompareView::onMouseMove);
}

bool CompareView::rebuild(QString* emptyReason) {
    m_kinds.clear();
    m_summary.clear();
    m_swRect = nullptr;
    const ViewSnapshot& s = *snapshot();
    if (!s.modelComparison) {
        *emptyReason = noSnapshotMessage();
        return false;
    }
    const core::ModelComparison& c = *s.modelComparison;
    const PlotStyle& st = plotStyle();
    QCustomPlot* p = plot();
    const int L = static_cast<int>(c.layerRelativeError.size());
    if (L == 0) {
        *emptyReason = tr("The two models have no layers to compare.");
        return false;
    }
    const auto& lg = c.logits;
    m_summary = tr("A: %1 vs B: %2\nKL(A‖B) mean %3, max %4 nats · perplexity %5 → %6 · top-1 agreement %7%")
                    .arg(QString::fromStdString(s.modelName), QString::fromStdString(s.modelBName), shortNumber(lg.klMean), shortNumber(lg.klMax),
                         shortNumber(lg.pplA), shortNumber(lg.pplB))
                    .arg(100.0 * lg.top1Agreement, 0, 'f', 1);
    addTitle(p, m_summary);

    // Per-layer relative error, one bar series per tensor kind (block tensors only).
    for (const auto& t : c.tensors) {
        if (t.layer >= 0 && t.layer < L && !m_kinds.contains(QString::fromStdString(t.kind))) m_kinds << QString::fromStdString(t.kind);
    }
    // A linear axis from 0: identical tensors (a GGUF of the same dtype) draw no bar.
    double hi = 0;
    for (const auto& t : c.tensors) {
        if (t.layer >= 0 && std::isfinite(t.relativeError)) hi = std::max(hi, t.relativeError);
    }
    hi = std::max(hi, 1e-9);
    QCPAxisRect* rect = p->axisRect();
    const QColor palette[] = {st.original, st.edited, st.highlight, st.accent, st.extra, QColor(0x8c, 0x56, 0x4b), QColor(0xe3, 0x77, 0xc2),
                              QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22), QColor(0x17, 0xbe, 0xcf)};
    const int K = static_cast<int>(m_kinds.size());
    const double width = 0.8 / std::max(1, K);
    for (int k = 0; k < K; ++k) {
        auto* bars = new QCPBars(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
        bars->setName(m_kinds[k]);
        bars->setWidth(width);
        const QColor color = palette[k % std::size(palette)];
        bars->setBrush(color);
        bars->setPen(QPen(color.darker(130), 0.5));
        for (const auto& t : c.tensors) {
            if (QString::fromStdString(t.kind) != m_kinds[k] || t.layer < 0 || t.layer >= L) continue;
            const double v = std::isfinite(t.relativeError) ? t.relativeError : hi;
            bars->addData(t.layer - 0.4 + width * (k + 0.5), v);
        }
    }
    QCPGraph* pooled = p->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    pooled->setName(tr("all tensors of the layer"));
    pooled->setLineStyle(QCPGraph::lsNone);
    pooled->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, st.foreground, st.foreground, 7));
    for (int l = 0; l < L; ++l) pooled->addData(l, c.layerRelativeError[static_cast<std::size_t>(l)]);
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    x->setLabel(tr("layer"));
    setIntegerTicks(x);
    x->setRange(-0.5, L - 0.5);
    // Room above the bars for the legend (one row per three kinds).
    rect->axis(QCPAxis::atLeft)->setRange(0, hi * (1.25 + 0.12 * ((K + 3) / 3)));
    rect->axis(QCPAxis::atLeft)->setLabel(tr("‖B − A‖ / ‖A‖"));
    if (selectedLayer() >= 0 && selectedLayer() < L) addVerticalMarker(p, rect, selectedLayer(), QColor(0x88, 0x88, 0x88));
    p->legend->setVisible(true);
    p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    p->legend->setWrap(K > 6 ? 3 : 2);
    rect->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    // The super weights: value in A and in B (error in B's block steps), super activation in both.
    if (!c.superWeights.empty()) {
        m_swRect = new QCPAxisRect(p);
        p->plotLayout()->addElement(p->plotLayout()->rowCount(), 0, m_swRect);
        QCPAxis* sx = m_swRect->axis(QCPAxis::atBottom);
        QCPAxis* sy = m_swRect->axis(QCPAxis::atLeft);
        auto* group = new QCPBarsGroup(p);
        auto makeBars = [&](const QString& name, const QColor& color, bool b) {
            auto* bars = new QCPBars(sx, sy);
            bars->setName(name);
            bars->setWidth(0.35);
            bars->setPen(QPen(b ? color : color.darker(130), b ? 0.9 : 0.5));
            bars->setBrush(b ? tint(color, 0.3) : color);
            bars->setBarsGroup(group);
            bars->removeFromLegend();
            return bars;
        };
        QCPBars* a = makeBars(tr("weight in A"), st.original, false);
        QCPBars* b = makeBars(tr("weight in B"), st.edited, true);
        QStringList labels;
        double top = 0, bottom = 0;
        const int n = static_cast<int>(c.superWeights.size());
        for (int i = 0; i < n; ++i) {
            const auto& w = c.superWeights[static_cast<std::size_t>(i)];
            a->addData(i, w.valueA);
            b->addData(i, w.valueB);
            top = std::max({top, static_cast<double>(w.valueA), static_cast<double>(w.valueB)});
            bottom = std::min({bottom, static_cast<double>(w.valueA), static_cast<double>(w.valueB)});
            labels << swLabel(w);
            auto* text = new QCPItemText(p);
            text->setClipAxisRect(m_swRect);
            text->position->setAxes(sx, sy);
            const double at = std::max(static_cast<double>(w.valueA), static_cast<double>(w.valueB));
            text->position->setCoords(i, at >= 0 ? at : 0.0);
            text->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
            QString line = tr("A %1 · B %2").arg(w.valueA, 0, 'g', 6).arg(w.valueB, 0, 'g', 6);
            if (w.stepB > 0) line += tr(" · %1 steps of %2").arg(w.errorInStepsB, 0, 'f', 3).arg(shortNumber(w.stepB));
            line += tr("\nsuper activation %1 → %2").arg(shortNumber(w.activationA), shortNumber(w.activationB));
            if (w.hasImportance) line += tr("\nimatrix rank %1 of %2").arg(w.importanceRank).arg(w.importanceColumns);
            text->setText(line);
            text->setColor(st.foreground);
            text->setPadding(QMargins(0, 0, 0, 3));
        }
        setTextTicks(sx, labels, 20);
        sx->setRange(-0.6, n - 0.4);
        const double span = std::max(1e-9, top - bottom);
        sy->setRange(bottom - (bottom < 0 ? 0.1 * span : 0.0), top + 0.55 * span);
        sy->setLabel(tr("super weight"));
        sx->setLabel(tr("super weight (layer [row, col]): A solid, B light"));
        auto* mg = new QCPMarginGroup(p);
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, mg);
        m_swRect->setMarginGroup(QCP::msLeft | QCP::msRight, mg);
    }
    return true;
}

FigureTable CompareView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("section"),       QStringLiteral("name"),           QStringLiteral("kind"),         QStringLiteral("layer"),
                 QStringLiteral("storage_a"),     QStringLiteral("storage_b"),      QStringLiteral("relative_error"), QStringLiteral("max_abs_error"),
                 QStringLiteral("value_a"),       QStringLiteral("value_b"),        QStringLiteral("step_a"),       QStringLiteral("step_b"),
                 QStringLiteral("error_in_steps_b"), QStringLiteral("activation_a"), QStringLiteral("activation_b"), QStringLiteral("imatrix_rank"),
                 QStringLiteral("kl_mean"),       QStringLiteral("kl_max"),         QStringLiteral("ppl_a"),        QStringLiteral("ppl_b"),
                 QStringLiteral("top1_agreement")};
    if (!snapshot() || !snapshot()->modelComparison) return t;
    const core::ModelComparison& c = *snapshot()->modelComparison;
    const int n = static_cast<int>(t.columns.size());
    auto row = [n](std::initializer_list<std::pair<int, QString>> cells) {
        QStringList r;
        for (int i = 0; i < n; ++i) r << QString();
        for (const auto& [i, v] : cells) r[i] = v;
        return r;
    };
    for (const auto& d : c.tensors) {
        t.addRow(row({{0, QStringLiteral("tensor")}, {1, QString::fromStdString(d.name)}, {2, QString::fromStdString(d.kind)}, {3, QString::number(d.layer)},
                      {4, QString::fromStdString(d.storageA)}, {5, QString::fromStdString(d.storageB)}, {6, csvNumber(d.relativeError)},
                      {7, csvNumber(d.maxAbsError)}}));
    }
    for (std::size_t l = 0; l < c.layerRelativeError.size(); ++l) {
        // The pooled error of all the layer's tensors; max_abs_error holds the largest single tensor's relative error.
        t.addRow(row({{0, QStringLiteral("layer")}, {3, QString::number(l)}, {6, csvNumber(c.layerRelativeError[l])}, {7, csvNumber(c.layerMaxRelativeError[l])}}));
    }
    for (const auto& w : c.superWeights) {
        t.addRow(row({{0, QStringLiteral("super_weight")}, {1, QStringLiteral("%1[%2,%3]").arg(snapshot()->downProjTensor.size() > static_cast<std::size_t>(w.weight.layer)
                                                                                                 ? QString::fromStdString(snapshot()->downProjTensor[static_cast<std::size_t>(w.weight.layer)])
                                                                                                 : QString()).arg(w.weight.row).arg(w.weight.col)},
                      {3, QString::number(w.weight.layer)}, {8, csvNumber(w.valueA)}, {9, csvNumber(w.valueB)},
                      {10, w.stepA > 0 ? csvNumber(w.stepA) : QString()}, {11, w.stepB > 0 ? csvNumber(w.stepB) : QString()},
                      {12, w.stepB > 0 ? csvNumber(w.errorInStepsB) : QString()}, {13, csvNumber(w.activationA)}, {14, csvNumber(w.activationB)},
                      {15, w.hasImportance ? QString::number(w.importanceRank) : QString()}}));
    }
    const auto& lg = c.logits;
    t.addRow(row({{0, QStringLiteral("logits")}, {16, csvNumber(lg.klMean)}, {17, csvNumber(lg.klMax)}, {18, csvNumber(lg.pplA)}, {19, csvNumber(lg.pplB)},
                  {20, csvNumber(lg.top1Agreement)}}));
    return t;
}

void CompareView::onMousePress(QMouseEvent* event) {
    if (!snapshot() || !snapshot()->modelComparison || event->button() != Qt::LeftButton) return;
    if (!plot()->axisRect()->rect().contains(event->position().toPoint())) return;
    const int layer = nearestIndexAt(plot()->axisRect()->axis(QCPAxis::atBottom), event->position().x(),
                                     static_cast<int>(snapshot()->modelComparison->layerRelativeError.size()));
    if (layer >= 0) emit layerSelected(layer);
}

void CompareView::onMouseMove(QMouseEvent* event) {
    if (!snapshot() || !snapshot()->modelComparison || !hasData()) return;
    const core::ModelComparison& c = *snapshot()->modelComparison;
    if (!plot()->axisRect()->rect().contains(event->position().toPoint())) return;
    const int layer = nearestIndexAt(plot()->axisRect()->axis(QCPAxis::atBottom), event->position().x(), static_cast<int>(c.layerRelativeError.size()));
    if (layer < 0) return;
    QString text = tr("layer %1: all tensors %2 (largest %3)")
                       .arg(layer)
                       .arg(shortNumber(c.layerRelativeError[static_cast<std::size_t>(layer)]), shortNumber(c.layerMaxRelativeError[static_cast<std::size_t>(layer)]));
    for (const auto& d : c.tensors) {
        if (d.layer == layer) text += QStringLiteral("\n%1  %2 → %3  %4").arg(QString::fromStdString(d.kind), QString::fromStdString(d.storageA), QString::fromStdString(d.storageB), shortNumber(d.relativeError));
    }
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(compare_view, superlens::widgets::CompareView, "compare", 95)
