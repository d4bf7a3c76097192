#pragma once
// View 10, experts (mixture-of-experts models): the super-expert profile
// (Su et al. 2025, core/analysis/super_experts.h) as a routed layers x experts
// map of each expert's max |down_proj output| on the prompt (log scale),
// flagged super experts outlined and pruned ones (expert:L:E=off among the
// edits) crossed out; below it, the routing of the selected layer: each
// token's router probability for every expert (blocks.L.mlp.hook_expert_weights),
// original and edited side by side, the experts the token was sent to
// (its top-k) marked. Clicking a profile cell prunes that expert live (or
// restores it): the view proposes expert:L:E=off and the main window toggles it.
// Paper figures (exports at a printed size) show the profile map alone; the
// routing maps do not fit a column's height (the CSV has each expert's mean
// router probability in both runs).

#include <QList>
#include <QPair>

#include "../plot_view.h"

class QCPColorMap;

namespace superlens::widgets {

class ExpertsView : public PlotView {
    Q_OBJECT
public:
    explicit ExpertsView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("experts"); }
    QString title() const override { return tr("Experts"); }
    FigureTable dataTable() const override;

    // As drawn: log10 of the expert's max |down_proj output| (NaN outside the map or when not drawn).
    double shownLogMax(int layer, int expert) const;
    // As drawn: router probability of token t for expert e in the selected layer (NaN when not drawn).
    double shownRouting(bool edited, int token, int expert) const;
    // The crossed-out (pruned) experts, as (layer, expert).
    QList<QPair<int, int>> prunedExperts() const { return m_pruned; }
    // The profile cell under a widget position of plot(): false outside.
    bool cellAt(const QPoint& pos, int* layer, int* expert) const;
    // The edit a click on (layer, expert) toggles.
    static QString pruneSpec(int layer, int expert);

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override {
        return tr("Open a mixture-of-experts model (Mixtral, Qwen-MoE, OLMoE) and run a prompt to profile its experts.");
    }

private:
    void onMouseMove(QMouseEvent* event);
    void onMousePress(QMouseEvent* event);
    // Index of `layer` in the profile's routed layers, -1 when not routed.
    int routedIndex(int layer) const;

    QCPColorMap* m_profileMap = nullptr;
    QCPColorMap* m_routingOriginal = nullptr;
    QCPColorMap* m_routingEdited = nullptr;
    int m_routingLayer = -1;
    QList<QPair<int, int>> m_pruned;
};

}  // namespace superlens::widgets
