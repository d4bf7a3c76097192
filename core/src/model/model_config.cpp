#include "superlens/core/model/model_config.h"
#include "superlens/core/model/mapped_file.h"


#include <nlohmann/json.hpp>

namespace superlens::core {
namespace {

using nlohmann::json;

struct Reader {
    const json& j;
    std::string where;  // "<file>: "

    // An integer in [minValue, maxValue]; values beyond int64 are refused too
    // (nlohmann keeps them as unsigned, and a cast would wrap them).
    Result<std::int64_t> requiredInt(const char* key, std::int64_t maxValue, std::int64_t minValue = 1) const {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return Error{where + "missing field '" + key + "'"};
        if (!it->is_number_integer()) return Error{where + "field '" + key + "' must be an integer"};
        const bool huge = it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(maxValue);
        const std::string shown = it->is_number_unsigned() ? std::to_string(it->get<std::uint64_t>()) : std::to_string(it->get<std::int64_t>());
        if (huge || it->get<std::int64_t>() > maxValue)
            return Error{where + "field '" + key + "' must be <= " + std::to_string(maxValue) + " (got " + shown + ")"};
        const auto v = it->get<std::int64_t>();
        if (v < minValue) return Error{where + "field '" + key + "' must be >= " + std::to_string(minValue) + " (got " + shown + ")"};
        return v;
    }
    Result<std::int64_t> optionalInt(const char* key, std::int64_t fallback, std::int64_t maxValue, std::int64_t minValue = 1) const {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return fallback;
        return requiredInt(key, maxValue, minValue);
    }
    Result<double> optionalNumber(const char* key, double fallback) const {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return fallback;
        if (!it->is_number()) return Error{where + "field '" + key + "' must be a number"};
        return it->get<double>();
    }
    Result<bool> optionalBool(const char* key, bool fallback) const {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return fallback;
        if (!it->is_boolean()) return Error{where + "field '" + key + "' must be true or false"};
        return it->get<bool>();
    }
    std::string optionalString(const char* key) const {
        const auto it = j.find(key);
        return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
    }
    std::optional<std::int64_t> tokenId(const char* key) const {
        const auto it = j.find(key);
        if (it == j.end()) return std::nullopt;
        if (it->is_number_integer()) return it->get<std::int64_t>();
        if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<std::int64_t>();
        return std::nullopt;
    }
};

Result<RopeScaling> parseRopeScaling(const json& j, const std::string& where) {
    RopeScaling rs;
    const auto it = j.find("rope_scaling");
    if (it == j.end() || it->is_null()) return rs;
    if (!it->is_object()) return Error{where + "field 'rope_scaling' must be an object or null"};
    std::string type;
    if (it->contains("rope_type") && (*it)["rope_type"].is_string()) type = (*it)["rope_type"].get<std::string>();
    else if (it->contains("type") && (*it)["type"].is_string()) type = (*it)["type"].get<std::string>();
    Reader r{*it, where + "rope_scaling: "};
    if (type == "default") return rs;
    if (type == "linear") {
        rs.type = RopeScalingType::Linear;
        auto f = r.optionalNumber("factor", 1.0);
        if (!f) return f.error();
        rs.factor = *f;
        if (rs.factor <= 0) return Error{where + "rope_scaling: 'factor' must be > 0"};
        return rs;
    }
    if (type == "llama3") {
        rs.type = RopeScalingType::Llama3;
        auto f = r.optionalNumber("factor", 8.0);
        auto lo = r.optionalNumber("low_freq_factor", 1.0);
        auto hi = r.optionalNumber("high_freq_factor", 4.0);
        auto orig = r.optionalNumber("original_max_position_embeddings", 8192);
        for (auto* v : {&f, &lo, &hi, &orig}) if (!*v) return v->error();
        rs.factor = *f;
        rs.lowFreqFactor = *lo;
        rs.highFreqFactor = *hi;
        rs.originalMaxPositions = *orig;
        if (rs.factor <= 0 || rs.lowFreqFactor <= 0 || rs.highFreqFactor <= rs.lowFreqFactor || rs.originalMaxPositions <= 0) {
            return Error{where + "rope_scaling: inconsistent llama3 parameters"};
        }
        return rs;
    }
    return Error{where + "unsupported rope_scaling type '" + type + "' (supported: linear, llama3)"};
}

}  // namespace

std::string_view architectureName(Architecture a) {
    switch (a) {
        case Architecture::Llama: return "llama";
        case Architecture::Mistral: return "mistral";
        case Architecture::Qwen2: return "qwen2";
        case Architecture::Olmo: return "olmo";
        case Architecture::Phi3: return "phi3";
    }
    return "?";
}

std::string supportedArchitectureList() { return "llama, mistral, qwen2, olmo, phi3"; }

Result<ModelConfig> ModelConfig::parse(const std::string& text, const std::string& fileName) {
    const std::string where = fileName + ": ";
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        return Error{where + "malformed JSON (" + std::string(e.what()) + ")"};
    }
    if (!j.is_object()) return Error{where + "not a JSON object"};
    Reader r{j, where};

