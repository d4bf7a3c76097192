#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/softmax.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/bootstrap.h"
#include "superlens/core/tokenizer/mask_token.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sliding_windows.h"

namespace superlens::core {
namespace {

// Softmax of one logit row (core::softmax), added into `acc` (size V);
// returns the probability on `track` (valid ids only).
double addSoftmax(const float* logits, std::int64_t V, std::vector<double>& acc, std::vector<double>& scratch,
                  const std::vector<TokenId>* track) {
    softmax(logits, V, scratch);
    for (std::int64_t i = 0; i < V; ++i) acc[static_cast<std::size_t>(i)] += scratch[static_cast<std::size_t>(i)];
    double tracked = 0;
    if (track) {
        for (TokenId id : *track) {
            if (id >= 0 && id < V) tracked += scratch[static_cast<std::size_t>(id)];
        }
    }
    return tracked;
}

// Next-token measures read logits at position t as a prediction of token
// t + 1; a bidirectional encoder's logits at t predict token t itself (MLM).
Status requireCausal(const Engine& engine, const char* what) {
    const ModelConfig& c = engine.model().config();
    if (c.causal) return {};
    return Error{std::string(what) + " needs a left-to-right model; this " + c.familyName +
                 " model is a bidirectional encoder (use a masked-token measure)"};
}

// Runs the windows once, scoring next-token NLL and/or accumulating the mean
// distribution over the predicting positions (each text position once).
Status scoreWindows(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits, std::int64_t context,
                    std::int64_t stride, PerplexityResult* ppl, MeanDistribution* dist, const RunControl& control,
                    const std::vector<TokenId>* track = nullptr) {
    const std::int64_t n = static_cast<std::int64_t>(tokens.size());
    SL_TRY(requireCausal(engine, "next-token perplexity"));
    if (n < 2) return Error{"the text has " + std::to_string(n) + " token(s); at least 2 are needed to predict one"};
    if (context < 2) return Error{"context must be at least 2 tokens (got " + std::to_string(context) + ")"};
    if (stride < 1 || stride > context) {
        return Error{"stride must be between 1 and the context length " + std::to_string(context) + " (got " + std::to_string(stride) + ")"};
    }
    const auto windows = slidingWindows(n, context, stride);
    const std::int64_t V = engine.model().config().vocabSize;
    std::vector<double> scratch;
    if (dist) {
        dist->meanProb.assign(static_cast<std::size_t>(V), 0.0);
        dist->positions = 0;
        dist->windowTrackedMass.clear();
        dist->trackedIds = track ? *track : std::vector<TokenId>{};
        scratch.resize(static_cast<std::size_t>(V));
    }
    if (ppl) {
        ppl->windowNll.clear();
        ppl->windowTokens.clear();
    }
    double nllSum = 0;
    for (std::size_t w = 0; w < windows.size(); ++w) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        const TextWindow& win = windows[w];
        ForwardRequest req;
        req.tokens.assign(tokens.begin() + win.begin, tokens.begin() + win.end);
        req.edits = edits;
        req.allPositionLogits = true;
        auto result = engine.run(req);
        if (!result) return result.error();
        const ActivationTensor& logits = (*result)->logits;  // [T_w, V]
        double windowNll = 0, windowMass = 0;
        for (std::int64_t j = win.firstScored; j < win.end; ++j) {
            const float* row = logits.values.data() + (j - win.begin - 1) * V;
            if (ppl) {
                const double nll = -logProbability(row, V, tokens[static_cast<std::size_t>(j)]);
                nllSum += nll;
                windowNll += nll;
                ppl->tokenNll.push_back(static_cast<float>(nll));
                ppl->tokenIndex.push_back(j);
            }
            if (dist) {
                windowMass += addSoftmax(row, V, dist->meanProb, scratch, track);
                ++dist->positions;
            }
        }
        if (ppl) {
            ppl->windowNll.push_back(windowNll);
            ppl->windowTokens.push_back(win.end - win.firstScored);
        }
        if (dist && track) dist->windowTrackedMass.push_back(windowMass);
        control.progress(static_cast<std::int64_t>(w + 1), static_cast<std::int64_t>(windows.size()), "windows");
    }
    if (ppl) {
        ppl->tokens = static_cast<std::int64_t>(ppl->tokenNll.size());
        ppl->windows = static_cast<int>(windows.size());
        ppl->nll = ppl->tokens > 0 ? nllSum / static_cast<double>(ppl->tokens) : 0.0;
        ppl->ppl = std::exp(ppl->nll);
    }
    if (dist && dist->positions > 0) {
        for (double& p : dist->meanProb) p /= static_cast<double>(dist->positions);
    }
    return {};
}

std::size_t utf8Bytes(const std::string& s) { return s.size(); }

bool startsWithSpace(const std::string& s) { return !s.empty() && std::isspace(static_cast<unsigned char>(s.front())); }
bool endsWithSpace(const std::string& s) { return !s.empty() && std::isspace(static_cast<unsigned char>(s.back())); }

}  // namespace

