#pragma once
// View 9, per-token loss: the prompt's tokens coloured by their loss (NLL
// of each token given the ones before it, ViewSnapshot::originalLoss /
// editedLoss from core/analysis/token_loss.h) in strips, original, edited
// and their difference, and the tokens whose loss changed most
// (core::largestLossChanges) listed as bars. The Text box switches from the
// prompt to a held-out text (ViewSnapshot::heldOutLoss, its first
// kHeldOutLossTokens tokens; the view asks for it with heldOutLossRequested).

#include <QVector>

#include "../plot_view.h"

class QComboBox;
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
    // figure --loss-text FILE: the held-out text's strips.
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    // Show the held-out text's loss (true) or the prompt's.
    void setHeldOutText(bool heldOut);
    bool showsHeldOutText() const;
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

signals:
    // The user picked the held-out text (true) or the prompt: compute its loss from now on.
    void heldOutLossRequested(bool heldOut);

private:
    // What the strips show: the prompt's loss or the held-out text's.
    struct Source {
        const std::vector<core::TokenId>* tokens = nullptr;
        const std::vector<std::string>* labels = nullptr;
        const std::vector<double>* original = nullptr;
        const std::vector<double>* edited = nullptr;
    };
    Source source() const;
    void onMouseMove(QMouseEvent* event);

    QComboBox* m_textBox = nullptr;
    QCPColorMap* m_lossMap = nullptr;   // strips 0 (original) and 1 (edited)
    QCPColorMap* m_deltaMap = nullptr;  // strip 2
    QCPBars* m_changeBars = nullptr;
    QVector<int> m_listed;
};

}  // namespace superlens::widgets