    ModelConfig c;
    c.rawJson = text;
    c.modelType = r.optionalString("model_type");
    if (c.modelType.empty()) return Error{where + "missing field 'model_type' (supported: " + supportedArchitectureList() + ")"};
    if (c.modelType == "llama") c.architecture = Architecture::Llama;
    else if (c.modelType == "mistral") c.architecture = Architecture::Mistral;
    else if (c.modelType == "qwen2") c.architecture = Architecture::Qwen2;
    else if (c.modelType == "olmo") c.architecture = Architecture::Olmo;
    else if (c.modelType == "phi3") c.architecture = Architecture::Phi3;
    else return Error{where + "unknown model_type '" + c.modelType + "' (supported: " + supportedArchitectureList() + ")"};
    c.nameOrPath = r.optionalString("_name_or_path");
    c.torchDtype = r.optionalString("torch_dtype");

    auto hidden = r.requiredInt("hidden_size", kMaxHiddenSize);
    auto inter = r.requiredInt("intermediate_size", kMaxIntermediateSize);
    auto layers = r.requiredInt("num_hidden_layers", kMaxLayers);
    auto heads = r.requiredInt("num_attention_heads", kMaxHeads);
    auto vocab = r.requiredInt("vocab_size", kMaxVocabSize);
    for (auto* v : {&hidden, &inter, &layers, &heads, &vocab}) if (!*v) return v->error();
    c.hiddenSize = static_cast<int>(*hidden);
    c.intermediateSize = static_cast<int>(*inter);
    c.numLayers = static_cast<int>(*layers);
    c.numHeads = static_cast<int>(*heads);
    c.vocabSize = *vocab;
    auto kv = r.optionalInt("num_key_value_heads", c.numHeads, kMaxHeads);
    if (!kv) return kv.error();
    c.numKvHeads = static_cast<int>(*kv);
    if (c.numHeads % c.numKvHeads != 0) {
        return Error{where + "num_attention_heads (" + std::to_string(c.numHeads) + ") is not a multiple of num_key_value_heads (" +
                     std::to_string(c.numKvHeads) + ")"};
    }
    const bool hasHeadDim = j.contains("head_dim") && !j["head_dim"].is_null();
    if (!hasHeadDim && c.hiddenSize % c.numHeads != 0) {
        return Error{where + "hidden_size (" + std::to_string(c.hiddenSize) + ") is not a multiple of num_attention_heads"};
    }
    auto headDim = r.optionalInt("head_dim", c.hiddenSize / std::max(1, c.numHeads), kMaxHeadDim);
    if (!headDim) return headDim.error();
    c.headDim = static_cast<int>(*headDim);
    if (c.headDim % 2 != 0) return Error{where + "head_dim must be even for rotary embeddings (got " + std::to_string(c.headDim) + ")"};
    auto maxPos = r.optionalInt("max_position_embeddings", 2048, kMaxPositions);
    if (!maxPos) return maxPos.error();
    c.maxPositionEmbeddings = *maxPos;

