#pragma once
// View 2, layer detail: token x channel heatmap of |down_proj output|
// (blocks.L.hook_mlp_out) or |down_proj input| (blocks.L.mlp.hook_post) of
// the selected layer on a log colour scale. Hover shows token, channel and
// value; a click proposes the down_proj weight behind that cell as an
// ablation candidate. With llama.cpp's importance matrix (--imatrix, File →
// Open importance matrix…) the down_proj input side gets a panel of each
// input column's importance below the map, and each super weight's column
// rank is named.

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
    // llama.cpp's importance matrix entry of the selected layer's down
    // projection (ViewSnapshot::downImportance), null without one; the rank
    // of a column within it (1 = most important, as core::ImatrixEntry::rank).
    const core::ImatrixEntry* importanceEntry() const;
    std::int64_t importanceRank(std::int64_t column) const;
    // The line naming each super weight's column importance and rank ("" without an entry).
    QString importanceText() const { return m_importanceText; }
    // figureState: {"tensor", "output"|"input"}.
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

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
    QString m_importanceText;
    // Importance values of importanceEntry() sorted ascending (NaN left out), for ranks.
    mutable const core::ImatrixEntry* m_sortedFor = nullptr;
    mutable std::vector<double> m_sorted;
};

}  // namespace superlens::widgets
