#pragma once
// Runs of an engine with edit specs, as the engine tests make them, and the
// two ways they compare outputs (bit for bit; largest absolute difference).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"

namespace superlens::test {

// `specs` parsed against the model (token indices checked against `ids`),
// all-position logits, the hooks of `record`, reusing `previous`. A parse or
// run error fails the test and gives null.
inline std::shared_ptr<const core::ForwardResult> runWithEdits(core::Engine& engine, const std::vector<core::TokenId>& ids,
                                                               const std::vector<std::string>& specs,
                                                               std::shared_ptr<const core::ForwardResult> previous = nullptr,
                                                               core::HookSelection record = core::HookSelection::none()) {
    auto edits = core::parseEdits(specs, engine.model(), static_cast<std::int64_t>(ids.size()));
    EXPECT_TRUE(edits.ok()) << (edits.ok() ? "" : edits.error().message);
    if (!edits.ok()) return nullptr;
    core::ForwardRequest req;
    req.tokens = ids;
    req.edits = *edits;
    req.allPositionLogits = true;
    req.record = std::move(record);
    req.previous = std::move(previous);
    auto r = engine.run(req);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : nullptr;
}

inline bool bitIdentical(const core::ActivationTensor& a, const core::ActivationTensor& b) {
    return a.values.size() == b.values.size() && std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0;
}

inline double maxAbsDiff(const core::ActivationTensor& a, const core::ActivationTensor& b) {
    if (a.values.size() != b.values.size()) return INFINITY;
    double m = 0;
    for (std::size_t i = 0; i < a.values.size(); ++i) m = std::max(m, std::abs(static_cast<double>(a.values[i]) - b.values[i]));
    return m;
}

}  // namespace superlens::test
