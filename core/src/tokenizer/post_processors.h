#pragma once
// tokenizer.json "post_processor" components: TemplateProcessing (how
// Llama-2/3 add BOS), BertProcessing, RobertaProcessing, ByteLevel (offsets
// only, so a no-op for ids) and Sequence. Only single sequences are encoded.
//
// Thread-safety: immutable after construction.

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    // Adds the special tokens around `ids` when addSpecialTokens is true.
    virtual void process(std::vector<TokenId>& ids, bool addSpecialTokens) const = 0;
    // The ids added before and after a single sequence (for bosId/eosId).
    virtual void specialIds(std::vector<TokenId>& prefix, std::vector<TokenId>& suffix) const = 0;
};

// nullptr for a JSON null. Errors say which component is wrong.
Result<std::unique_ptr<PostProcessor>> makePostProcessor(const nlohmann::json& spec);

}  // namespace superlens::core
