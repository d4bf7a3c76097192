// The family table. Each entry: how config.json maps onto the block recipe
// (defaults as the Hugging Face configuration classes apply them) and the
// checkpoint's tensor names per role. Kernels never look at model_type.

#include "families.h"

#include <cmath>

namespace superlens::core {
namespace {

using LW = LayerWeight;
using MW = ModelWeight;

// ---------------------------------------------------------------- config

// The config.json keys of the shared dimensions, per family, and the values
// Hugging Face's configuration class uses when a key is absent (0: required).
struct DimKeys {
    const char* hidden = "hidden_size";
    const char* inter = "intermediate_size";
    const char* layers = "num_hidden_layers";
    const char* heads = "num_attention_heads";
    const char* kvHeads = "num_key_value_heads";  // nullptr: always = heads
    const char* headDim = "head_dim";             // nullptr: always hidden / heads
    const char* positions = "max_position_embeddings";
    const char* eps = "rms_norm_eps";
    const char* vocab = "vocab_size";
    std::int64_t hiddenDefault = 0, interDefault = 0, layersDefault = 0, headsDefault = 0, kvHeadsDefault = 0, headDimDefault = 0,
                 vocabDefault = 0;
    std::int64_t positionsDefault = 2048;
    double epsDefault = 1e-6;
    int interTimesHidden = 0;  // > 0: a null/absent intermediate size is this many times hidden (GPT-2's n_inner)
};

Result<std::int64_t> dim(const ConfigReader& r, const char* key, std::int64_t fallback, std::int64_t maxValue) {
    if (fallback > 0) return r.optionalInt(key, fallback, maxValue);
    return r.requiredInt(key, maxValue);
}

Status readDims(const ConfigReader& r, ModelConfig& c, const DimKeys& k) {
    auto hidden = dim(r, k.hidden, k.hiddenDefault, kMaxHiddenSize);
    if (!hidden) return hidden.error();
    auto inter = (k.interTimesHidden > 0 && !r.has(k.inter)) ? Result<std::int64_t>(*hidden * k.interTimesHidden)
                                                             : dim(r, k.inter, k.interDefault, kMaxIntermediateSize);
    auto layers = dim(r, k.layers, k.layersDefault, kMaxLayers);
    auto heads = dim(r, k.heads, k.headsDefault, kMaxHeads);
    auto vocab = dim(r, k.vocab, k.vocabDefault, kMaxVocabSize);
    for (auto* v : {&inter, &layers, &heads, &vocab}) if (!*v) return v->error();
    if (*inter > kMaxIntermediateSize) return Error{r.where + "intermediate size " + std::to_string(*inter) + " is too large"};
    c.hiddenSize = static_cast<int>(*hidden);
    c.intermediateSize = static_cast<int>(*inter);
    c.numLayers = static_cast<int>(*layers);
    c.numHeads = static_cast<int>(*heads);
    c.vocabSize = *vocab;
    c.numKvHeads = c.numHeads;
    if (k.kvHeads) {
        auto kv = r.optionalInt(k.kvHeads, k.kvHeadsDefault > 0 ? k.kvHeadsDefault : c.numHeads, kMaxHeads);
        if (!kv) return kv.error();
        c.numKvHeads = static_cast<int>(*kv);
    }
    const bool explicitHeadDim = k.headDim && (r.has(k.headDim) || k.headDimDefault > 0);
    if (!explicitHeadDim && c.hiddenSize % c.numHeads != 0) {
        return Error{r.where + "hidden size (" + std::to_string(c.hiddenSize) + ") is not a multiple of the number of attention heads (" +
                     std::to_string(c.numHeads) + ")"};
    }
    if (explicitHeadDim) {
        auto hd = r.optionalInt(k.headDim, k.headDimDefault, kMaxHeadDim);
        if (!hd) return hd.error();
        c.headDim = static_cast<int>(*hd);
    } else {
        c.headDim = c.hiddenSize / c.numHeads;
        if (c.headDim > kMaxHeadDim) return Error{r.where + "head dimension " + std::to_string(c.headDim) + " is too large"};
    }
    auto maxPos = r.optionalInt(k.positions, k.positionsDefault, kMaxPositions);
    if (!maxPos) return maxPos.error();
    c.maxPositionEmbeddings = *maxPos;
    auto eps = r.optionalNumber(k.eps, k.epsDefault);
    if (!eps) return eps.error();
    c.normEps = *eps;
    c.rotaryDim = c.headDim;
    return {};
}

Result<Activation> activationFrom(const ConfigReader& r, const char* key, const std::string& name) {
    if (name == "silu" || name == "swish") return Activation::Silu;
    if (name == "gelu" || name == "gelu_python") return Activation::Gelu;
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GeluTanh;
    if (name == "quick_gelu") return Activation::QuickGelu;
    return Error{r.where + "unsupported " + key + " '" + name + "' (supported: silu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu)"};
}

Status readActivation(const ConfigReader& r, ModelConfig& c, const char* key, const char* fallback) {
    std::string name = r.optionalString(key);
    if (name.empty()) name = fallback;
    auto a = activationFrom(r, key, name);
    if (!a) return a.error();
    c.activation = *a;
    c.activationOpByOp = name == "gelu_new";
    return {};
}

Status readRope(const ConfigReader& r, ModelConfig& c, const char* thetaKey, double thetaDefault) {
    auto theta = r.optionalNumber(thetaKey, thetaDefault);
    if (!theta) return theta.error();
    c.ropeTheta = *theta;
    auto rs = parseRopeScaling(r.j, r.where);
    if (!rs) return rs.error();
    c.ropeScaling = *rs;
    return {};
}

Status readTie(const ConfigReader& r, ModelConfig& c, bool fallback) {
    auto tie = r.optionalBool("tie_word_embeddings", fallback);
    if (!tie) return tie.error();
    c.tieWordEmbeddings = *tie;
    return {};
}

// Rotary over the leading `fraction` of each head (NeoX rotary_pct, Phi partial_rotary_factor).
Status readRotaryFraction(const ConfigReader& r, ModelConfig& c, const char* key, double fallback) {
    auto f = r.optionalNumber(key, fallback);
    if (!f) return f.error();
    if (!(*f > 0 && *f <= 1)) return Error{r.where + "field '" + std::string(key) + "' must be in (0, 1]"};
    c.rotaryDim = static_cast<int>(c.headDim * *f);  // Hugging Face truncates the same way
    return {};
}

// sliding_window (null or 0 = none) and, when present, layer_types.
Status readSlidingWindow(const ConfigReader& r, ModelConfig& c, std::int64_t fallback = 0) {
    auto sw = r.optionalInt("sliding_window", fallback, kMaxPositions, 0);
    if (!sw) return sw.error();
    if (*sw > 0) c.slidingWindow = static_cast<int>(*sw);
    return {};
}

Status readLayerTypes(const ConfigReader& r, ModelConfig& c) {
    if (!r.has("layer_types")) return {};
    const auto& lt = r.j["layer_types"];
    if (!lt.is_array()) return Error{r.where + "field 'layer_types' must be a list"};
    if (static_cast<int>(lt.size()) != c.numLayers) {
        return Error{r.where + "layer_types has " + std::to_string(lt.size()) + " entries for " + std::to_string(c.numLayers) + " layers"};
    }
    c.slidingLayers.assign(static_cast<std::size_t>(c.numLayers), 0);
    for (std::size_t i = 0; i < lt.size(); ++i) {
        const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : std::string();
        if (t == "sliding_attention") c.slidingLayers[i] = 1;
        else if (t != "full_attention") {
            return Error{r.where + "layer_types[" + std::to_string(i) + "] '" + t + "' is not supported (sliding_attention, full_attention)"};
        }
    }
    return {};
}

// The Llama core shared by llama, mistral, qwen2, qwen3, olmo and phi3.
Status llamaCore(const ConfigReader& r, ModelConfig& c, DimKeys keys = {}) {
    SL_TRY(readDims(r, c, keys));
    SL_TRY(readRope(r, c, "rope_theta", 10000.0));
    SL_TRY(readTie(r, c, false));
    SL_TRY(readActivation(r, c, "hidden_act", "silu"));
    auto attnBias = r.optionalBool("attention_bias", false);
    if (!attnBias) return attnBias.error();
    auto mlpBias = r.optionalBool("mlp_bias", false);
    if (!mlpBias) return mlpBias.error();
    if (*mlpBias) return Error{r.where + "mlp_bias=true is not supported for gated MLPs"};
    c.qkvBias = *attnBias;
    c.oBias = *attnBias;
    return {};
}

Status configureLlama(const ConfigReader& r, ModelConfig& c) { return llamaCore(r, c); }

Status configureMistral(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(llamaCore(r, c));
    return readSlidingWindow(r, c);
}

// Qwen2/Qwen3: sliding attention (when use_sliding_window) on layers >= max_window_layers.
Status qwenSliding(const ConfigReader& r, ModelConfig& c) {
    auto use = r.optionalBool("use_sliding_window", false);
    if (!use) return use.error();
    if (!*use) return {};
    SL_TRY(readSlidingWindow(r, c));
    if (!c.slidingWindow) return {};
    auto mw = r.optionalInt("max_window_layers", c.numLayers, kMaxLayers, 0);
    if (!mw) return mw.error();
    c.slidingLayers.assign(static_cast<std::size_t>(c.numLayers), 0);
    for (int l = static_cast<int>(*mw); l < c.numLayers; ++l) c.slidingLayers[static_cast<std::size_t>(l)] = 1;
    return readLayerTypes(r, c);
}

Status configureQwen2(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(llamaCore(r, c));
    c.qkvBias = true;  // Qwen2 always has q/k/v biases and no o_proj bias
    c.oBias = false;
    return qwenSliding(r, c);
}

Status configureQwen3(const ConfigReader& r, ModelConfig& c) {
    DimKeys k;
    k.headDimDefault = 128;  // Qwen3Config's default
    SL_TRY(llamaCore(r, c, k));
    c.qkNorm = true;
    return qwenSliding(r, c);
}

Status configureOlmo(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(llamaCore(r, c));
    // OLMo's LayerNorm has no parameters and a fixed eps of 1e-5 (HF OlmoLayerNorm).
    c.normKind = NormKind::NonParametricLayerNorm;
    c.normEps = 1e-5;
    auto clip = r.optionalNumber("clip_qkv", -1.0);
    if (!clip) return clip.error();
    if (*clip > 0) c.clipQkv = *clip;
    else if (r.has("clip_qkv")) return Error{r.where + "field 'clip_qkv' must be > 0 or null"};
    return {};
}

Status configurePhi3(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(llamaCore(r, c));
    c.qkvLayout = QkvLayout::Fused;
    c.fusedGateUp = true;
    SL_TRY(readRotaryFraction(r, c, "partial_rotary_factor", 1.0));
    return readSlidingWindow(r, c);
}

// Gemma 2 and 3 share the sandwich block, (1 + w) norms, scaled embeddings
// and query_pre_attn_scalar; `slidingEvery`: every n-th layer is global.
Status gemmaCore(const ConfigReader& r, ModelConfig& c, DimKeys k, double ropeDefault, int globalEvery) {
    SL_TRY(readDims(r, c, k));
    SL_TRY(readRope(r, c, "rope_theta", ropeDefault));
    SL_TRY(readTie(r, c, true));
    // Gemma's MLP uses hidden_activation (older configs: hidden_act).
    SL_TRY(readActivation(r, c, r.has("hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh"));
    auto attnBias = r.optionalBool("attention_bias", false);
    if (!attnBias) return attnBias.error();
    c.qkvBias = c.oBias = *attnBias;
    c.normKind = NormKind::RmsNormUnitOffset;
    c.sandwichNorms = true;
    c.embeddingScale = std::sqrt(static_cast<double>(c.hiddenSize));
    auto qpas = r.optionalNumber("query_pre_attn_scalar", 256.0);
    if (!qpas) return qpas.error();
    if (!(*qpas > 0)) return Error{r.where + "field 'query_pre_attn_scalar' must be > 0"};
    c.attentionScale = 1.0 / std::sqrt(*qpas);
    SL_TRY(readSlidingWindow(r, c, 4096));
    if (r.has("layer_types")) return readLayerTypes(r, c);
    auto every = r.optionalInt("sliding_window_pattern", globalEvery, kMaxLayers);
    if (!every) return every.error();
    c.slidingLayers.assign(static_cast<std::size_t>(c.numLayers), 0);
    for (int l = 0; l < c.numLayers; ++l) c.slidingLayers[static_cast<std::size_t>(l)] = (l + 1) % *every != 0;
    return {};
}

DimKeys gemmaKeys(std::int64_t vocab, std::int64_t positions) {
    DimKeys k;
    k.vocabDefault = vocab;
    k.hiddenDefault = 2304;
    k.interDefault = 9216;
    k.layersDefault = 26;
    k.headsDefault = 8;
    k.kvHeadsDefault = 4;
    k.headDimDefault = 256;
    k.positionsDefault = positions;
    return k;
}

// A soft-capping value: the class default when the key is absent, none when null.
Result<std::optional<double>> softcap(const ConfigReader& r, const char* key, double fallback) {
    if (!r.j.contains(key)) return std::optional<double>(fallback);
    return r.optionalPositive(key);
}

Status configureGemma2(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(gemmaCore(r, c, gemmaKeys(256000, 8192), 10000.0, 2));
    auto attnCap = softcap(r, "attn_logit_softcapping", 50.0);
    auto finalCap = softcap(r, "final_logit_softcapping", 30.0);
    if (!attnCap) return attnCap.error();
    if (!finalCap) return finalCap.error();
    c.attnSoftcap = *attnCap;
    c.finalSoftcap = *finalCap;
    return {};
}

Status configureGemma3Text(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(gemmaCore(r, c, gemmaKeys(262208, 131072), 1000000.0, 6));
    c.qkNorm = true;
    auto local = r.optionalNumber("rope_local_base_freq", 10000.0);
    if (!local) return local.error();
    if (!(*local > 0)) return Error{r.where + "field 'rope_local_base_freq' must be > 0"};
    c.ropeLocalTheta = *local;
    auto attnCap = r.optionalPositive("attn_logit_softcapping");
    auto finalCap = r.optionalPositive("final_logit_softcapping");
    if (!attnCap) return attnCap.error();
    if (!finalCap) return finalCap.error();
    c.attnSoftcap = *attnCap;
    c.finalSoftcap = *finalCap;
    return {};
}

// A Gemma 3 image-text checkpoint: the text tower is read from text_config.
Status configureGemma3(const ConfigReader& r, ModelConfig& c) {
    if (!r.has("text_config") || !r.j["text_config"].is_object()) return Error{r.where + "missing object 'text_config'"};
    const ConfigReader inner{r.j["text_config"], r.where + "text_config: "};
    SL_TRY(configureGemma3Text(inner, c));
    auto tie = r.optionalBool("tie_word_embeddings", true);
    if (!tie) return tie.error();
    c.tieWordEmbeddings = *tie;
    return {};
}

// GPT-2 and GPT-J name their dimensions n_embd, n_layer, n_head, n_inner, n_positions.
DimKeys gptKeys(std::int64_t positions) {
    DimKeys k;
    k.hidden = "n_embd";
    k.inter = "n_inner";
    k.layers = "n_layer";
    k.heads = "n_head";
    k.kvHeads = nullptr;
    k.headDim = nullptr;
    k.positions = "n_positions";
    k.positionsDefault = positions;
    k.eps = "layer_norm_epsilon";
    k.epsDefault = 1e-5;
    k.interTimesHidden = 4;
    return k;
}

Status configureGpt2(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(readDims(r, c, gptKeys(1024)));
    SL_TRY(readTie(r, c, true));
    SL_TRY(readActivation(r, c, "activation_function", "gelu_new"));
    auto cross = r.optionalBool("add_cross_attention", false);
    auto scale = r.optionalBool("scale_attn_weights", true);
    auto inverse = r.optionalBool("scale_attn_by_inverse_layer_idx", false);
    for (auto* v : {&cross, &scale, &inverse}) if (!*v) return v->error();
    if (*cross) return Error{r.where + "add_cross_attention=true (an encoder-decoder GPT-2) is not supported"};
    c.normKind = NormKind::LayerNorm;
    c.positions = PositionKind::Learned;
    c.qkvLayout = QkvLayout::Fused;
    c.qkvBias = c.oBias = true;
    c.mlpKind = MlpKind::Plain;
    c.mlpBias = true;
    c.conv1dWeights = true;
    if (!*scale) c.attentionScale = 1.0;
    c.scaleByInverseLayer = *inverse;
    return {};
}

Status configureGptj(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(readDims(r, c, gptKeys(2048)));
    SL_TRY(readTie(r, c, false));
    SL_TRY(readActivation(r, c, "activation_function", "gelu_new"));
    if (!r.has("rotary_dim")) return Error{r.where + "GPT-J without 'rotary_dim' is not supported"};
    auto rd = r.requiredInt("rotary_dim", kMaxHeadDim);
    if (!rd) return rd.error();
    c.rotaryDim = static_cast<int>(*rd);
    c.normKind = NormKind::LayerNorm;
    c.layout = BlockLayout::Parallel;
    c.sharedParallelNorm = true;
    c.rotaryStyle = RotaryStyle::Interleaved;
    c.mlpKind = MlpKind::Plain;
    c.mlpBias = true;
    c.lmHeadBias = true;
    c.ropeTheta = 10000.0;
    return {};
}

Status configureGptNeox(const ConfigReader& r, ModelConfig& c) {
    DimKeys k;
    k.kvHeads = nullptr;
    k.headDim = nullptr;
    k.eps = "layer_norm_eps";
    k.epsDefault = 1e-5;
    SL_TRY(readDims(r, c, k));
    SL_TRY(readRope(r, c, r.has("rope_theta") ? "rope_theta" : "rotary_emb_base", 10000.0));
    SL_TRY(readTie(r, c, false));
    SL_TRY(readActivation(r, c, "hidden_act", "gelu"));
    SL_TRY(readRotaryFraction(r, c, r.has("partial_rotary_factor") ? "partial_rotary_factor" : "rotary_pct", 0.25));
    auto parallel = r.optionalBool("use_parallel_residual", true);
    auto bias = r.optionalBool("attention_bias", true);
    for (auto* v : {&parallel, &bias}) if (!*v) return v->error();
    c.normKind = NormKind::LayerNorm;
    c.layout = *parallel ? BlockLayout::Parallel : BlockLayout::Sequential;
    c.qkvLayout = QkvLayout::FusedPerHead;
    c.qkvBias = c.oBias = *bias;
    c.mlpKind = MlpKind::Plain;
    c.mlpBias = true;
    return {};
}

Status configurePhi(const ConfigReader& r, ModelConfig& c) {
    DimKeys k;
    k.headDim = nullptr;
    k.eps = "layer_norm_eps";
    k.epsDefault = 1e-5;
    SL_TRY(readDims(r, c, k));
    SL_TRY(readRope(r, c, "rope_theta", 10000.0));
    SL_TRY(readTie(r, c, false));
    SL_TRY(readActivation(r, c, "hidden_act", "gelu_new"));
    SL_TRY(readRotaryFraction(r, c, "partial_rotary_factor", 0.5));
    auto qkLn = r.optionalBool("qk_layernorm", false);
    if (!qkLn) return qkLn.error();
    c.qkNorm = *qkLn;
    c.normKind = NormKind::LayerNorm;
    c.layout = BlockLayout::Parallel;
    c.sharedParallelNorm = true;
    c.qkvBias = c.oBias = true;
    c.mlpKind = MlpKind::Plain;
    c.mlpBias = true;
    c.lmHeadBias = true;
    return {};
}

// ------------------------------------------------ mixture of experts

// The routed-experts block of a MoE family: config keys and the Hugging Face
// class defaults for absent keys.
struct ExpertKeys {
    const char* count = "num_experts";
    std::int64_t countDefault = 0;
    std::int64_t topKDefault = 0;
    const char* intermediate = nullptr;      // nullptr: each expert uses intermediate_size
    std::int64_t intermediateDefault = 0;
    const char* renormalize = nullptr;       // nullptr: always renormalised (Mixtral)
    const char* sharedIntermediate = nullptr;  // the shared expert's size (Qwen2-MoE)
    std::int64_t sharedDefault = 0;
    bool sparseStep = false;                 // decoder_sparse_step and mlp_only_layers (Qwen-MoE)
};

Status readExperts(const ConfigReader& r, ModelConfig& c, const ExpertKeys& k) {
    ExpertsRecipe& e = c.experts;
    auto count = r.optionalInt(k.count, k.countDefault, kMaxExperts);
    if (!count) return count.error();
    auto topK = r.optionalInt("num_experts_per_tok", k.topKDefault, kMaxExperts);
    if (!topK) return topK.error();
    if (*topK > *count) {
        return Error{r.where + "num_experts_per_tok (" + std::to_string(*topK) + ") exceeds the number of experts (" + std::to_string(*count) + ")"};
    }
    e.count = static_cast<int>(*count);
    e.topK = static_cast<int>(*topK);
    e.intermediate = c.intermediateSize;
    if (k.intermediate) {
        auto inter = r.optionalInt(k.intermediate, k.intermediateDefault, kMaxIntermediateSize);
        if (!inter) return inter.error();
        e.intermediate = static_cast<int>(*inter);
    }
    e.renormalize = true;
    if (k.renormalize) {
        auto renorm = r.optionalBool(k.renormalize, false);
        if (!renorm) return renorm.error();
        e.renormalize = *renorm;
    }
    if (k.sharedIntermediate) {
        auto shared = r.optionalInt(k.sharedIntermediate, k.sharedDefault, kMaxIntermediateSize, 0);
        if (!shared) return shared.error();
        e.sharedIntermediate = static_cast<int>(*shared);
        e.sharedGate = e.sharedIntermediate > 0;
    }
    if (k.sparseStep) {
        // Qwen2MoeDecoderLayer: experts iff layer not in mlp_only_layers and (layer + 1) % decoder_sparse_step == 0.
        auto step = r.optionalInt("decoder_sparse_step", 1, kMaxLayers);
        if (!step) return step.error();
        e.denseLayers.assign(static_cast<std::size_t>(c.numLayers), 0);
        for (int l = 0; l < c.numLayers; ++l) e.denseLayers[static_cast<std::size_t>(l)] = (l + 1) % *step != 0;
        if (r.has("mlp_only_layers")) {
            const auto& list = r.j["mlp_only_layers"];
            if (!list.is_array()) return Error{r.where + "field 'mlp_only_layers' must be a list of layer indices"};
            for (const auto& v : list) {
                if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= c.numLayers) {
                    return Error{r.where + "mlp_only_layers entry " + v.dump() + " is not a layer index (0.." + std::to_string(c.numLayers - 1) + ")"};
                }
                e.denseLayers[static_cast<std::size_t>(v.get<std::int64_t>())] = 1;
            }
        }
    }
    return {};
}

Status configureMixtral(const ConfigReader& r, ModelConfig& c) {
    DimKeys k;
    k.epsDefault = 1e-5;
    SL_TRY(llamaCore(r, c, k));
    SL_TRY(readRope(r, c, "rope_theta", 1e6));  // MixtralConfig's default base
    SL_TRY(readSlidingWindow(r, c));
    ExpertKeys e;
    e.count = "num_local_experts";
    e.countDefault = 8;
    e.topKDefault = 2;
    return readExperts(r, c, e);
}

ExpertKeys qwenMoeKeys(std::int64_t count, std::int64_t topK, std::int64_t inter) {
    ExpertKeys e;
    e.countDefault = count;
    e.topKDefault = topK;
    e.intermediate = "moe_intermediate_size";
    e.intermediateDefault = inter;
    e.renormalize = "norm_topk_prob";
    e.sparseStep = true;
    return e;
}

Status configureQwen2Moe(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(llamaCore(r, c));
    // Qwen2MoeAttention: q/k/v biases (qkv_bias, default true), no o_proj bias.
    auto qkvBias = r.optionalBool("qkv_bias", true);
    if (!qkvBias) return qkvBias.error();
    c.qkvBias = *qkvBias;
    c.oBias = false;
    SL_TRY(qwenSliding(r, c));
    ExpertKeys e = qwenMoeKeys(60, 4, 1408);
    e.sharedIntermediate = "shared_expert_intermediate_size";
    e.sharedDefault = 5632;
    return readExperts(r, c, e);
}

Status configureQwen3Moe(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(llamaCore(r, c));  // head_dim when given, else hidden / heads (Qwen3MoeAttention)
    c.qkNorm = true;
    SL_TRY(qwenSliding(r, c));
    return readExperts(r, c, qwenMoeKeys(128, 8, 768));
}

Status configureOlmoe(const ConfigReader& r, ModelConfig& c) {
    DimKeys k;
    k.epsDefault = 1e-5;
    SL_TRY(llamaCore(r, c, k));
    // OlmoeAttention: RMSNorm over the whole q projection (hidden) and k projection (kv heads x head_dim).
    c.qkNorm = true;
    c.qkNormWhole = true;
    auto clip = r.optionalNumber("clip_qkv", -1.0);
    if (!clip) return clip.error();
    if (*clip > 0) c.clipQkv = *clip;
    else if (r.has("clip_qkv")) return Error{r.where + "field 'clip_qkv' must be > 0 or null"};
    ExpertKeys e;
    e.countDefault = 64;
    e.topKDefault = 8;
    e.renormalize = "norm_topk_prob";
    return readExperts(r, c, e);
}

// BERT and RoBERTa (and XLM-RoBERTa, RoBERTa's model with another vocabulary):
// bidirectional post-LN encoders with learned positions, token types, an
// embedding LayerNorm and the masked-LM head (dense, gelu, LayerNorm, decoder
// tied to the word embeddings, bias). Defaults of BertConfig / RobertaConfig.
Status configureEncoder(const ConfigReader& r, ModelConfig& c, std::int64_t vocabDefault, bool robertaPositions) {
    DimKeys k;
    k.kvHeads = nullptr;
    k.headDim = nullptr;
    k.eps = "layer_norm_eps";
    k.epsDefault = 1e-12;
    k.hiddenDefault = 768;
    k.interDefault = 3072;
    k.layersDefault = 12;
    k.headsDefault = 12;
    k.vocabDefault = vocabDefault;
    k.positionsDefault = 512;
    SL_TRY(readDims(r, c, k));
    SL_TRY(readTie(r, c, true));
    SL_TRY(readActivation(r, c, "hidden_act", "gelu"));
    const std::string posType = r.optionalString("position_embedding_type");
    if (!posType.empty() && posType != "absolute") {
        return Error{r.where + "position_embedding_type '" + posType + "' is not supported (absolute)"};
    }
    auto decoder = r.optionalBool("is_decoder", false);
    auto cross = r.optionalBool("add_cross_attention", false);
    auto types = r.optionalInt("type_vocab_size", 2, kMaxVocabSize, 0);
    for (auto* v : {&decoder, &cross}) if (!*v) return v->error();
    if (!types) return types.error();
    if (*decoder || *cross) return Error{r.where + "is_decoder / add_cross_attention (a causal or encoder-decoder BERT) is not supported"};
    c.typeVocabSize = *types;
    if (robertaPositions) {
        // RobertaEmbeddings: padding_idx = pad_token_id; position ids count from padding_idx + 1.
        auto pad = r.optionalInt("pad_token_id", 1, kMaxPositions, 0);
        if (!pad) return pad.error();
        c.paddingIdx = *pad;
        if (*pad + 1 >= c.maxPositionEmbeddings) {
            return Error{r.where + "pad_token_id " + std::to_string(*pad) + " leaves no position embeddings (max_position_embeddings " +
                         std::to_string(c.maxPositionEmbeddings) + ")"};
        }
        c.headActivation = Activation::Gelu;  // RobertaLMHead calls gelu whatever hidden_act says
    } else {
        c.headActivation = c.activation;      // BertPredictionHeadTransform uses hidden_act
    }
    c.causal = false;
    c.postNorm = true;
    c.normKind = NormKind::LayerNorm;
    c.positions = PositionKind::Learned;
    c.qkvBias = c.oBias = true;
    c.mlpKind = MlpKind::Plain;
    c.mlpBias = true;
    c.embeddingNorm = true;
    c.headTransform = true;
    c.lmHeadBias = true;
    return {};
}

Status configureBert(const ConfigReader& r, ModelConfig& c) { return configureEncoder(r, c, 30522, false); }
Status configureRoberta(const ConfigReader& r, ModelConfig& c) { return configureEncoder(r, c, 50265, true); }
Status configureXlmRoberta(const ConfigReader& r, ModelConfig& c) { return configureEncoder(r, c, 30522, true); }

// Vision transformers: ViT, DINOv2 (with registers) and CLIP's vision tower.
// Pre-LN sequential blocks with bidirectional attention; the input is an
// image. Defaults of ViTConfig, Dinov2Config and CLIPVisionConfig.
enum class VisionKind { Vit, Dinov2, Clip };

Status configureVisionKind(const ConfigReader& r, ModelConfig& c, VisionKind kind) {
    DimKeys k;
    k.kvHeads = nullptr;
    k.headDim = nullptr;
    k.eps = "layer_norm_eps";
    k.epsDefault = kind == VisionKind::Vit ? 1e-12 : kind == VisionKind::Dinov2 ? 1e-6 : 1e-5;
    k.hiddenDefault = 768;
    k.layersDefault = 12;
    k.headsDefault = 12;
    k.interDefault = 3072;
    k.vocabDefault = 1;  // no vocabulary: set to 0 below
    k.positionsDefault = 1;
    if (kind == VisionKind::Dinov2) k.inter = "intermediate_size_unused";  // DINOv2: hidden x mlp_ratio
    SL_TRY(readDims(r, c, k));
    if (kind == VisionKind::Dinov2) {
        auto ratio = r.optionalNumber("mlp_ratio", 4.0);
        if (!ratio) return ratio.error();
        if (!(*ratio > 0) || *ratio * c.hiddenSize > static_cast<double>(kMaxIntermediateSize)) {
            return Error{r.where + "field 'mlp_ratio' must be > 0 and keep the MLP below " + std::to_string(kMaxIntermediateSize)};
        }
        c.intermediateSize = static_cast<int>(c.hiddenSize * *ratio);  // int(hidden * mlp_ratio), as Dinov2MLP
        auto swiglu = r.optionalBool("use_swiglu_ffn", false);
        if (!swiglu) return swiglu.error();
        if (*swiglu) return Error{r.where + "use_swiglu_ffn=true (DINOv2 giant's SwiGLU MLP) is not supported"};
    }
    SL_TRY(readActivation(r, c, "hidden_act", kind == VisionKind::Clip ? "quick_gelu" : "gelu"));
    auto image = r.optionalInt("image_size", 224, kMaxPositions);
    auto patch = r.optionalInt("patch_size", kind == VisionKind::Vit ? 16 : kind == VisionKind::Dinov2 ? 14 : 32, kMaxPositions);
    auto channels = r.optionalInt("num_channels", 3, 16);
    for (auto* v : {&image, &patch, &channels}) if (!*v) return v->error();
    if (*patch > *image) return Error{r.where + "patch_size " + std::to_string(*patch) + " exceeds image_size " + std::to_string(*image)};
    c.imageSize = static_cast<int>(*image);
    c.patchSize = static_cast<int>(*patch);
    c.numChannels = static_cast<int>(*channels);
    const std::int64_t side = *image / *patch;
    c.maxPositionEmbeddings = 1 + side * side;  // CLS + the trained patch grid
    if (kind != VisionKind::Clip) {
        auto qkvBias = r.optionalBool("qkv_bias", true);
        if (!qkvBias) return qkvBias.error();
        c.qkvBias = *qkvBias;
        c.patchBias = true;
        c.posEmbedBatchDim = c.clsTokenBatchDim = true;
    } else {
        c.qkvBias = true;
        c.embeddingNorm = true;  // pre_layrnorm
    }
    if (kind == VisionKind::Dinov2) {
        c.layerScale = true;
        auto regs = r.optionalInt("num_register_tokens", 0, 1024, 0);
        if (!regs) return regs.error();
        c.numRegisters = static_cast<int>(*regs);
    }
    c.vocabSize = 0;
    c.pixelInput = true;
    c.causal = false;
    c.normKind = NormKind::LayerNorm;
    c.positions = PositionKind::Learned;
    c.oBias = true;
    c.mlpKind = MlpKind::Plain;
    c.mlpBias = true;
    c.tieWordEmbeddings = false;
    return {};
}

Status configureVit(const ConfigReader& r, ModelConfig& c) { return configureVisionKind(r, c, VisionKind::Vit); }
Status configureDinov2(const ConfigReader& r, ModelConfig& c) {
    if (r.has("num_register_tokens")) return Error{r.where + "num_register_tokens is for model_type dinov2_with_registers"};
    return configureVisionKind(r, c, VisionKind::Dinov2);
}
Status configureDinov2Registers(const ConfigReader& r, ModelConfig& c) {
    SL_TRY(configureVisionKind(r, c, VisionKind::Dinov2));
    if (!r.has("num_register_tokens")) c.numRegisters = 4;  // Dinov2WithRegistersConfig's default
    c.posInterpolation = PosInterpolation::BicubicAntialias;  // its interpolate_pos_encoding passes antialias=True
    return {};
}
Status configureClipVision(const ConfigReader& r, ModelConfig& c) { return configureVisionKind(r, c, VisionKind::Clip); }
// A full CLIP checkpoint (image and text towers): its vision tower.
Status configureClip(const ConfigReader& r, ModelConfig& c) {
    if (!r.has("vision_config") || !r.j["vision_config"].is_object()) return Error{r.where + "missing object 'vision_config'"};
    const ConfigReader inner{r.j["vision_config"], r.where + "vision_config: "};
    return configureVisionKind(inner, c, VisionKind::Clip);
}

// ---------------------------------------------------------------- names

template <class Role, std::size_t N>
constexpr std::array<std::string_view, N> namesOf(std::initializer_list<std::pair<Role, std::string_view>> entries) {
    std::array<std::string_view, N> out{};
    for (const auto& [role, name] : entries) out[static_cast<std::size_t>(role)] = name;
    return out;
}
constexpr auto layerNames = [](std::initializer_list<std::pair<LW, std::string_view>> e) { return namesOf<LW, kLayerWeightCount>(e); };
constexpr auto modelNames = [](std::initializer_list<std::pair<MW, std::string_view>> e) { return namesOf<MW, kModelWeightCount>(e); };

// Llama and the families that kept its names (Gemma's post_attention_layernorm
// is a norm of the attention output, hence its own table).
const FamilyNames kLlamaNames{
    {"model."},
    layerNames({{LW::AttnNorm, "{m}layers.{L}.input_layernorm.weight"},
                {LW::MlpNorm, "{m}layers.{L}.post_attention_layernorm.weight"},
                {LW::QNorm, "{m}layers.{L}.self_attn.q_norm.weight"},
                {LW::KNorm, "{m}layers.{L}.self_attn.k_norm.weight"},
                {LW::Q, "{m}layers.{L}.self_attn.q_proj.weight"},
                {LW::K, "{m}layers.{L}.self_attn.k_proj.weight"},
                {LW::V, "{m}layers.{L}.self_attn.v_proj.weight"},
                {LW::Qkv, "{m}layers.{L}.self_attn.qkv_proj.weight"},
                {LW::QBias, "{m}layers.{L}.self_attn.q_proj.bias"},
                {LW::KBias, "{m}layers.{L}.self_attn.k_proj.bias"},
                {LW::VBias, "{m}layers.{L}.self_attn.v_proj.bias"},
                {LW::O, "{m}layers.{L}.self_attn.o_proj.weight"},
                {LW::OBias, "{m}layers.{L}.self_attn.o_proj.bias"},
                {LW::Gate, "{m}layers.{L}.mlp.gate_proj.weight"},
                {LW::Up, "{m}layers.{L}.mlp.up_proj.weight"},
                {LW::GateUp, "{m}layers.{L}.mlp.gate_up_proj.weight"},
                {LW::Down, "{m}layers.{L}.mlp.down_proj.weight"}}),
    modelNames({{MW::Embed, "{m}embed_tokens.weight"}, {MW::FinalNorm, "{m}norm.weight"}, {MW::LmHead, "lm_head.weight"}}),
};

FamilyNames gemmaNames(std::vector<std::string_view> prefixes) {
    FamilyNames n = kLlamaNames;
    n.prefixes = std::move(prefixes);
    n.layer[static_cast<std::size_t>(LW::MlpNorm)] = "{m}layers.{L}.pre_feedforward_layernorm.weight";
    n.layer[static_cast<std::size_t>(LW::AttnPostNorm)] = "{m}layers.{L}.post_attention_layernorm.weight";
    n.layer[static_cast<std::size_t>(LW::MlpPostNorm)] = "{m}layers.{L}.post_feedforward_layernorm.weight";
    return n;
}
const FamilyNames kGemmaNames = gemmaNames({"model."});
// Hub files of Gemma 3 image-text models keep the text tower under
// language_model.model.; checkpoints saved by newer transformers under model.language_model.
const FamilyNames kGemma3Names = gemmaNames({"language_model.model.", "model.language_model."});

// GPT-2: hub files saved from GPT2Model have no "transformer." prefix.
const FamilyNames kGpt2Names{
    {"transformer.", ""},
    layerNames({{LW::AttnNorm, "{m}h.{L}.ln_1.weight"},
                {LW::AttnNormBias, "{m}h.{L}.ln_1.bias"},
                {LW::MlpNorm, "{m}h.{L}.ln_2.weight"},
                {LW::MlpNormBias, "{m}h.{L}.ln_2.bias"},
                {LW::Qkv, "{m}h.{L}.attn.c_attn.weight"},
                {LW::QkvBias, "{m}h.{L}.attn.c_attn.bias"},
                {LW::O, "{m}h.{L}.attn.c_proj.weight"},
                {LW::OBias, "{m}h.{L}.attn.c_proj.bias"},
                {LW::Up, "{m}h.{L}.mlp.c_fc.weight"},
                {LW::UpBias, "{m}h.{L}.mlp.c_fc.bias"},
                {LW::Down, "{m}h.{L}.mlp.c_proj.weight"},
                {LW::DownBias, "{m}h.{L}.mlp.c_proj.bias"}}),
    modelNames({{MW::Embed, "{m}wte.weight"},
                {MW::PosEmbed, "{m}wpe.weight"},
                {MW::FinalNorm, "{m}ln_f.weight"},
                {MW::FinalNormBias, "{m}ln_f.bias"},
                {MW::LmHead, "lm_head.weight"}}),
};

const FamilyNames kGptjNames{
    {"transformer."},
    layerNames({{LW::AttnNorm, "{m}h.{L}.ln_1.weight"},
                {LW::AttnNormBias, "{m}h.{L}.ln_1.bias"},
                {LW::Q, "{m}h.{L}.attn.q_proj.weight"},
                {LW::K, "{m}h.{L}.attn.k_proj.weight"},
                {LW::V, "{m}h.{L}.attn.v_proj.weight"},
                {LW::O, "{m}h.{L}.attn.out_proj.weight"},
                {LW::Up, "{m}h.{L}.mlp.fc_in.weight"},
                {LW::UpBias, "{m}h.{L}.mlp.fc_in.bias"},
                {LW::Down, "{m}h.{L}.mlp.fc_out.weight"},
                {LW::DownBias, "{m}h.{L}.mlp.fc_out.bias"}}),
    modelNames({{MW::Embed, "{m}wte.weight"},
                {MW::FinalNorm, "{m}ln_f.weight"},
                {MW::FinalNormBias, "{m}ln_f.bias"},
                {MW::LmHead, "lm_head.weight"},
                {MW::LmHeadBias, "lm_head.bias"}}),
};

const FamilyNames kGptNeoxNames{
    {"gpt_neox."},
    layerNames({{LW::AttnNorm, "{m}layers.{L}.input_layernorm.weight"},
                {LW::AttnNormBias, "{m}layers.{L}.input_layernorm.bias"},
                {LW::MlpNorm, "{m}layers.{L}.post_attention_layernorm.weight"},
                {LW::MlpNormBias, "{m}layers.{L}.post_attention_layernorm.bias"},
                {LW::Qkv, "{m}layers.{L}.attention.query_key_value.weight"},
                {LW::QkvBias, "{m}layers.{L}.attention.query_key_value.bias"},
                {LW::O, "{m}layers.{L}.attention.dense.weight"},
                {LW::OBias, "{m}layers.{L}.attention.dense.bias"},
                {LW::Up, "{m}layers.{L}.mlp.dense_h_to_4h.weight"},
                {LW::UpBias, "{m}layers.{L}.mlp.dense_h_to_4h.bias"},
                {LW::Down, "{m}layers.{L}.mlp.dense_4h_to_h.weight"},
                {LW::DownBias, "{m}layers.{L}.mlp.dense_4h_to_h.bias"}}),
    modelNames({{MW::Embed, "{m}embed_in.weight"},
                {MW::FinalNorm, "{m}final_layer_norm.weight"},
                {MW::FinalNormBias, "{m}final_layer_norm.bias"},
                {MW::LmHead, "embed_out.weight"}}),
};

const FamilyNames kPhiNames{
    {"model."},
    layerNames({{LW::AttnNorm, "{m}layers.{L}.input_layernorm.weight"},
                {LW::AttnNormBias, "{m}layers.{L}.input_layernorm.bias"},
                {LW::QNorm, "{m}layers.{L}.self_attn.q_layernorm.weight"},
                {LW::QNormBias, "{m}layers.{L}.self_attn.q_layernorm.bias"},
                {LW::KNorm, "{m}layers.{L}.self_attn.k_layernorm.weight"},
                {LW::KNormBias, "{m}layers.{L}.self_attn.k_layernorm.bias"},
                {LW::Q, "{m}layers.{L}.self_attn.q_proj.weight"},
                {LW::K, "{m}layers.{L}.self_attn.k_proj.weight"},
                {LW::V, "{m}layers.{L}.self_attn.v_proj.weight"},
                {LW::QBias, "{m}layers.{L}.self_attn.q_proj.bias"},
                {LW::KBias, "{m}layers.{L}.self_attn.k_proj.bias"},
                {LW::VBias, "{m}layers.{L}.self_attn.v_proj.bias"},
                {LW::O, "{m}layers.{L}.self_attn.dense.weight"},
                {LW::OBias, "{m}layers.{L}.self_attn.dense.bias"},
                {LW::Up, "{m}layers.{L}.mlp.fc1.weight"},
                {LW::UpBias, "{m}layers.{L}.mlp.fc1.bias"},
                {LW::Down, "{m}layers.{L}.mlp.fc2.weight"},
                {LW::DownBias, "{m}layers.{L}.mlp.fc2.bias"}}),
    modelNames({{MW::Embed, "{m}embed_tokens.weight"},
                {MW::FinalNorm, "{m}final_layernorm.weight"},
                {MW::FinalNormBias, "{m}final_layernorm.bias"},
                {MW::LmHead, "lm_head.weight"},
                {MW::LmHeadBias, "lm_head.bias"}}),
};

// Mixtral: the experts live in block_sparse_moe (w1 = gate, w3 = up, w2 = down).
FamilyNames mixtralNames() {
    FamilyNames n = kLlamaNames;
    n.layer[static_cast<std::size_t>(LW::Router)] = "{m}layers.{L}.block_sparse_moe.gate.weight";
    n.expert = {"{m}layers.{L}.block_sparse_moe.experts.{E}.w1.weight", "{m}layers.{L}.block_sparse_moe.experts.{E}.w3.weight",
                "{m}layers.{L}.block_sparse_moe.experts.{E}.w2.weight"};
    return n;
}
const FamilyNames kMixtralNames = mixtralNames();

// Qwen2-MoE, Qwen3-MoE, OLMoE: mlp.gate is the router, mlp.experts.E.*_proj the experts.
FamilyNames qwenMoeNames() {
    FamilyNames n = kLlamaNames;
    n.layer[static_cast<std::size_t>(LW::Router)] = "{m}layers.{L}.mlp.gate.weight";
    n.layer[static_cast<std::size_t>(LW::SharedGate)] = "{m}layers.{L}.mlp.shared_expert.gate_proj.weight";
    n.layer[static_cast<std::size_t>(LW::SharedUp)] = "{m}layers.{L}.mlp.shared_expert.up_proj.weight";
    n.layer[static_cast<std::size_t>(LW::SharedDown)] = "{m}layers.{L}.mlp.shared_expert.down_proj.weight";
    n.layer[static_cast<std::size_t>(LW::SharedExpertGate)] = "{m}layers.{L}.mlp.shared_expert_gate.weight";
    n.expert = {"{m}layers.{L}.mlp.experts.{E}.gate_proj.weight", "{m}layers.{L}.mlp.experts.{E}.up_proj.weight",
                "{m}layers.{L}.mlp.experts.{E}.down_proj.weight"};
    return n;
}
const FamilyNames kQwenMoeNames = qwenMoeNames();
// BERT-style encoders: RobertaForMaskedLM / BertForMaskedLM hub files. The
// post-LN block's norms take the AttnNorm (attention.output.LayerNorm) and
// MlpNorm (output.LayerNorm) roles; the MLM head's LayerNorm is FinalNorm.
FamilyNames encoderNames(std::vector<std::string_view> prefixes, bool roberta) {
    FamilyNames n{
        std::move(prefixes),
        layerNames({{LW::AttnNorm, "{m}encoder.layer.{L}.attention.output.LayerNorm.weight"},
                    {LW::AttnNormBias, "{m}encoder.layer.{L}.attention.output.LayerNorm.bias"},
                    {LW::MlpNorm, "{m}encoder.layer.{L}.output.LayerNorm.weight"},
                    {LW::MlpNormBias, "{m}encoder.layer.{L}.output.LayerNorm.bias"},
                    {LW::Q, "{m}encoder.layer.{L}.attention.self.query.weight"},
                    {LW::K, "{m}encoder.layer.{L}.attention.self.key.weight"},
                    {LW::V, "{m}encoder.layer.{L}.attention.self.value.weight"},
                    {LW::QBias, "{m}encoder.layer.{L}.attention.self.query.bias"},
                    {LW::KBias, "{m}encoder.layer.{L}.attention.self.key.bias"},
                    {LW::VBias, "{m}encoder.layer.{L}.attention.self.value.bias"},
                    {LW::O, "{m}encoder.layer.{L}.attention.output.dense.weight"},
                    {LW::OBias, "{m}encoder.layer.{L}.attention.output.dense.bias"},
                    {LW::Up, "{m}encoder.layer.{L}.intermediate.dense.weight"},
                    {LW::UpBias, "{m}encoder.layer.{L}.intermediate.dense.bias"},
                    {LW::Down, "{m}encoder.layer.{L}.output.dense.weight"},
                    {LW::DownBias, "{m}encoder.layer.{L}.output.dense.bias"}}),
        {},
    };
    if (roberta) {
        n.model = modelNames({{MW::Embed, "{m}embeddings.word_embeddings.weight"},
                              {MW::PosEmbed, "{m}embeddings.position_embeddings.weight"},
                              {MW::TokenTypeEmbed, "{m}embeddings.token_type_embeddings.weight"},
                              {MW::EmbedNorm, "{m}embeddings.LayerNorm.weight"},
                              {MW::EmbedNormBias, "{m}embeddings.LayerNorm.bias"},
                              {MW::HeadDense, "lm_head.dense.weight"},
                              {MW::HeadDenseBias, "lm_head.dense.bias"},
                              {MW::FinalNorm, "lm_head.layer_norm.weight"},
                              {MW::FinalNormBias, "lm_head.layer_norm.bias"},
                              {MW::LmHead, "lm_head.decoder.weight"},
                              {MW::LmHeadBias, "lm_head.bias"}});
    } else {
        n.model = modelNames({{MW::Embed, "{m}embeddings.word_embeddings.weight"},
                              {MW::PosEmbed, "{m}embeddings.position_embeddings.weight"},
                              {MW::TokenTypeEmbed, "{m}embeddings.token_type_embeddings.weight"},
                              {MW::EmbedNorm, "{m}embeddings.LayerNorm.weight"},
                              {MW::EmbedNormBias, "{m}embeddings.LayerNorm.bias"},
                              {MW::HeadDense, "cls.predictions.transform.dense.weight"},
                              {MW::HeadDenseBias, "cls.predictions.transform.dense.bias"},
                              {MW::FinalNorm, "cls.predictions.transform.LayerNorm.weight"},
                              {MW::FinalNormBias, "cls.predictions.transform.LayerNorm.bias"},
                              {MW::LmHead, "cls.predictions.decoder.weight"},
                              {MW::LmHeadBias, "cls.predictions.bias"}});
    }
    return n;
}
const FamilyNames kRobertaNames = encoderNames({"roberta."}, true);
const FamilyNames kBertNames = encoderNames({"bert."}, false);

// ViT (ViTModel; ViTForImageClassification under "vit.") and DINOv2
// (Dinov2Model / Dinov2WithRegistersModel; their classifiers under a prefix).
FamilyNames vitNames(std::vector<std::string_view> prefixes, bool dinov2) {
    FamilyNames n{
        std::move(prefixes),
        layerNames({{LW::AttnNorm, dinov2 ? "{m}encoder.layer.{L}.norm1.weight" : "{m}encoder.layer.{L}.layernorm_before.weight"},
                    {LW::AttnNormBias, dinov2 ? "{m}encoder.layer.{L}.norm1.bias" : "{m}encoder.layer.{L}.layernorm_before.bias"},
                    {LW::MlpNorm, dinov2 ? "{m}encoder.layer.{L}.norm2.weight" : "{m}encoder.layer.{L}.layernorm_after.weight"},
                    {LW::MlpNormBias, dinov2 ? "{m}encoder.layer.{L}.norm2.bias" : "{m}encoder.layer.{L}.layernorm_after.bias"},
                    {LW::Q, "{m}encoder.layer.{L}.attention.attention.query.weight"},
                    {LW::K, "{m}encoder.layer.{L}.attention.attention.key.weight"},
                    {LW::V, "{m}encoder.layer.{L}.attention.attention.value.weight"},
                    {LW::QBias, "{m}encoder.layer.{L}.attention.attention.query.bias"},
                    {LW::KBias, "{m}encoder.layer.{L}.attention.attention.key.bias"},
                    {LW::VBias, "{m}encoder.layer.{L}.attention.attention.value.bias"},
                    {LW::O, "{m}encoder.layer.{L}.attention.output.dense.weight"},
                    {LW::OBias, "{m}encoder.layer.{L}.attention.output.dense.bias"},
                    {LW::Up, dinov2 ? "{m}encoder.layer.{L}.mlp.fc1.weight" : "{m}encoder.layer.{L}.intermediate.dense.weight"},
                    {LW::UpBias, dinov2 ? "{m}encoder.layer.{L}.mlp.fc1.bias" : "{m}encoder.layer.{L}.intermediate.dense.bias"},
                    {LW::Down, dinov2 ? "{m}encoder.layer.{L}.mlp.fc2.weight" : "{m}encoder.layer.{L}.output.dense.weight"},
                    {LW::DownBias, dinov2 ? "{m}encoder.layer.{L}.mlp.fc2.bias" : "{m}encoder.layer.{L}.output.dense.bias"},
                    {LW::AttnScale, "{m}encoder.layer.{L}.layer_scale1.lambda1"},
                    {LW::MlpScale, "{m}encoder.layer.{L}.layer_scale2.lambda1"}}),
        modelNames({{MW::PatchEmbed, "{m}embeddings.patch_embeddings.projection.weight"},
                    {MW::PatchEmbedBias, "{m}embeddings.patch_embeddings.projection.bias"},
                    {MW::ClsToken, "{m}embeddings.cls_token"},
                    {MW::RegisterTokens, "{m}embeddings.register_tokens"},
                    {MW::PosEmbed, "{m}embeddings.position_embeddings"},
                    {MW::FinalNorm, "{m}layernorm.weight"},
                    {MW::FinalNormBias, "{m}layernorm.bias"}}),
    };
    return n;
}
const FamilyNames kVitNames = vitNames({"", "vit."}, false);
const FamilyNames kDinov2Names = vitNames({"", "dinov2."}, true);
const FamilyNames kDinov2RegistersNames = vitNames({"", "dinov2_with_registers."}, true);

// CLIPVisionModel and CLIPModel both keep the tower under "vision_model.".
const FamilyNames kClipVisionNames{
    {"vision_model."},
    layerNames({{LW::AttnNorm, "{m}encoder.layers.{L}.layer_norm1.weight"},
                {LW::AttnNormBias, "{m}encoder.layers.{L}.layer_norm1.bias"},
                {LW::MlpNorm, "{m}encoder.layers.{L}.layer_norm2.weight"},
                {LW::MlpNormBias, "{m}encoder.layers.{L}.layer_norm2.bias"},
                {LW::Q, "{m}encoder.layers.{L}.self_attn.q_proj.weight"},
                {LW::K, "{m}encoder.layers.{L}.self_attn.k_proj.weight"},
                {LW::V, "{m}encoder.layers.{L}.self_attn.v_proj.weight"},
                {LW::QBias, "{m}encoder.layers.{L}.self_attn.q_proj.bias"},
                {LW::KBias, "{m}encoder.layers.{L}.self_attn.k_proj.bias"},
                {LW::VBias, "{m}encoder.layers.{L}.self_attn.v_proj.bias"},
                {LW::O, "{m}encoder.layers.{L}.self_attn.out_proj.weight"},
                {LW::OBias, "{m}encoder.layers.{L}.self_attn.out_proj.bias"},
                {LW::Up, "{m}encoder.layers.{L}.mlp.fc1.weight"},
                {LW::UpBias, "{m}encoder.layers.{L}.mlp.fc1.bias"},
                {LW::Down, "{m}encoder.layers.{L}.mlp.fc2.weight"},
                {LW::DownBias, "{m}encoder.layers.{L}.mlp.fc2.bias"}}),
    modelNames({{MW::PatchEmbed, "{m}embeddings.patch_embedding.weight"},
                {MW::ClsToken, "{m}embeddings.class_embedding"},
                {MW::PosEmbed, "{m}embeddings.position_embedding.weight"},
                {MW::EmbedNorm, "{m}pre_layrnorm.weight"},
                {MW::EmbedNormBias, "{m}pre_layrnorm.bias"},
                {MW::FinalNorm, "{m}post_layernorm.weight"},
                {MW::FinalNormBias, "{m}post_layernorm.bias"}}),
};

const FamilyRecipe kFamilies[] = {
    {"llama", "Llama", configureLlama, &kLlamaNames},
    {"mistral", "Mistral", configureMistral, &kLlamaNames},
    {"qwen2", "Qwen2", configureQwen2, &kLlamaNames},
    {"qwen3", "Qwen3", configureQwen3, &kLlamaNames},
    {"olmo", "OLMo", configureOlmo, &kLlamaNames},
    {"phi3", "Phi-3", configurePhi3, &kLlamaNames},
    {"gemma2", "Gemma 2", configureGemma2, &kGemmaNames},
    {"gemma3_text", "Gemma 3", configureGemma3Text, &kGemmaNames},
    {"gemma3", "Gemma 3 (text tower)", configureGemma3, &kGemma3Names},
    {"gpt2", "GPT-2", configureGpt2, &kGpt2Names},
    {"gptj", "GPT-J", configureGptj, &kGptjNames},
    {"gpt_neox", "GPT-NeoX", configureGptNeox, &kGptNeoxNames},
    {"phi", "Phi", configurePhi, &kPhiNames},
    {"mixtral", "Mixtral", configureMixtral, &kMixtralNames},
    {"qwen2_moe", "Qwen2-MoE", configureQwen2Moe, &kQwenMoeNames},
    {"qwen3_moe", "Qwen3-MoE", configureQwen3Moe, &kQwenMoeNames},
    {"olmoe", "OLMoE", configureOlmoe, &kQwenMoeNames},
    {"bert", "BERT", configureBert, &kBertNames},
    {"roberta", "RoBERTa", configureRoberta, &kRobertaNames},
    {"xlm-roberta", "XLM-RoBERTa", configureXlmRoberta, &kRobertaNames},
    {"vit", "ViT", configureVit, &kVitNames},
    {"dinov2", "DINOv2", configureDinov2, &kDinov2Names},
    {"dinov2_with_registers", "DINOv2 with registers", configureDinov2Registers, &kDinov2RegistersNames},
    {"clip_vision_model", "CLIP vision", configureClipVision, &kClipVisionNames},
    {"clip", "CLIP (vision tower)", configureClip, &kClipVisionNames},
};

}  // namespace

std::span<const FamilyRecipe> familyTable() { return kFamilies; }

const FamilyRecipe* findFamily(std::string_view modelType) {
    for (const FamilyRecipe& f : kFamilies) {
        if (f.modelType == modelType) return &f;
    }
    return nullptr;
}

bool roleUsed(const ModelConfig& c, LayerWeight w) {
    const bool norms = c.normKind != NormKind::NonParametricLayerNorm;
    const bool normBias = c.normKind == NormKind::LayerNorm;
    const bool mlpNorm = norms && !(c.layout == BlockLayout::Parallel && c.sharedParallelNorm);
    const bool separate = c.qkvLayout == QkvLayout::Separate;
    const bool gated = c.mlpKind == MlpKind::Gated;
    switch (w) {
        case LW::AttnNorm: return norms;
        case LW::AttnNormBias: return normBias;
        case LW::MlpNorm: return mlpNorm;
        case LW::MlpNormBias: return mlpNorm && normBias;
        case LW::AttnPostNorm:
        case LW::MlpPostNorm: return c.sandwichNorms;
        case LW::QNorm:
        case LW::KNorm: return c.qkNorm;
        case LW::QNormBias:
        case LW::KNormBias: return c.qkNorm && normBias;
        case LW::Q:
        case LW::K:
        case LW::V: return separate;
        case LW::QBias:
        case LW::KBias:
        case LW::VBias: return separate && c.qkvBias;
        case LW::Qkv: return !separate;
        case LW::QkvBias: return !separate && c.qkvBias;
        case LW::O: return true;
        case LW::OBias: return c.oBias;
        case LW::Gate: return gated && !c.fusedGateUp;
        case LW::Up: return !(gated && c.fusedGateUp);
        case LW::GateUp: return gated && c.fusedGateUp;
        case LW::UpBias: return !gated && c.mlpBias;
        case LW::Down: return true;
        case LW::DownBias: return c.mlpBias;
        case LW::Router: return c.hasExperts();
        case LW::SharedGate:
        case LW::SharedUp:
        case LW::SharedDown: return c.hasExperts() && c.experts.sharedIntermediate > 0;
        case LW::SharedExpertGate: return c.hasExperts() && c.experts.sharedGate;
        case LW::AttnScale:
        case LW::MlpScale: return c.layerScale;
        case LW::Count: return false;
    }
    return false;
}

bool roleUsedInLayer(const ModelConfig& c, LayerWeight w, int layer) {
    if (!roleUsed(c, w)) return false;
    if (!c.hasExperts() || layer < 0 || layer >= c.numLayers) return true;
    const bool experts = c.isExpertLayer(layer);
    switch (w) {
        case LW::Gate: case LW::Up: case LW::GateUp: case LW::UpBias: case LW::Down: case LW::DownBias:
            return !experts;
        case LW::Router: case LW::SharedGate: case LW::SharedUp: case LW::SharedDown: case LW::SharedExpertGate:
            return experts;
        default:
            return true;
    }
}

bool roleUsed(const ModelConfig& c, ModelWeight w) {
    switch (w) {
        case MW::Embed: return !c.pixelInput;
        case MW::PosEmbed: return c.positions == PositionKind::Learned;
        case MW::FinalNorm: return c.normKind != NormKind::NonParametricLayerNorm;
        case MW::FinalNormBias: return c.normKind == NormKind::LayerNorm;
        case MW::LmHead: return !c.pixelInput;
        case MW::LmHeadBias: return c.lmHeadBias;
        case MW::TokenTypeEmbed: return c.typeVocabSize > 0;
        case MW::EmbedNorm:
        case MW::EmbedNormBias: return c.embeddingNorm;
        case MW::HeadDense:
        case MW::HeadDenseBias: return c.headTransform;
        case MW::PatchEmbed:
        case MW::ClsToken: return c.pixelInput;
        case MW::PatchEmbedBias: return c.pixelInput && c.patchBias;
        case MW::RegisterTokens: return c.numRegisters > 0;
        case MW::Count: return false;
    }
    return false;
}

}  // namespace superlens::core
