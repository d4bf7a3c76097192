// superlens-cli zeroshot MODEL [--tasks FILE.jsonl] [--edit E]... [--json]
// Multiple-choice accuracy (lm-eval-harness style) and length-normalised
// accuracy. Without --tasks the bundled example set (resources/tasks) is used.

#include <cstdio>
#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/metrics.h"

namespace superlens::cli {
namespace {

struct ZeroShotCliOptions {
    std::string model;
    std::string tasks;
    EditOptions edits;
    bool json = false;
};

int runZeroShot(const ZeroShotCliOptions& o) {
    auto model = openModel(o.model);
    if (!model) return fail(model.error());
    const core::Model& m = **model;
    auto tasks = o.tasks.empty() ? core::parseZeroShotTasks(std::string(core::bundledZeroShotTasksText()), "bundled tasks (resources/tasks/bible_mc.jsonl)")
                                 : core::loadZeroShotTasks(o.tasks);
    if (!tasks) return fail(tasks.error());
    const bool needsTokenizer = std::any_of(tasks->begin(), tasks->end(), [](const core::ZeroShotTask& t) { return t.contextIds.empty(); });
    std::unique_ptr<core::Tokenizer> tok;
    if (needsTokenizer) {
        auto t = loadTokenizer(m, o.tasks.empty() ? "the bundled text tasks" : "the text tasks of " + o.tasks);
        if (!t) return fail(t.error());
        tok = std::move(t).value();
    }
    auto edits = resolveEdits(o.edits, m);
    if (!edits) return fail(edits.error());
    core::Engine engine(*model);
    // keep_super: scan the first task's context.
    std::vector<core::TokenId> head = tasks->front().contextIds;
    if (head.empty() && tok) head = tok->encode(tasks->front().context, true);
    auto resolved = resolveKeepSuper(engine, head, std::move(edits).value());
    if (!resolved) return fail(resolved.error());
    auto r = core::zeroShot(engine, tok.get(), *tasks, *resolved);
    if (!r) return fail(r.error());

    if (o.json) {
        nlohmann::json j = {{"accuracy", r->accuracy}, {"accuracy_norm", r->accuracyNorm}, {"count", r->count},
                            {"predictions", r->predictions}, {"predictions_norm", r->predictionsNorm}, {"log_likelihoods", r->logLikelihoods}};
        std::vector<int> gold;
        for (const auto& t : *tasks) gold.push_back(t.gold);
        j["gold"] = gold;
        j["tasks"] = o.tasks.empty() ? "bundled" : o.tasks;
        j["edits"] = analysis::editsJson(*resolved);
        printJson(j);
        return kExitOk;
    }
    std::printf("zero-shot: accuracy %.4f, length-normalised accuracy %.4f over %d tasks (%s)\n", r->accuracy, r->accuracyNorm, r->count,
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
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"accuracy\", \"accuracy_norm\", ...}");
    cmd->callback([&ctx, opts] { ctx.run = [opts] { return runZeroShot(*opts); }; });
});

}  // namespace superlens::cli
