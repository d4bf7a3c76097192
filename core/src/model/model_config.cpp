#include "superlens/core/model/model_config.h"
#include "superlens/core/model/mapped_file.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "families.h"

namespace superlens::core {

using nlohmann::json;

Result<std::int64_t> ConfigReader::requiredInt(const char* key, std::int64_t maxValue, std::int64_t minValue) const {
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

Result<double> ConfigReader::optionalNumber(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j[key];
    if (!v.is_number()) return Error{where + "field '" + key + "' must be a number"};
    const double d = v.get<double>();
    if (!std::isfinite(d)) return Error{where + "field '" + key + "' must be finite"};
    return d;
}

Result<bool> ConfigReader::optionalBool(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j[key];
    if (!v.is_boolean()) return Error{where + "field '" + key + "' must be true or false"};
    return v.get<bool>();
}

Result<std::optional<double>> ConfigReader::optionalPositive(const char* key) const {
    if (!has(key)) return std::optional<double>();
    auto v = optionalNumber(key, 0);
    if (!v) return v.error();
    if (*v <= 0) return Error{where + "field '" + std::string(key) + "' must be > 0 or null"};
    return std::optional<double>(*v);
}

Result<RopeScaling> parseRopeScaling(const json& j, const std::string& where) {
    RopeScaling rs;
    const auto it = j.find("rope_scaling");
    if (it == j.end() || it->is_null()) return rs;
    if (!it->is_object()) return Error{where + "field 'rope_scaling' must be an object or null"};
    std::string type;
    if (it->contains("rope_type") && (*it)["rope_type"].is_string()) type = (*it)["rope_type"].get<std::string>();
    else if (it->contains("type") && (*it)["type"].is_string()) type = (*it)["type"].get<std::string>();
    ConfigReader r{*it, where + "rope_scaling: "};
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



std::string_view activationName(Activation a) {
    switch (a) {
        case Activation::Silu: return "silu";
        case Activation::Gelu: return "gelu";
        case Activation::GeluTanh: return "gelu_tanh";
        case Activation::QuickGelu: return "quick_gelu";
    }
    return "?";
}

std::string ModelConfig::blockSummary() const {
    std::string s = layout == BlockLayout::Parallel ? (sharedParallelNorm ? "parallel (shared norm)" : "parallel") : "sequential";
    if (!causal) s = "bidirectional encoder, " + s;
    if (postNorm) s += " post-LN";
    switch (normKind) {
        case NormKind::RmsNorm: s += ", RMSNorm"; break;
        case NormKind::RmsNormUnitOffset: s += ", RMSNorm (1+w)"; break;
        case NormKind::LayerNorm: s += ", LayerNorm"; break;
        case NormKind::NonParametricLayerNorm: s += ", LayerNorm without parameters"; break;
    }
    if (sandwichNorms) s += " pre+post";
    if (positions == PositionKind::Learned) {
        s += ", learned positions";
        if (paddingIdx) s += " from " + std::to_string(*paddingIdx + 1);
    } else {
        s += ", rotary " + std::to_string(rotaryDim) + "/" + std::to_string(headDim) + (rotaryStyle == RotaryStyle::Interleaved ? " interleaved" : " rotate-half");
    }
    if (typeVocabSize > 0) s += ", token types";
    if (pixelInput) {
        s += ", " + std::to_string(patchSize) + "-pixel patches of a " + std::to_string(imageSize) + "-pixel image";
        if (numRegisters > 0) s += ", " + std::to_string(numRegisters) + " registers";
        if (layerScale) s += ", layer scale";
        if (embeddingNorm) s += ", pre-LN embeddings";
    }
    if (qkvLayout == QkvLayout::Fused) s += ", fused qkv";
    if (qkvLayout == QkvLayout::FusedPerHead) s += ", fused qkv per head";
    if (qkNorm) s += qkNormWhole ? ", QK-norm (whole projection)" : ", QK-norm";
    if (attnSoftcap) s += ", attention soft-cap";
    if (slidingWindow) s += ", sliding window " + std::to_string(*slidingWindow);
    s += mlpKind == MlpKind::Gated ? ", gated MLP " : ", MLP ";
    s += std::string(activationName(activation));
    if (hasExperts()) {
        int routed = 0;
        for (int l = 0; l < numLayers; ++l) routed += isExpertLayer(l);
        s += ", routed experts: top-" + std::to_string(experts.topK) + " of " + std::to_string(experts.count) + " (" +
             std::to_string(experts.intermediate) + " wide" + (experts.renormalize ? ", renormalised" : "") + ")";
        if (experts.sharedIntermediate > 0) s += " + shared expert " + std::to_string(experts.sharedIntermediate) + " wide, sigmoid gate";
        if (routed != numLayers) s += " in " + std::to_string(routed) + " of " + std::to_string(numLayers) + " layers";
    }
    if (finalSoftcap) s += ", logit soft-cap";
    if (headTransform) s += ", MLM head (dense, " + std::string(activationName(headActivation)) + ", LayerNorm)";
    if (conv1dWeights) s += ", Conv1D weights [in, out]";
    return s;
}

std::string supportedArchitectureList() {
    std::string out;
    for (const FamilyRecipe& f : familyTable()) out += (out.empty() ? "" : ", ") + std::string(f.modelType);
    return out;
}

Result<ModelConfig> ModelConfig::parse(const std::string& text, const std::string& fileName) {
    const std::string where = fileName + ": ";
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        return Error{where + "malformed JSON (" + std::string(e.what()) + ")"};
    }
    if (!j.is_object()) return Error{where + "not a JSON object"};
    ConfigReader r{j, where};

    ModelConfig c;
    c.rawJson = text;
    c.modelType = r.optionalString("model_type");
    if (c.modelType.empty()) return Error{where + "missing field 'model_type' (supported: " + supportedArchitectureList() + ")"};
    const FamilyRecipe* family = findFamily(c.modelType);
    if (!family) return Error{where + "unknown model_type '" + c.modelType + "' (supported: " + supportedArchitectureList() + ")"};
    c.familyName = std::string(family->displayName);
    c.nameOrPath = r.optionalString("_name_or_path");
    c.torchDtype = r.optionalString("torch_dtype");
    c.bosTokenId = r.tokenId("bos_token_id");
    c.eosTokenId = r.tokenId("eos_token_id");
    SL_TRY(family->configure(r, c));

    // Shared consistency checks, whatever the family.
    if (c.numHeads % c.numKvHeads != 0) {
        return Error{where + "num_attention_heads (" + std::to_string(c.numHeads) + ") is not a multiple of num_key_value_heads (" +
                     std::to_string(c.numKvHeads) + ")"};
    }
    if (c.positions == PositionKind::Rotary) {
        if (c.rotaryDim <= 0 || c.rotaryDim > c.headDim || c.rotaryDim % 2 != 0) {
            return Error{where + "rotary dimension " + std::to_string(c.rotaryDim) + " must be even and in [2, head_dim " +
                         std::to_string(c.headDim) + "]"};
        }
        if (c.ropeTheta <= 0) return Error{where + "field 'rope_theta' must be > 0"};
    }
    if (!(c.normEps > 0) || !std::isfinite(c.normEps)) return Error{where + "the norm epsilon must be > 0"};
    if (c.attentionScale == 0) c.attentionScale = 1.0 / std::sqrt(static_cast<double>(c.headDim));
    if (!c.slidingLayers.empty() && static_cast<int>(c.slidingLayers.size()) != c.numLayers) {
        return Error{where + "layer_types has " + std::to_string(c.slidingLayers.size()) + " entries for " + std::to_string(c.numLayers) + " layers"};
    }
    return c;
}

Result<ModelConfig> ModelConfig::load(const std::filesystem::path& path) {
    auto text = readRegularFile(path, kMaxConfigBytes);
    if (!text) return text.error();
    return parse(*text, path.string());
}

}  // namespace superlens::core
