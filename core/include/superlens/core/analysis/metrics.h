#pragma once
// Language-model measures used by the ablation studies: perplexity with a
// sliding window, stopword probability mass and its shift, zero-shot
// multiple choice (lm-eval-harness style).
//
// All probabilities are computed in float64 from the engine's float32 logits
// (log-softmax with the max subtracted), so sums over 32k-150k vocabularies
// do not lose the small terms.
//
// Thread-safety: synchronous; the engine serialises its runs. Long loops poll
// control.isCancelled() between windows / tasks and report progress.

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
    // Added: token index (into the input) each tokenNll entry predicts, and the window count.
    std::vector<std::int64_t> tokenIndex;
    int windows = 0;
    // Added (issue 23): per window, the summed NLL of the tokens it scores and
    // their count (windows that score nothing are skipped), in window order:
    // the units the bootstrap resamples (bootstrap.h).
    std::vector<double> windowNll;
    std::vector<std::int64_t> windowTokens;
};

// Hugging Face's sliding-window perplexity: each window scores only the
// tokens not scored by the previous one. Windows start at 0, stride, 2*stride,
// ...; the first token of the text is never predicted. Errors: fewer than 2
// tokens, context < 2, stride < 0 or stride > context, engine errors.
Result<PerplexityResult> perplexity(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                                    const PerplexityOptions& options = {}, const RunControl& control = RunControl::none());

// Ids of a stopword list under a tokenizer (each word with and without a leading space).
// A spelling counts only when it encodes to exactly one token; ids are sorted and unique.
std::vector<TokenId> stopwordTokenIds(const Tokenizer& tokenizer, const std::vector<std::string>& words);

// A text's ids (without BOS) cut into windows of `context` tokens that each
// start with `bos`: [bos, t1 .. t(context-1)], [bos, t(context) ..], ...
// Scored with context = stride = `context`, every text token after the first
// is predicted exactly once with BOS at the start of its window, as models
// trained on BOS-started sequences see text (the demo model's sinks live on
// BOS). Plain sliding windows start mid-text without BOS after the first.
std::vector<TokenId> bosPrefixedWindows(const std::vector<TokenId>& textIds, TokenId bos, int context);

// The front ends' "BOS windows" option (--bos-windows, bos_windows=): the
// text ids (encoded without BOS) as bosPrefixedWindows of the tokenizer's
// BOS; errors when the tokenizer has no BOS token or the stride (0 = the
// window) differs from the window. `where` names the text in errors,
// `strideOption` the front end's stride option ("--stride", "stride").
Result<std::vector<TokenId>> bosWindows(const std::vector<TokenId>& textIds, const Tokenizer* tokenizer, int context, int stride,
                                        const std::string& where, const std::string& strideOption);

// The window length of the windowed measures (perplexity, stopwords,
// studies): `requested` when > 0, else min(512, max_position_embeddings)
// and at least 2 -- every front end's --ctx / ctx= default. (Learned
// positions from padding_idx + 1, RoBERTa: max_position_embeddings minus
// padding_idx + 1, so 514 gives 512.)
int windowLength(int requested, const ModelConfig& config);

// Stopword ids given as ids (--stopword-ids, stopword_ids=): each inside the
// vocabulary, returned sorted and unique; `what` prefixes errors.
Result<std::vector<TokenId>> checkedStopwordIds(std::vector<TokenId> ids, const ModelConfig& config, const std::string& what);
// Stopword ids of a word list (stopwordTokenIds); an error naming `origin`
// (the list's file, or "the bundled stopword list") when no word is one token.
Result<std::vector<TokenId>> stopwordIdsOfWords(const Tokenizer& tokenizer, const std::vector<std::string>& words, const std::string& origin);

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
    std::int64_t positions = 0;    // added: positions averaged over
    // Added (issue 23), filled by stopwordShift: per perplexity window, the
    // summed stopword probability over its predicting positions, unedited and
    // edited, and its position count (the bootstrap units, measure_intervals.h).
    std::vector<double> originalWindowMass, editedWindowMass, windowPositions;
};

