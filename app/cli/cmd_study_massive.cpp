// superlens-cli study massive MODEL (--text FILE | --text-ids FILE) [--prompt TEXT | --ids ...]
//     [--massive-ratio R] [--max-sites N] [--ctx N] [--stride S] [--edit E]... [--ci LEVEL] [--bootstrap N] [--json]
// Massive activations set to zero and to their means, jointly (Sun et al.
// 2024, Sec. 3; core/analysis/massive_study.h): scan (--prompt/--ids, else
// the text's first window), one site per flagged (token, channel) at the
// first layer flagged, then each site alone, all but one, all and every pair.

#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/massive_study.h"

namespace superlens::cli {
namespace {

struct MassiveStudyCliOptions {
    analysis::TextRunOptions run;
    InputOptions scanInput;
    core::MassiveStudyOptions study;
    bool json = false;
};

int runStudyMassive(MassiveStudyCliOptions o) {
    auto run = analysis::prepareTextRun(o.run);
    if (!run) return fail(run.error());
    const core::Tokenizer* tok = run->tokenizer.get();
    const int context = run->context;
    std::vector<core::TokenId> scanIds;
    if (o.scanInput.given()) {
        auto ids = resolveTokens(o.scanInput, *run->model, tok);
        if (!ids) return fail(ids.error());
        scanIds = std::move(ids).value();
    }
    o.study.perplexity.context = context;
    o.study.perplexity.stride = o.run.stride;
    if (auto v = core::validate(o.study.bootstrap); !v) return usageError(v.error().message);
    // keep_super in the base edits: a scan of the study's scan input (the text's head by default).
    if (auto ok = run->resolveKeepSuper(scanIds); !ok) return fail(ok.error());
    auto study = core::studyMassiveActivations(*run->engine, scanIds, run->tokens, tok, run->edits, o.study);
    if (!study) return fail(o.run.model + ": " + study.error().message);
    nlohmann::json j;
    if (o.json) {
        j = nlohmann::json::parse(study->json());
        j["context"] = context;
        j["stride"] = o.run.stride == 0 ? context : o.run.stride;
        j["massive_ratio"] = o.study.scan.ratioThreshold;
    }
    return analysis::printStudy(std::move(j), study->markdown(), run->edits, o.json);
}

}  // namespace

// After `study` (order 90) exists.
const CommandRegistration kRegistration(95, [](CLI::App& app, CliContext& ctx) {
    CLI::App* study = app.get_subcommand("study");
    auto opts = std::make_shared<MassiveStudyCliOptions>();
    CLI::App* cmd = study->add_subcommand("massive", "Massive activations set to zero and to their means: each site, all but one, all, every pair");
    analysis::addTextRunOptions(cmd, opts->run, "Perplexity window");
    analysis::addStudyInputOptions(cmd, opts->scanInput, "Scan this prompt for massive activations (default: the text's first window, at most 128 tokens)", "Scan these token ids (default: the text's first window, at most 128 tokens)");
    cmd->add_option("--massive-ratio", opts->study.scan.ratioThreshold, "Massive activation: |value| / layer median at least this (default 100)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--max-sites", opts->study.maxSites, "Study at most this many sites, largest ratio first (default 8, at most 16)")
        ->check(CLI::Range(1, 16));
    analysis::addBootstrapOptions(cmd, opts->study.bootstrap);
    cmd->add_flag("--json", opts->json, "Print one JSON document (sites, zero and mean joint tables, markdown)");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (int usage = analysis::checkTextRunUsage(opts->run, "study massive")) return usage;
            return runStudyMassive(*opts);
        };
    });
});

}  // namespace superlens::cli
