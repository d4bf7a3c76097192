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
    // Cuts one non-empty piece and emits the finer pieces in order; empty
    // pieces are never emitted (HF drops them after every step).
    virtual void preTokenize(TextSplit&& split, const SplitSink& emit) const = 0;
};

// nullptr for a JSON null. Errors say which component is wrong.
Result<std::unique_ptr<PreTokenizer>> makePreTokenizer(const nlohmann::json& spec);

}  // namespace superlens::core
