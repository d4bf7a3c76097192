// Model.scan / massive / perplexity / stopwords / zeroshot / study_*:
// core's analyses with the CLI's inputs and defaults, returning the same
// documents as the corresponding `superlens-cli ... --json` (as dicts, with
// per-token series as numpy arrays).

#include <algorithm>

#include "inputs.h"
#include "model.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/compression_study.h"
#include "superlens/core/analysis/expert_study.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/massive_study.h"
#include "superlens/core/analysis/measure_intervals.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/prompt_set_scan.h"
#include "superlens/core/analysis/published_coordinates.h"
#include "superlens/core/analysis/registers_study.h"
#include "superlens/core/analysis/report_json.h"
#include "superlens/core/analysis/super_experts.h"
#include "superlens/core/analysis/superweight_study.h"
#include "superlens/core/analysis/super_weights.h"

namespace superlens::python {

namespace {

using nlohmann::json;

json editsJson(const std::vector<core::EditSpec>& edits) {
    json j = json::array();
    for (const auto& e : edits) j.push_back(e.text());
    return j;
}

json superWeightEntry(const core::SuperWeight& sw, const core::Model& model) { return json::parse(core::superWeightJson(sw, model)); }

bool isFalse(const py::handle& h) { return PyBool_Check(h.ptr()) && !h.cast<bool>(); }

core::SuperWeightScanOptions scanOptions(double outputRatio, double inputRatio, double residRatio, int maxIterations) {
    core::SuperWeightScanOptions o;
    if (!(outputRatio > 0) || !(inputRatio > 0) || !(residRatio > 0)) raise("scan ratios must be positive numbers");
    if (maxIterations < 0) raise("max_iterations must be >= 0");
    o.outputRatio = outputRatio;
    o.inputRatio = inputRatio;
    o.residRatio = residRatio;
    o.maxIterations = maxIterations;
    return o;
}

int strideArg(int stride, int context) {
    if (stride < 0) raise("stride must be >= 0 (0 = ctx)");
    if (stride > context) raise("stride " + std::to_string(stride) + " is larger than ctx " + std::to_string(context));
    return stride;
}

// ---------------------------------------------------------------------------

py::object scan(const ModelPtr& self, const py::object& input, const py::object& edits, double outputRatio, double inputRatio, double residRatio,
                int maxIterations, double massiveRatio, int topK, double minConsistency, const py::object& pixels, const py::object& progress,
                const py::object& cancel) {
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    const core::SuperWeightScanOptions so = scanOptions(outputRatio, inputRatio, residRatio, maxIterations);
    core::MassiveActivationOptions mo;
    if (!(massiveRatio > 0)) raise("massive_ratio must be positive");
    if (topK < 1) raise("top_k must be >= 1");
    mo.ratioThreshold = massiveRatio;
    mo.topK = topK;

    if (!pixels.is_none() || m.config().pixelInput) {
        // Vision models: one image; every entry names its token (as `superlens-cli scan --pixels`).
        const ModelInput in = modelInput(*self, input, pixels);
        const auto specs = inputEdits(*self, in, edits);
        core::PromptSetScanOptions po;
        po.scan = so;
        po.massive = mo;
        CallScope scope(progress, cancelArg(cancel));
        const core::ImageScan s = scope.run([&](const core::RunControl& c) { return core::scanImage(self->engine(), in.pixels, specs, po, c); });
        json j = json::parse(core::imageScanJson(s, m));
        j["edits"] = editsJson(specs);
        return toPython(j);
    }

    // The explicit input, or the bundled default prompt set (core's rule, as the CLI).
    std::vector<std::vector<core::TokenId>> prompts;
    if (!input.is_none()) {
        prompts.push_back(tokensArg(*self, input).ids);
    } else {
        for (auto& p : unwrap(core::bundledScanPrompts(m, tok.get()))) prompts.push_back(std::move(p.ids));
    }
    const auto& primary = prompts.front();
    auto specs = editsArg(m, edits, static_cast<std::int64_t>(primary.size()));
    specs = resolveKeepSuper(self->engine(), primary, std::move(specs));

    core::PromptSetScanOptions po;
    po.scan = so;
    po.massive = mo;
    po.minConsistency = minConsistency;
    po.firstPromptExplicit = !input.is_none();
    CallScope scope(progress, cancelArg(cancel));
    if (m.config().hasExperts()) {
        // Mixture of experts (core's rule, as the CLI).
        const core::ExpertPromptSetScan s =
            scope.run([&](const core::RunControl& c) { return core::scanExpertPromptSet(self->engine(), prompts, specs, tok.get(), po, c); });
        json j = json::parse(core::expertPromptSetScanJson(s, m));
        j["edits"] = editsJson(specs);
        return toPython(j);
    }
    const core::PromptSetScan s = scope.run([&](const core::RunControl& c) { return core::scanPromptSet(self->engine(), prompts, specs, tok.get(), po, c); });
    json j = json::parse(core::promptSetScanJson(s, m));
    j["edits"] = editsJson(specs);
    return toPython(j);
}

py::object massive(const ModelPtr& self, const py::object& input, const py::object& edits, double ratio, int topK, int maxFlagged,
                   const py::object& pixels, const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    if (!(ratio > 0)) raise("ratio must be positive");
    if (topK < 1) raise("top_k must be >= 1");
    if (maxFlagged < 1) raise("max_flagged_per_layer must be >= 1");
    core::MassiveActivationOptions mo;
    mo.ratioThreshold = ratio;
    mo.topK = topK;
    mo.maxFlaggedPerLayer = maxFlagged;
    const ModelInput in = modelInput(*self, input, pixels);
    auto specs = inputEdits(*self, in, edits);
    core::ForwardRequest req;
    req.tokens = in.tokens.ids;
    req.pixels = in.pixels;
    req.edits = specs;
    req.record = core::HookSelection::patterns({"blocks.*.hook_resid_post"});
    CallScope scope(progress, cancelArg(cancel));
    auto result = scope.run([&](const core::RunControl& c) { return self->engine().run(req, c); });
    core::MassiveActivationReport r = unwrap(core::findMassiveActivations(*result, tok.get(), mo));
    json j = json::parse(core::massiveReportJson(r));
    j["ids"] = in.tokens.ids;
    if (in.pixels) j["image"] = json::parse(core::imageJson(*in.pixels, m.config()));
    j["ratio_threshold"] = ratio;
    j["edits"] = editsJson(specs);
    py::dict d = toPython(j);
    d["layer_median"] = vectorArray(r.layerMedian);
    return d;
}

// ci/bootstrap of the measures: validated options (the CLI's --ci/--bootstrap).
core::BootstrapOptions bootstrapArg(double ci, int bootstrap) {
    core::BootstrapOptions b;
    b.level = ci;
    b.resamples = bootstrap;
    if (auto v = core::validate(b); !v) raise(v.error().message);
    return b;
}

json intervalArg(const core::Interval& i) { return i.valid() ? json::array({i.lo, i.hi}) : json(nullptr); }

json ciArg(const core::BootstrapOptions& b) {
    return b.enabled() ? json{{"level", b.level}, {"resamples", b.resamples}, {"seed", b.seed}} : json(nullptr);
}

py::object perplexity(const ModelPtr& self, const py::object& text, const py::object& ctx, int stride, const py::object& edits, bool bosWindows,
                      double ci, int bootstrap, const py::object& progress, const py::object& cancel) {
    const core::BootstrapOptions boot = bootstrapArg(ci, bootstrap);
    const core::Model& m = self->model();
    const int context = windowLength(ctx, m);
    stride = strideArg(stride, context);
    auto tokens = textArg(*self, text, bosWindows, context, stride);
    auto specs = editsArg(m, edits);
    specs = resolveKeepSuper(self->engine(), core::scanInputHead(tokens), std::move(specs));
    core::PerplexityOptions po;
    po.context = context;
    po.stride = stride;
    CallScope scope(progress, cancelArg(cancel));
    core::PerplexityResult r = scope.run([&](const core::RunControl& c) { return core::perplexity(self->engine(), tokens, specs, po, c); });
    py::dict d;
    d["ppl"] = r.ppl;
    d["nll"] = r.nll;
    d["tokens"] = r.tokens;
    d["windows"] = r.windows;
    d["context"] = context;
    d["stride"] = stride == 0 ? context : stride;
    d["text_tokens"] = tokens.size();
    d["token_nll"] = vectorArray(r.tokenNll);
    d["token_index"] = vectorArray(r.tokenIndex);
    // The interval rule of `ppl --ci` and the study (measure_intervals.h).
    d["ppl_ci"] = toPython(intervalArg(core::perplexityInterval(core::windowUnits(r), boot)));
    d["ci"] = toPython(ciArg(boot));
    d["edits"] = toPython(editsJson(specs));
    return d;
}

py::object stopwords(const ModelPtr& self, const py::object& text, const py::object& edits, const py::object& ctx, int top, const py::object& words,
                     const py::object& wordIds, bool bosWindows, double ci, int bootstrap, const py::object& progress, const py::object& cancel) {
    const core::BootstrapOptions boot = bootstrapArg(ci, bootstrap);
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    const int context = windowLength(ctx, m);
    if (top < 0) raise("top must be >= 0");
    auto tokens = textArg(*self, text, bosWindows, context, 0);
    auto ids = stopwordIdsArg(*self, words, wordIds);
    auto specs = editsArg(m, edits);
    specs = resolveKeepSuper(self->engine(), core::scanInputHead(tokens), std::move(specs));
    CallScope scope(progress, cancelArg(cancel));
    core::StopwordShift s =
        scope.run([&](const core::RunControl& c) { return core::stopwordShift(self->engine(), tokens, ids, specs, context, top, c); });
    json j = {{"original_mass", s.originalMass}, {"edited_mass", s.editedMass}, {"ratio", s.ratio()},
              {"positions", s.positions},        {"stopword_ids", ids.size()},  {"context", context}};
    core::WindowUnits w0, w1;
    w0.tokens = w1.tokens = s.windowPositions;
    w0.mass = s.originalWindowMass;
    w1.mass = s.editedWindowMass;
    j["original_mass_ci"] = intervalArg(core::stopwordMassInterval(w0, boot));
    j["edited_mass_ci"] = intervalArg(core::stopwordMassInterval(w1, boot));
    j["ratio_ci"] = intervalArg(core::stopwordRatioInterval(w1, w0, boot));
    j["windows"] = s.windowPositions.size();
    j["window_mass_original"] = s.originalWindowMass;
    j["window_mass_edited"] = s.editedWindowMass;
    j["window_positions"] = s.windowPositions;
    j["ci"] = ciArg(boot);
    j["top_movers"] = json::array();
    for (const auto& mv : s.topMovers) {
        json e = {{"id", mv.id}, {"original", mv.originalProb}, {"edited", mv.editedProb}};
        e["token"] = tok ? json(tok->tokenText(mv.id)) : json(nullptr);
        e["stopword"] = std::binary_search(ids.begin(), ids.end(), mv.id);
        j["top_movers"].push_back(std::move(e));
    }
    j["edits"] = editsJson(specs);
    return toPython(j);
}

py::object zeroshot(const ModelPtr& self, const py::object& tasksObj, const py::object& edits, double ci, int bootstrap, const py::object& progress,
                    const py::object& cancel) {
    const core::BootstrapOptions boot = bootstrapArg(ci, bootstrap);
    const core::Model& m = self->model();
    TasksArg t = tasksArg(tasksObj);
    const bool needsTokenizer = std::any_of(t.tasks.begin(), t.tasks.end(), [](const core::ZeroShotTask& x) { return x.contextIds.empty(); });
    std::shared_ptr<core::Tokenizer> tok;
    if (needsTokenizer) tok = self->requireTokenizer(t.label == "bundled" ? "the bundled text tasks" : "the text tasks of " + t.label);
    auto specs = editsArg(m, edits);
    std::vector<core::TokenId> head = t.tasks.front().contextIds;
    if (head.empty() && tok) head = tok->encode(t.tasks.front().context, true);
    specs = resolveKeepSuper(self->engine(), head, std::move(specs));
    CallScope scope(progress, cancelArg(cancel));
    core::ZeroShotResult r = scope.run([&](const core::RunControl& c) { return core::zeroShot(self->engine(), tok.get(), t.tasks, specs, c); });
    json j = {{"accuracy", r.accuracy}, {"accuracy_norm", r.accuracyNorm}, {"count", r.count},
              {"predictions", r.predictions}, {"predictions_norm", r.predictionsNorm}, {"log_likelihoods", r.logLikelihoods}};
    std::vector<int> gold;
    for (const auto& x : t.tasks) gold.push_back(x.gold);
    j["gold"] = gold;
    j["accuracy_ci"] = intervalArg(core::accuracyInterval(core::correctness(r.predictions, t.tasks), boot));
    j["accuracy_norm_ci"] = intervalArg(core::accuracyInterval(core::correctness(r.predictionsNorm, t.tasks), boot));
    j["ci"] = ciArg(boot);
    j["tasks"] = t.label;
    j["edits"] = editsJson(specs);
    return toPython(j);
}

// ---------------------------------------------------------------------------
// Studies
// ---------------------------------------------------------------------------

// tasks=None: the bundled set when the model has a tokenizer (as the CLI's
// studies); False: none; else tasksArg.
std::vector<core::ZeroShotTask> studyTasks(PyModel& self, const py::object& tasksObj, std::string& label) {
    if (isFalse(tasksObj)) return {};
    // No bundled default for a bidirectional encoder (core::studyZeroShotTasks' rule).
    if (tasksObj.is_none() && (!self.tokenizer() || !self.model().config().causal)) return {};
    TasksArg t = tasksArg(tasksObj);
    const bool needsTokenizer = std::any_of(t.tasks.begin(), t.tasks.end(), [](const auto& x) { return x.contextIds.empty(); });
    if (needsTokenizer && !self.tokenizer()) raise(self.model().folder().string() + ": no tokenizer (needed for the text tasks of " + t.label + ")");
    label = t.label;
    return std::move(t.tasks);
}

py::object studySuperWeight(const ModelPtr& self, const py::object& text, const py::object& tasksObj, const py::object& superWeights,
                            const py::object& scanInput, const py::object& ctx, int stride, int outliers, const py::object& words,
                            const py::object& wordIds, const py::object& edits, bool bosWindows, double outputRatio, double inputRatio,
                            double residRatio, int maxIterations, double ci, int bootstrap, int nullCount, bool joint,
                            const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    const int context = windowLength(ctx, m);
    stride = strideArg(stride, context);
    if (outliers < 0) raise("outliers must be >= 0 (0 = as many as each matrix's super weights)");
    core::SuperWeightStudyInputs in;
    in.textTokens = textArg(*self, text, bosWindows, context, stride);
    in.tokenizer = tok.get();
    if (!scanInput.is_none()) in.scanTokens = tokensArg(*self, scanInput, "scan_input").ids;
    if (!superWeights.is_none()) in.superWeights = coordsArg(superWeights, "super_weights");
    std::string tasksLabel;
    std::vector<core::ZeroShotTask> tasks = studyTasks(*self, tasksObj, tasksLabel);
    if (!tasks.empty()) in.tasks = &tasks;
    if (!isFalse(words) && (tok || !wordIds.is_none())) in.stopwordIds = stopwordIdsArg(*self, words.is_none() ? py::object(py::none()) : words, wordIds);
    auto specs = editsArg(m, edits);
    specs = resolveKeepSuper(self->engine(), in.scanTokens.empty() ? core::scanInputHead(in.textTokens) : in.scanTokens, std::move(specs));
    core::SuperWeightStudyOptions so;
    so.perplexity.context = context;
    so.perplexity.stride = stride;
    so.outlierCount = outliers;
    so.scan = scanOptions(outputRatio, inputRatio, residRatio, maxIterations);
    so.bootstrap.level = ci;
    so.bootstrap.resamples = bootstrap;
    so.nullCount = nullCount;
    so.joint = joint;
    if (auto v = core::validate(so.bootstrap); !v) raise(v.error().message);

    CallScope scope(progress, cancelArg(cancel));
    core::SuperWeightStudy s = scope.run([&](const core::RunControl& c) -> core::Result<core::SuperWeightStudy> {
        auto r = core::studySuperWeight(self->engine(), in, specs, so, c);
        if (!r && in.superWeights.empty() && r.error().message.find("no super weight") != std::string::npos) {
            return core::Error{self->path() + ": " + r.error().message + "; give them with super_weights=[(layer, row, col)]"};
        }
        return r;
    });
    json j;
    j["study"] = "superweight";  // as `study superweight --json`: the GUI and `figure superweight --study` read it
    j["super_weights"] = json::array();
    for (const auto& sw : s.superWeights) j["super_weights"].push_back(superWeightEntry(sw, m));
    j["outliers"] = json::array();
    for (const auto& c : s.outliers) j["outliers"].push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}});
    j["conditions"] = json::parse(s.conditionsJson());
    j["joint"] = json::parse(s.jointJson());
    j["ci"] = so.bootstrap.enabled() ? json{{"level", so.bootstrap.level}, {"resamples", so.bootstrap.resamples}, {"seed", so.bootstrap.seed}}
                                     : json(nullptr);
    j["context"] = context;
    j["stride"] = stride == 0 ? context : stride;
    j["tasks"] = tasksLabel.empty() ? json(nullptr) : json(tasksLabel);
    j["stopword_ids"] = in.stopwordIds.size();
    j["notes"] = s.notes;
    j["edits"] = editsJson(specs);
    j["markdown"] = s.markdown();
    return toPython(j);
}

