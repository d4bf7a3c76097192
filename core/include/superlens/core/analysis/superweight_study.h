#pragma once
// The super-weight paper's ablation study as one call (Yu et al., 2024,
// Table 1 / Sec. 3): the same measures under four conditions,
//   original                  the model (with the user's base edits)
//   sw_zeroed                 every super weight set to 0
//   sw_zeroed_sa_restored     super weights zeroed, and each super activation
//                             (blocks.L.hook_mlp_out[token, row]) set back to
//                             its original value
//   outliers_zeroed           instead of the super weights, the same number
//                             of the largest-|W| other weights of the same
//                             down_proj matrices set to 0 (the control)
// Measures: perplexity of a text (sliding window), zero-shot accuracy (when
// tasks are given) and the stopword-probability shift against "original".
//
// The super activation is restored at the same token position as in the
// scan (position 0 for a super activation carried by the first token, as in
// every published model), with the value the scan measured: super
// activations are nearly input-independent (Sun et al., 2024), so one value
// serves every window and task.
//
// Thread-safety: synchronous; uses the engine, which serialises its runs.

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/bootstrap.h"
#include "superlens/core/analysis/joint_ablation.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/super_weights.h"

namespace superlens::core {

// Percentile-bootstrap intervals of one condition's numbers (bootstrap.h):
// perplexity and stopword numbers resample the perplexity windows, zero-shot
// numbers the tasks. Ratios and deltas against "original" are paired (the
// same resampled windows / tasks in both). Invalid (NaN) when not measured
// or when intervals are off.
struct ConditionIntervals {
    Interval ppl;
    Interval pplRatio;        // ppl / original ppl
    Interval stopwordMass;
    Interval stopwordRatio;   // mass / original mass
    Interval accuracy;
    Interval accuracyNorm;
    Interval accuracyDelta;   // accuracy - original accuracy
};

// The null control of one ablation (issue 23): K draws, each changing, for
// every super weight, one random other weight by the same amount the
// ablation changes the super weight (W[r,c] -> W[r,c] - w_super), and the
// perplexity of each draw. scope "same_matrix": a random entry of the super
// weight's own down projection (never a super weight); "elsewhere": a random
// entry of the down projection of a random other layer.
struct NullControl {
    std::string scope;
    int k = 0;
    std::vector<std::vector<EditSpec>> draws;  // the edits of each draw
    NullSummary ppl;                           // the draws' perplexities against the ablation's
};

struct StudyCondition {
    std::string key;                 // original | sw_zeroed | sw_zeroed_sa_restored | outliers_zeroed
    std::string label;               // human-readable
    std::vector<EditSpec> edits;     // the study's edits on top of the base edits
    std::optional<PerplexityResult> ppl;
    std::optional<ZeroShotResult> zeroShot;
    std::optional<StopwordShift> stopwords;  // against "original"
    // Added (issue 23).
    double pplRatio = std::numeric_limits<double>::quiet_NaN();       // ppl / original ppl
    double accuracyDelta = std::numeric_limits<double>::quiet_NaN();  // accuracy - original accuracy
    ConditionIntervals ci;
    std::vector<NullControl> nulls;  // sw_zeroed only, when options.nullCount > 0
};

// The joint ablation of the super weights (issue 23) is a JointAblation
// (joint_ablation.h) whose items are the super weights (names "L:R:C").

struct SuperWeightStudyOptions {
    PerplexityOptions perplexity;     // windows; the stopword mass averages over the same predicting positions
    int topMovers = 10;
    SuperWeightScanOptions scan;
    // Outliers zeroed per down_proj matrix in the control condition; 0 = as
    // many as that matrix has super weights.
    int outlierCount = 0;
    // Added (issue 23): intervals (resamples 0 = none), null-control draws per
    // scope (0 = none) and their seed, and the joint ablation.
    BootstrapOptions bootstrap;
    int nullCount = 0;
    std::uint64_t nullSeed = 0x6e756c6c;
    bool joint = false;
};

struct SuperWeightStudyInputs {
    std::vector<TokenId> textTokens;            // perplexity and stopword text (required)
    std::vector<TokenId> scanTokens;            // scan input (empty: the first <= 128 text tokens)
    std::vector<SuperWeightCoord> superWeights; // explicit list: no scan (values read from the weights)
    const std::vector<ZeroShotTask>* tasks = nullptr;  // optional
    const Tokenizer* tokenizer = nullptr;       // needed by text-form tasks
    std::vector<TokenId> stopwordIds;           // empty: no stopword measure
};

struct SuperWeightStudy {
    std::vector<SuperWeight> superWeights;      // the weights ablated
    std::vector<SuperWeightCoord> outliers;     // the control weights zeroed
    std::vector<StudyCondition> conditions;     // in the order listed above
    std::vector<std::string> notes;             // caveats worth printing
    std::optional<JointAblation> joint;         // options.joint
    BootstrapOptions bootstrap;                 // the options the intervals were made with
    // A Markdown table: one row per condition, columns ppl, zero-shot
    // accuracy (and normalised), stopword mass and ratio, each with its
    // interval when computed; then the null controls and the joint table.
    std::string markdown() const;
    // JSON of the conditions (array) and of the joint ablation (object or
    // null), as `study superweight --json` and the Python module print them
    // (fields in docs/ANALYSIS.md). Intervals are [lo, hi] or null.
    std::string conditionsJson() const;
    std::string jointJson() const;
};

// Errors: no super weight found (and none given), engine and measure errors,
// invalid bootstrap options, "cancelled".
Result<SuperWeightStudy> studySuperWeight(Engine& engine, const SuperWeightStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                                          const SuperWeightStudyOptions& options = {}, const RunControl& control = RunControl::none());

// The k largest-|W| entries of a matrix, excluding `exclude` (row, col) pairs;
// largest first. Exposed for tests and the GUI's "zero outliers" ablation.
Result<std::vector<std::pair<std::int64_t, std::int64_t>>> largestWeights(Engine& engine, const std::string& tensorName,
                                                                           const std::vector<EditSpec>& edits, int k,
                                                                           const std::vector<std::pair<std::int64_t, std::int64_t>>& exclude);

}  // namespace superlens::core
