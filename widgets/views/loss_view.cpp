#include "loss_view.h"

#include <cmath>
#include <limits>

#include <QComboBox>
#include <QLabel>
#include <QSignalBlocker>
#include <QToolTip>
#include <qcustomplot.h>

#include "superlens/core/view/build_view_snapshot.h"
#include "../plot_helpers.h"
#include "../view_registry.h"
#include "superlens/core/analysis/token_loss.h"

namespace superlens::widgets {

namespace {

constexpr int kListed = 8;

// Diverging blue - white - red for the change in loss (blue: edited lower).
QCPColorGradient divergingGradient(const PlotStyle& st) {
    QCPColorGradient g;
    g.setColorStopAt(0.0, st.original);
    g.setColorStopAt(0.5, Qt::white);
    g.setColorStopAt(1.0, st.edited);
    return g;
}

}  // namespace

LossView::LossView(QWidget* parent) : PlotView(parent) {
    m_textBox = new QComboBox(this);
    m_textBox->addItem(tr("prompt"));
    m_textBox->addItem(tr("held-out text"));
    m_textBox->setToolTip(tr("The prompt's tokens, or the first %1 tokens of the bundled held-out text").arg(kHeldOutLossTokens));
    controls()->addWidget(new QLabel(tr("Text"), this));
    controls()->addWidget(m_textBox);
    controls()->addStretch(1);
    connect(m_textBox, &QComboBox::currentIndexChanged, this, [this](int index) {
        emit heldOutLossRequested(index == 1);
        refresh();
    });
    connect(plot(), &QCustomPlot::mouseMove, this, &LossView::onMouseMove);
}

void LossView::setHeldOutText(bool heldOut) { m_textBox->setCurrentIndex(heldOut ? 1 : 0); }
bool LossView::showsHeldOutText() const { return m_textBox->currentIndex() == 1; }

QList<QPair<QString, QString>> LossView::figureState() const {
    if (!showsHeldOutText() || !snapshot() || !snapshot()->heldOutLoss) return {};
    return {{QStringLiteral("loss-text"), QString::fromStdString(snapshot()->heldOutLoss->textPath)}};
}

bool LossView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key != QLatin1String("loss-text")) return false;
    if (!snapshot() || !snapshot()->heldOutLoss) {
        *error = tr("--loss-text %1: no held-out loss was computed").arg(value);
        return false;
    }
    QSignalBlocker block(m_textBox);
    m_textBox->setCurrentIndex(1);
    refresh();
    return true;
}

LossView::Source LossView::source() const {
    const ViewSnapshot& s = *snapshot();
    if (showsHeldOutText() && s.heldOutLoss) {
        const HeldOutLoss& h = *s.heldOutLoss;
        return {&h.tokens, &h.tokenLabels, &h.original, &h.edited};
    }
    return {&s.tokens, &s.tokenLabels, &s.originalLoss, &s.editedLoss};
}

double LossView::stripValue(int strip, int position) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (strip == 2) {
        if (!m_deltaMap || position < 1 || position >= m_deltaMap->data()->keySize()) return nan;
        return m_deltaMap->data()->cell(position, 0);
    }
    if (!m_lossMap || position < 1 || position >= m_lossMap->data()->keySize() || (strip == 1 && !m_deltaMap)) return nan;
    return m_lossMap->data()->cell(position, strip);
}

QVector<double> LossView::listedChanges() const {
    QVector<double> out;
    if (!m_changeBars) return out;
    for (auto it = m_changeBars->data()->constBegin(); it != m_changeBars->data()->constEnd(); ++it) out << it->value;
    return out;
}

