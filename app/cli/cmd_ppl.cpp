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
    std::string model;
    analysis::TextInput text;
    EditOptions edits;
    ComputeOptions compute;
    int context = 0;  // 0 = min(512, max_position_embeddings)
    int stride = 0;
    bool perToken = false;
    core::BootstrapOptions bootstrap;
    bool json = false;
};

int runPpl(const PplCliOptions& o) {
    auto run = analysis::prepareTextRun(o.model, o.text, o.edits, o.compute, o.context, o.stride);
    if (!run) return fail(run.error());
    if (auto ok = run->resolveKeepSuper(); !ok) return fail(ok.error());  // keep_super: a scan of the text's first window

    core::PerplexityOptions po;
    po.context = run->context;
    po.stride = o.stride;
    if (po.stride > po.context) return usageError("--stride " + std::to_string(po.stride) + " is larger than --ctx " + std::to_string(po.context));
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
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    analysis::addTextOptions(cmd, opts->text, true);
    addEditOptions(cmd, opts->edits);
    analysis::addBootstrapOptions(cmd, opts->bootstrap);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--ctx", opts->context, "Window length in tokens (default min(512, max_position_embeddings))")->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--stride", opts->stride, "Tokens between window starts (default = --ctx: non-overlapping)")->check(CLI::Range(1, 1 << 20));
    cmd->add_flag("--per-token", opts->perToken, "Also list every predicted token's NLL");
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"ppl\", \"nll\", \"tokens\", ...}");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->text.given()) return usageError("ppl needs --text FILE (or --text-ids FILE)");
            return runPpl(*opts);
        };
    });
});

}  // namespace superlens::cli
