// Choosing and loading a model folder's tokenizer, as Hugging Face does:
// tokenizer.json first, tokenizer.model otherwise.
#include "superlens/core/tokenizer/tokenizer.h"
#include "superlens/core/tokenizer/mask_token.h"

#include "superlens/core/model/model.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/json_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace superlens::core {

namespace {

// Present in any form: a FIFO or a folder named tokenizer.model is then
// refused by its reader with one error naming it, not taken for "no tokenizer".
bool isPresent(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::loadFromFolder(const std::filesystem::path& folder) {
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) return Error{folder.string() + ": not a folder"};
    // A damaged tokenizer.json is an error, never a silent fallback to
    // tokenizer.model: the two can disagree on ids.
    if (isPresent(folder / "tokenizer.json")) return loadJson(folder / "tokenizer.json");
    if (isPresent(folder / "tokenizer.model")) return loadSentencePiece(folder / "tokenizer.model");
    return Error{folder.string() + ": no tokenizer.json or tokenizer.model"};
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::loadGguf(const std::filesystem::path& ggufFile) {
    auto file = GgufFile::open(ggufFile);
    if (!file) return file.error();
    if (!ggufHasTokenizer(**file)) return Error{ggufFile.string() + ": the GGUF file has no tokenizer (no tokenizer.ggml.model)"};
    return loadGgufTokenizer(**file, ggufFile);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::loadForModel(const Model& model) {
    const GgufFile* gguf = model.ggufFile();
    if (!gguf) return loadFromFolder(model.folder());
    const std::filesystem::path folder = model.folder().parent_path().empty() ? std::filesystem::path(".") : model.folder().parent_path();
    if (ggufHasTokenizer(*gguf)) {
        auto own = loadGgufTokenizer(*gguf, model.folder());
        // A type SuperLens does not read yields to tokenizer files beside the GGUF.
        if (own || !folderHasTokenizer(folder)) return own;
        return loadFromFolder(folder);
    }
    if (folderHasTokenizer(folder)) return loadFromFolder(folder);
    return Error{model.folder().string() + ": the GGUF file has no tokenizer (no tokenizer.ggml.model) and its folder has no tokenizer.json or tokenizer.model"};
}

bool Tokenizer::modelHasTokenizer(const Model& model) {
    const GgufFile* gguf = model.ggufFile();
    if (!gguf) return folderHasTokenizer(model.folder());
    const std::filesystem::path folder = model.folder().parent_path().empty() ? std::filesystem::path(".") : model.folder().parent_path();
    return ggufHasTokenizer(*gguf) || folderHasTokenizer(folder);
}

bool Tokenizer::folderHasTokenizer(const std::filesystem::path& folder) {
    return isPresent(folder / "tokenizer.json") || isPresent(folder / "tokenizer.model");
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::loadJson(const std::filesystem::path& file) {
    try {
        return JsonTokenizer::load(file);
    } catch (const std::exception& ex) {
        // Library exceptions (allocation, JSON type errors) stop at the module edge.
        return Error{file.string() + ": cannot load tokenizer: " + ex.what()};
    }
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::loadSentencePiece(const std::filesystem::path& modelFile) {
    try {
        return SentencePieceTokenizer::load(modelFile);
    } catch (const std::exception& ex) {
        return Error{modelFile.string() + ": cannot load tokenizer: " + ex.what()};
    }
}

}  // namespace superlens::core

// ---- the MLM mask token (mask_token.h)

namespace superlens::core {

std::optional<TokenId> maskTokenId(const Tokenizer& tokenizer) {
    for (const char* piece : {"<mask>", "[MASK]"}) {
        if (auto id = tokenizer.tokenToId(piece); id && tokenizer.isSpecial(*id)) return id;
    }
    return std::nullopt;
}

std::vector<std::int64_t> maskPositions(const Tokenizer& tokenizer, std::span<const TokenId> ids) {
    std::vector<std::int64_t> out;
    const auto mask = maskTokenId(tokenizer);
    if (!mask) return out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == *mask) out.push_back(static_cast<std::int64_t>(i));
    }
    return out;
}

}  // namespace superlens::core