double logProbability(const float* logits, std::int64_t vocab, TokenId id) {
    return static_cast<double>(logits[id]) - logSumExp(logits, vocab);
}

Result<PerplexityResult> perplexity(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                                    const PerplexityOptions& options, const RunControl& control) {
    PerplexityResult out;
    const std::int64_t stride = options.stride == 0 ? options.context : options.stride;
    if (options.stride < 0) return Error{"stride must not be negative (got " + std::to_string(options.stride) + ")"};
    SL_TRY(scoreWindows(engine, tokens, edits, options.context, stride, &out, nullptr, control));
    return out;
}

Result<TextScores> scoreText(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                             const PerplexityOptions& options, const RunControl& control) {
    TextScores out;
    if (options.stride < 0) return Error{"stride must not be negative (got " + std::to_string(options.stride) + ")"};
    const std::int64_t stride = options.stride == 0 ? options.context : options.stride;
    SL_TRY(scoreWindows(engine, tokens, edits, options.context, stride, &out.perplexity, &out.distribution, control));
    return out;
}

Result<TextScores> scoreText(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                             const PerplexityOptions& options, const std::vector<TokenId>& trackIds, const RunControl& control) {
    TextScores out;
    if (options.stride < 0) return Error{"stride must not be negative (got " + std::to_string(options.stride) + ")"};
    const std::int64_t stride = options.stride == 0 ? options.context : options.stride;
    SL_TRY(scoreWindows(engine, tokens, edits, options.context, stride, &out.perplexity, &out.distribution, control, &trackIds));
    return out;
}

std::vector<TokenId> stopwordTokenIds(const Tokenizer& tokenizer, const std::vector<std::string>& words) {
    std::set<TokenId> ids;
    for (const std::string& w : words) {
        for (const std::string& spelling : {w, " " + w}) {
            const auto enc = tokenizer.encode(spelling, false);
            if (enc.size() == 1) ids.insert(enc.front());
        }
    }
    return {ids.begin(), ids.end()};
}

std::vector<TokenId> bosPrefixedWindows(const std::vector<TokenId>& textIds, TokenId bos, int context) {
    std::vector<TokenId> out;
    const std::size_t body = static_cast<std::size_t>(std::max(1, context - 1));
    out.reserve(textIds.size() + textIds.size() / body + 1);
    for (std::size_t i = 0; i < textIds.size(); i += body) {
        out.push_back(bos);
        out.insert(out.end(), textIds.begin() + static_cast<std::ptrdiff_t>(i),
                   textIds.begin() + static_cast<std::ptrdiff_t>(std::min(textIds.size(), i + body)));
    }
    return out;
}

Result<std::vector<TokenId>> bosWindows(const std::vector<TokenId>& textIds, const Tokenizer* tokenizer, int context, int stride,
                                        const std::string& where, const std::string& strideOption) {
    if (!tokenizer || !tokenizer->bosId()) return Error{where + ": BOS windows need a tokenizer with a BOS token"};
    if (stride != 0 && stride != context) {
        return Error{"BOS windows need " + strideOption + " equal to the window length " + std::to_string(context) + " (windows must not overlap)"};
    }
    return bosPrefixedWindows(textIds, *tokenizer->bosId(), context);
}

