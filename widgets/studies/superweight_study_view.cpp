#include "superweight_study_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "study_view_util.h"

namespace superlens::widgets {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

QString cell(double v) { return std::isfinite(v) ? csvNumber(v) : QString(); }

QString coordName(int layer, std::int64_t row, std::int64_t col) { return QStringLiteral("%1:%2:%3").arg(layer).arg(row).arg(col); }

QString measureLabel(const QString& m) {
    if (m == QLatin1String("ppl")) return QObject::tr("perplexity");
    if (m == QLatin1String("ppl_ratio")) return QObject::tr("perplexity / original");
    if (m == QLatin1String("stopword_mass")) return QObject::tr("stopword mass");
    if (m == QLatin1String("stopword_ratio")) return QObject::tr("stopword mass / original");
    if (m == QLatin1String("accuracy")) return QObject::tr("zero-shot accuracy");
    return m;
}

const QStringList& measures() {
    static const QStringList s = {QStringLiteral("ppl"), QStringLiteral("ppl_ratio"), QStringLiteral("stopword_mass"), QStringLiteral("stopword_ratio"),
                                  QStringLiteral("accuracy")};
    return s;
}

// A short interval text: "72.8 [66.3, 79.5]".
QString withInterval(double v, const core::Interval& ci) {
    if (!std::isfinite(v)) return QStringLiteral("–");
    QString s = shortNumber(v);
    if (ci.valid()) s += QStringLiteral(" [%1, %2]").arg(shortNumber(ci.lo), shortNumber(ci.hi));
    return s;
}

QString scopeLabel(const std::string& scope) {
    return scope == "same_matrix" ? QObject::tr("same matrix") : scope == "elsewhere" ? QObject::tr("other layers") : QString::fromStdString(scope);
}

// Word-wrapped to lines of about `width` characters (tick labels too wide for
// their slot are hidden by QCustomPlot when they reach the widget's edge).
QString wrapped(const QString& text, int width) {
    QStringList lines;
    QString line;
    for (const QString& word : text.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
        if (!line.isEmpty() && line.size() + 1 + word.size() > width) {
            lines << line;
            line.clear();
        }
        line += (line.isEmpty() ? QString() : QStringLiteral(" ")) + word;
    }
    if (!line.isEmpty()) lines << line;
    return lines.join(QLatin1Char('\n'));
}

const core::StudyCondition* ablatedCondition(const core::SuperWeightStudy& s) {
    for (const auto& c : s.conditions) {
        if (!c.nulls.empty()) return &c;
    }
    return nullptr;
}

}  // namespace

double superWeightConditionValue(const core::StudyCondition& c, const QString& measure, core::Interval* ci) {
    *ci = {};
    if (measure == QLatin1String("ppl") && c.ppl) {
        *ci = c.ci.ppl;
        return c.ppl->ppl;
    }
    if (measure == QLatin1String("ppl_ratio") && c.ppl) {
        *ci = c.ci.pplRatio;
        return c.pplRatio;
    }
    if (measure == QLatin1String("stopword_mass") && c.stopwords) {
        *ci = c.ci.stopwordMass;
        return c.stopwords->editedMass;
    }
    if (measure == QLatin1String("stopword_ratio") && c.stopwords) {
        *ci = c.ci.stopwordRatio;
        return c.stopwords->ratio();
    }
    if (measure == QLatin1String("accuracy") && c.zeroShot) {
        *ci = c.ci.accuracy;
        return c.zeroShot->accuracy;
    }
    return kNaN;
}

