#pragma once
// Experiments in the GUI: the model folder, the prompt set, the ablation list
// and the run history. The file format, its parser and its writer are core's
// (superlens/core/engine/experiment_file.h), the same that `--edits FILE`
// reads on the command line; this file only converts to the GUI's types.

#include <optional>

#include <QList>
#include <QString>
#include <QStringList>

#include "ablation_set.h"
#include "run_history.h"

namespace superlens::gui {

struct Experiment {
    QString modelFolder;
    QStringList prompts;
    int currentPrompt = 0;
    bool idsMode = false;
    QList<AblationEntry> edits;
    // The session's run history ("history": RunRecord objects); absent in older files.
    bool hasHistory = false;
    QList<RunRecord> history;
};

bool saveExperiment(const QString& path, const Experiment& experiment, QString* error);
// Errors name the file and the problem.
std::optional<Experiment> loadExperiment(const QString& path, QString* error);

}  // namespace superlens::gui
