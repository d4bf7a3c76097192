#pragma once
// The logit lens (nostalgebraist 2020): the model's own final norm and
// unembedding applied to the residual stream after every block, read as a
// next-token distribution. Layer L's distribution at position P is
// softmax(unembed(final_norm(blocks.L.hook_resid_post[P]))); layer -1 reads
// the embeddings (blocks.0.hook_resid_pre: token plus learned position
// embeddings, Gemma's scaled embeddings). The last layer's distribution is
// the model's own output distribution (bit for bit on a float32 engine).
//
// Probabilities and entropies are computed in float64 from the float32 logits
// (max subtracted). Thread-safety: synchronous; the engine serialises its
// unembedding calls. One Engine::unembed call per layer (T rows each).

#include <cstdint>
#include <vector>

#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/hooks.h"
#include "superlens/core/result.h"
#include "superlens/core/run_control.h"

namespace superlens::core {

struct LensToken {
    TokenId id = 0;
    double prob = 0.0;
};

struct LensLayer {
    int layer = -1;               // -1 = embeddings, 0 .. L-1 = after block L
    std::vector<LensToken> top;   // the topK most probable tokens, most probable first (ties: lower id first)
    double entropy = 0.0;         // nats
    int finalRank = 0;            // rank of the model's final prediction at this layer (0 = top-1)
    double finalProb = 0.0;       // its probability at this layer
};

struct LogitLensResult {
    std::int64_t position = 0;    // the position the layer rows describe
    int topK = 0;                 // as asked (rows hold min(topK, vocabulary) tokens)
    TokenId finalToken = 0;       // the model's own top-1 at `position` (the last layer's top-1)
    std::vector<LensLayer> layers;  // L + 1 rows: layer -1, 0, ..., L-1
    // Heatmap over every position: [L + 1][T], row 0 = layer -1.
    std::vector<std::vector<double>> top1Prob;
    std::vector<std::vector<TokenId>> top1Id;
    // With LogitLensOptions::allPositions: the rows of every position ([T][L + 1])
    // and each position's final prediction; empty otherwise.
    std::vector<std::vector<LensLayer>> perPosition;
    std::vector<TokenId> finalTokens;

    // Row of a layer (-1 .. L-1) or nullptr.
    const LensLayer* layer(int l) const;
};

struct LogitLensOptions {
    std::int64_t position = -1;  // -1 = the last position
    int topK = 10;
    bool allPositions = false;  // also fill perPosition / finalTokens (the GUI's position picker)
};

// The hooks a run must record for the lens.
HookSelection logitLensHooks();

// The lens of `run` (recorded with logitLensHooks(), under run.edits, which
// also apply to the final norm and unembedding). `previous` with its run, when
// given, is a lens of a run of the same tokens: layers whose residual tensor
// is shared with it (the engine's incremental recompute shares unchanged
// blocks) and whose head is unchanged are copied instead of recomputed.
// Errors: a residual hook not recorded, position out of range, topK < 1,
// engine errors, "cancelled".
Result<LogitLensResult> logitLens(Engine& engine, const ForwardResult& run, const LogitLensOptions& options = {},
                                  const RunControl& control = RunControl::none(), const LogitLensResult* previous = nullptr,
                                  const ForwardResult* previousRun = nullptr);

}  // namespace superlens::core
