#include "sinks_view.h"

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


constexpr int kMaxLabelledCells = 160;

}  // namespace

SinksView::SinksView(QWidget* parent) : PlotView(parent) {
    m_massBox = new QComboBox(this);
    m_massBox->addItem(tr("first token"));
    m_massBox->addItem(tr("first token + massive-activation carriers"));
    m_massBox->setToolTip(tr("Attention mass on the first token only, or on every token that carries a massive activation"));
    controls()->addWidget(new QLabel(tr("Mass on"), this));
    controls()->addWidget(m_massBox);
    controls()->addStretch(1);
    connect(m_massBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mouseMove, this, &SinksView::onMouseMove);
    connect(plot(), &QCustomPlot::mousePress, this, &SinksView::onMousePress);
}

void SinksView::setCarriers(bool all) { m_massBox->setCurrentIndex(all ? 1 : 0); }

// figure --carriers first|all.
QList<QPair<QString, QString>> SinksView::figureState() const {
    return {{QStringLiteral("carriers"), m_massBox->currentIndex() == 1 ? QStringLiteral("all") : QStringLiteral("first")}};
}

bool SinksView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key != QLatin1String("carriers")) return false;
    if (value != QLatin1String("first") && value != QLatin1String("all")) {
        *error = tr("--carriers %1: expected first (the first token) or all (every massive-activation carrier)").arg(value);
        return false;
    }
    setCarriers(value == QLatin1String("all"));
    return true;
}

double SinksView::shownMass(bool edited, int layer, int head) const {
    const QCPColorMap* map = edited ? m_editedMap : m_originalMap;
    if (!map) return std::numeric_limits<double>::quiet_NaN();
    return map->data()->cell(head, layer);
}

bool SinksView::rebuild(QString* emptyReason) {
    m_originalMap = m_editedMap = nullptr;
    m_lost.clear();
    const ViewSnapshot& s = *snapshot();
    const auto& so = s.originalSinks;
    const auto& se = s.editedSinks;
    if (so.layers == 0 || se.layers != so.layers) {
        *emptyReason = tr("This run did not record the attention patterns.");
        return false;
    }
    const bool all = m_massBox->currentIndex() == 1;
    const bool edits = s.hasEdits();
    const int L = so.layers, H = so.heads;
    const PlotStyle& st = plotStyle();
    QCustomPlot* p = plot();
    if (edits) {
        auto lost = core::lostSinks(so, se, !all);
        if (lost) {
            for (const auto& c : *lost) m_lost << qMakePair(c.layer, c.head);
        }
    }
    QStringList carrierNames;
    for (std::int64_t t : so.carriers) carrierNames << QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)]);
    QString summary = all ? tr("attention mass on %1").arg(carrierNames.join(QStringLiteral(", "))) : tr("attention mass on the first token %1").arg(carrierNames.value(0));
    if (edits) summary += tr("; %n head(s) lose their sink (outlined)", nullptr, static_cast<int>(m_lost.size()));
    addTitle(p, summary);

    const MapPanels panels = addMapPanels(p, p->plotLayout()->rowCount() - 1, edits, viridisGradient(), tr("attention mass"));
    QCPAxisRect* mainRect = panels.original;
    QCPAxisRect* editedRect = panels.edited;
    QCPColorScale* scale = panels.scale;
    scale->setDataRange(QCPRange(0, 1));
    QStringList headLabels, layerLabels;
    for (int h = 0; h < H; ++h) headLabels << QString::number(h);
    for (int l = 0; l < L; ++l) layerLabels << QString::number(l);
    auto makeMap = [&](QCPAxisRect* rect, const core::AttentionSinkReport& r, const QString& title) {
        const auto& mass = all ? r.carrierMass : r.firstTokenMass;
        QCPAxis* x = rect->axis(QCPAxis::atBottom);
        QCPAxis* y = rect->axis(QCPAxis::atLeft);
        auto* map = new QCPColorMap(x, y);
        map->data()->setSize(H, L);
        map->data()->setRange(QCPRange(0, H - 1), QCPRange(0, L - 1));
        for (int l = 0; l < L; ++l) {
            for (int h = 0; h < H; ++h) map->data()->setCell(h, l, mass[static_cast<std::size_t>(l)][static_cast<std::size_t>(h)]);
        }
        map->setColorScale(scale);
        map->setGradient(viridisGradient());
        map->setDataRange(QCPRange(0, 1));
        map->setInterpolate(false);
        setTextTicks(x, headLabels, 32);
        setTextTicks(y, layerLabels, 32);
        x->setRange(-0.5, H - 0.5);
        y->setRange(-0.5, L - 0.5);
        y->setRangeReversed(true);
        x->setLabel(title);
        y->setLabel(tr("layer"));
        for (const auto& [l, h] : m_lost) {
            auto* box = new QCPItemRect(p);
            box->setClipAxisRect(rect);
            box->topLeft->setAxes(x, y);
            box->bottomRight->setAxes(x, y);
            box->topLeft->setCoords(h - 0.45, l - 0.45);
            box->bottomRight->setCoords(h + 0.45, l + 0.45);
            box->setPen(QPen(st.highlight, 2.0));
            box->setBrush(Qt::NoBrush);
        }
        // Values written in the cells on screen; a paper figure keeps the colour scale (the CSV has every value).
        if (st.figureHeight <= 0 && L * H <= kMaxLabelledCells) {
            for (int l = 0; l < L; ++l) {
                for (int h = 0; h < H; ++h) {
                    const double v = mass[static_cast<std::size_t>(l)][static_cast<std::size_t>(h)];
                    auto* text = new QCPItemText(p);
                    text->setClipAxisRect(rect);
                    text->position->setAxes(x, y);
                    text->position->setCoords(h, l);
                    text->setText(QString::number(v, 'f', 2));
                    text->setColor(v > 0.6 ? Qt::black : Qt::white);
                    text->setFont(st.font(0.75));
                    text->setProperty("importance", -1000.0 - l * H - h);
                }
            }
        }
        return map;
    };
    m_originalMap = makeMap(mainRect, so, edits ? tr("head (original)") : tr("head"));
    if (editedRect) m_editedMap = makeMap(editedRect, se, tr("head (edited)"));
    return true;
}

