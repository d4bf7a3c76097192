#pragma once
// Super-weight detection (Yu et al., 2024, "The Super Weight in Large
// Language Models"), the paper's one-pass method made robust:
//   per layer, max |down_proj input| and max |down_proj output|; a layer
//   whose output spike stands out (ratio to the layer's median) gives the
//   token t and row r (output channel); the column c is the input channel
//   with the largest |W[r,c] * x_t[c]|. Zero it in the overlay, run again
//   (incrementally from that layer), repeat until nothing stands out.
//
// Guards against the known false positives (docs/ANALYSIS.md):
//   - leftover input spike: zeroing W[r,c] removes the output spike but not
//     the input spike x_t[c] (made upstream), so every ordinary weight of
//     column c now turns it into a moderate output spike. A candidate whose
//     column carries the input spike of a super weight already found in that
//     layer must be an outlier of its own column (|W[r,c]| >= leftoverColumnRatio
//     x median |W[:,c]|), as the second and third rows sharing Phi-3's column are.
//   - echo: a later layer (typically the last) whose down_proj output cancels
//     or merely repeats a residual spike. The candidate must build the
//     residual spike (same sign, |resid_post[t,r]| >= half its |down_out|,
//     resid ratio >= residRatio) and, when a next layer exists, the spike must
//     persist into it (ratio >= residRatio there too).
//   - unexplained spikes: the chosen weight's contribution must be at least
//     minContributionShare of the output spike.
//
// Thread-safety: the functions are synchronous and use the engine (which
// serialises its runs); call from any one thread.

#include <memory>
#include <string>
#include <vector>

#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/engine/engine.h"

namespace superlens::core {

struct SuperWeight {
    int layer = 0;
    // >= 0: the weight is in this routed expert's down projection (mixture of
    // experts; found through the super-expert profile, super_experts.h).
    int expert = -1;
    // Coordinates of the weight in the down projection AS STORED (edits and
    // `scan --json` use them); outputAxis says which one is the output
    // channel (0 for [out, in] Linear weights, 1 for GPT-2's Conv1D [in, out]).
    std::int64_t row = 0;
    std::int64_t col = 0;
    int outputAxis = 0;
    float value = 0.0f;     // the weight W[row, col]
    float downIn = 0.0f;    // down_proj input at (token, col) when found
    float downOut = 0.0f;   // down_proj output at (token, row) when found
    std::int64_t token = 0; // token position of the spike
    int iteration = 0;      // 0 = found in the first pass
    // Added: ratios at discovery (|down_out| / layer median of |down_out|, same
    // for the input at (token, col) and for resid_post at (token, row)).
    double outputRatio = 0;
    double inputRatio = 0;
    double residRatio = 0;

    // The output channel (= the super activation's channel) and the input channel.
    std::int64_t outputChannel() const { return outputAxis == 0 ? row : col; }
    std::int64_t inputChannel() const { return outputAxis == 0 ? col : row; }
    // Sets the stored coordinates from channels, for a model's down projection layout.
    void setChannels(std::int64_t output, std::int64_t input, int axis) {
        outputAxis = axis;
        row = axis == 0 ? output : input;
        col = axis == 0 ? input : output;
    }

