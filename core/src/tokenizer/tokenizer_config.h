#pragma once
// The parts of Hugging Face's tokenizer_config.json SuperLens uses:
// add_bos_token / add_eos_token (SentencePiece models; LlamaTokenizer
// defaults: BOS yes, EOS no) and the names of the BOS/EOS tokens.

#include <filesystem>
#include <optional>
#include <string>

#include "superlens/core/result.h"

namespace superlens::core {

struct TokenizerConfig {
    std::optional<bool> addBosToken;
    std::optional<bool> addEosToken;
    std::optional<std::string> bosToken;
    std::optional<std::string> eosToken;
};

// A missing file gives an empty config; a damaged one an error naming it.
Result<TokenizerConfig> readTokenizerConfig(const std::filesystem::path& file);

}  // namespace superlens::core
