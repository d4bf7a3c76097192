#pragma once
// Reads tokenizer.json fast: model.vocab and model.merges (hundreds of
// thousands of entries for Llama-3) are streamed straight into vectors by a
// SAX handler; everything else becomes an ordinary nlohmann::json tree.
// A DOM of the whole 9 MB Llama-3 file alone takes ~0.3 s; this takes ~0.05 s.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

struct TokenizerJsonContents {
    nlohmann::json root;  // without model.vocab / model.merges when they were streamed
    bool hasVocab = false;
    bool hasMerges = false;
    std::vector<std::pair<std::string, TokenId>> vocab;           // file order
    std::vector<std::pair<std::string, std::string>> merges;      // rank order
};

// Errors: "<file>: cannot read ...", "<file>: invalid JSON: ...".
Result<TokenizerJsonContents> readTokenizerJson(const std::filesystem::path& file);

// Reads a whole file into memory; errors name the file.
Result<std::string> readFileBytes(const std::filesystem::path& file);

}  // namespace superlens::core
