// The super-weight ablation study on the planted Llama: conditions' edits
// (zeroing, super-activation restore with the reference value, the control
// outliers found by brute force here), and each measure against an
// independent call of the measure with the same edits.

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/expert_study.h"
#include "superlens/core/analysis/superweight_study.h"

#include <set>

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


// The per-window sums the bootstrap resamples, regrouped here from the
// per-token NLLs and the stopword mass recomputed from full softmaxes.
TEST(Study, WindowSumsMatchTokens) {
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    const auto text = studyText();
    PerplexityOptions po;
    po.context = 8;
    po.stride = 4;
    const std::vector<TokenId> ids = {2, 5, 12, 77};
    auto s = scoreText(engine, text, {}, po, ids);
    ASSERT_TRUE(s.ok()) << s.error().message;
    const PerplexityResult& p = s->perplexity;
    ASSERT_EQ(p.windowNll.size(), static_cast<std::size_t>(p.windows));
    ASSERT_EQ(s->distribution.windowTrackedMass.size(), p.windowNll.size());
    std::size_t t = 0;
    double total = 0, massTotal = 0;
    std::int64_t tokens = 0;
    for (std::size_t w = 0; w < p.windowNll.size(); ++w) {
        double sum = 0;
        for (std::int64_t k = 0; k < p.windowTokens[w]; ++k) sum += p.tokenNll[t++];
        EXPECT_NEAR(p.windowNll[w], sum, 1e-5 * std::max(1.0, std::abs(sum)));
        total += p.windowNll[w];
        tokens += p.windowTokens[w];
        massTotal += s->distribution.windowTrackedMass[w];
    }
    EXPECT_EQ(t, p.tokenNll.size());
    EXPECT_EQ(tokens, p.tokens);
    EXPECT_NEAR(total / tokens, p.nll, 1e-12);
    EXPECT_NEAR(massTotal / tokens, s->distribution.massOn(ids), 1e-12);
}

// Intervals: each is the percentile interval of the statistic recomputed
// here from the per-window sums on the same (seeded) resamples, and
// contains its point value; the original's ratio interval is exactly [1, 1].
TEST(Study, IntervalsFromWindowsAndTasks) {
    const auto& ref = referenceAnswers()["llama-planted"];
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    const auto text = studyText();
    std::vector<ZeroShotTask> tasks(5);
    for (int i = 0; i < 5; ++i) {
        tasks[i].contextIds = {1, static_cast<TokenId>(5 + 7 * i), static_cast<TokenId>(77 + i)};
        tasks[i].choiceIds = {{12}, {static_cast<TokenId>(200 - i)}, {31}};
        tasks[i].gold = i % 3;
    }
    SuperWeightStudyInputs in;
    in.textTokens = text;
    in.scanTokens = ref["ids"].get<std::vector<TokenId>>();
    in.tasks = &tasks;
    in.stopwordIds = {2, 5, 12, 77};
    SuperWeightStudyOptions o;
    o.perplexity.context = 8;
    o.perplexity.stride = 8;
    o.bootstrap.resamples = 500;
    auto study = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    const auto& c0 = study->conditions[0];
    const auto& c1 = study->conditions[1];
    EXPECT_DOUBLE_EQ(c0.ci.pplRatio.lo, 1.0);
    EXPECT_DOUBLE_EQ(c0.ci.pplRatio.hi, 1.0);
    EXPECT_DOUBLE_EQ(c0.ci.stopwordRatio.lo, 1.0);
    EXPECT_DOUBLE_EQ(c0.ci.accuracyDelta.hi, 0.0);
    EXPECT_NEAR(c1.pplRatio, c1.ppl->ppl / c0.ppl->ppl, 1e-12);
    // Recompute the sw_zeroed perplexity-ratio replicates from independent passes.
    auto p0 = perplexity(engine, text, c0.edits, o.perplexity);
    auto p1 = perplexity(engine, text, c1.edits, o.perplexity);
    ASSERT_TRUE(p0.ok() && p1.ok());
    const std::size_t W = p0->windowNll.size();
    ASSERT_GT(W, 3u);
    Resampler r(W, o.bootstrap.seed);
    std::vector<double> reps, ratioReps;
    std::vector<std::uint32_t> k;
    for (int b = 0; b < o.bootstrap.resamples; ++b) {
        r.next(k);
        double n0 = 0, n1 = 0, t = 0;
        for (std::size_t w = 0; w < W; ++w) {
            n0 += k[w] * p0->windowNll[w];
            n1 += k[w] * p1->windowNll[w];
            t += k[w] * double(p0->windowTokens[w]);
        }
        reps.push_back(std::exp(n1 / t));
        ratioReps.push_back(std::exp(n1 / t - n0 / t));
    }
    const Interval ppl = percentileInterval(reps, 0.95), ratio = percentileInterval(ratioReps, 0.95);
    EXPECT_NEAR(c1.ci.ppl.lo, ppl.lo, 1e-9 * ppl.lo);
    EXPECT_NEAR(c1.ci.ppl.hi, ppl.hi, 1e-9 * ppl.hi);
    EXPECT_NEAR(c1.ci.pplRatio.lo, ratio.lo, 1e-9);
    EXPECT_NEAR(c1.ci.pplRatio.hi, ratio.hi, 1e-9);
    for (const auto& c : study->conditions) {
        EXPECT_TRUE(c.ci.ppl.contains(c.ppl->ppl)) << c.key;
        EXPECT_TRUE(c.ci.stopwordMass.contains(c.stopwords->editedMass)) << c.key;
        ASSERT_TRUE(c.ci.accuracy.valid()) << c.key;
        EXPECT_GE(c.ci.accuracy.lo, 0.0);
        EXPECT_LE(c.ci.accuracy.hi, 1.0);
        // Accuracy over 5 tasks takes values k/5 only, and the interval's ends are such values or between two.
        EXPECT_LE(c.ci.accuracy.lo, c.zeroShot->accuracy + 1e-12);
    }
    const auto j = nlohmann::json::parse(study->conditionsJson());
    ASSERT_EQ(j.size(), 4u);
    EXPECT_NEAR(j[1]["ppl_ci"][0].get<double>(), c1.ci.ppl.lo, 1e-12 * c1.ci.ppl.lo);
    EXPECT_TRUE(j[1]["stopwords"]["mass_ci"].is_array());
    EXPECT_TRUE(j[1]["zero_shot"]["accuracy_ci"].is_array());
    EXPECT_EQ(j[1].count("null"), 0u);
    EXPECT_NE(study->markdown().find(" ["), std::string::npos);

    o.bootstrap.resamples = 0;  // off: no intervals anywhere
    auto off = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(off.ok());
    EXPECT_FALSE(off->conditions[1].ci.ppl.valid());
    EXPECT_TRUE(nlohmann::json::parse(off->conditionsJson())[1]["ppl_ci"].is_null());
    o.bootstrap.level = 1.5;
    o.bootstrap.resamples = 10;
    EXPECT_FALSE(studySuperWeight(engine, in, {}, o).ok());
}

