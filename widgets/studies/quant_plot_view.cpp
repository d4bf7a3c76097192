#include "quant_plot_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "study_view_util.h"

namespace superlens::widgets {

namespace {

// token (-1) < 64 < ... < tensor (0)
bool blockBefore(std::int64_t a, std::int64_t b) {
    auto rank = [](std::int64_t x) { return x < 0 ? -1.0 : x == 0 ? 1e300 : static_cast<double>(x); };
    return rank(a) < rank(b);
}

}  // namespace

QuantPlotView::QuantPlotView(QWidget* parent) : PlotView(parent) {
    m_metricBox = new QComboBox(this);
    m_metricBox->setToolTip(tr("The measure shown"));
    controls()->addWidget(new QLabel(tr("Measure"), this));
    controls()->addWidget(m_metricBox);
    controls()->addStretch(1);
    connect(m_metricBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    refresh();
}

QString QuantPlotView::noSnapshotMessage() const {
    return tr("No quantization study yet. Studies ▸ Quantization sweep… runs one on the open model; "
              "Studies ▸ Open study JSON… shows one written by superlens-cli study quant --json.");
}

void QuantPlotView::setStudy(std::shared_ptr<const core::QuantStudy> study) {
    m_study = std::move(study);
    const QString metric = m_metricBox->currentData().toString();
    {
        QSignalBlocker block(m_metricBox);
        m_metricBox->clear();
        if (m_study) {
            for (const auto& m : core::compressionMetricNames()) {
                if (std::isfinite(m_study->baseline.value(m))) m_metricBox->addItem(studyMetricLabel(QString::fromStdString(m)), QString::fromStdString(m));
            }
        }
        if (m_metricBox->findData(metric) >= 0) m_metricBox->setCurrentIndex(m_metricBox->findData(metric));
    }
    setSnapshot(m_study ? studyPlaceholderSnapshot() : nullptr);
}

bool QuantPlotView::setMetric(const QString& metric) {
    const int i = m_metricBox->findData(metric);
    if (i < 0) return false;
    m_metricBox->setCurrentIndex(i);
    return true;
}

// figure quant --study FILE --metric M.
QList<QPair<QString, QString>> QuantPlotView::figureState() const {
    if (!m_study) return {};
    return {{QStringLiteral("metric"), m_metricBox->currentData().toString()}};
}

bool QuantPlotView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key != QLatin1String("metric")) return false;
    if (!setMetric(value)) *error = tr("--metric %1: the study has no such measure").arg(value);
    return error->isEmpty();
}

