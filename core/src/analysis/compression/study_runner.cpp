#include "study_runner.h"
#include "superlens/core/model/mapped_file.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

namespace superlens::core {
namespace compression {

std::vector<EditSpec> fitKeptActivations(const std::vector<EditSpec>& edits, std::int64_t tokens) {
    std::vector<EditSpec> out = edits;
    for (EditSpec& e : out) {
        if (e.kind != EditKind::ActQuant || e.keepActivations.empty()) continue;
        std::erase_if(e.keepActivations, [&](const ActivationCoord& c) { return c.token >= tokens; });
        // An emptied explicit list would read as "resolve by a scan": nothing is kept.
        if (e.keepActivations.empty()) e.keepSuper = false;
    }
    return out;
}

AnswerScore scoreAnswer(const ActivationTensor& logits, const AnswerSequence& seq) {
    AnswerScore s;
    const std::int64_t V = logits.cols();
    const std::int64_t T = static_cast<std::int64_t>(seq.tokens.size());
    for (std::int64_t j = seq.answerStart; j < T; ++j) {
        const float* row = logits.values.data() + (j - 1) * V;
        const TokenId want = seq.tokens[static_cast<std::size_t>(j)];
        s.nllSum += -logProbability(row, V, want);
        ++s.tokens;
        // Greedy match: the answer token must be the (first) argmax.
        if (std::max_element(row, row + V) - row != want) s.exact = false;
    }
    return s;
}

StudyRunner::StudyRunner(Engine& engine, const CompressionStudyInputs& inputs) : m_engine(engine), m_in(inputs) {}

Status StudyRunner::prepare() {
    const bool haveText = !m_in.textTokens.empty();
    const bool haveTasks = m_in.tasks && !m_in.tasks->empty();
    const bool haveAnswers = m_in.answers && !m_in.answers->empty();
    if (!haveText && !haveTasks && !haveAnswers) return Error{"nothing to measure: give a text, zero-shot tasks or answers"};
    const ModelConfig& config = m_engine.model().config();
    if (!config.causal) {
        // A bidirectional encoder sees every token: its text measure is the
        // masked-token one; next-token scores (tasks, answers) do not apply.
        if (haveTasks || haveAnswers) {
            return Error{std::string(haveTasks ? "zero-shot tasks" : "answers") + " score next tokens; this " + config.familyName +
                         " model is a bidirectional encoder (measure it on a text: masked-token accuracy and loss)"};
        }
        if (!m_in.tokenizer) return Error{"the masked-token measure of an encoder needs its tokenizer (the mask token and the special tokens)"};
        MaskedLmOptions mo = m_in.maskedLm;
        mo.context = m_in.perplexity.context;
        auto w = maskedLmWindows(m_in.textTokens, *m_in.tokenizer, mo);
        if (!w) return w.error();
        m_masked = std::move(w).value();
        for (const MaskedWindow& mw : m_masked) m_sequences.push_back(mw.input);
    } else if (haveText) {
        const std::int64_t n = static_cast<std::int64_t>(m_in.textTokens.size());
        const std::int64_t context = m_in.perplexity.context;
        if (m_in.perplexity.stride < 0) return Error{"stride must not be negative (got " + std::to_string(m_in.perplexity.stride) + ")"};
        const std::int64_t stride = m_in.perplexity.stride == 0 ? context : m_in.perplexity.stride;
        if (n < 2) return Error{"the text has " + std::to_string(n) + " token(s); at least 2 are needed to predict one"};
        if (context < 2) return Error{"context must be at least 2 tokens (got " + std::to_string(context) + ")"};
        if (stride < 1 || stride > context) {
            return Error{"stride must be between 1 and the context length " + std::to_string(context) + " (got " + std::to_string(stride) + ")"};
        }
        m_windows = slidingWindows(n, context, stride);
        for (const TextWindow& w : m_windows) m_sequences.emplace_back(m_in.textTokens.begin() + w.begin, m_in.textTokens.begin() + w.end);
    }
    if (haveAnswers) {
        for (std::size_t i = 0; i < m_in.answers->size(); ++i) {
            auto seq = tokenizeAnswerTask((*m_in.answers)[i], m_in.tokenizer);
            if (!seq) return Error{"answer " + std::to_string(i + 1) + ": " + seq.error().message};
            m_answers.push_back(*seq);
            m_sequences.push_back(seq->tokens);
        }
    }
    const std::int64_t vocab = m_engine.model().config().vocabSize;
    for (const auto& s : m_sequences) {
        for (TokenId id : s) {
            if (id < 0 || id >= vocab) return Error{"token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")"};
        }
    }
    if (haveTasks) {
        const bool needsTokenizer = std::any_of(m_in.tasks->begin(), m_in.tasks->end(), [](const ZeroShotTask& t) { return t.contextIds.empty(); });
        if (needsTokenizer && !m_in.tokenizer) return Error{"zero-shot tasks in text form need the model's tokenizer"};
        // Every zero-shot sequence is at least its context long (+1 choice token).
        m_shortestTask = std::numeric_limits<std::int64_t>::max();
        for (const ZeroShotTask& t : *m_in.tasks) {
            const std::int64_t n = t.contextIds.empty() ? static_cast<std::int64_t>(m_in.tokenizer->encode(t.context, true).size())
                                                        : static_cast<std::int64_t>(t.contextIds.size());
            m_shortestTask = std::min(m_shortestTask, n + 1);
        }
    }
    m_cached.assign(m_sequences.size(), nullptr);
    return {};
}

Result<std::shared_ptr<const ForwardResult>> StudyRunner::runSequence(std::size_t i, const std::vector<EditSpec>& edits, bool baseline,
                                                                      const RunControl& control) {
    ForwardRequest req;
    req.tokens = m_sequences[i];
    req.edits = fitKeptActivations(edits, static_cast<std::int64_t>(req.tokens.size()));
    req.allPositionLogits = true;
    req.previous = m_cached[i];
    ChildControl child(control);
    auto r = m_engine.run(req, child.get());
    if (!r) return r.error();
    if (baseline && !m_cached[i]) {
        // Keep the residual checkpoints only (not the [T, V] logits): what the
        // engine needs to restart at the first edited block.
        const ModelConfig& c = m_engine.model().config();
        const std::size_t scalar = m_engine.options().precision == Precision::Float64 ? 8 : 4;
        const std::size_t bytes = static_cast<std::size_t>(c.numLayers + 1) * req.tokens.size() * static_cast<std::size_t>(c.hiddenSize) * scalar;
        std::size_t used = 0;
        for (const auto& k : m_cached) {
            if (k) used += static_cast<std::size_t>(c.numLayers + 1) * k->tokens.size() * static_cast<std::size_t>(c.hiddenSize) * scalar;
        }
        if (used + bytes <= m_in.reuseBudgetBytes) {
            auto kept = std::make_shared<ForwardResult>();
            const ForwardResult& full = **r;
            kept->tokens = full.tokens;
            kept->edits = full.edits;
            kept->precision = full.precision;
            kept->allPositionLogits = full.allPositionLogits;
            kept->checkpoints = full.checkpoints;
            kept->stageKeys = full.stageKeys;
            kept->recordPatterns = full.recordPatterns;
            kept->recomputedFromStage = full.recomputedFromStage;
            m_cached[i] = std::move(kept);
            ++m_reusable;
        }
    }
    return r;
}

Result<CompressionMetrics> StudyRunner::measure(const std::vector<EditSpec>& edits, bool baseline, const RunControl& control) {
    const auto t0 = std::chrono::steady_clock::now();
    CompressionMetrics m;
    // Perplexity: the same arithmetic, in the same order, as core::perplexity.
    if (!m_windows.empty()) {
        double nllSum = 0;
        std::int64_t count = 0;
        for (std::size_t w = 0; w < m_windows.size(); ++w) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            auto r = runSequence(w, edits, baseline, control);
            if (!r) return r.error();
            const TextWindow& win = m_windows[w];
            const ActivationTensor& logits = (*r)->logits;
            const std::int64_t V = logits.cols();
            double windowNll = 0;
            for (std::int64_t j = win.firstScored; j < win.end; ++j) {
                const float* row = logits.values.data() + (j - win.begin - 1) * V;
                const double nll = -logProbability(row, V, m_in.textTokens[static_cast<std::size_t>(j)]);
                nllSum += nll;
                windowNll += nll;
                ++count;
            }
            m.units.windowNll.push_back(windowNll);
            m.units.windowTokens.push_back(static_cast<double>(win.end - win.firstScored));
        }
        m.pplTokens = count;
        m.nll = count > 0 ? nllSum / static_cast<double>(count) : 0.0;
        m.ppl = std::exp(m.nll);
    }
    if (!m_masked.empty()) {
        double nll = 0;
        std::int64_t tokens = 0, correct = 0;
        for (std::size_t w = 0; w < m_masked.size(); ++w) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            auto r = runSequence(w, edits, baseline, control);
            if (!r) return r.error();
            const MaskedLmScore s = scoreMaskedWindow((*r)->logits, m_masked[w]);
            nll += s.nllSum;
            tokens += s.tokens;
            correct += s.correct;
            m.units.mlmNll.push_back(s.nllSum);
            m.units.mlmTokens.push_back(static_cast<double>(s.tokens));
            m.units.mlmCorrect.push_back(static_cast<double>(s.correct));
        }
        m.mlmTokens = tokens;
        m.mlmLoss = nll / static_cast<double>(tokens);
        m.mlmAccuracy = static_cast<double>(correct) / static_cast<double>(tokens);
    }
    if (m_in.tasks && !m_in.tasks->empty()) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        ChildControl child(control);
        auto z = zeroShot(m_engine, m_in.tokenizer, *m_in.tasks, fitKeptActivations(edits, m_shortestTask), child.get());
        if (!z) return z.error();
        m.accuracy = z->accuracy;
        m.accuracyNorm = z->accuracyNorm;
        for (std::size_t t = 0; t < m_in.tasks->size(); ++t) {
            m.units.taskCorrect.push_back(z->predictions[t] == (*m_in.tasks)[t].gold ? 1.0 : 0.0);
            m.units.taskCorrectNorm.push_back(z->predictionsNorm[t] == (*m_in.tasks)[t].gold ? 1.0 : 0.0);
        }
    }
    if (!m_answers.empty()) {
        double nll = 0;
        std::int64_t tokens = 0;
        int exact = 0;
        for (std::size_t a = 0; a < m_answers.size(); ++a) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            auto r = runSequence(m_windows.size() + m_masked.size() + a, edits, baseline, control);
            if (!r) return r.error();
            const AnswerScore s = scoreAnswer((*r)->logits, m_answers[a]);
            nll += s.nllSum;
            tokens += s.tokens;
            exact += s.exact ? 1 : 0;
            m.units.answerNll.push_back(s.nllSum);
            m.units.answerTokens.push_back(static_cast<double>(s.tokens));
            m.units.answerExact.push_back(s.exact ? 1.0 : 0.0);
        }
        m.answerLoss = nll / static_cast<double>(tokens);
        m.answerExactMatch = static_cast<double>(exact) / static_cast<double>(m_answers.size());
    }
    if (control.isCancelled()) return Error{kCancelledMessage};
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return m;
}

}  // namespace compression