// The null control: every draw changes one random non-super entry of the
// right matrix by -w_super, its perplexity is that of an independent pass
// with the draw's edit, and percentile / z follow from the draws.
TEST(Study, NullControlDraws) {
    const auto& ref = referenceAnswers()["llama-planted"];
    auto model = openModelOrDie(referenceModel("llama-planted"));
    Engine engine(model);
    SuperWeightStudyInputs in;
    in.textTokens = studyText();
    in.scanTokens = ref["ids"].get<std::vector<TokenId>>();
    SuperWeightStudyOptions o;
    o.perplexity.context = 8;
    o.bootstrap.resamples = 0;
    o.nullCount = 4;
    auto study = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    const SuperWeight& sw = study->superWeights[0];
    const StudyCondition& ablated = study->conditions[1];
    ASSERT_EQ(ablated.nulls.size(), 2u);
    for (const StudyCondition& c : study->conditions) {
        if (c.key != "sw_zeroed") {
            EXPECT_TRUE(c.nulls.empty()) << c.key;
        }
    }
    std::set<std::pair<std::int64_t, std::int64_t>> positions;
    for (const NullControl& n : ablated.nulls) {
        ASSERT_EQ(n.k, 4);
        ASSERT_EQ(n.draws.size(), 4u);
        ASSERT_EQ(n.ppl.values.size(), 4u);
        double sum = 0;
        for (std::size_t d = 0; d < 4; ++d) {
            ASSERT_EQ(n.draws[d].size(), 1u);
            const EditSpec& e = n.draws[d][0];
            EXPECT_EQ(e.kind, EditKind::Weight);
            const std::string same = model->downProjectionName(sw.layer);
            if (n.scope == "same_matrix") {
                EXPECT_EQ(e.target, same);
            } else {
                EXPECT_EQ(n.scope, "elsewhere");
                EXPECT_NE(e.target, same);
                EXPECT_NE(e.target.find("mlp.down_proj.weight"), std::string::npos);
            }
            const std::int64_t r = *e.index[0], c = *e.index[1];
            EXPECT_FALSE(e.target == same && r == sw.row && c == sw.col);
            if (n.scope == "same_matrix") positions.insert({r, c});
            const double stored = engine.storedWeight(e.target)->at(r, c);
            EXPECT_NEAR(e.value, stored - sw.value, 1e-6 * std::abs(sw.value));
            auto p = perplexity(engine, in.textTokens, n.draws[d], o.perplexity);
            ASSERT_TRUE(p.ok());
            EXPECT_DOUBLE_EQ(n.ppl.values[d], p->ppl);
            sum += p->ppl;
        }
        EXPECT_NEAR(n.ppl.mean, sum / 4, 1e-12 * sum);
        const NullSummary again = summarizeNull(n.ppl.values, ablated.ppl->ppl);
        EXPECT_DOUBLE_EQ(n.ppl.percentile, again.percentile);
    }
    EXPECT_GT(positions.size(), 1u);  // the draws are spread, not one entry
    const auto j = nlohmann::json::parse(study->conditionsJson());
    ASSERT_TRUE(j[1].contains("null"));
    EXPECT_EQ(j[1]["null"]["k"], 4);
    EXPECT_EQ(j[1]["null"]["ppl"].size(), 4u);
    EXPECT_TRUE(j[1]["null"].contains("percentile"));
    EXPECT_TRUE(j[1]["null"].contains("z"));
    EXPECT_TRUE(j[1].contains("null_elsewhere"));
    EXPECT_NE(study->markdown().find("Null control"), std::string::npos);
    // Same seed, same draws.
    auto again = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->conditions[1].nulls[0].ppl.values, ablated.nulls[0].ppl.values);
}

