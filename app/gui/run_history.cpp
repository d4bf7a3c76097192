#include "run_history.h"

#include <cmath>

#include <QFileInfo>
#include <QJsonValue>

namespace superlens::gui {

namespace {

QJsonValue optionalNumber(const std::optional<double>& v) { return v && std::isfinite(*v) ? QJsonValue(*v) : QJsonValue(); }

std::optional<double> numberOrNothing(const QJsonValue& v) {
    if (v.isDouble()) return v.toDouble();
    return std::nullopt;
}

}  // namespace

QJsonObject RunRecord::toJson() const {
    QJsonObject o;
    o[QStringLiteral("number")] = number;
    o[QStringLiteral("time")] = time.toUTC().toString(Qt::ISODateWithMs);
    o[QStringLiteral("prompt")] = prompt;
    o[QStringLiteral("ids_mode")] = idsMode;
    if (!image.isEmpty()) o[QStringLiteral("image")] = image;
    QJsonArray ids;
    for (core::TokenId id : tokens) ids.append(static_cast<qint64>(id));
    o[QStringLiteral("ids")] = ids;
    o[QStringLiteral("edits")] = QJsonArray::fromStringList(edits);
    o[QStringLiteral("prediction")] = prediction;
    o[QStringLiteral("prediction_prob")] = predictionProb;
    o[QStringLiteral("mean_loss")] = optionalNumber(meanLoss);
    o[QStringLiteral("stopword_mass")] = optionalNumber(stopwordMass);
    o[QStringLiteral("perplexity")] = optionalNumber(perplexity);
    return o;
}

bool RunRecord::fromJson(const QJsonObject& o, RunRecord* out, QString* error) {
    RunRecord r;
    r.number = o.value(QStringLiteral("number")).toInt(0);
    if (r.number < 1) {
        *error = QStringLiteral("\"number\" must be a positive integer");
        return false;
    }
    r.time = QDateTime::fromString(o.value(QStringLiteral("time")).toString(), Qt::ISODateWithMs);
    r.prompt = o.value(QStringLiteral("prompt")).toString();
    r.idsMode = o.value(QStringLiteral("ids_mode")).toBool(false);
    r.image = o.value(QStringLiteral("image")).toString();
    if (!o.value(QStringLiteral("ids")).isArray()) {
        *error = QStringLiteral("\"ids\" must be a list of token ids");
        return false;
    }
    for (const QJsonValue& v : o.value(QStringLiteral("ids")).toArray()) {
        const double d = v.toDouble(-1);
        if (!v.isDouble() || d < 0 || d > 2147483647.0 || d != std::floor(d)) {
            *error = QStringLiteral("\"ids\" holds something that is not a token id");
            return false;
        }
        r.tokens.push_back(static_cast<core::TokenId>(d));
    }
    if (r.tokens.empty() && r.image.isEmpty()) {
        *error = QStringLiteral("\"ids\" is empty");
        return false;
    }
    for (const QJsonValue& v : o.value(QStringLiteral("edits")).toArray()) {
        if (!v.isString()) {
            *error = QStringLiteral("\"edits\" must be a list of edit specs");
            return false;
        }
        r.edits << v.toString();
    }
    r.prediction = o.value(QStringLiteral("prediction")).toString();
    r.predictionProb = o.value(QStringLiteral("prediction_prob")).toDouble(0.0);
    r.meanLoss = numberOrNothing(o.value(QStringLiteral("mean_loss")));
    r.stopwordMass = numberOrNothing(o.value(QStringLiteral("stopword_mass")));
    r.perplexity = numberOrNothing(o.value(QStringLiteral("perplexity")));
    *out = std::move(r);
    return true;
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

QJsonArray RunHistory::toJson() const {
    QJsonArray a;
    for (const auto& r : m_runs) a.append(r.toJson());
    return a;
}

bool RunHistory::fromJson(const QJsonArray& json, QList<RunRecord>* out, QString* error) {
    QList<RunRecord> runs;
    for (qsizetype i = 0; i < json.size(); ++i) {
        RunRecord r;
        QString problem;
        if (!json[i].isObject()) problem = QStringLiteral("not an object");
        else RunRecord::fromJson(json[i].toObject(), &r, &problem);
        if (!problem.isEmpty()) {
            *error = QStringLiteral("history entry %1: %2").arg(i).arg(problem);
            return false;
        }
        runs << r;
    }
    *out = runs;
    return true;
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
