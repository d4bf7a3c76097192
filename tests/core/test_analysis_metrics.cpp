// Perplexity, stopword mass and zero-shot scores against float64 numbers
// computed here: from refs.json's reference logits (independent float64
// forward pass), stories260K's reference mean NLL, and log-softmax written
// out in the test for window bookkeeping the references do not cover.

#include <fstream>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "analysis_test_util.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/tokenizer/tokenizer.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

std::vector<std::vector<double>> refLogitsAll(const nlohmann::json& ref) {
    return ref["logits_all"].get<std::vector<std::vector<double>>>();
}

// Full-sequence NLL of tokens[1..] from float64 reference logits.
std::vector<double> nllFromReference(const nlohmann::json& ref) {
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    const auto logits = refLogitsAll(ref);
    std::vector<double> out;
    for (std::size_t j = 1; j < ids.size(); ++j) out.push_back(-logSoftmax64(logits[j - 1])[static_cast<std::size_t>(ids[j])]);
    return out;
}

TEST(Perplexity, FullWindowMatchesReferenceLogits) {
    for (const char* name : kReferenceModels) {
        const auto& ref = referenceAnswers()[name];
        Engine engine(openModelOrDie(referenceModel(name)));
        const auto ids = ref["ids"].get<std::vector<TokenId>>();
        PerplexityOptions o;
        o.context = 64;
        auto r = perplexity(engine, ids, {}, o);
        ASSERT_TRUE(r.ok()) << r.error().message;
        const auto want = nllFromReference(ref);
        const double mean = std::accumulate(want.begin(), want.end(), 0.0) / static_cast<double>(want.size());
        EXPECT_EQ(r->tokens, static_cast<std::int64_t>(ids.size() - 1));
        EXPECT_EQ(r->windows, 1);
        EXPECT_NEAR(r->nll, mean, 1e-4) << name;
        EXPECT_NEAR(r->ppl, std::exp(mean), 1e-4 * std::exp(mean)) << name;
        ASSERT_EQ(r->tokenNll.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            EXPECT_NEAR(r->tokenNll[i], want[i], 1e-4) << name << " token " << i + 1;
            EXPECT_EQ(r->tokenIndex[i], static_cast<std::int64_t>(i + 1));
        }
    }
}

TEST(Perplexity, StoriesReferenceMeanNll) {
    const auto ref = readJson(testData() / "stories260K" / "reference.json");
    Engine engine(openModelOrDie(testData() / "stories260K"));
    for (const auto& p : ref["prompts"]) {
        auto r = perplexity(engine, p["ids"].get<std::vector<TokenId>>(), {});
        ASSERT_TRUE(r.ok());
        EXPECT_NEAR(r->nll, p["mean_nll_next_token"].get<double>(), 1e-5) << p["text"];
    }
}

// Sliding windows: the expected scores are computed here by an independent
// implementation of the Hugging Face loop, running each window through the
// engine and taking log-softmax in float64.
TEST(Perplexity, SlidingWindowBookkeeping) {
    const auto& ref = referenceAnswers()["mistral-bf16-sharded"];
    Engine engine(openModelOrDie(referenceModel("mistral-bf16-sharded")));
    std::vector<TokenId> ids = ref["ids"].get<std::vector<TokenId>>();
    for (TokenId extra : {3, 9, 27, 81, 243, 17, 51}) ids.push_back(extra);  // 17 tokens
    for (const auto& [ctx, stride] : std::vector<std::pair<int, int>>{{4, 4}, {4, 2}, {5, 3}, {6, 1}, {17, 17}, {32, 0}}) {
        PerplexityOptions o;
        o.context = ctx;
        o.stride = stride;
        auto r = perplexity(engine, ids, {}, o);
        ASSERT_TRUE(r.ok()) << r.error().message;
        const int s = stride == 0 ? ctx : stride;
        std::vector<double> want;
        std::vector<std::int64_t> wantIdx;
        const int n = static_cast<int>(ids.size());
        int prevEnd = 0;
        for (int begin = 0; begin < n; begin += s) {
            const int end = std::min(begin + ctx, n);
            ForwardRequest req;
            req.tokens.assign(ids.begin() + begin, ids.begin() + end);
            req.allPositionLogits = true;
            auto w = engine.run(req);
            ASSERT_TRUE(w.ok());
            for (int j = std::max(prevEnd, begin + 1); j < end; ++j) {
                want.push_back(-logSoftmax64(rowOf((*w)->logits, j - begin - 1))[static_cast<std::size_t>(ids[static_cast<std::size_t>(j)])]);
                wantIdx.push_back(j);
            }
            prevEnd = end;
            if (end == n) break;
        }
        ASSERT_EQ(r->tokenIndex, wantIdx) << "ctx " << ctx << " stride " << stride;
        for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r->tokenNll[i], want[i], 1e-5);
        const double mean = std::accumulate(want.begin(), want.end(), 0.0) / static_cast<double>(want.size());
        EXPECT_NEAR(r->nll, mean, 1e-6);
    }
    // Non-overlapping windows never predict a window's first token.
    PerplexityOptions o;
    o.context = 4;
    EXPECT_EQ(perplexity(engine, ids, {}, o)->tokens, 12);  // 17 tokens: windows of 4,4,4,4,1 -> 3+3+3+3+0
}

