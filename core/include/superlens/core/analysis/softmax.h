#pragma once
// Softmax of one logits row, the one rule every analysis, view and front end
// uses: float64 throughout, the row's maximum subtracted first, so 32k-150k
// entry vocabularies with large logits neither overflow nor lose small terms.

#include <cstdint>
#include <vector>

namespace superlens::core {

// log(sum_i exp(row[i])), computed as max + log(sum exp(row[i] - max)).
double logSumExp(const float* row, std::int64_t n);
// Probabilities exp(row[i] - max) / sum; they sum to 1 up to rounding.
void softmax(const float* row, std::int64_t n, std::vector<double>& out);
// log-probabilities row[i] - logSumExp(row).
void logSoftmax(const float* row, std::int64_t n, std::vector<double>& out);

}  // namespace superlens::core
