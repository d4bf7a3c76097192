#include "layer_detail_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

using core::HookKind;
using core::HookPoint;

LayerDetailView::LayerDetailView(QWidget* parent) : PlotView(parent) {
    m_tensorBox = new QComboBox(this);
    m_tensorBox->addItem(tr("down_proj output (hook_mlp_out)"));
    m_tensorBox->addItem(tr("down_proj input (mlp.hook_post)"));
    m_tensorBox->setToolTip(tr("Which side of down_proj to show"));
    m_runBox = new QComboBox(this);
    m_runBox->addItem(tr("original"));
    m_runBox->addItem(tr("edited"));
    m_runBox->setToolTip(tr("The unedited model or the model with the current ablations"));
    controls()->addWidget(new QLabel(tr("Show"), this));
    controls()->addWidget(m_tensorBox);
    controls()->addWidget(m_runBox);
    controls()->addStretch(1);
    connect(m_tensorBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_runBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mousePress, this, &LayerDetailView::onMousePress);
    connect(plot(), &QCustomPlot::mouseMove, this, &LayerDetailView::onMouseMove);
}

void LayerDetailView::setTensor(Tensor tensor) { m_tensorBox->setCurrentIndex(tensor == Tensor::DownOutput ? 0 : 1); }
void LayerDetailView::setShowEdited(bool edited) { m_runBox->setCurrentIndex(edited ? 1 : 0); }

const core::ActivationTensor* LayerDetailView::currentTensor() const {
    if (!snapshot() || selectedLayer() < 0) return nullptr;
    const auto& run = (m_runBox->currentIndex() == 1 && snapshot()->edited) ? *snapshot()->edited : *snapshot()->original;
    const HookKind kind = m_tensorBox->currentIndex() == 0 ? HookKind::MlpOut : HookKind::MlpPost;
    return run.activation(HookPoint{kind, selectedLayer()});
}

const core::ActivationTensor* LayerDetailView::otherTensor() const {
    if (!snapshot() || selectedLayer() < 0) return nullptr;
    const auto& run = (m_runBox->currentIndex() == 1 && snapshot()->edited) ? *snapshot()->edited : *snapshot()->original;
    const HookKind kind = m_tensorBox->currentIndex() == 0 ? HookKind::MlpPost : HookKind::MlpOut;
    return run.activation(HookPoint{kind, selectedLayer()});
}

bool LayerDetailView::routedLayer() const {
    const int l = selectedLayer();
    return snapshot() && l >= 0 && l < static_cast<int>(snapshot()->originalStats.size()) && snapshot()->originalStats[static_cast<std::size_t>(l)].routed;
}

const core::ImatrixEntry* LayerDetailView::importanceEntry() const {
    if (!snapshot() || selectedLayer() < 0 || selectedLayer() >= static_cast<int>(snapshot()->downImportance.size())) return nullptr;
    return snapshot()->downImportance[static_cast<std::size_t>(selectedLayer())];
}

std::int64_t LayerDetailView::importanceRank(std::int64_t column) const {
    const core::ImatrixEntry* e = importanceEntry();
    if (!e || column < 0 || column >= e->columns) return 0;
    if (m_sortedFor != e) {
        m_sorted.clear();
        for (std::int64_t c = 0; c < e->columns; ++c) {
            if (!std::isnan(e->at(c))) m_sorted.push_back(e->at(c));
        }
        std::sort(m_sorted.begin(), m_sorted.end());
        m_sortedFor = e;
    }
    const double v = e->at(column);
    if (std::isnan(v)) return 1;  // nothing compares greater than NaN (as ImatrixEntry::rank)
    return 1 + static_cast<std::int64_t>(m_sorted.end() - std::upper_bound(m_sorted.begin(), m_sorted.end(), v));
}

QList<QPair<QString, QString>> LayerDetailView::figureState() const {
    return {{QStringLiteral("tensor"), m_tensorBox->currentIndex() == 0 ? QStringLiteral("output") : QStringLiteral("input")}};
}

