#pragma once
// Compression studies (issue 10): what happens to a model when its matrices
// are rank-reduced (LASER, Sharma et al. 2023) or quantized round-to-nearest
// with and without its super weights (Yu et al. 2024, Sec. 4.3 / Fig. 7).
//
// Every configuration is measured the same way (CompressionMetrics):
//   - perplexity of a text, Hugging Face sliding windows (the same windows
//     and numbers as core::perplexity);
//   - zero-shot multiple-choice accuracy (core::zeroShot), when tasks are given;
//   - LASER's metric, the loss on an answer set: mean negative
//     log-likelihood of given answer tokens after given contexts, and the
//     share of answers predicted exactly (greedy, token by token), when
//     answers are given.
// Perplexity windows and answer sequences reuse the unedited run's residual
// checkpoints (ForwardRequest::previous), so an edit in layer l recomputes
// from block l only; the checkpoints kept for that are bounded by
// CompressionStudyInputs::reuseBudgetBytes (sequences beyond it recompute fully).
//
// Thread-safety: synchronous; uses the engine, which serialises its runs.
// Progress: one unit per configuration ("laser" / "quant"); cancel between
// (and inside) configurations returns the error "cancelled".

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/analysis/bootstrap.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/laser.h"

namespace superlens::core {

// ---------------------------------------------------------------------------
// LASER's answer-token loss
// ---------------------------------------------------------------------------

struct AnswerTask {
    std::string context;
    std::string answer;
    // Token-id form (models without a tokenizer): used exactly as given.
    std::vector<TokenId> contextIds;
    std::vector<TokenId> answerIds;
};

// JSONL, one per line: {"context": "...", "answer": "..."} or
// {"context_ids": [...], "answer_ids": [...]}. Blank lines are skipped;
// errors name the file and line.
Result<std::vector<AnswerTask>> loadAnswerTasks(const std::string& path);
Result<std::vector<AnswerTask>> parseAnswerTasks(const std::string& jsonl, const std::string& name);

// A task as token ids: the context encoded with the tokenizer's special
// tokens; the answer as the tokens of encode(context + answer) after
// encode(context) when that is a prefix, else encode(answer) without
// special tokens (the lm-eval-harness rule). The answer text is used as
// given: write " Paris", not "Paris", when a space separates it.
struct AnswerSequence {
    std::vector<TokenId> tokens;  // context + answer
    std::int64_t answerStart = 0; // first answer token
};
Result<AnswerSequence> tokenizeAnswerTask(const AnswerTask& task, const Tokenizer* tokenizer);

struct AnswerLoss {
    double meanNll = 0;       // mean NLL per answer token (nats)
    double exactMatch = 0;    // share of tasks whose every answer token is the argmax
    std::int64_t tokens = 0;  // answer tokens scored
    int count = 0;            // tasks
};

// Errors: a task without answer tokens, a text task without a tokenizer, engine errors, "cancelled".
Result<AnswerLoss> answerLoss(Engine& engine, const Tokenizer* tokenizer, const std::vector<AnswerTask>& tasks,
                              const std::vector<EditSpec>& edits, const RunControl& control = RunControl::none());

// ---------------------------------------------------------------------------
// Shared measures
// ---------------------------------------------------------------------------

inline constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

struct CompressionMetrics {
    double ppl = kNotMeasured;
    double nll = kNotMeasured;             // mean per predicted token (nats)
    std::int64_t pplTokens = 0;
    double accuracy = kNotMeasured;        // zero-shot
    double accuracyNorm = kNotMeasured;    // zero-shot, length-normalised
    double answerLoss = kNotMeasured;      // LASER's loss: mean answer-token NLL
    double answerExactMatch = kNotMeasured;
    // Added (issue 18): the masked-token measure of an encoder's text
    // (metrics.h maskedLmWindows: 15 % of the tokens, fixed seed, <mask>).
    double mlmAccuracy = kNotMeasured;
    double mlmLoss = kNotMeasured;         // mean NLL per masked token (nats)
    std::int64_t mlmTokens = 0;
    double seconds = 0;

