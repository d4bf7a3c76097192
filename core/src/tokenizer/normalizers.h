#pragma once
// tokenizer.json "normalizer" components: Sequence, Prepend, Append, Replace,
// NFC/NFD/NFKC/NFKD, Lowercase, Strip. Only the normalized text matters for
// ids, so unlike HF no alignment to the original text is kept.
//
// Thread-safety: immutable after construction.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"

namespace superlens::core {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    // `text` is valid UTF-8 and stays so.
    virtual void normalize(std::string& text) const = 0;
};

// nullptr for a JSON null. Errors say which component is wrong.
Result<std::unique_ptr<Normalizer>> makeNormalizer(const nlohmann::json& spec);

}  // namespace superlens::core