// ---------------------------------------------------------------------------
// Answer tasks
// ---------------------------------------------------------------------------

Result<std::vector<AnswerTask>> parseAnswerTasks(const std::string& jsonl, const std::string& name) {
    std::vector<AnswerTask> tasks;
    std::istringstream in(jsonl);
    std::string line;
    int lineNo = 0;
    auto idList = [](const nlohmann::json& v, std::vector<TokenId>& out) {
        if (!v.is_array()) return false;
        for (const auto& x : v) {
            if (!x.is_number_integer() || x.get<long long>() < 0 || x.get<long long>() > 2147483647LL) return false;
            out.push_back(static_cast<TokenId>(x.get<long long>()));
        }
        return true;
    };
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
        const std::string where = name + ":" + std::to_string(lineNo) + ": ";
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            return Error{where + "malformed JSON (" + std::string(e.what()) + ")"};
        }
        if (!j.is_object()) return Error{where + "expected an object {\"context\": ..., \"answer\": ...}"};
        AnswerTask t;
        if (j.contains("context_ids") || j.contains("answer_ids")) {
            if (!j.contains("context_ids") || !j.contains("answer_ids") || !idList(j["context_ids"], t.contextIds) || !idList(j["answer_ids"], t.answerIds)) {
                return Error{where + "\"context_ids\" and \"answer_ids\" must both be lists of token ids"};
            }
            if (t.contextIds.empty()) return Error{where + "\"context_ids\" is empty (the answer needs a context to follow)"};
            if (t.answerIds.empty()) return Error{where + "\"answer_ids\" is empty"};
        } else {
            if (!j.contains("context") || !j["context"].is_string() || !j.contains("answer") || !j["answer"].is_string()) {
                return Error{where + "expected string fields \"context\" and \"answer\" (or \"context_ids\" and \"answer_ids\")"};
            }
            t.context = j["context"].get<std::string>();
            t.answer = j["answer"].get<std::string>();
            if (t.answer.empty()) return Error{where + "\"answer\" is empty"};
        }
        tasks.push_back(std::move(t));
    }
    if (tasks.empty()) return Error{name + ": no answer tasks (expected JSONL lines {\"context\": ..., \"answer\": ...})"};
    return tasks;
}

