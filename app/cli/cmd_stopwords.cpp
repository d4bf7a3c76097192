// superlens-cli stopwords MODEL (--text FILE | --text-ids FILE) [--stopwords FILE | --stopword-ids 1,2] [--ctx N] [--top K] [--edit E]... [--json]
// Probability mass on stopwords, averaged over the text's positions, for the
// unedited model and with the edits; shift ratio edited / original and the
// tokens whose mean probability moved most (super-weight paper, Fig. 5).

#include <cstdio>
#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/measure_intervals.h"
#include "superlens/core/analysis/metrics.h"

namespace superlens::cli {
namespace {

struct StopwordsCliOptions {
    analysis::TextRunOptions run;
    analysis::StopwordInput stopwords;
    core::BootstrapOptions bootstrap;
    int top = 10;
    bool json = false;
};

int runStopwords(const StopwordsCliOptions& o) {
    auto run = analysis::prepareTextRun(o.run);
    if (!run) return fail(run.error());
    const core::Tokenizer* tok = run->tokenizer.get();
    auto ids = analysis::resolveStopwordIds(o.stopwords, *run->model, tok);
    if (!ids) return fail(ids.error());
    if (auto ok = run->resolveKeepSuper(); !ok) return fail(ok.error());

    if (auto v = core::validate(o.bootstrap); !v) return usageError(v.error().message);
    auto shift = core::stopwordShift(*run->engine, run->tokens, *ids, run->edits, run->context, o.top);
    if (!shift) return fail(shift.error());
    // Window bootstrap (measure_intervals.h, the rule `study superweight` uses); the ratio is paired.
    core::WindowUnits w0, w1;
    w0.tokens = w1.tokens = shift->windowPositions;
    w0.mass = shift->originalWindowMass;
    w1.mass = shift->editedWindowMass;
    const core::Interval originalCi = core::stopwordMassInterval(w0, o.bootstrap);
    const core::Interval editedCi = core::stopwordMassInterval(w1, o.bootstrap);
    const core::Interval ratioCi = core::stopwordRatioInterval(w1, w0, o.bootstrap);

    auto tokenText = [&](core::TokenId id) { return tok ? tok->tokenText(id) : std::string(); };
    if (o.json) {
        nlohmann::json j = {{"original_mass", shift->originalMass}, {"edited_mass", shift->editedMass}, {"ratio", shift->ratio()},
                            {"positions", shift->positions},        {"stopword_ids", ids->size()},     {"context", run->context}};
        j["original_mass_ci"] = analysis::intervalJson(originalCi);
        j["edited_mass_ci"] = analysis::intervalJson(editedCi);
        j["ratio_ci"] = analysis::intervalJson(ratioCi);
        j["windows"] = shift->windowPositions.size();
        // The bootstrap units: per window, the summed stopword probability and the positions.
        j["window_mass_original"] = shift->originalWindowMass;
        j["window_mass_edited"] = shift->editedWindowMass;
        j["window_positions"] = shift->windowPositions;
        j["ci"] = analysis::ciJson(o.bootstrap);
        j["top_movers"] = nlohmann::json::array();
        for (const auto& mv : shift->topMovers) {
            nlohmann::json e = {{"id", mv.id}, {"original", mv.originalProb}, {"edited", mv.editedProb}};
            e["token"] = tok ? nlohmann::json(tokenText(mv.id)) : nlohmann::json(nullptr);
            e["stopword"] = std::binary_search(ids->begin(), ids->end(), mv.id);
            j["top_movers"].push_back(std::move(e));
        }
        j["edits"] = analysis::editsJson(run->edits);
        printJson(j);
        return kExitOk;
    }
    std::printf("stopword mass: original %.6f%s, edited %.6f%s, ratio %.4f%s  (%zu stopword ids, %lld positions, %zu windows)\n",
                shift->originalMass, analysis::intervalText(originalCi, o.bootstrap).c_str(), shift->editedMass,
                analysis::intervalText(editedCi, o.bootstrap).c_str(), shift->ratio(), analysis::intervalText(ratioCi, o.bootstrap).c_str(),
                ids->size(), static_cast<long long>(shift->positions), shift->windowPositions.size());
    if (run->edits.empty()) std::printf("(no --edit given: original and edited are the same model)\n");
    std::printf("\ntop movers (mean probability):\n");
    for (const auto& mv : shift->topMovers) {
        std::printf("  %8d  %-16s  %.6f -> %.6f%s\n", mv.id,
                    nlohmann::json(tokenText(mv.id)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str(), mv.originalProb,
                    mv.editedProb, std::binary_search(ids->begin(), ids->end(), mv.id) ? "  stopword" : "");
    }
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(60, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<StopwordsCliOptions>();
    CLI::App* cmd = app.add_subcommand("stopwords", "Stopword probability mass and its shift under edits");
    analysis::addTextRunOptions(cmd, opts->run, "Window length", /*stride=*/false);
    analysis::addStopwordOptions(cmd, opts->stopwords);
    analysis::addBootstrapOptions(cmd, opts->bootstrap);
    cmd->add_option("--top", opts->top, "Tokens listed whose mean probability moved most (default 10)")->check(CLI::Range(0, 100000));
    cmd->add_flag("--json", opts->json, "Print one JSON document");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (int usage = analysis::checkTextRunUsage(opts->run, "stopwords")) return usage;
            return runStopwords(*opts);
        };
    });
});

}  // namespace superlens::cli
