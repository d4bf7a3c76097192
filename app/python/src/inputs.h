#pragma once
// Python arguments -> core inputs: token ids or text, edit specs, text for
// the analyses, files. The rules match superlens-cli's options (--prompt /
// --ids, --edit / --edits, --text / --text-ids, --bos-windows, --ctx) so a
// Python call and the CLI command give the same numbers and messages.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "model.h"
#include "superlens/core/analysis/compression_study.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/engine/edit_spec.h"

namespace superlens::python {

using core::TokenId;

// A path given as an os.PathLike (pathlib.Path); nullopt for anything else.
// Plain str is text (prompts, texts) or a spec, never silently a path.
std::optional<std::filesystem::path> pathLike(const py::handle& h);
// A path given as str or os.PathLike (model folders, cache files, task files).
std::filesystem::path pathArg(const py::handle& h, const char* what);

// Token ids from a list/tuple of ints or a 1-D integer numpy array, checked
// against the model's vocabulary (the CLI's --ids message).
std::vector<TokenId> idsArg(const py::handle& h, const core::Model& model, const char* what);

// input: str (tokenized with the tokenizer's own special tokens, like
// --prompt) or token ids (exactly as given, like --ids).
struct TokenInput {
    std::vector<TokenId> ids;
    std::string prompt;  // "" when given as ids
};
TokenInput tokensArg(PyModel& model, const py::handle& input, const char* what = "input");

// edits: None, one spec string, a list of spec strings, or an os.PathLike
// JSON edits file (--edits FILE). Parsed and validated against the model
// (token indices against tokenCount when > 0). keep_super lists stay
// unresolved: resolveKeepSuper() does that with a scan of the call's input.
std::vector<core::EditSpec> editsArg(const core::Model& model, const py::handle& edits, std::int64_t tokenCount = 0);

// rtn/actq keep_super without coordinates: the super weights of a scan of
// `tokens` (the CLI's rule: the command's own input).
std::vector<core::EditSpec> resolveKeepSuper(core::Engine& engine, const std::vector<TokenId>& tokens, std::vector<core::EditSpec> edits);

// The first min(128, n) tokens: the scan input of text analyses (as the CLI).
std::vector<TokenId> scanHead(const std::vector<TokenId>& tokens);

// --ctx default: min(512, max_position_embeddings).
int windowLength(const py::object& ctx, const core::Model& model);

// text for ppl / stopwords / studies: str (the text itself), an os.PathLike
// text file (--text), or token ids (--text-ids). With bos_windows the text is
// encoded without BOS and cut into BOS-started windows of `context` tokens.
std::vector<TokenId> textArg(PyModel& model, const py::handle& text, bool bosWindows, int context, int stride);

// Stopword ids: stopword_ids (list of ints) or stopwords (None = the bundled
// English list, a list of words, or an os.PathLike word list).
std::vector<TokenId> stopwordIdsArg(PyModel& model, const py::handle& stopwords, const py::handle& stopwordIds);

// Zero-shot tasks: None = the bundled set, an os.PathLike/str JSONL file, or a
// list of dicts {"context", "choices", "gold"} / {"context_ids", "choices_ids", "gold"}.
struct TasksArg {
    std::vector<core::ZeroShotTask> tasks;
    std::string label;  // "bundled", the file, or "list"
};
TasksArg tasksArg(const py::handle& tasks);
// LASER answer sets: an os.PathLike/str JSONL file or a list of dicts
// {"context", "answer"} / {"context_ids", "answer_ids"}.
std::vector<core::AnswerTask> answersArg(const py::handle& answers);

// Super-weight coordinates: "L:R:C;L:R:C" or a list of (layer, row, col).
std::vector<core::SuperWeightCoord> coordsArg(const py::handle& h, const char* what);

}  // namespace superlens::python
