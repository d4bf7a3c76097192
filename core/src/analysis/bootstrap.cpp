#include "superlens/core/analysis/bootstrap.h"

#include <algorithm>
#include <string>

namespace superlens::core {
std::uint64_t SeededRng::next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

std::size_t SeededRng::below(std::size_t n) {
    // High 64 bits of the 128-bit product x * n, from 32-bit halves (portable).
    const std::uint64_t x = next(), m = static_cast<std::uint64_t>(n);
    const std::uint64_t xl = x & 0xffffffffULL, xh = x >> 32, ml = m & 0xffffffffULL, mh = m >> 32;
    const std::uint64_t ll = xl * ml, lh = xl * mh, hl = xh * ml, hh = xh * mh;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xffffffffULL) + (hl & 0xffffffffULL);
    return static_cast<std::size_t>(hh + (lh >> 32) + (hl >> 32) + (mid >> 32));
}

Status validate(const BootstrapOptions& options) {
    if (options.resamples < 0 || options.resamples > 1000000) {
        return Error{"--bootstrap must be between 0 and 1000000 resamples (got " + std::to_string(options.resamples) + ")"};
    }
    if (!(options.level > 0.0 && options.level < 1.0)) {
        return Error{"--ci must be a coverage level strictly between 0 and 1, e.g. 0.95 (got " + std::to_string(options.level) + ")"};
    }
    return {};
}

double percentileSorted(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
    q = std::clamp(q, 0.0, 1.0);
    const double h = q * static_cast<double>(sorted.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = h - static_cast<double>(lo);
    if (frac == 0.0) return sorted[lo];
    return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

Interval percentileInterval(std::vector<double> values, double level) {
    Interval out;
    if (values.empty()) return out;
    // NaN sorts last (treated as larger than everything), so the order is total.
    std::sort(values.begin(), values.end(), [](double a, double b) {
        if (std::isnan(a)) return false;
        if (std::isnan(b)) return true;
        return a < b;
    });
    const double tail = (1.0 - level) / 2.0;
    out.lo = percentileSorted(values, tail);
    out.hi = percentileSorted(values, 1.0 - tail);
    return out;
}

void Resampler::next(std::vector<std::uint32_t>& counts) {
    counts.assign(n_, 0);
    for (std::size_t i = 0; i < n_; ++i) ++counts[rng_.below(n_)];
}

Result<std::vector<double>> bootstrapReplicates(std::size_t n, const BootstrapOptions& options, const ResampleStatistic& statistic) {
    SL_TRY(validate(options));
    if (n == 0) return Error{"bootstrap: no units to resample"};
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(options.resamples));
    Resampler resampler(n, options.seed);
    std::vector<std::uint32_t> counts;
    for (int k = 0; k < options.resamples; ++k) {
        resampler.next(counts);
        out.push_back(statistic(counts));
    }
    return out;
}

Interval bootstrapInterval(std::size_t n, const BootstrapOptions& options, const ResampleStatistic& statistic) {
    if (!options.enabled() || n == 0) return {};
    auto reps = bootstrapReplicates(n, options, statistic);
    if (!reps) return {};
    return percentileInterval(std::move(reps).value(), options.level);
}

double weightedSum(const std::vector<double>& values, const std::vector<std::uint32_t>& counts) {
    double s = 0;
    const std::size_t n = std::min(values.size(), counts.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (counts[i]) s += static_cast<double>(counts[i]) * values[i];
    }
    return s;
}

NullSummary summarizeNull(std::vector<double> values, double observed) {
    NullSummary s;
    s.values = std::move(values);
    const std::size_t k = s.values.size();
    if (k == 0) return s;
    double sum = 0;
    for (double v : s.values) sum += v;
    s.mean = sum / static_cast<double>(k);
    if (k >= 2) {
        double ss = 0;
        for (double v : s.values) ss += (v - s.mean) * (v - s.mean);
        s.sd = std::sqrt(ss / static_cast<double>(k - 1));
    }
    double below = 0;
    for (double v : s.values) below += v < observed ? 1.0 : v == observed ? 0.5 : 0.0;
    s.percentile = 100.0 * below / static_cast<double>(k);
    if (s.sd > 0) s.z = (observed - s.mean) / s.sd;
    return s;
}

}  // namespace superlens::core
