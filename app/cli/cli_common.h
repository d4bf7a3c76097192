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

// The model's own tokenizer (its folder's tokenizer.json / tokenizer.model,
// or a GGUF file's vocabulary) when it has one, null when it has none. A
// damaged one is an error even when the command could do without it: one
// rule for every command. `neededFor` names the option that needs it.
core::Result<std::unique_ptr<core::Tokenizer>> optionalTokenizer(const core::Model& model, const std::string& neededFor = "");

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
// The same with the model's tokenizer already loaded (null: none; --prompt is then refused).
core::Result<std::vector<core::TokenId>> resolveTokens(const InputOptions& o, const core::Model& model, const core::Tokenizer* tokenizer);
// The image of --pixels FILE.npy or --image FILE for a vision model; an error naming what to
// give when the model and the input kind do not match.
core::Result<std::shared_ptr<const core::PixelTensor>> resolvePixels(const InputOptions& o, const core::Model& model);

// --prompts FILE (capture, scan): the prompts of a file (core::parsePromptLines:
// one per line, '#' comments) with their token ids; a line that gives no
// tokens or an id outside the vocabulary is an error naming FILE:LINE.
struct FilePrompt {
    std::string text;
    std::vector<core::TokenId> ids;
};
core::Result<std::vector<FilePrompt>> readPromptsFile(const std::string& path, const core::Model& model, const core::Tokenizer* tokenizer);

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
// of the command's own input (DESIGN.md: "takes the super weights from a scan
// of the command's own input"): `tokens`, or the image `pixels` of a vision
// model (core::resolveKeepSuperFromScan). Edits that need nothing are
// returned unchanged.
core::Result<std::vector<core::EditSpec>> resolveKeepSuper(core::Engine& engine, const std::vector<core::TokenId>& tokens,
                                                           std::vector<core::EditSpec> edits,
                                                           const std::shared_ptr<const core::PixelTensor>& pixels = nullptr);

// --compute fp32|bf16|fp16: the dtype the engine emulates (precision
// emulation, core::ComputeDtype), shared by every command that runs the model.
struct ComputeOptions {
    core::ComputeDtype dtype = core::ComputeDtype::Float32;
};
void addComputeOption(CLI::App* cmd, ComputeOptions& o);
// The engine options of a command run.
core::EngineOptions engineOptions(const ComputeOptions& o);
// The start every command that runs a model shares: the model opened and
// validated, its tokenizer when it has one (loaded once; a damaged one is
// refused, optionalTokenizer), and an engine with the command's options. The
// command then adds its input: one prompt or image (prepareRun), a text
// (analysis::prepareTextRun), or its own (capture's prompts file, scan's
// prompt set, zeroshot's tasks), and takes the edits for each input from
// editsFor. A rule about any of these lives here once.
struct PreparedModel {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Tokenizer> tokenizer;  // null when the model has none
    std::unique_ptr<core::Engine> engine;
    // --edit/--edits for one input (`tokens`, or the image `pixels`): parsed,
    // checked against the input's positions (core::inputPositions), keep_super
    // resolved by a scan of that input.
    core::Result<std::vector<core::EditSpec>> editsFor(const EditOptions& o, const std::vector<core::TokenId>& tokens,
                                                       const std::shared_ptr<const core::PixelTensor>& pixels = nullptr) const;
};
// `tokenizerNeededFor`: the option that needs the tokenizer (named in the
// error when the model has none; "" = optional). `engine`: the engine's
// options (e.g. engineOptions(--compute)).
core::Result<PreparedModel> prepareModel(const std::string& modelPath, const core::EngineOptions& engine = {},
                                         const std::string& tokenizerNeededFor = "");

// A run of one input: the prepared model, the input as tokens or, for vision
// models, an image, and the edits for it (editsFor).
struct PreparedRun : PreparedModel {
    std::vector<core::TokenId> tokens;                // empty for an image
    std::shared_ptr<const core::PixelTensor> pixels;  // vision models
    std::vector<core::EditSpec> edits;                // keep_super resolved
    std::int64_t positions() const;
    // tokens or pixels, and the edits; hooks and logits positions are the command's.
    core::ForwardRequest request() const;
    // Another edit list for the same input (e.g. figure's --baseline-edit).
    core::Result<std::vector<core::EditSpec>> editsFor(const EditOptions& o) const { return PreparedModel::editsFor(o, tokens, pixels); }
};
// `images`: the command takes --image/--pixels (vision models); otherwise a
// vision model or an image option is refused naming what to give.
core::Result<PreparedRun> prepareRun(const std::string& modelPath, const InputOptions& input, const EditOptions& edits, bool images = false,
                                     const core::EngineOptions& engine = {});

// Reads a whole text file (UTF-8); error names the file.
core::Result<std::string> readTextFile(const std::string& path);

}  // namespace superlens::cli
