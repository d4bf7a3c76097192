#pragma once
// The massive-activation study (`study massive`, issue 23): Sun et al.
// (2024, Massive Activations in Large Language Models, Sec. 3) set the
// massive activations of an LLM to zero (the model breaks) or to their mean
// over many inputs (it does not: they act as fixed biases). This study does
// both for every massive-activation site a scan finds, jointly: each site
// alone, all but one, all, and every pair (joint_ablation.h), once with the
// sites set to 0 and once set to their means.
//
// Sites. The scan (massive_activations.h) runs the scan input (default: the
// text's first window) with every
// block's hook_resid_post recorded and flags the entries >= ratio x the
// layer's median |value|. A site is one flagged (token, channel); it is
// intervened on at the first layer where it is flagged (where the massive
// activation appears; later layers carry it on in the residual stream), as
// the edit blocks.L.hook_resid_post[token, channel] = 0 or = mean. The
// largest maxSites sites (by ratio) are kept.
//
// Mean. The site's mean over the perplexity windows of the text: the value
// of blocks.L.hook_resid_post[token, channel] in each window's forward pass
// (the original model with the base edits), averaged over the windows long
// enough to hold the token. Edits apply at the same position in every window.
//
// Thread-safety: synchronous; uses the engine, which serialises its runs.

#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/joint_ablation.h"
#include "superlens/core/analysis/massive_activations.h"

namespace superlens::core {

struct MassiveSite {
    int layer = 0;        // first layer flagged: the intervention point
    int lastLayer = 0;    // last layer flagged
    std::int64_t token = 0;
    std::int64_t channel = 0;
    float value = 0;      // at `layer` in the scan
    double ratio = 0;     // largest |value| / layer median over the flagged layers
    double mean = 0;      // over the text's windows
    int meanWindows = 0;  // windows that hold the token
    std::string hook() const { return "blocks." + std::to_string(layer) + ".hook_resid_post"; }
};

struct MassiveStudyOptions {
    PerplexityOptions perplexity;
    MassiveActivationOptions scan;
    BootstrapOptions bootstrap;
    int maxSites = 8;  // 1 .. kMaxJointItems
};

struct MassiveStudy {
    std::vector<MassiveSite> sites;  // by ratio, largest first
    int flagged = 0;                 // flagged (layer, token, channel) entries of the scan
    double originalPpl = 0;
    JointAblation zero, mean;        // items = the sites, in order
    std::vector<std::string> notes;
    BootstrapOptions bootstrap;
    std::string markdown() const;
    // {"sites": [{"layer", "last_layer", "token", "channel", "value", "ratio",
    //   "mean", "mean_windows", "zero_edit", "mean_edit"}], "flagged",
    //  "original_ppl", "zero": joint, "mean": joint, "notes"} (joint: jointAblationJson).
    std::string json() const;
};

// scanTokens empty: the text's first window (its first min(context, 128)
// tokens), so the sites are positions every window has.
// Errors: no massive activation at the threshold, no site inside the
// perplexity window, bad options, engine and measure errors, "cancelled".
Result<MassiveStudy> studyMassiveActivations(Engine& engine, const std::vector<TokenId>& scanTokens, const std::vector<TokenId>& textTokens,
                                             const Tokenizer* tokenizer, const std::vector<EditSpec>& baseEdits,
                                             const MassiveStudyOptions& options = {}, const RunControl& control = RunControl::none());

}  // namespace superlens::core
