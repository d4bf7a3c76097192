#include "analysis_common.h"

namespace superlens::cli::analysis {

void addTextRunOptions(CLI::App* cmd, TextRunOptions& o, const std::string& ctxHelp, bool stride) {
    cmd->add_option("MODEL", o.model, "Hugging Face model folder or GGUF file")->required();
    addTextOptions(cmd, o.text, true);
    addEditOptions(cmd, o.edits);
    addComputeOption(cmd, o.compute);
    cmd->add_option("--ctx", o.context, ctxHelp + " in tokens (default min(512, max_position_embeddings))")->check(CLI::Range(2, 1 << 20));
    if (stride) {
        cmd->add_option("--stride", o.stride, "Tokens between window starts (default = --ctx: non-overlapping)")->check(CLI::Range(1, 1 << 20));
    }
}

int checkTextRunUsage(const TextRunOptions& o, const std::string& command) {
    if (!o.text.given()) return usageError(command + " needs --text FILE (or --text-ids FILE)");
    if (o.context > 0 && o.stride > o.context) {
        return usageError("--stride " + std::to_string(o.stride) + " is larger than --ctx " + std::to_string(o.context));
    }
    return 0;
}

core::Result<PreparedTextRun> prepareTextRun(const TextRunOptions& o) {
    auto prepared = prepareModel(o.model, engineOptions(o.compute));
    if (!prepared) return prepared.error();
    PreparedTextRun run;
    static_cast<PreparedModel&>(run) = std::move(prepared).value();
    const core::Model& m = *run.model;
    run.context = windowLength(o.context, m);
    if (o.stride > run.context) {
        return core::Error{"--stride " + std::to_string(o.stride) + " is larger than the window of " + std::to_string(run.context) +
                           " tokens the run uses (--ctx, or the default for " + o.model + ")"};
    }
    auto loaded = loadTextTokens(o.text, m, run.tokenizer.get());
    if (!loaded) return loaded.error();
    auto tokens = applyBosWindows(o.text, std::move(loaded).value(), run.tokenizer.get(), run.context, o.stride);
    if (!tokens) return tokens.error();
    run.tokens = std::move(tokens).value();
    auto parsed = resolveEdits(o.edits, m);
    if (!parsed) return parsed.error();
    run.edits = std::move(parsed).value();
    return run;
}

core::Status PreparedTextRun::resolveKeepSuper(const std::vector<core::TokenId>& scanTokens) {
    auto resolved = cli::resolveKeepSuper(*engine, scanTokens.empty() ? core::scanInputHead(tokens) : scanTokens, std::move(edits));
    if (!resolved) return resolved.error();
    edits = std::move(resolved).value();
    return {};
}

}  // namespace superlens::cli::analysis