bool LossView::rebuild(QString* emptyReason) {
    m_lossMap = m_deltaMap = nullptr;
    m_changeBars = nullptr;
    m_listed.clear();
    const ViewSnapshot& s = *snapshot();
    // Until the held-out loss arrives (or when it cannot: no tokenizer, a cache file) the prompt's is drawn.
    if (!s.nextTokenUnavailable.empty()) {
        *emptyReason = QString::fromStdString(s.nextTokenUnavailable);
        return false;
    }
    const Source src = source();
    const int T = static_cast<int>(src.tokens->size());
    if (src.original->size() != static_cast<std::size_t>(T) || (*src.edited).size() != (*src.original).size() || T < 2) {
        *emptyReason = T < 2 ? tr("The per-token loss needs at least two tokens.")
                             : tr("This run kept only the last position's logits: no per-token loss.");
        return false;
    }
    const bool edits = s.hasEdits();
    const PlotStyle& st = plotStyle();
    // A paper figure shows the strips; the largest changes stay on screen (the CSV has every change).
    const bool paper = st.figureHeight > 0;
    QCustomPlot* p = plot();
    QStringList tokenLabels;
    for (int t = 0; t < T; ++t) tokenLabels << QString::fromStdString((*src.labels)[static_cast<std::size_t>(t)]);
    double meanO = 0, meanE = 0, hi = 0;
    for (int t = 1; t < T; ++t) {
        meanO += (*src.original)[static_cast<std::size_t>(t)] / (T - 1);
        meanE += (*src.edited)[static_cast<std::size_t>(t)] / (T - 1);
        hi = std::max({hi, (*src.original)[static_cast<std::size_t>(t)], (*src.edited)[static_cast<std::size_t>(t)]});
    }
    if (paper) {  // short enough for the narrowest column (Science: 2.25 in)
        addTitle(p, edits ? tr("loss %1 → %2").arg(meanO, 0, 'f', 2).arg(meanE, 0, 'f', 2) : tr("loss %1").arg(meanO, 0, 'f', 2));
    } else {
        const QString what = src.tokens != &s.tokens ? tr(", first %1 tokens of %2").arg(T).arg(QString::fromStdString(s.heldOutLoss->textName))
                             : showsHeldOutText() ? tr(", the prompt (no held-out text loss yet)")
                                                  : tr(" (token 0 is not predicted)");
        addTitle(p, edits ? tr("mean loss %1 → %2 nats%3").arg(meanO, 0, 'f', 3).arg(meanE, 0, 'f', 3).arg(what)
                          : tr("mean loss %1 nats%2").arg(meanO, 0, 'f', 3).arg(what));
    }

    // Whichever way the build below ends, the title is centred over the strips and their scales.
    struct CenterTitle {
        QCustomPlot* plot;
        ~CenterTitle() { centerTitleOverColumns(plot); }
    } centerTitle{p};

    // Strips: loss per token (original, edited), one colour scale.
    QCPAxisRect* rect = p->axisRect();
    const int strips = edits ? 2 : 1;
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    // A colour map draws nothing with a single row of cells (its cell height
    // comes from the row spacing): one strip is drawn as two equal rows
    // spanning the same band.
    m_lossMap = new QCPColorMap(x, y);
    m_lossMap->data()->setSize(T, 2);
    m_lossMap->data()->setRange(QCPRange(0, T - 1), edits ? QCPRange(0, 1) : QCPRange(-0.25, 0.25));
    for (int t = 0; t < T; ++t) {
        m_lossMap->data()->setCell(t, 0, (*src.original)[static_cast<std::size_t>(t)]);
        m_lossMap->data()->setCell(t, 1, edits ? (*src.edited)[static_cast<std::size_t>(t)] : (*src.original)[static_cast<std::size_t>(t)]);
    }
    m_lossMap->data()->setAlpha(0, 0, 0);  // nothing predicts the first token
    m_lossMap->data()->setAlpha(0, 1, 0);
    auto* scale = new QCPColorScale(p);
    const int row = p->plotLayout()->rowCount() - 1;
    p->plotLayout()->addElement(row, 1, scale);
    scale->setBarWidth(8);
    m_lossMap->setColorScale(scale);
    m_lossMap->setGradient(viridisGradient());
    m_lossMap->setDataRange(QCPRange(0, std::max(1e-6, hi)));
    m_lossMap->setInterpolate(false);
    scale->axis()->setLabel(tr("loss (nats)"));
    QStringList stripLabels{QString::fromStdString(s.sideName(false))};
    if (edits) stripLabels << QString::fromStdString(s.sideName(true));
    setTextTicks(y, stripLabels);
    y->setRange(-0.5, strips - 0.5);
    y->setRangeReversed(true);
    setTextTicks(x, tokenLabels, 40);
    x->setTickLabelRotation(T > 6 ? 60 : 0);
    x->setRange(-0.5, T - 0.5);
    auto* group = new QCPMarginGroup(p);
    rect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    auto* vgroup = new QCPMarginGroup(p);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, vgroup);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, vgroup);
    if (!edits) return true;

    // Difference strip.
    auto* deltaRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(row + 1, 0, deltaRect);
    QCPAxis* dx = deltaRect->axis(QCPAxis::atBottom);
    QCPAxis* dy = deltaRect->axis(QCPAxis::atLeft);
    m_deltaMap = new QCPColorMap(dx, dy);
    m_deltaMap->data()->setSize(T, 2);  // one strip as two equal rows (see above)
    m_deltaMap->data()->setRange(QCPRange(0, T - 1), QCPRange(-0.25, 0.25));
    double span = 1e-6;
    for (int t = 1; t < T; ++t) {
        const double d = (*src.edited)[static_cast<std::size_t>(t)] - (*src.original)[static_cast<std::size_t>(t)];
        m_deltaMap->data()->setCell(t, 0, d);
        m_deltaMap->data()->setCell(t, 1, d);
        span = std::max(span, std::fabs(d));
    }
    m_deltaMap->data()->setAlpha(0, 0, 0);
    m_deltaMap->data()->setAlpha(0, 1, 0);
    auto* dscale = new QCPColorScale(p);
    p->plotLayout()->addElement(row + 1, 1, dscale);
    dscale->setBarWidth(8);
    m_deltaMap->setColorScale(dscale);
    m_deltaMap->setGradient(divergingGradient(st));
    m_deltaMap->setDataRange(QCPRange(-span, span));
    m_deltaMap->setInterpolate(false);
    dscale->axis()->setLabel(tr("Δ loss"));
    setTextTicks(dy, {tr("edited − original")});
    dy->setRange(-0.5, 0.5);
    setTextTicks(dx, tokenLabels, 40);
    dx->setTickLabelRotation(T > 6 ? 60 : 0);
    dx->setRange(-0.5, T - 0.5);
    deltaRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    auto* dgroup = new QCPMarginGroup(p);
    deltaRect->setMarginGroup(QCP::msTop | QCP::msBottom, dgroup);
    dscale->setMarginGroup(QCP::msTop | QCP::msBottom, dgroup);
    x->setTickLabels(false);

    // Largest changes, as horizontal bars with the token and its position.
    auto changes = core::largestLossChanges((*src.original), (*src.edited), kListed);
    if (paper || !changes || changes->empty()) return true;
    auto* listRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(row + 2, 0, listRect);
    QCPAxis* ky = listRect->axis(QCPAxis::atLeft);
    QCPAxis* kx = listRect->axis(QCPAxis::atBottom);
    m_changeBars = new QCPBars(ky, kx);
    m_changeBars->setName(tr("Δ loss"));
    m_changeBars->setWidth(0.7);
    m_changeBars->setBrush(st.highlight);
    m_changeBars->setPen(QPen(st.highlight.darker(130), 0.5));
    QStringList labels;
    double cspan = 1e-9;
    for (int i = 0; i < static_cast<int>(changes->size()); ++i) {
        const auto& c = (*changes)[static_cast<std::size_t>(i)];
        m_changeBars->addData(i, c.delta());
        m_listed << static_cast<int>(c.position);
        labels << QStringLiteral("%1 %2").arg(c.position).arg(tokenLabels[static_cast<int>(c.position)]);
        cspan = std::max(cspan, std::fabs(c.delta()));
    }
    setTextTicks(ky, labels);
    ky->setRange(-0.6, changes->size() - 0.4);
    ky->setRangeReversed(true);
    kx->setRange(-cspan * 1.15, cspan * 1.15);
    kx->setLabel(tr("largest changes: edited − original loss (nats)"));
    listRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    p->plotLayout()->setRowStretchFactors({0.01, 0.8, 0.5, 1.4});
    return true;
}

