#pragma once
// config.json of a Hugging Face checkpoint, normalised across the supported
// architectures (defaults as the Hugging Face classes apply them).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

enum class Architecture { Llama, Mistral, Qwen2, Olmo, Phi3 };

std::string_view architectureName(Architecture a);  // the config's model_type
// "llama, mistral, qwen2, olmo, phi3"
std::string supportedArchitectureList();

enum class RopeScalingType { None, Linear, Llama3 };

struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;
    double lowFreqFactor = 1.0;           // llama3
    double highFreqFactor = 4.0;          // llama3
    double originalMaxPositions = 8192;   // llama3
};

enum class NormKind {
    RmsNorm,             // x / sqrt(mean(x^2) + eps) * weight
    NonParametricLayerNorm,  // OLMo: (x - mean) / sqrt(var + 1e-5), no weight or bias
};

// Largest values config.json may give (checked before any size is used, so no
// dimension can wrap around an int or make a later product overflow; today's
// largest models are far below: hidden 16384, 126 layers, vocab 256000).
inline constexpr std::int64_t kMaxHiddenSize = std::int64_t{1} << 17;         // 131072
inline constexpr std::int64_t kMaxIntermediateSize = std::int64_t{1} << 20;   // 1048576
inline constexpr std::int64_t kMaxLayers = 1024;
inline constexpr std::int64_t kMaxHeads = 1024;                               // attention and key/value heads
inline constexpr std::int64_t kMaxHeadDim = 4096;
inline constexpr std::int64_t kMaxVocabSize = std::int64_t{1} << 24;          // 16777216
inline constexpr std::int64_t kMaxPositions = std::int64_t{1} << 24;          // max_position_embeddings, windows

struct ModelConfig {
    Architecture architecture = Architecture::Llama;
    std::string modelType;     // as written in config.json
    std::string nameOrPath;    // _name_or_path when present (used to recognise published models)
    int hiddenSize = 0;        // d
    int intermediateSize = 0;  // f
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;
    int headDim = 0;
    std::int64_t vocabSize = 0;
    std::int64_t maxPositionEmbeddings = 0;
    double normEps = 1e-6;
    double ropeTheta = 10000.0;
    RopeScaling ropeScaling;
    NormKind normKind = NormKind::RmsNorm;
    bool tieWordEmbeddings = false;
    bool qkvBias = false;              // qwen2: q/k/v projections have biases
    bool oBias = false;
    std::optional<int> slidingWindow;  // mistral (and qwen2 when use_sliding_window)
    std::optional<double> clipQkv;     // olmo
    bool fusedQkv = false;             // phi3: self_attn.qkv_proj
    bool fusedGateUp = false;          // phi3: mlp.gate_up_proj
    std::optional<std::int64_t> bosTokenId;  // informative only: prompts take BOS from the tokenizer
    std::optional<std::int64_t> eosTokenId;
    std::string torchDtype;
    std::string rawJson;  // the file's exact text (stored in caches and fingerprints)

    static Result<ModelConfig> parse(const std::string& jsonText, const std::string& fileName);
    static Result<ModelConfig> load(const std::filesystem::path& configJson);
};

}  // namespace superlens::core