SuperWeightStudyView::SuperWeightStudyView(QWidget* parent) : PlotView(parent) {
    m_showBox = new QComboBox(this);
    m_showBox->setToolTip(tr("Conditions with their intervals, the null control's distribution, or the joint ablation's interaction matrix"));
    m_measureBox = new QComboBox(this);
    m_measureBox->setToolTip(tr("The measure of the conditions' bars"));
    controls()->addWidget(new QLabel(tr("Show"), this));
    controls()->addWidget(m_showBox);
    controls()->addWidget(new QLabel(tr("Measure"), this));
    controls()->addWidget(m_measureBox);
    controls()->addStretch(1);
    m_table = new QTableWidget(this);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setMaximumHeight(190);
    m_table->verticalHeader()->setVisible(false);
    m_table->setToolTip(tr("The numbers drawn, with their intervals (the figure's CSV)"));
    if (auto* box = qobject_cast<QVBoxLayout*>(layout())) box->addWidget(m_table);
    connect(m_showBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_measureBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    refresh();
}

QString SuperWeightStudyView::noSnapshotMessage() const {
    return tr("No super-weight study yet. Studies ▸ Super-weight study… runs one on the open model (Ablations ▸ Null distribution… "
              "runs its null control); Studies ▸ Open study JSON… shows one written by superlens-cli study superweight --json.");
}

void SuperWeightStudyView::fillChoices() {
    const QString show = m_showBox->currentData().toString(), measure = m_measureBox->currentData().toString();
    QSignalBlocker b1(m_showBox), b2(m_measureBox);
    m_showBox->clear();
    m_measureBox->clear();
    if (!m_study) return;
    m_showBox->addItem(tr("conditions"), QStringLiteral("conditions"));
    if (ablatedCondition(*m_study)) m_showBox->addItem(tr("null distribution"), QStringLiteral("null"));
    if (m_study->joint) m_showBox->addItem(tr("joint ablation"), QStringLiteral("joint"));
    for (const QString& m : measures()) {
        core::Interval ci;
        if (std::isfinite(superWeightConditionValue(m_study->conditions.front(), m, &ci))) m_measureBox->addItem(measureLabel(m), m);
    }
    if (m_showBox->findData(show) >= 0) m_showBox->setCurrentIndex(m_showBox->findData(show));
    if (m_measureBox->findData(measure) >= 0) m_measureBox->setCurrentIndex(m_measureBox->findData(measure));
}

void SuperWeightStudyView::setStudy(std::shared_ptr<const core::SuperWeightStudy> study) {
    m_study = std::move(study);
    fillChoices();
    setSnapshot(m_study ? studyPlaceholderSnapshot() : nullptr);
}

bool SuperWeightStudyView::setShow(const QString& show) {
    const int i = m_showBox->findData(show);
    if (i < 0) return false;
    m_showBox->setCurrentIndex(i);
    refresh();
    return true;
}

QString SuperWeightStudyView::show() const { return m_showBox->currentData().toString(); }

bool SuperWeightStudyView::setMeasure(const QString& measure) {
    const int i = m_measureBox->findData(measure);
    if (i < 0) return false;
    m_measureBox->setCurrentIndex(i);
    refresh();
    return true;
}

// figure superweight --study FILE --show S [--metric M].
QList<QPair<QString, QString>> SuperWeightStudyView::figureState() const {
    if (!m_study) return {};
    QList<QPair<QString, QString>> s = {{QStringLiteral("show"), show()}};
    if (show() == QLatin1String("conditions")) s.append({QStringLiteral("metric"), m_measureBox->currentData().toString()});
    return s;
}

bool SuperWeightStudyView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    if (key == QLatin1String("show")) {
        if (!setShow(value)) *error = tr("--show %1: the study has no such part (conditions; null with study --null K; joint with study --joint)").arg(value);
        return error->isEmpty();
    }
    if (key == QLatin1String("metric")) {
        if (!setMeasure(value)) *error = tr("--metric %1: the study did not measure it (ppl, ppl_ratio, stopword_mass, stopword_ratio, accuracy)").arg(value);
        return error->isEmpty();
    }
    return false;
}

bool SuperWeightStudyView::rebuild(QString* emptyReason) {
    m_bars = nullptr;
    m_errorBars = nullptr;
    m_map = nullptr;
    m_strips.clear();
    m_measureBox->setEnabled(show() == QLatin1String("conditions"));
    bool ok = false;
    if (!m_study) {
        *emptyReason = noSnapshotMessage();
    } else if (m_study->conditions.empty()) {
        *emptyReason = tr("This super-weight study has no conditions.");
    } else if (show() == QLatin1String("null")) {
        ok = buildNull(emptyReason);
    } else if (show() == QLatin1String("joint")) {
        ok = buildJoint(emptyReason);
    } else {
        ok = buildConditions(emptyReason);
    }
    fillTable();
    return ok;
}

