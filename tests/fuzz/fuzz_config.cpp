// Fuzz target: config.json (core/src/model/model_config.cpp, ModelConfig::parse).
// Every input either parses into sizes within the documented limits or gives
// one error line starting "config.json: ".

#include <string>

#include "fuzz_common.h"
#include "superlens/core/model/model_config.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto parsed = ModelConfig::parse(text, "config.json");
    if (!parsed) {
        fz::checkMessage(parsed.error().message, "config.json: ");
        return 0;
    }
    const ModelConfig& c = *parsed;
    fz::require(c.hiddenSize >= 1 && c.hiddenSize <= kMaxHiddenSize, "hidden_size within limits");
    fz::require(c.intermediateSize >= 1 && c.intermediateSize <= kMaxIntermediateSize, "intermediate_size within limits");
    fz::require(c.numLayers >= 1 && c.numLayers <= kMaxLayers, "num_hidden_layers within limits");
    fz::require(c.numHeads >= 1 && c.numHeads <= kMaxHeads, "num_attention_heads within limits");
    fz::require(c.numKvHeads >= 1 && c.numKvHeads <= kMaxHeads && c.numHeads % c.numKvHeads == 0, "num_key_value_heads divides heads");
    fz::require(c.headDim >= 1 && c.headDim <= kMaxHeadDim, "head_dim within limits");
    // Vision encoders have no vocabulary (vocabSize 0), token models at least one token.
    fz::require(c.pixelInput ? c.vocabSize == 0 : (c.vocabSize >= 1 && c.vocabSize <= kMaxVocabSize), "vocab_size within limits");
    if (c.pixelInput) {
        fz::require(c.patchSize >= 1 && c.patchSize <= c.imageSize && c.numChannels >= 1, "image geometry within limits");
    }
    fz::require(c.rawJson == text, "raw JSON kept");
    return 0;
}
