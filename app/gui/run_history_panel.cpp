#include "run_history_panel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

#include "run_history.h"

namespace superlens::gui {

RunHistoryPanel::RunHistoryPanel(RunHistory* history, QWidget* parent) : QWidget(parent), m_history(history) {
    m_table = new QTableView(this);
    m_table->setModel(history);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->verticalHeader()->hide();
    QHeaderView* header = m_table->horizontalHeader();
    header->setStretchLastSection(false);
    for (int c : {int(RunHistory::Number), int(RunHistory::Time), int(RunHistory::Prediction), int(RunHistory::Loss)})
        header->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    header->setSectionResizeMode(RunHistory::Prompt, QHeaderView::Stretch);
    header->setSectionResizeMode(RunHistory::Edits, QHeaderView::Stretch);
    m_table->setTextElideMode(Qt::ElideMiddle);
    m_table->setToolTip(tr("Every run of the session. Select two runs of the same prompt and press Compare."));
    m_compare = new QPushButton(tr("Compare"), this);
    m_compare->setToolTip(tr("Draw the first selected run as 'original' and the second as 'edited' on every view (Ctrl+D)"));
    m_live = new QPushButton(tr("Live"), this);
    m_live->setToolTip(tr("Back to the current prompt and edits"));
    m_restore = new QPushButton(tr("Restore"), this);
    m_restore->setToolTip(tr("Put this run's prompt and edits back (one undo step)"));
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_status->setStyleSheet(QStringLiteral("color: #b35900"));
    m_status->hide();
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_compare);
    buttons->addWidget(m_live);
    buttons->addWidget(m_restore);
    buttons->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_status);
    layout->addLayout(buttons);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunHistoryPanel::updateButtons);
    connect(history, &QAbstractItemModel::rowsInserted, this, [this] {
        m_table->resizeColumnToContents(RunHistory::Number);
        m_table->resizeColumnToContents(RunHistory::Time);
        m_table->scrollToBottom();
    });
    connect(m_compare, &QPushButton::clicked, this, [this] {
        const QList<int> runs = selectedRuns();
        if (runs.size() == 2) emit compareRequested(runs[0], runs[1]);
    });
    connect(m_live, &QPushButton::clicked, this, &RunHistoryPanel::liveRequested);
    connect(m_restore, &QPushButton::clicked, this, [this] {
        const QList<int> runs = selectedRuns();
        if (runs.size() == 1) emit restoreRequested(runs[0]);
    });
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        if (index.isValid()) emit restoreRequested(m_history->runs()[index.row()].number);
    });
    updateButtons();
}

QList<int> RunHistoryPanel::selectedRuns() const {
    QList<int> rows;
    for (const QModelIndex& i : m_table->selectionModel()->selectedRows()) rows << i.row();
    std::sort(rows.begin(), rows.end());
    QList<int> numbers;
    for (int r : rows) numbers << m_history->runs()[r].number;
    return numbers;
}

void RunHistoryPanel::selectRuns(const QList<int>& numbers) {
    m_table->clearSelection();
    for (int row = 0; row < m_history->runs().size(); ++row) {
        if (numbers.contains(m_history->runs()[row].number))
            m_table->selectionModel()->select(m_history->index(row, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    }
}

void RunHistoryPanel::setComparison(const QString& text) {
    m_status->setText(text);
    m_status->setVisible(!text.isEmpty());
    m_comparing = !text.isEmpty();
    m_live->setEnabled(m_comparing);
}

void RunHistoryPanel::updateButtons() {
    const int n = static_cast<int>(selectedRuns().size());
    m_compare->setEnabled(n == 2);
    m_restore->setEnabled(n == 1);
    m_live->setEnabled(m_comparing);
}

}  // namespace superlens::gui
