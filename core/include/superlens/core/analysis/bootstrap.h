#pragma once
// Uncertainty for the numbers the studies report (issue 23): percentile
// bootstrap confidence intervals and null-distribution summaries.
//
// Bootstrap. A statistic computed from n independent units (perplexity
// windows, zero-shot items) is recomputed on `resamples` resamples of the
// units drawn with replacement; the interval is the (1-level)/2 and
// (1+level)/2 percentiles of those replicates (Efron's percentile interval).
// A resample is handed to the statistic as counts: counts[i] = how many times
// unit i was drawn (the counts sum to n), so statistics that are sums over
// units are weighted sums. The draws come from a fixed-seed generator
// (splitmix64, index = high 64 bits of x*n), the same on every platform: the
// same seed and n give the same resamples, which makes two statistics
// evaluated with the same options *paired* (ratios between two conditions
// resample the same windows for both).
//
// Percentiles interpolate linearly between order statistics (numpy's
// default, Hyndman-Fan type 7): q-th percentile of sorted v[0..m-1] is
// v[floor(h)] + (h - floor(h)) (v[floor(h)+1] - v[floor(h)]), h = q (m-1).
//
// Thread-safety: pure functions.

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

struct BootstrapOptions {
    int resamples = 1000;             // 0 = no intervals
    double level = 0.95;              // central coverage, in (0, 1)
    std::uint64_t seed = 0x5eed2023;  // fixed: the same intervals on every run
    bool enabled() const { return resamples > 0; }
};

// Checks resamples in 0..1e6 and level in (0, 1); the error names the option.
Status validate(const BootstrapOptions& options);

struct Interval {
    double lo = std::numeric_limits<double>::quiet_NaN();
    double hi = std::numeric_limits<double>::quiet_NaN();
    bool valid() const { return std::isfinite(lo) && std::isfinite(hi); }
    bool contains(double v) const { return valid() && v >= lo && v <= hi; }
};

// Type-7 percentile of already sorted values (q in [0, 1]); NaN when empty.
double percentileSorted(const std::vector<double>& sorted, double q);
// The central `level` interval of a set of values (sorted here). Non-finite
// values are kept (they sort to the ends); an empty set gives an invalid interval.
Interval percentileInterval(std::vector<double> values, double level);

// The fixed-seed generator: splitmix64 (Steele et al. 2014); below(n) is the
// high 64 bits of x * n (bias below n / 2^64, negligible). Same numbers on
// every platform and standard library.
class SeededRng {
public:
    explicit SeededRng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    std::size_t below(std::size_t n);  // uniform in [0, n); n > 0

private:
    std::uint64_t state_;
};

// The deterministic resampler: resamples are generated in order from the
// seed; next() fills `counts` (size n) with one resample of n draws.
class Resampler {
public:
    Resampler(std::size_t n, std::uint64_t seed) : n_(n), rng_(seed) {}
    void next(std::vector<std::uint32_t>& counts);

private:
    std::size_t n_;
    SeededRng rng_;
};

// Replicates of a statistic over `options.resamples` resamples of n units.
// Errors: n == 0, invalid options.
using ResampleStatistic = std::function<double(const std::vector<std::uint32_t>& counts)>;
Result<std::vector<double>> bootstrapReplicates(std::size_t n, const BootstrapOptions& options, const ResampleStatistic& statistic);
// The percentile interval of those replicates (invalid when options are disabled or n == 0).
Interval bootstrapInterval(std::size_t n, const BootstrapOptions& options, const ResampleStatistic& statistic);

// sum_i counts[i] * values[i].
double weightedSum(const std::vector<double>& values, const std::vector<std::uint32_t>& counts);

// Where an observed value falls in a null distribution (the null control).
struct NullSummary {
    std::vector<double> values;      // the null draws, in draw order
    double mean = 0;
    double sd = 0;                   // sample standard deviation (K - 1); 0 when K < 2
    double percentile = 0;           // 100 * (#below + #equal / 2) / K
    std::optional<double> z;         // (observed - mean) / sd; none when sd == 0
};
NullSummary summarizeNull(std::vector<double> values, double observed);

}  // namespace superlens::core
