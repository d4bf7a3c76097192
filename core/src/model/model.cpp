#include "superlens/core/model/model.h"
#include "superlens/core/model/mapped_file.h"

#include <set>

#include <nlohmann/json.hpp>

#include "superlens/core/model/fnv64.h"

namespace superlens::core {
namespace fs = std::filesystem;
namespace {

std::string shapeString(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

std::int64_t TensorView::elementCount() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

float TensorView::at(std::int64_t i) const {
    switch (dtype) {
        case DType::F32: {
            float v;
            std::memcpy(&v, data + 4 * i, 4);
            return v;
        }
        case DType::F16: {
            std::uint16_t b;
            std::memcpy(&b, data + 2 * i, 2);
            return f16ToFloat(b);
        }
        case DType::BF16: {
            std::uint16_t b;
            std::memcpy(&b, data + 2 * i, 2);
            return bf16ToFloat(b);
        }
    }
    return 0.0f;
}

Result<std::shared_ptr<const Model>> Model::open(const fs::path& folderIn) {
    std::error_code ec;
    if (!fs::exists(folderIn, ec)) return Error{folderIn.string() + ": no such model folder"};
    if (!fs::is_directory(folderIn, ec)) return Error{folderIn.string() + ": not a folder (expected a Hugging Face model folder)"};
    auto model = std::shared_ptr<Model>(new Model());
    model->m_folder = folderIn;

    const fs::path configPath = folderIn / "config.json";
    if (!fs::exists(configPath, ec)) return Error{configPath.string() + ": missing (a model folder needs config.json)"};
    auto config = ModelConfig::load(configPath);
    if (!config) return config.error();
    model->m_config = std::move(config).value();

    SL_TRY(model->indexTensors());
    SL_TRY(model->validateArchitecture());

    Fnv64 fp;
    fp.add(model->m_config.rawJson);
    for (const auto& f : model->m_files) {
        fp.add(f->headerBytes());
        fp.add(static_cast<std::uint64_t>(f->fileSize()));
    }
    model->m_fingerprint = fp.hex();
    return std::shared_ptr<const Model>(std::move(model));
}

Status Model::indexTensors() {
    std::error_code ec;
    const fs::path single = m_folder / "model.safetensors";
    const fs::path index = m_folder / "model.safetensors.index.json";
    std::map<std::string, std::string> nameToFile;  // for sharded checkpoints

    if (fs::exists(index, ec)) {
        auto text = readRegularFile(index, kMaxConfigBytes);
        if (!text) return text.error();
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(*text);
        } catch (const nlohmann::json::exception& e) {
            return Error{index.string() + ": malformed JSON (" + std::string(e.what()) + ")"};
        }
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
            return Error{index.string() + ": missing object 'weight_map'"};
        }
        std::set<std::string> shardNames;
        for (const auto& [name, file] : j["weight_map"].items()) {
            if (!file.is_string()) return Error{index.string() + ": weight_map entry '" + name + "' is not a file name"};
            const std::string shard = file.get<std::string>();
            // Shards must be plain file names inside the folder (no ../ escapes).
            if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos || shard == "." || shard == "..") {
                return Error{index.string() + ": shard name '" + shard + "' is not a plain file name"};
            }
            nameToFile[name] = shard;
            shardNames.insert(shard);
        }
        if (shardNames.empty()) return Error{index.string() + ": weight_map is empty"};
        for (const auto& shard : shardNames) {
            const fs::path p = m_folder / shard;
            if (!fs::exists(p, ec)) return Error{p.string() + ": shard listed in model.safetensors.index.json is missing"};
            auto f = SafetensorsFile::open(p);
            if (!f) return f.error();
            m_files.push_back(std::move(f).value());
            m_weightFiles.push_back(p);
        }
    } else if (fs::exists(single, ec)) {
        auto f = SafetensorsFile::open(single);
        if (!f) return f.error();
        m_files.push_back(std::move(f).value());
        m_weightFiles.push_back(single);
    } else {
        return Error{m_folder.string() + ": no model.safetensors or model.safetensors.index.json"};
    }

    for (const auto& f : m_files) {
        m_checkpointBytes += f->fileSize();
        for (const auto& [name, info] : f->tensors()) {
            if (!nameToFile.empty()) {
                const auto it = nameToFile.find(name);
                if (it == nameToFile.end() || it->second != f->path().filename().string()) continue;  // not the indexed copy
            }
            if (m_tensors.count(name)) {
                return Error{f->path().string() + ": tensor '" + name + "' also appears in another shard"};
            }
            TensorView v;
            v.shape = info.shape;
            v.data = f->data(info);
            v.file = f.get();
            if (info.dtype) v.dtype = *info.dtype;
            else v.dtype = DType::F32;  // placeholder: rejected below if the model uses it
            auto [it, inserted] = m_tensors.emplace(name, std::move(v));
            it->second.name = &it->first;
        }
    }
    for (const auto& [name, shard] : nameToFile) {
        if (!m_tensors.count(name)) {
            return Error{(m_folder / shard).string() + ": tensor '" + name + "' listed in the index is not in this shard"};
        }
    }
    return {};
}

