#include "attention_view.h"

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

AttentionView::AttentionView(QWidget* parent) : PlotView(parent) {
    m_headBox = new QComboBox(this);
    m_headBox->setToolTip(tr("One attention head, or the mean over all heads"));
    m_headBox->addItem(tr("mean of heads"));
    m_runBox = new QComboBox(this);
    m_runBox->addItem(tr("original"));
    m_runBox->addItem(tr("edited"));
    m_runBox->setToolTip(tr("The unedited model or the model with the current ablations"));
    controls()->addWidget(new QLabel(tr("Head"), this));
    controls()->addWidget(m_headBox);
    controls()->addWidget(m_runBox);
    controls()->addStretch(1);
    connect(m_headBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_runBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mouseMove, this, &AttentionView::onMouseMove);
}

void AttentionView::setHead(int head) { m_headBox->setCurrentIndex(head + 1); }

// figure --head mean|H, --pattern original|edited.
QList<QPair<QString, QString>> AttentionView::figureState() const {
    QList<QPair<QString, QString>> state;
    const int head = m_headBox->currentIndex() - 1;
    state.append({QStringLiteral("head"), head < 0 ? QStringLiteral("mean") : QString::number(head)});
    if (snapshot() && snapshot()->hasEdits())
        state.append({QStringLiteral("pattern"), m_runBox->currentIndex() == 1 ? QStringLiteral("edited") : QStringLiteral("original")});
    return state;
}

bool AttentionView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key == QLatin1String("head")) {
        int head = -1;
        if (!parseHeadState(value, snapshot() ? snapshot()->heads : 0, &head, error)) return false;
        setHead(head);
        return true;
    }
    if (key == QLatin1String("pattern")) {
        if (value != QLatin1String("original") && value != QLatin1String("edited")) {
            *error = tr("--pattern %1: expected original or edited").arg(value);
            return false;
        }
        setShowEdited(value == QLatin1String("edited"));
        return true;
    }
    return false;
}
void AttentionView::setShowEdited(bool edited) { m_runBox->setCurrentIndex(edited ? 1 : 0); }

double AttentionView::shownValue(int query, int key) const {
    if (query < 0 || key < 0 || query >= m_T || key >= m_T) return 0.0;
    return m_shown[static_cast<std::size_t>(query * m_T + key)];
}

bool AttentionView::pattern(std::vector<float>* out, int* T) const {
    const ViewSnapshot& s = *snapshot();
    const int layer = selectedLayer();
    const bool edited = m_runBox->currentIndex() == 1 && s.hasEdits();
    const auto& run = edited ? *s.edited : *s.original;
    const core::ActivationTensor* a = run.activation(HookPoint{HookKind::AttnPattern, layer});
    if (!a || a->shape.size() != 3) return false;
    *T = static_cast<int>(a->shape[1]);
    const int head = m_headBox->currentIndex() - 1;
    if (head < 0) {
        const auto& means = edited ? s.editedHeadMean : s.originalHeadMean;
        if (layer >= static_cast<int>(means.size()) || means[static_cast<std::size_t>(layer)].empty()) return false;
        *out = means[static_cast<std::size_t>(layer)];
    } else {
        const std::size_t n = static_cast<std::size_t>(*T) * static_cast<std::size_t>(*T);
        const auto begin = a->values.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(head) * n);
        out->assign(begin, begin + static_cast<std::ptrdiff_t>(n));
    }
    return true;
}

bool AttentionView::rebuild(QString* emptyReason) {
    m_map = nullptr;
    const ViewSnapshot& s = *snapshot();
    m_runBox->setEnabled(s.hasEdits());
    m_runBox->setItemText(0, QString::fromStdString(s.sideName(false)));  // "original", "run A" or "model A"
    m_runBox->setItemText(1, QString::fromStdString(s.sideName(true)));
    if (m_headBox->count() != s.heads + 1) {
        QSignalBlocker block(m_headBox);
        m_headBox->clear();
        m_headBox->addItem(tr("mean of heads"));
        for (int h = 0; h < s.heads; ++h) m_headBox->addItem(tr("head %1").arg(h));
    }
    if (selectedLayer() < 0) {
        *emptyReason = tr("Select a layer in the layer navigator.");
        return false;
    }
    if (!pattern(&m_shown, &m_T)) {
        *emptyReason = tr("This run did not record the attention pattern of layer %1.").arg(selectedLayer());
        return false;
    }
    QCustomPlot* p = plot();
    const int T = m_T;
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->data()->setSize(T, T);
    m_map->data()->setRange(QCPRange(0, T - 1), QCPRange(0, T - 1));
    for (int q = 0; q < T; ++q) {
        for (int k = 0; k < T; ++k) m_map->data()->setCell(k, q, m_shown[static_cast<std::size_t>(q * T + k)]);
    }
    auto* scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setBarWidth(10);
    m_map->setColorScale(scale);  // first: the scale hands its gradient and range to the map
    m_map->setGradient(QCPColorGradient(QCPColorGradient::gpThermal));
    m_map->setDataRange(QCPRange(0, 1));
    m_map->setInterpolate(false);
    scale->axis()->setLabel(tr("attention probability"));
    auto* group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    QStringList labels;
    for (int t = 0; t < T; ++t) labels << QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]);
    setTextTicks(p->xAxis, labels, 32);
    setTextTicks(p->yAxis, labels, 32);
    p->xAxis->setTickLabelRotation(T > 6 ? 60 : 0);
    p->xAxis->setRange(-0.5, T - 0.5);
    p->yAxis->setRange(-0.5, T - 0.5);
    p->yAxis->setRangeReversed(true);
    p->xAxis->setLabel(tr("key (layer %1, %2)").arg(selectedLayer()).arg(m_headBox->currentText()));
    p->yAxis->setLabel(tr("query"));
    return true;
}

void AttentionView::onMouseMove(QMouseEvent* event) {
    if (!m_map || !plot()->axisRect()->rect().contains(event->position().toPoint())) return;
    const int k = static_cast<int>(std::lround(plot()->xAxis->pixelToCoord(event->position().x())));
    const int q = static_cast<int>(std::lround(plot()->yAxis->pixelToCoord(event->position().y())));
    if (q < 0 || k < 0 || q >= m_T || k >= m_T) return;
    const ViewSnapshot& s = *snapshot();
    QToolTip::showText(event->globalPosition().toPoint(),
                       tr("query %1 %2\nkey %3 %4\nP %5")
                           .arg(q)
                           .arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(q)]))
                           .arg(k)
                           .arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(k)]))
                           .arg(shortNumber(shownValue(q, k))),
                       plot());
}

FigureTable AttentionView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("layer"), QStringLiteral("head"), QStringLiteral("query"), QStringLiteral("key"), QStringLiteral("probability")};
    if (!m_map) return t;
    const QString head = m_headBox->currentIndex() == 0 ? QStringLiteral("mean") : QString::number(m_headBox->currentIndex() - 1);
    for (int q = 0; q < m_T; ++q) {
        for (int k = 0; k < m_T; ++k) t.addRow({QString::number(selectedLayer()), head, QString::number(q), QString::number(k), csvNumber(shownValue(q, k))});
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(attention_view, superlens::widgets::AttentionView, "attention", 60)