// What both compression studies need (the CLI's prepare()).
struct Prepared {
    std::shared_ptr<core::Tokenizer> tokenizer;
    std::vector<core::ZeroShotTask> tasks;
    std::vector<core::AnswerTask> answers;
    std::vector<core::EditSpec> edits;
    core::CompressionStudyInputs inputs;
};

std::unique_ptr<Prepared> prepare(PyModel& self, const py::object& text, const py::object& tasksObj, const py::object& answers, const py::object& ctx,
                                  int stride, long long maxTokens, const py::object& edits, bool bosWindows) {
    auto p = std::make_unique<Prepared>();
    const core::Model& m = self.model();
    p->tokenizer = self.tokenizer();
    const int context = windowLength(ctx, m);
    stride = strideArg(stride, context);
    if (maxTokens < 0) raise("max_tokens must be >= 0 (0 = all)");
    p->inputs.textTokens = textArg(self, text, bosWindows, context, stride);
    if (maxTokens > 0 && static_cast<long long>(p->inputs.textTokens.size()) > maxTokens) p->inputs.textTokens.resize(static_cast<std::size_t>(maxTokens));
    p->inputs.tokenizer = p->tokenizer.get();
    p->inputs.perplexity.context = context;
    p->inputs.perplexity.stride = stride;
    std::string label;
    p->tasks = studyTasks(self, tasksObj, label);
    if (!p->tasks.empty()) p->inputs.tasks = &p->tasks;
    if (!answers.is_none()) {
        p->answers = answersArg(answers);
        for (std::size_t i = 0; i < p->answers.size(); ++i) {
            auto seq = core::tokenizeAnswerTask(p->answers[i], p->tokenizer.get());
            if (!seq) raise("answers: answer " + std::to_string(i + 1) + ": " + seq.error().message);
        }
        p->inputs.answers = &p->answers;
    }
    p->edits = editsArg(m, edits);
    p->edits = resolveKeepSuper(self.engine(), core::scanInputHead(p->inputs.textTokens), std::move(p->edits));
    return p;
}

