#pragma once
// Per-token loss: the negative log-likelihood of every token of a run given
// the tokens before it, -log softmax(logits[t-1])[token t] (nats, float64
// log-softmax of the float32 logits, max subtracted), for t = 1 .. T-1, and
// how an edit changes it token by token.

#include <cstdint>
#include <vector>

#include "superlens/core/engine/engine.h"
#include "superlens/core/result.h"

namespace superlens::core {

// NLL per position; entry t is token t's loss (entry 0, which nothing
// predicts, is NaN). Needs a run with every position's logits
// (ForwardRequest::allPositionLogits). Errors: last-position logits only.
Result<std::vector<double>> tokenLosses(const ForwardResult& run);

struct TokenLossChange {
    std::int64_t position = 0;
    double original = 0.0;
    double edited = 0.0;
    double delta() const { return edited - original; }
};

// Positions 1 .. T-1 of two loss series of the same tokens, largest |edited -
// original| first (ties: earlier position first), at most `count`.
// Errors: series of different lengths.
Result<std::vector<TokenLossChange>> largestLossChanges(const std::vector<double>& original, const std::vector<double>& edited, int count);

}  // namespace superlens::core
