#include "superlens/core/analysis/published_coordinates.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "superlens/core/analysis/bundled_resources.h"

namespace superlens::core {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// "org/name" -> "name"
std::string baseName(const std::string& repo) {
    const auto slash = repo.rfind('/');
    return slash == std::string::npos ? repo : repo.substr(slash + 1);
}

bool shapeMatches(const PublishedModel& m, const ModelConfig& c) {
    if (m.hiddenSize == 0 && m.numLayers == 0) return false;  // no shape given: name-only entry
    if (!m.modelType.empty() && lower(m.modelType) != lower(c.modelType)) return false;
    if (m.hiddenSize && m.hiddenSize != c.hiddenSize) return false;
    if (m.intermediateSize && m.intermediateSize != c.intermediateSize) return false;
    if (m.numLayers && m.numLayers != c.numLayers) return false;
    if (m.vocabSize && m.vocabSize != c.vocabSize) return false;
    if (m.maxPositionEmbeddings && m.maxPositionEmbeddings != c.maxPositionEmbeddings) return false;
    return true;
}

}  // namespace

Result<PublishedCoordinates> PublishedCoordinates::parse(const std::string& jsonText, const std::string& name) {
    PublishedCoordinates table;
    try {
        const nlohmann::json j = nlohmann::json::parse(jsonText);
        if (!j.is_object() || !j.contains("models") || !j["models"].is_array()) return Error{name + ": expected an object with a \"models\" list"};
        for (const auto& e : j["models"]) {
            PublishedModel m;
            m.name = e.at("name").get<std::string>();
            if (e.contains("repositories")) m.repositories = e["repositories"].get<std::vector<std::string>>();
            if (e.contains("shape")) {
                const auto& s = e["shape"];
                m.modelType = s.value("model_type", "");
                m.hiddenSize = s.value("hidden_size", 0);
                m.intermediateSize = s.value("intermediate_size", 0);
                m.numLayers = s.value("num_hidden_layers", 0);
                m.vocabSize = s.value("vocab_size", std::int64_t{0});
                m.maxPositionEmbeddings = s.value("max_position_embeddings", std::int64_t{0});
            }
            for (const auto& sw : e.value("super_weights", nlohmann::json::array())) {
                if (!sw.is_array() || sw.size() != 3) return Error{name + ": " + m.name + ": a super weight must be [layer, row, col]"};
                SuperWeightCoord c{sw[0].get<int>(), sw[1].get<std::int64_t>(), sw[2].get<std::int64_t>()};
                if (c.layer < 0 || c.row < 0 || c.col < 0) return Error{name + ": " + m.name + ": negative coordinate"};
                if ((m.numLayers && c.layer >= m.numLayers) || (m.hiddenSize && c.row >= m.hiddenSize) ||
                    (m.intermediateSize && c.col >= m.intermediateSize)) {
                    return Error{name + ": " + m.name + ": super weight outside the model's shape"};
                }
                m.superWeights.push_back(c);
            }
            for (const auto& ch : e.value("massive_channels", nlohmann::json::array())) m.massiveChannels.push_back(ch.get<std::int64_t>());
            m.source = e.value("source", "");
            m.note = e.value("note", "");
            table.m_models.push_back(std::move(m));
        }
    } catch (const nlohmann::json::exception& ex) {
        return Error{name + ": " + ex.what()};
    }
    return table;
}

const PublishedCoordinates& PublishedCoordinates::bundled() {
    static const PublishedCoordinates s_table = [] {
        auto t = parse(std::string(bundledPublishedCoordinatesText()), "resources/published/super_weights.json");
        // The bundled table is checked by tests; a broken build resource is a programmer error.
        SL_ASSERT(t.ok());
        return std::move(t).value();
    }();
    return s_table;
}

std::optional<PublishedMatch> PublishedCoordinates::match(const ModelConfig& config, const std::string& folderName) const {
    // Name first: the longest repository base name contained in _name_or_path
    // or the folder name wins ("llama-2-7b" over "llama-7b" cannot clash, but
    // "mistral-7b-instruct-v0.1" vs "mistral-7b-v0.1" could).
    const std::string hay = lower(config.nameOrPath) + "\n" + lower(folderName);
    const PublishedModel* best = nullptr;
    std::size_t bestLen = 0;
    for (const auto& m : m_models) {
        for (const auto& repo : m.repositories) {
            const std::string key = lower(baseName(repo));
            if (!key.empty() && hay.find(key) != std::string::npos && key.size() > bestLen) {
                best = &m;
                bestLen = key.size();
            }
        }
    }
    if (best) return PublishedMatch{best, "name"};
    const PublishedModel* shape = nullptr;
    for (const auto& m : m_models) {
        if (!shapeMatches(m, config)) continue;
        if (shape) return std::nullopt;  // ambiguous
        shape = &m;
    }
    if (shape) return PublishedMatch{shape, "shape"};
    return std::nullopt;
}

}  // namespace superlens::core
