#include "experiment_file.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "path_conversion.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/system/output_file.h"

namespace superlens::gui {

bool saveExperiment(const QString& path, const Experiment& x, QString* error) {
    QJsonObject root;
    root[QStringLiteral("format")] = QStringLiteral("superlens-experiment");
    root[QStringLiteral("version")] = 1;
    root[QStringLiteral("model")] = x.modelFolder;
    root[QStringLiteral("prompts")] = QJsonArray::fromStringList(x.prompts);
    root[QStringLiteral("current_prompt")] = x.currentPrompt;
    root[QStringLiteral("ids_mode")] = x.idsMode;
    QJsonArray edits;
    for (const auto& e : x.edits) {
        QJsonObject o;
        o[QStringLiteral("spec")] = e.spec;
        o[QStringLiteral("enabled")] = e.enabled;
        o[QStringLiteral("label")] = e.label;
        o[QStringLiteral("origin")] = originName(e.origin);
        edits.append(o);
    }
    root[QStringLiteral("edits")] = edits;
    if (x.hasHistory) {
        QJsonArray history;
        for (const auto& r : x.history) history.append(r.toJson());
        root[QStringLiteral("history")] = history;
    }
    // Through a temporary and a rename, never into a model folder (core/system/output_file.h).
    const auto ok = core::writeFileAtomically(toPath(path), QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString(), "the experiment");
    if (!ok && error) *error = QString::fromStdString(ok.error().message);
    return ok.ok();
}

std::optional<Experiment> loadExperiment(const QString& path, QString* error) {
    auto fail = [&](const QString& message) -> std::optional<Experiment> {
        if (error) *error = path + QStringLiteral(": ") + message;
        return std::nullopt;
    };
    // The rule every small file read follows (core): regular files only (a
    // named pipe would block the GUI forever), 16 MiB at most.
    auto bytes = core::readRegularFile(toPath(path), core::kMaxConfigBytes);
    if (!bytes) {
        if (error) *error = QString::fromStdString(bytes.error().message);
        return std::nullopt;
    }
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(bytes.value()), &parseError);
    if (doc.isNull()) return fail(QStringLiteral("malformed JSON: ") + parseError.errorString());
    // A bare list of specs (the CLI's other --edits form) is an experiment with edits only.
    QJsonArray editList;
    Experiment x;
    if (doc.isArray()) {
        editList = doc.array();
    } else {
        const QJsonObject root = doc.object();
        if (!root.contains(QStringLiteral("edits"))) return fail(QStringLiteral("no \"edits\" list: not a SuperLens experiment"));
        x.modelFolder = root.value(QStringLiteral("model")).toString();
        for (const auto& p : root.value(QStringLiteral("prompts")).toArray()) x.prompts << p.toString();
        x.currentPrompt = root.value(QStringLiteral("current_prompt")).toInt(0);
        x.idsMode = root.value(QStringLiteral("ids_mode")).toBool(false);
        if (!root.value(QStringLiteral("edits")).isArray()) return fail(QStringLiteral("\"edits\" must be a list"));
        editList = root.value(QStringLiteral("edits")).toArray();
        if (root.contains(QStringLiteral("history"))) {
            if (!root.value(QStringLiteral("history")).isArray()) return fail(QStringLiteral("\"history\" must be a list"));
            QString problem;
            if (!RunHistory::fromJson(root.value(QStringLiteral("history")).toArray(), &x.history, &problem)) return fail(problem);
            x.hasHistory = true;
        }
    }
    for (const auto& v : editList) {
        AblationEntry e;
        if (v.isString()) {
            e.spec = v.toString();
            e.enabled = true;
        } else if (v.isObject() && v.toObject().value(QStringLiteral("spec")).isString()) {
            const QJsonObject o = v.toObject();
            e.spec = o.value(QStringLiteral("spec")).toString();
            e.enabled = o.value(QStringLiteral("enabled")).toBool(true);
            e.label = o.value(QStringLiteral("label")).toString();
            if (!originFromName(o.value(QStringLiteral("origin")).toString(), &e.origin)) e.origin = AblationEntry::Origin::User;
        } else {
            return fail(QStringLiteral("each edit must be a string or {\"spec\": \"...\"}"));
        }
        if (e.label.isEmpty()) e.label = e.spec;
        x.edits << e;
    }
    return x;
}

}  // namespace superlens::gui
