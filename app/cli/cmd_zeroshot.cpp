// superlens-cli zeroshot MODEL [--tasks FILE.jsonl] [--edit E]... [--json]
// Multiple-choice accuracy (lm-eval-harness style) and length-normalised
// accuracy. Without --tasks the bundled example set (resources/tasks) is used.

#include <cstdio>
#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/measure_intervals.h"
#include "superlens/core/analysis/metrics.h"

namespace superlens::cli {
namespace {

struct ZeroShotCliOptions {
    std::string model;
    std::string tasks;
    EditOptions edits;
    core::BootstrapOptions bootstrap;
    ComputeOptions compute;
    bool json = false;
};

int runZeroShot(const ZeroShotCliOptions& o) {
    auto tasks = o.tasks.empty() ? core::parseZeroShotTasks(std::string(core::bundledZeroShotTasksText()), "bundled tasks (resources/tasks/bible_mc.jsonl)")
                                 : core::loadZeroShotTasks(o.tasks);
    if (!tasks) return fail(tasks.error());
    const bool needsTokenizer = std::any_of(tasks->begin(), tasks->end(), [](const core::ZeroShotTask& t) { return t.contextIds.empty(); });
    const std::string neededFor = needsTokenizer ? (o.tasks.empty() ? "the bundled text tasks" : "the text tasks of " + o.tasks) : "";
    auto prepared = prepareModel(o.model, engineOptions(o.compute), neededFor);
    if (!prepared) return fail(prepared.error());
    const core::Tokenizer* tok = prepared->tokenizer.get();
    if (needsTokenizer && !tok) return fail(loadTokenizer(*prepared->model, neededFor).error());  // names what is missing
    core::Engine& engine = *prepared->engine;
    // keep_super: scan the first task's context.
    std::vector<core::TokenId> head = tasks->front().contextIds;
    if (head.empty() && tok) head = tok->encode(tasks->front().context, true);
    auto resolved = prepared->editsFor(o.edits, head);
    if (!resolved) return fail(resolved.error());
    if (auto v = core::validate(o.bootstrap); !v) return usageError(v.error().message);
    auto r = core::zeroShot(engine, tok, *tasks, *resolved);
    if (!r) return fail(r.error());
    // Task bootstrap (measure_intervals.h, the rule `study superweight` uses).
    const core::Interval accCi = core::accuracyInterval(core::correctness(r->predictions, *tasks), o.bootstrap);
    const core::Interval accNormCi = core::accuracyInterval(core::correctness(r->predictionsNorm, *tasks), o.bootstrap);

    if (o.json) {
        nlohmann::json j = {{"accuracy", r->accuracy}, {"accuracy_norm", r->accuracyNorm}, {"count", r->count},
                            {"predictions", r->predictions}, {"predictions_norm", r->predictionsNorm}, {"log_likelihoods", r->logLikelihoods}};
        std::vector<int> gold;
        for (const auto& t : *tasks) gold.push_back(t.gold);
        j["gold"] = gold;
        j["accuracy_ci"] = analysis::intervalJson(accCi);
        j["accuracy_norm_ci"] = analysis::intervalJson(accNormCi);
        j["ci"] = analysis::ciJson(o.bootstrap);
        j["tasks"] = o.tasks.empty() ? "bundled" : o.tasks;
        j["edits"] = analysis::editsJson(*resolved);
        printJson(j);
        return kExitOk;
    }
    std::printf("zero-shot: accuracy %.4f%s, length-normalised accuracy %.4f%s over %d tasks (%s)\n", r->accuracy,
                analysis::intervalText(accCi, o.bootstrap).c_str(), r->accuracyNorm, analysis::intervalText(accNormCi, o.bootstrap).c_str(), r->count,
                o.tasks.empty() ? "bundled set" : o.tasks.c_str());
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(70, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<ZeroShotCliOptions>();
    CLI::App* cmd = app.add_subcommand("zeroshot", "Zero-shot multiple-choice accuracy, with or without edits");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    cmd->add_option("--tasks", opts->tasks, "JSONL tasks {\"context\", \"choices\", \"gold\"} (default: the bundled example set)");
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    analysis::addBootstrapOptions(cmd, opts->bootstrap);
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"accuracy\", \"accuracy_norm\", ...}");
    cmd->callback([&ctx, opts] { ctx.run = [opts] { return runZeroShot(*opts); }; });
});

}  // namespace superlens::cli
