#pragma once
// Experiments on disk: the model, the prompt set, the ablation list and the
// run history, as JSON. One parser and one writer for every front end: the
// GUI saves and opens experiments with them, and `--edits FILE` (CLI, GUI,
// Python) reads the enabled edits of the same file (loadEditsFile), so a saved
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
//
// A bare JSON list of edits (strings or {"spec": ...} objects) is an
// experiment with edits only. Unknown keys are ignored (newer files open in
// older versions); a key that is present must have its type. Specs are kept
// as text here: parsing them against the edit grammar is loadEditsFile's and
// the front ends' job (the GUI keeps a disabled spec it cannot use yet).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

struct ExperimentEdit {
    std::string spec;
    bool enabled = true;
    std::string label;   // empty: the spec is its own label
    std::string origin;  // who added it ("detected", "published", "user", ...); empty when absent
    bool operator==(const ExperimentEdit&) const = default;
};

// One run of the session's history: what ran and its key numbers.
struct ExperimentRun {
    int number = 0;            // 1, 2, ... in the order the runs were made
    std::string time;          // ISO 8601, as written
    std::string prompt;        // the prompt text, or the ids as typed in ids mode
    bool idsMode = false;
    std::string image;         // vision models: the image file the run read
    std::vector<std::int32_t> ids;
    std::vector<std::string> edits;  // the enabled edit specs, in order
    std::string prediction;    // top-1 next token at the last position
    double predictionProb = 0.0;
    std::optional<double> meanLoss;
    std::optional<double> stopwordMass;
    std::optional<double> perplexity;
    bool operator==(const ExperimentRun&) const = default;
};

struct Experiment {
    std::string model;  // the model folder or GGUF file; empty when unknown
    std::vector<std::string> prompts;
    int currentPrompt = 0;
    bool idsMode = false;
    std::vector<ExperimentEdit> edits;
    std::optional<std::vector<ExperimentRun>> history;  // absent in older files and bare edit lists
    bool operator==(const Experiment&) const = default;
};

// Parses an experiment (or a bare edit list). `where` starts every error
// message (the file name). Errors name the entry and the problem.
Result<Experiment> parseExperiment(std::string_view json, const std::string& where);

// Reads and parses a file under the small-file rule (regular files only,
// kMaxConfigBytes at most).
Result<Experiment> loadExperimentFile(const std::filesystem::path& file);

// The file's text (indented JSON, a trailing newline); parseExperiment of it
// gives back an equal experiment. Write it with writeFileAtomically.
std::string experimentJson(const Experiment& experiment);

}  // namespace superlens::core
