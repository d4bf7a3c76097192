#pragma once
// The super-expert ablation study (Su et al., 2025, arXiv 2507.23279, Sec. 4):
// profile the experts on a prompt set (super_experts.h), then measure
// perplexity, the stopword shift of a text and (given tasks) zero-shot accuracy with
//   - the original model,
//   - each flagged super expert pruned alone (expert:L:E=off),
//   - all flagged super experts pruned together,
//   - as many random non-super experts pruned (the control; uniform over the
//     other (routed layer, expert) pairs that received at least one token in
//     the profile, from a fixed seed so a study is reproducible).
// Synchronous; uses the engine's runs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/joint_ablation.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/super_experts.h"

namespace superlens::core {

struct ExpertStudyCondition {
    std::string key;      // "original", "super_L_E", "all_super", "random_control"
    std::string label;    // human-readable
    std::vector<std::string> edits;  // the expert:L:E=off specs applied (on top of the user's edits)
    PerplexityResult ppl;
    std::optional<StopwordShift> stopwords;
    std::optional<ZeroShotResult> zeroShot;  // when tasks were given
    // Added (issue 23): paired window-bootstrap intervals of the perplexity
    // and of its ratio to the original (invalid when intervals are off).
    Interval pplCi, pplRatioCi;
};

struct ExpertStudyOptions {
    PerplexityOptions perplexity;
    std::uint64_t seed = 0;  // random control
    // Zero-shot accuracy of every condition (optional; text tasks need the tokenizer).
    const std::vector<ZeroShotTask>* tasks = nullptr;
    const Tokenizer* tokenizer = nullptr;
    // Added (issue 23): the experts to ablate instead of the flagged super
    // experts ((layer, expert) of routed layers; empty = the flagged ones),
    // intervals, and the joint ablation of the ablated experts (each alone,
    // all but one, all, every pair; joint_ablation.h).
    std::vector<std::pair<int, int>> experts;
    BootstrapOptions bootstrap;
    bool joint = false;
};

struct ExpertStudyResult {
    SuperExpertProfile profile;
    std::vector<ExpertStudyCondition> conditions;
    // Added (issue 23): the experts ablated (the flagged super experts, or
    // options.experts), whether they were given, the interval options, and
    // the joint ablation (options.joint; items named "L<layer>:E<expert>").
    std::vector<ExpertStat> ablated;
    bool given = false;
    BootstrapOptions bootstrap;
    std::optional<JointAblation> joint;
    std::string markdown() const;
    // The JSON document of `study experts --json` and the Python module
    // (without "tasks", "context", "seed" and "markdown", which the front ends add).
    std::string json() const;
};

// "L:E;L:E" (',' also separates) -> (layer, expert) pairs; errors name `option`.
Result<std::vector<std::pair<int, int>>> parseExpertList(const std::string& text, const std::string& option);

// profilePrompts: what the profile runs on; textTokens: the perplexity text;
// stopwordIds may be empty (no stopword measure). Errors: no routed experts,
// no super expert flagged, engine errors.
Result<ExpertStudyResult> studySuperExperts(Engine& engine, const std::vector<std::vector<TokenId>>& profilePrompts,
                                            const std::vector<TokenId>& textTokens, const std::vector<TokenId>& stopwordIds,
                                            const std::vector<EditSpec>& baseEdits, const ExpertStudyOptions& options = {},
                                            const RunControl& control = RunControl::none());

}  // namespace superlens::core
