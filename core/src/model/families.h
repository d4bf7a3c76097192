#pragma once
// The family table: one entry per model_type, giving how to read its
// config.json into the block recipe (ModelConfig) and which checkpoint tensor
// plays each role. Internal to core/src/model; docs/DEVELOPERS.md explains
// how to add a family.

#include <array>
#include <span>
#include <string_view>
#include <vector>

#include "config_reader.h"
#include "superlens/core/model/model.h"
#include "superlens/core/model/model_config.h"

namespace superlens::core {

// Name patterns: "{m}" is the checkpoint's prefix (one of `prefixes`, found
// by probing for the embedding), "{L}" the layer index. "" = no such tensor.
struct FamilyNames {
    std::vector<std::string_view> prefixes;
    std::array<std::string_view, kLayerWeightCount> layer{};
    std::array<std::string_view, kModelWeightCount> model{};
    // Routed experts: "{E}" is the expert index.
    std::array<std::string_view, kExpertWeightCount> expert{};
};

struct FamilyRecipe {
    std::string_view modelType;
    std::string_view displayName;
    // Reads the family's config.json fields (after the shared ones) into c.
    Status (*configure)(const ConfigReader& r, ModelConfig& c);
    const FamilyNames* names;
};

std::span<const FamilyRecipe> familyTable();
const FamilyRecipe* findFamily(std::string_view modelType);

// Whether a role has a tensor in a model of this configuration (in any
// layer); roleUsedInLayer: in that layer (routed-experts layers have a router
// instead of the dense MLP).
bool roleUsed(const ModelConfig& c, LayerWeight w);
bool roleUsedInLayer(const ModelConfig& c, LayerWeight w, int layer);
bool roleUsed(const ModelConfig& c, ModelWeight w);

}  // namespace superlens::core
