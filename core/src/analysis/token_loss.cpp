#include "superlens/core/analysis/token_loss.h"
#include "superlens/core/analysis/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace superlens::core {

Result<std::vector<double>> tokenLosses(const ForwardResult& run) {
    const std::int64_t T = static_cast<std::int64_t>(run.tokens.size());
    const std::int64_t V = run.logits.cols();
    if (T < 1) return Error{"per-token loss: the run has no tokens"};
    if (run.logits.rows() != T || V < 1) return Error{"per-token loss needs every position's logits (the run kept the last position only)"};
    std::vector<double> out(static_cast<std::size_t>(T), std::numeric_limits<double>::quiet_NaN());
    for (std::int64_t t = 1; t < T; ++t) {
        const float* row = run.logits.values.data() + (t - 1) * V;
        const TokenId id = run.tokens[static_cast<std::size_t>(t)];
        out[static_cast<std::size_t>(t)] = logSumExp(row, V) - static_cast<double>(row[id]);
    }
    return out;
}

Result<std::vector<TokenLossChange>> largestLossChanges(const std::vector<double>& original, const std::vector<double>& edited, int count) {
    if (original.size() != edited.size()) return Error{"per-token loss: the two runs have different lengths"};
    std::vector<TokenLossChange> out;
    for (std::size_t t = 1; t < original.size(); ++t) out.push_back({static_cast<std::int64_t>(t), original[t], edited[t]});
    std::stable_sort(out.begin(), out.end(), [](const TokenLossChange& a, const TokenLossChange& b) { return std::fabs(a.delta()) > std::fabs(b.delta()); });
    if (count >= 0 && out.size() > static_cast<std::size_t>(count)) out.resize(static_cast<std::size_t>(count));
    return out;
}

}  // namespace superlens::core