    // Added (issue 23): the per-unit sums behind the numbers (perplexity
    // windows: NLL sum and scored tokens; zero-shot tasks: 1 when correct;
    // answers: NLL sum, tokens, 1 when exact), and percentile-bootstrap
    // intervals by metric name: of the value (`ci`) and of value - baseline
    // (`deltaCi`, paired: the same resampled windows / tasks / answers).
    // Empty maps when intervals are off; read back from JSON as given.
    struct Units {
        std::vector<double> windowNll, windowTokens, taskCorrect, taskCorrectNorm, answerNll, answerTokens, answerExact;
        // Masked-token windows (encoders; resampled in the windows' slot,
        // an encoder has no perplexity windows): NLL sum, masked, correct.
        std::vector<double> mlmNll, mlmTokens, mlmCorrect;
    } units;
    std::map<std::string, Interval> ci, deltaCi;
    // The metric recomputed on one resample (counts per unit); NaN when not measured.
    double resampled(const std::string& metric, const std::vector<std::uint32_t>& windowCounts, const std::vector<std::uint32_t>& taskCounts,
                     const std::vector<std::uint32_t>& answerCounts) const;

    // By name: "ppl", "nll", "accuracy", "accuracy_norm", "answer_loss",
    // "answer_exact_match", "mlm_accuracy", "mlm_loss" (NaN when not measured or unknown).
    double value(const std::string& metric) const;
};

// The metric names, in table order.
const std::vector<std::string>& compressionMetricNames();

struct CompressionStudyInputs {
    // The text (may be empty when tasks or answers are given): perplexity
    // windows on a causal model; on a bidirectional encoder the masked-token
    // measure (metrics.h, windows of perplexity.context tokens, `maskedLm`'s
    // fraction and seed; needs the tokenizer for the mask token and specials).
    std::vector<TokenId> textTokens;
    PerplexityOptions perplexity;
    const std::vector<ZeroShotTask>* tasks = nullptr;  // optional
    const std::vector<AnswerTask>* answers = nullptr;  // optional
    const Tokenizer* tokenizer = nullptr;             // needed by text-form tasks and answers
    std::size_t reuseBudgetBytes = std::size_t{1} << 30;
    BootstrapOptions bootstrap;  // intervals of every value and of its change from the baseline (resamples 0 = none)
    MaskedLmOptions maskedLm;    // encoders: fraction and seed (its context is perplexity.context)
};

// Fills m.ci and m.deltaCi from m.units and baseline.units (bootstrap.h:
// windows, tasks and answers are resampled independently, each with the
// options' seed, so the same resample pairs m with the baseline).
void attachIntervals(CompressionMetrics& m, const CompressionMetrics& baseline, const BootstrapOptions& options);

// ---------------------------------------------------------------------------
// LASER sweep: matrix type x layer x rho
// ---------------------------------------------------------------------------

// Matrix types by short name: gate up down q k v o, and Phi-3's fused qkv and
// gate_up. The names a model has (layer 0), in this order.
std::vector<std::string> laserMatrixTypes(const Model& model);
// Tensor of a type in a layer; error for a type the architecture lacks
// ("q" on Phi-3: use "qkv").
Result<std::string> laserTensorName(const Model& model, const std::string& type, int layer);

// Lists typed by a user for the sweeps, one rule for the CLI's options, the
// GUI's dialogs and Python's arguments: items separated by commas,
// semicolons and/or white space; errors are one line starting with `label`.
std::vector<std::string> splitListItems(std::string_view text);
// "0,2-4" -> 0 2 3 4; each layer below `layers` (layers <= 0: no bound).
Result<std::vector<int>> parseLayerList(std::string_view text, int layers, std::string_view label);
// "0.1,0.5" -> fractions of the maximal rank, each in (0, 1].
Result<std::vector<double>> parseRhoList(std::string_view text, std::string_view label);
// "64,128,tensor" -> 64 128 0; with `activations` also "token" -> -1. Sizes
// are positive: 0 and -1 are spelled "tensor" and "token".
Result<std::vector<std::int64_t>> parseBlockSizes(std::string_view text, std::string_view label, bool activations);

struct LaserStudyOptions {
    std::vector<std::string> types;      // empty = laserMatrixTypes(model)
    std::vector<int> layers;             // empty = every layer
    std::vector<double> rhos = {0.01, 0.05, 0.1, 0.25, 0.5, 0.9};
};

struct LaserCell {
    std::string type;
    int layer = 0;
    double rho = 0;
    std::string tensor;
    std::string edit;          // the laser: spec measured (on top of the base edits)
    std::int64_t rank = 0;     // k
    std::int64_t maxRank = 0;  // min(rows, cols)
    bool factored = false;     // stored as factors (k (rows + cols) < rows cols)
    std::string method;        // LASER back end: exact | randomized | gram
    CompressionMetrics metrics;
};

// A layer x rho grid of one matrix type and one metric, for the GUI's
// heatmap view (and the JSON export). values is row-major [layers x rhos];
// NaN where a cell was not measured.
struct LaserHeatmap {
    std::string type;
    std::string metric;
    std::vector<int> layers;   // rows
    std::vector<double> rhos;  // columns
    std::vector<double> values;
    double baseline = kNotMeasured;  // the unedited model's value
    // Added (issue 23): each cell's interval of its change from the baseline
    // (metrics.deltaCi), same layout as values; NaN when none.
    std::vector<double> deltaLo, deltaHi;
    double at(std::size_t layerIndex, std::size_t rhoIndex) const { return values[layerIndex * rhos.size() + rhoIndex]; }
};

struct LaserStudy {
    CompressionMetrics baseline;
    std::vector<std::string> types;
    std::vector<int> layers;
    std::vector<double> rhos;
    std::vector<LaserCell> cells;  // type-major, then layer, then rho
    std::vector<std::string> baseEdits;
    std::vector<std::string> notes;
    // Perplexity windows + answer sequences, and how many of them restart
    // from the unedited run's checkpoints (the rest recompute fully).
    std::int64_t sequences = 0;
    std::int64_t reusedSequences = 0;
    // Added (issue 18): an encoder's masked windows, as measured (JSON
    // "masked_lm": fraction, seed and each window's input, positions, targets).
    std::vector<MaskedWindow> maskedWindows;
    MaskedLmOptions maskedLm;