bool SuperWeightStudyView::buildConditions(QString* emptyReason) {
    const QString measure = m_measureBox->currentData().toString();
    if (measure.isEmpty()) {
        *emptyReason = tr("This study measured nothing that can be drawn.");
        return false;
    }
    QCustomPlot* p = plot();
    const PlotStyle& st = plotStyle();
    QVector<double> keys, values, below, above;
    std::vector<double> all;
    QStringList labels;
    bool anyInterval = false;
    for (std::size_t i = 0; i < m_study->conditions.size(); ++i) {
        const auto& c = m_study->conditions[i];
        core::Interval ci;
        const double v = superWeightConditionValue(c, measure, &ci);
        labels << (c.key == "original"                ? tr("original")
                   : c.key == "sw_zeroed"             ? tr("super weight zeroed")
                   : c.key == "sw_zeroed_sa_restored" ? tr("+ super act. restored")
                   : c.key == "outliers_zeroed"       ? tr("outliers zeroed")
                                                      : QString::fromStdString(c.label));
        if (!std::isfinite(v)) continue;
        keys << static_cast<double>(i);
        values << v;
        all.push_back(v);
        below << (ci.valid() ? std::max(0.0, v - ci.lo) : 0.0);
        above << (ci.valid() ? std::max(0.0, ci.hi - v) : 0.0);
        if (ci.valid()) {
            all.push_back(ci.lo);
            all.push_back(ci.hi);
            anyInterval = true;
        }
    }
    if (all.empty()) {
        *emptyReason = tr("No condition measured %1.").arg(measureLabel(measure));
        return false;
    }
    const bool ratio = measure.endsWith(QLatin1String("_ratio"));
    const double lo = *std::min_element(all.begin(), all.end()), hi = *std::max_element(all.begin(), all.end());
    const bool logScale = (measure == QLatin1String("ppl") || measure == QLatin1String("ppl_ratio")) && lo > 0 && hi / lo > 5;
    // On a log axis the bars start at `base` (QCPBars draws base .. base + value);
    // the interval bars hang on an invisible graph of the true values.
    const double base = logScale ? std::max(1e-12, lo / 2) : 0.0;
    QVector<double> heights;
    for (double v : values) heights << v - base;
    m_bars = new QCPBars(p->xAxis, p->yAxis);
    m_bars->setWidth(0.6);
    m_bars->setBaseValue(base);
    m_bars->setData(keys, heights, true);
    m_bars->setPen(QPen(st.original.darker(130), 1));
    m_bars->setBrush(tint(st.original, 0.35));
    m_bars->setName(measureLabel(measure));
    if (anyInterval) {
        auto* points = p->addGraph();
        points->setData(keys, values, true);
        points->setLineStyle(QCPGraph::lsNone);
        points->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
        points->removeFromLegend();
        m_errorBars = new QCPErrorBars(p->xAxis, p->yAxis);
        m_errorBars->setDataPlottable(points);
        m_errorBars->setData(below, above);
        m_errorBars->setPen(QPen(QColor(0x22, 0x22, 0x22), std::max(1.0, st.lineWidth * 0.75)));
        m_errorBars->setWhiskerWidth(10);
        m_errorBars->setName(tr("%1% interval").arg(100 * m_study->bootstrap.level, 0, 'g', 3));
    }
    // Value labels above each bar.
    for (int i = 0; i < keys.size(); ++i) {
        auto* text = new QCPItemText(p);
        text->position->setType(QCPItemPosition::ptPlotCoords);
        text->position->setCoords(keys[i], values[i] + above[i]);
        text->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
        text->setText(shortNumber(values[i]));
        text->setPadding(QMargins(0, 0, 0, 6));
        text->setClipToAxisRect(true);
        text->setSelectable(false);
    }
    if (ratio) {
        auto* one = p->addGraph();
        one->setData(QVector<double>{-0.5, labels.size() - 0.5}, QVector<double>{1.0, 1.0}, true);
        one->setPen(QPen(st.accent, st.lineWidth, Qt::DashLine));
        one->setName(tr("original (1)"));
    }
    QStringList tickLabels;
    for (const QString& l : labels) tickLabels << wrapped(l, 8);
    setTextTicks(p->xAxis, tickLabels, 12);
    p->xAxis->setRange(-0.5, labels.size() - 0.5);
    if (logScale) {
        setLogAxis(p->yAxis, lo, hi, 0.2);
    } else {
        const double top = hi + 0.15 * (hi - std::min(0.0, lo) + 1e-12);
        p->yAxis->setRange(std::min(0.0, lo), top);
    }
    p->yAxis->setLabel(measureLabel(measure));
    p->legend->setVisible(anyInterval || ratio);
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    return true;
}