bool QuantPlotView::rebuild(QString* emptyReason) {
    m_blocks.clear();
    m_series.clear();
    m_graphs.clear();
    m_errorBars.clear();
    m_baseline = core::kNotMeasured;
    if (!m_study) {
        *emptyReason = noSnapshotMessage();
        return false;
    }
    if (m_metricBox->count() == 0 || m_study->points.empty()) {
        *emptyReason = tr("This quantization study has no measured points.");
        return false;
    }
    const QString metric = m_metricBox->currentData().toString();
    m_series = m_study->plot(metric.toStdString());
    m_baseline = m_study->baseline.value(metric.toStdString());
    for (const auto& s : m_series) {
        for (std::int64_t b : s.blocks) {
            if (std::find(m_blocks.begin(), m_blocks.end(), b) == m_blocks.end()) m_blocks.push_back(b);
        }
    }
    std::sort(m_blocks.begin(), m_blocks.end(), blockBefore);
    auto xOf = [&](std::int64_t b) { return static_cast<double>(std::find(m_blocks.begin(), m_blocks.end(), b) - m_blocks.begin()); };

    QCustomPlot* p = plot();
    const PlotStyle& st = plotStyle();
    // Paper colours: plain RTN blue, keeping the super weight red; activation series dashed.
    auto colourOf = [&](const std::string& name) {
        if (name == "rtn") return st.original;
        if (name == "rtn_keep_super") return st.edited;
        if (name == "actq") return QColor(0x94, 0x67, 0xbd);
        return st.highlight;
    };
    std::vector<double> all;
    for (const auto& s : m_series) {
        auto* g = p->addGraph();
        QVector<double> keys, values, below, above;
        bool anyInterval = false;
        for (std::size_t i = 0; i < s.blocks.size(); ++i) {
            if (!std::isfinite(s.values[i])) continue;
            keys << xOf(s.blocks[i]);
            values << s.values[i];
            all.push_back(s.values[i]);
            const bool has = i < s.lo.size() && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i]);
            below << (has ? std::max(0.0, s.values[i] - s.lo[i]) : 0.0);
            above << (has ? std::max(0.0, s.hi[i] - s.values[i]) : 0.0);
            if (has) {
                all.push_back(s.lo[i]);
                all.push_back(s.hi[i]);
                anyInterval = true;
            }
        }
        g->setData(keys, values, true);
        g->setName(quantSeriesLabel(QString::fromStdString(s.name)));
        g->setPen(QPen(colourOf(s.name), st.lineWidth));
        // Activation blocks (channels per token, or the whole [T, d]) are not
        // weight block sizes: markers only, no line across the weight blocks.
        if (s.name.rfind("actq", 0) == 0) g->setLineStyle(QCPGraph::lsNone);
        const bool keep = s.name.find("keep_super") != std::string::npos;
        if (s.name.rfind("actq", 0) == 0) g->setScatterStyle(QCPScatterStyle(keep ? QCPScatterStyle::ssTriangle : QCPScatterStyle::ssDiamond, 9));
        else g->setScatterStyle(QCPScatterStyle(keep ? QCPScatterStyle::ssDisc : QCPScatterStyle::ssSquare, 6));
        m_graphs.push_back(g);
        // The points' bootstrap intervals (study --ci) as error bars in the series colour.
        QCPErrorBars* bars = nullptr;
        if (anyInterval) {
            bars = new QCPErrorBars(p->xAxis, p->yAxis);
            bars->removeFromLegend();
            bars->setDataPlottable(g);
            bars->setData(below, above);
            bars->setPen(QPen(colourOf(s.name), std::max(1.0, st.lineWidth * 0.75)));
            bars->setWhiskerWidth(6);
        }
        m_errorBars.push_back(bars);
    }
    if (std::isfinite(m_baseline)) {
        auto* base = p->addGraph();
        base->setData(QVector<double>{-0.5, static_cast<double>(m_blocks.size()) - 0.5}, QVector<double>{m_baseline, m_baseline}, true);
        base->setName(tr("unquantized (%1)").arg(shortNumber(m_baseline)));
        base->setPen(QPen(st.accent, st.lineWidth, Qt::DashLine));
        all.push_back(m_baseline);
    }
    if (all.empty()) {
        *emptyReason = tr("No point of this study measured %1.").arg(studyMetricLabel(metric));
        return false;
    }
    QStringList labels;
    for (std::int64_t b : m_blocks) labels << QString::fromStdString(core::blockLabel(b));
    setTextTicks(p->xAxis, labels, 24);
    p->xAxis->setTickLabelRotation(m_blocks.size() > 8 ? 45 : 0);
    p->xAxis->setRange(-0.5, static_cast<double>(m_blocks.size()) - 0.5);
    const double lo = *std::min_element(all.begin(), all.end()), hi = *std::max_element(all.begin(), all.end());
    if (metric == QLatin1String("ppl") && lo > 0 && hi / lo > 5) {
        setLogAxis(p->yAxis, lo, hi, 0.15);
    } else {
        const double pad = hi > lo ? 0.08 * (hi - lo) : std::max(1e-6, 0.05 * std::abs(hi));
        p->yAxis->setRange(lo - pad, hi + pad);
    }
    p->xAxis->setLabel(tr("block size (elements; %1-bit weights%2)")
                           .arg(m_study->bits)
                           .arg(m_study->actBits ? tr(", %1-bit activations").arg(m_study->actBits) : QString()));
    p->yAxis->setLabel(studyMetricLabel(metric));
    p->legend->setVisible(true);
    p->axisRect()->insetLayout()->setInsetAlignment(0, metric == QLatin1String("ppl") || metric == QLatin1String("nll") || metric == QLatin1String("answer_loss")
                                                          ? Qt::AlignTop | Qt::AlignLeft
                                                          : Qt::AlignBottom | Qt::AlignLeft);
    return true;
}

FigureTable QuantPlotView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("series"), QStringLiteral("block"), QStringLiteral("block_label"), QStringLiteral("x"), QStringLiteral("metric"),
                 QStringLiteral("value"), QStringLiteral("ci_lo"), QStringLiteral("ci_hi")};
    if (m_graphs.empty()) return t;
    const QString metric = m_metricBox->currentData().toString();
    for (const auto& s : m_series) {
        for (std::size_t i = 0; i < s.blocks.size(); ++i) {
            const double x = static_cast<double>(std::find(m_blocks.begin(), m_blocks.end(), s.blocks[i]) - m_blocks.begin());
            t.addRow({QString::fromStdString(s.name), QString::number(s.blocks[i]), QString::fromStdString(core::blockLabel(s.blocks[i])), csvNumber(x), metric,
                      std::isfinite(s.values[i]) ? csvNumber(s.values[i]) : QString(),
                      i < s.lo.size() && std::isfinite(s.lo[i]) ? csvNumber(s.lo[i]) : QString(),
                      i < s.hi.size() && std::isfinite(s.hi[i]) ? csvNumber(s.hi[i]) : QString()});
        }
    }
    if (std::isfinite(m_baseline)) {
        const auto ci = m_study->baseline.ci.find(metric.toStdString());
        const bool has = ci != m_study->baseline.ci.end() && ci->second.valid();
        t.addRow({QStringLiteral("baseline"), QString(), QString(), QString(), metric, csvNumber(m_baseline), has ? csvNumber(ci->second.lo) : QString(),
                  has ? csvNumber(ci->second.hi) : QString()});
    }
    return t;
}

}  // namespace superlens::widgets