    // The layer's down projection (model.layers.L.mlp.down_proj.weight), or the expert's.
    std::string tensorName(const Model& model) const;
    std::string zeroEdit(const Model& model) const;     // "<tensor>[row,col]=0"
    bool sameCoordinate(const SuperWeight& o) const { return layer == o.layer && expert == o.expert && row == o.row && col == o.col; }
    SuperWeightCoord coord() const { return {layer, row, col}; }
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
    // Added options (docs/ANALYSIS.md):
    double residRatio = 50.0;           // residual spike ratio required by the persistence guard
    bool leftoverGuard = true;          // the leftover-input-spike guard (see top of file)
    double leftoverColumnRatio = 10.0;  // |W[r,c]| / median |W[:,c]| a candidate on a leftover column needs
    int candidatesPerLayer = 8;         // largest output entries (distinct rows) tried per layer and iteration
    // The chosen weight's contribution |W[r,c] x_t[c]| must be at least this
    // share of |down_out[t,r]|: the weights must explain the spike (three
    // super weights sharing a row each give about a third; an activation
    // edit or a sum of many small terms does not qualify).
    double minContributionShare = 0.2;
    // Vision models: the image every pass runs (the tokens argument is then empty).
    std::shared_ptr<const PixelTensor> pixels;
};

struct SuperWeightScan {
    std::vector<SuperWeight> superWeights;          // discovery order, strongest first
    std::vector<LayerSpikeStats> firstPass;         // stats of the unedited (user-edited) model
    std::shared_ptr<const ForwardResult> firstResult;  // its forward result (hooks recorded)
    int forwardPasses = 0;
    // Entry i: seconds of forward pass i (0 = the full first pass, i > 0 = the
    // incremental rerun after zeroing super weight i-1) plus its analysis.
    std::vector<double> iterationSeconds;
    // Added: first block recomputed by pass i (0 for the first pass; for i > 0
    // the layer of the weight just zeroed, showing the cached residual is reused).
    std::vector<int> iterationStartLayer;
    std::shared_ptr<const ForwardResult> lastResult;   // the model with every found weight zeroed
    std::vector<EditSpec> zeroEdits;                    // baseEdits + one zeroing edit per super weight
};

// `baseEdits` are the user's edits (the scan describes the model with them).
Result<SuperWeightScan> scanSuperWeights(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& baseEdits,
                                         const SuperWeightScanOptions& options = {}, const RunControl& control = RunControl::none());

// How consistently each coordinate appears over several prompts.
struct SuperWeightConsistency {
    SuperWeight weight;      // from the first prompt that found it
    int promptsFound = 0;
    int promptsTotal = 0;
    double fraction() const { return promptsTotal > 0 ? static_cast<double>(promptsFound) / promptsTotal : 0; }
};
// Ordered by promptsFound (descending), then by first discovery. Activation
// edits must fit every prompt (an error names the prompt). `firstPromptScan`:
// a scan of prompts[0] with the same edits and options made before (reused).
Result<std::vector<SuperWeightConsistency>> scanConsistency(Engine& engine, const std::vector<std::vector<TokenId>>& prompts,
                                                            const std::vector<EditSpec>& baseEdits, const SuperWeightScanOptions& options = {},
                                                            const RunControl& control = RunControl::none(),
                                                            const SuperWeightScan* firstPromptScan = nullptr);

// The scan input of a text measure's keep_super (perplexity, stopwords,
// studies): the text's first kScanInputTokens tokens.
inline constexpr std::size_t kScanInputTokens = 128;
std::vector<TokenId> scanInputHead(const std::vector<TokenId>& textTokens);

// Resolves rtn/actq `keep_super` without an explicit list (DESIGN.md): the
// super weights (layer,row,col) of a scan of `tokens`, and for actq the super
// activations (token, channel = row) of those weights. The scan runs with the
// other, non-quantization edits of the list. Edits needing nothing are returned unchanged.
Result<std::vector<EditSpec>> resolveKeepSuperFromScan(Engine& engine, const std::vector<TokenId>& tokens, std::vector<EditSpec> edits,
                                                       const SuperWeightScanOptions& options = {});
// The same for one input of either kind: `tokens`, or for vision models the
// image `pixels` (non-null), which the scan then runs on. Every front end
// (CLI, GUI, Python) resolves keep_super through this rule.
Result<std::vector<EditSpec>> resolveKeepSuperFromScan(Engine& engine, const std::vector<TokenId>& tokens,
                                                       const std::shared_ptr<const PixelTensor>& pixels, std::vector<EditSpec> edits);

}  // namespace superlens::core
