#include "superlens/core/analysis/measure_intervals.h"

#include <cmath>
#include <limits>

namespace superlens::core {
namespace {

double meanNll(const WindowUnits& w, const std::vector<std::uint32_t>& c) { return weightedSum(w.nll, c) / weightedSum(w.tokens, c); }

}  // namespace

WindowUnits windowUnits(const PerplexityResult& p, const MeanDistribution* d) {
    WindowUnits w;
    w.nll = p.windowNll;
    w.tokens.assign(p.windowTokens.begin(), p.windowTokens.end());
    if (d) w.mass = d->windowTrackedMass;
    return w;
}

Interval perplexityInterval(const WindowUnits& w, const BootstrapOptions& B) {
    return bootstrapInterval(w.size(), B, [&](const auto& k) { return std::exp(meanNll(w, k)); });
}

Interval perplexityRatioInterval(const WindowUnits& w, const WindowUnits& w0, const BootstrapOptions& B) {
    if (w.size() != w0.size()) return {};
    return bootstrapInterval(w.size(), B, [&](const auto& k) { return std::exp(meanNll(w, k) - meanNll(w0, k)); });
}

Interval stopwordMassInterval(const WindowUnits& w, const BootstrapOptions& B) {
    if (w.mass.size() != w.size()) return {};
    return bootstrapInterval(w.size(), B, [&](const auto& k) { return weightedSum(w.mass, k) / weightedSum(w.tokens, k); });
}

Interval stopwordRatioInterval(const WindowUnits& w, const WindowUnits& w0, const BootstrapOptions& B) {
    if (w.mass.size() != w.size() || w0.mass.size() != w.size()) return {};
    return bootstrapInterval(w.size(), B, [&](const auto& k) {
        const double m0 = weightedSum(w0.mass, k);
        return m0 > 0 ? weightedSum(w.mass, k) / m0 : std::numeric_limits<double>::quiet_NaN();
    });
}

std::vector<double> correctness(const std::vector<int>& predictions, const std::vector<ZeroShotTask>& tasks) {
    std::vector<double> out;
    for (std::size_t t = 0; t < tasks.size() && t < predictions.size(); ++t) out.push_back(predictions[t] == tasks[t].gold ? 1.0 : 0.0);
    return out;
}

Interval accuracyInterval(const std::vector<double>& a, const BootstrapOptions& B) {
    const double n = static_cast<double>(a.size());
    return bootstrapInterval(a.size(), B, [&](const auto& k) { return weightedSum(a, k) / n; });
}

Interval accuracyDeltaInterval(const std::vector<double>& a, const std::vector<double>& a0, const BootstrapOptions& B) {
    if (a.size() != a0.size()) return {};
    const double n = static_cast<double>(a.size());
    return bootstrapInterval(a.size(), B, [&](const auto& k) { return (weightedSum(a, k) - weightedSum(a0, k)) / n; });
}

}  // namespace superlens::core