int windowLength(int requested, const ModelConfig& config) {
    if (requested > 0) return requested;
    // RoBERTa's learned positions start at padding_idx + 1: 514 rows hold 512 tokens.
    return static_cast<int>(std::min<std::int64_t>(512, std::max<std::int64_t>(2, config.maxPositionEmbeddings - config.positionsNeeded(0))));
}

Result<std::vector<TokenId>> checkedStopwordIds(std::vector<TokenId> ids, const ModelConfig& config, const std::string& what) {
    if (ids.empty()) return Error{what + ": no token ids given"};
    for (TokenId id : ids) {
        if (id < 0 || id >= config.vocabSize) {
            return Error{what + ": token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(config.vocabSize - 1) + ")"};
        }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

Result<std::vector<TokenId>> stopwordIdsOfWords(const Tokenizer& tokenizer, const std::vector<std::string>& words, const std::string& origin) {
    std::vector<TokenId> ids = stopwordTokenIds(tokenizer, words);
    if (ids.empty()) return Error{origin + ": no word is a single token of this tokenizer"};
    return ids;
}

double MeanDistribution::massOn(const std::vector<TokenId>& ids) const {
    double m = 0;
    for (TokenId id : ids) {
        if (id >= 0 && static_cast<std::size_t>(id) < meanProb.size()) m += meanProb[static_cast<std::size_t>(id)];
    }
    return m;
}

Result<MeanDistribution> meanNextTokenDistribution(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                                                   int context, const RunControl& control) {
    MeanDistribution d;
    SL_TRY(scoreWindows(engine, tokens, edits, context, context, nullptr, &d, control));
    return d;
}

StopwordShift compareDistributions(const MeanDistribution& original, const MeanDistribution& edited, const std::vector<TokenId>& stopwordIds,
                                   int topMovers) {
    StopwordShift s;
    s.originalMass = original.massOn(stopwordIds);
    s.editedMass = edited.massOn(stopwordIds);
    s.positions = original.positions;
    const std::size_t V = std::min(original.meanProb.size(), edited.meanProb.size());
    std::vector<TokenId> order(V);
    std::iota(order.begin(), order.end(), 0);
    const auto moved = [&](TokenId i) { return std::fabs(edited.meanProb[static_cast<std::size_t>(i)] - original.meanProb[static_cast<std::size_t>(i)]); };
    const std::size_t k = std::min<std::size_t>(V, static_cast<std::size_t>(std::max(0, topMovers)));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), [&](TokenId a, TokenId b) {
        const double ma = moved(a), mb = moved(b);
        return ma != mb ? ma > mb : a < b;
    });
    for (std::size_t i = 0; i < k; ++i) {
        const TokenId id = order[i];
        s.topMovers.push_back({id, original.meanProb[static_cast<std::size_t>(id)], edited.meanProb[static_cast<std::size_t>(id)]});
    }
    return s;
}

Result<StopwordShift> stopwordShift(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<TokenId>& stopwordIds,
                                    const std::vector<EditSpec>& edits, int context, int topMovers, const RunControl& control) {
    // One pass per model over the non-overlapping windows, tracking the
    // stopword mass per window (the same positions as meanNextTokenDistribution).
    PerplexityOptions po;
    po.context = context;
    auto original = scoreText(engine, tokens, {}, po, stopwordIds, control);
    if (!original) return original.error();
    auto edited = scoreText(engine, tokens, edits, po, stopwordIds, control);
    if (!edited) return edited.error();
    StopwordShift shift = compareDistributions(original->distribution, edited->distribution, stopwordIds, topMovers);
    shift.originalWindowMass = original->distribution.windowTrackedMass;
    shift.editedWindowMass = edited->distribution.windowTrackedMass;
    shift.windowPositions.assign(original->perplexity.windowTokens.begin(), original->perplexity.windowTokens.end());
    return shift;
}

