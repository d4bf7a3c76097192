#pragma once
// A Hugging Face checkpoint folder, opened read-only: config.json plus
// model.safetensors or a sharded model.safetensors.index.json; or one GGUF
// file (llama.cpp), whose hyper-parameters come from its metadata and whose
// tensors are renamed to the Hugging Face names (docs/GGUF.md). Weights stay
// memory-mapped in their stored type (F32/F16/BF16, GGUF quantized blocks
// dequantized tile by tile); Model::open reads only headers and validates
// everything the forward pass will touch, so every command refuses a damaged
// checkpoint up front.
//
// Thread-safety: immutable after open; share it as shared_ptr<const Model>.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "superlens/core/model/dtype.h"
#include "superlens/core/model/gguf.h"
#include "superlens/core/model/model_config.h"
#include "superlens/core/model/safetensors.h"
#include "superlens/core/result.h"

namespace superlens::core {

// A zero-copy view of one checkpoint tensor. Row-major, shape as stored
// (Hugging Face Linear layout: [out_features, in_features]).
struct TensorView {
    const std::string* name = nullptr;
    DType dtype = DType::F32;          // F32/F16/BF16 storage (GGUF quantized tensors: see gguf)
    std::vector<std::int64_t> shape;
    const std::byte* data = nullptr;  // unaligned in general
    const SafetensorsFile* file = nullptr;  // safetensors checkpoints
    // GGUF checkpoints: the tensor as llama.cpp stored it. When `quantized`,
    // values come from dequantizing ggml blocks (dtype is meaningless); when
    // qkHeads > 0 its rows are permuted per head (llama.cpp's rotary layout)
    // and logical (Hugging Face) row r is stored at huggingFaceQkRowToGguf(r).
    const GgufTensor* gguf = nullptr;
    bool quantized = false;
    std::int64_t qkHeads = 0;
    // The stored row holding logical row r.
    std::int64_t storedRow(std::int64_t r) const { return qkHeads > 0 ? huggingFaceQkRowToGguf(r, rows(), qkHeads) : r; }
    // "F32", "BF16", "Q4_K", ...
    std::string_view storageName() const { return gguf ? ggmlTypeName(gguf->type) : dtypeName(dtype); }

    std::int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
    std::int64_t cols() const { return shape.size() < 2 ? (shape.empty() ? 1 : shape[0]) : shape[1]; }
    std::int64_t elementCount() const;
    // Element i (row-major) converted to float.
    float at(std::int64_t i) const;
};

// The weights a transformer block uses, by role; each family's name map
// (core/src/model/families.cpp) says which checkpoint tensor plays it.
// Matrices are described as Hugging Face Linear layers ([out, in]); a family
// whose checkpoints store them [in, out] (GPT-2's Conv1D) is marked so.
enum class LayerWeight {
    AttnNorm, AttnNormBias,          // norm before attention (input_layernorm, ln_1)
    MlpNorm, MlpNormBias,            // norm before the MLP (post_attention_layernorm in Llama, ln_2)
    AttnPostNorm, MlpPostNorm,       // Gemma's norms of the attention and MLP outputs
    QNorm, QNormBias, KNorm, KNormBias,
    Q, K, V, Qkv, QBias, KBias, VBias, QkvBias, O, OBias,
    Gate, Up, GateUp, UpBias, Down, DownBias,
    Router,                              // routed-experts layers: the router (mlp.gate, block_sparse_moe.gate) [E, d]
    SharedGate, SharedUp, SharedDown,    // the shared expert's gated MLP (Qwen2-MoE)
    SharedExpertGate,                    // its sigmoid gate [1, d]
    AttnScale, MlpScale,                 // DINOv2 layer scale (lambda1 of layer_scale1 / layer_scale2)
    Count
};
inline constexpr int kLayerWeightCount = static_cast<int>(LayerWeight::Count);
// One routed expert's gated MLP (w1/w3/w2 in Mixtral, gate/up/down_proj elsewhere).
enum class ExpertWeight { Gate, Up, Down, Count };
inline constexpr int kExpertWeightCount = static_cast<int>(ExpertWeight::Count);
// Encoders add: token-type embeddings, the embedding LayerNorm, and the MLM
// head's dense layer (its norm is FinalNorm, its decoder LmHead). Vision
// encoders: the patch projection (a conv [d, C, p, p], read as [d, C*p*p]),
// the CLS token and register tokens; EmbedNorm is CLIP's pre_layrnorm.
enum class ModelWeight {
    Embed, PosEmbed, FinalNorm, FinalNormBias, LmHead, LmHeadBias,
    TokenTypeEmbed, EmbedNorm, EmbedNormBias, HeadDense, HeadDenseBias,
    PatchEmbed, PatchEmbedBias, ClsToken, RegisterTokens,  // vision encoders
    Count
};
inline constexpr int kModelWeightCount = static_cast<int>(ModelWeight::Count);

// What a checkpoint tensor is to the forward pass.
struct TensorRole {
    int layer = -1;                   // -1: not a block weight
    LayerWeight layerWeight = LayerWeight::Count;
    ModelWeight modelWeight = ModelWeight::Count;
    int expert = -1;                  // >= 0: a routed expert's weight (expertWeight says which)
    ExpertWeight expertWeight = ExpertWeight::Count;
    bool matrix = false;              // a projection matrix (quantizable, LASER-able)
    bool storedTransposed = false;    // stored [in, out]: element [r, c] is input r, output c
};

class Model {
public:
    static Result<std::shared_ptr<const Model>> open(const std::filesystem::path& folder);

