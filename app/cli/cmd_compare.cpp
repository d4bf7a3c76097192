// superlens-cli compare A B (--prompt TEXT | --ids 1,2,3 | --text FILE | --text-ids FILE) [--ctx N] [--top N] [--imatrix FILE] [--json]
// Two models of the same shapes (a GGUF and its source checkpoint, two
// quantizations, base vs fine-tune), A as the reference: per-tensor relative
// error, every super weight in both (value, quantization step of its block,
// error in steps), the super activation in both, and on the tokens the
// next-token KL(P_A || P_B), each model's NLL / perplexity and top-1
// agreement. core::compareModels does the work (docs/GGUF.md, "compare").

#include <algorithm>
#include <cstdio>
#include <optional>

#include "analysis_common.h"
#include "superlens/core/analysis/model_compare.h"

namespace superlens::cli {
namespace {

struct CompareCliOptions {
    std::string a, b;
    InputOptions input;
    analysis::TextInput text;
    int context = 0;
    int top = 10;
    std::string imatrix;
    bool json = false;
};

nlohmann::json stepJson(float step) { return step > 0 ? nlohmann::json(step) : nlohmann::json(nullptr); }

nlohmann::json modelJson(const core::Model& m) {
    return {{"path", m.folder().string()}, {"format", m.isGguf() ? "gguf" : "safetensors"}, {"dtypes", m.parametersByStorage()}};
}

int runCompare(const CompareCliOptions& o) {
    auto a = openModel(o.a);
    if (!a) return fail(a.error());
    auto b = openModel(o.b);
    if (!b) return fail(b.error());
    // Tokens from A's tokenizer (the models are meant to share it).
    std::vector<core::TokenId> ids;
    if (o.input.given()) {
        auto r = resolveTokens(o.input, **a);
        if (!r) return fail(r.error());
        ids = std::move(r).value();
    } else {
        auto tok = optionalTokenizer(**a);
        if (!tok) return fail(tok.error());
        auto r = analysis::loadTextTokens(o.text, **a, tok->get());
        if (!r) return fail(r.error());
        ids = std::move(r).value();
    }
    const int context = analysis::windowLength(o.context, **a);
    const std::size_t textTokens = ids.size();
    if (ids.size() > static_cast<std::size_t>(context)) ids.resize(static_cast<std::size_t>(context));
    core::ModelCompareOptions options;
    std::optional<core::Imatrix> imatrix;
    if (!o.imatrix.empty()) {
        auto im = core::Imatrix::open(o.imatrix);
        if (!im) return fail(im.error());
        imatrix = std::move(im).value();
        options.imatrix = &*imatrix;
    }
    auto cmp = core::compareModels(*a, *b, ids, options);
    if (!cmp) return fail(cmp.error());
    const core::ModelComparison& c = *cmp;
    const core::Model& ma = **a;
    const core::Model& mb = **b;

    if (o.json) {
        nlohmann::json j;
        j["a"] = modelJson(ma);
        j["b"] = modelJson(mb);
        j["ids"] = c.tokens;
        j["text_tokens"] = textTokens;
        nlohmann::json tensors = nlohmann::json::array();
        for (const auto& t : c.tensors) {
            tensors.push_back({{"name", t.name},
                               {"gguf_a", t.ggufNameA.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.ggufNameA)},
                               {"gguf_b", t.ggufNameB.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.ggufNameB)},
                               {"storage_a", t.storageA},
                               {"storage_b", t.storageB},
                               {"layer", t.layer},
                               {"kind", t.kind},
                               {"elements", t.elements},
                               {"transposed", t.transposed},
                               {"relative_error", t.relativeError},
                               {"max_abs_error", t.maxAbsError}});
        }
        j["tensors"] = std::move(tensors);
        j["only_in_a"] = c.onlyInA;
        j["only_in_b"] = c.onlyInB;
        nlohmann::json layers = nlohmann::json::array();
        for (std::size_t l = 0; l < c.layerRelativeError.size(); ++l) {
            layers.push_back({{"layer", l}, {"relative_error", c.layerRelativeError[l]}, {"max_relative_error", c.layerMaxRelativeError[l]}});
        }
        j["layers"] = std::move(layers);
        nlohmann::json sws = nlohmann::json::array();
        for (const auto& s : c.superWeights) {
            const std::string tensor = s.weight.tensorName(ma);
            const core::TensorView* db = mb.layerWeight(s.weight.layer, core::LayerWeight::Down);
            sws.push_back({{"layer", s.weight.layer},
                           {"row", s.weight.row},
                           {"col", s.weight.col},
                           {"output_channel", s.weight.outputChannel()},
                           {"input_channel", s.weight.inputChannel()},
                           {"token", s.weight.token},
                           {"tensor", tensor},
                           {"gguf_tensor_b", mb.isGguf() ? nlohmann::json(mb.ggufName(tensor)) : nlohmann::json(nullptr)},
                           {"storage_b", db ? nlohmann::json(std::string(db->storageName())) : nlohmann::json(nullptr)},
                           {"found_in_a", s.foundInA},
                           {"found_in_b", s.foundInB},
                           {"value_a", s.valueA},
                           {"value_b", s.valueB},
                           {"step_a", stepJson(s.stepA)},
                           {"step_b", stepJson(s.stepB)},
                           {"error_in_steps_b", s.stepB > 0 ? nlohmann::json(s.errorInStepsB) : nlohmann::json(nullptr)},
                           {"activation_a", s.activationA},
                           {"activation_b", s.activationB},
                           {"imatrix", s.hasImportance ? nlohmann::json{{"tensor", s.imatrixTensor},
                                                                        {"importance", s.importance},
                                                                        {"rank", s.importanceRank},
                                                                        {"columns", s.importanceColumns},
                                                                        {"ratio_to_median", s.importanceToMedian}}
                                                       : nlohmann::json(nullptr)}});
        }
        j["super_weights"] = std::move(sws);
        const auto& l = c.logits;
        j["logits"] = {{"positions", l.positions}, {"predicted", l.predicted},       {"kl_mean", l.klMean},
                       {"kl_max", l.klMax},         {"kl_max_position", l.klMaxPosition}, {"nll_a", l.nllA},
                       {"nll_b", l.nllB},           {"ppl_a", l.pplA},               {"ppl_b", l.pplB},
                       {"top1_agreement", l.top1Agreement}};
        printJson(j);
        return kExitOk;
    }

