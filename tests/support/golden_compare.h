#pragma once
// Comparing engine outputs with the float64 answers the fixture scripts
// store in refs.json: shared by every golden test.
#include <algorithm>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

namespace superlens::test {

// Every number of a nested JSON array (any depth), row-major.
inline void flattenInto(const nlohmann::json& v, std::vector<double>& out) {
    if (v.is_array()) {
        for (const auto& x : v) flattenInto(x, out);
    } else {
        out.push_back(v.get<double>());
    }
}
inline std::vector<double> flatten(const nlohmann::json& v) {
    std::vector<double> out;
    flattenInto(v, out);
    return out;
}

// max |got - want| over max |want|: the README's tolerance measure
// (infinite when the sizes differ).
inline double relativeMaxError(const std::vector<float>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) return INFINITY;
    double maxAbs = 0, maxErr = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        maxAbs = std::max(maxAbs, std::abs(want[i]));
        maxErr = std::max(maxErr, std::abs(static_cast<double>(got[i]) - want[i]));
    }
    return maxErr / std::max(maxAbs, 1e-30);
}

}  // namespace superlens::test