bool LayerDetailView::applyFigureState(const QString& key, const QString& value, QString* error) {
    if (key != QLatin1String("tensor")) return PlotView::applyFigureState(key, value, error);
    if (value != QLatin1String("output") && value != QLatin1String("input")) {
        *error = tr("--tensor: '%1' is not output or input").arg(value);
        return false;
    }
    setTensor(value == QLatin1String("output") ? Tensor::DownOutput : Tensor::DownInput);
    return true;
}

bool LayerDetailView::rebuild(QString* emptyReason) {
    m_map = nullptr;
    m_importanceText.clear();
    m_runBox->setEnabled(snapshot()->hasEdits());
    m_runBox->setItemText(0, QString::fromStdString(snapshot()->sideName(false)));  // "original", "run A" or "model A"
    m_runBox->setItemText(1, QString::fromStdString(snapshot()->sideName(true)));
    if (!snapshot()->hasEdits() && m_runBox->currentIndex() != 0) {
        QSignalBlocker block(m_runBox);
        m_runBox->setCurrentIndex(0);
    }
    const core::ActivationTensor* a = currentTensor();
    if (!a) {
        *emptyReason = selectedLayer() < 0 ? tr("Select a layer in the layer navigator.")
                       : routedLayer()     ? tr("Layer %1 routes each token to its experts, each with its own down projection: "
                                                "its down_proj output is here, the experts' are in the Experts view.").arg(selectedLayer())
                                           : tr("This run did not record layer %1.").arg(selectedLayer());
        return false;
    }
    const ViewSnapshot& s = *snapshot();
    QCustomPlot* p = plot();
    const std::int64_t T = a->rows(), C = a->cols();
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->data()->setSize(static_cast<int>(C), static_cast<int>(T));
    m_map->data()->setRange(QCPRange(0, static_cast<double>(C - 1)), QCPRange(0, static_cast<double>(T - 1)));
    float maxAbs = 0.0f;
    for (float v : a->values) maxAbs = std::max(maxAbs, std::fabs(v));
    // Log colour scale over four decades below the peak: spikes stand out,
    // ordinary activations stay visible. Smaller values are drawn at the floor.
    const double hi = std::max(1e-12, static_cast<double>(maxAbs));
    const double lo = hi * 1e-4;
    for (std::int64_t t = 0; t < T; ++t) {
        for (std::int64_t c = 0; c < C; ++c) {
            m_map->data()->setCell(static_cast<int>(c), static_cast<int>(t), std::max(lo, static_cast<double>(std::fabs(a->at(t, c)))));
        }
    }
    auto* scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setType(QCPAxis::atRight);
    scale->setBarWidth(10);
    m_map->setColorScale(scale);
    scale->setDataScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> logTicker(new QCPAxisTickerLog);
    scale->axis()->setTicker(logTicker);
    scale->axis()->setNumberFormat(QStringLiteral("eb"));
    scale->axis()->setNumberPrecision(0);
    scale->axis()->setLabel(m_tensorBox->currentIndex() == 0 ? tr("|down_proj output|") : tr("|down_proj input|"));
    m_map->setGradient(QCPColorGradient(QCPColorGradient::gpThermal));
    m_map->setDataRange(QCPRange(lo, hi));
    m_map->setInterpolate(false);
    auto* group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);

    p->xAxis->setLabel(tr("channel (layer %1)").arg(selectedLayer()));
    setIntegerTicks(p->xAxis);
    p->xAxis->setRange(-0.5, static_cast<double>(C) - 0.5);
    QStringList labels;
    for (std::int64_t t = 0; t < T; ++t) {
        labels << QStringLiteral("%1 %2").arg(t).arg(t < static_cast<std::int64_t>(s.tokenLabels.size()) ? QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]) : QString());
    }
    setTextTicks(p->yAxis, labels, 24);
    p->yAxis->setRangeReversed(true);  // token 0 at the top, as text reads
    p->yAxis->setRange(-0.5, static_cast<double>(T) - 0.5);
    p->yAxis->setLabel(tr("token"));

    // llama.cpp's importance of each down_proj input column, and each super weight's column rank.
    if (const core::ImatrixEntry* e = importanceEntry()) {
        QStringList parts;
        for (const auto& sw : s.superWeights) {
            if (sw.layer != selectedLayer() || sw.expert >= 0) continue;
            const std::int64_t col = sw.inputChannel();
            if (col < 0 || col >= e->columns) continue;
            parts << tr("super weight column %1: importance %2, rank %3 of %4").arg(col).arg(shortNumber(e->at(col))).arg(importanceRank(col)).arg(e->columns);
        }
        if (parts.isEmpty()) parts << tr("importance of %1's %2 input columns").arg(QString::fromStdString(e->name)).arg(e->columns);
        m_importanceText = tr("imatrix %1: %2").arg(QString::fromStdString(s.imatrixName), parts.join(QStringLiteral("; ")));
        const bool inputSide = m_tensorBox->currentIndex() == 1;
        if (inputSide && e->columns == C) {
            auto* rect = new QCPAxisRect(p);
            p->plotLayout()->addElement(p->plotLayout()->rowCount(), 0, rect);
            p->plotLayout()->setRowStretchFactor(p->plotLayout()->rowCount() - 1, 0.35);
            QCPAxis* ix = rect->axis(QCPAxis::atBottom);
            QCPAxis* iy = rect->axis(QCPAxis::atLeft);
            QCPGraph* g = p->addGraph(ix, iy);
            g->setName(tr("imatrix importance"));
            g->removeFromLegend();
            std::vector<double> values;
            for (std::int64_t c = 0; c < C; ++c) {
                if (e->at(c) > 0) values.push_back(e->at(c));
            }
            const double ilo = minPositive(values), ihi = maxValue(values);
            QVector<double> keys, vals;
            for (std::int64_t c = 0; c < C; ++c) {
                keys << static_cast<double>(c);
                vals << (std::isnan(e->at(c)) ? qQNaN() : std::max(e->at(c), ilo));
            }
            g->setData(keys, vals, true);
            g->setLineStyle(QCPGraph::lsImpulse);
            g->setPen(QPen(plotStyle().original, 1.0));
            QCPGraph* marks = p->addGraph(ix, iy);
            marks->setName(tr("super weight column"));
            marks->removeFromLegend();
            marks->setLineStyle(QCPGraph::lsNone);
            marks->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, plotStyle().highlight, 12));
            for (const auto& sw : s.superWeights) {
                if (sw.layer != selectedLayer() || sw.expert >= 0 || sw.inputChannel() < 0 || sw.inputChannel() >= C) continue;
                const double v = std::max(e->at(sw.inputChannel()), ilo);
                marks->addData(static_cast<double>(sw.inputChannel()), v);
                auto* label = new QCPItemText(p);
                label->setClipAxisRect(rect);
                label->position->setAxes(ix, iy);
                label->position->setCoords(static_cast<double>(sw.inputChannel()), v);
                label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
                label->setPadding(QMargins(6, 2, 0, 0));
                label->setText(tr("col %1: rank %2 of %3").arg(sw.inputChannel()).arg(importanceRank(sw.inputChannel())).arg(C));
                label->setColor(plotStyle().foreground);
            }
            ix->setRange(-0.5, static_cast<double>(C) - 0.5);
            setIntegerTicks(ix);
            ix->setLabel(tr("down_proj input column"));
            setLogAxis(iy, ilo, ihi, 0.3);
            iy->setLabel(tr("imatrix"));
            auto* mg = new QCPMarginGroup(p);
            p->axisRect()->setMarginGroup(QCP::msLeft | QCP::msRight, mg);
            rect->setMarginGroup(QCP::msLeft | QCP::msRight, mg);
        }
        addTitle(p, m_importanceText);
        centerTitleOverColumns(p);
    } else if (!s.imatrixProblem.empty() && s.imatrix) {
        addTitle(p, tr("imatrix: %1").arg(QString::fromStdString(s.imatrixProblem)));
        centerTitleOverColumns(p);
    }
    return true;
}