// A list of str/int/float items, or one comma-separated string, as the one
// text core's list parsers read (the CLI's option text).
std::string listText(const py::handle& h) {
    if (py::isinstance<py::str>(h)) return h.cast<std::string>();
    std::string out;
    for (py::handle x : h) out += py::str(x).cast<std::string>() + ",";
    return out;
}

py::object withMarkdown(const std::string& jsonText, const std::string& markdown) {
    py::dict d = py::module_::import("json").attr("loads")(pyStr(jsonText));
    d["markdown"] = pyStr(markdown);
    return d;
}

py::object studyLaser(const ModelPtr& self, const py::object& text, const py::object& types, const py::object& layers, const py::object& rhos,
                      const py::object& tasks, const py::object& answers, const py::object& ctx, int stride, long long maxTokens,
                      const py::object& edits, bool bosWindows, double ci, int bootstrap, double maskFraction, unsigned long long maskSeed,
                      const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    auto p = prepare(*self, text, tasks, answers, ctx, stride, maxTokens, edits, bosWindows);
    p->inputs.bootstrap.level = ci;
    p->inputs.bootstrap.resamples = bootstrap;
    if (auto v = core::validate(p->inputs.bootstrap); !v) raise(v.error().message);
    p->inputs.maskedLm.fraction = maskFraction;
    p->inputs.maskedLm.seed = maskSeed;
    core::LaserStudyOptions so;
    if (!types.is_none()) {
        so.types = core::splitListItems(listText(types));
        for (const auto& t : so.types) {
            auto name = core::laserTensorName(m, t, 0);
            if (!name) raise("types: " + name.error().message);
        }
    }
    if (!layers.is_none()) so.layers = unwrap(core::parseLayerList(listText(layers), m.config().numLayers, "layers"));
    if (!rhos.is_none()) so.rhos = unwrap(core::parseRhoList(listText(rhos), "rhos"));
    CallScope scope(progress, cancelArg(cancel));
    core::LaserStudy s = scope.run([&](const core::RunControl& c) { return core::studyLaser(self->engine(), p->inputs, p->edits, so, c); });
    return withMarkdown(s.toJson(), s.markdown());
}

