#pragma once
// View 9, per-token loss: the prompt's tokens coloured by their loss (NLL
// of each token given the ones before it, ViewSnapshot::originalLoss /
// editedLoss from core/analysis/token_loss.h) in strips, original, edited
// and their difference, and the tokens whose loss changed most
// (core::largestLossChanges) listed as bars.

#include <QVector>

#include "../plot_view.h"

class QCPAxisRect;
class QCPBars;
class QCPColorMap;

namespace superlens::widgets {

class LossView : public PlotView {
    Q_OBJECT
public:
    explicit LossView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("loss"); }
    QString title() const override { return tr("Loss"); }
    FigureTable dataTable() const override;

    // As drawn: strip cell of position t (0 original, 1 edited, 2 edited - original); NaN where nothing is drawn.
    double stripValue(int strip, int position) const;
    // As drawn: the listed positions (largest |change| first) and their changes.
    QVector<int> listedPositions() const { return m_listed; }
    QVector<double> listedChanges() const;
    // The strip maps (for tests: the value extent each one covers).
    QCPColorMap* lossMap() const { return m_lossMap; }
    QCPColorMap* deltaMap() const { return m_deltaMap; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see each token's loss and how the edits change it."); }

private:
    void onMouseMove(QMouseEvent* event);

    QCPColorMap* m_lossMap = nullptr;   // strips 0 (original) and 1 (edited)
    QCPColorMap* m_deltaMap = nullptr;  // strip 2
    QCPBars* m_changeBars = nullptr;
    QVector<int> m_listed;
};

}  // namespace superlens::widgets
