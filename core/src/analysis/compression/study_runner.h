#pragma once
// The measuring loop shared by the LASER and quantization studies (internal
// to core): perplexity windows and answer sequences are run once unedited,
// their residual checkpoints kept (within a byte budget), and every later
// configuration passes them as ForwardRequest::previous so the engine
// recomputes only from the first block an edit touches.

#include <memory>
#include <vector>

#include "../sliding_windows.h"
#include "superlens/core/analysis/compression_study.h"

namespace superlens::core::compression {

// A RunControl for nested calls: it reports nothing upward, but turns the
// parent's cancel into its own at the next progress tick (the engine ticks
// once per block), so a cancel lands inside a long forward pass.
class ChildControl {
public:
    explicit ChildControl(const RunControl& parent) : m_parent(parent) {
        m_child.setProgressCallback([this](std::int64_t, std::int64_t, const char*) {
            if (m_parent.isCancelled()) m_child.cancel();
        });
        if (parent.isCancelled()) m_child.cancel();
    }
    const RunControl& get() const { return m_child; }

private:
    const RunControl& m_parent;
    RunControl m_child;
};

// Answer-token scores of one sequence from its all-position logits [T, V].
struct AnswerScore {
    double nllSum = 0;
    std::int64_t tokens = 0;
    bool exact = true;
};
AnswerScore scoreAnswer(const ActivationTensor& logits, const AnswerSequence& seq);

// The edits for a run of `tokens` tokens: actq keep_super coordinates beyond
// the run are dropped (the engine refuses out-of-range tokens, and a
// study's windows, answers and tasks have different lengths).
std::vector<EditSpec> fitKeptActivations(const std::vector<EditSpec>& edits, std::int64_t tokens);

class StudyRunner {
public:
    StudyRunner(Engine& engine, const CompressionStudyInputs& inputs);
    // Validates the inputs, tokenizes answers, computes windows. Errors name the problem.
    Status prepare();
    // Measures under `edits`; `baseline` = true the first time (the base
    // edits alone): its results are kept for reuse.
    Result<CompressionMetrics> measure(const std::vector<EditSpec>& edits, bool baseline, const RunControl& control);

    std::int64_t reusedSequences() const { return static_cast<std::int64_t>(m_reusable); }
    // An encoder's masked windows (empty for a causal model).
    const std::vector<MaskedWindow>& maskedWindows() const { return m_masked; }
    std::int64_t sequences() const { return static_cast<std::int64_t>(m_sequences.size()); }

private:
    Result<std::shared_ptr<const ForwardResult>> runSequence(std::size_t i, const std::vector<EditSpec>& edits, bool baseline,
                                                             const RunControl& control);

    Engine& m_engine;
    const CompressionStudyInputs& m_in;
    std::vector<TextWindow> m_windows;
    std::vector<AnswerSequence> m_answers;
    std::vector<MaskedWindow> m_masked;  // encoders: in place of m_windows
    // Windows (perplexity or masked) first, then answers: the token lists run.
    std::vector<std::vector<TokenId>> m_sequences;
    std::vector<std::shared_ptr<const ForwardResult>> m_cached;
    std::size_t m_reusable = 0;
    std::int64_t m_shortestTask = 0;  // shortest zero-shot sequence (tokens)
};

}  // namespace superlens::core::compression