// `edits` against the unedited model. Positions: the predicting positions of
// perplexity's non-overlapping windows of `context` tokens (every position
// whose next token is in the same window), each counted once.
Result<StopwordShift> stopwordShift(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<TokenId>& stopwordIds,
                                    const std::vector<EditSpec>& edits, int context = 512, int topMovers = 10,
                                    const RunControl& control = RunControl::none());

// Added: the mean next-token distribution over positions under one edit list
// (the building block of stopwordShift; studies reuse one "original").
struct MeanDistribution {
    std::vector<double> meanProb;  // [V]: mean over positions of p(id)
    std::int64_t positions = 0;
    double massOn(const std::vector<TokenId>& ids) const;
    // Added (issue 23): with scoreText(..., trackIds, ...), per window of the
    // perplexity windows, the summed probability on trackIds over that
    // window's predicting positions (mean mass = sum / positions).
    std::vector<TokenId> trackedIds;
    std::vector<double> windowTrackedMass;
};
Result<MeanDistribution> meanNextTokenDistribution(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                                                   int context = 512, const RunControl& control = RunControl::none());
// Added: perplexity and the mean distribution over the same predicting
// positions from one pass over the windows (studies measure both at once).
struct TextScores {
    PerplexityResult perplexity;
    MeanDistribution distribution;
};
Result<TextScores> scoreText(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                             const PerplexityOptions& options = {}, const RunControl& control = RunControl::none());
// Added: the same, also filling distribution.windowTrackedMass for `trackIds`
// (ids outside the vocabulary are ignored).
Result<TextScores> scoreText(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                             const PerplexityOptions& options, const std::vector<TokenId>& trackIds,
                             const RunControl& control = RunControl::none());
// Added: compares two mean distributions (same model and tokens).
StopwordShift compareDistributions(const MeanDistribution& original, const MeanDistribution& edited, const std::vector<TokenId>& stopwordIds,
                                   int topMovers = 10);

struct ZeroShotTask {
    std::string context;
    std::vector<std::string> choices;
    int gold = 0;
    // Added: token-id form for models without a tokenizer ("context_ids",
    // "choices_ids" in JSONL). When contextIds is non-empty the ids are used
    // exactly as given and the length normalisation is per token.
    std::vector<TokenId> contextIds;
    std::vector<std::vector<TokenId>> choiceIds;
};

// JSONL: one {"context": ..., "choices": [...], "gold": i} per line.
// Added: or {"context_ids": [...], "choices_ids": [[...], ...], "gold": i}.
// Blank lines are skipped; errors name the file and line.
Result<std::vector<ZeroShotTask>> loadZeroShotTasks(const std::string& path);
// Added: the same from JSONL text (`name` is used in error messages).
Result<std::vector<ZeroShotTask>> parseZeroShotTasks(const std::string& jsonl, const std::string& name);

// The zero-shot tasks of a study: the file given, else the bundled set when
// the model can read text (a tokenizer), else none; `none` skips them. Text
// tasks (not ids) without a tokenizer are refused naming the model folder.
struct StudyTasks {
    std::vector<ZeroShotTask> tasks;
    std::string label;  // the file, "bundled", or "" when there are none
};
// Added (issue 18): `causal` false (a bidirectional encoder, which cannot
// score continuations) gives no bundled default; a file given is still loaded.
Result<StudyTasks> studyZeroShotTasks(const std::string& file, bool none, const Tokenizer* tokenizer, const std::string& modelFolder,
                                      bool causal = true);

struct ZeroShotResult {
    double accuracy = 0;
    double accuracyNorm = 0;   // length-normalised (log-likelihood per byte of the choice)
    int count = 0;
    std::vector<int> predictions;
    // Added: per task, per choice log-likelihood of the continuation (nats),
    // and the predictions of the length-normalised score.
    std::vector<std::vector<double>> logLikelihoods;
    std::vector<int> predictionsNorm;
};

// lm-eval-harness style: the continuation is " " + choice (no space added
// when the context ends in whitespace or the choice starts with one); the
// context is encoded with the tokenizer's special tokens, the continuation as
// the tokens of encode(context + continuation) after encode(context) (or
// encode(continuation) alone when the tokenization of the context changes).
// Length normalisation divides by the continuation's UTF-8 bytes.
Result<ZeroShotResult> zeroShot(Engine& engine, const Tokenizer& tokenizer, const std::vector<ZeroShotTask>& tasks,
                                const std::vector<EditSpec>& edits, const RunControl& control = RunControl::none());
