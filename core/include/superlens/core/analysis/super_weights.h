#pragma once
// Super-weight detection (Yu et al., 2024, "The Super Weight in Large
// Language Models"), the paper's one-pass method made robust:
//   per layer, max |down_proj input| and max |down_proj output|; a layer
//   whose output spike stands out (ratio to the layer's median) gives the
//   token t and row r (output channel); the column c is the input channel
//   with the largest |W[r,c] * x_t[c]|. Zero it in the overlay, run again
//   (incrementally from that layer), repeat until nothing stands out.

#include <string>
#include <vector>

#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/engine/engine.h"

namespace superlens::core {

struct SuperWeight {
    int layer = 0;
    std::int64_t row = 0;   // output channel of down_proj = super-activation channel
    std::int64_t col = 0;   // input channel of down_proj
    float value = 0.0f;     // the weight W[row, col]
    float downIn = 0.0f;    // down_proj input at (token, col) when found
    float downOut = 0.0f;   // down_proj output at (token, row) when found
    std::int64_t token = 0; // token position of the spike
    int iteration = 0;      // 0 = found in the first pass

    std::string tensorName(const Model& model) const;   // model.layers.L.mlp.down_proj.weight
    std::string zeroEdit(const Model& model) const;     // "<tensor>[row,col]=0"
    bool sameCoordinate(const SuperWeight& o) const { return layer == o.layer && row == o.row && col == o.col; }
};

struct SuperWeightScanOptions {
    // A layer's down_proj output spike must be at least this many times the
    // median |output| of that layer, and its input spike likewise.
    double outputRatio = 50.0;
    double inputRatio = 20.0;
    int maxIterations = 16;   // Phi-3-mini has six super weights; leave headroom
    // Guard: the spike must persist in the residual stream (ratio to the
    // residual median at later layers), which rules out the last layer's echo.
    bool requirePersistence = true;
};

struct SuperWeightScan {
    std::vector<SuperWeight> superWeights;          // discovery order, strongest first
    std::vector<LayerSpikeStats> firstPass;         // stats of the unedited (user-edited) model
    std::shared_ptr<const ForwardResult> firstResult;  // its forward result (hooks recorded)
    int forwardPasses = 0;
    std::vector<double> iterationSeconds;
};

// `baseEdits` are the user's edits (the scan describes the model with them).
Result<SuperWeightScan> scanSuperWeights(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& baseEdits,
                                         const SuperWeightScanOptions& options = {}, const RunControl& control = RunControl::none());

// How consistently each coordinate appears over several prompts.
struct SuperWeightConsistency {
    SuperWeight weight;      // from the first prompt that found it
    int promptsFound = 0;
    int promptsTotal = 0;
};
Result<std::vector<SuperWeightConsistency>> scanConsistency(Engine& engine, const std::vector<std::vector<TokenId>>& prompts,
                                                            const std::vector<EditSpec>& baseEdits, const SuperWeightScanOptions& options = {},
                                                            const RunControl& control = RunControl::none());

}  // namespace superlens::core
