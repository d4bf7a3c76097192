#include "run_history.h"

#include <cmath>

#include <QFileInfo>

namespace superlens::gui {

core::ExperimentRun RunRecord::toExperimentRun() const {
    core::ExperimentRun r;
    r.number = number;
    r.time = time.toUTC().toString(Qt::ISODateWithMs).toStdString();
    r.prompt = prompt.toStdString();
    r.idsMode = idsMode;
    r.image = image.toStdString();
    r.ids = tokens;
    for (const QString& e : edits) r.edits.push_back(e.toStdString());
    r.prediction = prediction.toStdString();
    r.predictionProb = predictionProb;
    r.meanLoss = meanLoss;
    r.stopwordMass = stopwordMass;
    r.perplexity = perplexity;
    return r;
}

RunRecord RunRecord::fromExperimentRun(const core::ExperimentRun& run) {
    RunRecord r;
    r.number = run.number;
    r.time = QDateTime::fromString(QString::fromStdString(run.time), Qt::ISODateWithMs);
    r.prompt = QString::fromStdString(run.prompt);
    r.idsMode = run.idsMode;
    r.image = QString::fromStdString(run.image);
    r.tokens = run.ids;
    for (const auto& e : run.edits) r.edits << QString::fromStdString(e);
    r.prediction = QString::fromStdString(run.prediction);
    r.predictionProb = run.predictionProb;
    r.meanLoss = run.meanLoss;
    r.stopwordMass = run.stopwordMass;
    r.perplexity = run.perplexity;
    return r;
}

RunRecord runRecordOf(const core::view::ViewSnapshot& s, const QString& prompt, bool idsMode, const QString& imageFile) {
    RunRecord r;
    r.prompt = imageFile.isEmpty() ? prompt : QFileInfo(imageFile).fileName();
    r.idsMode = imageFile.isEmpty() && idsMode;
    r.image = imageFile;
    r.tokens = s.tokens;
    for (const auto& e : s.editTexts) r.edits << QString::fromStdString(e);
    // topNext is the union of both runs' top-k: the edited run's best is in it.
    const core::view::TokenProbability* best = nullptr;
    for (const auto& t : s.topNext) {
        if (!best || t.edited > best->edited) best = &t;
    }
    if (best) {
        r.prediction = QString::fromStdString(best->label);
        r.predictionProb = best->edited;
    }
    double sum = 0;
    int n = 0;
    for (std::size_t t = 1; t < s.editedLoss.size(); ++t) {
        if (std::isfinite(s.editedLoss[t])) {
            sum += s.editedLoss[t];
            ++n;
        }
    }
    if (n > 0) r.meanLoss = sum / n;
    if (s.stopwordsAvailable) r.stopwordMass = s.stopwordMassEdited;
    if (s.perplexity) r.perplexity = s.perplexity->edited;
    return r;
}

RunHistory::RunHistory(QObject* parent) : QAbstractTableModel(parent) {}

int RunHistory::record(RunRecord run) {
    if (!m_runs.isEmpty() && m_runs.back().sameRun(run)) {
        RunRecord& last = m_runs.back();
        run.number = last.number;
        run.time = last.time;
        if (!run.perplexity) run.perplexity = last.perplexity;
        last = std::move(run);
        const int row = static_cast<int>(m_runs.size()) - 1;
        emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
        return row;
    }
    run.number = m_next++;
    run.time = QDateTime::currentDateTime();
    const int row = static_cast<int>(m_runs.size());
    beginInsertRows({}, row, row);
    m_runs.append(std::move(run));
    endInsertRows();
    return row;
}

const RunRecord* RunHistory::byNumber(int number) const {
    for (const auto& r : m_runs) {
        if (r.number == number) return &r;
    }
    return nullptr;
}

void RunHistory::setRuns(const QList<RunRecord>& runs) {
    beginResetModel();
    m_runs = runs;
    m_next = 1;
    for (const auto& r : m_runs) m_next = std::max(m_next, r.number + 1);
    endResetModel();
}

int RunHistory::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(m_runs.size()); }
int RunHistory::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunHistory::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_runs.size()) return {};
    const RunRecord& r = m_runs[index.row()];
    if (role == Qt::ToolTipRole) {
        QString tip = QStringLiteral("run %1, %2\n%3\n%4 token(s)").arg(r.number).arg(r.time.toString(Qt::ISODate), r.prompt).arg(r.tokens.size());
        tip += r.edits.isEmpty() ? tr("\nno edits") : tr("\nedits:\n  %1").arg(r.edits.join(QStringLiteral("\n  ")));
        if (r.perplexity) tip += tr("\nperplexity %1").arg(*r.perplexity, 0, 'g', 5);
        if (r.stopwordMass) tip += tr("\nstopword mass %1").arg(*r.stopwordMass, 0, 'f', 4);
        return tip;
    }
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
        case Number: return r.number;
        case Time: return r.time.toString(QStringLiteral("HH:mm:ss"));
        case Prompt: return r.prompt.simplified();
        case Edits: return r.edits.isEmpty() ? tr("none") : r.edits.size() == 1 ? r.edits.front() : tr("%n edits", nullptr, static_cast<int>(r.edits.size()));
        case Prediction: return r.prediction.isEmpty() ? QString() : QStringLiteral("%1 %2").arg(r.prediction).arg(r.predictionProb, 0, 'f', 3);
        case Loss: return r.meanLoss ? QString::number(*r.meanLoss, 'f', 3) : QString();
        default: return {};
    }
}

QVariant RunHistory::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
        case Number: return tr("#");
        case Time: return tr("time");
        case Prompt: return tr("prompt");
        case Edits: return tr("edits");
        case Prediction: return tr("next token");
        case Loss: return tr("loss");
        default: return {};
    }
}

}  // namespace superlens::gui
