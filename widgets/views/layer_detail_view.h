#pragma once
// View 2, layer detail: token x channel heatmap of |down_proj output|
// (blocks.L.hook_mlp_out) or |down_proj input| (blocks.L.mlp.hook_post) of
// the selected layer on a log colour scale. Hover shows token, channel and
// value; a click proposes the down_proj weight behind that cell as an
// ablation candidate.

#include "../plot_view.h"

class QComboBox;
class QCPColorMap;

namespace superlens::widgets {

class LayerDetailView : public PlotView {
    Q_OBJECT
public:
    explicit LayerDetailView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("layer"); }
    QString title() const override { return tr("Layer"); }
    FigureTable dataTable() const override;

    enum class Tensor { DownOutput, DownInput };
    void setTensor(Tensor tensor);
    void setShowEdited(bool edited);
    QCPColorMap* colorMap() const { return m_map; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt, then pick a layer to see its down_proj activations."); }

private:
    // The selected layer is a routed-experts layer (no single down projection).
    bool routedLayer() const;
    const core::ActivationTensor* currentTensor() const;
    const core::ActivationTensor* otherTensor() const;
    bool cellAt(const QPointF& pixel, std::int64_t* token, std::int64_t* channel) const;
    void onMousePress(QMouseEvent* event);
    void onMouseMove(QMouseEvent* event);

    QComboBox* m_tensorBox = nullptr;
    QComboBox* m_runBox = nullptr;
    QCPColorMap* m_map = nullptr;
};

}  // namespace superlens::widgets
