// superlens-cli study experts MODEL (--text FILE | --text-ids FILE) [--prompt TEXT | --ids ...]
//     [--ctx N] [--stride S] [--stopwords FILE | --stopword-ids ...] [--tasks FILE | --no-tasks] [--seed N] [--edit E]... [--json]
//     [--experts L:E;...] [--joint] [--ci LEVEL] [--bootstrap N]
// The super-expert study (Su et al. 2025, arXiv 2507.23279; core/analysis/expert_study.h):
// profile the experts (on --prompt/--ids, else the text's first 128 tokens),
// flag the super experts, then perplexity, stopword shift and zero-shot accuracy with each one
// pruned, all of them, and as many random non-super experts (control).

#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/expert_study.h"

namespace superlens::cli {
namespace {

struct ExpertStudyCliOptions {
    analysis::TextRunOptions run;
    InputOptions profileInput;
    analysis::StopwordInput stopwords;
    bool noStopwords = false;
    std::string tasks;
    bool noTasks = false;
    std::uint64_t seed = 0;
    bool json = false;
    std::string experts;
    bool joint = false;
    core::BootstrapOptions bootstrap;
};

int runStudyExperts(const ExpertStudyCliOptions& o) {
    auto run = analysis::prepareTextRun(o.run);
    if (!run) return fail(run.error());
    const core::Model& m = *run->model;
    const core::Tokenizer* tok = run->tokenizer.get();
    const int context = run->context;
    std::vector<core::TokenId> profileIds;
    if (o.profileInput.given()) {
        auto ids = resolveTokens(o.profileInput, m, tok);
        if (!ids) return fail(ids.error());
        profileIds = std::move(ids).value();
    } else {
        profileIds = core::scanInputHead(run->tokens);
    }
    std::vector<core::TokenId> stopwordIds;
    if (!o.noStopwords && (tok || !o.stopwords.ids.empty())) {
        auto ids = analysis::resolveStopwordIds(o.stopwords, m, tok);
        if (!ids) return fail(ids.error());
        stopwordIds = std::move(ids).value();
    }
    core::ExpertStudyOptions so;
    so.perplexity.context = context;
    so.perplexity.stride = o.run.stride;
    if (so.perplexity.stride > so.perplexity.context) return usageError("--stride is larger than --ctx");
    so.seed = o.seed;
    so.bootstrap = o.bootstrap;
    so.joint = o.joint;
    if (auto v = core::validate(so.bootstrap); !v) return usageError(v.error().message);
    if (!o.experts.empty()) {
        auto list = core::parseExpertList(o.experts, "--experts");
        if (!list) return usageError(list.error().message);
        so.experts = std::move(list).value();
    }
    auto tasks = core::studyZeroShotTasks(o.tasks, o.noTasks, tok, m.folder().string());
    if (!tasks) return fail(tasks.error());
    if (!tasks->tasks.empty()) {
        so.tasks = &tasks->tasks;
        so.tokenizer = tok;
    }
    // keep_super in the base edits: a scan of the profile input (the text's head by default).
    if (auto ok = run->resolveKeepSuper(profileIds); !ok) return fail(ok.error());
    auto study = core::studySuperExperts(*run->engine, {profileIds}, run->tokens, stopwordIds, run->edits, so);
    if (!study) return fail(o.run.model + ": " + study.error().message);
    nlohmann::json j;
    if (o.json) {
        j = nlohmann::json::parse(study->json());
        j["tasks"] = tasks->label.empty() ? nlohmann::json(nullptr) : nlohmann::json(tasks->label);
        j["context"] = so.perplexity.context;
        j["seed"] = o.seed;
    }
    return analysis::printStudy(std::move(j), study->markdown(), run->edits, o.json);
}

}  // namespace

// After `study` (order 90) exists.
const CommandRegistration kRegistration(93, [](CLI::App& app, CliContext& ctx) {
    CLI::App* study = app.get_subcommand("study");
    auto opts = std::make_shared<ExpertStudyCliOptions>();
    CLI::App* cmd = study->add_subcommand("experts", "Mixture-of-experts: super experts pruned one by one, all, and random experts as control");
    analysis::addTextRunOptions(cmd, opts->run, "Perplexity window");
    analysis::addStopwordOptions(cmd, opts->stopwords);
    cmd->add_flag("--no-stopwords", opts->noStopwords, "Skip the stopword measure");
    cmd->add_option("--tasks", opts->tasks, "Zero-shot tasks JSONL (default: the bundled set when the model has a tokenizer)");
    cmd->add_flag("--no-tasks", opts->noTasks, "Skip the zero-shot measure");
    analysis::addStudyInputOptions(cmd, opts->profileInput, "Profile the experts on this prompt (default: the text's first 128 tokens)", "Profile on these token ids (default: the text's first 128 tokens)");
    cmd->add_option("--seed", opts->seed, "Seed of the random control experts (default 0)");
    cmd->add_option("--experts", opts->experts, "Ablate these experts instead of the flagged super experts, LAYER:EXPERT;...");
    cmd->add_flag("--joint", opts->joint, "Joint ablation: each ablated expert alone, all but one, all, and every pair (interaction matrix)");
    analysis::addBootstrapOptions(cmd, opts->bootstrap);
    cmd->add_flag("--json", opts->json, "Print one JSON document (super experts, conditions, joint, markdown)");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (int usage = analysis::checkTextRunUsage(opts->run, "study experts")) return usage;
            return runStudyExperts(*opts);
        };
    });
});

}  // namespace superlens::cli