TEST(Perplexity, BosPrefixedWindowsScoreEveryTextTokenOnceAfterBos) {
    // 11 text ids, windows of 4: [B a b c] [B d e f] [B g h i] [B j k].
    const std::vector<TokenId> text{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const auto w = bosPrefixedWindows(text, 1, 4);
    EXPECT_EQ(w, (std::vector<TokenId>{1, 5, 6, 7, 1, 8, 9, 10, 1, 11, 12, 13, 1, 14, 15}));
    EXPECT_TRUE(bosPrefixedWindows({}, 1, 4).empty());
    // Scored with context = stride = 4, each text token is predicted once, by a
    // window that starts with BOS: the same NLLs as running each window alone.
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    std::vector<TokenId> ids = ref["ids"].get<std::vector<TokenId>>();
    const std::vector<TokenId> body(ids.begin() + 1, ids.end());
    const auto windows = bosPrefixedWindows(body, ids.front(), 4);
    PerplexityOptions o;
    o.context = 4;
    auto r = perplexity(engine, windows, {}, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->tokens, static_cast<std::int64_t>(body.size()));
    std::vector<double> want;
    for (std::size_t begin = 0; begin < windows.size(); begin += 4) {
        ForwardRequest req;
        req.tokens.assign(windows.begin() + static_cast<std::ptrdiff_t>(begin),
                          windows.begin() + static_cast<std::ptrdiff_t>(std::min(windows.size(), begin + 4)));
        ASSERT_EQ(req.tokens.front(), ids.front());
        req.allPositionLogits = true;
        auto run = engine.run(req);
        ASSERT_TRUE(run.ok());
        for (std::size_t j = 1; j < req.tokens.size(); ++j) {
            want.push_back(-logSoftmax64(rowOf((*run)->logits, static_cast<int>(j) - 1))[static_cast<std::size_t>(req.tokens[j])]);
        }
    }
    ASSERT_EQ(r->tokenNll.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r->tokenNll[i], want[i], 1e-5);
}

TEST(Perplexity, EditsAndErrors) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    auto e = parseEdit(ref["edited"]["edit"].get<std::string>());
    ASSERT_TRUE(e.ok());
    auto base = perplexity(engine, ids, {});
    auto edited = perplexity(engine, ids, {*e});
    ASSERT_TRUE(base.ok() && edited.ok());
    // Last position's prediction is not in the score; the second to last uses the edited run.
    ForwardRequest req;
    req.tokens = ids;
    req.edits = {*e};
    req.allPositionLogits = true;
    auto w = engine.run(req);
    double sum = 0;
    for (std::size_t j = 1; j < ids.size(); ++j) sum -= logSoftmax64(rowOf((*w)->logits, static_cast<std::int64_t>(j - 1)))[static_cast<std::size_t>(ids[j])];
    EXPECT_NEAR(edited->nll, sum / static_cast<double>(ids.size() - 1), 1e-6);
    EXPECT_NE(base->nll, edited->nll);

    EXPECT_FALSE(perplexity(engine, {1}, {}).ok());
    PerplexityOptions bad;
    bad.context = 1;
    EXPECT_FALSE(perplexity(engine, ids, {}, bad).ok());
    bad.context = 4;
    bad.stride = 5;
    EXPECT_FALSE(perplexity(engine, ids, {}, bad).ok());
    bad.stride = -1;
    EXPECT_FALSE(perplexity(engine, ids, {}, bad).ok());
    RunControl cancelled;
    cancelled.cancel();
    auto c = perplexity(engine, ids, {}, {}, cancelled);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().message, kCancelledMessage);
}

