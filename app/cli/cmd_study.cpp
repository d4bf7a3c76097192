// superlens-cli study superweight MODEL (--text FILE | --text-ids FILE) [--tasks FILE | --no-tasks]
//     [--super-weights L:R:C;...] [--prompt TEXT | --ids ...] [--ctx N] [--stride S]
//     [--stopwords FILE | --stopword-ids ...] [--outliers N] [--markdown FILE] [--edit E]... [--json]
//     [--ci LEVEL] [--bootstrap N] [--null K] [--joint]
// The super-weight paper's ablation study in one table (superweight_study.h): original /
// super weights zeroed / zeroed + super activation restored / as many largest
// other outliers zeroed — perplexity, zero-shot accuracy, stopword shift.
//
// This file creates the `study` parent command (order 90, one child
// required); other study kinds (laser, quant) add their children to it from
// their own files with app.get_subcommand("study") at a later order.

#include <cstdio>
#include <fstream>
#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/superweight_study.h"
#include "superlens/core/system/output_file.h"

namespace superlens::cli {
namespace {

struct StudyCliOptions {
    analysis::TextRunOptions run;
    InputOptions scanInput;
    std::string tasks;
    bool noTasks = false;
    std::string superWeights;
    analysis::StopwordInput stopwords;
    bool noStopwords = false;
    int outliers = 0;
    std::string markdownFile;
    core::SuperWeightScanOptions scan;
    bool json = false;
    core::BootstrapOptions bootstrap;
    int nullCount = 0;
    bool joint = false;
};

int runStudySuperWeight(const StudyCliOptions& o) {
    // A bad --markdown destination is refused before the study runs.
    if (!o.markdownFile.empty()) {
        if (auto ok = core::checkOutputFile(o.markdownFile, "the table"); !ok) return fail(ok.error());
    }
    auto run = analysis::prepareTextRun(o.run);
    if (!run) return fail(run.error());
    const core::Model& m = *run->model;
    const core::Tokenizer* tok = run->tokenizer.get();
    const int context = run->context;

    core::SuperWeightStudyInputs in;
    in.textTokens = run->tokens;
    in.tokenizer = tok;
    if (o.scanInput.given()) {
        auto ids = resolveTokens(o.scanInput, m, tok);
        if (!ids) return fail(ids.error());
        in.scanTokens = std::move(ids).value();
    }
    if (!o.superWeights.empty()) {
        auto coords = analysis::parseCoordList(o.superWeights, "--super-weights");
        if (!coords) return fail(coords.error());
        in.superWeights = std::move(coords).value();
    }
    auto studyTasks = core::studyZeroShotTasks(o.tasks, o.noTasks, tok, m.folder().string());
    if (!studyTasks) return fail(studyTasks.error());
    const std::vector<core::ZeroShotTask>& tasks = studyTasks->tasks;
    const std::string& tasksLabel = studyTasks->label;
    if (!tasks.empty()) in.tasks = &tasks;
    if (!o.noStopwords && (tok || !o.stopwords.ids.empty())) {
        auto ids = analysis::resolveStopwordIds(o.stopwords, m, tok);
        if (!ids) return fail(ids.error());
        in.stopwordIds = std::move(ids).value();
    }

    // keep_super: a scan of --prompt/--ids when given, else of the text's head.
    if (auto ok = run->resolveKeepSuper(in.scanTokens); !ok) return fail(ok.error());
    const std::vector<core::EditSpec>& resolved = run->edits;

    core::SuperWeightStudyOptions so;
    so.perplexity.context = context;
    so.perplexity.stride = o.run.stride;
    so.outlierCount = o.outliers;
    so.scan = o.scan;
    so.bootstrap = o.bootstrap;
    so.nullCount = o.nullCount;
    so.joint = o.joint;
    if (auto v = core::validate(so.bootstrap); !v) return usageError(v.error().message);
    auto study = core::studySuperWeight(*run->engine, in, resolved, so);
    if (!study) {
        if (in.superWeights.empty() && study.error().message.find("no super weight") != std::string::npos) {
            return fail(o.run.model + ": " + study.error().message + "; give them with --super-weights LAYER:ROW:COL");
        }
        return fail(study.error());
    }
    const std::string md = study->markdown();
    if (!o.markdownFile.empty()) {
        if (auto ok = core::writeFileAtomically(o.markdownFile, md, "the table"); !ok) return fail(ok.error());
    }
    nlohmann::json j;
    if (o.json) {
        j["study"] = "superweight";  // figure superweight --study and the GUI read this document (superweight_study_json.h)
        j["super_weights"] = nlohmann::json::array();
        for (const auto& sw : study->superWeights) j["super_weights"].push_back(analysis::superWeightJson(sw, m));
        j["outliers"] = nlohmann::json::array();
        for (const auto& c : study->outliers) j["outliers"].push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}});
        j["conditions"] = nlohmann::json::parse(study->conditionsJson());
        j["joint"] = nlohmann::json::parse(study->jointJson());
        j["ci"] = analysis::ciJson(so.bootstrap);
        j["context"] = so.perplexity.context;
        j["stride"] = so.perplexity.stride == 0 ? so.perplexity.context : so.perplexity.stride;
        j["tasks"] = tasksLabel.empty() ? nlohmann::json(nullptr) : nlohmann::json(tasksLabel);
        j["stopword_ids"] = in.stopwordIds.size();
        j["notes"] = study->notes;
    }
    return analysis::printStudy(std::move(j), md, resolved, o.json);
}

}  // namespace