    auto eps = r.optionalNumber("rms_norm_eps", 1e-6);
    auto theta = r.optionalNumber("rope_theta", 10000.0);
    auto tie = r.optionalBool("tie_word_embeddings", false);
    for (auto* v : {&eps, &theta}) if (!*v) return v->error();
    if (!tie) return tie.error();
    c.normEps = *eps;
    c.ropeTheta = *theta;
    c.tieWordEmbeddings = *tie;
    if (c.ropeTheta <= 0) return Error{where + "field 'rope_theta' must be > 0"};

    auto rs = parseRopeScaling(j, where);
    if (!rs) return rs.error();
    c.ropeScaling = *rs;

    const std::string act = r.optionalString("hidden_act");
    if (!act.empty() && act != "silu" && act != "swish") {
        return Error{where + "unsupported hidden_act '" + act + "' (supported: silu)"};
    }
    auto attnBias = r.optionalBool("attention_bias", false);
    if (!attnBias) return attnBias.error();
    auto mlpBias = r.optionalBool("mlp_bias", false);
    if (!mlpBias) return mlpBias.error();
    if (*mlpBias) return Error{where + "mlp_bias=true is not supported"};
    c.qkvBias = *attnBias;
    c.oBias = *attnBias;

    switch (c.architecture) {
        case Architecture::Llama:
            break;
        case Architecture::Mistral: {
            auto sw = r.optionalInt("sliding_window", 0, kMaxPositions, 0);
            if (!sw) return sw.error();
            if (*sw > 0) c.slidingWindow = static_cast<int>(*sw);
            break;
        }
        case Architecture::Qwen2: {
            // Qwen2 always has q/k/v biases and no o_proj bias.
            c.qkvBias = true;
            c.oBias = false;
            auto use = r.optionalBool("use_sliding_window", false);
            if (!use) return use.error();
            if (*use) {
                auto sw = r.optionalInt("sliding_window", 0, kMaxPositions, 0);
                auto mw = r.optionalInt("max_window_layers", 0, kMaxLayers, 0);
                if (!sw) return sw.error();
                if (!mw) return mw.error();
                if (*sw > 0 && *mw < c.numLayers) {
                    return Error{where + "use_sliding_window with max_window_layers < num_hidden_layers is not supported"};
                }
            }
            break;
        }
        case Architecture::Olmo: {
            // OLMo's LayerNorm has no parameters and a fixed eps of 1e-5 (HF OlmoLayerNorm).
            c.normKind = NormKind::NonParametricLayerNorm;
            c.normEps = 1e-5;
            auto clip = r.optionalNumber("clip_qkv", -1.0);
            if (!clip) return clip.error();
            if (*clip > 0) c.clipQkv = *clip;
            else if (j.contains("clip_qkv") && !j["clip_qkv"].is_null()) return Error{where + "field 'clip_qkv' must be > 0 or null"};
            break;
        }
        case Architecture::Phi3: {
            c.fusedQkv = true;
            c.fusedGateUp = true;
            const auto it = j.find("partial_rotary_factor");
            if (it != j.end() && !it->is_null() && (!it->is_number() || it->get<double>() != 1.0)) {
                return Error{where + "partial_rotary_factor != 1 is not supported"};
            }
            auto sw = r.optionalInt("sliding_window", 0, kMaxPositions, 0);
            if (!sw) return sw.error();
            if (*sw > 0) c.slidingWindow = static_cast<int>(*sw);
            break;
        }
    }
    c.bosTokenId = r.tokenId("bos_token_id");
    c.eosTokenId = r.tokenId("eos_token_id");
    return c;
}

Result<ModelConfig> ModelConfig::load(const std::filesystem::path& path) {
    auto text = readRegularFile(path, kMaxConfigBytes);
    if (!text) return text.error();
    return parse(*text, path.string());
}

}  // namespace superlens::core
