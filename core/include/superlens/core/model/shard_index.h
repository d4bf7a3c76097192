#pragma once
// model.safetensors.index.json of a sharded checkpoint: its "weight_map",
// tensor name -> shard file. Shard names must be plain file names inside the
// model folder (no path separators, no NUL byte, not "." or ".."), and the map
// must not be empty. `name` is the index file's path, used in errors (one line
// each). Model::open reads the index through this; the file is read with the
// small-file rule first (readRegularFile, kMaxConfigBytes).

#include <map>
#include <string>
#include <string_view>

#include "superlens/core/result.h"

namespace superlens::core {

Result<std::map<std::string, std::string>> parseShardIndex(std::string_view text, const std::string& name);

}  // namespace superlens::core
