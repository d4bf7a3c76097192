#include "laser_heatmap_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "study_view_util.h"

namespace superlens::widgets {

namespace {

// Diverging blue - white - red (ColorBrewer RdBu): white is the baseline.
QCPColorGradient divergingGradient(bool higherIsWorse) {
    QCPColorGradient g;
    const QColor better(0x21, 0x66, 0xac), worse(0xb2, 0x18, 0x2b);
    g.setColorStopAt(0.0, higherIsWorse ? better : worse);
    g.setColorStopAt(0.5, QColor(0xf7, 0xf7, 0xf7));
    g.setColorStopAt(1.0, higherIsWorse ? worse : better);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

bool higherIsWorse(const QString& metric) {
    return metric == QLatin1String("ppl") || metric == QLatin1String("nll") || metric == QLatin1String("answer_loss");
}

}  // namespace

LaserHeatmapView::LaserHeatmapView(QWidget* parent) : PlotView(parent) {
    m_typeBox = new QComboBox(this);
    m_typeBox->setToolTip(tr("The matrix type reduced in each layer"));
    m_metricBox = new QComboBox(this);
    m_metricBox->setToolTip(tr("The measure shown"));
    m_showBox = new QComboBox(this);
    m_showBox->addItem(tr("value"));
    m_showBox->addItem(tr("change vs. unedited"));
    controls()->addWidget(new QLabel(tr("Matrix"), this));
    controls()->addWidget(m_typeBox);
    controls()->addWidget(new QLabel(tr("Measure"), this));
    controls()->addWidget(m_metricBox);
    controls()->addWidget(m_showBox);
    controls()->addStretch(1);
    connect(m_typeBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_metricBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_showBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mouseMove, this, &LaserHeatmapView::onMouseMove);
    connect(plot(), &QCustomPlot::mousePress, this, &LaserHeatmapView::onMousePress);
    refresh();
}

QString LaserHeatmapView::noSnapshotMessage() const {
    return tr("No LASER study yet. Studies ▸ LASER sweep… runs one on the open model; "
              "Studies ▸ Open study JSON… shows one written by superlens-cli study laser --json.");
}

void LaserHeatmapView::setStudy(std::shared_ptr<const core::LaserStudy> study) {
    m_study = std::move(study);
    fillChoices();
    setSnapshot(m_study ? studyPlaceholderSnapshot() : nullptr);
}

void LaserHeatmapView::fillChoices() {
    const QString type = m_typeBox->currentText(), metric = m_metricBox->currentData().toString();
    QSignalBlocker b1(m_typeBox), b2(m_metricBox);
    m_typeBox->clear();
    m_metricBox->clear();
    if (!m_study) return;
    for (const auto& t : m_study->types) m_typeBox->addItem(QString::fromStdString(t));
    for (const auto& m : core::compressionMetricNames()) {
        if (std::isfinite(m_study->baseline.value(m))) m_metricBox->addItem(studyMetricLabel(QString::fromStdString(m)), QString::fromStdString(m));
    }
    // Keep the user's choice across studies when the new one has it.
    if (m_typeBox->findText(type) >= 0) m_typeBox->setCurrentText(type);
    if (m_metricBox->findData(metric) >= 0) m_metricBox->setCurrentIndex(m_metricBox->findData(metric));
}

bool LaserHeatmapView::setMatrixType(const QString& type) {
    const int i = m_typeBox->findText(type);
    if (i < 0) return false;
    m_typeBox->setCurrentIndex(i);
    return true;
}

bool LaserHeatmapView::setMetric(const QString& metric) {
    const int i = m_metricBox->findData(metric);
    if (i < 0) return false;
    m_metricBox->setCurrentIndex(i);
    return true;
}

void LaserHeatmapView::setShowChange(bool change) { m_showBox->setCurrentIndex(change ? 1 : 0); }

// figure laser --study FILE --matrix TYPE --metric M --change yes|no.
QList<QPair<QString, QString>> LaserHeatmapView::figureState() const {
    if (!m_study) return {};
    return {{QStringLiteral("matrix"), m_typeBox->currentText()},
            {QStringLiteral("metric"), m_metricBox->currentData().toString()},
            {QStringLiteral("change"), m_showBox->currentIndex() == 1 ? QStringLiteral("yes") : QStringLiteral("no")}};
}

bool LaserHeatmapView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key == QLatin1String("matrix")) {
        if (!setMatrixType(value)) *error = tr("--matrix %1: the study has no such matrix type").arg(value);
    } else if (key == QLatin1String("metric")) {
        if (!setMetric(value)) *error = tr("--metric %1: the study has no such measure").arg(value);
    } else if (key == QLatin1String("change")) {
        if (value != QLatin1String("yes") && value != QLatin1String("no")) *error = tr("--change %1: expected yes or no").arg(value);
        else setShowChange(value == QLatin1String("yes"));
    } else {
        return false;
    }
    return error->isEmpty();
}