bool SuperWeightStudyView::buildNull(QString* emptyReason) {
    const core::StudyCondition* ablated = ablatedCondition(*m_study);
    if (!ablated || !ablated->ppl) {
        *emptyReason = tr("This study has no null control (run it with --null K, or Ablations ▸ Null distribution…).");
        return false;
    }
    QCustomPlot* p = plot();
    const PlotStyle& st = plotStyle();
    const double observed = ablated->ppl->ppl;
    std::vector<double> all = {observed};
    const double original = m_study->conditions.front().ppl ? m_study->conditions.front().ppl->ppl : kNaN;
    if (std::isfinite(original)) all.push_back(original);
    QStringList labels;
    const int n = static_cast<int>(ablated->nulls.size());
    const QColor colours[] = {st.original, QColor(0x94, 0x67, 0xbd)};
    for (int s = 0; s < n; ++s) {
        const core::NullControl& nc = ablated->nulls[static_cast<std::size_t>(s)];
        QVector<double> x, y;
        for (std::size_t d = 0; d < nc.ppl.values.size(); ++d) {
            // A deterministic jitter (golden-ratio sequence) spreads equal values.
            const double jitter = std::fmod(0.5 + 0.6180339887 * static_cast<double>(d), 1.0) - 0.5;
            x << nc.ppl.values[d];
            y << s + 0.5 * jitter;
            if (std::isfinite(nc.ppl.values[d])) all.push_back(nc.ppl.values[d]);
        }
        auto* g = p->addGraph();
        g->setData(x, y);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, colours[s % 2], tint(colours[s % 2], 0.5), 6));
        g->setName(tr("%1, K=%2: pct %3, z=%4")
                       .arg(scopeLabel(nc.scope))
                       .arg(nc.k)
                       .arg(nc.ppl.percentile, 0, 'g', 4)
                       .arg(nc.ppl.z ? shortNumber(*nc.ppl.z) : tr("undefined")));
        g->setProperty("tooltip", tr("mean %1, sd %2").arg(shortNumber(nc.ppl.mean), shortNumber(nc.ppl.sd)));
        m_strips.push_back(g);
        labels << scopeLabel(nc.scope);
    }
    auto* mark = p->addGraph();
    mark->setData(QVector<double>{observed, observed}, QVector<double>{-0.5, n - 0.5}, false);
    mark->setPen(QPen(st.edited, st.lineWidth * 1.5));
    mark->setName(tr("%1: %2").arg(QString::fromStdString(ablated->label), shortNumber(observed)));
    if (std::isfinite(original)) {
        auto* o = p->addGraph();
        o->setData(QVector<double>{original, original}, QVector<double>{-0.5, n - 0.5}, false);
        o->setPen(QPen(st.accent, st.lineWidth, Qt::DashLine));
        o->setName(tr("original: %1").arg(shortNumber(original)));
    }
    const double lo = *std::min_element(all.begin(), all.end()), hi = *std::max_element(all.begin(), all.end());
    // Linear up to a factor of 50 (readable ticks at the original's value); log beyond.
    if (lo > 0 && hi / lo > 50) {
        setLogAxis(p->xAxis, lo, hi, 0.2);
    } else {
        const double pad = hi > lo ? 0.08 * (hi - lo) : std::max(1e-6, 0.05 * std::abs(hi));
        p->xAxis->setRange(lo - pad, hi + pad);
    }
    setTextTicks(p->yAxis, labels, 8);
    p->yAxis->setRange(-0.5, n + 0.9);  // room for the legend above the strips
    p->xAxis->setLabel(tr("perplexity (random same-size changes vs the ablation)"));
    p->yAxis->setLabel(tr("null draws"));
    p->legend->setVisible(true);
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    return true;
}

