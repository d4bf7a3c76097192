#pragma once
// Super experts of mixture-of-experts models (Su et al., 2025, "Unveiling
// Super Experts in Mixture-of-Experts Large Language Models", arXiv 2507.23279):
// a handful of experts whose down_proj outputs are extreme, which create the
// massive activations and attention sinks and whose removal breaks the model.
//
// The profile: for every routed layer L and expert E, the max |down_proj
// output| of E (blocks.L.mlp.experts.E.hook_out, before the routing weight)
// over every token routed to E in every prompt, and where it occurred; the
// routing load (tokens routed to E); and the experts the first token (BOS
// when the tokenizer adds one) goes to. The paper's rule flags E as a super
// expert when its max exceeds both the 99.5th percentile of the maxima of all
// (layer, expert) pairs (linear interpolation, numpy's default) and a tenth
// of the largest of them.
//
// Memory: each forward pass records the expert outputs of as many routed
// layers as fit in 256 MiB ([T, d] floats per expert), so a long prompt on a
// large model takes several passes. Synchronous; uses the engine's runs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/run_control.h"

namespace superlens::core {

struct ExpertStat {
    int layer = 0;
    int expert = 0;
    double maxAbsOut = 0;     // max |down_proj output| over routed tokens and channels
    double value = 0;         // the signed value there
    int prompt = -1;          // where: prompt index, token position, output channel (-1: never routed)
    std::int64_t token = -1;
    std::int64_t channel = -1;
    std::int64_t load = 0;    // tokens routed to this expert (all prompts)
    bool super = false;
};

struct SuperExpertProfile {
    int experts = 0;                          // per routed layer
    int topK = 0;
    std::vector<int> layers;                  // the routed layers
    std::vector<ExpertStat> stats;            // layers.size() x experts, layer-major
    double percentile995 = 0;                 // of maxAbsOut over every (layer, expert)
    double globalMax = 0;
    double threshold = 0;                     // max(percentile995, globalMax / 10); super iff maxAbsOut > threshold
    std::vector<ExpertStat> superExperts;     // flagged, largest first
    std::vector<std::vector<int>> firstTokenExperts;  // per routed layer: the experts prompt 0's first token goes to (top-k order)
    std::int64_t tokens = 0;                  // tokens profiled

    const ExpertStat& at(std::size_t layerIndex, int expert) const { return stats[layerIndex * static_cast<std::size_t>(experts) + static_cast<std::size_t>(expert)]; }
    // "expert:L:E=off" for every flagged expert.
    std::vector<std::string> pruneEdits() const;
};

// Errors: the model has no routed experts, no prompts, "cancelled", run errors.
Result<SuperExpertProfile> profileExperts(Engine& engine, const std::vector<std::vector<TokenId>>& prompts,
                                          const std::vector<EditSpec>& edits = {}, const RunControl& control = RunControl::none());

// The super weight inside a super expert: the super-weight paper's rule
// (Yu et al. 2024, Sec. 3.1) applied to the expert's own down projection at
// the profile's peak: row r = the output channel of the peak at token t, column
// c = argmax_j |W_E[r, j] * post_E[t, j]| (post = the expert's down_proj input).
struct ExpertSuperWeight {
    int layer = 0;
    int expert = 0;
    std::string tensor;       // the expert's down projection, full checkpoint name
    std::int64_t row = 0;     // output channel (stored [out, in])
    std::int64_t col = 0;     // input channel
    double value = 0;         // the weight
    double downIn = 0;        // post_E[t, c]
    double downOut = 0;       // the expert's output at [t, r]
    int prompt = 0;
    std::int64_t token = 0;
    double share = 0;         // |W[r,c] * post[t,c]| / |downOut|
};
// One per flagged super expert, strongest first. prompts/edits as given to profileExperts.
Result<std::vector<ExpertSuperWeight>> superWeightsInExperts(Engine& engine, const SuperExpertProfile& profile,
                                                             const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits = {});

// The scan of a mixture-of-experts model (`scan` in every front end): the
// super-expert profile over the prompts, the super weight inside each flagged
// expert, and on models that mix dense and routed layers (Qwen2-MoE's
// mlp_only_layers, decoder_sparse_step) the super-weight scan of the first
// prompt over the dense layers. Errors: engine errors, "cancelled".
struct ExpertModelScan {
    SuperExpertProfile profile;
    std::vector<ExpertSuperWeight> inExperts;
    std::vector<int> denseLayers;            // layers with a dense MLP (empty: all routed)
    std::vector<SuperWeight> denseWeights;   // found in them
};
Result<ExpertModelScan> scanExpertModel(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                        const SuperWeightScanOptions& options = {}, const RunControl& control = RunControl::none());

// The super weights of any model from one prompt, as the views list them:
// the super-weight scan over the dense MLP layers (scanSuperWeights; on a
// mixture-of-experts model only its dense layers, e.g. Qwen2-MoE's
// mlp_only_layers), then, when the model has routed experts, the super-expert
// profile of the prompt and the super weight inside each flagged expert
// (SuperWeight::expert set). Errors: engine errors, "cancelled".
struct ModelSuperWeights {
    std::vector<SuperWeight> weights;           // dense ones first (scan order), then the experts', strongest first
    std::optional<SuperExpertProfile> profile;  // mixture-of-experts models
};
Result<ModelSuperWeights> findModelSuperWeights(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits = {},
                                                const RunControl& control = RunControl::none());

// numpy.percentile(values, q) with linear interpolation (values need not be sorted).
double percentileLinear(std::vector<double> values, double q);

}  // namespace superlens::core
