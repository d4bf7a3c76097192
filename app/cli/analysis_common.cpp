#include "analysis_common.h"

namespace superlens::cli::analysis {

core::Result<PreparedTextRun> prepareTextRun(const std::string& modelPath, const TextInput& text, const EditOptions& edits,
                                             const ComputeOptions& compute, int contextOption, int bosStride) {
    PreparedTextRun run;
    auto model = openModel(modelPath);
    if (!model) return model.error();
    run.model = std::move(model).value();
    const core::Model& m = *run.model;
    auto tok = optionalTokenizer(m);
    if (!tok) return tok.error();
    run.tokenizer = std::move(tok).value();
    run.context = windowLength(contextOption, m);
    auto loaded = loadTextTokens(text, m, run.tokenizer.get());
    if (!loaded) return loaded.error();
    auto tokens = applyBosWindows(text, std::move(loaded).value(), run.tokenizer.get(), run.context, bosStride);
    if (!tokens) return tokens.error();
    run.tokens = std::move(tokens).value();
    auto parsed = resolveEdits(edits, m);
    if (!parsed) return parsed.error();
    run.edits = std::move(parsed).value();
    run.engine = std::make_unique<core::Engine>(run.model, engineOptions(compute));
    return run;
}

core::Status PreparedTextRun::resolveKeepSuper(const std::vector<core::TokenId>& scanTokens) {
    auto resolved = cli::resolveKeepSuper(*engine, scanTokens.empty() ? core::scanInputHead(tokens) : scanTokens, std::move(edits));
    if (!resolved) return resolved.error();
    edits = std::move(resolved).value();
    return {};
}

}  // namespace superlens::cli::analysis