    LaserHeatmap heatmap(const std::string& type, const std::string& metric) const;
    // Exports (formats documented in docs/COMPRESSION.md): one JSON document
    // with baseline, cells and a heatmap per type and measured metric; a
    // Markdown table (one row per cell); CSV with a header row.
    std::string toJson() const;
    std::string markdown() const;
    std::string csv() const;
};

// Errors: no measure given (text, tasks or answers), unknown type, layer out
// of range, rho outside (0, 1], measure errors, "cancelled".
Result<LaserStudy> studyLaser(Engine& engine, const CompressionStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                              const LaserStudyOptions& options = {}, const RunControl& control = RunControl::none());

// ---------------------------------------------------------------------------
// Quantization sweep: block size x {plain RTN, RTN keeping super weights}
// (the super-weight paper's Fig. 7), optionally activation RTN too
// ---------------------------------------------------------------------------

struct QuantStudyOptions {
    int bits = 4;
    std::vector<std::int64_t> blocks = {64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 0};  // 0 = tensor
    std::string pattern = "model.layers.*";  // rtn pattern: every linear weight of the blocks
    std::optional<double> zclip;
    std::optional<double> pclip;
    std::vector<SuperWeightCoord> superWeights;  // empty: no "keep_super" series
    // Activation series (actq on actPattern at actBits, blocks in channels per
    // token; 0 = tensor, -1 = token), plain and keeping the super activations.
    int actBits = 0;  // 0 = no activation series
    std::string actPattern = "blocks.*.hook_resid_post";
    std::vector<std::int64_t> actBlocks = {-1, 0};
    // Kept activations; empty = (token 0, row) for each super weight's row:
    // the super activation sits on the first token (BOS) in every published model.
    std::vector<ActivationCoord> superActivations;
};

struct QuantPoint {
    std::string series;  // "rtn" | "rtn_keep_super" | "actq" | "actq_keep_super"
    std::int64_t block = 0;
    std::string edit;
    CompressionMetrics metrics;
};

// One plot line (the GUI's Fig. 7 view): x = block (0 = tensor, -1 = token), y = a metric.
struct QuantSeries {
    std::string name;
    std::vector<std::int64_t> blocks;
    std::vector<double> values;
    // Added (issue 23): each value's interval (metrics.ci), NaN when none;
    // the plot view draws them as error bars.
    std::vector<double> lo, hi;
};

struct QuantStudy {
    CompressionMetrics baseline;
    int bits = 4;
    int actBits = 0;
    std::string pattern;
    std::vector<SuperWeightCoord> superWeights;
    std::vector<ActivationCoord> superActivations;
    std::vector<QuantPoint> points;  // series-major, then block
    std::vector<std::string> baseEdits;
    std::vector<std::string> notes;
    std::int64_t sequences = 0;
    std::int64_t reusedSequences = 0;

