#include "superlens/core/analysis/model_compare.h"
#include "superlens/core/analysis/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/weight_matrix.h"
#include "superlens/core/model/quantization_step.h"

namespace superlens::core {
namespace {

std::string sizeMismatch(const Model& a, const Model& b, const char* what, std::int64_t va, std::int64_t vb) {
    return a.folder().string() + " and " + b.folder().string() + " cannot be compared: " + what + " " + std::to_string(va) + " vs " +
           std::to_string(vb);
}

// Rows of a tensor in Hugging Face order (q/k permutation undone, blocks
// dequantized), one at a time: no copy of the whole tensor.
struct RowReader {
    explicit RowReader(const TensorView& v) : weight(makeStoredWeight(v)), row(static_cast<std::size_t>(weight->cols())) {}
    const double* read(std::int64_t r) {
        weight->decodeRows(r, r + 1, row.data());
        return row.data();
    }
    WeightPtr weight;
    std::vector<double> row;
};

TensorDifference difference(const Model& a, const Model& b, const std::string& name, const TensorView& ta, const TensorView& tb) {
    TensorDifference d;
    d.name = name;
    d.ggufNameA = a.isGguf() ? a.ggufName(name) : "";
    d.ggufNameB = b.isGguf() ? b.ggufName(name) : "";
    d.storageA = std::string(ta.storageName());
    d.storageB = std::string(tb.storageName());
    d.layer = a.tensorLayer(name);
    d.kind = name;
    if (d.layer >= 0) {
        std::string prefix = a.layerTensorPattern();
        if (!prefix.empty() && prefix.back() == '*') prefix.pop_back();
        prefix += std::to_string(d.layer) + ".";
        if (d.kind.rfind(prefix, 0) == 0) d.kind = d.kind.substr(prefix.size());
    }
    if (d.kind.size() > 7 && d.kind.ends_with(".weight")) d.kind.resize(d.kind.size() - 7);
    d.elements = ta.elementCount();
    const TensorRole* ra = a.tensorRole(name);
    const TensorRole* rb = b.tensorRole(name);
    d.transposed = ra && rb && ra->storedTransposed != rb->storedTransposed && ta.shape.size() == 2;
    RowReader readA(ta), readB(tb);
    double sumSq = 0, sumDiff = 0, maxAbs = 0;
    const std::int64_t rows = readA.weight->rows(), cols = readA.weight->cols();
    std::vector<double> bT;  // the transposed case: B's column c is A's row c
    if (d.transposed) {
        const std::int64_t bRows = readB.weight->rows(), bCols = readB.weight->cols();
        bT.assign(static_cast<std::size_t>(bRows * bCols), 0.0);
        for (std::int64_t r = 0; r < bRows; ++r) {
            const double* row = readB.read(r);
            for (std::int64_t c = 0; c < bCols; ++c) bT[static_cast<std::size_t>(c * bRows + r)] = row[c];
        }
    }
    for (std::int64_t r = 0; r < rows; ++r) {
        const double* x = readA.read(r);
        const double* y = d.transposed ? bT.data() + r * cols : readB.read(r);
        for (std::int64_t c = 0; c < cols; ++c) {
            const double e = y[c] - x[c];
            sumSq += x[c] * x[c];
            sumDiff += e * e;
            maxAbs = std::max(maxAbs, std::fabs(e));
        }
    }
    d.normA = std::sqrt(sumSq);
    d.relativeError = sumSq > 0 ? std::sqrt(sumDiff / sumSq) : (sumDiff > 0 ? std::numeric_limits<double>::infinity() : 0.0);
    d.maxAbsError = maxAbs;
    return d;
}

std::int64_t argmax(const float* z, std::int64_t n) { return std::max_element(z, z + n) - z; }

}  // namespace

Status checkComparable(const Model& a, const Model& b) {
    const ModelConfig& ca = a.config();
    const ModelConfig& cb = b.config();
    if (ca.numLayers != cb.numLayers) return Error{sizeMismatch(a, b, "layers", ca.numLayers, cb.numLayers)};
    if (ca.hiddenSize != cb.hiddenSize) return Error{sizeMismatch(a, b, "hidden size", ca.hiddenSize, cb.hiddenSize)};
    if (ca.vocabSize != cb.vocabSize) return Error{sizeMismatch(a, b, "vocabulary", ca.vocabSize, cb.vocabSize)};
    if (ca.pixelInput || cb.pixelInput || ca.vocabSize == 0) return Error{a.folder().string() + ": compare needs two token models with a vocabulary"};
    return Status{};
}

std::string imatrixTensorName(const Model& a, const Model* b, const std::string& huggingFaceName) {
    if (a.isGguf()) return a.ggufName(huggingFaceName);
    if (b && b->isGguf()) return b->ggufName(huggingFaceName);
    return {};
}

std::vector<TensorDifference> compareTensors(const Model& a, const Model& b, std::vector<std::string>* onlyInA, std::vector<std::string>* onlyInB) {
    std::vector<TensorDifference> out;
    for (const std::string& name : a.tensorNames()) {
        const TensorView* ta = a.tensor(name);
        const TensorView* tb = b.tensor(name);
        if (!tb) {
            if (onlyInA) onlyInA->push_back(name);
            continue;
        }
        if (ta->elementCount() != tb->elementCount() || ta->shape.size() != tb->shape.size()) {
            if (onlyInA) onlyInA->push_back(name);
            if (onlyInB) onlyInB->push_back(name);
            continue;
        }
        out.push_back(difference(a, b, name, *ta, *tb));
    }
    if (onlyInB) {
        for (const std::string& name : b.tensorNames()) {
            if (!a.tensor(name)) onlyInB->push_back(name);
        }
    }
    return out;
}

Result<ModelComparison> compareModels(const std::shared_ptr<const Model>& a, const std::shared_ptr<const Model>& b, const std::vector<TokenId>& tokens,
                                      const ModelCompareOptions& options, const RunControl& control) {
    if (auto ok = checkComparable(*a, *b); !ok) return ok.error();
    const ModelConfig& ca = a->config();
    if (tokens.size() < 2) return Error{"compare needs at least two tokens"};
    for (TokenId t : tokens) {
        if (t < 0 || t >= ca.vocabSize) return Error{"token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(ca.vocabSize - 1) + ")"};
    }

    ModelComparison out;
    out.tokens = tokens;
    control.progress(0, 4, "tensors");
    out.tensors = compareTensors(*a, *b, &out.onlyInA, &out.onlyInB);
    out.layerMaxRelativeError.assign(static_cast<std::size_t>(ca.numLayers), 0.0);
    out.layerRelativeError.assign(static_cast<std::size_t>(ca.numLayers), 0.0);
    std::vector<double> diffSq(static_cast<std::size_t>(ca.numLayers), 0.0), normSq(static_cast<std::size_t>(ca.numLayers), 0.0);
    for (const TensorDifference& d : out.tensors) {
        if (d.layer < 0 || d.layer >= ca.numLayers) continue;
        const auto l = static_cast<std::size_t>(d.layer);
        out.layerMaxRelativeError[l] = std::max(out.layerMaxRelativeError[l], d.relativeError);
        normSq[l] += d.normA * d.normA;
        diffSq[l] += d.relativeError * d.relativeError * d.normA * d.normA;
    }
    for (std::size_t l = 0; l < normSq.size(); ++l) out.layerRelativeError[l] = normSq[l] > 0 ? std::sqrt(diffSq[l] / normSq[l]) : 0.0;
    if (control.isCancelled()) return Error{"cancelled"};

    // One run of each with every position's logits and the residual stream.
    Engine engineA(a), engineB(b);
    ForwardRequest req;
    req.tokens = tokens;
    req.allPositionLogits = true;
    req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    control.progress(1, 4, "forward A");
    auto runA = engineA.run(req, control);
    if (!runA) return runA.error();
    control.progress(2, 4, "forward B");
    auto runB = engineB.run(req, control);
    if (!runB) return runB.error();
    const ActivationTensor& la = (*runA)->logits;
    const ActivationTensor& lb = (*runB)->logits;
    const std::int64_t T = la.rows(), V = la.cols();
    LogitComparison& lc = out.logits;
    lc.positions = T;
    lc.predicted = T - 1;
    std::vector<double> pa, pb;
    double klSum = 0, nllA = 0, nllB = 0;
    std::int64_t agree = 0;
    for (std::int64_t t = 0; t < T; ++t) {
        const float* za = la.values.data() + t * V;
        const float* zb = lb.values.data() + t * V;
        logSoftmax(za, V, pa);
        logSoftmax(zb, V, pb);
        double kl = 0;
        for (std::int64_t i = 0; i < V; ++i) {
            const double p = std::exp(pa[static_cast<std::size_t>(i)]);
            if (p > 0) kl += p * (pa[static_cast<std::size_t>(i)] - pb[static_cast<std::size_t>(i)]);
        }
        kl = std::max(kl, 0.0);
        klSum += kl;
        if (kl > lc.klMax || t == 0) {
            lc.klMax = kl;
            lc.klMaxPosition = t;
        }
        if (argmax(za, V) == argmax(zb, V)) ++agree;
        if (t + 1 < T) {
            const auto next = static_cast<std::size_t>(tokens[static_cast<std::size_t>(t + 1)]);
            nllA -= pa[next];
            nllB -= pb[next];
        }
    }
    lc.klMean = klSum / static_cast<double>(T);
    lc.nllA = nllA / static_cast<double>(T - 1);
    lc.nllB = nllB / static_cast<double>(T - 1);
    lc.pplA = std::exp(lc.nllA);
    lc.pplB = std::exp(lc.nllB);
    lc.top1Agreement = static_cast<double>(agree) / static_cast<double>(T);

    // Super weights either scan finds, by channel (layouts may differ: Conv1D).
    const std::vector<TokenId> head(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(std::min(options.scanTokens, tokens.size())));
    control.progress(3, 4, "scan");
    auto scanA = scanSuperWeights(engineA, head, {}, options.scan, control);
    if (!scanA) return scanA.error();
    auto scanB = scanSuperWeights(engineB, head, {}, options.scan, control);
    if (!scanB) return scanB.error();
    auto add = [&](const SuperWeight& w, bool inA) {
        for (SuperWeightComparison& s : out.superWeights) {
            if (s.weight.layer == w.layer && s.weight.outputChannel() == w.outputChannel() && s.weight.inputChannel() == w.inputChannel()) {
                s.foundInA = s.foundInA || inA;
                s.foundInB = s.foundInB || !inA;
                return;
            }
        }
        SuperWeightComparison s;
        s.weight = w;
        s.weight.setChannels(w.outputChannel(), w.inputChannel(), a->downOutputAxis());
        s.foundInA = inA;
        s.foundInB = !inA;
        out.superWeights.push_back(s);
    };
    for (const SuperWeight& w : scanA->superWeights) add(w, true);
    for (const SuperWeight& w : scanB->superWeights) add(w, false);
    for (SuperWeightComparison& s : out.superWeights) {
        const SuperWeight& w = s.weight;
        const TensorView* da = a->layerWeight(w.layer, LayerWeight::Down);
        const TensorView* db = b->layerWeight(w.layer, LayerWeight::Down);
        if (!da || !db) return Error{"layer " + std::to_string(w.layer) + " has no single down projection in both models"};
        SuperWeight inB = w;
        inB.setChannels(w.outputChannel(), w.inputChannel(), b->downOutputAxis());
        s.valueA = da->at(w.row * da->cols() + w.col);
        s.valueB = db->at(inB.row * db->cols() + inB.col);
        s.stepA = quantizationStep(*da, w.row, w.col);
        s.stepB = quantizationStep(*db, inB.row, inB.col);
        s.errorInStepsB = s.stepB > 0 ? (static_cast<double>(s.valueB) - s.valueA) / s.stepB : 0.0;
        const std::string hook = "blocks." + std::to_string(w.layer) + ".hook_resid_post";
        const ActivationTensor* ra = (*runA)->activation(hook);
        const ActivationTensor* rb = (*runB)->activation(hook);
        if (ra && rb && w.token < ra->rows()) {
            s.activationA = ra->at(w.token, w.outputChannel());
            s.activationB = rb->at(w.token, w.outputChannel());
        }
    }
    if (options.imatrix) {
        if (!a->isGguf() && !b->isGguf()) return Error{"an importance matrix names llama.cpp's tensors: one of the two models must be a GGUF file"};
        for (SuperWeightComparison& s : out.superWeights) {
            const std::string tensor = imatrixTensorName(*b, a.get(), s.weight.tensorName(*a));
            const ImatrixEntry* e = options.imatrix->find(tensor);
            if (!e) continue;
            if (s.weight.inputChannel() >= e->columns) {
                return Error{"importance matrix entry '" + tensor + "' has " + std::to_string(e->columns) + " columns; the super weight reads column " +
                             std::to_string(s.weight.inputChannel())};
            }
            s.hasImportance = true;
            s.imatrixTensor = tensor;
            s.importance = e->at(s.weight.inputChannel());
            s.importanceRank = e->rank(s.weight.inputChannel());
            s.importanceColumns = e->columns;
            s.importanceToMedian = e->ratioToMedian(s.weight.inputChannel());
        }
    }
    control.progress(4, 4, "done");
    return out;
}

}  // namespace superlens::core