void LossView::onMouseMove(QMouseEvent* event) {
    if (!hasData() || !m_lossMap) return;
    const ViewSnapshot& s = *snapshot();
    const Source src = source();
    const QPoint pos = event->position().toPoint();
    for (QCPColorMap* map : {m_lossMap, m_deltaMap}) {
        if (!map || !map->keyAxis()->axisRect()->rect().contains(pos)) continue;
        const int t = nearestIndexAt(map->keyAxis(), event->position().x(), static_cast<int>((*src.tokens).size()));
        if (t < 1) return;
        QString text = tr("position %1 %2\nloss original %3").arg(t).arg(QString::fromStdString((*src.labels)[static_cast<std::size_t>(t)]))
                           .arg((*src.original)[static_cast<std::size_t>(t)], 0, 'f', 4);
        if (s.hasEdits()) {
            text += tr("\nloss edited %1\nchange %2")
                        .arg((*src.edited)[static_cast<std::size_t>(t)], 0, 'f', 4)
                        .arg((*src.edited)[static_cast<std::size_t>(t)] - (*src.original)[static_cast<std::size_t>(t)], 0, 'f', 4);
        }
        QToolTip::showText(event->globalPosition().toPoint(), text, plot());
        return;
    }
}

FigureTable LossView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("position"), QStringLiteral("token_id"), QStringLiteral("token"), QStringLiteral("loss_original"),
                 QStringLiteral("loss_edited"), QStringLiteral("delta")};
    if (!hasData() || !snapshot()) return t;
    const Source src = source();
    for (std::size_t i = 1; i < (*src.tokens).size(); ++i) {
        t.addRow({QString::number(i), QString::number((*src.tokens)[i]), QString::fromStdString((*src.labels)[i]), csvNumber((*src.original)[i]),
                  csvNumber((*src.edited)[i]), csvNumber((*src.edited)[i] - (*src.original)[i])});
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(loss_view, superlens::widgets::LossView, "loss", 90)
