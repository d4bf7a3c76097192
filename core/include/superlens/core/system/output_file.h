#pragma once
// Where SuperLens writes what a user asked for (caches, figures, CSV, study
// tables, experiment files): never into a model folder, never a torn file.
// The one home of both rules; the CLI, the GUI and the Python module call it.

#include <filesystem>
#include <string_view>

#include "superlens/core/result.h"

namespace superlens::core {

// True when a folder holds a checkpoint (config.json plus weights, or a GGUF file).
bool isModelFolder(const std::filesystem::path& folder);

// The model folder `folder` lies in: itself when it is one, else the nearest
// enclosing folder with config.json plus weights. Empty when there is none.
std::filesystem::path enclosingModelFolder(const std::filesystem::path& folder);

// The file a write to `target` replaces: symbolic links followed (relative
// ones from the link's folder) even when what they point to does not exist
// yet, folders resolved. Empty on an unresolvable path.
std::filesystem::path resolveOutputPath(const std::filesystem::path& target);

// Whether `target` may be written: its folder exists, is writable and is not
// a model folder or inside one (enclosingModelFolder), and the target is not a folder or a special file. `what`
// names the output in the hint ("the cache", "the figure"). Errors start
// with the target's path.
Status checkOutputFile(const std::filesystem::path& target, std::string_view what);

// Writes `bytes` to `target` (after checkOutputFile) through a temporary
// beside it, flushed and renamed over the target: a reader finds the old
// file or the new one, never a part.
Status writeFileAtomically(const std::filesystem::path& target, std::string_view bytes, std::string_view what);

// A fresh temporary path beside `target` (".NAME.tmp-XXXXXX.EXT", created
// empty, the extension kept so writers that choose a format by it still do),
// for writers that need a file name rather than bytes; commit it with
// commitTemporary, or remove it.
Result<std::filesystem::path> makeTemporaryBeside(const std::filesystem::path& target);
Status commitTemporary(const std::filesystem::path& temporary, const std::filesystem::path& target);

}  // namespace superlens::core
