#pragma once
// LASER study view (issue 10): a layer x rho heatmap of one matrix type and
// one measure from a core::LaserStudy (superlens-cli study laser, or the
// GUI's Studies menu). The colour scale is centred on the unedited model's
// value (white), so "better than baseline" and "worse" read at a glance;
// perplexity uses a logarithmic scale (rank reduction can raise it by
// orders of magnitude). Every cell is labelled with its value. Clicking a
// cell proposes its laser: edit for the ablation panel.
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
class QCPColorMap;

namespace superlens::widgets {

class LaserHeatmapView : public PlotView {
    Q_OBJECT
public:
    explicit LaserHeatmapView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("laser"); }
    QString title() const override { return tr("LASER study"); }
    FigureTable dataTable() const override;
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    void setStudy(std::shared_ptr<const core::LaserStudy> study);
    const std::shared_ptr<const core::LaserStudy>& study() const { return m_study; }
    // Matrix type ("down") and measure ("ppl", "accuracy", ...): false when the study has none such.
    bool setMatrixType(const QString& type);
    bool setMetric(const QString& metric);
    // Show value - baseline instead of the value.
    void setShowChange(bool change);

    QCPColorMap* colorMap() const { return m_map; }
    // The heatmap drawn: rows = layers, columns = rhos.
    const core::LaserHeatmap& shownHeatmap() const { return m_heatmap; }
    // The value drawn in a cell (NaN where not measured).
    double shownValue(std::size_t layerIndex, std::size_t rhoIndex) const;
    // Emits ablationProposed for the cell (as a click does); false outside the grid.
    bool proposeCell(std::size_t layerIndex, std::size_t rhoIndex);

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override;

private:
    void fillChoices();
    bool cellAt(const QPointF& pos, std::size_t* layerIndex, std::size_t* rhoIndex) const;
    void onMouseMove(QMouseEvent* event);
    void onMousePress(QMouseEvent* event);

    std::shared_ptr<const core::LaserStudy> m_study;
    core::LaserHeatmap m_heatmap;
    QComboBox* m_typeBox = nullptr;
    QComboBox* m_metricBox = nullptr;
    QComboBox* m_showBox = nullptr;
    QCPColorMap* m_map = nullptr;
};

}  // namespace superlens::widgets
