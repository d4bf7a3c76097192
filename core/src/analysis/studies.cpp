#include "superlens/core/analysis/studies.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace superlens::core {
namespace {

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

struct SuperActivation {
    int layer;
    std::int64_t row;
    std::int64_t token;
    float value;
};

}  // namespace

Result<std::vector<std::pair<std::int64_t, std::int64_t>>> largestWeights(Engine& engine, const std::string& tensorName,
                                                                           const std::vector<EditSpec>& edits, int k,
                                                                           const std::vector<std::pair<std::int64_t, std::int64_t>>& exclude) {
    auto W = engine.effectiveWeight(tensorName, edits);
    if (!W) return W.error();
    const WeightMatrix& w = **W;
    const std::set<std::pair<std::int64_t, std::int64_t>> skip(exclude.begin(), exclude.end());
    struct Item {
        float mag;
        std::int64_t r, c;
    };
    // "a before b" when a is larger (ties: smaller index first), so the heap's front is the smallest kept.
    const auto before = [](const Item& a, const Item& b) {
        if (a.mag != b.mag) return a.mag > b.mag;
        return a.r != b.r ? a.r < b.r : a.c < b.c;
    };
    std::vector<Item> heap;
    if (k <= 0) return std::vector<std::pair<std::int64_t, std::int64_t>>{};
    const std::int64_t rows = w.rows(), cols = w.cols(), chunk = 64;
    std::vector<float> buf(static_cast<std::size_t>(chunk * cols));
    for (std::int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const std::int64_t r1 = std::min(rows, r0 + chunk);
        w.decodeRows(r0, r1, buf.data());
        for (std::int64_t r = r0; r < r1; ++r) {
            for (std::int64_t c = 0; c < cols; ++c) {
                const Item it{std::fabs(buf[static_cast<std::size_t>((r - r0) * cols + c)]), r, c};
                if (static_cast<int>(heap.size()) == k && !before(it, heap.front())) continue;
                if (skip.count({r, c})) continue;
                if (static_cast<int>(heap.size()) < k) {
                    heap.push_back(it);
                    std::push_heap(heap.begin(), heap.end(), before);
                } else {
                    std::pop_heap(heap.begin(), heap.end(), before);
                    heap.back() = it;
                    std::push_heap(heap.begin(), heap.end(), before);
                }
            }
        }
    }
    std::sort(heap.begin(), heap.end(), before);
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (const Item& it : heap) out.emplace_back(it.r, it.c);
    return out;
}