bool LayerDetailView::cellAt(const QPointF& pixel, std::int64_t* token, std::int64_t* channel) const {
    const core::ActivationTensor* a = currentTensor();
    if (!a || !m_map || !plot()->axisRect()->rect().contains(pixel.toPoint())) return false;
    const double x = plot()->xAxis->pixelToCoord(pixel.x());
    const double y = plot()->yAxis->pixelToCoord(pixel.y());
    *channel = std::llround(x);
    *token = std::llround(y);
    return *channel >= 0 && *channel < a->cols() && *token >= 0 && *token < a->rows();
}

void LayerDetailView::onMouseMove(QMouseEvent* event) {
    std::int64_t t = 0, c = 0;
    if (!cellAt(event->position(), &t, &c)) return;
    const ViewSnapshot& s = *snapshot();
    const QString label = t < static_cast<std::int64_t>(s.tokenLabels.size()) ? QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]) : QString();
    QToolTip::showText(event->globalPosition().toPoint(),
                       tr("token %1 %2\nchannel %3\nvalue %4\nclick: propose the down_proj weight behind this cell")
                           .arg(t)
                           .arg(label)
                           .arg(c)
                           .arg(shortNumber(currentTensor()->at(t, c)))
                           + (m_tensorBox->currentIndex() == 1 && importanceEntry() && c < importanceEntry()->columns
                                  ? tr("\nimatrix importance %1, rank %2 of %3").arg(shortNumber(importanceEntry()->at(c))).arg(importanceRank(c)).arg(importanceEntry()->columns)
                                  : QString()),
                       plot());
}

