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

// Every model_type SuperLens reads, comma-separated (docs: README "What it reads").
std::string supportedArchitectureList();

// Resizing of a vision model's position-embedding grid (ModelConfig::posInterpolation).
enum class PosInterpolation { Bicubic, BicubicAntialias };

enum class RopeScalingType { None, Linear, Llama3 };

struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;
    double lowFreqFactor = 1.0;           // llama3
    double highFreqFactor = 4.0;          // llama3
    double originalMaxPositions = 8192;   // llama3
};

// How a family's transformer block computes: data read by the forward pass,
// set per model_type by the family table (core/src/model/families.cpp).
enum class NormKind {
    RmsNorm,                 // x / sqrt(mean(x^2) + eps) * w
    RmsNormUnitOffset,       // Gemma: x / sqrt(mean(x^2) + eps) * (1 + w)
    LayerNorm,               // (x - mean) / sqrt(var + eps) * w + b (GPT-2, GPT-J, NeoX, Phi)
    NonParametricLayerNorm,  // OLMo: (x - mean) / sqrt(var + 1e-5), no weight or bias
};
enum class BlockLayout {
    Sequential,  // x += attn(norm1(x)); x += mlp(norm2(x))
    Parallel,    // x += attn(norm1(x)) + mlp(norm2(x)) (GPT-J, Phi-2: norm2 = norm1; NeoX: its own)
};
enum class PositionKind { Rotary, Learned };
enum class RotaryStyle {
    RotateHalf,   // pairs (i, i + rotary/2): Llama, NeoX, Phi
    Interleaved,  // pairs (2i, 2i + 1): GPT-J
};
enum class MlpKind {
    Gated,  // down(act(gate(x)) * up(x))
    Plain,  // down(act(up(x) + b) ) + b
};
enum class Activation { Silu, Gelu, GeluTanh, QuickGelu };

// Mixture-of-experts MLP ("routed experts"; Mixtral, Qwen2-MoE, Qwen3-MoE,
// OLMoE): a router (nn.Linear d -> E) scores every expert; softmax over the E
// router logits (in fp32 or wider), the top-k probabilities pick k experts
// (torch.topk order: descending), optionally renormalised to sum to 1; the
// block output is the routing-weighted sum of the k selected experts' gated
// MLPs, plus an optional shared expert (Qwen2-MoE: scaled by sigmoid of its
// own 1-output gate). Only the selected experts are computed.
struct ExpertsRecipe {
    int count = 0;                  // E (0: the model has no routed experts)
    int topK = 0;                   // k experts per token
    int intermediate = 0;           // each expert's intermediate size
    bool renormalize = false;       // norm_topk_prob (Mixtral: always)
    int sharedIntermediate = 0;     // shared expert's intermediate size (0: none)
    bool sharedGate = false;        // sigmoid(shared_expert_gate(x)) scales the shared expert
    std::vector<char> denseLayers;  // per layer: 1 = a plain gated MLP instead (Qwen2-MoE mlp_only_layers, decoder_sparse_step)
};
enum class QkvLayout {
    Separate,      // q_proj, k_proj, v_proj
    Fused,         // one [q | k | v] projection (Phi-3 qkv_proj, GPT-2 c_attn)
    FusedPerHead,  // GPT-NeoX query_key_value: per head [q_h | k_h | v_h]
};

std::string_view activationName(Activation a);  // "silu", "gelu", "gelu_tanh", "quick_gelu"

// Largest values config.json may give (checked before any size is used, so no
// dimension can wrap around an int or make a later product overflow; today's
// largest models are far below: hidden 16384, 126 layers, vocab 256000).
inline constexpr std::int64_t kMaxHiddenSize = std::int64_t{1} << 17;         // 131072
inline constexpr std::int64_t kMaxIntermediateSize = std::int64_t{1} << 20;   // 1048576
inline constexpr std::int64_t kMaxLayers = 1024;
inline constexpr std::int64_t kMaxExperts = 4096;                             // routed experts per layer (Qwen3-MoE: 128)
inline constexpr std::int64_t kMaxHeads = 1024;                               // attention and key/value heads
inline constexpr std::int64_t kMaxHeadDim = 4096;
inline constexpr std::int64_t kMaxVocabSize = std::int64_t{1} << 24;          // 16777216
inline constexpr std::int64_t kMaxPositions = std::int64_t{1} << 24;          // max_position_embeddings, windows

struct ModelConfig {
    std::string modelType;     // as written in config.json (the outer one for wrapped text towers)
    std::string familyName;    // the family's display name ("GPT-2", "Gemma 2", ...)
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
    bool tieWordEmbeddings = false;