Result<SuperWeightStudy> studySuperWeight(Engine& engine, const SuperWeightStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                                          const SuperWeightStudyOptions& options, const RunControl& control) {
    const Model& model = engine.model();
    const ModelConfig& cfg = model.config();
    SuperWeightStudy study;
    if (inputs.textTokens.size() < 2) return Error{"the study text has fewer than 2 tokens"};
    std::vector<TokenId> scanTokens = inputs.scanTokens;
    if (scanTokens.empty()) {
        scanTokens.assign(inputs.textTokens.begin(), inputs.textTokens.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(128, inputs.textTokens.size())));
    }

    // 1. The super weights and their super activations (value at the spike's token).
    std::vector<SuperActivation> activations;
    const auto addActivation = [&](int layer, std::int64_t row, std::int64_t token, float value) {
        const bool seen = std::any_of(activations.begin(), activations.end(), [&](const SuperActivation& a) { return a.layer == layer && a.row == row; });
        if (!seen) activations.push_back({layer, row, token, value});
    };
    if (!inputs.superWeights.empty()) {
        ForwardRequest req;
        req.tokens = scanTokens;
        req.edits = baseEdits;
        req.record = HookSelection::patterns({"blocks.*.hook_mlp_out"});
        auto r = engine.run(req);
        if (!r) return r.error();
        for (const SuperWeightCoord& c : inputs.superWeights) {
            // Coordinates index the down projection as stored.
            const TensorView* down = c.layer >= 0 && c.layer < cfg.numLayers ? model.layerWeight(c.layer, LayerWeight::Down) : nullptr;
            if (!down || c.row < 0 || c.row >= down->rows() || c.col < 0 || c.col >= down->cols()) {
                return Error{"super weight " + std::to_string(c.layer) + ":" + std::to_string(c.row) + ":" + std::to_string(c.col) +
                             " is outside the model (layers " + std::to_string(cfg.numLayers) +
                             (down ? ", down projection " + std::to_string(down->rows()) + " x " + std::to_string(down->cols()) : std::string()) + ")"};
            }
            SuperWeight sw;
            sw.layer = c.layer;
            sw.row = c.row;
            sw.col = c.col;
            sw.outputAxis = model.downOutputAxis();
            auto W = engine.effectiveWeight(sw.tensorName(model), baseEdits);
            if (!W) return W.error();
            sw.value = (*W)->at(c.row, c.col);
            // The super activation: the largest |down projection output| of that channel over the tokens.
            const ActivationTensor& out = *(*r)->activation(HookPoint{HookKind::MlpOut, c.layer});
            const std::int64_t channel = sw.outputChannel();
            for (std::int64_t t = 0; t < out.rows(); ++t) {
                if (std::fabs(out.at(t, channel)) > std::fabs(sw.downOut)) {
                    sw.downOut = out.at(t, channel);
                    sw.token = t;
                }
            }
            study.superWeights.push_back(sw);
        }
    } else {
        auto scan = scanSuperWeights(engine, scanTokens, baseEdits, options.scan, control);
        if (!scan) return scan.error();
        if (scan->superWeights.empty()) {
            return Error{"the super-weight scan found no super weight in this model (give the coordinates explicitly to study them anyway)"};
        }
        study.superWeights = scan->superWeights;
        // The original (unzeroed) output at the spike, from the first pass.
        for (SuperWeight& sw : study.superWeights) {
            sw.downOut = scan->firstResult->activation(HookPoint{HookKind::MlpOut, sw.layer})->at(sw.token, sw.outputChannel());
        }
    }
    for (const SuperWeight& sw : study.superWeights) addActivation(sw.layer, sw.outputChannel(), sw.token, sw.downOut);
    if (std::any_of(activations.begin(), activations.end(), [](const SuperActivation& a) { return a.token != 0; })) {
        study.notes.push_back("a super activation sits at a token other than the first; it is restored at that same position in every window");
    }

    // 2. The conditions' edits.
    std::vector<EditSpec> zeroEdits, restoreEdits, outlierEdits;
    for (const SuperWeight& sw : study.superWeights) {
        auto e = parseEdit(sw.zeroEdit(model));
        if (!e) return e.error();
        zeroEdits.push_back(*e);
    }
    restoreEdits = zeroEdits;
    for (const SuperActivation& a : activations) {
        auto e = parseEdit("blocks." + std::to_string(a.layer) + ".hook_mlp_out[" + std::to_string(a.token) + "," + std::to_string(a.row) +
                           "]=" + formatNumber(static_cast<double>(a.value)));
        if (!e) return e.error();
        restoreEdits.push_back(*e);
    }
    std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> byLayer;
    for (const SuperWeight& sw : study.superWeights) byLayer[sw.layer].emplace_back(sw.row, sw.col);
    for (const auto& [layer, coords] : byLayer) {
        const int k = options.outlierCount > 0 ? options.outlierCount : static_cast<int>(coords.size());
        const std::string name = model.downProjectionName(layer);
        auto largest = largestWeights(engine, name, baseEdits, k, coords);
        if (!largest) return largest.error();
        for (const auto& [r, c] : *largest) {
            auto e = parseEdit(name + "[" + std::to_string(r) + "," + std::to_string(c) + "]=0");
            if (!e) return e.error();
            outlierEdits.push_back(*e);
            study.outliers.push_back({layer, r, c});
        }
    }
    study.conditions = {
        {"original", "original", {}, {}, {}, {}},
        {"sw_zeroed", "super weight zeroed", zeroEdits, {}, {}, {}},
        {"sw_zeroed_sa_restored", "super weight zeroed, super activation restored", restoreEdits, {}, {}, {}},
        {"outliers_zeroed", "largest other outliers zeroed (same count)", outlierEdits, {}, {}, {}},
    };

    // 3. The measures, condition by condition.
    MeanDistribution original;
    const std::int64_t steps = static_cast<std::int64_t>(study.conditions.size());
    for (std::size_t i = 0; i < study.conditions.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        StudyCondition& cond = study.conditions[i];
        std::vector<EditSpec> edits = baseEdits;
        edits.insert(edits.end(), cond.edits.begin(), cond.edits.end());
        auto scores = scoreText(engine, inputs.textTokens, edits, options.perplexity, control);
        if (!scores) return Error{cond.key + ": " + scores.error().message};
        cond.ppl = scores->perplexity;
        if (!inputs.stopwordIds.empty()) {
            if (i == 0) original = scores->distribution;
            cond.stopwords = compareDistributions(original, scores->distribution, inputs.stopwordIds, options.topMovers);
        }
        if (inputs.tasks && !inputs.tasks->empty()) {
            auto zs = zeroShot(engine, inputs.tokenizer, *inputs.tasks, edits, control);
            if (!zs) return Error{cond.key + ": " + zs.error().message};
            cond.zeroShot = *zs;
        }
        control.progress(static_cast<std::int64_t>(i + 1), steps, "study conditions");
    }
    return study;
}

std::string SuperWeightStudy::markdown() const {
    std::string s;
    s += "Super weights ablated:";
    for (const SuperWeight& sw : superWeights) {
        s += " layers." + std::to_string(sw.layer) + "[" + std::to_string(sw.row) + "," + std::to_string(sw.col) + "]";
    }
    s += "\n\nControl outliers zeroed:";
    for (const SuperWeightCoord& c : outliers) s += " layers." + std::to_string(c.layer) + "[" + std::to_string(c.row) + "," + std::to_string(c.col) + "]";
    s += "\n\n| condition | perplexity | zero-shot acc | zero-shot acc (norm) | stopword mass | stopword ratio |\n";
    s += "|---|---:|---:|---:|---:|---:|\n";
    for (const StudyCondition& c : conditions) {
        s += "| " + c.label + " | " + (c.ppl ? fmt("%.4g", c.ppl->ppl) : "-") + " | ";
        s += (c.zeroShot ? fmt("%.3f", c.zeroShot->accuracy) : "-") + " | " + (c.zeroShot ? fmt("%.3f", c.zeroShot->accuracyNorm) : "-") + " | ";
        s += (c.stopwords ? fmt("%.4f", c.stopwords->editedMass) : "-") + " | " + (c.stopwords ? fmt("%.3f", c.stopwords->ratio()) : "-") + " |\n";
    }
    for (const std::string& n : notes) s += "\nNote: " + n + "\n";
    return s;
}

}  // namespace superlens::core