// `superlens-cli study registers MODEL --pixels ...` for one model: the same document.
py::object studyRegisters(const ModelPtr& self, const py::object& pixels, double massiveRatio, const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    std::vector<core::RegistersImage> images;
    if (py::isinstance<py::str>(pixels) || pathLike(pixels) || py::isinstance<py::array>(pixels)) raise("pixels: give a list of images (arrays or .npy files)");
    std::size_t i = 0;
    for (py::handle h : pixels) {
        const std::string label = py::isinstance<py::str>(h) ? h.cast<std::string>()
                                  : pathLike(h)             ? pathLike(h)->string()
                                                            : "pixels[" + std::to_string(i) + "]";
        images.push_back({label, pixelsArg(m, h)});
        ++i;
    }
    if (!(massiveRatio > 0)) raise("massive_ratio must be positive");
    core::RegistersStudyOptions so;
    so.massive.ratioThreshold = massiveRatio;
    CallScope scope(progress, cancelArg(cancel));
    core::RegistersModelStudy s = scope.run([&](const core::RunControl& c) { return core::studyRegisters(self->engine(), images, so, c); });
    py::dict d = toPython(nlohmann::json::parse(core::registersStudyJson({s})));
    d["markdown"] = pyStr(core::registersStudyMarkdown({s}));
    return d;
}