std::string Model::layerWeightName(int layer, LayerWeight w) const {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const ModelConfig& c = m_config;
    const bool olmo = c.normKind == NormKind::NonParametricLayerNorm;
    switch (w) {
        case LayerWeight::InputNorm: return olmo ? "" : p + "input_layernorm.weight";
        case LayerWeight::PostAttentionNorm: return olmo ? "" : p + "post_attention_layernorm.weight";
        case LayerWeight::Q: return c.fusedQkv ? "" : p + "self_attn.q_proj.weight";
        case LayerWeight::K: return c.fusedQkv ? "" : p + "self_attn.k_proj.weight";
        case LayerWeight::V: return c.fusedQkv ? "" : p + "self_attn.v_proj.weight";
        case LayerWeight::Qkv: return c.fusedQkv ? p + "self_attn.qkv_proj.weight" : "";
        case LayerWeight::QBias: return c.qkvBias && !c.fusedQkv ? p + "self_attn.q_proj.bias" : "";
        case LayerWeight::KBias: return c.qkvBias && !c.fusedQkv ? p + "self_attn.k_proj.bias" : "";
        case LayerWeight::VBias: return c.qkvBias && !c.fusedQkv ? p + "self_attn.v_proj.bias" : "";
        case LayerWeight::O: return p + "self_attn.o_proj.weight";
        case LayerWeight::OBias: return c.oBias ? p + "self_attn.o_proj.bias" : "";
        case LayerWeight::Gate: return c.fusedGateUp ? "" : p + "mlp.gate_proj.weight";
        case LayerWeight::Up: return c.fusedGateUp ? "" : p + "mlp.up_proj.weight";
        case LayerWeight::GateUp: return c.fusedGateUp ? p + "mlp.gate_up_proj.weight" : "";
        case LayerWeight::Down: return p + "mlp.down_proj.weight";
    }
    return "";
}

const TensorView* Model::layerWeight(int layer, LayerWeight w) const {
    const std::string name = layerWeightName(layer, w);
    return name.empty() ? nullptr : tensor(name);
}

Status Model::validateArchitecture() {
    const ModelConfig& c = m_config;
    const std::int64_t d = c.hiddenSize, f = c.intermediateSize, hd = c.headDim;
    const std::int64_t qRows = c.numHeads * hd, kvRows = c.numKvHeads * hd;
    std::set<std::string> used;

    auto require = [&](const std::string& name, std::vector<std::int64_t> shape) -> Status {
        const auto it = m_tensors.find(name);
        if (it == m_tensors.end()) {
            return Error{m_folder.string() + ": required tensor '" + name + "' is missing (model_type " + c.modelType + ")"};
        }
        const TensorView& v = it->second;
        const std::string file = v.file->path().string();
        const TensorInfo* info = v.file->find(name);
        if (!info->dtype) {
            return Error{file + ": tensor '" + name + "' has dtype " + info->dtypeName + " (supported: F32, F16, BF16)"};
        }
        if (v.shape != shape) {
            return Error{file + ": tensor '" + name + "' has shape " + shapeString(v.shape) + " but config.json implies " + shapeString(shape)};
        }
        used.insert(name);
        return {};
    };

    SL_TRY(require("model.embed_tokens.weight", {c.vocabSize, d}));
    for (int l = 0; l < c.numLayers; ++l) {
        auto name = [&](LayerWeight w) { return layerWeightName(l, w); };
        if (c.normKind == NormKind::RmsNorm) {
            SL_TRY(require(name(LayerWeight::InputNorm), {d}));
            SL_TRY(require(name(LayerWeight::PostAttentionNorm), {d}));
        }
        if (c.fusedQkv) {
            SL_TRY(require(name(LayerWeight::Qkv), {qRows + 2 * kvRows, d}));
        } else {
            SL_TRY(require(name(LayerWeight::Q), {qRows, d}));
            SL_TRY(require(name(LayerWeight::K), {kvRows, d}));
            SL_TRY(require(name(LayerWeight::V), {kvRows, d}));
            if (c.qkvBias) {
                SL_TRY(require(name(LayerWeight::QBias), {qRows}));
                SL_TRY(require(name(LayerWeight::KBias), {kvRows}));
                SL_TRY(require(name(LayerWeight::VBias), {kvRows}));
            }
        }
        SL_TRY(require(name(LayerWeight::O), {d, qRows}));
        if (c.oBias) SL_TRY(require(name(LayerWeight::OBias), {d}));
        if (c.fusedGateUp) {
            SL_TRY(require(name(LayerWeight::GateUp), {2 * f, d}));
        } else {
            SL_TRY(require(name(LayerWeight::Gate), {f, d}));
            SL_TRY(require(name(LayerWeight::Up), {f, d}));
        }
        SL_TRY(require(name(LayerWeight::Down), {d, f}));
    }
    if (c.normKind == NormKind::RmsNorm) SL_TRY(require("model.norm.weight", {d}));
    if (!c.tieWordEmbeddings) SL_TRY(require("lm_head.weight", {c.vocabSize, d}));

    m_embedding = &m_tensors.at("model.embed_tokens.weight");
    m_finalNorm = c.normKind == NormKind::RmsNorm ? &m_tensors.at("model.norm.weight") : nullptr;
    m_lmHead = c.tieWordEmbeddings ? m_embedding : &m_tensors.at("lm_head.weight");

    for (const auto& [name, v] : m_tensors) {
        if (!used.count(name)) continue;  // extra tensors (e.g. rotary buffers) are not parameters we compute with
        m_parameterCount += v.elementCount();
        m_paramsByDtype[v.dtype] += v.elementCount();
    }
    return {};
}

const TensorView* Model::tensor(const std::string& name) const {
    const auto it = m_tensors.find(name);
    return it == m_tensors.end() ? nullptr : &it->second;
}

std::vector<std::string> Model::tensorNames() const {
    std::vector<std::string> out;
    out.reserve(m_tensors.size());
    for (const auto& [name, _] : m_tensors) out.push_back(name);
    return out;
}

DType Model::dominantDtype() const {
    DType best = DType::F32;
    std::int64_t most = -1;
    for (const auto& [dt, n] : m_paramsByDtype) {
        if (n > most) {
            most = n;
            best = dt;
        }
    }
    return best;
}

}  // namespace superlens::core
