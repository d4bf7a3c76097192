#include "layer_detail_view.h"

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

bool LayerDetailView::rebuild(QString* emptyReason) {
    m_map = nullptr;
    m_runBox->setEnabled(snapshot()->hasEdits());
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
                           .arg(shortNumber(currentTensor()->at(t, c))),
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
    const ViewSnapshot& s = *snapshot();
    for (std::int64_t tok = 0; tok < a->rows(); ++tok) {
        const QString label = tok < static_cast<std::int64_t>(s.tokenLabels.size()) ? QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(tok)]) : QString();
        for (std::int64_t c = 0; c < a->cols(); ++c) {
            const float v = a->at(tok, c);
            t.addRow({QString::number(tok), label, QString::number(c), csvNumber(v), csvNumber(std::fabs(v))});
        }
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(layer_detail_view, superlens::widgets::LayerDetailView, "layer", 20)
