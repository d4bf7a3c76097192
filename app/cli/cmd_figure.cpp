// superlens-cli figure KIND[,KIND...] MODEL (--prompt TEXT | --ids 1,2,3 | --image FILE | --pixels FILE.npy) [--edit E]... --out FILE.(pdf|svg|png)
//                      [--layer N] [--style PRESET] [--width one|two|INCHES] [--height INCHES] [--font-size PT] [--dpi N]
//                      [--baseline-edit E]... [--loss-text FILE] [--position P] [--head mean|H] [--pattern original|edited] [--carriers first|all]
//                      [--quantity massive|attn-cls|attn-registers|hook] [--channel C] [--hook NAME]
//                      [--no-csv] [--json]
//        superlens-cli figure laser|quant --study STUDY.json --out FILE [--matrix T] [--metric M] [--change yes|no] [style options]
//        superlens-cli figure superweight --study STUDY.json --out FILE [--show conditions|null|joint] [--metric M] [style options]
//        superlens-cli figure --from FIGURE.(pdf|svg|png) [--out FILE]
// Renders one of the GUI's views headless (Qt's offscreen platform, created
// only here) and writes the figure plus FILE.csv with the data behind it.
// Every figure and CSV carries its provenance (widgets/figure_export.h: version,
// model path and fingerprint, prompt, edits and the exact command); --from
// reads it back from a figure and runs that command again (--out: elsewhere).
// Kinds: spikes, layer, propagation, massive, logits, attention, lens, sinks, loss, compare, experts,
// patches (vision models: --image / --pixels). Several
// kinds separated by commas make one multi-panel figure (panels a, b, c, ...;
// FILE_a.csv, FILE_b.csv, ... beside it). Presets: widgets/figure_presets.h.
// --baseline-edit: the "original" side is the model with these edits (the
// GUI's comparison of two runs of its history: run A's edits here, run B's
// as --edit), so the views draw run A vs run B.
// --compare-with B: model B beside MODEL (the GUI's File → Compare with
// model…): the compare figure draws `compare MODEL B`; --overlay-b: every
// figure draws B's run as the second side. --imatrix: the importance matrix the
// layer figure (--tensor input) and the compare figure's super weights show.
// --position (lens), --head and --pattern (attention), --carriers (sinks) set
// the views' own controls (PlotView::figureState), so a GUI export's embedded
// command draws the state the window showed.
// Nothing is printed on stderr on success.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <system_error>

#include "cli_common.h"

#ifdef SUPERLENS_CLI_HAS_WIDGETS
#include <QApplication>
#include <QFileInfo>

#include "superlens/core/view/build_view_snapshot.h"
#include "figure_export.h"
#include "figure_presets.h"
#include "plot_view.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/model_compare.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/analysis/super_experts.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/system/output_file.h"
#include "studies/laser_heatmap_view.h"
#include "studies/quant_plot_view.h"
#include "studies/superweight_study_view.h"
#include "superlens/core/analysis/compression_study.h"
#include "superlens/core/analysis/superweight_study_json.h"
#include "view_registry.h"
#include <fstream>
#include <sstream>
#endif