    std::vector<QuantSeries> plot(const std::string& metric) const;
    std::string toJson() const;
    std::string markdown() const;
    std::string csv() const;
};

// "64", "tensor", "token".
std::string blockLabel(std::int64_t block);

// Reading a study back from its toJson() document (what `superlens-cli study
// laser|quant --json` prints), so the GUI can show a sweep run elsewhere.
// Derived fields (heatmaps, plots) are recomputed, not read. Errors name
// `name` (the file) and the field that is missing or malformed.
// "laser" or "quant": the document's "study" field.
Result<std::string> compressionStudyKind(const std::string& json, const std::string& name);
Result<LaserStudy> parseLaserStudyJson(const std::string& json, const std::string& name);
Result<QuantStudy> parseQuantStudyJson(const std::string& json, const std::string& name);

// Errors: no measure given, bits outside 2..8 (weights) / 2..16 (activations),
// a pattern matching nothing, measure errors, "cancelled".
Result<QuantStudy> studyQuant(Engine& engine, const CompressionStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                              const QuantStudyOptions& options = {}, const RunControl& control = RunControl::none());

// The quantization study's set-up rules, shared by every front end:
// - validateQuantStudyPatterns: options.pattern (rtn at options.bits) and,
//   with actBits, options.actPattern parse as edits of this model (clear
//   errors before any scan);
// - validateQuantStudySuperWeights: explicit options.superWeights are
//   weights the rtn pattern quantizes;
// - findQuantStudySuperWeights (keep_super without coordinates): the super
//   weights of a scan of `scanInput` (the text's first tokens, scanInputHead)
//   on the model with `baseEdits`, into options.superWeights; the kept
//   activations gain (token 0, output channel) of each -- where the super
//   activation sits in published models, and the only position every
//   window, task and answer has -- and the scan's own positions.
Status validateQuantStudyPatterns(const Model& model, const QuantStudyOptions& options);
Status validateQuantStudySuperWeights(const Model& model, const QuantStudyOptions& options);
Status findQuantStudySuperWeights(Engine& engine, const std::vector<TokenId>& scanInput, const std::vector<EditSpec>& baseEdits,
                                  const SuperWeightScanOptions& scan, QuantStudyOptions& options);

}  // namespace superlens::core