double LaserHeatmapView::shownValue(std::size_t layerIndex, std::size_t rhoIndex) const {
    if (layerIndex >= m_heatmap.layers.size() || rhoIndex >= m_heatmap.rhos.size()) return core::kNotMeasured;
    const double v = m_heatmap.at(layerIndex, rhoIndex);
    return m_showBox->currentIndex() == 1 ? v - m_heatmap.baseline : v;
}

bool LaserHeatmapView::rebuild(QString* emptyReason) {
    m_map = nullptr;
    m_heatmap = {};
    if (!m_study) {
        *emptyReason = noSnapshotMessage();
        return false;
    }
    if (m_typeBox->count() == 0 || m_metricBox->count() == 0) {
        *emptyReason = tr("This LASER study has no cells with a measure.");
        return false;
    }
    const std::string type = m_typeBox->currentText().toStdString();
    const QString metric = m_metricBox->currentData().toString();
    m_heatmap = m_study->heatmap(type, metric.toStdString());
    const int nLayers = static_cast<int>(m_heatmap.layers.size()), nRhos = static_cast<int>(m_heatmap.rhos.size());
    if (nLayers == 0 || nRhos == 0) {
        *emptyReason = tr("This LASER study has no layers or rho values.");
        return false;
    }
    const bool change = m_showBox->currentIndex() == 1;
    // Perplexity on a log colour scale centred on the baseline (ratios);
    // everything else linear, centred on the baseline (differences).
    const bool logScale = metric == QLatin1String("ppl") && !change && m_heatmap.baseline > 0;
    const double centre = change ? 0.0 : m_heatmap.baseline;
    double spread = 0;
    for (int l = 0; l < nLayers; ++l) {
        for (int r = 0; r < nRhos; ++r) {
            const double v = shownValue(static_cast<std::size_t>(l), static_cast<std::size_t>(r));
            if (!std::isfinite(v)) continue;
            if (logScale && v > 0) spread = std::max(spread, std::abs(std::log(v / centre)));
            else if (!logScale) spread = std::max(spread, std::abs(v - centre));
        }
    }
    if (!(spread > 0)) spread = logScale ? std::log(1.01) : std::max(1e-6, std::abs(centre) * 0.01);

    QCustomPlot* p = plot();
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    // A single row or column is drawn as two identical cells a half unit
    // apart: QCPColorMap sizes its image from the distance between cells.
    const int keyCells = std::max(2, nRhos), valueCells = std::max(2, nLayers);
    m_map->data()->setSize(keyCells, valueCells);
    m_map->data()->setRange(nRhos == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, nRhos - 1), nLayers == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, nLayers - 1));
    for (int l = 0; l < valueCells; ++l) {
        for (int r = 0; r < keyCells; ++r) {
            m_map->data()->setCell(r, l, shownValue(static_cast<std::size_t>(std::min(l, nLayers - 1)), static_cast<std::size_t>(std::min(r, nRhos - 1))));
        }
    }
    auto* scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setBarWidth(10);
    m_map->setColorScale(scale);
    m_map->setGradient(divergingGradient(higherIsWorse(metric)));
    if (logScale) {
        scale->setDataScaleType(QCPAxis::stLogarithmic);
        m_map->setDataRange(QCPRange(centre * std::exp(-spread), centre * std::exp(spread)));
    } else {
        m_map->setDataRange(QCPRange(centre - spread, centre + spread));
    }
    m_map->setInterpolate(false);
    const QString label = studyMetricLabel(metric);
    scale->axis()->setLabel(change ? tr("Δ %1").arg(label) : tr("%1 (white = unedited %2)").arg(label, shortNumber(m_heatmap.baseline)));
    auto* group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);

    // Cell labels while they fit (values, or changes with a sign).
    bool anyInterval = false;
    if (nLayers * nRhos <= 240) {
        for (int l = 0; l < nLayers; ++l) {
            for (int r = 0; r < nRhos; ++r) {
                const double v = shownValue(static_cast<std::size_t>(l), static_cast<std::size_t>(r));
                auto* text = new QCPItemText(p);
                text->position->setType(QCPItemPosition::ptPlotCoords);
                text->position->setCoords(r, l);
                // "*": the cell's bootstrap interval of value - baseline (study --ci) excludes 0.
                const std::size_t at = static_cast<std::size_t>(l) * m_heatmap.rhos.size() + static_cast<std::size_t>(r);
                const bool beyond = at < m_heatmap.deltaLo.size() && at < m_heatmap.deltaHi.size() && std::isfinite(m_heatmap.deltaLo[at]) &&
                                    std::isfinite(m_heatmap.deltaHi[at]) && (m_heatmap.deltaLo[at] > 0 || m_heatmap.deltaHi[at] < 0);
                anyInterval = anyInterval || (at < m_heatmap.deltaLo.size() && std::isfinite(m_heatmap.deltaLo[at]));
                text->setText((!std::isfinite(v) ? QStringLiteral("–") : change && v > 0 ? QStringLiteral("+") + shortNumber(v) : shortNumber(v)) +
                              (beyond ? QStringLiteral("*") : QString()));
                text->setClipToAxisRect(true);
                text->setSelectable(false);
                // White on the darkest quarter of the scale at each end, so labels stay legible.
                if (std::isfinite(v)) {
                    const double t = logScale ? (v > 0 ? std::log(v / centre) / spread : -1.0) : (v - centre) / spread;
                    if (std::abs(t) > 0.5) text->setColor(Qt::white);
                }
            }
        }
    }
    QStringList rhoLabels, layerLabels;
    for (double rho : m_heatmap.rhos) rhoLabels << QString::number(rho, 'g', 4);
    for (int layer : m_heatmap.layers) layerLabels << QString::number(layer);
    setTextTicks(p->xAxis, rhoLabels, 24);
    setTextTicks(p->yAxis, layerLabels, 40);
    p->xAxis->setRange(-0.5, nRhos - 0.5);
    p->yAxis->setRange(-0.5, nLayers - 0.5);
    p->xAxis->setLabel(tr("ρ (fraction of the rank kept), %1%2")
                           .arg(m_typeBox->currentText(), anyInterval ? tr("; * = interval of the change excludes 0") : QString()));
    p->yAxis->setLabel(tr("layer"));
    return true;
}