// `study experts --json` (core ExpertStudyResult::json, plus what the CLI adds).
py::object studyExperts(const ModelPtr& self, const py::object& text, const py::object& profileInput, const py::object& tasksObj,
                        const py::object& experts, bool joint, const py::object& ctx, int stride, const py::object& words, const py::object& wordIds,
                        const py::object& edits, bool bosWindows, std::uint64_t seed, double ci, int bootstrap, const py::object& progress,
                        const py::object& cancel) {
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    const int context = windowLength(ctx, m);
    stride = strideArg(stride, context);
    const std::vector<core::TokenId> tokens = textArg(*self, text, bosWindows, context, stride);
    const std::vector<core::TokenId> profileIds = profileInput.is_none() ? core::scanInputHead(tokens) : tokensArg(*self, profileInput, "profile_input").ids;
    std::vector<core::TokenId> stopwordIds;
    if (!isFalse(words) && (tok || !wordIds.is_none())) stopwordIds = stopwordIdsArg(*self, words.is_none() ? py::object(py::none()) : words, wordIds);
    std::string tasksLabel;
    std::vector<core::ZeroShotTask> tasks = studyTasks(*self, tasksObj, tasksLabel);
    const auto specs = editsArg(m, edits);
    core::ExpertStudyOptions so;
    so.perplexity.context = context;
    so.perplexity.stride = stride;
    so.seed = seed;
    so.joint = joint;
    so.bootstrap.level = ci;
    so.bootstrap.resamples = bootstrap;
    if (auto v = core::validate(so.bootstrap); !v) raise(v.error().message);
    if (!experts.is_none()) {
        for (py::handle h : experts) {
            const auto pair = h.cast<std::pair<int, int>>();
            if (pair.first < 0 || pair.second < 0) raise("experts: layers and experts are >= 0");
            so.experts.push_back(pair);
        }
        if (so.experts.empty()) raise("experts: an empty list (give None for the flagged super experts)");
    }
    if (!tasks.empty()) {
        so.tasks = &tasks;
        so.tokenizer = tok.get();
    }
    CallScope scope(progress, cancelArg(cancel));
    core::ExpertStudyResult s = scope.run([&](const core::RunControl& c) -> core::Result<core::ExpertStudyResult> {
        auto r = core::studySuperExperts(self->engine(), {profileIds}, tokens, stopwordIds, specs, so, c);
        if (!r) return core::Error{self->path() + ": " + r.error().message};
        return r;
    });
    json j = json::parse(s.json());
    j["tasks"] = tasksLabel.empty() ? json(nullptr) : json(tasksLabel);
    j["context"] = context;
    j["seed"] = seed;
    j["edits"] = editsJson(specs);
    j["markdown"] = s.markdown();
    return toPython(j);
}

