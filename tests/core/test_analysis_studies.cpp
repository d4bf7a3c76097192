// The super-weight ablation study on the planted Llama: conditions' edits
// (zeroing, super-activation restore with the reference value, the control
// outliers found by brute force here), and each measure against an
// independent call of the measure with the same edits.

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/studies.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

std::vector<TokenId> studyText() {
    const auto& ref = referenceAnswers()["llama-planted"];
    std::vector<TokenId> ids = ref["ids"].get<std::vector<TokenId>>();
    for (int i = 0; i < 3; ++i) {
        ids.push_back(1);  // a new "document" with its BOS
        for (TokenId t : {11, 22, 33, 44, 55, 66, 77}) ids.push_back(static_cast<TokenId>((t * (i + 3)) % 256));
    }
    return ids;
}

TEST(Study, LargestWeightsBruteForce) {
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    const std::string name = "model.layers.1.mlp.down_proj.weight";
    auto got = largestWeights(engine, name, {}, 3, {{13, 57}});
    ASSERT_TRUE(got.ok());
    const RowMatrixF w = engine.storedWeight(name)->toDense();
    std::vector<std::tuple<float, std::int64_t, std::int64_t>> all;
    for (std::int64_t r = 0; r < w.rows(); ++r) {
        for (std::int64_t c = 0; c < w.cols(); ++c) {
            if (!(r == 13 && c == 57)) all.emplace_back(-std::abs(w(r, c)), r, c);
        }
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(got->size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ((*got)[i].first, std::get<1>(all[i]));
        EXPECT_EQ((*got)[i].second, std::get<2>(all[i]));
    }
    // Without the exclusion the planted weight is the largest.
    auto withSw = largestWeights(engine, name, {}, 1, {});
    ASSERT_TRUE(withSw.ok());
    EXPECT_EQ((*withSw)[0], (std::pair<std::int64_t, std::int64_t>{13, 57}));
}

TEST(Study, ConditionsAndMeasures) {
    const auto& ref = referenceAnswers()["llama-planted"];
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    const auto text = studyText();
    std::vector<ZeroShotTask> tasks(2);
    tasks[0].contextIds = {1, 5, 77, 130};
    tasks[0].choiceIds = {{12}, {200, 99}, {31}};
    tasks[0].gold = 1;
    tasks[1].contextIds = {1, 9};
    tasks[1].choiceIds = {{8}, {7}};
    tasks[1].gold = 0;
    SuperWeightStudyInputs in;
    in.textTokens = text;
    in.scanTokens = ref["ids"].get<std::vector<TokenId>>();
    in.tasks = &tasks;
    in.stopwordIds = {2, 5, 12, 77};
    SuperWeightStudyOptions o;
    o.perplexity.context = 8;
    o.perplexity.stride = 4;
    auto study = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    ASSERT_EQ(study->superWeights.size(), 1u);
    EXPECT_EQ(study->superWeights[0].coord(), (SuperWeightCoord{1, 13, 57}));
    ASSERT_EQ(study->conditions.size(), 4u);
    EXPECT_EQ(study->conditions[0].key, "original");
    EXPECT_EQ(study->conditions[1].key, "sw_zeroed");
    EXPECT_EQ(study->conditions[2].key, "sw_zeroed_sa_restored");
    EXPECT_EQ(study->conditions[3].key, "outliers_zeroed");
    EXPECT_TRUE(study->conditions[0].edits.empty());
    ASSERT_EQ(study->conditions[1].edits.size(), 1u);
    EXPECT_EQ(study->conditions[1].edits[0].text(), "model.layers.1.mlp.down_proj.weight[13,57]=0");
    // Restore: the zeroing plus the original super activation (float64 reference value).
    ASSERT_EQ(study->conditions[2].edits.size(), 2u);
    const EditSpec& restore = study->conditions[2].edits[1];
    EXPECT_EQ(restore.kind, EditKind::Activation);
    EXPECT_EQ(restore.target, "blocks.1.hook_mlp_out");
    ASSERT_EQ(restore.index.size(), 2u);
    EXPECT_EQ(*restore.index[0], 0);
    EXPECT_EQ(*restore.index[1], 13);
    const double sa = ref["hooks"]["blocks.1.hook_mlp_out"][0][13].get<double>();
    EXPECT_NEAR(restore.value, sa, 1e-4 * std::abs(sa));
    // Control: the largest other weight of the same matrix.
    auto largest = largestWeights(engine, "model.layers.1.mlp.down_proj.weight", {}, 1, {{13, 57}});
    ASSERT_TRUE(largest.ok());
    ASSERT_EQ(study->outliers.size(), 1u);
    EXPECT_EQ(study->outliers[0], (SuperWeightCoord{1, (*largest)[0].first, (*largest)[0].second}));

    for (const auto& c : study->conditions) {
        // Each measure equals the measure called on its own with the condition's edits.
        PerplexityOptions po = o.perplexity;
        auto ppl = perplexity(engine, text, c.edits, po);
        ASSERT_TRUE(ppl.ok());
        ASSERT_TRUE(c.ppl.has_value());
        EXPECT_DOUBLE_EQ(c.ppl->nll, ppl->nll) << c.key;
        auto zs = zeroShot(engine, nullptr, tasks, c.edits);
        ASSERT_TRUE(zs.ok());
        ASSERT_TRUE(c.zeroShot.has_value());
        EXPECT_EQ(c.zeroShot->logLikelihoods, zs->logLikelihoods) << c.key;
        ASSERT_TRUE(c.stopwords.has_value());
        EXPECT_DOUBLE_EQ(c.stopwords->originalMass, study->conditions[0].stopwords->editedMass);
    }
    EXPECT_DOUBLE_EQ(study->conditions[0].stopwords->ratio(), 1.0);
    // Removing the super weight changes the model; restoring the activation moves it back towards the original.
    EXPECT_NE(study->conditions[1].ppl->nll, study->conditions[0].ppl->nll);
    EXPECT_LT(std::abs(study->conditions[2].ppl->nll - study->conditions[0].ppl->nll),
              std::abs(study->conditions[1].ppl->nll - study->conditions[0].ppl->nll));
    const std::string md = study->markdown();
    EXPECT_NE(md.find("| original |"), std::string::npos);
    EXPECT_NE(md.find("| super weight zeroed |"), std::string::npos);
    EXPECT_NE(md.find("layers.1[13,57]"), std::string::npos);
}

TEST(Study, ExplicitCoordinatesAndErrors) {
    const auto& ref = referenceAnswers()["phi3-bf16-two-super-weights"];
    auto model = openModelOrDie(referenceModel("phi3-bf16-two-super-weights"));
    Engine engine(model);
    SuperWeightStudyInputs in;
    in.textTokens = ref["ids"].get<std::vector<TokenId>>();
    in.superWeights = {{1, 8, 42}, {1, 50, 42}};
    SuperWeightStudyOptions o;
    o.outlierCount = 3;
    auto study = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    ASSERT_EQ(study->superWeights.size(), 2u);
    EXPECT_EQ(study->superWeights[0].value, engine.storedWeight("model.layers.1.mlp.down_proj.weight")->at(8, 42));
    EXPECT_EQ(study->outliers.size(), 3u);
    EXPECT_EQ(study->conditions[2].edits.size(), 4u);  // two zeroings, two rows restored
    EXPECT_FALSE(study->conditions[0].zeroShot.has_value());
    EXPECT_FALSE(study->conditions[0].stopwords.has_value());

    in.superWeights = {{9, 0, 0}};
    EXPECT_FALSE(studySuperWeight(engine, in, {}, o).ok());
    // A model without super weights: the scan finds nothing, which is an error for the study.
    Engine plain(openModelOrDie(referenceModel("llama3-rope-scaled")));
    SuperWeightStudyInputs none;
    none.textTokens = {1, 5, 77, 130, 12};
    auto r = studySuperWeight(plain, none, {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("no super weight"), std::string::npos);
}

}  // namespace
