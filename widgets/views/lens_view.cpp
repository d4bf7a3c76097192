#include "lens_view.h"

#include <cmath>
#include <limits>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

namespace {


// Cells get their top-1 token written in them up to this many cells per map.
constexpr int kMaxLabelledCells = 64;
// Tokens listed per layer in the top-k rows.
constexpr int kListedTokens = 3;

QString layerName(int layer) { return layer < 0 ? QStringLiteral("emb") : QString::number(layer); }

}  // namespace

LensView::LensView(QWidget* parent) : PlotView(parent) {
    m_positionBox = new QComboBox(this);
    m_positionBox->setToolTip(tr("The position whose next-token prediction the layer rows read"));
    controls()->addWidget(new QLabel(tr("Position"), this));
    controls()->addWidget(m_positionBox);
    controls()->addStretch(1);
    connect(m_positionBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mouseMove, this, &LensView::onMouseMove);
}

void LensView::setPosition(int position) {
    const int n = m_positionBox->count();
    if (n == 0) return;
    m_positionBox->setCurrentIndex(position < 0 || position >= n ? n - 1 : position);
}

int LensView::position() const { return m_shownPosition; }

// figure --position P.
QList<QPair<QString, QString>> LensView::figureState() const {
    if (m_positionBox->count() == 0) return {};
    return {{QStringLiteral("position"), QString::number(m_positionBox->currentIndex())}};
}

bool LensView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key != QLatin1String("position")) return false;
    bool ok = false;
    const int position = value.toInt(&ok);
    const int n = m_positionBox->count();
    if (!ok || position < 0 || position >= n) {
        *error = tr("--position %1: the prompt has positions 0..%2").arg(value).arg(n - 1);
        return false;
    }
    setPosition(position);
    return true;
}

double LensView::heatmapValue(bool edited, int layer, int position) const {
    const QCPColorMap* map = edited ? m_editedMap : m_originalMap;
    if (!map) return std::numeric_limits<double>::quiet_NaN();
    return map->data()->cell(position, layer + 1);
}

QVector<double> LensView::finalProbabilityCurve(bool edited) const {
    QVector<double> out;
    const QCPGraph* g = edited ? m_editedFinal : m_originalFinal;
    if (!g) return out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out << it->value;
    return out;
}

QVector<double> LensView::entropyCurve(bool edited) const {
    QVector<double> out;
    const QCPGraph* g = edited ? m_editedEntropy : m_originalEntropy;
    if (!g) return out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out << it->value;
    return out;
}

QString LensView::topLine(bool edited, int layer) const {
    const auto& lines = edited ? m_editedLines : m_originalLines;
    return layer + 1 >= 0 && layer + 1 < lines.size() ? lines[layer + 1] : QString();
}

QString LensView::topText(const ViewSnapshot& s, const core::LensLayer& row, int count) const {
    QStringList parts;
    for (int i = 0; i < std::min<int>(count, static_cast<int>(row.top.size())); ++i) {
        const auto& t = row.top[static_cast<std::size_t>(i)];
        parts << QStringLiteral("%1 %2").arg(QString::fromStdString(s.vocabLabel(t.id)), QString::number(t.prob, 'f', 2));
    }
    return parts.join(QStringLiteral("  "));
}

