// Choosing and loading a model folder's tokenizer, as Hugging Face does:
// tokenizer.json first, tokenizer.model otherwise.
#include "superlens/core/tokenizer/tokenizer.h"

#include "tokenizer/json_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace superlens::core {

namespace {

bool isFile(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::loadFromFolder(const std::filesystem::path& folder) {
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) return Error{folder.string() + ": not a folder"};
    // A damaged tokenizer.json is an error, never a silent fallback to
    // tokenizer.model: the two can disagree on ids.
    if (isFile(folder / "tokenizer.json")) return loadJson(folder / "tokenizer.json");
    if (isFile(folder / "tokenizer.model")) return loadSentencePiece(folder / "tokenizer.model");
    return Error{folder.string() + ": no tokenizer.json or tokenizer.model"};
}

bool Tokenizer::folderHasTokenizer(const std::filesystem::path& folder) {
    return isFile(folder / "tokenizer.json") || isFile(folder / "tokenizer.model");
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
