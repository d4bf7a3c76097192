#pragma once
// The History dock: the session's runs (RunHistory) in a table. Select two
// runs and press Compare (or Ctrl+D) to draw the first as "original" and the
// second as "edited" on every view; Live returns to the current prompt and
// edits; Restore puts a run's prompt and edits back in the Prompt and
// Ablations docks.

#include <QWidget>

class QLabel;
class QPushButton;
class QTableView;

namespace superlens::gui {

class RunHistory;

class RunHistoryPanel : public QWidget {
    Q_OBJECT
public:
    RunHistoryPanel(RunHistory* history, QWidget* parent = nullptr);
    QTableView* table() const { return m_table; }
    // The run numbers of the selected rows, in row order.
    QList<int> selectedRuns() const;
    void selectRuns(const QList<int>& numbers);
    // Shown while two runs are compared ("" hides it).
    void setComparison(const QString& text);

signals:
    void compareRequested(int runA, int runB);
    void liveRequested();
    void restoreRequested(int run);

private:
    void updateButtons();

    RunHistory* m_history;
    QTableView* m_table = nullptr;
    QPushButton* m_compare = nullptr;
    QPushButton* m_live = nullptr;
    QPushButton* m_restore = nullptr;
    QLabel* m_status = nullptr;
    bool m_comparing = false;
};

}  // namespace superlens::gui