// Stopword mass recomputed by hand from the float64 reference logits.
TEST(Stopwords, MassAndShiftFromReferenceLogits) {
    const auto& ref = referenceAnswers()["llama-planted"];
    Engine engine(openModelOrDie(referenceModel("llama-planted")));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    const std::vector<TokenId> stop = {2, 5, 12, 77, 199};
    const auto logits = refLogitsAll(ref);
    double want = 0;
    for (std::size_t p = 0; p + 1 < ids.size(); ++p) {  // predicting positions
        const auto ls = logSoftmax64(logits[p]);
        for (TokenId s : stop) want += std::exp(ls[static_cast<std::size_t>(s)]);
    }
    want /= static_cast<double>(ids.size() - 1);

    auto e = parseEdit(ref["edited"]["edit"].get<std::string>());
    ASSERT_TRUE(e.ok());
    auto shift = stopwordShift(engine, ids, stop, {*e}, 512, 5);
    ASSERT_TRUE(shift.ok()) << shift.error().message;
    EXPECT_NEAR(shift->originalMass, want, 1e-5);
    EXPECT_EQ(shift->positions, static_cast<std::int64_t>(ids.size() - 1));

    // Edited mass and movers: by hand from the edited run's logits in float64.
    ForwardRequest req;
    req.tokens = ids;
    req.edits = {*e};
    req.allPositionLogits = true;
    auto w = engine.run(req);
    ASSERT_TRUE(w.ok());
    const std::int64_t V = ref["vocab"].get<std::int64_t>();
    std::vector<double> meanOrig(static_cast<std::size_t>(V)), meanEdit(static_cast<std::size_t>(V));
    for (std::size_t p = 0; p + 1 < ids.size(); ++p) {
        const auto lo = logSoftmax64(logits[p]);
        const auto le = logSoftmax64(rowOf((*w)->logits, static_cast<std::int64_t>(p)));
        for (std::int64_t v = 0; v < V; ++v) {
            meanOrig[static_cast<std::size_t>(v)] += std::exp(lo[static_cast<std::size_t>(v)]) / static_cast<double>(ids.size() - 1);
            meanEdit[static_cast<std::size_t>(v)] += std::exp(le[static_cast<std::size_t>(v)]) / static_cast<double>(ids.size() - 1);
        }
    }
    double wantEdited = 0;
    for (TokenId s : stop) wantEdited += meanEdit[static_cast<std::size_t>(s)];
    EXPECT_NEAR(shift->editedMass, wantEdited, 1e-5);
    EXPECT_NEAR(shift->ratio(), wantEdited / want, 1e-3 * wantEdited / want);
    ASSERT_EQ(shift->topMovers.size(), 5u);
    std::vector<std::int64_t> order(static_cast<std::size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return std::abs(meanEdit[a] - meanOrig[a]) > std::abs(meanEdit[b] - meanOrig[b]);
    });
    EXPECT_EQ(shift->topMovers[0].id, order[0]);
    for (const auto& mv : shift->topMovers) {
        EXPECT_NEAR(mv.originalProb, meanOrig[static_cast<std::size_t>(mv.id)], 1e-6);
        EXPECT_NEAR(mv.editedProb, meanEdit[static_cast<std::size_t>(mv.id)], 1e-6);
    }
    // No edits: the same model twice.
    auto same = stopwordShift(engine, ids, stop, {}, 4);
    ASSERT_TRUE(same.ok());
    EXPECT_DOUBLE_EQ(same->ratio(), 1.0);
}

TEST(Stopwords, TokenIdsAndWordLists) {
    auto tok = Tokenizer::loadFromFolder(testData() / "stories260K");
    ASSERT_TRUE(tok.ok());
    const std::vector<std::string> words = {"the", "and", "xqzzyv"};
    const auto ids = stopwordTokenIds(**tok, words);
    std::set<TokenId> want;
    for (const auto& w : words) {
        for (const std::string& s : {w, " " + w}) {
            const auto e = (*tok)->encode(s, false);
            if (e.size() == 1) want.insert(e[0]);
        }
    }
    EXPECT_EQ(std::set<TokenId>(ids.begin(), ids.end()), want);
    EXPECT_FALSE(ids.empty());
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));

    const auto english = englishStopwords();
    EXPECT_GE(english.size(), 150u);
    EXPECT_LE(english.size(), 300u);
    EXPECT_NE(std::find(english.begin(), english.end(), "the"), english.end());
    EXPECT_EQ(std::find(english.begin(), english.end(), "#"), english.end());
    EXPECT_EQ(parseWordList("# c\n a \n\nb\na\r\n"), (std::vector<std::string>{"a", "b"}));
    EXPECT_FALSE(loadWordList("/nonexistent/words.txt").ok());
}

