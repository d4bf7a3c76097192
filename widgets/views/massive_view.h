#pragma once
// View 4, massive activations (Sun et al., 2024) at the selected layer. Top:
// |residual| (blocks.L.hook_resid_post) of the strongest channels at every
// token as a heatmap with token labels. Bottom: each token's largest
// |residual|, original and edited, on a log axis; the first token and
// delimiters (where massive activations live) are highlighted and the
// largest entries are labelled with their channel.

#include "../plot_view.h"

class QCPBars;
class QCPColorMap;

namespace superlens::widgets {

class MassiveView : public PlotView {
    Q_OBJECT
public:
    explicit MassiveView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("massive"); }
    QString title() const override { return tr("Massive"); }
    FigureTable dataTable() const override;

    QCPBars* peakBars(bool edited) const { return edited ? m_editedBars : m_originalBars; }
    QCPBars* carrierBars() const { return m_carrierBars; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see the massive activations of the selected layer."); }

private:
    std::vector<std::int64_t> heatmapChannels(int maxChannels) const;
    void onMouseMove(QMouseEvent* event);

    QCPBars* m_originalBars = nullptr;
    QCPBars* m_carrierBars = nullptr;
    QCPBars* m_editedBars = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPAxisRect* m_barRect = nullptr;
};

}  // namespace superlens::widgets
