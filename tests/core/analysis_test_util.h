#pragma once
// Helpers shared by the analysis tests: float64 references computed here,
// independently of the code under test.
#include <algorithm>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/engine/engine.h"
#include "golden_compare.h"
#include "test_paths.h"

namespace superlens::test {

// numpy.median(abs(x)) in float64.
inline double medianAbs64(std::vector<double> v) {
    for (double& x : v) x = std::abs(x);
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// log-softmax of one row in float64, straight from the definition.
inline std::vector<double> logSoftmax64(const std::vector<double>& row) {
    double m = row[0];
    for (double x : row) m = std::max(m, x);
    double s = 0;
    for (double x : row) s += std::exp(x - m);
    std::vector<double> out(row.size());
    for (std::size_t i = 0; i < row.size(); ++i) out[i] = row[i] - m - std::log(s);
    return out;
}

inline std::vector<double> rowOf(const core::ActivationTensor& t, std::int64_t r) {
    std::vector<double> out(static_cast<std::size_t>(t.cols()));
    for (std::int64_t c = 0; c < t.cols(); ++c) out[static_cast<std::size_t>(c)] = t.at(r, c);
    return out;
}

inline std::shared_ptr<const core::Model> openModelOrDie(const std::filesystem::path& p) {
    auto m = core::Model::open(p);
    if (!m) {
        std::fprintf(stderr, "%s\n", m.error().message.c_str());
        std::abort();
    }
    return *m;
}

}  // namespace superlens::test
