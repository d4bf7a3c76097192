#pragma once
// Experiments on disk: the model folder, the prompt set and the ablation
// list, as JSON. The "edits" list ({"spec", "enabled", ...} objects) is the
// format `superlens-cli --edits FILE` reads (core::loadEditsFile), so a saved
// experiment replays on the command line.
//
//   {"format": "superlens-experiment", "version": 1, "model": "/path",
//    "prompts": ["..."], "current_prompt": 0, "ids_mode": false,
//    "edits": [{"spec": "model.layers.1.mlp.down_proj.weight[13,57]=0",
//               "enabled": true, "label": "...", "origin": "detected"}],
//    "history": [{"number": 1, "time": "2026-...Z", "prompt": "...", "ids_mode": false,
//                 "ids": [1, 450, ...], "edits": ["..."], "prediction": "' the'",
//                 "prediction_prob": 0.31, "mean_loss": 4.38, "stopword_mass": 0.2,
//                 "perplexity": null}]}

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
