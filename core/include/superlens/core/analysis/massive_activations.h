#pragma once
// Massive activations (Sun et al., 2024): residual-stream values 1e3-1e5x
// the median, at the first token and at delimiters, in fixed channels.

#include <optional>
#include <string_view>
#include <vector>

#include "superlens/core/engine/engine.h"
#include "superlens/core/model/image_tokens.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

struct MassiveActivation {
    int layer = 0;            // residual after block `layer` (hook_resid_post)
    std::int64_t token = 0;
    std::int64_t channel = 0;
    float value = 0.0f;
    double ratio = 0.0;       // |value| / median |value| of that layer's whole tensor
    bool firstToken = false;
    bool delimiter = false;   // token text is punctuation / newline / BOS-like
    std::optional<ImageToken> imageToken;  // vision runs: CLS, register i, or patch (row, col)
};

struct MassiveActivationOptions {
    int topK = 3;               // largest entries listed per layer
    double ratioThreshold = 100.0;  // flagged when ratio >= this
    // Added: at most this many flagged entries per layer (largest first), so
    // a pathological model cannot flood a report.
    int maxFlaggedPerLayer = 64;
};

struct MassiveActivationReport {
    std::vector<std::vector<MassiveActivation>> topPerLayer;  // top-k per layer
    std::vector<MassiveActivation> flagged;                   // ratio >= threshold, all layers
    std::vector<double> layerMedian;                          // median |resid_post| per layer
    // Channels flagged in at least two consecutive layers at the same token:
    // the super activation carried by the residual stream.
    struct Persistent {
        std::int64_t token = 0;
        std::int64_t channel = 0;
        int firstLayer = 0;
        int lastLayer = 0;
    };
    std::vector<Persistent> persistent;
};

// Needs blocks.*.hook_resid_post recorded. The tokenizer (optional) marks delimiters.
// topPerLayer and flagged are ordered by |value| (descending) within a layer, layers ascending.
Result<MassiveActivationReport> findMassiveActivations(const ForwardResult& result, const Tokenizer* tokenizer,
                                                       const MassiveActivationOptions& options = {});

// The delimiter rule (Sun et al.: massive activations sit on the first token
// and on delimiters), used by the scan and by the views alike:
// a token text made only of ASCII punctuation, newlines and whitespace.
bool isDelimiterText(std::string_view text);
// A special token (BOS, EOS, ...) or a token whose text is a delimiter.
bool isDelimiterToken(const Tokenizer& tokenizer, TokenId id);

}  // namespace superlens::core
