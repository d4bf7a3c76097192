#pragma once
// tokenizer.json "decoder" components: ByteLevel, Metaspace, Replace,
// ByteFallback, Fuse, Strip and Sequence. As in HF, each transforms the list
// of token strings (decode_chain) and the results are concatenated.
//
// Thread-safety: immutable after construction.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"

namespace superlens::core {

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decodeChain(std::vector<std::string>& tokens) const = 0;
};

// nullptr for a JSON null. Errors say which component is wrong.
Result<std::unique_ptr<Decoder>> makeDecoder(const nlohmann::json& spec);

}  // namespace superlens::core