    // The block recipe (see the enums above; docs/DEVELOPERS.md has the table).
    NormKind normKind = NormKind::RmsNorm;
    BlockLayout layout = BlockLayout::Sequential;
    bool sharedParallelNorm = false;   // parallel blocks: the MLP reads the attention's norm output
    bool sandwichNorms = false;        // Gemma: extra norms on the attention and MLP outputs
    PositionKind positions = PositionKind::Rotary;
    RotaryStyle rotaryStyle = RotaryStyle::RotateHalf;
    int rotaryDim = 0;                 // leading dims of each head that rotate (headDim = full)
    double ropeLocalTheta = 0;         // > 0: sliding layers use this base, unscaled (Gemma 3)
    QkvLayout qkvLayout = QkvLayout::Separate;
    bool qkNorm = false;               // Qwen3, Gemma 3 (and Phi qk_layernorm): per-head norm of q and k
    bool qkNormWhole = false;          // OLMoE: the norm spans the whole q (k) projection, not each head
    bool qkvBias = false;              // q/k/v (or fused qkv) projections have biases
    bool oBias = false;
    bool fusedGateUp = false;          // phi3: mlp.gate_up_proj
    MlpKind mlpKind = MlpKind::Gated;
    Activation activation = Activation::Silu;
    // Hugging Face computes the activation as a chain of tensor ops (gelu_new's
    // NewGELUActivation), so a bf16/fp16 run rounds after each op (precision emulation).
    bool activationOpByOp = false;
    bool mlpBias = false;              // plain MLPs: up and down biases
    bool lmHeadBias = false;
    bool conv1dWeights = false;        // GPT-2: projection weights stored [in, out]
    double embeddingScale = 1.0;       // Gemma: sqrt(hidden)
    double attentionScale = 0;         // query scaling (1/sqrt(headDim) unless the family says otherwise)
    bool scaleByInverseLayer = false;  // GPT-2 scale_attn_by_inverse_layer_idx: scores / (layer + 1)
    std::optional<double> attnSoftcap;   // Gemma 2: scores = cap * tanh(scores / cap)
    std::optional<double> finalSoftcap;  // Gemma 2: logits likewise
    std::optional<int> slidingWindow;    // window of the sliding layers
    std::vector<char> slidingLayers;     // per layer: 1 = sliding-window attention (empty = every layer when slidingWindow)
    std::optional<double> clipQkv;       // olmo
    ExpertsRecipe experts;               // routed experts (experts.count > 0)

    // Encoders (BERT, RoBERTa): docs/DEVELOPERS.md "Encoders".
    bool causal = true;                  // false: every query sees every key (bidirectional attention)
    bool postNorm = false;               // post-LN block: x = norm1(x + attn(x)); x = norm2(x + mlp(x))
    // Learned position ids: nullopt = 0, 1, 2, ...; RoBERTa (padding_idx p):
    // p + (number of non-padding tokens up to and including this one), and p for padding tokens.
    std::optional<std::int64_t> paddingIdx;
    std::int64_t typeVocabSize = 0;      // > 0: token_type_embeddings row 0 is added to every token
    bool embeddingNorm = false;          // LayerNorm of (word + position + token type) embeddings
    bool headTransform = false;          // MLM head: dense + headActivation + norm (FinalNorm) before the decoder
    Activation headActivation = Activation::Gelu;

    // Vision encoders (ViT, DINOv2, CLIP's vision tower): the input is an
    // image, cut into patchSize x patchSize patches (a conv as a matmul); the
    // tokens are [CLS, registers..., patches row-major]; no vocabulary, no LM
    // head (vocabSize 0): the output is the final norm's hidden states.
    bool pixelInput = false;
    int imageSize = 0;                   // the side the position embeddings were trained for
    int patchSize = 0;
    int numChannels = 0;
    int numRegisters = 0;                // DINOv2 with registers
    bool patchBias = false;              // the patch projection has a bias (not CLIP's)
    bool layerScale = false;             // DINOv2: attention and MLP outputs x lambda (per channel)
    bool posEmbedBatchDim = false;       // position embeddings stored [1, N + 1, d] (ViT, DINOv2) or [N + 1, d] (CLIP)
    bool clsTokenBatchDim = false;       // CLS stored [1, 1, d] (ViT, DINOv2) or [d] (CLIP class_embedding)
    // Images whose patch grid differs from the trained one get their position
    // embeddings interpolated as Hugging Face's interpolate_pos_encoding:
    // torch bicubic (ViT, DINOv2, CLIP) or its antialiased form (DINOv2 with registers).
    PosInterpolation posInterpolation = PosInterpolation::Bicubic;
    // Patches along one side at the trained size, and tokens for an image of
    // h x w pixels (CLS + registers + patches).
    std::int64_t trainedPatchesPerSide() const { return patchSize > 0 ? imageSize / patchSize : 0; }
    std::int64_t imageTokenCount(std::int64_t h, std::int64_t w) const {
        return 1 + numRegisters + (h / patchSize) * (w / patchSize);
    }

    std::optional<std::int64_t> bosTokenId;  // informative only: prompts take BOS from the tokenizer
    std::optional<std::int64_t> eosTokenId;
    std::string torchDtype;
    std::string rawJson;  // the file's exact text (stored in caches and fingerprints)

    // Attention window of one layer (nullopt = full causal attention).
    std::optional<int> windowOfLayer(int layer) const {
        if (!slidingWindow) return std::nullopt;
        if (slidingLayers.empty()) return slidingWindow;
        return slidingLayers[static_cast<std::size_t>(layer)] ? slidingWindow : std::nullopt;
    }
    bool hasResidMid() const { return layout == BlockLayout::Sequential; }
    // Whether layer's MLP is the routed-experts block (else the dense MLP of mlpKind).
    bool isExpertLayer(int layer) const {
        if (experts.count <= 0) return false;
        return experts.denseLayers.empty() || !experts.denseLayers[static_cast<std::size_t>(layer)];
    }
    bool hasExperts() const { return experts.count > 0; }
    // The largest learned position id a run of n tokens can use, plus one
    // (RoBERTa's ids start at padding_idx + 1).
    std::int64_t positionsNeeded(std::int64_t n) const { return n + (paddingIdx ? *paddingIdx + 1 : 0); }
    // One line naming the block recipe ("sequential, RMSNorm, rotary 64/64 rotate-half, gated MLP silu").
    std::string blockSummary() const;

    static Result<ModelConfig> parse(const std::string& jsonText, const std::string& fileName);
    static Result<ModelConfig> load(const std::filesystem::path& configJson);
};

}  // namespace superlens::core
