// superlens-cli logits MODEL (--prompt TEXT | --ids 1,2,3) [--edit E]... [--top K] [--all-positions] [--json]
// JSON: {"ids":[...], "logits":[...]} (last position, full vocabulary), or a
// list of lists with --all-positions; --top K adds "top" with token strings and probabilities.
// Bidirectional encoders (MLM) without --all-positions: the rows of the mask
// positions, {"ids", "mask_positions": [...], "logits": [[...], ...], "top": [[...], ...]}.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "cli_common.h"
#include "superlens/core/analysis/softmax.h"
#include "superlens/core/tokenizer/mask_token.h"

namespace superlens::cli {
namespace {

struct LogitsOptions {
    std::string model;
    InputOptions input;
    EditOptions edits;
    ComputeOptions compute;
    int top = 0;
    bool allPositions = false;
    bool json = false;
};

nlohmann::json topTokens(const float* logits, std::int64_t vocab, int k, const core::Tokenizer* tok) {
    std::vector<double> prob;
    core::softmax(logits, vocab, prob);
    std::vector<std::int64_t> order(static_cast<std::size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    const auto kk = std::min<std::int64_t>(k, vocab);
    std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](std::int64_t a, std::int64_t b) { return logits[a] > logits[b]; });
    nlohmann::json out = nlohmann::json::array();
    for (std::int64_t i = 0; i < kk; ++i) {
        const std::int64_t id = order[static_cast<std::size_t>(i)];
        nlohmann::json e = {{"id", id}, {"logit", logits[id]}, {"prob", prob[static_cast<std::size_t>(id)]}};
        e["token"] = tok ? nlohmann::json(tok->tokenString(static_cast<core::TokenId>(id))) : nlohmann::json(nullptr);
        out.push_back(std::move(e));
    }
    return out;
}

int runLogits(const LogitsOptions& o) {
    auto prepared = prepareRun(o.model, o.input, o.edits, false, engineOptions(o.compute));
    if (!prepared) return fail(prepared.error());
    const PreparedRun& run = *prepared;
    const core::Model& model = *run.model;
    const std::vector<core::TokenId>& ids = run.tokens;
    // Token strings only when a tokenizer is there; ids-only models stay usable.
    const core::Tokenizer* tok = run.tokenizer.get();
    // A bidirectional encoder predicts the masked tokens: without
    // --all-positions its rows are the mask positions, not the last one.
    const bool maskedLm = !model.config().causal && !o.allPositions;
    std::vector<std::int64_t> maskAt;
    if (maskedLm) {
        if (!tok) {
            return fail("this " + model.config().familyName + " encoder predicts masked tokens, but " + model.folder().string() +
                        " has no tokenizer to name the mask token: give --all-positions for every position's MLM logits");
        }
        maskAt = core::maskPositions(*tok, ids);
        if (maskAt.empty()) {
            const auto mask = core::maskTokenId(*tok);
            return fail("no mask token" + (mask ? " (" + tok->tokenString(*mask) + ", id " + std::to_string(*mask) + ")" : std::string()) +
                        " in the input: put one in the prompt, or give --all-positions for every position's MLM logits");
        }
    }

    core::ForwardRequest req = run.request();
    req.allPositionLogits = o.allPositions || maskedLm;
    auto result = run.engine->run(req);
    if (!result) return fail(result.error());
    const core::ActivationTensor& logits = (*result)->logits;
    const std::int64_t V = logits.cols();

    const int topK = o.top > 0 ? o.top : 10;
    if (o.json) {
        nlohmann::json j;
        j["ids"] = ids;
        if (maskedLm) {
            j["mask_positions"] = maskAt;
            nlohmann::json rows = nlohmann::json::array(), tops = nlohmann::json::array();
            for (std::int64_t r : maskAt) {
                rows.push_back(std::vector<float>(logits.values.begin() + r * V, logits.values.begin() + (r + 1) * V));
                if (o.top > 0) tops.push_back(topTokens(logits.values.data() + r * V, V, topK, tok));
            }
            j["logits"] = std::move(rows);
            if (o.top > 0) j["top"] = std::move(tops);
        } else if (o.allPositions) {
            nlohmann::json rows = nlohmann::json::array();
            for (std::int64_t r = 0; r < logits.rows(); ++r) {
                rows.push_back(std::vector<float>(logits.values.begin() + r * V, logits.values.begin() + (r + 1) * V));
            }
            j["logits"] = std::move(rows);
        } else {
            j["logits"] = logits.values;
        }
        if (o.top > 0 && !maskedLm) {
            if (o.allPositions) {
                nlohmann::json tops = nlohmann::json::array();
                for (std::int64_t r = 0; r < logits.rows(); ++r) tops.push_back(topTokens(logits.values.data() + r * V, V, topK, tok));
                j["top"] = std::move(tops);
            } else {
                j["top"] = topTokens(logits.values.data(), V, topK, tok);
            }
        }
        j["edits"] = nlohmann::json::array();
        for (const auto& e : req.edits) j["edits"].push_back(e.text());
        printJson(j);
        return kExitOk;
    }
    auto printTop = [&](const float* row, std::int64_t position) {
        std::printf("position %lld (token %d)\n", static_cast<long long>(position), (ids)[static_cast<std::size_t>(position)]);
        for (const auto& e : topTokens(row, V, topK, tok)) {
            const std::string token = e["token"].is_null() ? "" : e["token"].get<std::string>();
            std::printf("  %8lld  %-20s logit %10.4f  p %.4f\n", static_cast<long long>(e["id"].get<std::int64_t>()),
                        nlohmann::json(token).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str(), e["logit"].get<double>(),
                        e["prob"].get<double>());
        }
    };
    if (maskedLm) {
        for (std::int64_t r : maskAt) printTop(logits.values.data() + r * V, r);
    } else if (o.allPositions) {
        for (std::int64_t r = 0; r < logits.rows(); ++r) printTop(logits.values.data() + r * V, r);
    } else {
        printTop(logits.values.data(), static_cast<std::int64_t>(ids.size()) - 1);
    }
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(30, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<LogitsOptions>();
    CLI::App* cmd = app.add_subcommand("logits", "Next-token logits of a prompt, with or without edits");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    addInputOptions(cmd, opts->input);
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--top", opts->top, "List the K most likely tokens with probabilities")->check(CLI::Range(1, 1000000));
    cmd->add_flag("--all-positions", opts->allPositions, "Logits for every position, not just the last (encoders: not just the mask positions)");
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"ids\", \"logits\"}");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->input.given()) return usageError("logits needs --prompt TEXT or --ids 1,2,3");
            return runLogits(*opts);
        };
    });
});

}  // namespace superlens::cli