    std::printf("A: %s (%s)\nB: %s (%s)\n", ma.folder().string().c_str(), ma.isGguf() ? "gguf" : "safetensors", mb.folder().string().c_str(),
                mb.isGguf() ? "gguf" : "safetensors");
    const auto& l = c.logits;
    std::printf("\nlogits over %lld positions%s:\n  KL(A||B) mean %.6g nats, max %.6g at position %lld; top-1 agreement %.1f%%\n",
                static_cast<long long>(l.positions), textTokens > c.tokens.size() ? " (text cut to --ctx)" : "", l.klMean, l.klMax,
                static_cast<long long>(l.klMaxPosition), 100.0 * l.top1Agreement);
    std::printf("  perplexity A %.6g (NLL %.6f), B %.6g (NLL %.6f) over %lld predicted tokens\n", l.pplA, l.nllA, l.pplB, l.nllB,
                static_cast<long long>(l.predicted));
    std::printf("\nsuper weights (%zu):\n", c.superWeights.size());
    for (const auto& s : c.superWeights) {
        std::printf("  %s[%lld,%lld]  found in %s\n    weight      A %.6g  B %.6g", s.weight.tensorName(ma).c_str(), static_cast<long long>(s.weight.row),
                    static_cast<long long>(s.weight.col), s.foundInA && s.foundInB ? "A and B" : (s.foundInA ? "A only" : "B only"), s.valueA, s.valueB);
        if (s.stepB > 0) std::printf("  (B's block step %.6g: error %+.3f steps)", s.stepB, s.errorInStepsB);
        std::printf("\n    activation  A %.6g  B %.6g  (layer %d, token %lld, channel %lld)\n", s.activationA, s.activationB, s.weight.layer,
                    static_cast<long long>(s.weight.token), static_cast<long long>(s.weight.outputChannel()));
        if (s.hasImportance) {
            std::printf("    imatrix     column %lld of %s: importance %.6g, rank %lld of %lld, %.3g x the median column\n",
                        static_cast<long long>(s.weight.inputChannel()), s.imatrixTensor.c_str(), s.importance, static_cast<long long>(s.importanceRank),
                        static_cast<long long>(s.importanceColumns), s.importanceToMedian);
        }
    }
    std::printf("\nper layer: relative error of all its tensors (largest single tensor)\n");
    for (std::size_t i = 0; i < c.layerRelativeError.size(); ++i) {
        std::printf("  layer %3zu  %.4g  (%.4g)\n", i, c.layerRelativeError[i], c.layerMaxRelativeError[i]);
    }
    std::vector<const core::TensorDifference*> order;
    for (const auto& t : c.tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const auto* x, const auto* y) { return x->relativeError > y->relativeError; });
    const std::size_t n = std::min<std::size_t>(order.size(), static_cast<std::size_t>(std::max(0, o.top)));
    std::printf("\n%zu tensors compared; the %zu with the largest relative error:\n", c.tensors.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto* t = order[i];
        std::printf("  %-48s %-5s -> %-5s  rel %.4g  max |diff| %.4g\n", t->name.c_str(), t->storageA.c_str(), t->storageB.c_str(), t->relativeError,
                    t->maxAbsError);
    }
    if (!c.onlyInA.empty() || !c.onlyInB.empty()) std::printf("\nonly in A: %zu tensors, only in B: %zu tensors\n", c.onlyInA.size(), c.onlyInB.size());
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(55, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<CompareCliOptions>();
    CLI::App* cmd = app.add_subcommand("compare", "Compare two models of the same shapes: tensor errors, super weights, KL and perplexity");
    cmd->add_option("A", opts->a, "Reference model (folder or .gguf)")->required();
    cmd->add_option("B", opts->b, "Model compared with it (folder or .gguf)")->required();
    addInputOptions(cmd, opts->input);
    analysis::addTextOptions(cmd, opts->text, false);
    cmd->add_option("--ctx", opts->context, "At most this many tokens (default min(512, max_position_embeddings))")->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--top", opts->top, "Tensors listed in the text report, largest error first (default 10)")->check(CLI::Range(0, 1 << 20));
    cmd->add_option("--imatrix", opts->imatrix, "llama.cpp importance matrix (imatrix.dat or GGUF imatrix): each super weight's column importance");
    cmd->add_flag("--json", opts->json, "Print one JSON document (docs/GGUF.md)");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            const int given = (opts->input.given() ? 1 : 0) + (opts->text.given() ? 1 : 0);
            if (given != 1) return usageError("compare needs one of --prompt, --ids, --text or --text-ids");
            if (opts->text.bosWindows) return usageError("compare reads one window: --bos-windows does not apply");
            return runCompare(*opts);
        };
    });
});

}  // namespace superlens::cli
