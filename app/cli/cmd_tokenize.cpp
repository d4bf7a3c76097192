// superlens-cli tokenize MODEL --prompt TEXT [--json]: ids and token strings,
// exactly as the model sees them (BOS included when the tokenizer adds it).

#include <iostream>

#include "cli_common.h"

namespace superlens::cli {
namespace {

struct TokenizeOptions {
    std::string model;
    std::string prompt;
    bool noSpecial = false;
    bool json = false;
};

int runTokenize(const TokenizeOptions& o) {
    auto model = openModel(o.model);
    if (!model) return fail(model.error());
    auto tok = loadTokenizer(**model, "tokenize");
    if (!tok) return fail(tok.error());
    const std::vector<core::TokenId> ids = (*tok)->encode(o.prompt, !o.noSpecial);
    nlohmann::json tokens = nlohmann::json::array();
    for (core::TokenId id : ids) tokens.push_back((*tok)->tokenString(id));
    if (o.json) {
        printJson({{"ids", ids}, {"tokens", tokens}});
        return kExitOk;
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
        std::cout << i << "\t" << ids[i] << "\t" << nlohmann::json(tokens[i].get<std::string>()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    }
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(20, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<TokenizeOptions>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Token ids and token strings of a prompt, as the model sees them");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    cmd->add_option("--prompt", opts->prompt, "Text to tokenize")->required();
    cmd->add_flag("--no-special", opts->noSpecial, "Do not add the tokenizer's special tokens (BOS/EOS)");
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"ids\", \"tokens\"}");
    cmd->callback([&ctx, opts] { ctx.run = [opts] { return runTokenize(*opts); }; });
});

}  // namespace superlens::cli
