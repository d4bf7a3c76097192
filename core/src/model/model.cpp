#include "superlens/core/model/model.h"
#include "superlens/core/model/mapped_file.h"

#include <set>

#include <nlohmann/json.hpp>

#include "superlens/core/model/fnv64.h"
#include "superlens/core/model/shard_index.h"

#include "families.h"

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
    if (gguf && (quantized || qkHeads > 0)) {
        // Dequantize the one block holding element (r, c) of the stored row.
        const std::int64_t c = i % cols(), r = storedRow(i / cols());
        const GgmlTypeInfo& t = gguf->typeInfo();
        float block[256];
        SL_ASSERT(t.blockElements <= 256);
        dequantizeRow(gguf->type, gguf->row(r) + (c / t.blockElements) * t.blockBytes, block, t.blockElements);
        return block[c % t.blockElements];
    }
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
    if (!fs::exists(folderIn, ec)) return Error{folderIn.string() + ": no such model folder or GGUF file"};
    if (fs::is_regular_file(folderIn, ec) && folderIn.extension() == ".gguf") {
        auto model = std::shared_ptr<Model>(new Model());
        model->m_folder = folderIn;
        SL_TRY(model->indexGguf(folderIn));
        SL_TRY(model->validateArchitecture());
        Fnv64 fp;
        fp.add(model->m_gguf->headerBytes());
        fp.add(static_cast<std::uint64_t>(model->m_gguf->fileSize()));
        model->m_fingerprint = fp.hex();
        return std::shared_ptr<const Model>(std::move(model));
    }
    if (!fs::is_directory(folderIn, ec)) {
        return Error{folderIn.string() + ": not a folder (expected a Hugging Face model folder or a .gguf file)"};
    }
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
        auto parsed = parseShardIndex(*text, index.string());
        if (!parsed) return parsed.error();
        nameToFile = std::move(parsed).value();
        std::set<std::string> shardNames;
        for (const auto& [name, shard] : nameToFile) shardNames.insert(shard);
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

std::string Model::weightName(std::string_view pattern, int layer, int expert) const {
    std::string out;
    out.reserve(pattern.size() + 16);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern.substr(i, 3) == "{m}") {
            out += m_prefix;
            i += 2;
        } else if (pattern.substr(i, 3) == "{L}") {
            out += std::to_string(layer);
            i += 2;
        } else if (pattern.substr(i, 3) == "{E}") {
            out += std::to_string(expert);
            i += 2;
        } else {
            out += pattern[i];
        }
    }
    return out;
}

std::string Model::layerWeightName(int layer, LayerWeight w) const {
    if (w == LayerWeight::Count || !roleUsedInLayer(m_config, w, layer)) return "";
    const FamilyRecipe* family = findFamily(m_config.modelType);
    const std::string_view pattern = family->names->layer[static_cast<std::size_t>(w)];
    return pattern.empty() ? std::string() : weightName(pattern, layer);
}

std::string Model::expertWeightName(int layer, int expert, ExpertWeight w) const {
    if (w == ExpertWeight::Count || layer < 0 || layer >= m_config.numLayers || !m_config.isExpertLayer(layer)) return "";
    if (expert < 0 || expert >= m_config.experts.count) return "";
    const FamilyRecipe* family = findFamily(m_config.modelType);
    const std::string_view pattern = family->names->expert[static_cast<std::size_t>(w)];
    return pattern.empty() ? std::string() : weightName(pattern, layer, expert);
}

const TensorView* Model::layerWeight(int layer, LayerWeight w) const {
    const std::string name = layerWeightName(layer, w);
    return name.empty() ? nullptr : tensor(name);
}

std::string Model::modelWeightName(ModelWeight w) const {
    if (w == ModelWeight::Count || !roleUsed(m_config, w)) return "";
    if (w == ModelWeight::LmHead && m_config.tieWordEmbeddings) return modelWeightName(ModelWeight::Embed);
    const FamilyRecipe* family = findFamily(m_config.modelType);
    const std::string_view pattern = family->names->model[static_cast<std::size_t>(w)];
    return pattern.empty() ? std::string() : weightName(pattern, -1);
}

std::string Model::canonicalTensorName(const std::string& name) const {
    const auto it = m_ggufToHf.find(name);
    return it == m_ggufToHf.end() ? name : it->second;
}

std::string Model::ggufName(const std::string& huggingFaceName) const {
    const auto it = m_hfToGguf.find(huggingFaceName);
    return it == m_hfToGguf.end() ? std::string() : it->second;
}

const TensorRole* Model::tensorRole(const std::string& name) const {
    const auto it = m_roles.find(name);
    return it == m_roles.end() ? nullptr : &it->second;
}

int Model::tensorLayer(const std::string& name) const {
    const TensorRole* r = tensorRole(name);
    return r ? r->layer : -1;
}

