// Opening a GGUF file as a Model: the hyper-parameters come from the GGUF
// metadata (written as the equivalent config.json, then read by the same
// family table as every checkpoint), and llama.cpp's tensor names map to the
// Hugging Face names through one table of roles. Differences in what
// llama.cpp's converters store are data in kGgufArchs, not code paths.

#include <cmath>

#include <nlohmann/json.hpp>

#include "families.h"
#include "superlens/core/model/model.h"

namespace superlens::core {
namespace {

using LW = LayerWeight;
using MW = ModelWeight;

// A metadata key ("{arch}." + gguf) and the config.json key it becomes.
struct KeyMap {
    std::string_view gguf;
    std::string_view hf;
    bool isFloat = false;
};

struct GgufArch {
    std::string_view arch;       // general.architecture
    std::string_view modelType;  // the Hugging Face model_type it is read as
    // llama.cpp's converter permuted attn_q/attn_k rows per head for ggml's
    // interleaved RoPE (LlamaModel and the models converted through it).
    bool permutedQk;
    // The converter stored Gemma's RMSNorm weights as (1 + w): read as plain RMSNorm.
    bool normsIncludeOne;
    std::vector<KeyMap> keys;
};

const std::vector<KeyMap> kLlamaKeys = {
    {"block_count", "num_hidden_layers"},
    {"embedding_length", "hidden_size"},
    {"feed_forward_length", "intermediate_size"},
    {"attention.head_count", "num_attention_heads"},
    {"attention.head_count_kv", "num_key_value_heads"},
    {"attention.key_length", "head_dim"},
    {"attention.layer_norm_rms_epsilon", "rms_norm_eps", true},
    {"rope.freq_base", "rope_theta", true},
    {"context_length", "max_position_embeddings"},
    {"attention.sliding_window", "sliding_window"},
};

std::vector<KeyMap> withKeys(std::vector<KeyMap> base, std::initializer_list<KeyMap> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
}

const GgufArch kGgufArchs[] = {
    {"llama", "llama", true, false, kLlamaKeys},
    {"qwen2", "qwen2", false, false, kLlamaKeys},
    {"qwen3", "qwen3", false, false, kLlamaKeys},
    {"phi3", "phi3", false, false, kLlamaKeys},
    {"gemma2", "gemma2", false, true,
     withKeys(kLlamaKeys, {{"attn_logit_softcapping", "attn_logit_softcapping", true}, {"final_logit_softcapping", "final_logit_softcapping", true}})},
    {"gemma3", "gemma3_text", false, true, kLlamaKeys},
    {"gpt2", "gpt2", false, false,
     {{"block_count", "n_layer"},
      {"embedding_length", "n_embd"},
      {"feed_forward_length", "n_inner"},
      {"attention.head_count", "n_head"},
      {"attention.layer_norm_epsilon", "layer_norm_epsilon", true},
      {"context_length", "n_positions"}}},
};

// llama.cpp's tensor names per role (llama-arch.cpp's LLM_TENSOR_NAMES), the
// same for every architecture: "{L}" is the block index.
struct GgufNames {
    std::array<std::string_view, kLayerWeightCount> layer{};
    std::array<std::string_view, kModelWeightCount> model{};
};

GgufNames ggufNames() {
    GgufNames n;
    auto L = [&](LW r, std::string_view s) { n.layer[static_cast<std::size_t>(r)] = s; };
    L(LW::AttnNorm, "blk.{L}.attn_norm.weight");
    L(LW::AttnNormBias, "blk.{L}.attn_norm.bias");
    L(LW::MlpNorm, "blk.{L}.ffn_norm.weight");
    L(LW::MlpNormBias, "blk.{L}.ffn_norm.bias");
    L(LW::AttnPostNorm, "blk.{L}.post_attention_norm.weight");
    L(LW::MlpPostNorm, "blk.{L}.post_ffw_norm.weight");
    L(LW::QNorm, "blk.{L}.attn_q_norm.weight");
    L(LW::KNorm, "blk.{L}.attn_k_norm.weight");
    L(LW::Q, "blk.{L}.attn_q.weight");
    L(LW::K, "blk.{L}.attn_k.weight");
    L(LW::V, "blk.{L}.attn_v.weight");
    L(LW::Qkv, "blk.{L}.attn_qkv.weight");
    L(LW::QBias, "blk.{L}.attn_q.bias");
    L(LW::KBias, "blk.{L}.attn_k.bias");
    L(LW::VBias, "blk.{L}.attn_v.bias");
    L(LW::QkvBias, "blk.{L}.attn_qkv.bias");
    L(LW::O, "blk.{L}.attn_output.weight");
    L(LW::OBias, "blk.{L}.attn_output.bias");
    L(LW::Gate, "blk.{L}.ffn_gate.weight");
    L(LW::Up, "blk.{L}.ffn_up.weight");
    L(LW::GateUp, "blk.{L}.ffn_up.weight");  // Phi-3: llama.cpp keeps gate_up fused under ffn_up
    L(LW::UpBias, "blk.{L}.ffn_up.bias");
    L(LW::Down, "blk.{L}.ffn_down.weight");
    L(LW::DownBias, "blk.{L}.ffn_down.bias");
    auto M = [&](MW r, std::string_view s) { n.model[static_cast<std::size_t>(r)] = s; };
    M(MW::Embed, "token_embd.weight");
    M(MW::PosEmbed, "position_embd.weight");
    M(MW::FinalNorm, "output_norm.weight");
    M(MW::FinalNormBias, "output_norm.bias");
    M(MW::LmHead, "output.weight");
    M(MW::LmHeadBias, "output.bias");
    return n;
}

std::string withLayer(std::string_view pattern, int layer) {
    std::string s(pattern);
    const auto at = s.find("{L}");
    if (at != std::string::npos) s.replace(at, 3, std::to_string(layer));
    return s;
}

std::string supportedGgufArchs() {
    std::string out;
    for (const GgufArch& a : kGgufArchs) out += (out.empty() ? "" : ", ") + std::string(a.arch);
    return out;
}

}  // namespace

Status Model::indexGguf(const std::filesystem::path& path) {
    auto file = GgufFile::open(path);
    if (!file) return file.error();
    m_gguf = *file;
    const GgufFile& g = *m_gguf;
    const std::string where = path.string() + ": ";
    auto archName = g.architecture();
    if (!archName) return archName.error();
    const GgufArch* arch = nullptr;
    for (const GgufArch& a : kGgufArchs) {
        if (a.arch == *archName) arch = &a;
    }
    if (!arch) return Error{where + "GGUF architecture '" + std::string(*archName) + "' is not supported (supported: " + supportedGgufArchs() + ")"};

    // The metadata as the config.json of the same model.
    nlohmann::json cfg = {{"model_type", arch->modelType}};
    const std::string prefix = std::string(arch->arch) + ".";
    for (const KeyMap& k : arch->keys) {
        const std::string key = prefix + std::string(k.gguf);
        // The shapes every architecture needs: named by their GGUF key when absent.
        const bool required = k.gguf == "block_count" || k.gguf == "embedding_length" || k.gguf == "feed_forward_length" ||
                              k.gguf == "attention.head_count";
        if (!g.has(key) && required) return Error{where + "missing metadata key '" + key + "'"};
        if (!g.has(key)) continue;
        if (k.isFloat) {
            auto v = g.getFloat(key);
            if (!v) return v.error();
            cfg[std::string(k.hf)] = *v;
        } else {
            auto v = g.getUInt(key);
            if (!v) return v.error();
            cfg[std::string(k.hf)] = *v;
        }
    }
    const GgufTensor* embed = g.findTensor("token_embd.weight");
    if (!embed || embed->ne.size() != 2) return Error{where + "no 2-D token_embd.weight tensor"};
    cfg["vocab_size"] = embed->ne[1];
    cfg["tie_word_embeddings"] = g.findTensor("output.weight") == nullptr;
    if (g.has(prefix + "rope.scaling.type")) {
        auto type = g.getString(prefix + "rope.scaling.type");
        if (!type) return type.error();
        if (*type != "none") {
            auto factor = g.getFloat(prefix + "rope.scaling.factor");
            if (!factor) return factor.error();
            cfg["rope_scaling"] = {{"rope_type", std::string(*type)}, {"factor", *factor}};
        }
    }
    if (g.has(prefix + "rope.dimension_count") && cfg.contains("hidden_size") && cfg.contains("num_attention_heads")) {
        // Partial rotary (Phi-3 variants): the fraction of the head that rotates.
        auto dims = g.getUInt(prefix + "rope.dimension_count");
        if (!dims) return dims.error();
        const double headDim = cfg.contains("head_dim") ? cfg["head_dim"].get<double>()
                                                        : cfg["hidden_size"].get<double>() / std::max(1.0, cfg["num_attention_heads"].get<double>());
        if (headDim > 0 && static_cast<double>(*dims) != headDim) cfg["partial_rotary_factor"] = static_cast<double>(*dims) / headDim;
    }
    if (arch->modelType == "qwen2" || arch->modelType == "qwen3") {
        if (cfg.contains("sliding_window")) cfg["use_sliding_window"] = false;  // llama.cpp runs Qwen without the window
    }
    auto config = ModelConfig::parse(cfg.dump(1), path.string() + " (metadata)");
    if (!config) return config.error();
    m_config = std::move(config).value();
    // What llama.cpp's converter changed on the way in.
    if (arch->normsIncludeOne) m_config.normKind = NormKind::RmsNorm;
    m_config.conv1dWeights = false;  // GPT-2's Conv1D weights were transposed to [out, in]
    // Llama 3.1: llama.cpp's converter turns rope_scaling type llama3 into
    // per-frequency divisors, tensor rope_freqs.weight (rotary dimension / 2
    // values), and writes no scaling key; the forward pass divides each
    // inverse frequency by its factor (globalInverseFrequencies, forward_pass.cpp).
    if (const GgufTensor* f = g.findTensor("rope_freqs.weight")) {
        const std::int64_t half = m_config.rotaryDim / 2;
        if (m_config.positions != PositionKind::Rotary || f->ne.size() != 1 || f->elementCount != half || !canDequantize(f->type)) {
            return Error{where + "rope_freqs.weight must hold rotary dimension / 2 = " + std::to_string(half) + " values of a decodable type"};
        }
        if (m_config.ropeScaling.type != RopeScalingType::None) return Error{where + "rope_freqs.weight beside a rope scaling type: they would apply twice"};
        std::vector<float> values(static_cast<std::size_t>(half));
        f->dequantizeRows(0, 1, values.data());
        for (float v : values) {
            if (!(std::isfinite(v) && v > 0)) return Error{where + "rope_freqs.weight holds " + std::to_string(v) + " (factors must be finite and > 0)"};
        }
    }
    m_prefix = std::string(findFamily(m_config.modelType)->names->prefixes.front());

    m_weightFiles.push_back(path);
    m_checkpointBytes = g.fileSize();

    // Every GGUF tensor under its Hugging Face name when it plays a role, else its own.
    auto view = [&](const GgufTensor& t) {
        TensorView v;
        v.shape = t.shape();
        v.data = t.data;
        v.gguf = &t;
        switch (t.type) {
            case GgmlType::F32: v.dtype = DType::F32; break;
            case GgmlType::F16: v.dtype = DType::F16; break;
            case GgmlType::BF16: v.dtype = DType::BF16; break;
            default: v.quantized = true; break;
        }
        return v;
    };
    auto place = [&](const std::string& hfName, const std::string& ggufName, std::int64_t qkHeads) {
        const GgufTensor* t = g.findTensor(ggufName);
        if (!t || hfName.empty()) return;
        TensorView v = view(*t);
        v.qkHeads = qkHeads;
        auto [it, inserted] = m_tensors.emplace(hfName, std::move(v));
        it->second.name = &it->first;
        m_ggufToHf[ggufName] = hfName;
        m_hfToGguf[hfName] = ggufName;
    };
    static const GgufNames names = ggufNames();
    const ModelConfig& c = m_config;
    for (int l = 0; l < c.numLayers; ++l) {
        for (int i = 0; i < kLayerWeightCount; ++i) {
            const auto w = static_cast<LayerWeight>(i);
            if (names.layer[static_cast<std::size_t>(i)].empty()) continue;
            std::int64_t heads = 0;
            if (arch->permutedQk && w == LW::Q) heads = c.numHeads;
            if (arch->permutedQk && w == LW::K) heads = c.numKvHeads;
            place(layerWeightName(l, w), withLayer(names.layer[static_cast<std::size_t>(i)], l), heads);
        }
    }
    for (int i = 0; i < kModelWeightCount; ++i) {
        const auto w = static_cast<ModelWeight>(i);
        if (w == MW::LmHead && c.tieWordEmbeddings) continue;
        place(modelWeightName(w), std::string(names.model[static_cast<std::size_t>(i)]), 0);
    }
    for (const GgufTensor& t : g.tensors()) {
        if (m_ggufToHf.count(t.name)) continue;
        auto [it, inserted] = m_tensors.emplace(t.name, view(t));
        if (inserted) it->second.name = &it->first;
    }
    return {};
}

}  // namespace superlens::core
