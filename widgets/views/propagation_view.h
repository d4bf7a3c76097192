#pragma once
// View 3, residual propagation. Top: the super-activation channel's
// |residual| after every block (blocks.l.hook_resid_post[t, channel]) for one
// token, original and edited. Bottom: the massive-activations paper's
// layer-wise top-1/2/3 |activation| versus the median (Sun et al., Fig. 2).

#include "../plot_view.h"

class QComboBox;
class QCPGraph;

namespace superlens::widgets {

class PropagationView : public PlotView {
    Q_OBJECT
public:
    explicit PropagationView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("propagation"); }
    QString title() const override { return tr("Propagation"); }
    FigureTable dataTable() const override;

    void setTrackedIndex(int index);
    void setToken(int token);
    QCPGraph* channelGraph(bool edited) const { return edited ? m_editedGraph : m_originalGraph; }
    QCPGraph* topGraph(int rank, bool edited) const;

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to follow the super activation through the residual stream."); }

private:
    void fillChoices();
    void onMousePress(QMouseEvent* event);

    QComboBox* m_channelBox = nullptr;
    QComboBox* m_tokenBox = nullptr;
    std::vector<core::TokenId> m_choiceTokens;     // prompt the combo boxes were filled for
    std::vector<std::string> m_choiceLabels;       // (a vision model's positions have no token ids)
    std::vector<std::int64_t> m_choiceChannels;
    QCPGraph* m_originalGraph = nullptr;
    QCPGraph* m_editedGraph = nullptr;
    QCPGraph* m_top[2][4] = {};  // [edited][top1, top2, top3, median]
};

}  // namespace superlens::widgets
