#pragma once
// Per-layer spike statistics of one forward pass: the inputs of the
// super-weight detector and of the spike / propagation views.
//
// Needs blocks.*.mlp.hook_post, blocks.*.hook_mlp_out and
// blocks.*.hook_resid_post recorded (superWeightHooks()).

#include <cstdint>
#include <vector>

#include "superlens/core/engine/engine.h"

namespace superlens::core {

// The hooks layerSpikeStats reads (plus the router's, on routed-experts layers).
HookSelection superWeightHooks();

// The entry of largest |value| in a [T, C] tensor.
struct TensorPeak {
    float value = 0.0f;        // signed value at the peak
    std::int64_t token = 0;
    std::int64_t channel = 0;
    float absValue() const { return value < 0 ? -value : value; }
};

struct LayerSpikeStats {
    int layer = 0;
    TensorPeak downIn;          // max |blocks.l.mlp.hook_post|   (down_proj input)
    TensorPeak downOut;         // max |blocks.l.hook_mlp_out|    (down_proj output)
    TensorPeak resid;           // max |blocks.l.hook_resid_post|
    double downInMedian = 0;    // median |value| over the whole tensor (all tokens x channels)
    double downOutMedian = 0;
    double residMedian = 0;
    // A routed-experts layer (mixture of experts): no single down projection,
    // so downIn is empty (0) and the super-expert profile covers the layer.
    bool routed = false;
    double downInRatio() const { return downInMedian > 0 ? downIn.absValue() / downInMedian : 0; }
    double downOutRatio() const { return downOutMedian > 0 ? downOut.absValue() / downOutMedian : 0; }
    double residRatio() const { return residMedian > 0 ? resid.absValue() / residMedian : 0; }
};

// One entry per layer; error if a needed hook was not recorded. Routed-experts
// layers need blocks.L.mlp.hook_expert_weights recorded instead of mlp.hook_post.
Result<std::vector<LayerSpikeStats>> layerSpikeStats(const ForwardResult& result);

// |residual| of one channel at one token after every block (the super
// activation's propagation): entry l = |blocks.l.hook_resid_post[token, channel]|.
Result<std::vector<float>> channelAcrossLayers(const ForwardResult& result, std::int64_t token, std::int64_t channel);

// Median of |values| (exact: a histogram of the float bits, then nth_element on
// the one bucket holding the middle rank).
double medianAbs(const std::vector<float>& values);

}  // namespace superlens::core