// Joint ablation on the Phi-3 fixture with two planted super weights (plus an
// ordinary weight as a third item, so leave-one-out differs from the
// singles): every effect is ln(ppl ratio) of an independent pass.
TEST(Study, JointAblationTwoPlantedSuperWeights) {
    const auto& ref = referenceAnswers()["phi3-bf16-two-super-weights"];
    auto model = openModelOrDie(referenceModel("phi3-bf16-two-super-weights"));
    Engine engine(model);
    SuperWeightStudyInputs in;
    const std::vector<TokenId> ids = ref["ids"].get<std::vector<TokenId>>();
    const std::size_t L = ids.size();
    ASSERT_GE(L, 4u);
    std::vector<TokenId> text;  // 5 windows: the reference tokens, the ones after the first rotated by i
    for (std::size_t i = 0; i < 5; ++i) {
        text.push_back(ids[0]);
        for (std::size_t k = 1; k < L; ++k) text.push_back(ids[1 + (k - 1 + i) % (L - 1)]);
    }
    in.textTokens = text;
    in.scanTokens = ids;
    in.superWeights = {{1, 8, 42}, {1, 50, 42}, {0, 3, 7}};
    SuperWeightStudyOptions o;
    o.perplexity.context = static_cast<int>(L);
    o.bootstrap.resamples = 200;
    o.joint = true;
    auto study = studySuperWeight(engine, in, {}, o);
    ASSERT_TRUE(study.ok()) << study.error().message;
    ASSERT_TRUE(study->joint.has_value());
    const JointAblation& j = *study->joint;
    ASSERT_EQ(j.n(), 3u);
    const auto nllWith = [&](std::vector<int> which) {
        std::vector<EditSpec> edits;
        for (int i : which) edits.push_back(*parseEdit(study->superWeights[i].zeroEdit(*model)));
        auto p = perplexity(engine, text, edits, o.perplexity);
        EXPECT_TRUE(p.ok());
        return p->nll;
    };
    const double n0 = nllWith({});
    EXPECT_NEAR(j.originalNll, n0, 1e-12);
    EXPECT_NEAR(j.allEffect, nllWith({0, 1, 2}) - n0, 1e-9);
    for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(j.singleEffect[i], nllWith({i}) - n0, 1e-9);
        std::vector<int> rest;
        for (int k = 0; k < 3; ++k) {
            if (k != i) rest.push_back(k);
        }
        EXPECT_NEAR(j.leaveOneOutEffect[i], nllWith(rest) - n0, 1e-9);
        EXPECT_TRUE(j.singleCi[i].contains(j.singleEffect[i]) || std::abs(j.singleEffect[i]) < 1e-12);
        for (int k = 0; k < 3; ++k) {
            if (k == i) {
                EXPECT_EQ(j.inter(i, k), 0.0);
                EXPECT_EQ(j.pair(i, k), j.singleEffect[i]);
                continue;
            }
            const double pair = nllWith({i, k}) - n0;
            EXPECT_NEAR(j.pair(i, k), pair, 1e-9);
            EXPECT_NEAR(j.inter(i, k), pair - j.singleEffect[i] - j.singleEffect[k], 1e-9);
            EXPECT_DOUBLE_EQ(j.inter(i, k), j.inter(k, i));
        }
    }
    // The two planted weights of one column do not act additively (random weights: the sign means little).
    EXPECT_GT(std::abs(j.inter(0, 1)), 1e-4);
    const auto js = nlohmann::json::parse(study->jointJson());
    EXPECT_EQ(js["items"].size(), 3u);
    EXPECT_EQ(js["interaction"].size(), 3u);
    EXPECT_EQ(js["interaction_ci"][0][1].size(), 2u);
    EXPECT_TRUE(js["interaction_ci"][0][0].is_null());
    const std::string md = study->markdown();
    EXPECT_NE(md.find("Pairwise interaction"), std::string::npos);
    EXPECT_NE(md.find("all but 1:8:42"), std::string::npos);
}

