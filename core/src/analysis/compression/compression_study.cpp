#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <map>
#include <set>

#include "study_runner.h"
#include "superlens/core/analysis/compression_study.h"

namespace superlens::core {
namespace {

struct TypeInfo {
    const char* name;
    LayerWeight weight;
};
// Table order: MLP first (LASER's best results are in late MLP layers), then attention.
constexpr TypeInfo kTypes[] = {{"gate", LayerWeight::Gate}, {"up", LayerWeight::Up},     {"gate_up", LayerWeight::GateUp},
                               {"down", LayerWeight::Down}, {"q", LayerWeight::Q},       {"k", LayerWeight::K},
                               {"v", LayerWeight::V},       {"qkv", LayerWeight::Qkv},   {"o", LayerWeight::O}};

std::vector<EditSpec> withEdit(const std::vector<EditSpec>& base, const EditSpec& e) {
    std::vector<EditSpec> out = base;
    out.push_back(e);
    return out;
}

std::vector<std::string> editTexts(const std::vector<EditSpec>& edits) {
    std::vector<std::string> out;
    for (const auto& e : edits) out.push_back(e.text());
    return out;
}

// How many sequences restarted from the unedited checkpoints, with a note when not all did.
template <class Study>
void recordReuse(const compression::StudyRunner& runner, Study& study) {
    study.sequences = runner.sequences();
    study.reusedSequences = runner.reusedSequences();
    if (runner.reusedSequences() < runner.sequences()) {
        study.notes.push_back(std::to_string(runner.sequences() - runner.reusedSequences()) + " of " + std::to_string(runner.sequences()) +
                              " sequences recomputed from the embedding in every configuration (reuse budget reached)");
    }
}

}  // namespace

const std::vector<std::string>& compressionMetricNames() {
    static const std::vector<std::string> s_names = {"ppl", "nll", "accuracy", "accuracy_norm", "answer_loss", "answer_exact_match", "mlm_accuracy", "mlm_loss"};
    return s_names;
}

double CompressionMetrics::value(const std::string& metric) const {
    if (metric == "ppl") return ppl;
    if (metric == "nll") return nll;
    if (metric == "accuracy") return accuracy;
    if (metric == "accuracy_norm") return accuracyNorm;
    if (metric == "answer_loss") return answerLoss;
    if (metric == "answer_exact_match") return answerExactMatch;
    if (metric == "mlm_accuracy") return mlmAccuracy;
    if (metric == "mlm_loss") return mlmLoss;
    return kNotMeasured;
}

double CompressionMetrics::resampled(const std::string& metric, const std::vector<std::uint32_t>& wc, const std::vector<std::uint32_t>& tc,
                                     const std::vector<std::uint32_t>& ac) const {
    if (!std::isfinite(value(metric))) return kNotMeasured;
    const auto mean = [](const std::vector<double>& v, const std::vector<std::uint32_t>& c) {
        return v.empty() ? kNotMeasured : weightedSum(v, c) / static_cast<double>(v.size());
    };
    if (metric == "ppl" || metric == "nll") {
        if (units.windowNll.empty()) return kNotMeasured;
        const double nll = weightedSum(units.windowNll, wc) / weightedSum(units.windowTokens, wc);
        return metric == "ppl" ? std::exp(nll) : nll;
    }
    if (metric == "accuracy") return mean(units.taskCorrect, tc);
    if (metric == "accuracy_norm") return mean(units.taskCorrectNorm, tc);
    if (metric == "answer_loss") {
        return units.answerNll.empty() ? kNotMeasured : weightedSum(units.answerNll, ac) / weightedSum(units.answerTokens, ac);
    }
    if (metric == "answer_exact_match") return mean(units.answerExact, ac);
    // Ratios of sums over the masked windows (they take the windows' counts).
    if (metric == "mlm_accuracy" || metric == "mlm_loss") {
        if (units.mlmTokens.empty()) return kNotMeasured;
        return weightedSum(metric == "mlm_loss" ? units.mlmNll : units.mlmCorrect, wc) / weightedSum(units.mlmTokens, wc);
    }
    return kNotMeasured;
}

void attachIntervals(CompressionMetrics& m, const CompressionMetrics& baseline, const BootstrapOptions& options) {
    m.ci.clear();
    m.deltaCi.clear();
    if (!options.enabled()) return;
    // An encoder's masked windows take the perplexity windows' slot (a model has one or the other).
    const std::size_t nw = std::max(m.units.windowTokens.size(), m.units.mlmTokens.size()), nt = m.units.taskCorrect.size(),
                      na = m.units.answerTokens.size();
    const bool paired = std::max(baseline.units.windowTokens.size(), baseline.units.mlmTokens.size()) == nw &&
                        baseline.units.taskCorrect.size() == nt && baseline.units.answerTokens.size() == na;
    for (const std::string& name : compressionMetricNames()) {
        if (!std::isfinite(m.value(name))) continue;
        const bool text = name == "ppl" || name == "nll" || name == "mlm_accuracy" || name == "mlm_loss";
        const bool task = name == "accuracy" || name == "accuracy_norm";
        const std::size_t n = text ? nw : task ? nt : na;
        if (n == 0) continue;
        // One unit kind varies; the others keep every unit once.
        const std::vector<std::uint32_t> onesW(nw, 1), onesT(nt, 1), onesA(na, 1);
        const auto stat = [&](const CompressionMetrics& x, const std::vector<std::uint32_t>& c) {
            return x.resampled(name, text ? c : onesW, task ? c : onesT, !text && !task ? c : onesA);
        };
        m.ci[name] = bootstrapInterval(n, options, [&](const auto& c) { return stat(m, c); });
        if (paired && std::isfinite(baseline.value(name))) {
            m.deltaCi[name] = bootstrapInterval(n, options, [&](const auto& c) { return stat(m, c) - stat(baseline, c); });
        }
    }
}

std::string blockLabel(std::int64_t block) {
    if (block == 0) return "tensor";
    if (block < 0) return "token";
    return std::to_string(block);
}

// ---------------------------------------------------------------------------
// LASER
// ---------------------------------------------------------------------------

std::vector<std::string> laserMatrixTypes(const Model& model) {
    std::vector<std::string> out;
    for (const TypeInfo& t : kTypes) {
        if (!model.layerWeightName(0, t.weight).empty() && model.layerWeight(0, t.weight)) out.push_back(t.name);
    }
    return out;
}

std::vector<std::string> splitListItems(std::string_view text) {
    std::vector<std::string> out;
    std::string item;
    for (char c : text) {
        if (c == ',' || c == ';' || std::isspace(static_cast<unsigned char>(c))) {
            if (!item.empty()) out.push_back(std::move(item));
            item.clear();
        } else {
            item.push_back(c);
        }
    }
    if (!item.empty()) out.push_back(std::move(item));
    return out;
}

namespace {

// A whole item as a decimal integer.
std::optional<std::int64_t> wholeInteger(const std::string& item) {
    std::int64_t v = 0;
    const char* end = item.data() + item.size();
    const auto [ptr, ec] = std::from_chars(item.data(), end, v);
    if (ec != std::errc() || ptr != end || item.empty()) return std::nullopt;
    return v;
}

}  // namespace

Result<std::vector<int>> parseLayerList(std::string_view text, int layers, std::string_view label) {
    const std::string where(label);
    std::vector<int> out;
    for (const std::string& item : splitListItems(text)) {
        const auto dash = item.find('-', 1);
        const auto a = wholeInteger(item.substr(0, dash));
        const auto b = dash == std::string::npos ? a : wholeInteger(item.substr(dash + 1));
        if (!a || !b) return Error{where + ": '" + item + "' is not a layer or a range of layers (e.g. 3 or 2-5)"};
        if (*a < 0 || *b < *a || (layers > 0 && *b >= layers) || *b > std::numeric_limits<int>::max()) {
            return Error{where + ": '" + item + "' is outside the model's layers" +
                         (layers > 0 ? " 0.." + std::to_string(layers - 1) : std::string())};
        }
        for (std::int64_t l = *a; l <= *b; ++l) out.push_back(static_cast<int>(l));
    }
    if (out.empty()) return Error{where + ": no layer given"};
    return out;
}

Result<std::vector<double>> parseRhoList(std::string_view text, std::string_view label) {
    std::vector<double> out;
    for (const std::string& item : splitListItems(text)) {
        double v = 0;
        const char* end = item.data() + item.size();
        const auto [ptr, ec] = std::from_chars(item.data(), end, v);
        if (ec != std::errc() || ptr != end || !(v > 0.0 && v <= 1.0)) {
            return Error{std::string(label) + ": '" + item + "' is not a fraction in (0, 1]"};
        }
        out.push_back(v);
    }
    if (out.empty()) return Error{std::string(label) + ": no value given"};
    return out;
}

Result<std::vector<std::int64_t>> parseBlockSizes(std::string_view text, std::string_view label, bool activations) {
    std::vector<std::int64_t> out;
    for (const std::string& item : splitListItems(text)) {
        const auto v = wholeInteger(item);
        if (item == "tensor") {
            out.push_back(0);
        } else if (activations && item == "token") {
            out.push_back(-1);
        } else if (v && *v > 0) {
            out.push_back(*v);
        } else {
            return Error{std::string(label) + ": '" + item + "' is not a positive block size" + (activations ? ", 'token'" : "") + " or 'tensor'"};
        }
    }
    if (out.empty()) return Error{std::string(label) + ": no block size given"};
    return out;
}

Result<std::string> laserTensorName(const Model& model, const std::string& type, int layer) {
    const int layers = model.config().numLayers;
    if (layer < 0 || layer >= layers) return Error{"layer " + std::to_string(layer) + " is out of range (the model has " + std::to_string(layers) + " layers)"};
    for (const TypeInfo& t : kTypes) {
        if (type != t.name) continue;
        const std::string name = model.layerWeightName(layer, t.weight);
        if (name.empty() || !model.tensor(name)) {
            std::string have;
            for (const auto& n : laserMatrixTypes(model)) have += (have.empty() ? "" : ", ") + n;
            return Error{"matrix type '" + type + "' does not exist in this " + model.config().modelType +
                         " model (it has: " + have + ")"};
        }
        return name;
    }
    return Error{"unknown matrix type '" + type + "' (use gate, up, down, q, k, v, o, or Phi-3's fused qkv, gate_up)"};
}

LaserHeatmap LaserStudy::heatmap(const std::string& type, const std::string& metric) const {
    LaserHeatmap h;
    h.type = type;
    h.metric = metric;
    h.layers = layers;
    h.rhos = rhos;
    h.values.assign(layers.size() * rhos.size(), kNotMeasured);
    h.deltaLo.assign(h.values.size(), kNotMeasured);
    h.deltaHi.assign(h.values.size(), kNotMeasured);
    h.baseline = baseline.value(metric);
    std::map<int, std::size_t> layerIndex;
    for (std::size_t i = 0; i < layers.size(); ++i) layerIndex[layers[i]] = i;
    for (const LaserCell& c : cells) {
        if (c.type != type) continue;
        const auto li = layerIndex.find(c.layer);
        const auto ri = std::find(rhos.begin(), rhos.end(), c.rho);
        if (li == layerIndex.end() || ri == rhos.end()) continue;
        const std::size_t at = li->second * rhos.size() + static_cast<std::size_t>(ri - rhos.begin());
        h.values[at] = c.metrics.value(metric);
        const auto ci = c.metrics.deltaCi.find(metric);
        if (ci != c.metrics.deltaCi.end() && ci->second.valid()) {
            h.deltaLo[at] = ci->second.lo;
            h.deltaHi[at] = ci->second.hi;
        }
    }
    return h;
}

Result<LaserStudy> studyLaser(Engine& engine, const CompressionStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                              const LaserStudyOptions& options, const RunControl& control) {
    const Model& model = engine.model();
    LaserStudy study;
    study.types = options.types.empty() ? laserMatrixTypes(model) : options.types;
    if (options.layers.empty()) {
        for (int l = 0; l < model.config().numLayers; ++l) study.layers.push_back(l);
    } else {
        study.layers = options.layers;
    }
    study.rhos = options.rhos;
    if (study.types.empty()) return Error{"no matrix types to reduce"};
    if (study.rhos.empty()) return Error{"no rho values given"};
    for (double r : study.rhos) {
        if (!(r > 0.0 && r <= 1.0)) return Error{"rho " + formatNumber(r) + " is outside (0, 1] (the fraction of the maximal rank kept)"};
    }
    // Every cell's tensor and edit, validated before the first forward pass.
    for (const auto& type : study.types) {
        for (int layer : study.layers) {
            auto tensor = laserTensorName(model, type, layer);
            if (!tensor) return tensor.error();
            const TensorView* view = model.tensor(*tensor);
            for (double rho : study.rhos) {
                LaserCell c;
                c.type = type;
                c.layer = layer;
                c.rho = rho;
                c.tensor = *tensor;
                EditSpec e;
                e.kind = EditKind::Laser;
                e.target = *tensor;
                e.rho = rho;
                c.edit = e.text();
                SL_TRY(validateEdit(e, model));
                c.maxRank = std::min(view->rows(), view->cols());
                c.rank = laserRank(view->rows(), view->cols(), rho);
                c.factored = c.rank * (view->rows() + view->cols()) < view->rows() * view->cols();
                c.method = laserMethodName(laserAutoMethod(view->rows(), view->cols(), rho));
                study.cells.push_back(std::move(c));
            }
        }
    }
    study.baseEdits = editTexts(baseEdits);

    compression::StudyRunner runner(engine, inputs);
    SL_TRY(runner.prepare());
    study.maskedWindows = runner.maskedWindows();
    study.maskedLm = inputs.maskedLm;
    study.maskedLm.context = inputs.perplexity.context;
    if (!study.maskedWindows.empty()) {
        std::size_t masked = 0;
        for (const MaskedWindow& w : study.maskedWindows) masked += w.positions.size();
        study.notes.push_back("bidirectional encoder: the text is measured by masked-token accuracy and loss (" + std::to_string(masked) +
                              " tokens masked with <mask> in " + std::to_string(study.maskedWindows.size()) + " windows of at most " +
                              std::to_string(study.maskedLm.context) + " tokens; fraction " + formatNumber(study.maskedLm.fraction) + ", seed " +
                              std::to_string(study.maskedLm.seed) + ")");
    }
    const std::int64_t total = static_cast<std::int64_t>(study.cells.size()) + 1;
    auto base = runner.measure(baseEdits, true, control);
    if (!base) return base.error();
    study.baseline = *base;
    control.progress(1, total, "laser");
    for (std::size_t i = 0; i < study.cells.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        LaserCell& c = study.cells[i];
        auto e = parseEdit(c.edit);
        if (!e) return e.error();
        auto m = runner.measure(withEdit(baseEdits, *e), false, control);
        if (!m) return m.error();
        c.metrics = *m;
        attachIntervals(c.metrics, study.baseline, inputs.bootstrap);
        control.progress(static_cast<std::int64_t>(i) + 2, total, "laser");
    }
    attachIntervals(study.baseline, study.baseline, inputs.bootstrap);
    recordReuse(runner, study);
    return study;
}

// ---------------------------------------------------------------------------
// Quantization
// ---------------------------------------------------------------------------

std::vector<QuantSeries> QuantStudy::plot(const std::string& metric) const {
    std::vector<QuantSeries> out;
    for (const QuantPoint& p : points) {
        auto it = std::find_if(out.begin(), out.end(), [&](const QuantSeries& s) { return s.name == p.series; });
        if (it == out.end()) {
            out.push_back({p.series, {}, {}, {}, {}});
            it = out.end() - 1;
        }
        it->blocks.push_back(p.block);
        it->values.push_back(p.metrics.value(metric));
        const auto ci = p.metrics.ci.find(metric);
        const bool has = ci != p.metrics.ci.end() && ci->second.valid();
        it->lo.push_back(has ? ci->second.lo : kNotMeasured);
        it->hi.push_back(has ? ci->second.hi : kNotMeasured);
    }
    return out;
}

namespace {

// One point of the weight series: rtn on the pattern at `block` (0 = tensor),
// keeping options.superWeights when `keep`.
EditSpec quantStudyWeightEdit(const QuantStudyOptions& options, std::int64_t block, bool keep) {
    EditSpec e;
    e.kind = EditKind::Rtn;
    e.target = options.pattern;
    e.bits = options.bits;
    e.block = block;
    e.zclip = options.zclip;
    e.pclip = options.pclip;
    if (keep) {
        e.keepSuper = true;
        e.keepWeights = options.superWeights;
    }
    return e;
}

}  // namespace

Result<QuantStudy> studyQuant(Engine& engine, const CompressionStudyInputs& inputs, const std::vector<EditSpec>& baseEdits,
                              const QuantStudyOptions& options, const RunControl& control) {
    const Model& model = engine.model();
    QuantStudy study;
    study.bits = options.bits;
    study.actBits = options.actBits;
    study.pattern = options.pattern;
    study.superWeights = options.superWeights;
    study.baseEdits = editTexts(baseEdits);
    if (options.bits < 2 || options.bits > 8) return Error{"bits must be from 2 to 8 (got " + std::to_string(options.bits) + ")"};
    if (options.actBits != 0 && (options.actBits < 2 || options.actBits > 16)) {
        return Error{"activation bits must be from 2 to 16 (got " + std::to_string(options.actBits) + ")"};
    }
    if (options.blocks.empty()) return Error{"no block sizes given"};
    for (std::int64_t b : options.blocks) {
        if (b < 0) return Error{"weight block sizes are positive element counts or tensor (got " + std::to_string(b) + ")"};
    }
    if (options.actBits) {
        study.superActivations = options.superActivations;
        if (study.superActivations.empty()) {
            std::set<std::int64_t> rows;
            // Super activations sit on the output channels of the super weights (stored coordinates).
            const int axis = engine.model().downOutputAxis();
            for (const auto& sw : options.superWeights) rows.insert(axis == 0 ? sw.row : sw.col);
            for (std::int64_t r : rows) study.superActivations.push_back({0, r});
        }
    }

    auto add = [&](const std::string& series, EditSpec e) -> Status {
        SL_TRY(validateEdit(e, model));
        study.points.push_back({series, e.block, e.text(), {}});
        return {};
    };
    for (bool keep : {false, true}) {
        if (keep && options.superWeights.empty()) continue;
        for (std::int64_t b : options.blocks) {
            SL_TRY(add(keep ? "rtn_keep_super" : "rtn", quantStudyWeightEdit(options, b, keep)));
        }
    }
    if (options.actBits) {
        for (bool keep : {false, true}) {
            if (keep && study.superActivations.empty()) continue;
            for (std::int64_t b : options.actBlocks) {
                EditSpec e;
                e.kind = EditKind::ActQuant;
                e.target = options.actPattern;
                e.bits = options.actBits;
                e.block = b;
                if (keep) {
                    e.keepSuper = true;
                    e.keepActivations = study.superActivations;
                }
                SL_TRY(add(keep ? "actq_keep_super" : "actq", e));
            }
        }
    }
    if (options.superWeights.empty()) study.notes.push_back("no super weights given or found: the keep_super series is omitted");

    compression::StudyRunner runner(engine, inputs);
    SL_TRY(runner.prepare());
    const std::int64_t total = static_cast<std::int64_t>(study.points.size()) + 1;
    auto base = runner.measure(baseEdits, true, control);
    if (!base) return base.error();
    study.baseline = *base;
    control.progress(1, total, "quant");
    for (std::size_t i = 0; i < study.points.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        QuantPoint& p = study.points[i];
        auto e = parseEdit(p.edit);
        if (!e) return e.error();
        auto m = runner.measure(withEdit(baseEdits, *e), false, control);
        if (!m) return m.error();
        p.metrics = *m;
        attachIntervals(p.metrics, study.baseline, inputs.bootstrap);
        control.progress(static_cast<std::int64_t>(i) + 2, total, "quant");
    }
    attachIntervals(study.baseline, study.baseline, inputs.bootstrap);
    recordReuse(runner, study);
    return study;
}

Status validateQuantStudyPatterns(const Model& model, const QuantStudyOptions& options) {
    SL_TRY(parseEdits({"rtn:" + options.pattern + ":bits=" + std::to_string(options.bits) + ":block=tensor"}, model));
    if (options.actBits) SL_TRY(parseEdits({"actq:" + options.actPattern + ":bits=" + std::to_string(options.actBits) + ":block=tensor"}, model));
    return {};
}

Status validateQuantStudySuperWeights(const Model& model, const QuantStudyOptions& options) {
    return validateEdit(quantStudyWeightEdit(options, 0, true), model);
}

Status findQuantStudySuperWeights(Engine& engine, const std::vector<TokenId>& scanInput, const std::vector<EditSpec>& baseEdits,
                                  const SuperWeightScanOptions& scan, QuantStudyOptions& options) {
    const Model& model = engine.model();
    if (scanInput.empty()) return Error{"keep_super needs a scan input: give a text, or the super weights, or no keep_super"};
    auto probes = parseEdits({"rtn:" + options.pattern + ":bits=4:block=tensor:keep_super", "actq:" + options.actPattern + ":bits=8:keep_super"}, model);
    if (!probes) return probes.error();
    // The scan sees the model the study measures: the base edits, then the probes.
    std::vector<EditSpec> withBase = baseEdits;
    withBase.insert(withBase.end(), probes->begin(), probes->end());
    auto resolved = resolveKeepSuperFromScan(engine, scanInput, std::move(withBase), scan);
    if (!resolved) return resolved.error();
    options.superWeights = (*resolved)[resolved->size() - 2].keepWeights;
    auto keep = [&](const ActivationCoord& c) {
        if (std::find(options.superActivations.begin(), options.superActivations.end(), c) == options.superActivations.end()) {
            options.superActivations.push_back(c);
        }
    };
    for (const auto& sw : options.superWeights) keep({0, model.downOutputAxis() == 0 ? sw.row : sw.col});
    for (const auto& c : (*resolved)[resolved->size() - 1].keepActivations) keep(c);
    return {};
}

}  // namespace superlens::core