bool SuperWeightStudyView::buildJoint(QString* emptyReason) {
    if (!m_study->joint || m_study->joint->n() == 0) {
        *emptyReason = tr("This study has no joint ablation (run it with --joint).");
        return false;
    }
    const core::JointAblation& j = *m_study->joint;
    const int n = static_cast<int>(j.n());
    QCustomPlot* p = plot();
    double spread = 0;
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) {
            if (a != b) spread = std::max(spread, std::abs(j.inter(static_cast<std::size_t>(a), static_cast<std::size_t>(b))));
        }
    }
    if (!(spread > 0)) spread = 1e-6;
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    const int cells = std::max(2, n);
    m_map->data()->setSize(cells, cells);
    m_map->data()->setRange(n == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, n - 1), n == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, n - 1));
    for (int a = 0; a < cells; ++a) {
        for (int b = 0; b < cells; ++b) {
            const auto i = static_cast<std::size_t>(std::min(a, n - 1)), k = static_cast<std::size_t>(std::min(b, n - 1));
            m_map->data()->setCell(b, a, i == k ? kNaN : j.inter(i, k));  // the diagonal is no interaction: blank
        }
    }
    auto* scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setBarWidth(10);
    m_map->setColorScale(scale);
    QCPColorGradient g;
    g.setColorStopAt(0.0, QColor(0x21, 0x66, 0xac));
    g.setColorStopAt(0.5, QColor(0xf7, 0xf7, 0xf7));
    g.setColorStopAt(1.0, QColor(0xb2, 0x18, 0x2b));
    g.setNanHandling(QCPColorGradient::nhTransparent);
    m_map->setGradient(g);
    m_map->setDataRange(QCPRange(-spread, spread));
    m_map->setInterpolate(false);
    scale->axis()->setLabel(tr("interaction (nats): pair − singles"));
    auto* group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) {
            const auto i = static_cast<std::size_t>(a), k = static_cast<std::size_t>(b);
            auto* text = new QCPItemText(p);
            text->position->setType(QCPItemPosition::ptPlotCoords);
            text->position->setCoords(b, a);
            // Compact (3 digits): a cell of a one-column figure holds about 16 characters.
            const auto compact = [](double v, const core::Interval& ci) {
                QString s = QString::number(v, 'g', 3);
                if (ci.valid()) s += QStringLiteral("\n[%1, %2]").arg(QString::number(ci.lo, 'g', 3), QString::number(ci.hi, 'g', 3));
                return s;
            };
            text->setText(i == k ? tr("alone: %1").arg(compact(j.singleEffect[i], j.singleCi[i])) : compact(j.inter(i, k), j.interactionCi[i * j.n() + k]));
            text->setClipToAxisRect(true);
            text->setSelectable(false);
            // White on the darker half of the scale, so labels stay legible.
            if (i != k && std::abs(j.inter(i, k)) > 0.5 * spread) text->setColor(Qt::white);
        }
    }
    QStringList names;
    for (const auto& c : j.items) names << coordName(c.layer, c.row, c.col);
    setTextTicks(p->xAxis, names, 24);
    setTextTicks(p->yAxis, names, 24);
    p->xAxis->setRange(-0.5, n - 0.5);
    p->yAxis->setRange(-0.5, n - 0.5);
    p->xAxis->setLabel(tr("super weight (layer:row:col); all %1 zeroed: %2").arg(n).arg(withInterval(j.allEffect, j.allCi)));
    p->yAxis->setLabel(tr("super weight"));
    return true;
}

