#include "superlens/core/analysis/superweight_study.h"

#include "superlens/core/analysis/measure_intervals.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace superlens::core {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// Per-window sums of one condition's text pass, as doubles (bootstrap units).
using WindowSums = WindowUnits;

WindowSums windowSums(const PerplexityResult& p, const MeanDistribution* d) { return windowUnits(p, d); }

// Zeroing edits of a subset (bitmask) of the super weights.
Result<std::vector<EditSpec>> subsetEdits(const Model& model, const std::vector<SuperWeight>& sws, std::uint64_t mask) {
    std::vector<EditSpec> out;
    for (std::size_t i = 0; i < sws.size(); ++i) {
        if (!(mask >> i & 1U)) continue;
        auto e = parseEdit(sws[i].zeroEdit(model));
        if (!e) return e.error();
        out.push_back(*e);
    }
    return out;
}

// One null-control draw: per super weight, a random other entry of the
// chosen matrix changed by -w_super.
Result<std::vector<EditSpec>> nullDraw(Engine& engine, const std::vector<SuperWeight>& sws, const std::vector<EditSpec>& baseEdits,
                                       bool elsewhere, SeededRng& rng) {
    const Model& model = engine.model();
    const int layers = model.config().numLayers;
    std::set<std::tuple<int, std::int64_t, std::int64_t>> taken;
    for (const SuperWeight& sw : sws) taken.insert({sw.layer, sw.row, sw.col});
    std::vector<EditSpec> out;
    for (const SuperWeight& sw : sws) {
        int layer = sw.layer;
        if (elsewhere) {
            layer = static_cast<int>(rng.below(static_cast<std::size_t>(layers - 1)));
            if (layer >= sw.layer) ++layer;
        }
        const std::string name = model.downProjectionName(layer);
        auto W = engine.effectiveWeight(name, baseEdits);
        if (!W) return W.error();
        const std::int64_t rows = (*W)->rows(), cols = (*W)->cols();
        if (rows * cols <= static_cast<std::int64_t>(taken.size())) return Error{"null control: " + name + " has no entry that is not a super weight"};
        std::int64_t r = 0, c = 0;
        do {
            r = static_cast<std::int64_t>(rng.below(static_cast<std::size_t>(rows)));
            c = static_cast<std::int64_t>(rng.below(static_cast<std::size_t>(cols)));
        } while (taken.count({layer, r, c}));
        taken.insert({layer, r, c});
        const double value = static_cast<double>((*W)->at(r, c)) - static_cast<double>(sw.value);
        auto e = parseEdit(weightSetText(name, r, c, value));
        if (!e) return e.error();
        out.push_back(*e);
    }
    return out;
}

nlohmann::json intervalJson(const Interval& i) {
    if (!i.valid()) return nullptr;
    return nlohmann::json::array({i.lo, i.hi});
}

