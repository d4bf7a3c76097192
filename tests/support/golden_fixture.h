#pragma once
// The fixture every golden test starts from: one checkpoint of a folder of
// tests/data with float64 answers (its refs.json), opened and run by an
// engine at the test's precision. The parameter is (checkpoint name,
// precision); SetUp() of the test class calls open(folder).
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "superlens/core/engine/engine.h"
#include "superlens/core/model/model.h"
#include "golden_compare.h"
#include "test_paths.h"

namespace superlens::test {

// A folder's refs.json, parsed once per test binary.
inline const nlohmann::json& folderAnswers(const std::string& folder) {
    static std::map<std::string, nlohmann::json> s_answers;
    auto it = s_answers.find(folder);
    if (it == s_answers.end()) it = s_answers.emplace(folder, readJson(testData() / folder / "refs.json")).first;
    return it->second;
}

class GoldenFixture : public ::testing::TestWithParam<std::tuple<const char*, core::Precision>> {
protected:
    // Opens tests/data/<folder>/<name> and its answers; a failure ends the test.
    void open(const std::string& folder) {
        m_name = std::get<0>(GetParam());
        const nlohmann::json& answers = folderAnswers(folder);
        ASSERT_TRUE(answers.contains(m_name)) << m_name << " missing from tests/data/" << folder << "/refs.json";
        m_ref = &answers[m_name];
        auto model = core::Model::open(testData() / folder / m_name);
        ASSERT_TRUE(model.ok()) << model.error().message;
        m_model = *model;
        core::EngineOptions opts;
        opts.precision = std::get<1>(GetParam());
        m_engine = std::make_unique<core::Engine>(m_model, opts);
    }
    // The checkpoint's prompt (refs.json "ids").
    std::vector<core::TokenId> ids() const { return (*m_ref)["ids"].get<std::vector<core::TokenId>>(); }

    const char* m_name = nullptr;
    const nlohmann::json* m_ref = nullptr;
    std::shared_ptr<const core::Model> m_model;
    std::unique_ptr<core::Engine> m_engine;
};

// A reference checkpoint (tests/data/reference) run by a default engine, on
// whatever kernels the process chose: its all-position logits' relative
// error against the float64 answers (infinite, with a test failure, when the
// model does not open or run).
inline double referenceLogitsError(const char* name) {
    const nlohmann::json& ref = referenceAnswers()[name];
    auto model = core::Model::open(referenceModel(name));
    EXPECT_TRUE(model.ok()) << name << ": " << model.error().message;
    if (!model.ok()) return INFINITY;
    core::Engine engine(*model);
    core::ForwardRequest req;
    req.tokens = ref["ids"].get<std::vector<core::TokenId>>();
    req.allPositionLogits = true;
    auto r = engine.run(req);
    EXPECT_TRUE(r.ok()) << name << ": " << r.error().message;
    if (!r.ok()) return INFINITY;
    return relativeMaxError((*r)->logits.values, flatten(ref["logits_all"]));
}

}  // namespace superlens::test