// Added: tokenizer optional (nullptr: every task must have ids).
Result<ZeroShotResult> zeroShot(Engine& engine, const Tokenizer* tokenizer, const std::vector<ZeroShotTask>& tasks,
                                const std::vector<EditSpec>& edits, const RunControl& control = RunControl::none());

// Added: log-softmax of one logit row in float64 (value for `id`).
double logProbability(const float* logits, std::int64_t vocab, TokenId id);

// ---------------------------------------------------------------------------
// Masked-language-model measure (issue 18: LASER on RoBERTa)
// ---------------------------------------------------------------------------
//
// The rule, one for every front end (docs/COMPRESSION.md "Encoders"):
// - The text's ids as loaded (with the post-processor's special tokens, e.g.
//   RoBERTa's `<s> ... </s>`): the leading run of special tokens is the
//   prefix, the trailing run the suffix, the rest the content.
// - The content is cut into consecutive, non-overlapping chunks of
//   context - |prefix| - |suffix| tokens (the last may be shorter); each
//   window is prefix + chunk + suffix, so every window looks like an encoded
//   sentence (and fits the learned positions when context does).
// - Maskable: the chunk's tokens that are not special (tokenizer.isSpecial);
//   prefix and suffix never are. A window with none is skipped.
// - Per window k = max(1, floor(fraction * n + 0.5)) of its n maskable
//   positions are drawn by a partial Fisher-Yates shuffle, one SeededRng
//   stream (bootstrap.h: splitmix64, below(m) = high 64 bits of x * m) over
//   the windows in order: for i in 0..k-1, j = i + below(n - i), swap.
//   The chosen positions (sorted) all become the mask token: the evaluation
//   form, not BERT's 80/10/10 training rule (that rule exists so a model
//   cannot rely on seeing <mask>; at evaluation the 10 % left unchanged
//   would show the answer and the 10 % random tokens add noise).
// - Score: at each masked position, NLL = -log softmax(logits)[original
//   token] (float64) and correct when the original token is the first argmax;
//   accuracy = correct / masked, loss = NLL sum / masked over all windows.
//   Windows are the bootstrap's units.

struct MaskedLmOptions {
    double fraction = 0.15;            // share of maskable tokens masked per window, in (0, 1]
    std::uint64_t seed = 0x6d61736bULL;  // "mask": fixed, so every run masks the same tokens
    int context = 512;                 // window length in tokens, prefix and suffix included
};

struct MaskedWindow {
    std::vector<TokenId> input;            // the window with the mask token at `positions`
    std::vector<std::int64_t> positions;   // masked positions, ascending
    std::vector<TokenId> targets;          // the original tokens there
};

// Errors (naming `where`): fraction outside (0, 1], a tokenizer without a
// mask token, a context too short for prefix + suffix + 1, no maskable token.
Result<std::vector<MaskedWindow>> maskedLmWindows(const std::vector<TokenId>& textIds, const Tokenizer& tokenizer,
                                                  const MaskedLmOptions& options, const std::string& where = "the text");

struct MaskedLmScore {
    double nllSum = 0;
    std::int64_t tokens = 0;
    std::int64_t correct = 0;
};
// One window's score from its all-position logits [T, V].
MaskedLmScore scoreMaskedWindow(const ActivationTensor& logits, const MaskedWindow& window);

struct MaskedLmResult {
    double accuracy = 0;
    double loss = 0;                 // mean NLL per masked token (nats)
    std::int64_t tokens = 0;         // masked tokens scored
    std::vector<MaskedLmScore> windows;
};
// Runs every window (all-position logits) under `edits`. Errors: an encoder
// is needed (a causal model's logits predict the next token), engine errors, "cancelled".
Result<MaskedLmResult> maskedLm(Engine& engine, const std::vector<MaskedWindow>& windows, const std::vector<EditSpec>& edits,
                                const RunControl& control = RunControl::none());

}  // namespace superlens::core
