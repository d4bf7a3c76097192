#pragma once
// Super-weight study view (issue 23): a core::SuperWeightStudy (`superlens-cli
// study superweight --json`, or the GUI's Studies ▸ Super-weight study…)
// drawn three ways, chosen by "Show":
//   conditions  one bar per condition (original / super weight zeroed /
//               + super activation restored / other outliers zeroed) of the
//               chosen measure (perplexity, its ratio, stopword mass, its
//               ratio, zero-shot accuracy) with the bootstrap interval as an
//               error bar;
//   null        the null control: the K perplexities of random same-size
//               changes (one strip per scope: same matrix, other layers) with
//               the super-weight ablation's perplexity marked and its
//               percentile and z in the legend;
//   joint       the pairwise interaction matrix of the joint ablation as a
//               heatmap (pair effect - the two single effects, mean NLL in
//               nats; the diagonal shows the single effects), each cell
//               labelled with its value and interval.
// A table under the plot lists the numbers of the shown part with their
// intervals (the same rows the figure's CSV holds). The view only draws:
// every number is the study's (core/analysis/superweight_study.h).
//
// Not a forward-pass view: it is not in the view registry and shows the
// study set with setStudy().
//
// Thread-safety: GUI thread only.

#include <memory>
#include <vector>

#include "../plot_view.h"
#include "superlens/core/analysis/superweight_study.h"

class QComboBox;
class QCPAbstractPlottable;
class QCPBars;
class QCPErrorBars;
class QCPColorMap;
class QTableWidget;

namespace superlens::widgets {

class SuperWeightStudyView : public PlotView {
    Q_OBJECT
public:
    explicit SuperWeightStudyView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("superweight"); }
    QString title() const override { return tr("Super-weight study"); }
    FigureTable dataTable() const override;
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    void setStudy(std::shared_ptr<const core::SuperWeightStudy> study);
    const std::shared_ptr<const core::SuperWeightStudy>& study() const { return m_study; }
    // "conditions", "null" or "joint": false when the study has no such part.
    bool setShow(const QString& show);
    QString show() const;
    // Conditions' measure: ppl, ppl_ratio, stopword_mass, stopword_ratio, accuracy; false when not measured.
    bool setMeasure(const QString& measure);

    // What is drawn, for tests: the bars and their interval bars (conditions),
    // the null strips' graphs and the ablation marker (null), the heatmap (joint).
    QCPBars* bars() const { return m_bars; }
    QCPErrorBars* errorBars() const { return m_errorBars; }
    QCPColorMap* colorMap() const { return m_map; }
    const std::vector<QCPAbstractPlottable*>& nullStrips() const { return m_strips; }
    QTableWidget* table() const { return m_table; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override;

private:
    void fillChoices();
    void fillTable();
    bool buildConditions(QString* emptyReason);
    bool buildNull(QString* emptyReason);
    bool buildJoint(QString* emptyReason);

    std::shared_ptr<const core::SuperWeightStudy> m_study;
    QComboBox* m_showBox = nullptr;
    QComboBox* m_measureBox = nullptr;
    QTableWidget* m_table = nullptr;
    QCPBars* m_bars = nullptr;
    QCPErrorBars* m_errorBars = nullptr;
    QCPColorMap* m_map = nullptr;
    std::vector<QCPAbstractPlottable*> m_strips;
};

// The measure of a condition and its interval (NaN / invalid when not measured).
double superWeightConditionValue(const core::StudyCondition& c, const QString& measure, core::Interval* ci);

}  // namespace superlens::widgets
