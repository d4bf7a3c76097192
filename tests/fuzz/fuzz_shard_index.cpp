// Fuzz target: model.safetensors.index.json of a sharded checkpoint
// (parseShardIndex, core/src/model/safetensors.cpp; Model::open reads the
// index through it before it opens any shard). Every input either gives a
// non-empty weight map whose shard names are plain file names inside the
// model folder, or one error line naming the index file.

#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "superlens/core/model/shard_index.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string name = "/models/m/model.safetensors.index.json";
    auto map = parseShardIndex(text, name);
    if (!map) {
        fz::checkMessage(map.error().message, name + ": ");
        return 0;
    }
    fz::require(!map->empty(), "a weight map that parses is not empty");
    for (const auto& [tensor, shard] : *map) {
        fz::require(!shard.empty() && shard != "." && shard != "..", "a shard name names a file");
        fz::require(shard.find('/') == std::string::npos && shard.find('\\') == std::string::npos, "a shard name has no path separator");
        fz::require(shard.find('\0') == std::string::npos, "a shard name has no NUL byte");
    }
    return 0;
}
