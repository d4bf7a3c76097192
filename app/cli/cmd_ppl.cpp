// superlens-cli ppl MODEL (--text FILE | --text-ids FILE) [--ctx N] [--stride S] [--per-token] [--edit E]... [--json]
// Sliding-window perplexity (Hugging Face's recipe: each window scores only
// the tokens the previous one did not). JSON: {"ppl", "nll", "tokens", ...}
// (DESIGN.md), with "token_nll"/"token_index" under --per-token.

#include <cstdio>
#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/measure_intervals.h"
#include "superlens/core/analysis/metrics.h"

namespace superlens::cli {
namespace {

struct PplCliOptions {
    analysis::TextRunOptions run;
    bool perToken = false;
    core::BootstrapOptions bootstrap;
    bool json = false;
};

int runPpl(const PplCliOptions& o) {
    auto run = analysis::prepareTextRun(o.run);
    if (!run) return fail(run.error());
    if (auto ok = run->resolveKeepSuper(); !ok) return fail(ok.error());  // keep_super: a scan of the text's first window

    core::PerplexityOptions po;
    po.context = run->context;
    po.stride = o.run.stride;
    if (auto v = core::validate(o.bootstrap); !v) return usageError(v.error().message);
    auto r = core::perplexity(*run->engine, run->tokens, run->edits, po);
    if (!r) return fail(r.error());
    // Window bootstrap (measure_intervals.h, the rule `study superweight` uses).
    const core::Interval ci = core::perplexityInterval(core::windowUnits(*r), o.bootstrap);

    if (o.json) {
        nlohmann::json j = {{"ppl", r->ppl}, {"nll", r->nll}, {"tokens", r->tokens}, {"windows", r->windows},
                            {"context", po.context}, {"stride", po.stride == 0 ? po.context : po.stride}, {"text_tokens", run->tokens.size()}};
        j["ppl_ci"] = analysis::intervalJson(ci);
        j["ci"] = analysis::ciJson(o.bootstrap);
        if (o.perToken) {
            j["token_nll"] = r->tokenNll;
            j["token_index"] = r->tokenIndex;
        }
        j["edits"] = analysis::editsJson(run->edits);
        printJson(j);
        return kExitOk;
    }
    std::printf("perplexity %.6g%s  (mean NLL %.6f nats over %lld predicted tokens, %d window(s) of %d, stride %d)\n", r->ppl,
                analysis::intervalText(ci, o.bootstrap).c_str(), r->nll,
                static_cast<long long>(r->tokens), r->windows, po.context, po.stride == 0 ? po.context : po.stride);
    if (o.perToken) {
        const core::Tokenizer* tok = run->tokenizer.get();
        for (std::size_t i = 0; i < r->tokenNll.size(); ++i) {
            const std::int64_t idx = r->tokenIndex[i];
            const core::TokenId id = run->tokens[static_cast<std::size_t>(idx)];
            const std::string text = tok ? tok->tokenText(id) : "";
            std::printf("%8lld  %8d  %-16s  %.5f\n", static_cast<long long>(idx), id,
                        nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str(), r->tokenNll[i]);
        }
    }
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(50, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<PplCliOptions>();
    CLI::App* cmd = app.add_subcommand("ppl", "Perplexity of a text file (sliding window), with or without edits");
    analysis::addTextRunOptions(cmd, opts->run, "Window length");
    analysis::addBootstrapOptions(cmd, opts->bootstrap);
    cmd->add_flag("--per-token", opts->perToken, "Also list every predicted token's NLL");
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"ppl\", \"nll\", \"tokens\", ...}");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (int usage = analysis::checkTextRunUsage(opts->run, "ppl")) return usage;
            return runPpl(*opts);
        };
    });
});

}  // namespace superlens::cli
