#pragma once
// The immutable data every view draws: one forward pass of the original
// model, optionally one with the user's edits, and what core's analyses say
// about them. Built on a worker thread (build_view_snapshot.h), published to
// the GUI thread as std::shared_ptr<const ViewSnapshot>; views never modify it.
//
// Shapes follow the hook table in DESIGN.md: T tokens, L layers, d hidden,
// f intermediate, H heads.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/attention_sinks.h"
#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/analysis/logit_lens.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/model_compare.h"
#include "superlens/core/analysis/super_experts.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/model/imatrix.h"

namespace superlens::core::view {

// Probability of one vocabulary entry at the next position, original vs edited.
struct TokenProbability {
    core::TokenId id = 0;
    std::string label;       // readable token text
    double original = 0.0;
    double edited = 0.0;
};

// A residual channel followed across layers (the super activation).
struct TrackedChannel {
    std::int64_t channel = 0;
    std::int64_t token = 0;      // the token where it was found
    std::string origin;          // "super weight L1 [13,57]" or "massive activation"
    // |blocks.l.hook_resid_post[t, channel]| for every token t (outer) and layer l (inner).
    std::vector<std::vector<float>> original;
    std::vector<std::vector<float>> edited;
};

struct PerplexityComparison {
    std::string textName;
    std::int64_t tokens = 0;
    double original = 0.0;
    double edited = 0.0;
};

// The per-token loss of a held-out text (the Loss view's "held-out text"):
// its first tokens, as the tokenizer encodes the file (BOS first), run
// without and with the edits (a comparison: run A's and run B's edits).
struct HeldOutLoss {
    std::string textPath;
    std::string textName;
    std::vector<core::TokenId> tokens;
    std::vector<std::string> tokenLabels;
    std::vector<double> original;  // NaN at 0, as ViewSnapshot::originalLoss
    std::vector<double> edited;
};

// Vision models: the image the runs read and where each position lies on it
// (token order [CLS, registers..., patches row-major], docs/HOOKS.md).
struct ImageLayout {
    int registers = 0;
    int gridRows = 0;   // patch grid (the image's height / patch size, rounded down)
    int gridCols = 0;
    int patchSize = 0;
    int width = 0;      // pixel_values' width and height
    int height = 0;
    // For display only: height x width x 3 bytes, each channel of the
    // pixel_values scaled from its own min..max to 0..255 (the picture the
    // model saw, after resize, crop and normalisation).
    std::vector<std::uint8_t> rgb;
    std::string source;  // the image or .npy file the runs read ("" when unknown)
    std::int64_t firstPatch() const { return 1 + registers; }
};

struct ViewSnapshot {
    std::string modelName;
    int layers = 0;
    int hidden = 0;
    int intermediate = 0;
    int heads = 0;
    std::vector<std::string> downProjTensor;  // per layer: the checkpoint's down projection weight name
    int downOutputAxis = 0;                   // stored axis of that weight holding the output channel (1: GPT-2's [in, out])

    std::vector<core::TokenId> tokens;
    std::vector<std::string> tokenLabels;  // display text for each position ("'The'", "<s>", "#17")
    std::vector<bool> delimiterToken;      // first token or delimiter (massive-activation carriers)
    // Vision models: the image and the patch grid (null for text models).
    std::shared_ptr<const ImageLayout> image;
    // False for encoders (BERT, RoBERTa, vision transformers): every query sees every key.
    bool causal = true;
    // Why the next-token views (Logits, Loss) do not apply; empty when they do.
    std::string nextTokenUnavailable;

    std::shared_ptr<const core::ForwardResult> original;
    // The run with the user's edits; equal to `original` when there are no edits.
    std::shared_ptr<const core::ForwardResult> edited;
    std::vector<std::string> editTexts;
    // Two runs of the session compared (the run history): `original` is run
    // A, `edited` run B, with edits of their own; names them ("run 2 vs run 5").
    // Empty for the live original-vs-edited snapshot.
    std::string comparison;
    std::vector<std::string> baselineEditTexts;  // run A's edits (comparison only)
    // The two sides' names in legends: "original" / "edited", "run A" /
    // "run B" (two runs of the history), "model A" / "model B" (the Model B overlay).
    std::string sideName(bool second) const {
        if (secondSideIsModelB) return second ? "model B" : "model A";
        if (!comparison.empty()) return second ? "run B" : "run A";
        return second ? "edited" : "original";
    }
    // True when the views draw a second run (edits, or a comparison).
    bool hasEdits() const { return !editTexts.empty() || !comparison.empty(); }