namespace superlens::cli {

// Adds the figure subcommand (registered below; --from parses an embedded command with it).
void addFigureCommand(CLI::App& app, CliContext& ctx);

namespace {

struct FigureOptions {
    std::string kind;
    std::string model;
    InputOptions input;
    EditOptions edits;
    ComputeOptions compute;
    std::string out;
    int layer = -1;
    std::string width = "one";
    std::string style = "default";
    double height = 0;
    double fontSize = 0;
    int dpi = 300;
    bool noCsv = false;
    bool json = false;
    std::string from;
    EditOptions baselineEdits;  // --baseline-edit
    std::string study;          // --study: a study JSON for the laser / quant figures
    std::string compareWith;    // --compare-with: model B beside MODEL (the compare figure; names llama.cpp's tensors for --imatrix)
    bool overlayB = false;      // --overlay-b: every figure draws B's run as the second side
    std::string imatrix;        // --imatrix: llama.cpp's importance matrix (the layer figure, the compare figure's super weights)
    // The views' own state (PlotView::applyFigureState), in option order.
    std::vector<std::pair<std::string, std::string>> viewState;
};


const char* const kKinds =
    "spikes, layer, propagation, massive, logits, attention, lens, sinks, loss, compare (with --compare-with), experts, patches "
    "(laser, quant, superweight: with --study)";

#ifdef SUPERLENS_CLI_HAS_WIDGETS
// The figure options that set a view's own state, and the kind that owns each.
static_assert(core::view::kHeldOutLossTokens == 128, "--loss-text help names 128 tokens");
const std::pair<const char*, const char*> kViewStateOptions[] = {
    {"position", "lens"}, {"head", "attention or patches"}, {"pattern", "attention"}, {"carriers", "sinks"}, {"loss-text", "loss"},
    {"quantity", "patches"}, {"channel", "patches"}, {"hook", "patches"},
    {"matrix", "laser"}, {"metric", "laser, quant or superweight"}, {"change", "laser"}, {"tensor", "layer"},
    {"show", "superweight"}};

// Qt needs a private runtime directory (QStandardPaths::RuntimeLocation) and
// warns on stderr when XDG_RUNTIME_DIR is unset, as in cron jobs, containers
// and CI. When it is unset, give this process one of its own: a fresh 0700
// folder (mkdtemp), removed again when the command ends.
class PrivateRuntimeDir {
public:
    PrivateRuntimeDir() {
        const char* set = std::getenv("XDG_RUNTIME_DIR");
        if (set && *set) return;
        std::error_code ec;
        std::string pattern = (std::filesystem::temp_directory_path(ec) / "superlens-runtime-XXXXXX").string();
        if (ec) pattern = "/tmp/superlens-runtime-XXXXXX";
        if (mkdtemp(pattern.data())) {
            m_dir = pattern;
            setenv("XDG_RUNTIME_DIR", m_dir.c_str(), 1);
        }
    }
    ~PrivateRuntimeDir() {
        if (m_dir.empty()) return;
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
        unsetenv("XDG_RUNTIME_DIR");
    }
    PrivateRuntimeDir(const PrivateRuntimeDir&) = delete;
    PrivateRuntimeDir& operator=(const PrivateRuntimeDir&) = delete;

private:
    std::string m_dir;
};

// The headless Qt the figure commands draw with: the offscreen platform
// (no display needed, set only for this command), a runtime folder, and the
// application object, in that order.
struct HeadlessQt {
    bool offscreen = qputenv("QT_QPA_PLATFORM", "offscreen");  // members initialise in this order
    PrivateRuntimeDir runtimeDir;
    int argc = 1;
    char arg0[14] = "superlens-cli";
    char* argv[2] = {arg0, nullptr};
    QApplication app{argc, argv};
};

// A super weight in `figure --json`: its coordinate (and routed expert, when inside one).
nlohmann::json figureSuperWeightJson(const core::SuperWeight& sw) {
    nlohmann::json j = {{"layer", sw.layer}, {"row", sw.row}, {"col", sw.col}};
    if (sw.expert >= 0) j["expert"] = sw.expert;
    return j;
}

int runFigure(const FigureOptions& o) {
    widgets::FigureFormat format;
    if (!widgets::figureFormatFromPath(QString::fromStdString(o.out), &format)) {
        return fail(o.out + ": unknown figure format (use .pdf, .svg or .png)");
    }
    // Refuse a bad destination before the model runs (the export checks again).
    if (auto ok = core::checkOutputFile(o.out, "the figure"); !ok) return fail(ok.error());
    const QStringList kinds = QString::fromStdString(o.kind).split(QLatin1Char(','), Qt::SkipEmptyParts);
    if (kinds.isEmpty()) return fail("no figure kind given (one of " + std::string(kKinds) + ")");
    for (const QString& k : kinds) {
        if (!widgets::viewKindNames().contains(k.trimmed())) return fail("unknown figure kind '" + k.toStdString() + "' (one of " + kKinds + ")");
    }
    const widgets::FigurePreset* preset = widgets::findFigurePreset(QString::fromStdString(o.style));
    if (!preset) return usageError("--style: unknown preset '" + o.style + "' (one of " + widgets::figurePresetIds().join(QStringLiteral(", ")).toStdString() + ")");
    double customWidth = 0;
    if (o.width != "one" && o.width != "two") {
        try {
            customWidth = std::stod(o.width);
        } catch (...) {
            return fail("--width: '" + o.width + "' is not one, two or a width in inches");
        }
        if (!(customWidth >= 1 && customWidth <= 20)) return fail("--width: expected 1..20 inches");
    }

    // Vision models read an image (--image / --pixels), as every command does.
    auto run = prepareRun(o.model, o.input, o.edits, /*images=*/true, engineOptions(o.compute));
    if (!run) return fail(run.error());
    const std::shared_ptr<const core::Model>& model = run->model;
    const std::shared_ptr<const core::PixelTensor>& pixels = run->pixels;
    const std::vector<core::TokenId>& ids = run->tokens;
    const std::vector<core::EditSpec>* resolved = &run->edits;
    core::Engine& engine = *run->engine;
    const core::Tokenizer* tokenizer = run->tokenizer.get();
    auto request = [&](std::vector<core::EditSpec> e, std::shared_ptr<const core::ForwardResult> previous) {
        return pixels ? core::view::viewForwardRequest(pixels, std::move(e), std::move(previous))
                      : core::view::viewForwardRequest(ids, std::move(e), std::move(previous));
    };
    auto baseline = run->editsFor(o.baselineEdits);
    if (!baseline) return fail(baseline.error());

    // Same pipeline as the GUI: original run, super-weight scan, edited run
    // reusing the original's unedited blocks, then the snapshot the views draw.
    auto original = engine.run(request({}, nullptr));
    if (!original) return fail(original.error());
    core::Result<core::ModelSuperWeights> scan = core::ModelSuperWeights{};
    if (pixels) {
        // A vision model: the scan runs on the image (as scan --image / --pixels).
        core::SuperWeightScanOptions scanOptions;
        scanOptions.pixels = pixels;
        auto s = core::scanSuperWeights(engine, {}, {}, scanOptions);
        if (!s) return fail(s.error());
        scan->weights = s->superWeights;
    } else {
        scan = core::findModelSuperWeights(engine, ids, {});
        if (!scan) return fail(scan.error());
    }
    core::view::SnapshotInputs inputs;
    inputs.model = model.get();
    inputs.modelName = model->config().nameOrPath.empty() ? model->folder().filename().string() : model->config().nameOrPath;
    inputs.tokenizer = tokenizer;
    inputs.original = *original;
    inputs.superWeights = scan->weights;
    inputs.scanned = true;
    inputs.engine = &engine;
    if (pixels) inputs.imageSource = std::filesystem::absolute(o.input.hasImage ? o.input.image : o.input.pixels).lexically_normal().string();
    if (scan->profile) inputs.expertProfile = std::make_shared<const core::SuperExpertProfile>(std::move(*scan->profile));
    if (tokenizer) inputs.stopwordIds = core::stopwordTokenIds(*tokenizer, core::englishStopwords());
    if (!resolved->empty()) {
        auto edited = engine.run(request(*resolved, *original));
        if (!edited) return fail(edited.error());
        inputs.edited = *edited;
    }
    if (!baseline->empty()) {
        // Run A (the baseline edits) vs run B (the edits, or none), as the GUI compares two runs.
        auto a = engine.run(request(*baseline, *original));
        if (!a) return fail(a.error());
        if (!inputs.edited) inputs.edited = *original;
        inputs.original = *a;
        inputs.comparison = "baseline vs edited";
    }
    // Model B (the GUI's Compare with model…): what `compare A B` reports for
    // the compare figure; with --overlay-b, B's run of the same tokens (with
    // the same edits) is every view's second side, as the GUI's "Overlay model B".
    std::shared_ptr<const core::Model> modelB;
    std::unique_ptr<core::Engine> engineB;
    std::optional<core::Imatrix> imatrix;
    if (!o.imatrix.empty()) {
        auto im = core::Imatrix::open(o.imatrix);
        if (!im) return fail(im.error());
        imatrix = std::move(im).value();
        inputs.imatrix = std::make_shared<const core::Imatrix>(*imatrix);
        inputs.imatrixName = std::filesystem::path(o.imatrix).filename().string();
    }
    if (!o.compareWith.empty()) {
        if (!baseline->empty() && o.overlayB) return usageError("--overlay-b draws model B as the second side: --baseline-edit does not apply");
        auto b = openModel(o.compareWith);
        if (!b) return fail(b.error());
        modelB = *b;
        core::ModelCompareOptions compareOptions;
        if (imatrix && (model->isGguf() || modelB->isGguf())) compareOptions.imatrix = &*imatrix;
        auto cmp = core::compareModels(model, modelB, ids, compareOptions);
        if (!cmp) return fail(cmp.error());
        inputs.modelComparison = std::make_shared<const core::ModelComparison>(std::move(cmp).value());
        inputs.modelB = modelB.get();
        inputs.modelBName = modelB->config().nameOrPath.empty() ? modelB->folder().filename().string() : modelB->config().nameOrPath;
    }
    if (o.overlayB) {
        // B runs with A's --compute, and its keep_super comes from a scan of B.
        engineB = std::make_unique<core::Engine>(modelB, engineOptions(o.compute));
        auto parsedB = resolveEdits(o.edits, *modelB, static_cast<std::int64_t>(ids.size()));
        if (!parsedB) return fail(parsedB.error());
        auto editsB = resolveKeepSuper(*engineB, ids, std::move(parsedB).value());
        if (!editsB) return fail(editsB.error());
        auto runB = engineB->run(core::view::viewForwardRequest(ids, std::move(editsB).value()));
        if (!runB) return fail(runB.error());
        if (inputs.edited) inputs.original = inputs.edited;  // A with the edits vs B with the edits
        inputs.edited = *runB;
        inputs.editedEngine = engineB.get();
        inputs.comparison = "A: " + inputs.modelName + " vs B: " + inputs.modelBName;
    }
    for (const auto& [key, value] : o.viewState) {
        if (key != "loss-text") continue;
        // The Loss view's held-out text: its first tokens, without and with the edits.
        if (!tokenizer) return fail("--loss-text: " + o.model + " has no tokenizer to encode the text with");
        auto held = core::view::heldOutLossOf(engine, *tokenizer, value, *baseline, *resolved);
        if (!held) return fail(held.error());
        inputs.heldOutLoss = held->loss;
    }
    auto snapshot = core::view::buildViewSnapshot(inputs);
    if (!snapshot) return fail(snapshot.error());
    if (o.layer >= (*snapshot)->layers) return fail("--layer " + std::to_string(o.layer) + ": the model has " + std::to_string((*snapshot)->layers) + " layers");

    HeadlessQt qt;
    // Options from the preset (its font resolved now that Qt knows the installed fonts).
    widgets::ExportOptions options = widgets::presetExportOptions(*preset, o.width == "two");
    if (customWidth > 0) options.widthInches = customWidth;
    if (o.height > 0) options.heightInches = o.height;
    if (o.fontSize > 0) options.fontPoints = o.fontSize;
    options.dpi = o.dpi;
    options.writeCsv = !o.noCsv;
    std::error_code ec;
    const std::filesystem::path modelAbs = std::filesystem::weakly_canonical(std::filesystem::absolute(o.model), ec);
    const std::filesystem::path outAbs = std::filesystem::absolute(o.out, ec).lexically_normal();
    widgets::FigureCommand command;
    command.kinds = kinds;
    command.model = QString::fromStdString(modelAbs.string());
    if (pixels) command.image = QString::fromStdString(inputs.imageSource);
    else if (o.input.hasPrompt) command.prompt = QString::fromStdString(o.input.prompt);
    QStringList idText;
    for (core::TokenId id : ids) idText << QString::number(id);
    if (!o.input.hasPrompt && !pixels) command.ids = idText.join(QLatin1Char(','));
    for (const auto& e : *resolved) command.edits << QString::fromStdString(e.text());
    command.compute = QString::fromLatin1(core::computeDtypeName(o.compute.dtype));
    for (const auto& e : *baseline) command.baselineEdits << QString::fromStdString(e.text());
    command.overlayB = o.overlayB;
    if (!o.compareWith.empty()) command.compareWith = QString::fromStdString(std::filesystem::weakly_canonical(std::filesystem::absolute(o.compareWith), ec).string());
    if (!o.imatrix.empty()) command.imatrix = QString::fromStdString(std::filesystem::weakly_canonical(std::filesystem::absolute(o.imatrix), ec).string());
    command.layer = o.layer >= 0 ? o.layer : core::view::defaultSelectedLayer(**snapshot);
    command.options = options;
    command.out = QString::fromStdString(outAbs.string());
    options.provenance.version = QStringLiteral(SUPERLENS_VERSION);
    options.provenance.modelPath = command.model;
    options.provenance.modelFingerprint = QString::fromStdString(model->fingerprint());
    options.provenance.prompt = command.prompt;
    options.provenance.ids = idText.join(QLatin1Char(','));
    options.provenance.image = command.image;
    options.provenance.edits = command.edits;
    std::vector<std::unique_ptr<widgets::PlotView>> views;
    for (const QString& k : kinds) {
        views.emplace_back(widgets::createView(k.trimmed()));
        views.back()->resize(1000, 700);
        views.back()->setSelectedLayer(o.layer >= 0 ? o.layer : core::view::defaultSelectedLayer(**snapshot));
        views.back()->setSnapshot(*snapshot);
    }
    // --position, --head, --pattern, --carriers: each must reach one of the views drawn.
    for (const auto& [key, value] : o.viewState) {
        bool applied = false;
        for (const auto& v : views) {
            QString problem;
            if (v->applyFigureState(QString::fromStdString(key), QString::fromStdString(value), &problem)) applied = true;
            else if (!problem.isEmpty()) return fail(problem.toStdString());
        }
        if (!applied) {
            std::string owner;
            for (const auto& [option, kind] : kViewStateOptions) {
                if (key == option) owner = kind;
            }
            return usageError("--" + key + " applies to the " + owner + " figure only");
        }
    }
    // The command names every view control (given or default), as a GUI export does.
    for (const auto& v : views) {
        for (const auto& kv : v->figureState()) {
            if (!command.viewState.contains(kv)) command.viewState.append(kv);
        }
    }
    options.provenance.command = widgets::figureCommandLine(command);
    widgets::PlotView* view = views.front().get();
    QString error;
    const QString out = QString::fromStdString(o.out);
    auto list = [](const QStringList& l) {
        nlohmann::json a = nlohmann::json::array();
        for (const QString& s : l) a.push_back(s.toStdString());
        return a;
    };
    if (views.size() > 1) {
        QList<widgets::PlotView*> panels;
        for (const auto& v : views) panels << v.get();
        widgets::MultiPanelReport report;
        if (!widgets::exportMultiPanelFigure(panels, out, options, &error, &report)) return fail(error.toStdString());
        if (o.json) {
            nlohmann::json j = {{"kind", o.kind}, {"figure", o.out}, {"layer", view->selectedLayer()}, {"style", o.style},
                                {"width_in", options.widthInches}, {"height_in", report.heightInches}, {"font", options.fontFamily.toStdString()},
                                {"font_size", options.fontPoints}, {"caption", report.caption.toStdString()},
                                {"shared_legend", list(report.sharedLegend)}};
            j["panels"] = nlohmann::json::array();
            for (const auto& p : report.panels) {
                j["panels"].push_back({{"letter", p.letter.toStdString()}, {"kind", p.kind.toStdString()},
                                       {"csv", p.csv.isEmpty() ? nlohmann::json(nullptr) : nlohmann::json(p.csv.toStdString())},
                                       {"layout", {{"shortened", list(p.layout.shortenedTexts)},
                                                   {"dropped_annotations", list(p.layout.droppedAnnotations)},
                                                   {"legends", list(p.layout.legendPlacements)},
                                                   {"problems", list(p.layout.problems)}}}});
            }
            j["super_weights"] = nlohmann::json::array();
            for (const auto& sw : scan->weights) j["super_weights"].push_back(figureSuperWeightJson(sw));
            printJson(j);
        } else {
            std::printf("%s\n", o.out.c_str());
            for (const auto& p : report.panels) {
                if (!p.csv.isEmpty()) std::printf("%s\n", p.csv.toStdString().c_str());
            }
        }
        return kExitOk;
    }
    widgets::ExportReport report;
    if (!widgets::exportFigure(*view, out, options, &error, &report)) return fail(error.toStdString());
    const std::string csv = options.writeCsv ? widgets::csvPathFor(out).toStdString() : std::string();
    if (o.json) {
        nlohmann::json j = {{"kind", o.kind}, {"figure", o.out}, {"layer", view->selectedLayer()}};
        j["style"] = o.style;
        j["width_in"] = options.widthInches;
        j["height_in"] = options.heightInches;
        j["font"] = options.fontFamily.toStdString();
        j["font_size"] = options.fontPoints;
        j["caption"] = report.caption.toStdString();
        j["layout"] = {{"shortened", list(report.layout.shortenedTexts)},
                       {"dropped_annotations", list(report.layout.droppedAnnotations)},
                       {"legends", list(report.layout.legendPlacements)},
                       {"problems", list(report.layout.problems)}};
        j["csv"] = csv.empty() ? nlohmann::json(nullptr) : nlohmann::json(csv);
        j["super_weights"] = nlohmann::json::array();
        for (const auto& sw : scan->weights) j["super_weights"].push_back(figureSuperWeightJson(sw));
        printJson(j);
    } else {
        std::printf("%s\n", o.out.c_str());
        if (!csv.empty()) std::printf("%s\n", csv.c_str());
    }
    return kExitOk;
}
// The study views (laser, quant) from a study JSON (superlens-cli study laser|quant --json, or the GUI's Save study).
int runStudyFigure(const FigureOptions& o) {
    widgets::FigureFormat format;
    if (!widgets::figureFormatFromPath(QString::fromStdString(o.out), &format)) return fail(o.out + ": unknown figure format (use .pdf, .svg or .png)");
    if (auto ok = core::checkOutputFile(o.out, "the figure"); !ok) return fail(ok.error());
    const widgets::FigurePreset* preset = widgets::findFigurePreset(QString::fromStdString(o.style));
    if (!preset) return usageError("--style: unknown preset '" + o.style + "'");
    auto text = readTextFile(o.study);
    if (!text) return fail(text.error());
    const bool superWeight = core::isSuperWeightStudyJson(*text);
    if (superWeight != (o.kind == "superweight")) {
        return fail(o.study + (superWeight ? ": a superweight study, not " + o.kind : ": not a super-weight study (superlens-cli study superweight --json)"));
    }
    auto kind = superWeight ? core::Result<std::string>(std::string("superweight")) : core::compressionStudyKind(*text, o.study);
    if (!kind) return fail(kind.error());
    if (*kind != o.kind) return fail(o.study + ": a " + *kind + " study, not " + o.kind);
    HeadlessQt qt;
    std::unique_ptr<widgets::PlotView> view;
    if (*kind == "superweight") {
        auto s = core::parseSuperWeightStudyJson(*text, o.study);
        if (!s) return fail(s.error());
        auto v = std::make_unique<widgets::SuperWeightStudyView>();
        v->setStudy(std::make_shared<const core::SuperWeightStudy>(std::move(s).value()));
        view = std::move(v);
    } else if (*kind == "laser") {
        auto s = core::parseLaserStudyJson(*text, o.study);
        if (!s) return fail(s.error());
        auto v = std::make_unique<widgets::LaserHeatmapView>();
        v->setStudy(std::make_shared<const core::LaserStudy>(std::move(s).value()));
        view = std::move(v);
    } else {
        auto s = core::parseQuantStudyJson(*text, o.study);
        if (!s) return fail(s.error());
        auto v = std::make_unique<widgets::QuantPlotView>();
        v->setStudy(std::make_shared<const core::QuantStudy>(std::move(s).value()));
        view = std::move(v);
    }
    view->resize(1000, 700);
    for (const auto& [key, value] : o.viewState) {
        QString problem;
        if (view->applyFigureState(QString::fromStdString(key), QString::fromStdString(value), &problem)) continue;
        if (!problem.isEmpty()) return fail(problem.toStdString());
        return usageError("--" + key + " does not apply to the " + o.kind + " figure");
    }
    widgets::ExportOptions options = widgets::presetExportOptions(*preset, o.width == "two");
    if (o.width != "one" && o.width != "two") {
        try {
            options.widthInches = std::stod(o.width);
        } catch (...) {
            return fail("--width: '" + o.width + "' is not one, two or a width in inches");
        }
    }
    if (o.height > 0) options.heightInches = o.height;
    if (o.fontSize > 0) options.fontPoints = o.fontSize;
    options.dpi = o.dpi;
    options.writeCsv = !o.noCsv;
    std::error_code ec;
    widgets::FigureCommand command;
    command.kinds = {QString::fromStdString(o.kind)};
    command.study = QString::fromStdString(std::filesystem::absolute(o.study, ec).lexically_normal().string());
    command.viewState = view->figureState();
    command.options = options;
    command.out = QString::fromStdString(std::filesystem::absolute(o.out, ec).lexically_normal().string());
    options.provenance.version = QStringLiteral(SUPERLENS_VERSION);
    options.provenance.command = widgets::figureCommandLine(command);
    QString error;
    const QString out = QString::fromStdString(o.out);
    if (!widgets::exportFigure(*view, out, options, &error)) return fail(error.toStdString());
    std::printf("%s\n", o.out.c_str());
    if (options.writeCsv) std::printf("%s\n", widgets::csvPathFor(out).toStdString().c_str());
    return kExitOk;
}

// --from FIGURE: the command embedded in the figure, run again (with --out replaced when given).
int runFromFigure(const FigureOptions& o) {
    widgets::FigureProvenance provenance;
    QString error;
    if (!widgets::readFigureProvenance(QString::fromStdString(o.from), &provenance, &error)) return fail(error.toStdString());
    QStringList words;
    if (!widgets::splitShellWords(provenance.command, &words) || words.size() < 3 || words[1] != QLatin1String("figure")) {
        return fail(o.from + ": the embedded command is not a superlens-cli figure command: " + provenance.command.toStdString());
    }
    if (!o.out.empty()) {
        const qsizetype at = words.indexOf(QStringLiteral("--out"));
        if (at < 0 || at + 1 >= words.size()) return fail(o.from + ": the embedded command has no --out");
        words[at + 1] = QString::fromStdString(o.out);
    }
    if (o.json) words << QStringLiteral("--json");
    std::vector<std::string> args;
    for (qsizetype i = words.size() - 1; i >= 1; --i) args.push_back(words[i].toStdString());  // CLI11 takes them reversed
    CLI::App app;
    CliContext ctx;
    addFigureCommand(app, ctx);
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        return fail(o.from + ": the embedded command does not parse (" + e.what() + "): " + provenance.command.toStdString());
    }
    if (!ctx.run) return fail(o.from + ": the embedded command does not parse: " + provenance.command.toStdString());
    return ctx.run();
}
#else
int runStudyFigure(const FigureOptions&) {
    return fail("figure: this build of superlens-cli has no GUI widgets (configure with -DSUPERLENS_BUILD_GUI=ON to render figures)");
}
int runFromFigure(const FigureOptions&) {
    return fail("figure: this build of superlens-cli has no GUI widgets (configure with -DSUPERLENS_BUILD_GUI=ON to render figures)");
}
int runFigure(const FigureOptions&) {
    return fail("figure: this build of superlens-cli has no GUI widgets (configure with -DSUPERLENS_BUILD_GUI=ON to render figures)");
}
#endif

}  // namespace