Result<std::vector<ZeroShotTask>> parseZeroShotTasks(const std::string& jsonl, const std::string& name) {
    std::vector<ZeroShotTask> tasks;
    std::istringstream in(jsonl);
    std::string line;
    int lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const std::string where = name + ":" + std::to_string(lineNo) + ": ";
        try {
            const nlohmann::json j = nlohmann::json::parse(line);
            if (!j.is_object()) return Error{where + "expected a JSON object"};
            ZeroShotTask t;
            if (!j.contains("gold") || !j["gold"].is_number_integer()) return Error{where + "missing integer \"gold\""};
            t.gold = j["gold"].get<int>();
            if (j.contains("context_ids") || j.contains("choices_ids")) {
                if (!j.contains("context_ids") || !j.contains("choices_ids")) return Error{where + "\"context_ids\" and \"choices_ids\" go together"};
                t.contextIds = j["context_ids"].get<std::vector<TokenId>>();
                t.choiceIds = j["choices_ids"].get<std::vector<std::vector<TokenId>>>();
                if (t.contextIds.empty()) return Error{where + "\"context_ids\" is empty"};
                for (const auto& c : t.choiceIds) {
                    if (c.empty()) return Error{where + "a choice in \"choices_ids\" is empty"};
                }
                if (j.contains("context")) t.context = j["context"].get<std::string>();
                if (j.contains("choices")) t.choices = j["choices"].get<std::vector<std::string>>();
            } else {
                if (!j.contains("context") || !j["context"].is_string()) return Error{where + "missing string \"context\""};
                if (!j.contains("choices") || !j["choices"].is_array()) return Error{where + "missing list \"choices\""};
                t.context = j["context"].get<std::string>();
                t.choices = j["choices"].get<std::vector<std::string>>();
                for (const auto& c : t.choices) {
                    if (c.empty()) return Error{where + "a choice is empty"};
                }
            }
            const std::size_t nChoices = t.contextIds.empty() ? t.choices.size() : t.choiceIds.size();
            if (nChoices < 2) return Error{where + "needs at least two choices"};
            if (t.gold < 0 || static_cast<std::size_t>(t.gold) >= nChoices) {
                return Error{where + "\"gold\" " + std::to_string(t.gold) + " is not a choice index (0.." + std::to_string(nChoices - 1) + ")"};
            }
            tasks.push_back(std::move(t));
        } catch (const nlohmann::json::exception& e) {
            return Error{where + e.what()};
        }
    }
    if (tasks.empty()) return Error{name + ": no tasks (one JSON object per line)"};
    return tasks;
}

Result<std::vector<ZeroShotTask>> loadZeroShotTasks(const std::string& path) {
    auto text = readRegularFile(path, kMaxTextBytes);
    if (!text) return text.error();
    return parseZeroShotTasks(*text, path);
}

Result<ZeroShotResult> zeroShot(Engine& engine, const Tokenizer& tokenizer, const std::vector<ZeroShotTask>& tasks,
                                const std::vector<EditSpec>& edits, const RunControl& control) {
    return zeroShot(engine, &tokenizer, tasks, edits, control);
}