    const ModelConfig& config() const { return m_config; }
    const std::filesystem::path& folder() const { return m_folder; }

    // Any tensor of the checkpoint by its own name; nullptr when absent.
    const TensorView* tensor(const std::string& name) const;
    std::vector<std::string> tensorNames() const;

    // Checkpoint tensor name of a block weight ("" when the model has no such
    // tensor, e.g. Qkv for llama or AttnNorm for olmo).
    std::string layerWeightName(int layer, LayerWeight w) const;
    const TensorView* layerWeight(int layer, LayerWeight w) const;
    // Checkpoint tensor name of routed expert e's weight in layer ("" unless an expert layer).
    std::string expertWeightName(int layer, int expert, ExpertWeight w) const;
    // Name of a model-level weight ("" when absent; LmHead names the embedding when tied).
    std::string modelWeightName(ModelWeight w) const;
    // Token models only (a vision model has no vocabulary: see config().pixelInput).
    const TensorView& embedding() const { return *m_embedding; }
    const TensorView* finalNorm() const { return m_finalNorm; }  // nullptr for olmo
    const TensorView& lmHead() const { return *m_lmHead; }       // the embedding when tied

    // The role of a checkpoint tensor the forward pass uses; nullptr for
    // tensors it ignores (buffers, vision towers) and unknown names.
    const TensorRole* tensorRole(const std::string& name) const;
    int tensorLayer(const std::string& name) const;  // -1 unless a block weight
    // Glob matching every block tensor ("model.layers.*", "transformer.h.*").
    std::string layerTensorPattern() const;
    // The MLP's output projection, where super weights live (down_proj, c_proj,
    // fc_out, dense_4h_to_h, fc2), and which axis of it as stored is the output channel.
    // In a routed-experts layer there is no single down projection ("").
    std::string downProjectionName(int layer) const { return layerWeightName(layer, LayerWeight::Down); }
    int downOutputAxis() const { return m_config.conv1dWeights ? 1 : 0; }

    // GGUF checkpoints: the Hugging Face name of a llama.cpp tensor name
    // ("blk.2.ffn_down.weight" -> "model.layers.2.mlp.down_proj.weight"); any
    // other name is returned unchanged. ggufName is the reverse ("" if none).
    std::string canonicalTensorName(const std::string& name) const;
    std::string ggufName(const std::string& huggingFaceName) const;
    bool isGguf() const { return m_gguf != nullptr; }
    // The GGUF file itself (metadata, tokenizer arrays); nullptr for safetensors.
    const GgufFile* ggufFile() const { return m_gguf.get(); }
    // Parameters per storage type name ("BF16", "Q4_K", ...): what `info` reports.
    const std::map<std::string, std::int64_t>& parametersByStorage() const { return m_paramsByStorage; }

    const std::vector<std::filesystem::path>& weightFiles() const { return m_weightFiles; }
    std::uint64_t checkpointBytes() const { return m_checkpointBytes; }
    std::int64_t parameterCount() const { return m_parameterCount; }
    // Parameters per stored dtype, and the dtype holding most of them.
    const std::map<DType, std::int64_t>& parametersByDtype() const { return m_paramsByDtype; }
    DType dominantDtype() const;

    // Stable identity of this checkpoint without hashing gigabytes: config.json
    // text, every safetensors header and every weight file size.
    const std::string& fingerprint() const { return m_fingerprint; }

private:
    Model() = default;
    Status indexTensors();
    Status indexGguf(const std::filesystem::path& path);
    Status validateArchitecture();
    std::string weightName(std::string_view pattern, int layer, int expert = -1) const;

    std::string m_prefix;  // the family's name prefix found in this checkpoint ("transformer.", "" ...)
    std::map<std::string, TensorRole> m_roles;
    std::shared_ptr<const GgufFile> m_gguf;
    std::map<std::string, std::string> m_ggufToHf, m_hfToGguf;
    std::map<std::string, std::int64_t> m_paramsByStorage;

    std::filesystem::path m_folder;
    ModelConfig m_config;
    std::vector<std::shared_ptr<const SafetensorsFile>> m_files;
    std::vector<std::filesystem::path> m_weightFiles;
    std::map<std::string, TensorView> m_tensors;
    const TensorView* m_embedding = nullptr;
    const TensorView* m_finalNorm = nullptr;
    const TensorView* m_lmHead = nullptr;
    std::uint64_t m_checkpointBytes = 0;
    std::int64_t m_parameterCount = 0;
    std::map<DType, std::int64_t> m_paramsByDtype;
    std::string m_fingerprint;
};

}  // namespace superlens::core