std::string Model::layerTensorPattern() const {
    const FamilyRecipe* family = findFamily(m_config.modelType);
    const std::string down(family->names->layer[static_cast<std::size_t>(LayerWeight::Down)]);
    // Everything of the layer pattern up to "{L}", then '*'.
    return weightName(down.substr(0, down.find("{L}")), -1) + "*";
}

Status Model::validateArchitecture() {
    const ModelConfig& c = m_config;
    const FamilyRecipe* family = findFamily(c.modelType);
    SL_ASSERT(family != nullptr);
    // The checkpoint's prefix: the first candidate whose embedding exists.
    const ModelWeight probe = c.pixelInput ? ModelWeight::PatchEmbed : ModelWeight::Embed;
    const std::string_view embedPattern = family->names->model[static_cast<std::size_t>(probe)];
    m_prefix = std::string(family->names->prefixes.front());
    for (std::string_view p : family->names->prefixes) {
        const std::string saved = m_prefix;
        m_prefix = std::string(p);
        if (m_tensors.count(weightName(embedPattern, -1))) break;
        m_prefix = saved;
    }

    const std::int64_t d = c.hiddenSize, f = c.intermediateSize, hd = c.headDim;
    const std::int64_t qRows = c.numHeads * hd, kvRows = c.numKvHeads * hd;

    auto require = [&](const std::string& name, std::vector<std::int64_t> shape, TensorRole role) -> Status {
        const auto it = m_tensors.find(name);
        if (it == m_tensors.end()) {
            return Error{m_folder.string() + ": required tensor '" + name + "' is missing (model_type " + c.modelType + ")"};
        }
        const TensorView& v = it->second;
        const std::string file = v.file ? v.file->path().string() : m_folder.string();
        if (v.gguf) {
            if (!canDequantize(v.gguf->type)) {
                return Error{file + ": tensor '" + v.gguf->name + "' has type " + std::string(ggmlTypeName(v.gguf->type)) + " (supported: " +
                             std::string(dequantizableTypeList()) + ")"};
            }
        } else if (const TensorInfo* info = v.file->find(name); !info->dtype) {
            return Error{file + ": tensor '" + name + "' has dtype " + info->dtypeName + " (supported: F32, F16, BF16)"};
        }
        role.storedTransposed = role.matrix && c.conv1dWeights;
        if (role.storedTransposed) std::swap(shape[0], shape[1]);
        if (v.shape != shape) {
            return Error{file + ": tensor '" + (v.gguf ? v.gguf->name : name) + "' has shape " + shapeString(v.shape) + " but " +
                         (v.gguf ? "the metadata implies " : "config.json implies ") + shapeString(shape)};
        }
        m_roles[name] = role;
        return {};
    };

    // Shapes per role, as Hugging Face Linear layers ([out, in]).
    auto layerShape = [&](LayerWeight w) -> std::vector<std::int64_t> {
        switch (w) {
            case LayerWeight::AttnNorm: case LayerWeight::AttnNormBias: case LayerWeight::MlpNorm: case LayerWeight::MlpNormBias:
            case LayerWeight::AttnPostNorm: case LayerWeight::MlpPostNorm: case LayerWeight::OBias: case LayerWeight::DownBias:
            case LayerWeight::AttnScale: case LayerWeight::MlpScale:
                return {d};
            case LayerWeight::QNorm: case LayerWeight::QNormBias: return {c.qkNormWhole ? qRows : hd};
            case LayerWeight::KNorm: case LayerWeight::KNormBias: return {c.qkNormWhole ? kvRows : hd};
            case LayerWeight::Q: return {qRows, d};
            case LayerWeight::K: case LayerWeight::V: return {kvRows, d};
            case LayerWeight::Qkv: return {qRows + 2 * kvRows, d};
            case LayerWeight::QBias: return {qRows};
            case LayerWeight::KBias: case LayerWeight::VBias: return {kvRows};
            case LayerWeight::QkvBias: return {qRows + 2 * kvRows};
            case LayerWeight::O: return {d, qRows};
            case LayerWeight::Gate: case LayerWeight::Up: return {f, d};
            case LayerWeight::GateUp: return {2 * f, d};
            case LayerWeight::UpBias: return {f};
            case LayerWeight::Down: return {d, f};
            case LayerWeight::Router: return {c.experts.count, d};
            case LayerWeight::SharedGate: case LayerWeight::SharedUp: return {c.experts.sharedIntermediate, d};
            case LayerWeight::SharedDown: return {d, c.experts.sharedIntermediate};
            case LayerWeight::SharedExpertGate: return {1, d};
            case LayerWeight::Count: break;
        }
        return {};
    };
    auto isMatrix = [](LayerWeight w) {
        switch (w) {
            case LayerWeight::Q: case LayerWeight::K: case LayerWeight::V: case LayerWeight::Qkv: case LayerWeight::O:
            case LayerWeight::Gate: case LayerWeight::Up: case LayerWeight::GateUp: case LayerWeight::Down:
            case LayerWeight::SharedGate: case LayerWeight::SharedUp: case LayerWeight::SharedDown:
                return true;  // (the router and the shared expert's gate stay out of quantization patterns)
            default:
                return false;
        }
    };

    auto modelRole = [](ModelWeight w) { return TensorRole{-1, LayerWeight::Count, w}; };
    if (c.positions == PositionKind::Learned) {
        std::vector<std::int64_t> shape{c.maxPositionEmbeddings, d};
        if (c.posEmbedBatchDim) shape.insert(shape.begin(), 1);
        SL_TRY(require(modelWeightName(ModelWeight::PosEmbed), shape, modelRole(ModelWeight::PosEmbed)));
    }
    if (c.pixelInput) {
        SL_TRY(require(modelWeightName(ModelWeight::PatchEmbed), {d, c.numChannels, c.patchSize, c.patchSize}, modelRole(ModelWeight::PatchEmbed)));
        if (c.patchBias) SL_TRY(require(modelWeightName(ModelWeight::PatchEmbedBias), {d}, modelRole(ModelWeight::PatchEmbedBias)));
        SL_TRY(require(modelWeightName(ModelWeight::ClsToken), c.clsTokenBatchDim ? std::vector<std::int64_t>{1, 1, d} : std::vector<std::int64_t>{d},
                       modelRole(ModelWeight::ClsToken)));
        if (c.numRegisters > 0) {
            SL_TRY(require(modelWeightName(ModelWeight::RegisterTokens), {1, c.numRegisters, d}, modelRole(ModelWeight::RegisterTokens)));
        }
    } else {
        SL_TRY(require(modelWeightName(ModelWeight::Embed), {c.vocabSize, d}, modelRole(ModelWeight::Embed)));
    }
    for (int l = 0; l < c.numLayers; ++l) {
        for (int i = 0; i < kLayerWeightCount; ++i) {
            const auto w = static_cast<LayerWeight>(i);
            const std::string name = layerWeightName(l, w);
            if (name.empty()) continue;
            SL_TRY(require(name, layerShape(w), {l, w, ModelWeight::Count, -1, ExpertWeight::Count, isMatrix(w)}));
        }
        if (!c.isExpertLayer(l)) continue;
        const std::int64_t fe = c.experts.intermediate;
        for (int e = 0; e < c.experts.count; ++e) {
            for (ExpertWeight w : {ExpertWeight::Gate, ExpertWeight::Up, ExpertWeight::Down}) {
                std::vector<std::int64_t> shape = w == ExpertWeight::Down ? std::vector<std::int64_t>{d, fe} : std::vector<std::int64_t>{fe, d};
                SL_TRY(require(expertWeightName(l, e, w), std::move(shape), {l, LayerWeight::Count, ModelWeight::Count, e, w, true}));
            }
        }
    }
    for (ModelWeight w : {ModelWeight::FinalNorm, ModelWeight::FinalNormBias, ModelWeight::EmbedNorm, ModelWeight::EmbedNormBias,
                          ModelWeight::HeadDenseBias}) {
        const std::string name = modelWeightName(w);
        if (!name.empty()) SL_TRY(require(name, {d}, {-1, LayerWeight::Count, w}));
    }
    if (c.typeVocabSize > 0) {
        SL_TRY(require(modelWeightName(ModelWeight::TokenTypeEmbed), {c.typeVocabSize, d}, {-1, LayerWeight::Count, ModelWeight::TokenTypeEmbed}));
    }
    if (c.headTransform) SL_TRY(require(modelWeightName(ModelWeight::HeadDense), {d, d}, {-1, LayerWeight::Count, ModelWeight::HeadDense}));
    if (!c.tieWordEmbeddings && !c.pixelInput) SL_TRY(require(modelWeightName(ModelWeight::LmHead), {c.vocabSize, d}, {-1, LayerWeight::Count, ModelWeight::LmHead}));
    if (c.lmHeadBias) SL_TRY(require(modelWeightName(ModelWeight::LmHeadBias), {c.vocabSize}, {-1, LayerWeight::Count, ModelWeight::LmHeadBias}));

    const std::string finalNorm = modelWeightName(ModelWeight::FinalNorm);
    m_finalNorm = finalNorm.empty() ? nullptr : &m_tensors.at(finalNorm);
    if (!c.pixelInput) {
        m_embedding = &m_tensors.at(modelWeightName(ModelWeight::Embed));
        m_lmHead = &m_tensors.at(modelWeightName(ModelWeight::LmHead));
    }

    for (const auto& [name, role] : m_roles) {
        const TensorView& v = m_tensors.at(name);
        m_parameterCount += v.elementCount();
        if (!v.quantized) m_paramsByDtype[v.dtype] += v.elementCount();
        m_paramsByStorage[std::string(v.storageName())] += v.elementCount();
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
