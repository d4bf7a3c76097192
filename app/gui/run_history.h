#pragma once
// The session's run history: every run the views showed (prompt, token ids,
// edits, time and its key numbers), in order, as a list model for the
// History dock. Two runs of the same prompt can be compared on every view
// (LensSession::compareRuns: run A drawn as "original", run B as "edited").
// Experiments save and restore the list (experiment_file.h, "history").
//
// Thread-safety: GUI thread only.

#include <optional>
#include <vector>

#include <QAbstractTableModel>
#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/experiment_file.h"
#include "superlens/core/view/view_snapshot.h"

namespace superlens::gui {

struct RunRecord {
    int number = 0;  // 1, 2, ... in the order the runs were made
    QDateTime time;
    QString prompt;  // the prompt text, or the ids as typed in ids mode
    bool idsMode = false;
    QString image;  // vision models: the image file the run read (prompt = its name)
    std::vector<core::TokenId> tokens;
    QStringList edits;  // the enabled edit specs, in order
    // Key numbers of the run (the edited model when there are edits):
    QString prediction;                        // top-1 next token at the last position
    double predictionProb = 0.0;               // its probability
    std::optional<double> meanLoss;            // mean NLL of tokens 1..T-1 (nats)
    std::optional<double> stopwordMass;        // mean P(stopword) over positions
    std::optional<double> perplexity;          // of the held-out text, when computed

    bool sameRun(const RunRecord& other) const { return tokens == other.tokens && image == other.image && edits == other.edits; }
    // The experiments file's run (core/engine/experiment_file.h: its one parser and writer).
    core::ExperimentRun toExperimentRun() const;
    static RunRecord fromExperimentRun(const core::ExperimentRun& run);
};

// The record of what a snapshot shows (its edited side), without number/time.
// `imageFile`: a vision model's image (the record's prompt is then its file name).
RunRecord runRecordOf(const core::view::ViewSnapshot& snapshot, const QString& prompt, bool idsMode, const QString& imageFile = {});

class RunHistory : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Number, Time, Prompt, Edits, Prediction, Loss, ColumnCount };
    explicit RunHistory(QObject* parent = nullptr);

    // Appends the run, numbered and timed now; a run equal to the last one
    // (same tokens and edits: a redraw, e.g. after perplexity) updates that
    // record's numbers instead. Returns the record's row.
    int record(RunRecord run);
    const QList<RunRecord>& runs() const { return m_runs; }
    const RunRecord* byNumber(int number) const;
    void setRuns(const QList<RunRecord>& runs);
    void clear() { setRuns({}); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<RunRecord> m_runs;
    int m_next = 1;
};

}  // namespace superlens::gui