Result<std::vector<AnswerTask>> loadAnswerTasks(const std::string& path) {
    auto text = readRegularFile(path, kMaxTextBytes);
    if (!text) return text.error();
    return parseAnswerTasks(*text, path);
}

Result<AnswerSequence> tokenizeAnswerTask(const AnswerTask& task, const Tokenizer* tokenizer) {
    AnswerSequence s;
    if (!task.contextIds.empty()) {
        s.tokens = task.contextIds;
        s.answerStart = static_cast<std::int64_t>(s.tokens.size());
        s.tokens.insert(s.tokens.end(), task.answerIds.begin(), task.answerIds.end());
    } else {
        if (!tokenizer) return Error{"text answers need the model's tokenizer (give \"context_ids\"/\"answer_ids\" instead)"};
        const std::vector<TokenId> context = tokenizer->encode(task.context, true);
        const std::vector<TokenId> whole = tokenizer->encode(task.context + task.answer, true);
        std::vector<TokenId> answer;
        if (whole.size() > context.size() && std::equal(context.begin(), context.end(), whole.begin())) {
            answer.assign(whole.begin() + static_cast<std::ptrdiff_t>(context.size()), whole.end());
        } else {
            answer = tokenizer->encode(task.answer, false);
        }
        if (context.empty()) return Error{"the context gives no tokens"};
        if (answer.empty()) return Error{"the answer '" + task.answer + "' gives no tokens"};
        s.tokens = context;
        s.answerStart = static_cast<std::int64_t>(context.size());
        s.tokens.insert(s.tokens.end(), answer.begin(), answer.end());
    }
    return s;
}

Result<AnswerLoss> answerLoss(Engine& engine, const Tokenizer* tokenizer, const std::vector<AnswerTask>& tasks, const std::vector<EditSpec>& edits,
                              const RunControl& control) {
    AnswerLoss out;
    double nll = 0;
    int exact = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        auto seq = tokenizeAnswerTask(tasks[i], tokenizer);
        if (!seq) return Error{"answer " + std::to_string(i + 1) + ": " + seq.error().message};
        ForwardRequest req;
        req.tokens = seq->tokens;
        req.edits = edits;
        req.allPositionLogits = true;
        compression::ChildControl child(control);
        auto r = engine.run(req, child.get());
        if (!r) return r.error();
        const auto s = compression::scoreAnswer((*r)->logits, *seq);
        nll += s.nllSum;
        out.tokens += s.tokens;
        exact += s.exact ? 1 : 0;
        control.progress(static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(tasks.size()), "answers");
    }
    out.count = static_cast<int>(tasks.size());
    out.meanNll = out.tokens > 0 ? nll / static_cast<double>(out.tokens) : 0.0;
    out.exactMatch = out.count > 0 ? static_cast<double>(exact) / out.count : 0.0;
    return out;
}

}  // namespace superlens::core