FigureTable SuperWeightStudyView::dataTable() const {
    FigureTable t;
    t.title = title();
    if (!m_study) return t;
    const QString s = show();
    if (s == QLatin1String("null")) {
        t.columns = {QStringLiteral("scope"), QStringLiteral("draw"), QStringLiteral("ppl"), QStringLiteral("ablation_ppl"), QStringLiteral("mean"),
                     QStringLiteral("sd"), QStringLiteral("percentile"), QStringLiteral("z")};
        const core::StudyCondition* ablated = ablatedCondition(*m_study);
        if (!ablated) return t;
        for (const auto& nc : ablated->nulls) {
            for (std::size_t d = 0; d < nc.ppl.values.size(); ++d) {
                t.addRow({QString::fromStdString(nc.scope), QString::number(d), cell(nc.ppl.values[d]), cell(ablated->ppl ? ablated->ppl->ppl : kNaN),
                          cell(nc.ppl.mean), cell(nc.ppl.sd), cell(nc.ppl.percentile), nc.ppl.z ? cell(*nc.ppl.z) : QString()});
            }
        }
        return t;
    }
    if (s == QLatin1String("joint")) {
        t.columns = {QStringLiteral("zeroed"), QStringLiteral("item_i"), QStringLiteral("item_j"), QStringLiteral("effect"), QStringLiteral("effect_lo"),
                     QStringLiteral("effect_hi"), QStringLiteral("interaction"), QStringLiteral("interaction_lo"), QStringLiteral("interaction_hi")};
        if (!m_study->joint) return t;
        const core::JointAblation& j = *m_study->joint;
        const auto name = [&](std::size_t i) { return coordName(j.items[i].layer, j.items[i].row, j.items[i].col); };
        for (std::size_t i = 0; i < j.n(); ++i) {
            t.addRow({QStringLiteral("single"), name(i), QString(), cell(j.singleEffect[i]), cell(j.singleCi[i].lo), cell(j.singleCi[i].hi), QString(), QString(), QString()});
        }
        for (std::size_t i = 0; i < j.n(); ++i) {
            t.addRow({QStringLiteral("leave_one_out"), name(i), QString(), cell(j.leaveOneOutEffect[i]), cell(j.leaveOneOutCi[i].lo),
                      cell(j.leaveOneOutCi[i].hi), QString(), QString(), QString()});
        }
        t.addRow({QStringLiteral("all"), QString(), QString(), cell(j.allEffect), cell(j.allCi.lo), cell(j.allCi.hi), QString(), QString(), QString()});
        for (std::size_t i = 0; i < j.n(); ++i) {
            for (std::size_t k = i + 1; k < j.n(); ++k) {
                const core::Interval& ci = j.interactionCi[i * j.n() + k];
                t.addRow({QStringLiteral("pair"), name(i), name(k), cell(j.pair(i, k)), QString(), QString(), cell(j.inter(i, k)), cell(ci.lo), cell(ci.hi)});
            }
        }
        return t;
    }
    t.columns = {QStringLiteral("key"), QStringLiteral("condition")};
    for (const QString& m : measures()) t.columns << m << m + QStringLiteral("_lo") << m + QStringLiteral("_hi");
    for (const auto& c : m_study->conditions) {
        QStringList row = {QString::fromStdString(c.key), QString::fromStdString(c.label)};
        for (const QString& m : measures()) {
            core::Interval ci;
            const double v = superWeightConditionValue(c, m, &ci);
            row << cell(v) << cell(ci.lo) << cell(ci.hi);
        }
        t.addRow(row);
    }
    if (m_study->bootstrap.enabled()) {
        t.comments << QStringLiteral("intervals: %1% percentile bootstrap, %2 resamples, seed %3")
                          .arg(100 * m_study->bootstrap.level)
                          .arg(m_study->bootstrap.resamples)
                          .arg(m_study->bootstrap.seed);
    }
    return t;
}

void SuperWeightStudyView::fillTable() {
    const FigureTable t = dataTable();
    m_table->clear();
    m_table->setColumnCount(static_cast<int>(t.columns.size()));
    m_table->setRowCount(static_cast<int>(t.rows.size()));
    m_table->setHorizontalHeaderLabels(t.columns);
    for (int r = 0; r < t.rows.size(); ++r) {
        for (int c = 0; c < t.rows[r].size() && c < t.columns.size(); ++c) {
            // Shown with 6 significant digits; the CSV keeps the exact doubles.
            bool isNumber = false;
            const double v = t.rows[r][c].toDouble(&isNumber);
            auto* item = new QTableWidgetItem(isNumber && c > 0 ? QString::number(v, 'g', 6) : t.rows[r][c]);
            item->setData(Qt::UserRole, t.rows[r][c]);
            m_table->setItem(r, c, item);
        }
    }
    m_table->resizeColumnsToContents();
    m_table->setVisible(m_study != nullptr);
}

}  // namespace superlens::widgets
