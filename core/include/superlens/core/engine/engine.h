#pragma once
// The instrumented forward engine: an exact Hugging Face forward pass
// (llama, mistral, qwen2, olmo, phi3) with hook points that record or change
// activations, an in-memory weight-edit overlay, incremental recompute and
// KV-cached generation.
//
// Thread-safety: one Engine may be shared; run()/generate() serialise on an
// internal mutex (a GUI cancels the running request before starting a new one).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/engine/activation.h"
#include "superlens/core/engine/compute_dtype.h"
#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/engine/hooks.h"
#include "superlens/core/engine/weight_matrix.h"
#include "superlens/core/model/model.h"
#include "superlens/core/model/npy.h"
#include "superlens/core/result.h"
#include "superlens/core/run_control.h"

namespace superlens::core {

using TokenId = std::int32_t;

enum class Precision { Float32, Float64 };

struct EngineOptions {
    Precision precision = Precision::Float32;
    ComputeDtype compute = ComputeDtype::Float32;
    // Memory kept for edited weight matrices (dense copies, factors, codes)
    // so toggling an edit back on is instant; least recently used evicted.
    std::size_t editCacheBytes = std::size_t{2} << 30;
};

struct ForwardResult;

// Receives each recorded hook as soon as the forward pass has computed it
// (ggml's eval-callback idea). With ForwardRequest::sink set, the result does
// not keep the recorded hooks, so a run's memory does not grow with the
// number of hooks recorded (`capture` writes each one to HDF5 as it comes).
class HookSink {
public:
    virtual ~HookSink() = default;
    // Called on the thread that called Engine::run, in execution order
    // (HookPoint's order: embedding, block 0, ..., final norm), with the value
    // after the run's activation edits. An error stops the run and becomes
    // its error.
    virtual Result<void> consume(HookPoint point, const ActivationTensor& values) = 0;
};

struct ForwardRequest {
    std::vector<TokenId> tokens;
    // Vision models (config().pixelInput) read an image instead of tokens:
    // [C, H, W] pixel_values as the checkpoint's image processor makes them;
    // the tokens are then [CLS, registers..., patches row-major] and `tokens` stays empty.
    std::shared_ptr<const PixelTensor> pixels;
    // Edits in application order; rtn/actq keep_super lists must be resolved.
    std::vector<EditSpec> edits;
    HookSelection record;
    bool allPositionLogits = false;
    // A previous result for the same tokens: blocks before the first block an
    // edit change touches are reused (bit-identical to a full recompute).
    std::shared_ptr<const ForwardResult> previous;
    // Streams the recorded hooks instead of keeping them in the result.
    HookSink* sink = nullptr;
};

// Positions a run of `tokens`, or for vision models of `pixels` (CLS,
// registers and patches), has: the one rule the engine, the cache and every
// front end count them by.
std::int64_t inputPositions(const ModelConfig& config, const std::vector<TokenId>& tokens, const PixelTensor* pixels);

struct ForwardResult {
    std::vector<TokenId> tokens;
    std::shared_ptr<const PixelTensor> pixels;  // vision models: the image that ran
    std::vector<EditSpec> edits;
    Precision precision = Precision::Float32;
    ComputeDtype compute = ComputeDtype::Float32;
    bool allPositionLogits = false;
    ActivationTensor logits;  // [T, V], or [1, V] for the last position only; empty for vision models
    // Positions of the run (tokens, or the image's CLS + registers + patches).
    std::int64_t positions = 0;
    // Vision runs: register tokens and patch grid width (imageTokenAt names each position).
    int registers = 0;
    std::int64_t patchGridWidth = 0;
    std::map<HookPoint, ActivationPtr> activations;
    // First stage computed in this run: 0 = embedding, 1 + l = block l,
    // layers + 1 = final norm and head only.
    int recomputedFromStage = 0;
    double seconds = 0.0;

    const ActivationTensor* activation(HookPoint p) const;
    const ActivationTensor* activation(const std::string& hookName) const;
    // Last-position logits as a vector.
    std::vector<float> lastLogits() const;

    // Internals used for incremental recompute.
    std::shared_ptr<const void> checkpoints;  // residual entering each block
    std::vector<std::string> stageKeys;
    std::vector<std::string> recordPatterns;
};

struct GenerateRequest {
    std::vector<TokenId> prompt;
    std::vector<EditSpec> edits;
    int maxNewTokens = 32;
    bool greedy = true;
    double temperature = 1.0;
    int topK = 0;        // 0 = no top-k filter
    double topP = 1.0;   // nucleus sampling
    std::uint64_t seed = 0;
    std::optional<TokenId> stopToken;  // usually the tokenizer's EOS
};

struct GenerateResult {
    std::vector<TokenId> tokens;  // new tokens only
    double promptSeconds = 0.0;
    double decodeSeconds = 0.0;
};

class Engine {
public:
    explicit Engine(std::shared_ptr<const Model> model, EngineOptions options = {});
    ~Engine();

    const Model& model() const { return *m_model; }
    std::shared_ptr<const Model> modelPtr() const { return m_model; }
    const EngineOptions& options() const { return m_options; }

    // Validates tokens and edits, then runs. Errors: token id out of range,
    // invalid edits, unresolved keep_super, "cancelled".
    Result<std::shared_ptr<const ForwardResult>> run(const ForwardRequest& request,
                                                     const RunControl& control = RunControl::none());

    Result<GenerateResult> generate(const GenerateRequest& request, const RunControl& control = RunControl::none());

    // The model's own final norm and unembedding (lm_head, its bias, final
    // logit soft-capping) applied to residual rows [n, d] under `edits`, with
    // the same code the forward pass ends with: rows equal to a run's final
    // residual give that run's logits bit for bit (float32 engines). Row i is
    // treated as position i for activation edits of ln_final.hook_normalized.
    // The logit lens (analysis/logit_lens.h) is built on it.
    // Errors: a tensor that is not [n, hidden], invalid edits.
    Result<ActivationTensor> unembed(const ActivationTensor& residual, const std::vector<EditSpec>& edits,
                                     const RunControl& control = RunControl::none());

    // The matrix a tensor has under the given edits (the stored one when unedited).
    Result<WeightPtr> effectiveWeight(const std::string& tensorName, const std::vector<EditSpec>& edits);
    WeightPtr storedWeight(const std::string& tensorName) const;

    // Bytes currently held by edited weights (for memory reports).
    std::size_t editCacheBytes() const;

    struct Impl;

private:
    std::shared_ptr<const Model> m_model;
    EngineOptions m_options;
    std::unique_ptr<Impl> m_impl;
    mutable std::mutex m_runMutex;
};

}  // namespace superlens::core
