#pragma once
// tokenizer.json "pre_tokenizer" components: Sequence, Split, ByteLevel,
// Metaspace, Digits, Whitespace, WhitespaceSplit. Each cuts the pieces it is
// given into smaller pieces (words) that the model encodes independently.
//
// Thread-safety: immutable after construction.

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"
#include "tokenizer/text_split.h"

namespace superlens::core {

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Replaces `splits` with the finer pieces; empty pieces are dropped.
    virtual void preTokenize(std::vector<TextSplit>& splits) const = 0;
};

// nullptr for a JSON null. Errors say which component is wrong.
Result<std::unique_ptr<PreTokenizer>> makePreTokenizer(const nlohmann::json& spec);

}  // namespace superlens::core