void addFigureCommand(CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<FigureOptions>();
    CLI::App* cmd = app.add_subcommand("figure", "Render one of the GUI's views as a paper figure (PDF/SVG/PNG + CSV), headless");
    cmd->add_option("KIND", opts->kind, std::string("Figure kind: ") + kKinds + "; several, comma-separated, make one multi-panel figure");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder or GGUF file");
    cmd->add_option("--from", opts->from, "Regenerate a figure from the superlens-cli command embedded in an exported PDF, SVG or PNG");
    addInputOptions(cmd, opts->input);
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--out", opts->out, "Output file: .pdf, .svg or .png (the data goes to the same name with .csv)");
    cmd->add_option("--layer", opts->layer, "Layer to show (default: the first super weight's layer, else the largest spike)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--style", opts->style,
                    "Venue preset for widths, height and fonts: " + widgets::figurePresetIds().join(QStringLiteral(", ")).toStdString() + " (docs/FIGURES.md)");
    cmd->add_option("--width", opts->width, "one (the preset's column: 3.5 in by default), two (its full width: 7 in) or a width in inches");
    cmd->add_option("--height", opts->height, "Height in inches (default from the style and width)")->check(CLI::Range(1.0, 20.0));
    cmd->add_option("--font-size", opts->fontSize, "Font size in points")->check(CLI::Range(4.0, 24.0));
    cmd->add_option("--dpi", opts->dpi, "PNG resolution")->check(CLI::Range(72, 1200));
    auto viewOption = [cmd, opts](const char* name, const std::string& help) {
        cmd->add_option_function<std::string>(
            std::string("--") + name, [opts, name](const std::string& value) { opts->viewState.emplace_back(name, value); }, help);
    };
    cmd->add_option("--baseline-edit", opts->baselineEdits.specs,
                    "Edit of the run drawn as 'original' (repeatable): compare two edited runs, as the GUI's run history does");
    cmd->add_option("--compare-with", opts->compareWith,
                    "Model B of the same shapes (folder or .gguf) beside MODEL: the compare figure draws what `compare MODEL B` reports "
                    "(the GUI's File → Compare with model…)");
    cmd->add_flag("--overlay-b", opts->overlayB,
                  "With --compare-with: every figure draws B's run of the prompt (same edits) as the second side (the GUI's Overlay model B)");
    cmd->add_option("--imatrix", opts->imatrix,
                    "llama.cpp importance matrix (imatrix.dat or GGUF imatrix): the layer figure's down_proj input columns, the compare figure's super weights");
    cmd->add_option("--study", opts->study, "laser / quant / superweight figures: the study JSON (superlens-cli study laser|quant|superweight --json)");
    viewOption("matrix", "laser: the matrix type shown (default: the study's first)");
    viewOption("metric", "laser, quant, superweight: the measure shown (default: the study's first; superweight: ppl, ppl_ratio, stopword_mass, "
                         "stopword_ratio, accuracy)");
    viewOption("show", "superweight: conditions (default; bars with their intervals), null (the null control's distribution) or joint "
                       "(the interaction matrix)");
    viewOption("change", "laser: yes to show value - baseline (default no)");
    viewOption("position", "lens: the position the layer rows describe (default: the last)");
    viewOption("head", "attention, patches (attention quantities): mean (default) or one head H");
    viewOption("pattern", "attention: original (default) or edited, the run whose pattern is drawn");
    viewOption("loss-text", "loss: the per-token loss of this text's first 128 tokens (BOS first) instead of the prompt's");
    viewOption("tensor", "layer: output (default; down_proj output) or input (down_proj input, with the importance matrix's panel)");
    viewOption("carriers", "sinks: first (default; mass on the first token) or all (on every massive-activation carrier)");
    viewOption("quantity", "patches: massive (default: max |resid_post| per token), attn-cls, attn-registers (attention on CLS / the registers) or hook");
    viewOption("channel", "patches: one channel (massive: of resid_post, default the max over channels; hook: required)");
    viewOption("hook", "patches: with --quantity hook, hook_resid_post, hook_mlp_out or mlp.hook_post of the --layer");
    cmd->add_flag("--no-csv", opts->noCsv, "Do not write the CSV next to the figure");
    cmd->add_flag("--json", opts->json,
                  "Print one JSON document {\"kind\", \"figure\", \"csv\", \"layer\", \"super_weights\", \"style\", \"width_in\", "
                  "\"height_in\", \"font\", \"font_size\", \"caption\", \"layout\"}");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->from.empty()) {
                if (!opts->kind.empty() || !opts->model.empty() || opts->input.given()) {
                    return usageError("figure --from FILE takes no KIND, MODEL or input: they come from the file");
                }
                return runFromFigure(*opts);
            }
            if (opts->kind == "laser" || opts->kind == "quant" || opts->kind == "superweight") {
                if (opts->study.empty() || !opts->model.empty() || opts->input.given())
                    return usageError("figure " + opts->kind + " draws a study: --study FILE.json (from superlens-cli study " + opts->kind +
                                      " --json), no MODEL or input");
                if (opts->out.empty()) return usageError("figure needs --out FILE.(pdf|svg|png)");
                return runStudyFigure(*opts);
            }
            if (!opts->study.empty()) return usageError("--study goes with the laser, quant and superweight figures");
            if (opts->overlayB && opts->compareWith.empty()) return usageError("--overlay-b needs --compare-with B");
            if (opts->compareWith.empty() && ("," + opts->kind + ",").find(",compare,") != std::string::npos)
                return usageError("figure compare needs --compare-with B (the model compared with MODEL)");
            if (opts->kind.empty() || opts->model.empty()) return usageError("figure needs KIND and MODEL (or --from FILE)");
            if (opts->out.empty()) return usageError("figure needs --out FILE.(pdf|svg|png)");
            if (!opts->input.given()) return usageError("figure needs --prompt TEXT or --ids 1,2,3 (vision models: --image FILE or --pixels FILE.npy)");
            return runFigure(*opts);
        };
    });
}

const CommandRegistration kFigureRegistration(90, [](CLI::App& app, CliContext& ctx) { addFigureCommand(app, ctx); });

}  // namespace superlens::cli
