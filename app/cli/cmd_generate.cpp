// superlens-cli generate MODEL (--prompt TEXT | --ids ...) [--max-new N] [--edit E]... [--compare]
// Greedy (default) or sampled continuation with a KV cache. --compare also
// generates without the edits, to show text collapse side by side.

#include <iostream>

#include "cli_common.h"

namespace superlens::cli {
namespace {

// The new tokens' text as it reads after the prompt. Decoding them alone
// drops the space a SentencePiece "▁word" piece carries at the start of a
// sequence ("Moses,Behold"); decoding prompt + continuation and cutting the
// prompt's text off keeps it.
std::string continuationText(const core::Tokenizer& tok, const std::vector<core::TokenId>& prompt,
                             const std::vector<core::TokenId>& continuation) {
    std::vector<core::TokenId> all = prompt;
    all.insert(all.end(), continuation.begin(), continuation.end());
    const std::string full = tok.decode(all, true);
    const std::string head = tok.decode(prompt, true);
    if (full.compare(0, head.size(), head) == 0) return full.substr(head.size());
    return tok.decode(continuation, true);
}

struct GenerateOptions {
    std::string model;
    InputOptions input;
    EditOptions edits;
    ComputeOptions compute;
    int maxNew = 32;
    double temperature = 0.0;
    int topK = 0;
    double topP = 1.0;
    std::uint64_t seed = 0;
    bool compare = false;
    bool json = false;
};

int runGenerate(const GenerateOptions& o) {
    auto prepared = prepareRun(o.model, o.input, o.edits, false, engineOptions(o.compute));
    if (!prepared) return fail(prepared.error());
    PreparedRun& run = *prepared;
    core::Engine& engine = *run.engine;
    const std::vector<core::TokenId>* ids = &run.tokens;
    const core::Tokenizer* tok = run.tokenizer.get();
    core::GenerateRequest req;
    req.prompt = *ids;
    req.maxNewTokens = o.maxNew;
    req.greedy = o.temperature <= 0.0;
    req.temperature = o.temperature;
    req.topK = o.topK;
    req.topP = o.topP;
    req.seed = o.seed;
    if (tok) req.stopToken = tok->eosId();

    auto generateWith = [&](const std::vector<core::EditSpec>& e) -> core::Result<nlohmann::json> {
        req.edits = e;
        auto r = engine.generate(req);
        if (!r) return r.error();
        nlohmann::json j = {{"new_ids", r->tokens},
                            {"prompt_seconds", r->promptSeconds},
                            {"decode_seconds", r->decodeSeconds}};
        if (tok) j["text"] = continuationText(*tok, *ids, r->tokens);
        nlohmann::json specs = nlohmann::json::array();
        for (const auto& s : e) specs.push_back(s.text());
        j["edits"] = specs;
        return j;
    };
    auto edited = generateWith(run.edits);
    if (!edited) return fail(edited.error());
    std::optional<nlohmann::json> original;
    if (o.compare) {
        auto r = generateWith({});
        if (!r) return fail(r.error());
        original = std::move(r).value();
    }
    const std::string promptText = tok ? tok->decode(*ids, true) : "";
    if (o.json) {
        nlohmann::json j = *edited;
        j["ids"] = *ids;
        if (tok) j["prompt_text"] = promptText;
        if (original) j["original"] = *original;
        printJson(j);
        return kExitOk;
    }
    auto show = [&](const char* label, const nlohmann::json& j) {
        std::cout << label;
        if (j.contains("text")) std::cout << promptText << j["text"].get<std::string>() << "\n";
        else std::cout << j["new_ids"].dump() << "\n";
    };
    if (original) show("original: ", *original);
    show(original ? "edited:   " : "", *edited);
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(40, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<GenerateOptions>();
    CLI::App* cmd = app.add_subcommand("generate", "Continue a prompt (greedy or sampled), with or without edits");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    addInputOptions(cmd, opts->input);
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--max-new", opts->maxNew, "Number of new tokens (default 32)")->check(CLI::Range(0, 100000));
    cmd->add_option("--temperature", opts->temperature, "Sampling temperature; 0 = greedy (default)")->check(CLI::Range(0.0, 100.0));
    cmd->add_option("--top-k", opts->topK, "Sample from the K most likely tokens")->check(CLI::Range(0, 10000000));
    cmd->add_option("--top-p", opts->topP, "Nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--seed", opts->seed, "Random seed for sampling");
    cmd->add_flag("--compare", opts->compare, "Also generate without the edits and show both");
    cmd->add_flag("--json", opts->json, "Print one JSON document");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->input.given()) return usageError("generate needs --prompt TEXT or --ids 1,2,3");
            return runGenerate(*opts);
        };
    });
});

}  // namespace superlens::cli
