#pragma once
// View 5, logits and stopwords: next-token probabilities at the last
// position, original vs edited as paired bars with token labels; the
// stopword probability mass and its shift ratio, the tokens that moved most
// (mean probability over positions) and the perplexity of a chosen text
// before and after the edits (super-weight paper, Sec. 3 and Fig. 4).

#include "../plot_view.h"

class QCPBars;

namespace superlens::widgets {

class LogitsView : public PlotView {
    Q_OBJECT
public:
    explicit LogitsView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("logits"); }
    QString title() const override { return tr("Logits"); }
    FigureTable dataTable() const override;

    QCPBars* probabilityBars(bool edited) const { return edited ? m_editedBars : m_originalBars; }
    QCPBars* moverBars() const { return m_moverBars; }
    QString summaryText() const { return m_summary; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see the next-token probabilities."); }
    void selectedLayerChanged() override {}  // layer-independent

private:
    void onMouseMove(QMouseEvent* event);

    QCPBars* m_originalBars = nullptr;
    QCPBars* m_editedBars = nullptr;
    QCPBars* m_moverBars = nullptr;
    QCPAxisRect* m_moverRect = nullptr;
    QString m_summary;
};

}  // namespace superlens::widgets