// `study massive --json` (core MassiveStudy::json, plus what the CLI adds).
py::object studyMassive(const ModelPtr& self, const py::object& text, const py::object& scanInput, double massiveRatio, int maxSites,
                        const py::object& ctx, int stride, const py::object& edits, bool bosWindows, double ci, int bootstrap,
                        const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    const int context = windowLength(ctx, m);
    stride = strideArg(stride, context);
    const std::vector<core::TokenId> tokens = textArg(*self, text, bosWindows, context, stride);
    const std::vector<core::TokenId> scanIds = scanInput.is_none() ? std::vector<core::TokenId>{} : tokensArg(*self, scanInput, "scan_input").ids;
    const auto specs = editsArg(m, edits);
    if (!(massiveRatio > 0)) raise("massive_ratio must be positive");
    core::MassiveStudyOptions so;
    so.perplexity.context = context;
    so.perplexity.stride = stride;
    so.scan.ratioThreshold = massiveRatio;
    so.maxSites = maxSites;
    so.bootstrap.level = ci;
    so.bootstrap.resamples = bootstrap;
    if (auto v = core::validate(so.bootstrap); !v) raise(v.error().message);
    auto tok = self->tokenizer();
    CallScope scope(progress, cancelArg(cancel));
    core::MassiveStudy s = scope.run([&](const core::RunControl& c) -> core::Result<core::MassiveStudy> {
        auto r = core::studyMassiveActivations(self->engine(), scanIds, tokens, tok.get(), specs, so, c);
        if (!r) return core::Error{self->path() + ": " + r.error().message};
        return r;
    });
    json j = json::parse(s.json());
    j["context"] = context;
    j["stride"] = stride == 0 ? context : stride;
    j["massive_ratio"] = massiveRatio;
    j["edits"] = editsJson(specs);
    j["markdown"] = s.markdown();
    return toPython(j);
}

