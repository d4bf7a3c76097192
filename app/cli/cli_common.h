#pragma once
// Shared plumbing of superlens-cli: exit codes, error reporting, JSON output,
// and the options every command spells the same way (--prompt/--ids,
// --edit/--edits, --json), resolved with full validation.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/model/model.h"
#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::cli {

// Exit codes of the DESIGN.md contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;
inline constexpr int kExitUsage = 2;

struct CliContext {
    std::function<int()> run;  // set by the chosen subcommand's callback
};

// Prints one line "superlens-cli: error: <message>" to stderr; returns kExitBadInput.
int fail(const std::string& message);
int fail(const core::Error& error);
// Bad usage detected after parsing (e.g. two exclusive options): exit code 2.
int usageError(const std::string& message);

// Prints exactly one JSON document on stdout.
void printJson(const nlohmann::json& j);

// Opens and fully validates a model folder.
core::Result<std::shared_ptr<const core::Model>> openModel(const std::string& folder);
// The model folder's tokenizer; the error says which option needed it.
core::Result<std::unique_ptr<core::Tokenizer>> loadTokenizer(const core::Model& model, const std::string& neededFor);

// --prompt TEXT | --ids 1,2,3
struct InputOptions {
    std::string prompt;
    std::string ids;
    std::string pixels;  // --pixels FILE.npy (vision models)
    std::string image;   // --image FILE.png/.jpg (vision models, preprocessor_config.json)
    bool hasPrompt = false;
    bool hasIds = false;
    bool hasPixels = false;
    bool hasImage = false;
    bool given() const { return hasPrompt || hasIds || hasPixels || hasImage; }
    bool hasPicture() const { return hasPixels || hasImage; }
};
void addInputOptions(CLI::App* cmd, InputOptions& o);
// Token ids from --ids (exactly as given) or --prompt (tokenizer's own special tokens).
core::Result<std::vector<core::TokenId>> resolveTokens(const InputOptions& o, const core::Model& model);
// The image of --pixels FILE.npy or --image FILE for a vision model; an error naming what to
// give when the model and the input kind do not match.
core::Result<std::shared_ptr<const core::PixelTensor>> resolvePixels(const InputOptions& o, const core::Model& model);

// --edit SPEC (repeatable) and --edits FILE.json
struct EditOptions {
    std::vector<std::string> specs;
    std::string file;
};
void addEditOptions(CLI::App* cmd, EditOptions& o);
// Parsed, validated edits (file first, then --edit in order). tokenCount > 0
// also checks token indices of activation edits. keep_super without a list
// is left unresolved: call resolveKeepSuper when the command runs a model.
core::Result<std::vector<core::EditSpec>> resolveEdits(const EditOptions& o, const core::Model& model, std::int64_t tokenCount = 0);

// Resolves rtn/actq keep_super without explicit lists by a super-weight scan
// of `tokens` (DESIGN.md: "takes the super weights from a scan of the
// command's own input"). Edits that need nothing are returned unchanged.
using KeepSuperResolver = std::function<core::Result<std::vector<core::EditSpec>>(
    core::Engine& engine, const std::vector<core::TokenId>& tokens, std::vector<core::EditSpec> edits)>;
// Installed by the analysis layer (cmd files register it statically).
KeepSuperResolver& keepSuperResolver();
core::Result<std::vector<core::EditSpec>> resolveKeepSuper(core::Engine& engine, const std::vector<core::TokenId>& tokens,
                                                           std::vector<core::EditSpec> edits);

// Reads a whole text file (UTF-8); error names the file.
core::Result<std::string> readTextFile(const std::string& path);

}  // namespace superlens::cli
