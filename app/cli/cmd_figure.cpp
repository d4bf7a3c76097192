// superlens-cli figure KIND MODEL (--prompt TEXT | --ids 1,2,3) [--edit E]... --out FILE.(pdf|svg|png)
//                      [--layer N] [--width one|two|INCHES] [--height INCHES] [--font-size PT] [--dpi N] [--no-csv] [--json]
// Renders one of the GUI's views headless (Qt's offscreen platform, created
// only here) and writes the figure plus FILE.csv with the data behind it.
// Kinds: spikes, layer, propagation, massive, logits, attention.

#include <cstdio>

#include "cli_common.h"

#ifdef SUPERLENS_CLI_HAS_WIDGETS
#include <QApplication>
#include <QFileInfo>

#include "build_view_snapshot.h"
#include "figure_export.h"
#include "plot_view.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/analysis/super_weights.h"
#include "view_registry.h"
#endif

namespace superlens::cli {
namespace {

struct FigureOptions {
    std::string kind;
    std::string model;
    InputOptions input;
    EditOptions edits;
    std::string out;
    int layer = -1;
    std::string width = "one";
    double height = 0;
    double fontSize = 0;
    int dpi = 300;
    bool noCsv = false;
    bool json = false;
};

const char* const kKinds = "spikes, layer, propagation, massive, logits, attention";

#ifdef SUPERLENS_CLI_HAS_WIDGETS
int runFigure(const FigureOptions& o) {
    widgets::FigureFormat format;
    if (!widgets::figureFormatFromPath(QString::fromStdString(o.out), &format)) {
        return fail(o.out + ": unknown figure format (use .pdf, .svg or .png)");
    }
    if (!widgets::viewKindNames().contains(QString::fromStdString(o.kind))) {
        return fail("unknown figure kind '" + o.kind + "' (one of " + kKinds + ")");
    }
    widgets::ExportOptions options = o.width == "two" ? widgets::ExportOptions::twoColumn() : widgets::ExportOptions::oneColumn();
    if (o.width != "one" && o.width != "two") {
        try {
            options.widthInches = std::stod(o.width);
        } catch (...) {
            return fail("--width: '" + o.width + "' is not one, two or a width in inches");
        }
        if (options.widthInches < 1 || options.widthInches > 20) return fail("--width: expected 1..20 inches");
    }
    if (o.height > 0) options.heightInches = o.height;
    if (o.fontSize > 0) options.fontPoints = o.fontSize;
    options.dpi = o.dpi;
    options.writeCsv = !o.noCsv;

    auto model = openModel(o.model);
    if (!model) return fail(model.error());
    auto ids = resolveTokens(o.input, **model);
    if (!ids) return fail(ids.error());
    auto edits = resolveEdits(o.edits, **model, static_cast<std::int64_t>(ids->size()));
    if (!edits) return fail(edits.error());
    core::Engine engine(*model);
    auto resolved = resolveKeepSuper(engine, *ids, std::move(edits).value());
    if (!resolved) return fail(resolved.error());
    std::unique_ptr<core::Tokenizer> tokenizer;
    if (core::Tokenizer::folderHasTokenizer((*model)->folder())) {
        auto t = core::Tokenizer::loadFromFolder((*model)->folder());
        if (!t) return fail(t.error());
        tokenizer = std::move(t).value();
    }

    // Same pipeline as the GUI: original run, super-weight scan, edited run
    // reusing the original's unedited blocks, then the snapshot the views draw.
    auto original = engine.run(widgets::viewForwardRequest(*ids, {}));
    if (!original) return fail(original.error());
    auto scan = core::scanSuperWeights(engine, *ids, {});
    if (!scan) return fail(scan.error());
    widgets::SnapshotInputs inputs;
    inputs.model = model->get();
    inputs.modelName = (*model)->config().nameOrPath.empty() ? (*model)->folder().filename().string() : (*model)->config().nameOrPath;
    inputs.tokenizer = tokenizer.get();
    inputs.original = *original;
    inputs.superWeights = scan->superWeights;
    inputs.scanned = true;
    if (tokenizer) inputs.stopwordIds = core::stopwordTokenIds(*tokenizer, core::englishStopwords());
    if (!resolved->empty()) {
        auto edited = engine.run(widgets::viewForwardRequest(*ids, *resolved, *original));
        if (!edited) return fail(edited.error());
        inputs.edited = *edited;
    }
    auto snapshot = widgets::buildViewSnapshot(inputs);
    if (!snapshot) return fail(snapshot.error());
    if (o.layer >= (*snapshot)->layers) return fail("--layer " + std::to_string(o.layer) + ": the model has " + std::to_string((*snapshot)->layers) + " layers");

    // The offscreen platform exists only for this command: no display needed.
    qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char arg0[] = "superlens-cli";
    char* argv[] = {arg0, nullptr};
    QApplication app(argc, argv);
    std::unique_ptr<widgets::PlotView> view(widgets::createView(QString::fromStdString(o.kind)));
    view->resize(1000, 700);
    view->setSelectedLayer(o.layer >= 0 ? o.layer : widgets::defaultSelectedLayer(**snapshot));
    view->setSnapshot(*snapshot);
    QString error;
    const QString out = QString::fromStdString(o.out);
    if (!widgets::exportFigure(*view, out, options, &error)) return fail(error.toStdString());
    const std::string csv = options.writeCsv ? widgets::csvPathFor(out).toStdString() : std::string();
    if (o.json) {
        nlohmann::json j = {{"kind", o.kind}, {"figure", o.out}, {"layer", view->selectedLayer()}};
        j["csv"] = csv.empty() ? nlohmann::json(nullptr) : nlohmann::json(csv);
        j["super_weights"] = nlohmann::json::array();
        for (const auto& sw : scan->superWeights) j["super_weights"].push_back({{"layer", sw.layer}, {"row", sw.row}, {"col", sw.col}});
        printJson(j);
    } else {
        std::printf("%s\n", o.out.c_str());
        if (!csv.empty()) std::printf("%s\n", csv.c_str());
    }
    return kExitOk;
}
#else
int runFigure(const FigureOptions&) {
    return fail("figure: this build of superlens-cli has no GUI widgets (configure with -DSUPERLENS_BUILD_GUI=ON to render figures)");
}
#endif

}  // namespace

const CommandRegistration kFigureRegistration(90, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<FigureOptions>();
    CLI::App* cmd = app.add_subcommand("figure", "Render one of the GUI's views as a paper figure (PDF/SVG/PNG + CSV), headless");
    cmd->add_option("KIND", opts->kind, std::string("Figure kind: ") + kKinds)->required();
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    addInputOptions(cmd, opts->input);
    addEditOptions(cmd, opts->edits);
    cmd->add_option("--out", opts->out, "Output file: .pdf, .svg or .png (the data goes to the same name with .csv)")->required();
    cmd->add_option("--layer", opts->layer, "Layer to show (default: the first super weight's layer, else the largest spike)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--width", opts->width, "one (3.5 in), two (7 in) or a width in inches");
    cmd->add_option("--height", opts->height, "Height in inches (default from the width preset)")->check(CLI::Range(1.0, 20.0));
    cmd->add_option("--font-size", opts->fontSize, "Font size in points")->check(CLI::Range(4.0, 24.0));
    cmd->add_option("--dpi", opts->dpi, "PNG resolution")->check(CLI::Range(72, 1200));
    cmd->add_flag("--no-csv", opts->noCsv, "Do not write the CSV next to the figure");
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"kind\", \"figure\", \"csv\", \"layer\", \"super_weights\"}");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->input.given()) return usageError("figure needs --prompt TEXT or --ids 1,2,3");
            return runFigure(*opts);
        };
    });
});

}  // namespace superlens::cli