// The front ends' shared rules (the CLI and the Python module call these).
TEST(FrontEndRules, WindowLengthBosWindowsAndStopwordIds) {
    ModelConfig c;
    c.vocabSize = 100;
    c.maxPositionEmbeddings = 2048;
    EXPECT_EQ(windowLength(0, c), 512);
    EXPECT_EQ(windowLength(64, c), 64);
    c.maxPositionEmbeddings = 128;
    EXPECT_EQ(windowLength(0, c), 128);
    c.maxPositionEmbeddings = 0;
    EXPECT_EQ(windowLength(-1, c), 2);

    auto tok = Tokenizer::loadFromFolder(testData() / "stories260K");
    ASSERT_TRUE(tok.ok());
    const std::vector<TokenId> text{5, 6, 7, 8, 9};
    auto w = bosWindows(text, tok->get(), 4, 0, "t.txt", "--stride");
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(*w, bosPrefixedWindows(text, *(*tok)->bosId(), 4));
    EXPECT_TRUE(bosWindows(text, tok->get(), 4, 4, "t.txt", "--stride").ok());
    EXPECT_EQ(bosWindows(text, tok->get(), 4, 2, "t.txt", "--stride").error().message,
              "BOS windows need --stride equal to the window length 4 (windows must not overlap)");
    EXPECT_EQ(bosWindows(text, nullptr, 4, 0, "t.txt", "stride").error().message, "t.txt: BOS windows need a tokenizer with a BOS token");

    auto ids = checkedStopwordIds({9, 3, 9, 0}, c, "--stopword-ids");
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, (std::vector<TokenId>{0, 3, 9}));
    EXPECT_EQ(checkedStopwordIds({3, 100}, c, "stopword_ids").error().message, "stopword_ids: token id 100 is outside the vocabulary (0..99)");
    EXPECT_EQ(checkedStopwordIds({}, c, "stopword_ids").error().message, "stopword_ids: no token ids given");
    auto words = stopwordIdsOfWords(**tok, {"the", "and"}, "list");
    ASSERT_TRUE(words.ok());
    EXPECT_EQ(*words, stopwordTokenIds(**tok, {"the", "and"}));
    EXPECT_EQ(stopwordIdsOfWords(**tok, {"xqzzyvwq"}, "my.txt").error().message, "my.txt: no word is a single token of this tokenizer");
}

// Zero-shot log-likelihoods from the float64 reference logits: the context is
// a prefix of refs ids, so every choice's score is a sum of reference log-probs.
TEST(ZeroShot, IdTasksMatchReferenceLogits) {
    const auto& ref = referenceAnswers()["qwen2-f16-tied"];
    Engine engine(openModelOrDie(referenceModel("qwen2-f16-tied")));
    const auto ids = ref["ids"].get<std::vector<TokenId>>();
    const auto logits = refLogitsAll(ref);
    const std::size_t k = 5;
    ZeroShotTask t;
    t.contextIds.assign(ids.begin(), ids.begin() + k);
    t.choiceIds = {{ids.begin() + k, ids.end()}, {7}, {ids[k]}, {100, 101}};
    t.gold = 0;
    // Expected: choices 0 and 2 from the reference logits.
    double ll0 = 0;
    for (std::size_t j = k; j < ids.size(); ++j) ll0 += logSoftmax64(logits[j - 1])[static_cast<std::size_t>(ids[j])];
    const double ll1 = logSoftmax64(logits[k - 1])[7];
    const double ll2 = logSoftmax64(logits[k - 1])[static_cast<std::size_t>(ids[k])];
    auto r = zeroShot(engine, nullptr, {t}, {});
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->logLikelihoods.size(), 1u);
    EXPECT_NEAR(r->logLikelihoods[0][0], ll0, 1e-4);
    EXPECT_NEAR(r->logLikelihoods[0][1], ll1, 1e-4);
    EXPECT_NEAR(r->logLikelihoods[0][2], ll2, 1e-4);
    const auto& lls = r->logLikelihoods[0];
    const int pred = static_cast<int>(std::max_element(lls.begin(), lls.end()) - lls.begin());
    EXPECT_EQ(r->predictions[0], pred);
    EXPECT_DOUBLE_EQ(r->accuracy, pred == 0 ? 1.0 : 0.0);
    // Per-token normalisation for id tasks.
    std::vector<double> norm = {lls[0] / static_cast<double>(ids.size() - k), lls[1], lls[2], lls[3] / 2};
    EXPECT_EQ(r->predictionsNorm[0], static_cast<int>(std::max_element(norm.begin(), norm.end()) - norm.begin()));
    EXPECT_EQ(r->count, 1);
}