bool LaserHeatmapView::cellAt(const QPointF& pos, std::size_t* layerIndex, std::size_t* rhoIndex) const {
    if (!m_map || !plot()->axisRect()->rect().contains(pos.toPoint())) return false;
    const long r = std::lround(plot()->xAxis->pixelToCoord(pos.x()));
    const long l = std::lround(plot()->yAxis->pixelToCoord(pos.y()));
    if (r < 0 || l < 0 || r >= static_cast<long>(m_heatmap.rhos.size()) || l >= static_cast<long>(m_heatmap.layers.size())) return false;
    *layerIndex = static_cast<std::size_t>(l);
    *rhoIndex = static_cast<std::size_t>(r);
    return true;
}

void LaserHeatmapView::onMouseMove(QMouseEvent* event) {
    std::size_t l = 0, r = 0;
    if (!cellAt(event->position(), &l, &r)) return;
    const double v = m_heatmap.at(l, r);
    QToolTip::showText(event->globalPosition().toPoint(),
                       tr("%1, layer %2, ρ = %3\n%4 %5 (unedited %6)\nclick: propose this edit")
                           .arg(QString::fromStdString(m_heatmap.type))
                           .arg(m_heatmap.layers[l])
                           .arg(m_heatmap.rhos[r])
                           .arg(studyMetricLabel(QString::fromStdString(m_heatmap.metric)))
                           .arg(std::isfinite(v) ? shortNumber(v) : tr("not measured"))
                           .arg(shortNumber(m_heatmap.baseline)),
                       plot());
}

