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

#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/super_weights.h"

namespace superlens::core {

struct StudyCondition {
    std::string key;                 // original | sw_zeroed | sw_zeroed_sa_restored | outliers_zeroed
    std::string label;               // human-readable
    std::vector<EditSpec> edits;     // the study's edits on top of the base edits
    std::optional<PerplexityResult> ppl;
    std::optional<ZeroShotResult> zeroShot;
    std::optional<StopwordShift> stopwords;  // against "original"
};

struct SuperWeightStudyOptions {
    PerplexityOptions perplexity;     // windows; the stopword mass averages over the same predicting positions
    int topMovers = 10;
    SuperWeightScanOptions scan;
    // Outliers zeroed per down_proj matrix in the control condition; 0 = as
    // many as that matrix has super weights.
    int outlierCount = 0;
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
    // A Markdown table: one row per condition, columns ppl, zero-shot
    // accuracy (and normalised), stopword mass and ratio.
    std::string markdown() const;
};

// Errors: no super weight found (and none given), engine and measure errors, "cancelled".
Result<SuperWeightStudy> studySuperWeight(Engine& engine, const SuperWeightStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                                          const SuperWeightStudyOptions& options = {}, const RunControl& control = RunControl::none());

// The k largest-|W| entries of a matrix, excluding `exclude` (row, col) pairs;
// largest first. Exposed for tests and the GUI's "zero outliers" ablation.
Result<std::vector<std::pair<std::int64_t, std::int64_t>>> largestWeights(Engine& engine, const std::string& tensorName,
                                                                           const std::vector<EditSpec>& edits, int k,
                                                                           const std::vector<std::pair<std::int64_t, std::int64_t>>& exclude);

}  // namespace superlens::core