bool LensView::rebuild(QString* emptyReason) {
    m_originalMap = m_editedMap = nullptr;
    m_curveRect = nullptr;
    m_originalFinal = m_editedFinal = m_originalEntropy = m_editedEntropy = nullptr;
    m_originalLines.clear();
    m_editedLines.clear();
    const ViewSnapshot& s = *snapshot();
    const int T = static_cast<int>(s.tokenCount());
    QStringList items;
    for (int t = 0; t < T; ++t) items << QStringLiteral("%1 %2").arg(t).arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]));
    bool samePrompt = m_positionBox->count() == T;
    for (int t = 0; samePrompt && t < T; ++t) samePrompt = m_positionBox->itemText(t) == items[t];
    if (!samePrompt) {  // a new prompt: start at the last position
        QSignalBlocker block(m_positionBox);
        m_positionBox->clear();
        m_positionBox->addItems(items);
        m_positionBox->setCurrentIndex(T - 1);
    }
    if (!s.originalLens || !s.editedLens || s.originalLens->perPosition.empty()) {
        *emptyReason = s.lensUnavailable.empty() ? tr("No logit lens in this snapshot.") : QString::fromStdString(s.lensUnavailable);
        return false;
    }
    const core::LogitLensResult& lo = *s.originalLens;
    const core::LogitLensResult& le = *s.editedLens;
    const int rows = static_cast<int>(lo.top1Prob.size());  // L + 1
    const int P = std::clamp(m_positionBox->currentIndex(), 0, T - 1);
    m_shownPosition = P;
    const bool edits = s.hasEdits();
    const PlotStyle& st = plotStyle();
    // A paper figure (at most a page column high) shows the heatmaps; the
    // curves, top-k lists and cell labels stay on screen (the CSV has every
    // layer's top-k, entropy and final-prediction rank at every position).
    const bool paper = st.figureHeight > 0;
    QCustomPlot* p = plot();

    QStringList tokenLabels, layerLabels;
    for (int t = 0; t < T; ++t) tokenLabels << QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]);
    for (int l = -1; l < rows - 1; ++l) layerLabels << layerName(l);

    // --- Heatmaps: top-1 probability, layers (rows) x positions (columns).
    const MapPanels panels = addMapPanels(p, 0, edits, viridisGradient(), tr("top-1 P"));
    QCPAxisRect* mainRect = panels.original;
    QCPAxisRect* editedRect = panels.edited;
    QCPColorScale* scale = panels.scale;
    scale->setDataRange(QCPRange(0, 1));
    auto makeMap = [&](QCPAxisRect* rect, const core::LogitLensResult& lens, const QString& title) {
        QCPAxis* x = rect->axis(QCPAxis::atBottom);
        QCPAxis* y = rect->axis(QCPAxis::atLeft);
        auto* map = new QCPColorMap(x, y);
        map->data()->setSize(T, rows);
        map->data()->setRange(QCPRange(0, T - 1), QCPRange(0, rows - 1));
        for (int r = 0; r < rows; ++r) {
            for (int t = 0; t < T; ++t) map->data()->setCell(t, r, lens.top1Prob[static_cast<std::size_t>(r)][static_cast<std::size_t>(t)]);
        }
        map->setColorScale(scale);
        map->setGradient(viridisGradient());
        map->setDataRange(QCPRange(0, 1));
        map->setInterpolate(false);
        setTextTicks(x, tokenLabels, 24);
        x->setTickLabelRotation(T > 6 ? 60 : 0);
        x->setRange(-0.5, T - 0.5);
        setTextTicks(y, layerLabels, 24);
        y->setRange(-0.5, rows - 0.5);
        y->setLabel(tr("layer"));
        x->setLabel(title);
        // The chosen position, outlined.
        auto* box = new QCPItemRect(p);
        box->setClipAxisRect(rect);
        // Unclipped: at the first or last position the axis rect would cut half the outline away.
        box->setClipToAxisRect(false);
        box->topLeft->setAxes(x, y);
        box->bottomRight->setAxes(x, y);
        box->topLeft->setCoords(P - 0.5, rows - 0.5);
        box->bottomRight->setCoords(P + 0.5, -0.5);
        box->setPen(QPen(st.highlight, 1.5));
        box->setBrush(Qt::NoBrush);
        // Top-1 token in each cell, when there is room.
        if (!paper && T * rows <= kMaxLabelledCells) {
            for (int r = 0; r < rows; ++r) {
                for (int t = 0; t < T; ++t) {
                    const double prob = lens.top1Prob[static_cast<std::size_t>(r)][static_cast<std::size_t>(t)];
                    auto* text = new QCPItemText(p);
                    text->setClipAxisRect(rect);
                    text->position->setAxes(x, y);
                    text->position->setCoords(t, r);
                    text->setText(QString::fromStdString(s.vocabLabel(lens.top1Id[static_cast<std::size_t>(r)][static_cast<std::size_t>(t)])));
                    text->setColor(prob > 0.6 ? Qt::black : Qt::white);
                    text->setFont(st.font(0.75));
                    text->setProperty("importance", -1000.0 - r * T - t);  // dropped first when crowded
                }
            }
        }
        return map;
    };
    m_originalMap = makeMap(mainRect, lo, edits ? (paper ? QString::fromStdString(s.sideName(false)) : tr("%1: top-1 token per layer").arg(QString::fromStdString(s.sideName(false)))) : tr("top-1 token per layer"));
    if (editedRect) m_editedMap = makeMap(editedRect, le, QString::fromStdString(s.sideName(true)));
    for (int r = 0; r < rows; ++r) {
        m_originalLines << topText(s, lo.perPosition[static_cast<std::size_t>(P)][static_cast<std::size_t>(r)], kListedTokens);
        if (edits) m_editedLines << topText(s, le.perPosition[static_cast<std::size_t>(P)][static_cast<std::size_t>(r)], kListedTokens);
    }
    if (paper) return true;

    // --- Curves at position P: P(final prediction) and entropy per layer.
    m_curveRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(1, 0, m_curveRect);
    QCPAxis* cx = m_curveRect->axis(QCPAxis::atBottom);
    QCPAxis* cy = m_curveRect->axis(QCPAxis::atLeft);
    QCPAxis* cy2 = m_curveRect->axis(QCPAxis::atRight);
    cy2->setVisible(true);
    const auto& rowsO = lo.perPosition[static_cast<std::size_t>(P)];
    const auto& rowsE = le.perPosition[static_cast<std::size_t>(P)];
    // Each run's curve follows its own final prediction (its last layer's top-1 at P).
    const core::TokenId finalId = lo.finalTokens[static_cast<std::size_t>(P)];
    const core::TokenId editedFinalId = le.finalTokens[static_cast<std::size_t>(P)];
    auto curve = [&](QCPAxis* valueAxis, const std::vector<core::LensLayer>& rr, bool entropy, const QString& name, const QColor& color,
                     Qt::PenStyle style, QCPScatterStyle::ScatterShape shape) {
        QCPGraph* g = p->addGraph(cx, valueAxis);
        g->setName(name);
        for (int r = 0; r < rows; ++r) g->addData(r, entropy ? rr[static_cast<std::size_t>(r)].entropy : rr[static_cast<std::size_t>(r)].finalProb);
        g->setPen(QPen(color, entropy ? st.lineWidth * 0.7 : st.lineWidth, style));
        g->setScatterStyle(QCPScatterStyle(shape, color, entropy ? 4 : 6));
        return g;
    };
    const QString finalName = QString::fromStdString(s.vocabLabel(finalId));
    m_originalFinal = curve(cy, rowsO, false, edits ? tr("P(%1), %2").arg(finalName, QString::fromStdString(s.sideName(false))) : tr("P(%1)").arg(finalName), st.original, Qt::SolidLine,
                            QCPScatterStyle::ssCircle);
    m_originalEntropy = curve(cy2, rowsO, true, tr("entropy"), st.accent, Qt::DotLine, QCPScatterStyle::ssDiamond);
    double hMax = 0;
    for (const auto& r : rowsO) hMax = std::max(hMax, r.entropy);
    if (edits) {
        m_editedFinal = curve(cy, rowsE, false, tr("P(%1), %2").arg(QString::fromStdString(s.vocabLabel(editedFinalId)), QString::fromStdString(s.sideName(true))), st.edited, Qt::DashLine,
                              QCPScatterStyle::ssSquare);
        m_editedEntropy = curve(cy2, rowsE, true, tr("entropy, %1").arg(QString::fromStdString(s.sideName(true))), st.extra, Qt::DashDotLine, QCPScatterStyle::ssTriangle);
        for (const auto& r : rowsE) hMax = std::max(hMax, r.entropy);
    }
    setTextTicks(cx, layerLabels, 40);
    cx->setRange(-0.5, rows - 0.5);
    cx->setLabel(tr("layer (position %1 %2)").arg(P).arg(tokenLabels[P]));
    cy->setRange(0, 1.05);
    cy->setLabel(tr("P(final prediction)"));
    cy2->setRange(0, std::max(1e-6, hMax * 1.1));
    cy2->setLabel(tr("entropy (nats)"));
    auto* legend = new QCPLegend;
    m_curveRect->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignLeft);
    legend->setLayer(QStringLiteral("legend"));
    for (QCPGraph* g : {m_originalFinal, m_editedFinal, m_originalEntropy, m_editedEntropy}) {
        if (g) g->addToLegend(legend);
    }

    auto* colGroup = new QCPMarginGroup(p);
    mainRect->setMarginGroup(QCP::msLeft, colGroup);
    m_curveRect->setMarginGroup(QCP::msLeft, colGroup);

    // --- Top-k per layer at P: original beside edited.
    auto* listRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(2, 0, listRect);
    QCPAxis* lx = listRect->axis(QCPAxis::atBottom);
    QCPAxis* ly = listRect->axis(QCPAxis::atLeft);
    lx->setRange(0, 1);
    ly->setRange(-0.5, rows - 0.5);  // the embeddings at the bottom, as in the heatmaps
    setTextTicks(ly, layerLabels, 40);
    lx->setVisible(false);
    listRect->axis(QCPAxis::atLeft)->grid()->setVisible(false);
    lx->grid()->setVisible(false);
    for (int r = 0; r < rows; ++r) {
        for (int side = 0; side < (edits ? 2 : 1); ++side) {
            auto* text = new QCPItemText(p);
            text->setClipAxisRect(listRect);
            text->position->setAxes(lx, ly);
            text->position->setCoords(side == 0 ? 0.01 : 0.51, r);
            text->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
            text->setText(side == 0 ? m_originalLines[r] : m_editedLines[r]);
            text->setColor(side == 0 ? st.original.darker(120) : st.edited.darker(120));
            text->setFont(st.font(0.85));
            text->setProperty("importance", -static_cast<double>(r));
        }
    }
    lx->setLabel(edits ? tr("top-%1 at position %2: original (left), edited (right)").arg(kListedTokens).arg(P)
                       : tr("top-%1 at position %2").arg(kListedTokens).arg(P));
    lx->setVisible(true);
    lx->setTicks(false);
    lx->setTickLabels(false);
    p->plotLayout()->setRowStretchFactors({1.3, 1.0, 1.0});
    listRect->setMarginGroup(QCP::msLeft, colGroup);
    return true;
}

