#pragma once
// Published super-weight coordinates (Yu et al., 2024, Table 2 and the
// authors' code) and massive-activation channels (Sun et al., 2024), from
// resources/published/super_weights.json (bundled). A loaded model matches an
// entry by name (config.json's _name_or_path or the folder name contains the
// entry's repository name, case-insensitive) or, failing that, by shape
// (model_type, hidden, intermediate, layers, vocab and, where two published
// models share a shape, max_position_embeddings).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/model/model_config.h"
#include "superlens/core/result.h"

namespace superlens::core {

struct PublishedModel {
    std::string name;                       // e.g. "Llama-7B"
    std::vector<std::string> repositories;  // Hugging Face repository ids, e.g. "huggyllama/llama-7b"
    // Shape keys (0 = not checked).
    std::string modelType;
    int hiddenSize = 0;
    int intermediateSize = 0;
    int numLayers = 0;
    std::int64_t vocabSize = 0;
    std::int64_t maxPositionEmbeddings = 0;
    std::vector<SuperWeightCoord> superWeights;   // (layer, row, col) of mlp.down_proj
    std::vector<std::int64_t> massiveChannels;    // residual channels (Sun et al.)
    std::string source;                           // citation for the coordinates
    std::string note;                             // caveats (e.g. a disputed entry)
};

struct PublishedMatch {
    const PublishedModel* model = nullptr;
    std::string matchedBy;  // "name" or "shape"
};

class PublishedCoordinates {
public:
    // The bundled table.
    static const PublishedCoordinates& bundled();
    // Parses a table (JSON text, format of resources/published/super_weights.json).
    static Result<PublishedCoordinates> parse(const std::string& jsonText, const std::string& name);

    const std::vector<PublishedModel>& models() const { return m_models; }
    // The entry a model matches, by name first, then by shape; nullopt if none
    // (or if several shapes match equally and no name decides).
    std::optional<PublishedMatch> match(const ModelConfig& config, const std::string& folderName = "") const;

private:
    std::vector<PublishedModel> m_models;
};

}  // namespace superlens::core