// The generic routine (joint_ablation.h): subsets the caller already measured
// are reused as given (the result equals measuring them again), and bad item
// counts are refused with one message.
TEST(Study, JointAblationReusesKnownSubsetsAndChecksItemCount) {
    const auto& ref = referenceAnswers()["phi3-bf16-two-super-weights"];
    auto model = openModelOrDie(referenceModel("phi3-bf16-two-super-weights"));
    Engine engine(model);
    const std::vector<TokenId> ids = ref["ids"].get<std::vector<TokenId>>();
    std::vector<TokenId> text;
    for (int i = 0; i < 4; ++i) text.insert(text.end(), ids.begin(), ids.end());
    JointAblationOptions o;
    o.perplexity.context = static_cast<int>(ids.size());
    o.bootstrap.resamples = 100;
    o.noun = "sites";
    std::vector<JointItem> items;
    for (std::int64_t c : {8, 50}) items.push_back({"c" + std::to_string(c), {*parseEdit(activationSetText("blocks.1.hook_resid_post", 0, c, 0.0))}});
    auto fresh = jointAblation(engine, text, {}, items, o);
    ASSERT_TRUE(fresh.ok()) << fresh.error().message;
    auto p0 = perplexity(engine, text, {}, o.perplexity);
    auto p1 = perplexity(engine, text, items[0].edits, o.perplexity);
    ASSERT_TRUE(p0.ok() && p1.ok());
    auto reused = jointAblation(engine, text, {}, items, o, {{0, windowUnits(*p0)}, {1, windowUnits(*p1)}});
    ASSERT_TRUE(reused.ok());
    EXPECT_EQ(reused->singleEffect, fresh->singleEffect);
    EXPECT_EQ(reused->interaction, fresh->interaction);
    EXPECT_EQ(reused->singleCi[0].lo, fresh->singleCi[0].lo);
    EXPECT_EQ(fresh->names, (std::vector<std::string>{"c8", "c50"}));
    EXPECT_EQ(fresh->edits[1], std::vector<std::string>{"blocks.1.hook_resid_post[0,50]=0"});
    EXPECT_NEAR(fresh->singleEffect[0], p1->nll - p0->nll, 1e-12);
    // A known subset is taken as given: a different "single" shows up in the table.
    WindowUnits fake = windowUnits(*p0);
    auto faked = jointAblation(engine, text, {}, items, o, {{1, fake}});
    ASSERT_TRUE(faked.ok());
    EXPECT_NEAR(faked->singleEffect[0], 0.0, 1e-12);
    auto none = jointAblation(engine, text, {}, {}, o);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().message, "--joint: no sites to ablate");
    auto many = jointAblation(engine, text, {}, std::vector<JointItem>(17, items[0]), o);
    ASSERT_FALSE(many.ok());
    EXPECT_NE(many.error().message.find("17 sites; at most 16"), std::string::npos);
}

// --experts L:E;L:E (expert_study.h): separators ';' and ',', spaces
// trimmed; anything else is one error naming the option and the item.
TEST(Study, ParseExpertList) {
    auto ok = parseExpertList("1:0; 2:5,0:3", "--experts");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(*ok, (std::vector<std::pair<int, int>>{{1, 0}, {2, 5}, {0, 3}}));
    for (const char* bad : {"", ";", "1", "a:b", "1:-2", "1:2:3", "1:", ":1", "9999999999:1"}) {
        auto r = parseExpertList(bad, "--experts");
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().message.rfind("--experts: ", 0), 0u) << r.error().message;
    }
}

}  // namespace
