#pragma once
// Token ids typed by a user: `--ids 1,5,9`, `--stopword-ids`, `--text-ids`
// files, the GUI's "token ids" prompt mode. One rule for all of them:
// decimal integers separated by commas and/or white space ("1, 5,9",
// "1 5 9", one per line); one trailing comma is allowed, an empty item
// between two commas (or before the first id) is not. Every id must be in
// 0 .. vocabSize - 1 (vocabSize <= 0: any id up to 2^31 - 1). Errors are one
// line starting with `label`, e.g. "--ids: 'x' is not a token id",
// "--ids: token id 300 is outside the model's vocabulary (0..255)". Callers
// bound the text (files are read with their size limits).

#include <cstdint>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

Result<std::vector<TokenId>> parseTokenIds(std::string_view text, std::int64_t vocabSize, std::string_view label);

}  // namespace superlens::core
