// superlens-cli lens MODEL (--prompt TEXT | --ids 1,2,3) [--position P] [--top K] [--edit E]... [--json]
// The logit lens (core/analysis/logit_lens.h): per layer, the final norm and
// unembedding of blocks.L.hook_resid_post at position P (default: the last),
// layer -1 = the embeddings. JSON:
//   {"position": P, "layers": [{"layer": L, "top": [{"id", "token", "prob"}], "entropy": H,
//                                "final_rank": r, "final_prob": p}, ...],
//    "final": {"id", "token"}, "ids": [...], "edits": [...],
//    "top1": {"prob": [[...]], "id": [[...]]},          // [layer + 1][position]
//    "original": {same keys}                               // only with edits: the unedited model}
// The document describes the run with the edits given; the last layer's
// row is the model's own output distribution.

#include <cstdio>

#include "cli_common.h"
#include "superlens/core/analysis/logit_lens.h"

namespace superlens::cli {
namespace {

struct LensOptions {
    std::string model;
    InputOptions input;
    EditOptions edits;
    ComputeOptions compute;
    std::int64_t position = -1;
    int top = 10;
    bool json = false;
};

nlohmann::json tokenJson(core::TokenId id, const core::Tokenizer* tok) {
    return tok ? nlohmann::json(tok->tokenString(id)) : nlohmann::json(nullptr);
}

nlohmann::json lensJson(const core::LogitLensResult& lens, const core::Tokenizer* tok) {
    nlohmann::json j;
    j["position"] = lens.position;
    j["final"] = {{"id", lens.finalToken}, {"token", tokenJson(lens.finalToken, tok)}};
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& row : lens.layers) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& t : row.top) top.push_back({{"id", t.id}, {"token", tokenJson(t.id, tok)}, {"prob", t.prob}});
        layers.push_back({{"layer", row.layer}, {"top", std::move(top)}, {"entropy", row.entropy}, {"final_rank", row.finalRank},
                          {"final_prob", row.finalProb}});
    }
    j["layers"] = std::move(layers);
    j["top1"] = {{"prob", lens.top1Prob}, {"id", lens.top1Id}};
    return j;
}

void printLens(const core::LogitLensResult& lens, const core::Tokenizer* tok, const char* heading) {
    std::printf("%s: position %lld, final prediction %d %s\n", heading, static_cast<long long>(lens.position), lens.finalToken,
                tok ? nlohmann::json(tok->tokenString(lens.finalToken)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str() : "");
    std::printf("  layer   entropy  final rank  final p   top-1\n");
    for (const auto& row : lens.layers) {
        const auto& t = row.top.front();
        const std::string text = tok ? nlohmann::json(tok->tokenString(t.id)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : "";
        std::printf("  %5s  %8.4f  %10d  %7.4f   %d %s p %.4f\n", row.layer < 0 ? "embed" : std::to_string(row.layer).c_str(), row.entropy,
                    row.finalRank, row.finalProb, t.id, text.c_str(), t.prob);
    }
}

int runLens(const LensOptions& o) {
    auto prepared = prepareRun(o.model, o.input, o.edits, false, engineOptions(o.compute));
    if (!prepared) return fail(prepared.error());
    const PreparedRun& run = *prepared;
    core::Engine& engine = *run.engine;
    const auto T = run.positions();
    if (o.position >= T) {
        return fail("--position " + std::to_string(o.position) + " is outside the prompt (" + std::to_string(T) + " tokens: 0.." +
                    std::to_string(T - 1) + ")");
    }

    core::ForwardRequest req;
    req.tokens = run.tokens;
    req.record = core::logitLensHooks();
    req.allPositionLogits = true;
    auto original = engine.run(req);
    if (!original) return fail(original.error());
    const core::LogitLensOptions lo{o.position, o.top};
    auto originalLens = core::logitLens(engine, **original, lo);
    if (!originalLens) return fail(originalLens.error());
    std::optional<core::LogitLensResult> editedLens;
    if (!run.edits.empty()) {
        req.edits = run.edits;
        req.previous = *original;
        auto edited = engine.run(req);
        if (!edited) return fail(edited.error());
        auto l = core::logitLens(engine, **edited, lo, core::RunControl::none(), &*originalLens, original->get());
        if (!l) return fail(l.error());
        editedLens = std::move(l).value();
    }

    // The model's own tokenizer (a GGUF file's too), when it has one.
    const core::Tokenizer* tok = run.tokenizer.get();
    if (o.json) {
        nlohmann::json j = lensJson(editedLens ? *editedLens : *originalLens, tok);
        j["ids"] = run.tokens;
        j["edits"] = nlohmann::json::array();
        for (const auto& e : run.edits) j["edits"].push_back(e.text());
        if (editedLens) j["original"] = lensJson(*originalLens, tok);
        printJson(j);
        return kExitOk;
    }
    printLens(*originalLens, tok, "original");
    if (editedLens) printLens(*editedLens, tok, "edited");
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(32, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<LensOptions>();
    CLI::App* cmd = app.add_subcommand("lens", "Logit lens: every layer's residual read through the final norm and unembedding");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder or GGUF file")->required();
    addInputOptions(cmd, opts->input);
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--position", opts->position, "Token position to read (default: the last)")->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
    cmd->add_option("--top", opts->top, "Tokens listed per layer (default 10)")->check(CLI::Range(1, 1000000));
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"position\", \"layers\": [{\"layer\", \"top\", \"entropy\"}]}");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->input.given()) return usageError("lens needs --prompt TEXT or --ids 1,2,3");
            return runLens(*opts);
        };
    });
});

}  // namespace superlens::cli
