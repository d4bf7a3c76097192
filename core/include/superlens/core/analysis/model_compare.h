#pragma once
// Two models of the same shapes side by side (issue 19: a GGUF and its source
// checkpoint, two quantizations, base vs fine-tune): what `superlens-cli
// compare A B` reports and the GUI's Compare view draws.
//
//   - every tensor both have (by Hugging Face name): relative error
//     ||B - A||_2 / ||A||_2 and max |B - A| over all elements, A as the reference;
//   - every super weight either model's scan finds: its value in both, and
//     in each the quantization step of the ggml block (group) holding it, with
//     the error (B - A) in units of B's step;
//   - the super activation (residual stream after that layer, at the weight's
//     token and output channel) in both runs;
//   - on the same tokens: the next-token KL divergence KL(P_A || P_B) per
//     position (mean, max), each model's mean NLL and perplexity, and how often
//     their top-1 predictions agree.
//
// Thread-safety: synchronous; the engines it creates are its own.

#include <memory>
#include <string>
#include <vector>

#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/model/imatrix.h"
#include "superlens/core/model/model.h"
#include "superlens/core/result.h"
#include "superlens/core/run_control.h"

namespace superlens::core {

struct TensorDifference {
    std::string name;            // Hugging Face name
    std::string ggufNameA, ggufNameB;  // llama.cpp names ("" for safetensors)
    std::string storageA, storageB;    // "BF16", "Q4_K", ...
    int layer = -1;              // block index, -1 for embeddings, final norm, head
    // The tensor's kind within its block: the name without the block prefix
    // and ".weight" ("self_attn.q_proj", "mlp.down_proj"); outside blocks the
    // name without ".weight". The Compare view groups its error bars by it.
    std::string kind;
    std::int64_t elements = 0;
    bool transposed = false;     // one stores it [in, out] (GPT-2's Conv1D), compared element by element
    double normA = 0;            // ||A||_2
    double relativeError = 0;    // ||B - A||_2 / ||A||_2 (0 when both are zero)
    double maxAbsError = 0;      // max |B - A|
};

struct SuperWeightComparison {
    SuperWeight weight;          // coordinates as stored in A (layer, row, col, output axis)
    bool foundInA = false, foundInB = false;  // which scans report it
    float valueA = 0, valueB = 0;             // the weight in each model
    float stepA = 0, stepB = 0;               // quantization step of its block (0: not block-quantized)
    double errorInStepsB = 0;    // (valueB - valueA) / stepB; 0 when stepB is 0
    // The super activation: resid_post of the weight's layer at (token, output channel).
    float activationA = 0, activationB = 0;
    // With an importance matrix (llama-imatrix): its entry for the down
    // projection (llama.cpp's name) and the super weight's input column there.
    bool hasImportance = false;
    std::string imatrixTensor;
    double importance = 0;           // mean square activation of the column
    std::int64_t importanceRank = 0; // 1 = the most important column of the matrix
    std::int64_t importanceColumns = 0;
    double importanceToMedian = 0;   // importance / the matrix's median column importance
};

struct LogitComparison {
    std::int64_t positions = 0;      // positions compared (KL at every one)
    std::int64_t predicted = 0;      // next tokens scored (positions - 1)
    double klMean = 0, klMax = 0;    // KL(P_A || P_B) in nats
    std::int64_t klMaxPosition = 0;
    double nllA = 0, nllB = 0;       // mean next-token NLL (nats)
    double pplA = 0, pplB = 0;       // exp(nll)
    double top1Agreement = 0;        // share of positions whose argmax agrees
};

struct ModelComparison {
    std::vector<TensorDifference> tensors;     // A's tensor order (by name)
    std::vector<std::string> onlyInA, onlyInB; // tensors the other model lacks (e.g. an untied head)
    std::vector<SuperWeightComparison> superWeights;
    LogitComparison logits;
    std::vector<TokenId> tokens;
    // Per layer: the largest relative error among the layer's tensors, and the
    // error of all its tensors pooled (sqrt(sum ||B-A||^2 / sum ||A||^2)).
    std::vector<double> layerMaxRelativeError, layerRelativeError;
};

struct ModelCompareOptions {
    SuperWeightScanOptions scan;
    // Tokens of the scans (the prompt's first scanTokens tokens); the logit
    // comparison uses all of them.
    std::size_t scanTokens = 128;
    // llama.cpp's importance matrix: shown next to each super weight's column.
    // Its names are llama.cpp's, so one of the models must be a GGUF file.
    const Imatrix* imatrix = nullptr;
};

// Whether two models can be compared: an error line naming both when their
// layers, hidden size or vocabulary differ, or one is not a token model.
Status checkComparable(const Model& a, const Model& b);

// Refuses models whose layers, hidden size or vocabulary differ (one line
// naming both: checkComparable). `tokens` must hold at least two ids valid in both.
Result<ModelComparison> compareModels(const std::shared_ptr<const Model>& a, const std::shared_ptr<const Model>& b,
                                      const std::vector<TokenId>& tokens, const ModelCompareOptions& options = {},
                                      const RunControl& control = RunControl::none());

// The llama.cpp name an importance matrix gives a tensor of `a` (Hugging
// Face name): the GGUF name from `a` when it is a GGUF file, else from `b`;
// "" when neither model is a GGUF file (nothing names llama.cpp's tensors).
std::string imatrixTensorName(const Model& a, const Model* b, const std::string& huggingFaceName);

// The per-tensor part alone (no forward pass).
std::vector<TensorDifference> compareTensors(const Model& a, const Model& b, std::vector<std::string>* onlyInA = nullptr,
                                             std::vector<std::string>* onlyInB = nullptr);

}  // namespace superlens::core