bool SinksView::cellAt(const QPoint& pos, int* layer, int* head, bool* edited) const {
    if (!hasData()) return false;
    const ViewSnapshot& s = *snapshot();
    for (QCPColorMap* map : {m_originalMap, m_editedMap}) {
        if (!map || !map->keyAxis()->axisRect()->rect().contains(pos)) continue;
        const int h = static_cast<int>(std::lround(map->keyAxis()->pixelToCoord(pos.x())));
        const int l = static_cast<int>(std::lround(map->valueAxis()->pixelToCoord(pos.y())));
        if (h < 0 || l < 0 || h >= s.originalSinks.heads || l >= s.originalSinks.layers) return false;
        *layer = l;
        *head = h;
        *edited = map == m_editedMap;
        return true;
    }
    return false;
}

void SinksView::onMousePress(QMouseEvent* event) {
    int layer = 0, head = 0;
    bool edited = false;
    if (event->button() != Qt::LeftButton || !cellAt(event->position().toPoint(), &layer, &head, &edited)) return;
    emit attentionHeadRequested(layer, head, edited);
    emit statusMessage(tr("Attention view: layer %1, head %2 (%3)").arg(layer).arg(head).arg(edited ? tr("edited") : tr("original")));
}

void SinksView::onMouseMove(QMouseEvent* event) {
    int layer = 0, head = 0;
    bool edited = false;
    if (!cellAt(event->position().toPoint(), &layer, &head, &edited)) return;
    const ViewSnapshot& s = *snapshot();
    const bool all = m_massBox->currentIndex() == 1;
    auto mass = [&](const core::AttentionSinkReport& r) {
        return (all ? r.carrierMass : r.firstTokenMass)[static_cast<std::size_t>(layer)][static_cast<std::size_t>(head)];
    };
    QString text = tr("layer %1, head %2\noriginal %3").arg(layer).arg(head).arg(mass(s.originalSinks), 0, 'f', 4);
    if (s.hasEdits()) text += tr("\nedited %1").arg(mass(s.editedSinks), 0, 'f', 4);
    if (m_lost.contains(qMakePair(layer, head))) text += tr("\nloses its sink");
    text += tr("\nclick: open this head in the Attention view");
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

FigureTable SinksView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("layer"), QStringLiteral("head"), QStringLiteral("first_token_original"), QStringLiteral("first_token_edited"),
                 QStringLiteral("carriers_original"), QStringLiteral("carriers_edited"), QStringLiteral("loses_sink")};
    if (!hasData() || !snapshot()) return t;
    const ViewSnapshot& s = *snapshot();
    for (int l = 0; l < s.originalSinks.layers; ++l) {
        for (int h = 0; h < s.originalSinks.heads; ++h) {
            const auto i = static_cast<std::size_t>(l), j = static_cast<std::size_t>(h);
            t.addRow({QString::number(l), QString::number(h), csvNumber(s.originalSinks.firstTokenMass[i][j]), csvNumber(s.editedSinks.firstTokenMass[i][j]),
                      csvNumber(s.originalSinks.carrierMass[i][j]), csvNumber(s.editedSinks.carrierMass[i][j]),
                      m_lost.contains(qMakePair(l, h)) ? QStringLiteral("1") : QStringLiteral("0")});
        }
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(sinks_view, superlens::widgets::SinksView, "sinks", 80)
