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
#include "superlens/core/model/npy.h"

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
// Refused on vision models (they read pixels=).
TokenInput tokensArg(PyModel& model, const py::handle& input, const char* what = "input");

// pixels: the image of a vision model (the CLI's --pixels), as a float32 or
// float64 numpy array [1, C, H, W] or [C, H, W] (the image processor's
// pixel_values), or a .npy file (str or os.PathLike); core's checks of a
// .npy file apply (one image, channel and side limits, finite values).
// Refused on models that read tokens.
std::shared_ptr<const core::PixelTensor> pixelsArg(const core::Model& model, const py::handle& pixels);

// One forward pass's input: input= (text or token ids) or pixels= (vision
// models), never both; `positions` is the sequence length it gives.
struct ModelInput {
    TokenInput tokens;
    std::shared_ptr<const core::PixelTensor> pixels;
    std::int64_t positions = 0;
};
ModelInput modelInput(PyModel& model, const py::handle& input, const py::handle& pixels);
// Its edits: parsed and validated against its positions; keep_super without
// coordinates resolved by a scan of the tokens (for an image the engine
// refuses it by name: no image scan resolves it yet).
std::vector<core::EditSpec> inputEdits(PyModel& model, const ModelInput& in, const py::handle& edits);

// edits: None, one spec string, a list of spec strings, or an os.PathLike
// JSON edits file (--edits FILE). Parsed and validated against the model
// (token indices against tokenCount when > 0). keep_super lists stay
// unresolved: resolveKeepSuper() does that with a scan of the call's input.
std::vector<core::EditSpec> editsArg(const core::Model& model, const py::handle& edits, std::int64_t tokenCount = 0);

// rtn/actq keep_super without coordinates: the super weights of a scan of
// the call's own input, `tokens` or the image `pixels` (core's rule,
// core::resolveKeepSuperFromScan, as in the CLI).
std::vector<core::EditSpec> resolveKeepSuper(core::Engine& engine, const std::vector<TokenId>& tokens, std::vector<core::EditSpec> edits,
                                             const std::shared_ptr<const core::PixelTensor>& pixels = nullptr);

// ctx=: core::windowLength (None = its default).
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