py::object studyQuant(const ModelPtr& self, const py::object& text, int bits, const py::object& blocks, const py::object& patternObj,
                      const py::object& superWeights, bool keepSuper, const py::object& zclip, const py::object& pclip, int actBits,
                      const std::string& actPattern, const py::object& actBlocks, const py::object& superActivations, const py::object& tasks,
                      const py::object& answers, const py::object& ctx, int stride, long long maxTokens, const py::object& edits, bool bosWindows,
                      double outputRatio, double inputRatio, double residRatio, int maxIterations, const py::object& progress,
                      const py::object& cancel) {
    const core::Model& m = self->model();
    auto p = prepare(*self, text, tasks, answers, ctx, stride, maxTokens, edits, bosWindows);
    const std::string pattern = patternObj.is_none() ? m.layerTensorPattern() : patternObj.cast<std::string>();
    core::QuantStudyOptions so;
    so.bits = bits;
    so.pattern = pattern;
    if (!blocks.is_none()) so.blocks = unwrap(core::parseBlockSizes(listText(blocks), "blocks", false));
    if (!zclip.is_none()) so.zclip = zclip.cast<double>();
    if (!pclip.is_none()) so.pclip = pclip.cast<double>();
    so.actBits = actBits;
    so.actPattern = actPattern;
    if (actBits && !actBlocks.is_none()) so.actBlocks = unwrap(core::parseBlockSizes(listText(actBlocks), "act_blocks", true));
    if (!superActivations.is_none()) {
        for (py::handle t : superActivations) {
            auto seq = py::reinterpret_borrow<py::sequence>(t);
            if (py::len(seq) != 2) raise("super_activations: expected (token, channel) pairs");
            const long long tk = seq[0].cast<long long>(), ch = seq[1].cast<long long>();
            if (tk < 0 || ch < 0 || ch >= m.config().hiddenSize) {
                raise("super_activations: (" + std::to_string(tk) + ", " + std::to_string(ch) + ") is not (token, channel) with a channel below " +
                      std::to_string(m.config().hiddenSize));
            }
            so.superActivations.push_back({tk, ch});
        }
    }
    check(core::validateQuantStudyPatterns(m, so));
    CallScope scope(progress, cancelArg(cancel));
    if (keepSuper) {
        if (!superWeights.is_none()) {
            so.superWeights = coordsArg(superWeights, "super_weights");
            if (auto v = core::validateQuantStudySuperWeights(m, so); !v) raise("super_weights: " + v.error().message);
        } else {
            const core::SuperWeightScanOptions sopt = scanOptions(outputRatio, inputRatio, residRatio, maxIterations);
            scope.run([&](const core::RunControl&) {
                return core::findQuantStudySuperWeights(self->engine(), core::scanInputHead(p->inputs.textTokens), p->edits, sopt, so);
            });
        }
    }
    core::QuantStudy s = scope.run([&](const core::RunControl& c) { return core::studyQuant(self->engine(), p->inputs, p->edits, so, c); });
    return withMarkdown(s.toJson(), s.markdown());
}

}  // namespace

