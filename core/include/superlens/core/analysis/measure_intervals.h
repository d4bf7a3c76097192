#pragma once
// The confidence-interval rules of the text and task measures (issue 23), in
// one place: `study superweight` and the standalone `ppl`, `stopwords` and
// `zeroshot` commands (CLI, Python) call these. Units and replicates as in
// docs/ANALYSIS.md ("Confidence intervals"): perplexity windows for
// perplexity and stopword mass, tasks for zero-shot accuracy; ratios and
// deltas resample both conditions on the same units (paired: the same seed
// and unit count give the same resamples).
//
// Thread-safety: pure functions.

#include <vector>

#include "superlens/core/analysis/bootstrap.h"
#include "superlens/core/analysis/metrics.h"

namespace superlens::core {

// Per perplexity window: summed NLL of the tokens it scores, their count,
// and (when tracked) the summed stopword probability over its predicting positions.
struct WindowUnits {
    std::vector<double> nll, tokens, mass;
    std::size_t size() const { return tokens.size(); }
};
// From a perplexity pass (and, for the mass, scoreText's distribution with tracked ids).
WindowUnits windowUnits(const PerplexityResult& ppl, const MeanDistribution* distribution = nullptr);

// exp(sum c_w NLL_w / sum c_w T_w).
Interval perplexityInterval(const WindowUnits& w, const BootstrapOptions& options);
// Paired: exp(mean NLL(w) - mean NLL(w0)) on the same resample.
Interval perplexityRatioInterval(const WindowUnits& w, const WindowUnits& w0, const BootstrapOptions& options);
// sum c_w M_w / sum c_w T_w.
Interval stopwordMassInterval(const WindowUnits& w, const BootstrapOptions& options);
// Paired: sum c_w M_w / sum c_w M0_w.
Interval stopwordRatioInterval(const WindowUnits& w, const WindowUnits& w0, const BootstrapOptions& options);

// 1 where a prediction equals the task's gold answer, else 0 (per task).
std::vector<double> correctness(const std::vector<int>& predictions, const std::vector<ZeroShotTask>& tasks);
// sum c_i correct_i / n.
Interval accuracyInterval(const std::vector<double>& correct, const BootstrapOptions& options);
// Paired: sum c_i (correct_i - correct0_i) / n.
Interval accuracyDeltaInterval(const std::vector<double>& correct, const std::vector<double>& correct0, const BootstrapOptions& options);

}  // namespace superlens::core
