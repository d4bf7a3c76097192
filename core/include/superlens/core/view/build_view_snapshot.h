#pragma once
// Turns forward results into a ViewSnapshot by asking core's analyses
// (layer spike stats, massive activations, channel propagation) and reducing
// the logits to what the logit view shows. Qt-free; runs on a worker thread
// (the GUI's jobs and `superlens-cli figure` both call it).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/result.h"
#include "superlens/core/run_control.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "superlens/core/view/view_snapshot.h"

namespace superlens::core::view {

// The hooks every view needs, recorded on every run (the same selection each
// time, so the engine's incremental recompute can reuse earlier blocks).
core::HookSelection viewHooks();

// A forward request that records viewHooks() and every position's logits.
core::ForwardRequest viewForwardRequest(const std::vector<core::TokenId>& tokens, std::vector<core::EditSpec> edits,
                                        std::shared_ptr<const core::ForwardResult> previous = nullptr);
// The same for a vision model's image (pixel_values [C, H, W]).
core::ForwardRequest viewForwardRequest(std::shared_ptr<const core::PixelTensor> pixels, std::vector<core::EditSpec> edits,
                                        std::shared_ptr<const core::ForwardResult> previous = nullptr);

// Tokens of the held-out text the Loss view shows (and `figure loss --loss-text`).
inline constexpr int kHeldOutLossTokens = 128;

struct SnapshotInputs {
    std::string modelName;
    const core::Model* model = nullptr;
    // Without a model (activations read from a cache file): its config.
    const core::ModelConfig* config = nullptr;
    const core::Tokenizer* tokenizer = nullptr;  // optional: labels show ids without one
    // Display text of each vocabulary id, used for labels when there is no tokenizer (cache files).
    std::vector<std::string> vocabTexts;
    std::shared_ptr<const core::ForwardResult> original;
    std::shared_ptr<const core::ForwardResult> edited;  // null when there are no edits
    std::vector<core::SuperWeight> superWeights;
    bool scanned = false;
    std::vector<core::TokenId> stopwordIds;  // empty: no stopword summary
    std::optional<PerplexityComparison> perplexity;
    // The engine that made the runs: with it the snapshot carries the logit
    // lens (the runs must record viewHooks(), which include the lens hooks).
    core::Engine* engine = nullptr;
    // A lens of `original` computed before (a previous snapshot's): reused.
    std::shared_ptr<const core::LogitLensResult> originalLens;
    int lensTopK = 5;
    // A snapshot built before from this same `original` run (the same object):
    // its original-side analyses (layer statistics, massive activations, token
    // peaks, head means, sinks, per-token loss, mean next-token probabilities)
    // are taken as they are, so a toggle analyses only the edited run.
    // Ignored when its `original` is another run.
    SnapshotPtr reuseOriginalFrom;
    // Mixture-of-experts models: a profile of `original` computed before (reused);
    // else computed with `engine` (one more forward pass of the prompt).
    std::shared_ptr<const core::SuperExpertProfile> expertProfile;
    // The held-out text's per-token loss (heldOutLossOf), copied into the snapshot.
    std::shared_ptr<const HeldOutLoss> heldOutLoss;
    // Vision models: the image or .npy file the runs read (an export's command names it).
    std::string imageSource;
    // Comparing two runs of the history: `original` is run A (which may
    // carry edits), `edited` run B (set even without edits); names them.
    std::string comparison;
    // A second model of the same shapes (model B): its comparison with this
    // one (copied into the snapshot) and, when `edited` is B's run (the views
    // overlay model B), the engine that made it: the edited lens unembeds with
    // B's head. `modelB` also names llama.cpp's tensors for the importance matrix.
    std::shared_ptr<const core::ModelComparison> modelComparison;
    std::string modelBName;
    const core::Model* modelB = nullptr;
    core::Engine* editedEngine = nullptr;
    // llama.cpp's importance matrix: each layer's down projection entry goes into the snapshot.
    std::shared_ptr<const core::Imatrix> imatrix;
    std::string imatrixName;
    // The lens unembeds every position of every layer on each toggle: above
    // this many floating-point operations ((L + 1) * T * d * V * 2) it is left
    // out, so toggles stay interactive on large models (superlens-cli lens and
    // Model.lens have no such limit).
    double lensBudgetFlops = 2e10;
    int topK = 10;
    int moverCount = 8;
};

// Errors: a needed hook was not recorded, or the run was cancelled.
core::Result<SnapshotPtr> buildViewSnapshot(const SnapshotInputs& inputs, const core::RunControl& control = core::RunControl::none());

// The per-token loss of the first `maxTokens` tokens (at most the model's
// context) of a text file (encoded
// with the tokenizer's special tokens, BOS first) under `baselineEdits` (the
// "original" side; usually none) and under `edits`. `unedited`, when given,
// is a run of those tokens without edits (reused, and its blocks shared).
// Errors: unreadable file, fewer than two tokens, bad edits, cancelled.
struct HeldOutRuns {
    std::shared_ptr<const HeldOutLoss> loss;
    std::shared_ptr<const core::ForwardResult> unedited;  // for the next call
};
core::Result<HeldOutRuns> heldOutLossOf(core::Engine& engine, const core::Tokenizer& tokenizer, const std::string& textPath,
                                         const std::vector<core::EditSpec>& baselineEdits, const std::vector<core::EditSpec>& edits,
                                         int maxTokens = kHeldOutLossTokens,
                                         std::shared_ptr<const core::ForwardResult> unedited = nullptr,
                                         const core::RunControl& control = core::RunControl::none());

// The layer to show first: the first super weight's, else the largest down_proj output spike.
int defaultSelectedLayer(const ViewSnapshot& snapshot);

// Readable label for a token: its text quoted, specials as they are, "#id" without a tokenizer.
std::string tokenLabel(const core::Tokenizer* tokenizer, core::TokenId id);

// Short label of a vision model's position: "CLS", "reg2", "p(3,4)" (row, column of the patch grid).
std::string imageTokenLabel(std::int64_t position, int registers, std::int64_t gridWidth);

// The Patch grid view's per-position values (one per position of the run:
// CLS, registers, patches row-major), computed in double from a run's hooks:
//  - MassivePeak: max over channels of |blocks.L.hook_resid_post[t, :]| (the
//    massive-activation magnitude), or |...[t, channel]| when channel >= 0;
//  - AttentionToCls / AttentionToRegisters: the attention probability query t
//    puts on key 0 (CLS) / on the register keys together, blocks.L.attn.hook_pattern,
//    averaged over heads (head < 0) or of one head;
//  - HookChannel: the value of `hook` (a recorded [T, n] hook, e.g.
//    "blocks.1.hook_mlp_out") at [t, channel].
// Errors (one line): the hook was not recorded, channel / head / layer out of
// range, a model without registers asked for attention to registers.
enum class PatchQuantity { MassivePeak, AttentionToCls, AttentionToRegisters, HookChannel };
struct PatchGridRequest {
    PatchQuantity quantity = PatchQuantity::MassivePeak;
    int layer = 0;
    std::int64_t channel = -1;  // MassivePeak: -1 = max over channels; HookChannel: required
    int head = -1;              // attention: -1 = mean over heads
    std::string hook;           // HookChannel
};
core::Result<std::vector<double>> patchGridValues(const core::ForwardResult& run, int registers, const PatchGridRequest& request);
// The option names of the quantities ("massive", "attn-cls", "attn-registers", "hook") and back.
const char* patchQuantityName(PatchQuantity q);
std::optional<PatchQuantity> patchQuantityFromName(const std::string& name);

}  // namespace superlens::core::view