void LayerDetailView::onMousePress(QMouseEvent* event) {
    std::int64_t t = 0, c = 0;
    if (event->button() != Qt::LeftButton || !cellAt(event->position(), &t, &c)) return;
    const ViewSnapshot& s = *snapshot();
    const int layer = selectedLayer();
    if (layer < 0 || layer >= static_cast<int>(s.downProjTensor.size())) return;
    // down_proj maps input channel (column) to output channel (row). The
    // other side of the cell is the strongest entry of the other tensor at
    // the same token (super-weight paper, Sec. 3).
    const core::ActivationTensor* other = otherTensor();
    if (routedLayer()) {
        emit statusMessage(tr("Layer %1 is a routed-experts layer: prune or edit its experts from the Experts view").arg(layer));
        return;
    }
    if (!other || t >= other->rows()) return;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < other->cols(); ++j) {
        if (std::fabs(other->at(t, j)) > std::fabs(other->at(t, best))) best = j;
    }
    const bool outputSide = m_tensorBox->currentIndex() == 0;
    const std::int64_t output = outputSide ? c : best;
    const std::int64_t input = outputSide ? best : c;
    // Edits index the weight as stored ([out, in], or GPT-2's [in, out]).
    const std::int64_t row = s.downOutputAxis == 0 ? output : input;
    const std::int64_t col = s.downOutputAxis == 0 ? input : output;
    const QString spec = QString::fromStdString(core::weightSetText(s.downProjTensor[static_cast<std::size_t>(layer)], row, col, 0.0));
    emit ablationProposed(spec, tr("layer %1 down_proj [%2, %3] (token %4)").arg(layer).arg(row).arg(col).arg(t));
    emit statusMessage(tr("Proposed %1 as an ablation candidate").arg(spec));
}

FigureTable LayerDetailView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("token"), QStringLiteral("label"), QStringLiteral("channel"), QStringLiteral("value"), QStringLiteral("abs_value")};
    const core::ActivationTensor* a = currentTensor();
    if (!a) return t;
    // The input side with an importance matrix: each column's importance and rank.
    const core::ImatrixEntry* e = m_tensorBox->currentIndex() == 1 ? importanceEntry() : nullptr;
    if (e && e->columns != a->cols()) e = nullptr;
    if (e) t.columns << QStringLiteral("imatrix_importance") << QStringLiteral("imatrix_rank");
    const ViewSnapshot& s = *snapshot();
    for (std::int64_t tok = 0; tok < a->rows(); ++tok) {
        const QString label = tok < static_cast<std::int64_t>(s.tokenLabels.size()) ? QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(tok)]) : QString();
        for (std::int64_t c = 0; c < a->cols(); ++c) {
            const float v = a->at(tok, c);
            QStringList row{QString::number(tok), label, QString::number(c), csvNumber(v), csvNumber(std::fabs(v))};
            if (e) row << csvNumber(e->at(c)) << QString::number(importanceRank(c));
            t.addRow(row);
        }
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(layer_detail_view, superlens::widgets::LayerDetailView, "layer", 20)