void LaserHeatmapView::onMousePress(QMouseEvent* event) {
    std::size_t l = 0, r = 0;
    if (event->button() == Qt::LeftButton && cellAt(event->position(), &l, &r)) proposeCell(l, r);
}

bool LaserHeatmapView::proposeCell(std::size_t layerIndex, std::size_t rhoIndex) {
    if (!m_study || layerIndex >= m_heatmap.layers.size() || rhoIndex >= m_heatmap.rhos.size()) return false;
    for (const core::LaserCell& c : m_study->cells) {
        if (c.type != m_heatmap.type || c.layer != m_heatmap.layers[layerIndex] || c.rho != m_heatmap.rhos[rhoIndex]) continue;
        emit ablationProposed(QString::fromStdString(c.edit), tr("LASER: %1 of layer %2 at rank %3/%4").arg(QString::fromStdString(c.type)).arg(c.layer).arg(c.rank).arg(c.maxRank));
        emit layerSelected(c.layer);
        return true;
    }
    return false;
}

FigureTable LaserHeatmapView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("type"),     QStringLiteral("metric"), QStringLiteral("layer"),         QStringLiteral("rho"),
                 QStringLiteral("value"),    QStringLiteral("baseline"), QStringLiteral("shown"),        QStringLiteral("delta_ci_lo"),
                 QStringLiteral("delta_ci_hi")};
    if (!m_map) return t;
    const QString type = QString::fromStdString(m_heatmap.type), metric = QString::fromStdString(m_heatmap.metric);
    for (std::size_t l = 0; l < m_heatmap.layers.size(); ++l) {
        for (std::size_t r = 0; r < m_heatmap.rhos.size(); ++r) {
            const double v = m_heatmap.at(l, r), shown = shownValue(l, r);
            const std::size_t at = l * m_heatmap.rhos.size() + r;
            const double dlo = at < m_heatmap.deltaLo.size() ? m_heatmap.deltaLo[at] : core::kNotMeasured;
            const double dhi = at < m_heatmap.deltaHi.size() ? m_heatmap.deltaHi[at] : core::kNotMeasured;
            t.addRow({type, metric, QString::number(m_heatmap.layers[l]), csvNumber(m_heatmap.rhos[r]), std::isfinite(v) ? csvNumber(v) : QString(),
                      std::isfinite(m_heatmap.baseline) ? csvNumber(m_heatmap.baseline) : QString(), std::isfinite(shown) ? csvNumber(shown) : QString(),
                      std::isfinite(dlo) ? csvNumber(dlo) : QString(), std::isfinite(dhi) ? csvNumber(dhi) : QString()});
        }
    }
    return t;
}

}  // namespace superlens::widgets