void registerAnalysis(py::module_&, py::class_<PyModel, ModelPtr>& cls) {
    using py::arg;
    const auto none = py::none();
    cls.def("scan", &scan, arg("input") = none, arg("edits") = none, arg("output_ratio") = 50.0, arg("input_ratio") = 20.0,
            arg("resid_ratio") = 50.0, arg("max_iterations") = 16, arg("massive_ratio") = 100.0, arg("top_k") = 3, arg("min_consistency") = 0.5,
            arg("pixels") = none, arg("progress") = none, arg("cancel") = none, R"doc(
Super weights and massive activations: the document of `superlens-cli scan --json`
as a dict (super_weights, massive_activations, massive_persistent, layers, ...).
Without input, the bundled default prompts are scanned and the super weights
found in at least min_consistency of them are reported. Mixture-of-experts models give
`scan --json`'s expert document (super_experts, expert_profile, the super weight inside each
super expert). Vision models scan one image
(pixels=, as `scan --pixels`): entries carry token_kind (cls, register, patch), plus 'image'.)doc")
        .def("massive", &massive, arg("input") = none, arg("edits") = none, arg("ratio") = 100.0, arg("top_k") = 3, arg("max_flagged_per_layer") = 64,
             arg("pixels") = none, arg("progress") = none, arg("cancel") = none,
             "Massive activations (Sun et al., 2024) of one input (text, token ids, or pixels= for vision models): flagged entries, "
             "per-layer top-k and medians (numpy); images add 'image' and each entry's token_kind (cls, register, patch).")
        .def("perplexity", &perplexity, arg("text"), arg("ctx") = none, arg("stride") = 0, arg("edits") = none, arg("bos_windows") = false,
             arg("ci") = 0.95, arg("bootstrap") = 1000, arg("progress") = none, arg("cancel") = none, R"doc(
Sliding-window perplexity (Hugging Face's recipe), as `superlens-cli ppl --json --per-token`,
with ppl_ci (window bootstrap; bootstrap=0: None).
text: a str, an os.PathLike text file, or token ids. ctx default min(512, n_ctx);
stride 0 = ctx. bos_windows: every window starts with BOS.)doc")
        .def("stopwords", &stopwords, arg("text"), arg("edits") = none, arg("ctx") = none, arg("top") = 10, arg("stopwords") = none,
             arg("stopword_ids") = none, arg("bos_windows") = false, arg("ci") = 0.95, arg("bootstrap") = 1000, arg("progress") = none,
             arg("cancel") = none,
             "Stopword probability mass, unedited vs edited, and the top movers (`superlens-cli stopwords --json`), "
             "with original_mass_ci, edited_mass_ci, ratio_ci (window bootstrap, the ratio paired).")
        .def("zeroshot", &zeroshot, arg("tasks") = none, arg("edits") = none, arg("ci") = 0.95, arg("bootstrap") = 1000, arg("progress") = none,
             arg("cancel") = none,
             "Zero-shot multiple-choice accuracy (`superlens-cli zeroshot --json`) with accuracy_ci, accuracy_norm_ci (task bootstrap); "
             "tasks: None = bundled set, a JSONL file, or a list of dicts.")
        .def("study_superweight", &studySuperWeight, arg("text"), arg("tasks") = none, arg("super_weights") = none, arg("scan_input") = none,
             arg("ctx") = none, arg("stride") = 0, arg("outliers") = 0, arg("stopwords") = none, arg("stopword_ids") = none, arg("edits") = none,
             arg("bos_windows") = false, arg("output_ratio") = 50.0, arg("input_ratio") = 20.0, arg("resid_ratio") = 50.0,
             arg("max_iterations") = 16, arg("ci") = 0.95, arg("bootstrap") = 1000, arg("null") = 0, arg("joint") = false,
             arg("progress") = none, arg("cancel") = none,
             "The super-weight paper's Table 1 (`superlens-cli study superweight --json`). tasks/stopwords=False skip those measures; "
             "ci/bootstrap: percentile-bootstrap intervals (<name>_ci); null=K: null control; joint: joint ablation.")
        .def("study_laser", &studyLaser, arg("text"), arg("types") = none, arg("layers") = none, arg("rhos") = none, arg("tasks") = none,
             arg("answers") = none, arg("ctx") = none, arg("stride") = 0, arg("max_tokens") = 0, arg("edits") = none, arg("bos_windows") = false,
             arg("ci") = 0.95, arg("bootstrap") = 1000, arg("mask_fraction") = core::MaskedLmOptions{}.fraction, arg("mask_seed") = core::MaskedLmOptions{}.seed,
             arg("progress") = none, arg("cancel") = none,
             "LASER sweep (`superlens-cli study laser --json`), plus 'markdown'. On an encoder (RoBERTa, BERT) the text is measured by "
             "masked-token accuracy and loss (mask_fraction of each window's non-special tokens, positions drawn with mask_seed).")
        .def("study_experts", &studyExperts, arg("text"), arg("profile_input") = none, arg("tasks") = none, arg("experts") = none,
             arg("joint") = false, arg("ctx") = none, arg("stride") = 0, arg("stopwords") = none, arg("stopword_ids") = none, arg("edits") = none,
             arg("bos_windows") = false, arg("seed") = 0, arg("ci") = 0.95, arg("bootstrap") = 1000, arg("progress") = none, arg("cancel") = none,
             "Mixture-of-experts: super experts (or experts=[(layer, expert)]) pruned one by one, all, and random experts as control "
             "(`superlens-cli study experts --json`); joint: each alone, all but one, all, every pair (interaction matrix).")
        .def("study_massive", &studyMassive, arg("text"), arg("scan_input") = none, arg("massive_ratio") = 100.0, arg("max_sites") = 8,
             arg("ctx") = none, arg("stride") = 0, arg("edits") = none, arg("bos_windows") = false, arg("ci") = 0.95, arg("bootstrap") = 1000,
             arg("progress") = none, arg("cancel") = none,
             "Massive activations set to zero and to their means over the text's windows, jointly: each site alone, all but one, all, "
             "every pair (`superlens-cli study massive --json`).")
        .def("study_registers", &studyRegisters, arg("pixels"), arg("massive_ratio") = 100.0, arg("progress") = none, arg("cancel") = none,
             "Vision models: where the massive activations live (CLS / register / patch) and zero vs mean over the images on them "
             "(`superlens-cli study registers MODEL --pixels ... --json`, plus 'markdown'); pixels: a list of arrays or .npy files.")
        .def("study_quant", &studyQuant, arg("text"), arg("bits") = 4, arg("blocks") = none, arg("pattern") = none, arg("super_weights") = none,
             arg("keep_super") = true, arg("zclip") = none, arg("pclip") = none, arg("act_bits") = 0, arg("act_pattern") = "blocks.*.hook_resid_post",
             arg("act_blocks") = none, arg("super_activations") = none, arg("tasks") = none, arg("answers") = none, arg("ctx") = none,
             arg("stride") = 0, arg("max_tokens") = 0, arg("edits") = none, arg("bos_windows") = false, arg("output_ratio") = 50.0,
             arg("input_ratio") = 20.0, arg("resid_ratio") = 50.0, arg("max_iterations") = 16, arg("progress") = none, arg("cancel") = none,
             "RTN quantization sweep, plain vs keep_super (`superlens-cli study quant --json`), plus 'markdown'.");
}

}  // namespace superlens::python