Result<ZeroShotResult> zeroShot(Engine& engine, const Tokenizer* tokenizer, const std::vector<ZeroShotTask>& tasks,
                                const std::vector<EditSpec>& edits, const RunControl& control) {
    ZeroShotResult out;
    SL_TRY(requireCausal(engine, "zero-shot continuation scoring"));
    if (tasks.empty()) return Error{"zero-shot: no tasks"};
    const std::int64_t V = engine.model().config().vocabSize;
    int correct = 0, correctNorm = 0;
    for (std::size_t ti = 0; ti < tasks.size(); ++ti) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        const ZeroShotTask& task = tasks[ti];
        const std::string where = "zero-shot task " + std::to_string(ti + 1) + ": ";
        const bool byIds = !task.contextIds.empty();
        if (!byIds && !tokenizer) return Error{where + "text tasks need the model's tokenizer (or give \"context_ids\"/\"choices_ids\")"};
        std::vector<TokenId> ctx = byIds ? task.contextIds : tokenizer->encode(task.context, true);
        if (ctx.empty()) return Error{where + "the context gives no tokens"};
        const std::size_t nChoices = byIds ? task.choiceIds.size() : task.choices.size();
        std::vector<double> ll(nChoices, 0.0), norm(nChoices, 0.0);
        for (std::size_t ci = 0; ci < nChoices; ++ci) {
            std::vector<TokenId> cont;
            double length = 0;
            if (byIds) {
                cont = task.choiceIds[ci];
                length = static_cast<double>(cont.size());
            } else {
                // lm-eval-harness: target_delimiter " " between context and choice.
                const std::string& choice = task.choices[ci];
                const std::string continuation = (endsWithSpace(task.context) || startsWithSpace(choice) ? "" : " ") + choice;
                const auto whole = tokenizer->encode(task.context + continuation, true);
                if (whole.size() > ctx.size() && std::equal(ctx.begin(), ctx.end(), whole.begin())) {
                    cont.assign(whole.begin() + static_cast<std::ptrdiff_t>(ctx.size()), whole.end());
                } else {
                    cont = tokenizer->encode(continuation, false);
                }
                length = static_cast<double>(utf8Bytes(continuation));
            }
            if (cont.empty()) return Error{where + "choice " + std::to_string(ci) + " gives no tokens"};
            ForwardRequest req;
            req.tokens = ctx;
            req.tokens.insert(req.tokens.end(), cont.begin(), cont.end());
            req.edits = edits;
            req.allPositionLogits = true;
            auto result = engine.run(req);
            if (!result) return Error{where + result.error().message};
            const ActivationTensor& logits = (*result)->logits;
            double sum = 0;
            for (std::size_t k = 0; k < cont.size(); ++k) {
                const std::int64_t pos = static_cast<std::int64_t>(ctx.size() + k) - 1;
                sum += logProbability(logits.values.data() + pos * V, V, cont[k]);
            }
            ll[ci] = sum;
            norm[ci] = length > 0 ? sum / length : sum;
        }
        const int pred = static_cast<int>(std::max_element(ll.begin(), ll.end()) - ll.begin());
        const int predNorm = static_cast<int>(std::max_element(norm.begin(), norm.end()) - norm.begin());
        out.predictions.push_back(pred);
        out.predictionsNorm.push_back(predNorm);
        out.logLikelihoods.push_back(ll);
        correct += pred == task.gold;
        correctNorm += predNorm == task.gold;
        control.progress(static_cast<std::int64_t>(ti + 1), static_cast<std::int64_t>(tasks.size()), "zero-shot tasks");
    }
    out.count = static_cast<int>(tasks.size());
    out.accuracy = static_cast<double>(correct) / out.count;
    out.accuracyNorm = static_cast<double>(correctNorm) / out.count;
    return out;
}

Result<StudyTasks> studyZeroShotTasks(const std::string& file, bool none, const Tokenizer* tokenizer, const std::string& modelFolder,
                                      bool causal) {
    StudyTasks out;
    if (none) return out;
    if (!file.empty()) {
        auto t = loadZeroShotTasks(file);
        if (!t) return t.error();
        const bool needsTokenizer = std::any_of(t->begin(), t->end(), [](const ZeroShotTask& x) { return x.contextIds.empty(); });
        if (needsTokenizer && !tokenizer) return Error{modelFolder + ": no tokenizer (needed for the text tasks of " + file + ")"};
        out.tasks = std::move(t).value();
        out.label = file;
    } else if (tokenizer && causal) {
        auto t = parseZeroShotTasks(std::string(bundledZeroShotTasksText()), "bundled tasks");
        if (!t) return t.error();
        out.tasks = std::move(t).value();
        out.label = "bundled";
    }
    return out;
}

// ---------------------------------------------------------------------------
// Masked-language-model measure (the rule is in metrics.h)
// ---------------------------------------------------------------------------

