#pragma once
// View 1, down_proj spikes (super-weight paper, Fig. 2): per layer, max
// |down_proj input| and max |down_proj output| on a log axis, original and
// edited; detected super weights marked. Click a layer to select it.

#include "../plot_view.h"

namespace superlens::widgets {

class SpikesView : public PlotView {
    Q_OBJECT
public:
    explicit SpikesView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("spikes"); }
    QString title() const override { return tr("Spikes"); }
    FigureTable dataTable() const override;

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see the down_proj spikes of every layer."); }

private:
    void onMousePress(QMouseEvent* event);
    void onMouseMove(QMouseEvent* event);
};

}  // namespace superlens::widgets