void LensView::onMouseMove(QMouseEvent* event) {
    if (!snapshot() || !hasData() || !m_curveRect) return;
    const ViewSnapshot& s = *snapshot();
    const QPoint pos = event->position().toPoint();
    const int rows = static_cast<int>(s.originalLens->top1Prob.size());
    for (QCPColorMap* map : {m_originalMap, m_editedMap}) {
        if (!map || !map->keyAxis()->axisRect()->rect().contains(pos)) continue;
        const int t = static_cast<int>(std::lround(map->keyAxis()->pixelToCoord(event->position().x())));
        const int r = static_cast<int>(std::lround(map->valueAxis()->pixelToCoord(event->position().y())));
        if (t < 0 || r < 0 || t >= static_cast<int>(s.tokenCount()) || r >= rows) return;
        const auto& lens = map == m_editedMap ? *s.editedLens : *s.originalLens;
        const auto& row = lens.perPosition[static_cast<std::size_t>(t)][static_cast<std::size_t>(r)];
        QToolTip::showText(event->globalPosition().toPoint(),
                           tr("layer %1, position %2 %3\n%4\nentropy %5 nats, final prediction rank %6")
                               .arg(layerName(r - 1))
                               .arg(t)
                               .arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]))
                               .arg(topText(s, row, static_cast<int>(row.top.size())))
                               .arg(row.entropy, 0, 'f', 3)
                               .arg(row.finalRank),
                           plot());
        return;
    }
    if (!m_curveRect->rect().contains(pos)) return;
    const int r = nearestIndexAt(m_curveRect->axis(QCPAxis::atBottom), event->position().x(), rows);
    if (r < 0) return;
    const auto& o = s.originalLens->perPosition[static_cast<std::size_t>(m_shownPosition)][static_cast<std::size_t>(r)];
    QString text = tr("layer %1\noriginal: %2\nP(final) %3, rank %4, entropy %5")
                       .arg(layerName(r - 1), topText(s, o, static_cast<int>(o.top.size())), shortNumber(o.finalProb))
                       .arg(o.finalRank)
                       .arg(o.entropy, 0, 'f', 3);
    if (s.hasEdits()) {
        const auto& e = s.editedLens->perPosition[static_cast<std::size_t>(m_shownPosition)][static_cast<std::size_t>(r)];
        text += tr("\nedited: %1\nP(final) %2, rank %3, entropy %4")
                    .arg(topText(s, e, static_cast<int>(e.top.size())), shortNumber(e.finalProb))
                    .arg(e.finalRank)
                    .arg(e.entropy, 0, 'f', 3);
    }
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

