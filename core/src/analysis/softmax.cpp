#include "superlens/core/analysis/softmax.h"

#include <algorithm>
#include <cmath>

namespace superlens::core {
namespace {

double rowMax(const float* row, std::int64_t n) { return n > 0 ? static_cast<double>(*std::max_element(row, row + n)) : 0.0; }

}  // namespace

double logSumExp(const float* row, std::int64_t n) {
    const double m = rowMax(row, n);
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(row[i]) - m);
    return m + std::log(sum);
}

void softmax(const float* row, std::int64_t n, std::vector<double>& out) {
    out.resize(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    const double m = rowMax(row, n);
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += (out[static_cast<std::size_t>(i)] = std::exp(static_cast<double>(row[i]) - m));
    for (double& p : out) p /= sum;
}

void logSoftmax(const float* row, std::int64_t n, std::vector<double>& out) {
    out.resize(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    const double lse = logSumExp(row, n);
    for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = static_cast<double>(row[i]) - lse;
}

}  // namespace superlens::core