Result<std::vector<MaskedWindow>> maskedLmWindows(const std::vector<TokenId>& textIds, const Tokenizer& tokenizer, const MaskedLmOptions& options,
                                                  const std::string& where) {
    if (!(options.fraction > 0.0 && options.fraction <= 1.0)) {
        return Error{"mask fraction " + formatNumber(options.fraction) + " is outside (0, 1]"};
    }
    const std::optional<TokenId> mask = maskTokenId(tokenizer);
    if (!mask) return Error{tokenizer.sourceFile().string() + ": the tokenizer has no <mask> or [MASK] special token (needed to mask tokens)"};
    const std::size_t n = textIds.size();
    std::size_t begin = 0, end = n;
    while (begin < n && tokenizer.isSpecial(textIds[begin])) ++begin;
    while (end > begin && tokenizer.isSpecial(textIds[end - 1])) --end;
    if (begin == end) return Error{where + ": no tokens to mask (only special tokens)"};
    const std::vector<TokenId> prefix(textIds.begin(), textIds.begin() + static_cast<std::ptrdiff_t>(begin));
    const std::vector<TokenId> suffix(textIds.begin() + static_cast<std::ptrdiff_t>(end), textIds.end());
    const std::int64_t chunk = static_cast<std::int64_t>(options.context) - static_cast<std::int64_t>(prefix.size() + suffix.size());
    if (chunk < 1) {
        return Error{"a window of " + std::to_string(options.context) + " tokens leaves no room for text between the " +
                     std::to_string(prefix.size() + suffix.size()) + " special tokens around it"};
    }
    SeededRng rng(options.seed);
    std::vector<MaskedWindow> out;
    for (std::size_t c = begin; c < end; c += static_cast<std::size_t>(chunk)) {
        const std::size_t cEnd = std::min(end, c + static_cast<std::size_t>(chunk));
        MaskedWindow w;
        w.input = prefix;
        w.input.insert(w.input.end(), textIds.begin() + static_cast<std::ptrdiff_t>(c), textIds.begin() + static_cast<std::ptrdiff_t>(cEnd));
        w.input.insert(w.input.end(), suffix.begin(), suffix.end());
        std::vector<std::int64_t> eligible;
        for (std::size_t i = prefix.size(); i < prefix.size() + (cEnd - c); ++i) {
            if (!tokenizer.isSpecial(w.input[i])) eligible.push_back(static_cast<std::int64_t>(i));
        }
        if (eligible.empty()) continue;
        const std::size_t m = eligible.size();
        const std::size_t k = std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(options.fraction * static_cast<double>(m) + 0.5)));
        for (std::size_t i = 0; i < std::min(k, m); ++i) std::swap(eligible[i], eligible[i + rng.below(m - i)]);
        w.positions.assign(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(std::min(k, m)));
        std::sort(w.positions.begin(), w.positions.end());
        for (std::int64_t p : w.positions) {
            w.targets.push_back(w.input[static_cast<std::size_t>(p)]);
            w.input[static_cast<std::size_t>(p)] = *mask;
        }
        out.push_back(std::move(w));
    }
    if (out.empty()) return Error{where + ": no token can be masked (every token is special)"};
    return out;
}

MaskedLmScore scoreMaskedWindow(const ActivationTensor& logits, const MaskedWindow& window) {
    MaskedLmScore s;
    const std::int64_t V = logits.cols();
    for (std::size_t i = 0; i < window.positions.size(); ++i) {
        const float* row = logits.values.data() + window.positions[i] * V;
        const TokenId want = window.targets[i];
        s.nllSum += -logProbability(row, V, want);
        ++s.tokens;
        if (std::max_element(row, row + V) - row == want) ++s.correct;
    }
    return s;
}

Result<MaskedLmResult> maskedLm(Engine& engine, const std::vector<MaskedWindow>& windows, const std::vector<EditSpec>& edits,
                                const RunControl& control) {
    const ModelConfig& c = engine.model().config();
    if (c.causal) {
        return Error{"the masked-token measure needs a bidirectional encoder; this " + c.familyName + " model predicts the next token (use perplexity)"};
    }
    if (windows.empty()) return Error{"no masked windows to score"};
    MaskedLmResult out;
    double nll = 0;
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < windows.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        ForwardRequest req;
        req.tokens = windows[i].input;
        req.edits = edits;
        req.allPositionLogits = true;
        auto r = engine.run(req);
        if (!r) return r.error();
        const MaskedLmScore s = scoreMaskedWindow((*r)->logits, windows[i]);
        nll += s.nllSum;
        correct += s.correct;
        out.tokens += s.tokens;
        out.windows.push_back(s);
        control.progress(static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(windows.size()), "mlm");
    }
    out.loss = nll / static_cast<double>(out.tokens);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.tokens);
    return out;
}

}  // namespace superlens::core