nlohmann::json numberJson(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string withInterval(const char* format, double v, const Interval& i) {
    std::string s = fmt(format, v);
    if (i.valid()) s += " [" + fmt(format, i.lo) + ", " + fmt(format, i.hi) + "]";
    return s;
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
    SL_TRY(validate(options.bootstrap));
    if (options.nullCount < 0 || options.nullCount > 100000) {
        return Error{"--null must be between 0 and 100000 draws (got " + std::to_string(options.nullCount) + ")"};
    }
    study.bootstrap = options.bootstrap;
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
        // Restored at its scan position in every window: a position beyond the
        // window does not exist there (the edit would be refused mid-study).
        if (options.perplexity.context > 0 && a.token >= options.perplexity.context) {
            return Error{"the super activation of layer " + std::to_string(a.layer) + " (channel " + std::to_string(a.row) + ") sits at token " +
                         std::to_string(a.token) + " of the scan input, beyond the " + std::to_string(options.perplexity.context) +
                         "-token window where it would be restored: scan a prompt where it comes earlier (--prompt/--ids) or raise --ctx"};
        }
        auto e = parseEdit(activationSetText(hookName(HookPoint{HookKind::MlpOut, a.layer}), a.token, a.row, static_cast<double>(a.value)));
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
            auto e = parseEdit(weightSetText(name, r, c, 0.0));
            if (!e) return e.error();
            outlierEdits.push_back(*e);
            study.outliers.push_back({layer, r, c});
        }
    }
    study.conditions = {
        {"original", "original", {}, {}, {}, {}, kNaN, kNaN, {}, {}},
        {"sw_zeroed", "super weight zeroed", zeroEdits, {}, {}, {}, kNaN, kNaN, {}, {}},
        {"sw_zeroed_sa_restored", "super weight zeroed, super activation restored", restoreEdits, {}, {}, {}, kNaN, kNaN, {}, {}},
        {"outliers_zeroed", "largest other outliers zeroed (same count)", outlierEdits, {}, {}, {}, kNaN, kNaN, {}, {}},
    };

    // 3. The measures, condition by condition.
    MeanDistribution original;
    std::vector<WindowSums> sums;
    const std::int64_t steps = static_cast<std::int64_t>(study.conditions.size());
    for (std::size_t i = 0; i < study.conditions.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        StudyCondition& cond = study.conditions[i];
        std::vector<EditSpec> edits = baseEdits;
        edits.insert(edits.end(), cond.edits.begin(), cond.edits.end());
        auto scores = scoreText(engine, inputs.textTokens, edits, options.perplexity, inputs.stopwordIds, control);
        if (!scores) return Error{cond.key + ": " + scores.error().message};
        cond.ppl = scores->perplexity;
        sums.push_back(windowSums(scores->perplexity, &scores->distribution));
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

    // 4. Ratios and deltas against the original, and their intervals.
    const StudyCondition& base = study.conditions[0];
    const BootstrapOptions& B = options.bootstrap;
    std::vector<std::vector<double>> correct, correctNorm;  // per condition, per task (0/1)
    for (const StudyCondition& c : study.conditions) {
        std::vector<double> a, b;
        if (c.zeroShot) {
            for (std::size_t t = 0; t < inputs.tasks->size(); ++t) {
                a.push_back(c.zeroShot->predictions[t] == (*inputs.tasks)[t].gold ? 1.0 : 0.0);
                b.push_back(c.zeroShot->predictionsNorm[t] == (*inputs.tasks)[t].gold ? 1.0 : 0.0);
            }
        }
        correct.push_back(std::move(a));
        correctNorm.push_back(std::move(b));
    }
    for (std::size_t i = 0; i < study.conditions.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        StudyCondition& c = study.conditions[i];
        const WindowSums& w = sums[i];
        const WindowSums& w0 = sums[0];
        c.pplRatio = c.ppl->ppl / base.ppl->ppl;
        if (c.zeroShot && base.zeroShot) c.accuracyDelta = c.zeroShot->accuracy - base.zeroShot->accuracy;
        if (!B.enabled()) continue;
        // The interval rules shared with the standalone commands (measure_intervals.h).
        c.ci.ppl = perplexityInterval(w, B);
        c.ci.pplRatio = perplexityRatioInterval(w, w0, B);
        if (c.stopwords) {
            c.ci.stopwordMass = stopwordMassInterval(w, B);
            c.ci.stopwordRatio = stopwordRatioInterval(w, w0, B);
        }
        if (c.zeroShot) {
            c.ci.accuracy = accuracyInterval(correct[i], B);
            c.ci.accuracyNorm = accuracyInterval(correctNorm[i], B);
            c.ci.accuracyDelta = accuracyDeltaInterval(correct[i], correct[0], B);
        }
    }

    // 5. Null controls of the super-weight ablation.
    if (options.nullCount > 0) {
        StudyCondition& ablated = study.conditions[1];
        std::vector<bool> scopes = {false};
        if (cfg.numLayers > 1) {
            scopes.push_back(true);
        } else {
            study.notes.push_back("the model has one layer: no \"elsewhere\" null control");
        }
        SeededRng rng(options.nullSeed);
        for (bool elsewhere : scopes) {
            NullControl nc;
            nc.scope = elsewhere ? "elsewhere" : "same_matrix";
            nc.k = options.nullCount;
            std::vector<double> ppls;
            for (int d = 0; d < options.nullCount; ++d) {
                if (control.isCancelled()) return Error{kCancelledMessage};
                auto draw = nullDraw(engine, study.superWeights, baseEdits, elsewhere, rng);
                if (!draw) return draw.error();
                std::vector<EditSpec> edits = baseEdits;
                edits.insert(edits.end(), draw->begin(), draw->end());
                auto p = perplexity(engine, inputs.textTokens, edits, options.perplexity, control);
                if (!p) return Error{"null control (" + nc.scope + "): " + p.error().message};
                ppls.push_back(p->ppl);
                nc.draws.push_back(std::move(draw).value());
                control.progress(d + 1, options.nullCount, elsewhere ? "null control (elsewhere)" : "null control (same matrix)");
            }
            nc.ppl = summarizeNull(std::move(ppls), ablated.ppl->ppl);
            ablated.nulls.push_back(std::move(nc));
        }
    }

    // 6. Joint ablation (joint_ablation.h): the original and "all" (sw_zeroed) are reused.
    if (options.joint) {
        const std::size_t n = study.superWeights.size();
        if (n < 2) study.notes.push_back("joint ablation: only one super weight, so no pairs and no interaction");
        std::vector<JointItem> items;
        for (const SuperWeight& sw : study.superWeights) {
            auto e = subsetEdits(model, {sw}, 1);
            if (!e) return e.error();
            items.push_back({std::to_string(sw.layer) + ":" + std::to_string(sw.row) + ":" + std::to_string(sw.col), std::move(e).value()});
        }
        std::map<std::uint64_t, WindowUnits> known = {{0, sums[0]}};
        if (n <= kMaxJointItems) known[(std::uint64_t{1} << n) - 1] = sums[1];
        JointAblationOptions jo;
        jo.perplexity = options.perplexity;
        jo.bootstrap = options.bootstrap;
        jo.noun = "super weights";
        auto j = jointAblation(engine, inputs.textTokens, baseEdits, items, jo, known, control);
        if (!j) return j.error();
        for (const SuperWeight& sw : study.superWeights) j->items.push_back(sw.coord());
        study.joint = std::move(j).value();
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
    const bool ci = bootstrap.enabled();
    if (ci) {
        s += "\n\nIntervals: " + fmt("%g", 100 * bootstrap.level) + "% percentile bootstrap, " + std::to_string(bootstrap.resamples) +
             " resamples of the perplexity windows (zero-shot: of the tasks), seed " + std::to_string(bootstrap.seed) + ".";
    }
    s += "\n\n| condition | perplexity | ppl ratio | zero-shot acc | zero-shot acc (norm) | stopword mass | stopword ratio |\n";
    s += "|---|---:|---:|---:|---:|---:|---:|\n";
    for (const StudyCondition& c : conditions) {
        s += "| " + c.label + " | " + (c.ppl ? withInterval("%.4g", c.ppl->ppl, c.ci.ppl) : "-") + " | ";
        s += (std::isfinite(c.pplRatio) ? withInterval("%.3f", c.pplRatio, c.ci.pplRatio) : "-") + " | ";
        s += (c.zeroShot ? withInterval("%.3f", c.zeroShot->accuracy, c.ci.accuracy) : "-") + " | " +
             (c.zeroShot ? withInterval("%.3f", c.zeroShot->accuracyNorm, c.ci.accuracyNorm) : "-") + " | ";
        s += (c.stopwords ? withInterval("%.4f", c.stopwords->editedMass, c.ci.stopwordMass) : "-") + " | " +
             (c.stopwords ? withInterval("%.3f", c.stopwords->ratio(), c.ci.stopwordRatio) : "-") + " |\n";
    }
    for (const StudyCondition& c : conditions) {
        for (const NullControl& n : c.nulls) {
            double lo = n.ppl.values.empty() ? 0 : *std::min_element(n.ppl.values.begin(), n.ppl.values.end());
            double hi = n.ppl.values.empty() ? 0 : *std::max_element(n.ppl.values.begin(), n.ppl.values.end());
            s += "\nNull control (" + c.key + ", " + (n.scope == "same_matrix" ? "random weights of the same matrix" : "random weights of other layers") +
                 ", K=" + std::to_string(n.k) + ", each changed by -w_super): perplexity mean " + fmt("%.4g", n.ppl.mean) + ", sd " +
                 fmt("%.3g", n.ppl.sd) + ", range " + fmt("%.4g", lo) + "-" + fmt("%.4g", hi) + "; the ablation's " +
                 fmt("%.4g", c.ppl ? c.ppl->ppl : 0.0) + " is at percentile " + fmt("%.1f", n.ppl.percentile) +
                 ", z = " + (n.ppl.z ? fmt("%.3g", *n.ppl.z) : std::string("undefined (the draws do not vary)")) + "\n";
        }
    }
    if (joint) s += jointAblationMarkdown(*joint, "zeroed");
    for (const std::string& n : notes) s += "\nNote: " + n + "\n";
    return s;
}

std::string SuperWeightStudy::conditionsJson() const {
    nlohmann::json arr = nlohmann::json::array();
    for (const StudyCondition& c : conditions) {
        nlohmann::json edits = nlohmann::json::array();
        for (const EditSpec& e : c.edits) edits.push_back(e.text());
        nlohmann::json j = {{"key", c.key}, {"label", c.label}, {"edits", edits}};
        if (c.ppl) {
            j["ppl"] = c.ppl->ppl;
            j["ppl_ci"] = intervalJson(c.ci.ppl);
            j["ppl_ratio"] = numberJson(c.pplRatio);
            j["ppl_ratio_ci"] = intervalJson(c.ci.pplRatio);
            j["nll"] = c.ppl->nll;
            j["tokens"] = c.ppl->tokens;
            j["windows"] = c.ppl->windows;
        }
        if (c.zeroShot) {
            j["zero_shot"] = {{"accuracy", c.zeroShot->accuracy},
                              {"accuracy_ci", intervalJson(c.ci.accuracy)},
                              {"accuracy_norm", c.zeroShot->accuracyNorm},
                              {"accuracy_norm_ci", intervalJson(c.ci.accuracyNorm)},
                              {"accuracy_delta", numberJson(c.accuracyDelta)},
                              {"accuracy_delta_ci", intervalJson(c.ci.accuracyDelta)},
                              {"count", c.zeroShot->count},
                              {"predictions", c.zeroShot->predictions}};
        } else {
            j["zero_shot"] = nullptr;
        }
        if (c.stopwords) {
            j["stopwords"] = {{"mass", c.stopwords->editedMass},         {"mass_ci", intervalJson(c.ci.stopwordMass)},
                              {"original_mass", c.stopwords->originalMass}, {"ratio", c.stopwords->ratio()},
                              {"ratio_ci", intervalJson(c.ci.stopwordRatio)}};
        } else {
            j["stopwords"] = nullptr;
        }
        for (const NullControl& n : c.nulls) {
            nlohmann::json draws = nlohmann::json::array();
            for (const auto& d : n.draws) {
                nlohmann::json one = nlohmann::json::array();
                for (const EditSpec& e : d) one.push_back(e.text());
                draws.push_back(one);
            }
            nlohmann::json nj = {{"scope", n.scope}, {"k", n.k},       {"ppl", n.ppl.values}, {"mean", n.ppl.mean},
                                 {"sd", n.ppl.sd},   {"percentile", n.ppl.percentile},     {"z", n.ppl.z ? nlohmann::json(*n.ppl.z) : nlohmann::json(nullptr)},
                                 {"edits", draws}};
            j[n.scope == "same_matrix" ? "null" : "null_" + n.scope] = nj;
        }
        arr.push_back(j);
    }
    return arr.dump();
}

std::string SuperWeightStudy::jointJson() const {
    if (!joint) return "null";
    nlohmann::json items = nlohmann::json::array();
    for (const auto& c : joint->items) items.push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}});
    return jointAblationJson(*joint, items.dump());
}

}  // namespace superlens::core
