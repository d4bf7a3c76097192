// KV-cached generation equals greedy decoding by full recomputation, and the
// real stories260K model reproduces its reference logits, NLL and greedy text.

#include <cmath>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

TEST(Generation, KvCacheMatchesFullRecomputation) {
    for (const char* name : {"llama-planted", "qwen2-f16-tied", "phi3-bf16-two-super-weights", "llama3-rope-scaled"}) {
        auto model = Model::open(referenceModel(name));
        ASSERT_TRUE(model.ok());
        Engine engine(*model);
        const auto prompt = referenceAnswers()[name]["ids"].get<std::vector<TokenId>>();
        GenerateRequest g;
        g.prompt = prompt;
        g.maxNewTokens = 12;
        auto gen = engine.generate(g);
        ASSERT_TRUE(gen.ok()) << gen.error().message;
        ASSERT_EQ(gen->tokens.size(), 12u);

        std::vector<TokenId> seq = prompt;
        for (TokenId expected : gen->tokens) {
            ForwardRequest req;
            req.tokens = seq;
            auto r = engine.run(req);
            ASSERT_TRUE(r.ok());
            const auto logits = (*r)->lastLogits();
            const auto best = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
            EXPECT_EQ(best, expected) << name << " at " << seq.size();
            seq.push_back(expected);
        }
    }
}

TEST(Generation, SamplingIsReproducibleWithASeed) {
    auto model = Model::open(referenceModel("llama-planted"));
    Engine engine(*model);
    GenerateRequest g;
    g.prompt = {1, 5, 77};
    g.maxNewTokens = 10;
    g.greedy = false;
    g.temperature = 1.0;
    g.topK = 50;
    g.seed = 7;
    auto a = engine.generate(g), b = engine.generate(g);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->tokens, b->tokens);
}

TEST(Stories260K, LogitsNllAndGreedyMatchReference) {
    const auto dir = testData() / "stories260K";
    auto model = Model::open(dir);
    ASSERT_TRUE(model.ok()) << model.error().message;
    const auto ref = readJson(dir / "reference.json");
    Engine engine(*model);
    for (const auto& p : ref["prompts"]) {
        ForwardRequest req;
        req.tokens = p["ids"].get<std::vector<TokenId>>();
        req.allPositionLogits = true;
        auto r = engine.run(req);
        ASSERT_TRUE(r.ok());
        const auto want = p["logits_last"].get<std::vector<double>>();
        const auto got = (*r)->lastLogits();
        double maxAbs = 0, maxErr = 0;
        for (std::size_t i = 0; i < want.size(); ++i) {
            maxAbs = std::max(maxAbs, std::abs(want[i]));
            maxErr = std::max(maxErr, std::abs(want[i] - got[i]));
        }
        EXPECT_LE(maxErr, 1e-4 * maxAbs) << p["text"];
        // Mean next-token NLL from all-position logits, accumulated in double.
        const auto& L = (*r)->logits;
        double nll = 0;
        for (std::int64_t t = 0; t + 1 < L.rows(); ++t) {
            double mx = -1e300, sum = 0;
            for (std::int64_t v = 0; v < L.cols(); ++v) mx = std::max(mx, static_cast<double>(L.at(t, v)));
            for (std::int64_t v = 0; v < L.cols(); ++v) sum += std::exp(L.at(t, v) - mx);
            nll -= L.at(t, req.tokens[t + 1]) - mx - std::log(sum);
        }
        nll /= static_cast<double>(L.rows() - 1);
        EXPECT_NEAR(nll, p["mean_nll_next_token"].get<double>(), 1e-4) << p["text"];
    }
    GenerateRequest g;
    g.prompt = {1};
    const auto want = ref["greedy_from_bos"]["ids"].get<std::vector<TokenId>>();
    g.maxNewTokens = static_cast<int>(want.size()) - 1;
    auto gen = engine.generate(g);
    ASSERT_TRUE(gen.ok());
    std::vector<TokenId> all = {1};
    all.insert(all.end(), gen->tokens.begin(), gen->tokens.end());
    EXPECT_EQ(all, want);
}

}  // namespace
