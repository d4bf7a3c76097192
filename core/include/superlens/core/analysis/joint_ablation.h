#pragma once
// Joint ablation of a set of named edits (issue 23): each item removed alone,
// all but one, all together, and every pair, each subset one perplexity pass
// over the text. One routine for the studies that ablate sets: super weights
// (`study superweight --joint`), super experts (`study experts --joint`) and
// massive activations (`study massive`, zero and mean).
//
// Effects are mean-NLL changes against the original (nats; ln of the
// perplexity ratio): effect(S) = NLL(S removed) - NLL(original), so they add
// when the items act independently. interaction(i, j) = effect(i and j) -
// effect(i) - effect(j): 0 when additive, > 0 when removing both hurts more
// than the two apart. Intervals: the paired window bootstrap of
// measure_intervals.h (every subset resampled on the same windows).
//
// Thread-safety: synchronous; uses the engine, which serialises its runs.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "superlens/core/analysis/bootstrap.h"
#include "superlens/core/analysis/measure_intervals.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/engine/edit_spec.h"

namespace superlens::core {

// One item: a short name (as the tables print it) and the edits that remove it.
struct JointItem {
    std::string name;
    std::vector<EditSpec> edits;
};

// Matrices are n x n, row-major; the diagonal holds the single effects
// (pairEffect) and 0 (interaction, interval invalid).
struct JointAblation {
    std::vector<SuperWeightCoord> items;  // super weights only (empty for other item kinds)
    double originalNll = 0;
    std::vector<double> singleEffect, leaveOneOutEffect;
    double allEffect = 0;
    std::vector<double> pairEffect, interaction;
    std::vector<Interval> singleCi, leaveOneOutCi, interactionCi;
    Interval allCi;
    // Added (generic joint): every item's name and edit texts, in item order.
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> edits;
    std::size_t n() const { return names.size(); }
    double pair(std::size_t i, std::size_t j) const { return pairEffect[i * n() + j]; }
    double inter(std::size_t i, std::size_t j) const { return interaction[i * n() + j]; }
};

struct JointAblationOptions {
    PerplexityOptions perplexity;
    BootstrapOptions bootstrap;
    std::string noun = "items";  // for messages: "super weights", "experts", ...
};

// At most this many items (n + n + n(n-1)/2 passes).
inline constexpr std::size_t kMaxJointItems = 16;

// Subsets are bitmasks over the items (bit i = item i removed). `known` holds
// subsets the caller already measured with the same text, windows and base
// edits (mask 0 = the original; others are reused instead of a new pass).
// Errors: more than kMaxJointItems items, no item, engine and measure errors,
// "cancelled".
Result<JointAblation> jointAblation(Engine& engine, const std::vector<TokenId>& textTokens, const std::vector<EditSpec>& baseEdits,
                                    const std::vector<JointItem>& items, const JointAblationOptions& options,
                                    const std::map<std::uint64_t, WindowUnits>& known = {}, const RunControl& control = RunControl::none());

// JSON object: {"items": itemsJson, "names", "edits", "unit", "original_nll",
// "single", "single_ci", "leave_one_out", "leave_one_out_ci", "all",
// "all_ci", "pair", "interaction", "interaction_ci"} (intervals [lo, hi] or null).
std::string jointAblationJson(const JointAblation& joint, const std::string& itemsJson);

// Markdown: the effects table (alone, all but one when n > 2, all) and the
// interaction matrix (n >= 2). `removed` names the action ("zeroed", "pruned").
std::string jointAblationMarkdown(const JointAblation& joint, const std::string& removed);

}  // namespace superlens::core