FigureTable LensView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("run"), QStringLiteral("position"), QStringLiteral("layer"), QStringLiteral("top1_id"), QStringLiteral("top1_token"),
                 QStringLiteral("top1_prob"), QStringLiteral("entropy"), QStringLiteral("final_id"), QStringLiteral("final_rank"),
                 QStringLiteral("final_prob"), QStringLiteral("top_k")};
    if (!hasData() || !snapshot()) return t;
    const ViewSnapshot& s = *snapshot();
    auto add = [&](const QString& run, const core::LogitLensResult& lens) {
        for (std::size_t pos = 0; pos < lens.perPosition.size(); ++pos) {
            for (const auto& row : lens.perPosition[pos]) {
                QStringList top;
                for (const auto& k : row.top) top << QStringLiteral("%1:%2").arg(k.id).arg(csvNumber(k.prob));
                const core::TokenId final = lens.finalTokens[pos];
                t.addRow({run, QString::number(pos), QString::number(row.layer), QString::number(row.top.front().id),
                          QString::fromStdString(s.vocabLabel(row.top.front().id)), csvNumber(row.top.front().prob), csvNumber(row.entropy),
                          QString::number(final), QString::number(row.finalRank), csvNumber(row.finalProb), top.join(QLatin1Char(' '))});
            }
        }
    };
    add(QStringLiteral("original"), *s.originalLens);
    if (s.hasEdits()) add(QStringLiteral("edited"), *s.editedLens);
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(lens_view, superlens::widgets::LensView, "lens", 70)