TEST(ZeroShot, TextTasksWithTokenizer) {
    auto model = openModelOrDie(testData() / "stories260K");
    Engine engine(model);
    auto tok = Tokenizer::loadFromFolder(testData() / "stories260K");
    ASSERT_TRUE(tok.ok());
    auto tasks = parseZeroShotTasks(
        "{\"context\": \"Once upon a time, there was a little\", \"choices\": [\"girl\", \"stone of the sea\"], \"gold\": 0}\n"
        "\n"
        "{\"context\": \"Lily went to the \", \"choices\": [\"park\", \"xylophone quantum\"], \"gold\": 0}\n",
        "inline");
    ASSERT_TRUE(tasks.ok()) << tasks.error().message;
    ASSERT_EQ(tasks->size(), 2u);
    auto r = zeroShot(engine, **tok, *tasks, {});
    ASSERT_TRUE(r.ok()) << r.error().message;
    // Recompute task 0 by hand: continuation " girl" after the context.
    for (std::size_t c = 0; c < 2; ++c) {
        const std::string ctx = (*tasks)[0].context;
        const std::string cont = " " + (*tasks)[0].choices[c];
        const auto ctxIds = (*tok)->encode(ctx, true);
        const auto whole = (*tok)->encode(ctx + cont, true);
        ASSERT_TRUE(std::equal(ctxIds.begin(), ctxIds.end(), whole.begin()));
        ForwardRequest req;
        req.tokens = whole;
        req.allPositionLogits = true;
        auto w = engine.run(req);
        double ll = 0;
        for (std::size_t j = ctxIds.size(); j < whole.size(); ++j) {
            ll += logSoftmax64(rowOf((*w)->logits, static_cast<std::int64_t>(j - 1)))[static_cast<std::size_t>(whole[j])];
        }
        EXPECT_NEAR(r->logLikelihoods[0][c], ll, 1e-6);
    }
    // The trained model knows "little girl".
    EXPECT_EQ(r->predictions[0], 0);
    EXPECT_EQ(r->count, 2);
    // Bundled set loads and runs (no numbers asserted for the tiny model).
    auto bundled = parseZeroShotTasks(std::string(bundledZeroShotTasksText()), "bundled");
    ASSERT_TRUE(bundled.ok()) << bundled.error().message;
    EXPECT_GE(bundled->size(), 30u);
    EXPECT_LE(bundled->size(), 60u);
    // Text tasks need a tokenizer.
    EXPECT_FALSE(zeroShot(engine, nullptr, *tasks, {}).ok());
}

TEST(ZeroShot, LoaderErrorsNameTheLine) {
    const auto err = [](const std::string& text) {
        auto r = parseZeroShotTasks(text, "t.jsonl");
        return r.ok() ? std::string() : r.error().message;
    };
    EXPECT_NE(err("{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"gold\": 2}").find("t.jsonl:1"), std::string::npos);
    EXPECT_NE(err("\n{\"context\": \"a\", \"choices\": [\"b\"], \"gold\": 0}").find("t.jsonl:2"), std::string::npos);
    EXPECT_NE(err("{\"choices\": [\"b\", \"c\"], \"gold\": 0}").find("context"), std::string::npos);
    EXPECT_NE(err("{\"context\": \"a\", \"choices\": [\"b\", \"c\"]}").find("gold"), std::string::npos);
    EXPECT_NE(err("not json").find("t.jsonl:1"), std::string::npos);
    EXPECT_NE(err("").find("no tasks"), std::string::npos);
    EXPECT_NE(err("{\"context_ids\": [1], \"gold\": 0}").find("go together"), std::string::npos);
    EXPECT_FALSE(loadZeroShotTasks("/nonexistent/tasks.jsonl").ok());
}

}  // namespace
