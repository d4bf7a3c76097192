#pragma once
// Reads tokenizer.json fast: model.vocab and model.merges (hundreds of
// thousands of entries for Llama-3) are streamed by a
// SAX handler into flat tables; everything else becomes an ordinary
// nlohmann::json tree.
// A DOM of the whole 9 MB Llama-3 file alone takes ~0.3 s; this takes ~0.05 s.

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "tokenizer/flat_tables.h"

namespace superlens::core {

struct TokenizerJsonContents {
    nlohmann::json root;  // without model.vocab / model.merges when they were streamed
    bool hasVocab = false;
    bool hasMerges = false;
    StringIdTable vocab;  // later duplicates replace earlier ones, as in HF
    MergeList merges;     // rank order
};

// Errors: "<file>: cannot read ...", "<file>: invalid JSON: ...".
Result<TokenizerJsonContents> readTokenizerJson(const std::filesystem::path& file);
// The same from a document in memory (a tokenizer.json built from a GGUF
// file's metadata); `name` prefixes errors.
Result<TokenizerJsonContents> readTokenizerJsonText(std::string_view text, const std::filesystem::path& name);

}  // namespace superlens::core
