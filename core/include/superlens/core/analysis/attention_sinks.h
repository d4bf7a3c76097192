#pragma once
// Attention sinks per head: how much attention each head of each layer puts
// on the first token and on the other massive-activation carriers (Sun et
// al., 2024: the tokens holding massive activations concentrate attention;
// Gu et al., 2024 / Xiao et al., 2023: "attention sinks"), and which heads
// lose that sink when an edit removes the super activation.
//
// Mass of head h in layer l on a key set K: the mean over query positions
// q = 1 .. T-1 of sum_{k in K} pattern[h, q, k] (query 0 can only attend to
// itself and is left out; with one token, query 0 alone). Sums in float64
// over the recorded float32 probabilities (blocks.L.attn.hook_pattern).

#include <cstdint>
#include <vector>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/result.h"

namespace superlens::core {

struct AttentionSinkReport {
    int layers = 0;
    int heads = 0;
    std::int64_t tokens = 0;
    // The key positions counted as carriers: the first token, then the
    // tokens of massive activations, ascending, without repeats.
    std::vector<std::int64_t> carriers;
    // [layer][head]: mass on the first token, and on every carrier together.
    std::vector<std::vector<double>> firstTokenMass;
    std::vector<std::vector<double>> carrierMass;
};

// Needs blocks.*.attn.hook_pattern of every layer. `carrierTokens` are added
// to the first token (out-of-range positions are an error).
Result<AttentionSinkReport> attentionSinks(const ForwardResult& run, const std::vector<std::int64_t>& carrierTokens = {});

// The tokens of the flagged massive activations (any layer), ascending, unique.
std::vector<std::int64_t> massiveCarrierTokens(const MassiveActivationReport& report);

struct SinkChange {
    int layer = 0;
    int head = 0;
    double original = 0.0;  // mass before the edit
    double edited = 0.0;    // and after
};

struct SinkLossOptions {
    double sinkThreshold = 0.3;   // a head is a sink head when its mass is at least this (Gu et al.'s epsilon)
    double keptFraction = 0.5;    // it lost its sink when the edited mass is below this fraction of the original
};

// Heads that sink in the original run and lose it in the edited one, by the
// mass chosen (firstToken true: first token only; false: all carriers),
// largest drop first. Errors: the reports' shapes differ.
Result<std::vector<SinkChange>> lostSinks(const AttentionSinkReport& original, const AttentionSinkReport& edited, bool firstToken = true,
                                          const SinkLossOptions& options = {});

}  // namespace superlens::core