const CommandRegistration kRegistration(90, [](CLI::App& app, CliContext& ctx) {
    CLI::App* study = app.add_subcommand("study", "Paper ablation studies (superweight; laser and quant where built)");
    study->require_subcommand(1);

    auto opts = std::make_shared<StudyCliOptions>();
    CLI::App* cmd = study->add_subcommand("superweight", "Original / super weight zeroed / + super activation restored / other outliers zeroed");
    analysis::addTextRunOptions(cmd, opts->run, "Perplexity window");
    cmd->add_option("--tasks", opts->tasks, "Zero-shot tasks JSONL (default: the bundled set when the model has a tokenizer)");
    cmd->add_flag("--no-tasks", opts->noTasks, "Skip the zero-shot measure");
    analysis::addStopwordOptions(cmd, opts->stopwords);
    cmd->add_flag("--no-stopwords", opts->noStopwords, "Skip the stopword measure");
    cmd->add_option("--super-weights", opts->superWeights, "Super weights to ablate, LAYER:ROW:COL;... (default: a scan)");
    analysis::addStudyInputOptions(cmd, opts->scanInput, "Scan this prompt (default: the text's first 128 tokens)", "Scan these token ids (default: the text's first 128 tokens)");
    cmd->add_option("--outliers", opts->outliers, "Control: outliers zeroed per matrix (default: as many as its super weights)")->check(CLI::Range(1, 1000000));
    cmd->add_option("--markdown", opts->markdownFile, "Also write the Markdown table to this file");
    analysis::addScanOptions(cmd, opts->scan);
    analysis::addBootstrapOptions(cmd, opts->bootstrap);
    cmd->add_option("--null", opts->nullCount,
                    "Null control: K random weights (same matrix, and other layers) changed by the super weight's amount; "
                    "reports where the ablation's perplexity falls (percentile, z)")
        ->check(CLI::Range(0, 100000));
    cmd->add_flag("--joint", opts->joint, "Joint ablation: each super weight alone, all but one, all, and every pair (interaction matrix)");
    cmd->add_flag("--json", opts->json, "Print one JSON document (conditions, super weights, outliers, markdown)");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (int usage = analysis::checkTextRunUsage(opts->run, "study superweight")) return usage;
            return runStudySuperWeight(*opts);
        };
    });
});

}  // namespace superlens::cli
