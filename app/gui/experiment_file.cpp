#include "experiment_file.h"

#include "path_conversion.h"
#include "superlens/core/engine/experiment_file.h"
#include "superlens/core/system/output_file.h"

namespace superlens::gui {

bool saveExperiment(const QString& path, const Experiment& x, QString* error) {
    core::Experiment file;
    file.model = x.modelFolder.toStdString();
    for (const QString& p : x.prompts) file.prompts.push_back(p.toStdString());
    file.currentPrompt = x.currentPrompt;
    file.idsMode = x.idsMode;
    for (const auto& e : x.edits) file.edits.push_back({e.spec.toStdString(), e.enabled, e.label.toStdString(), originName(e.origin).toStdString()});
    if (x.hasHistory) {
        file.history.emplace();
        for (const auto& r : x.history) file.history->push_back(r.toExperimentRun());
    }
    // Through a temporary and a rename, never into a model folder (core/system/output_file.h).
    const auto ok = core::writeFileAtomically(toPath(path), core::experimentJson(file), "the experiment");
    if (!ok && error) *error = QString::fromStdString(ok.error().message);
    return ok.ok();
}

std::optional<Experiment> loadExperiment(const QString& path, QString* error) {
    // Core's parser; its errors name the file, the entry and the problem.
    auto file = core::loadExperimentFile(toPath(path));
    if (!file) {
        if (error) *error = QString::fromStdString(file.error().message);
        return std::nullopt;
    }
    Experiment x;
    x.modelFolder = QString::fromStdString(file->model);
    for (const auto& p : file->prompts) x.prompts << QString::fromStdString(p);
    x.currentPrompt = file->currentPrompt;
    x.idsMode = file->idsMode;
    for (const auto& item : file->edits) {
        AblationEntry e;
        e.spec = QString::fromStdString(item.spec);
        e.enabled = item.enabled;
        e.label = item.label.empty() ? e.spec : QString::fromStdString(item.label);
        if (!originFromName(QString::fromStdString(item.origin), &e.origin)) e.origin = AblationEntry::Origin::User;
        x.edits << e;
    }
    if (file->history) {
        x.hasHistory = true;
        for (const auto& r : *file->history) x.history << RunRecord::fromExperimentRun(r);
    }
    return x;
}

}  // namespace superlens::gui