    std::vector<core::LayerSpikeStats> originalStats;  // one per layer
    std::vector<core::LayerSpikeStats> editedStats;
    std::vector<core::SuperWeight> superWeights;        // detected (empty until a scan ran)
    bool scanned = false;

    core::MassiveActivationReport originalMassive;
    core::MassiveActivationReport editedMassive;
    // Per layer, per token: max over channels of |resid_post| (original / edited).
    std::vector<std::vector<float>> originalTokenPeak;
    std::vector<std::vector<float>> editedTokenPeak;

    std::vector<TrackedChannel> tracked;

    // Attention averaged over heads, per layer: [T*T] row-major (query, key).
    std::vector<std::vector<float>> originalHeadMean;
    std::vector<std::vector<float>> editedHeadMean;

    // Next-token distribution at the last position (encoders: the MLM
    // prediction at the first <mask>, else the last position).
    std::int64_t logitsPosition = -1;
    std::vector<TokenProbability> topNext;   // union of the original and edited top-k, by original probability
    std::vector<TokenProbability> movers;    // largest |edited - original| mean probability over positions
    // The original run's next-token probability of each vocabulary id averaged
    // over positions (the movers' baseline); empty when the runs kept the last
    // position's logits only. Kept for SnapshotInputs::reuseOriginalFrom.
    std::vector<double> originalMeanProb;
    bool stopwordsAvailable = false;
    double stopwordMassOriginal = 0.0;       // mean over positions of P(stopword)
    double stopwordMassEdited = 0.0;
    double stopwordRatio() const { return stopwordMassOriginal > 0 ? stopwordMassEdited / stopwordMassOriginal : 0.0; }
    std::optional<PerplexityComparison> perplexity;

    // Logit lens of every position (core/analysis/logit_lens.h), original and
    // edited (the same object without edits); null when the snapshot was
    // built without an engine (activations read from a cache file).
    std::shared_ptr<const core::LogitLensResult> originalLens;
    std::shared_ptr<const core::LogitLensResult> editedLens;
    // Why the lens is absent (empty when it is there).
    std::string lensUnavailable;
    // Attention mass per layer x head on the first token and on the massive-
    // activation carriers (the original run's flagged tokens, for both runs);
    // layers == 0 when the runs did not record attention patterns.
    core::AttentionSinkReport originalSinks;
    core::AttentionSinkReport editedSinks;

    // Per-token loss (NLL of token t given the tokens before it, NaN at 0);
    // empty when the runs kept the last position's logits only.
    std::vector<double> originalLoss;
    std::vector<double> editedLoss;
    // The same for a held-out text, once asked for (null before).
    std::shared_ptr<const HeldOutLoss> heldOutLoss;

    // Mixture-of-experts models: the super-expert profile of the original
    // run's tokens (core/analysis/super_experts.h); null for dense models and
    // runs read from a cache file. The router's probabilities of both runs are
    // the runs' blocks.L.mlp.hook_expert_weights.
    std::shared_ptr<const core::SuperExpertProfile> expertProfile;

    // A second model open beside this one (GUI: File → Compare with model…;
    // `figure --compare-with B`): core::compareModels of the pair on these
    // tokens, drawn by the Compare view; null when none is open. When the
    // views overlay it ("Model B"), `edited` is model B's run and
    // `comparison` names the two models.
    std::shared_ptr<const core::ModelComparison> modelComparison;
    std::string modelBName;
    bool secondSideIsModelB = false;  // `edited` is model B's run (the overlay)
    // llama.cpp's importance matrix (--imatrix): per layer, its entry for the
    // down projection (null where it has none), which the Layer view draws
    // beside the down_proj input channels. imatrixProblem says why no entry
    // applies (no GGUF model names llama.cpp's tensors, columns differ).
    std::shared_ptr<const core::Imatrix> imatrix;
    std::string imatrixName;
    std::vector<const core::ImatrixEntry*> downImportance;
    std::string imatrixProblem;

    // Display text of every vocabulary id the lens results name.
    std::map<core::TokenId, std::string> vocabLabels;
    // vocabLabels' entry, "#id" for an id it lacks.
    std::string vocabLabel(core::TokenId id) const {
        const auto it = vocabLabels.find(id);
        return it == vocabLabels.end() ? "#" + std::to_string(id) : it->second;
    }

    int layerCount() const { return layers; }
    // Positions of the runs (tokens, or a vision model's CLS + registers + patches).
    std::int64_t tokenCount() const { return static_cast<std::int64_t>(tokenLabels.size()); }
};

using SnapshotPtr = std::shared_ptr<const ViewSnapshot>;

}  // namespace superlens::core::view
