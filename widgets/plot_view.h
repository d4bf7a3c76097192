#pragma once
// Base of every view: a QCustomPlot that draws an immutable ViewSnapshot,
// a row of view-specific controls above it, a clear message instead of an
// empty plot, and a context menu with Export. Views emit intent (a layer
// was clicked, an ablation is proposed) and never change the snapshot.
//
// Thread-safety: GUI thread only.

#include <QList>
#include <QPair>
#include <QString>
#include <QWidget>

#include "figure_table.h"
#include "plot_style.h"
#include "view_model.h"

class QCustomPlot;
class QCPAxisRect;
class QHBoxLayout;
class QLabel;
class QStackedWidget;

namespace superlens::widgets {

class PlotView : public QWidget {
    Q_OBJECT
public:
    explicit PlotView(QWidget* parent = nullptr);
    ~PlotView() override;

    virtual QString kind() const = 0;   // the figure kind ("spikes", "layer", ...)
    virtual QString title() const = 0;  // tab title

    void setSnapshot(SnapshotPtr snapshot);
    const SnapshotPtr& snapshot() const { return m_snapshot; }
    void setSelectedLayer(int layer);
    int selectedLayer() const { return m_selectedLayer; }

    void setPlotStyle(const PlotStyle& style);
    const PlotStyle& plotStyle() const { return m_style; }

    QCustomPlot* plot() const { return m_plot; }
    // True when the plot shows data (otherwise a message says what to do).
    bool hasData() const { return m_hasData; }
    QString emptyMessage() const;

    // The data behind the current figure (written as CSV next to exports).
    virtual FigureTable dataTable() const = 0;

    // Redraws from the snapshot and the view's own state (one replot()).
    void refresh();

    // The view's own state beyond the selected layer, as `superlens-cli
    // figure` options (key = option name without "--"): what an exported
    // figure's embedded command must pass to draw the same picture, e.g.
    // {"position", "3"} for the Lens view. Default: none.
    virtual QList<QPair<QString, QString>> figureState() const { return {}; }
    // Sets one such option (after setSnapshot). True when applied; false with
    // *error empty when the key is not this view's, with *error set when the
    // value is bad for this snapshot.
    virtual bool applyFigureState(const QString& key, const QString& value, QString* error);

signals:
    void layerSelected(int layer);
    // A coordinate picked in a view, as an edit spec (DESIGN.md syntax).
    void ablationProposed(const QString& spec, const QString& description);
    // Apply this edit now, or remove it when it is applied (a live toggle, e.g. pruning an expert).
    void editToggled(const QString& spec, const QString& description);
    // Show this head's attention pattern (the Attention view), of the edited run when `edited`.
    void attentionHeadRequested(int layer, int head, bool edited);
    void exportRequested(superlens::widgets::PlotView* view);
    void statusMessage(const QString& message);

protected:
    // Fill the plot; return false (with a message) when there is nothing to draw.
    virtual bool rebuild(QString* emptyReason) = 0;
    // What to show before any run.
    virtual QString noSnapshotMessage() const = 0;
    // Called when the selected layer changes; default: refresh().
    virtual void selectedLayerChanged() { refresh(); }
    QHBoxLayout* controls() const { return m_controls; }
    // Clears every plottable, item and extra layout element (keeps the default axis rect).
    void resetPlot();

private:
    void showContextMenu(const QPoint& pos);

    SnapshotPtr m_snapshot;
    int m_selectedLayer = -1;
    PlotStyle m_style = PlotStyle::screen();
    QCustomPlot* m_plot = nullptr;
    QCPAxisRect* m_mainRect = nullptr;  // the default axis rect (xAxis/yAxis), kept across rebuilds
    QHBoxLayout* m_controls = nullptr;
    QLabel* m_message = nullptr;
    QStackedWidget* m_stack = nullptr;
    bool m_hasData = false;
};

}  // namespace superlens::widgets
