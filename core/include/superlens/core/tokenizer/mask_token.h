#pragma once
// The masked-language-model mask token of an encoder's tokenizer: the
// special token "<mask>" (RoBERTa, XLM-RoBERTa) or "[MASK]" (BERT).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

// nullopt when the tokenizer has neither as a special token.
std::optional<TokenId> maskTokenId(const Tokenizer& tokenizer);
// The positions of `ids` holding the mask token (empty without one).
std::vector<std::int64_t> maskPositions(const Tokenizer& tokenizer, std::span<const TokenId> ids);

}  // namespace superlens::core
