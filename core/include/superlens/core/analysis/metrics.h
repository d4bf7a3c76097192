#pragma once
// Language-model measures used by the ablation studies: perplexity with a
// sliding window, stopword probability mass and its shift, zero-shot
// multiple choice (lm-eval-harness style).

#include <string>
#include <vector>

#include "superlens/core/engine/engine.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

struct PerplexityOptions {
    int context = 512;   // window length in tokens
    int stride = 0;      // 0 = context (non-overlapping windows)
};

struct PerplexityResult {
    double ppl = 0;
    double nll = 0;              // mean negative log-likelihood per predicted token (nats)
    std::int64_t tokens = 0;     // predicted tokens counted
    std::vector<float> tokenNll; // per predicted token, in text order
};

// Hugging Face's sliding-window perplexity: each window scores only the
// tokens not scored by the previous one.
Result<PerplexityResult> perplexity(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                                    const PerplexityOptions& options = {}, const RunControl& control = RunControl::none());

// Ids of a stopword list under a tokenizer (each word with and without a leading space).
std::vector<TokenId> stopwordTokenIds(const Tokenizer& tokenizer, const std::vector<std::string>& words);

struct StopwordShift {
    double originalMass = 0;   // mean over positions of the probability on stopword ids
    double editedMass = 0;
    double ratio() const { return originalMass > 0 ? editedMass / originalMass : 0; }
    struct Mover {
        TokenId id = 0;
        double originalProb = 0;
        double editedProb = 0;
    };
    std::vector<Mover> topMovers;  // tokens whose mean probability moved most (|edited - original|)
};

Result<StopwordShift> stopwordShift(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<TokenId>& stopwordIds,
                                    const std::vector<EditSpec>& edits, int context = 512, int topMovers = 10,
                                    const RunControl& control = RunControl::none());

struct ZeroShotTask {
    std::string context;
    std::vector<std::string> choices;
    int gold = 0;
};

// JSONL: one {"context": ..., "choices": [...], "gold": i} per line.
Result<std::vector<ZeroShotTask>> loadZeroShotTasks(const std::string& path);

struct ZeroShotResult {
    double accuracy = 0;
    double accuracyNorm = 0;   // length-normalised (log-likelihood per byte of the choice)
    int count = 0;
    std::vector<int> predictions;
};

Result<ZeroShotResult> zeroShot(Engine& engine, const Tokenizer& tokenizer, const std::vector<ZeroShotTask>& tasks,
                                const std::vector<EditSpec>& edits, const RunControl& control = RunControl::none());

}  // namespace superlens::core
