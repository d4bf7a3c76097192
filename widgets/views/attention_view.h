#pragma once
// View 6, attention: the attention pattern (blocks.L.attn.hook_pattern,
// query x key) of the selected layer for one head or averaged over heads.
// The attention sink shows as a bright first column (token 0).

#include "../plot_view.h"

class QComboBox;
class QCPColorMap;

namespace superlens::widgets {

class AttentionView : public PlotView {
    Q_OBJECT
public:
    explicit AttentionView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("attention"); }
    QString title() const override { return tr("Attention"); }
    FigureTable dataTable() const override;
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    // -1 = mean over heads.
    void setHead(int head);
    void setShowEdited(bool edited);
    QCPColorMap* colorMap() const { return m_map; }
    // Probability the map shows for (query, key), as drawn.
    double shownValue(int query, int key) const;

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see the attention patterns (and the sink on the first token)."); }

private:
    bool pattern(std::vector<float>* out, int* T) const;
    void onMouseMove(QMouseEvent* event);

    QComboBox* m_headBox = nullptr;
    QComboBox* m_runBox = nullptr;
    QCPColorMap* m_map = nullptr;
    std::vector<float> m_shown;
    int m_T = 0;
};

}  // namespace superlens::widgets
