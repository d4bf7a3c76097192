#pragma once
// Quantization study view (issue 10; the super-weight paper's Fig. 7): one
// measure against the quantization block size for each series of a
// core::QuantStudy -- plain RTN, RTN keeping the super weights, and the
// activation series when the study has them -- with the unquantized model
// as a dashed line; activation series are markers only (their blocks are
// per token or the whole tensor, not weight block sizes). Block sizes are categories in ascending order (per
// token first, the whole tensor last), evenly spaced as in the paper;
// perplexity uses a log axis when it spans more than a factor of 5.
//
// Not a forward-pass view: it is not in the view registry (the snapshot is
// ignored) and shows the study set with setStudy().
//
// Thread-safety: GUI thread only.

#include <memory>
#include <vector>

#include "../plot_view.h"
#include "superlens/core/analysis/compression_study.h"

class QComboBox;
class QCPGraph;
class QCPErrorBars;

namespace superlens::widgets {

class QuantPlotView : public PlotView {
    Q_OBJECT
public:
    explicit QuantPlotView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("quant"); }
    QString title() const override { return tr("Quantization study"); }
    FigureTable dataTable() const override;
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    void setStudy(std::shared_ptr<const core::QuantStudy> study);
    const std::shared_ptr<const core::QuantStudy>& study() const { return m_study; }
    bool setMetric(const QString& metric);

    // The block sizes on the x axis, in order (x = index; 0 = tensor, -1 = token).
    const std::vector<std::int64_t>& blockOrder() const { return m_blocks; }
    // The series drawn (the study's plot() of the measure) and their graphs; the baseline is one more graph.
    const std::vector<core::QuantSeries>& shownSeries() const { return m_series; }
    QCPGraph* seriesGraph(std::size_t i) const { return i < m_graphs.size() ? m_graphs[i] : nullptr; }
    // The series' interval bars (nullptr when the study has no intervals for the metric).
    QCPErrorBars* seriesErrorBars(std::size_t i) const { return i < m_errorBars.size() ? m_errorBars[i] : nullptr; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override;

private:
    std::shared_ptr<const core::QuantStudy> m_study;
    QComboBox* m_metricBox = nullptr;
    std::vector<std::int64_t> m_blocks;
    std::vector<core::QuantSeries> m_series;
    std::vector<QCPGraph*> m_graphs;
    std::vector<QCPErrorBars*> m_errorBars;
    double m_baseline = core::kNotMeasured;
};

}  // namespace superlens::widgets
