// superlens-cli scan MODEL [--prompt TEXT | --ids 1,2,3] [--prompts FILE] [--consistency] [--edit E]... [--json]
// Super weights (layer,row,col,value) and massive activations
// (layer,token,channel,value,ratio), per DESIGN.md. Without --prompt/--ids
// the bundled default prompt set is scanned (needs the model's tokenizer) and
// the super weights reported are those found in at least --min-consistency of
// the prompts. Published coordinates are shown beside the scan when the model
// matches the bundled table.
//
// This file also installs the keep_super resolver (cli_common.h): rtn/actq
// keep_super without a list takes the super weights of a scan of the
// command's own input.

#include <cmath>
#include <cstdio>
#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/prompt_set_scan.h"
#include "superlens/core/analysis/published_coordinates.h"
#include "superlens/core/analysis/super_experts.h"

namespace superlens::cli {
namespace {

struct ScanCliOptions {
    std::string model;
    InputOptions input;
    EditOptions edits;
    ComputeOptions compute;
    std::string promptsFile;
    bool consistency = false;
    double minConsistency = 0.5;
    core::SuperWeightScanOptions scan;
    core::MassiveActivationOptions massive;
    bool json = false;
};


// Vision models: one image (--pixels); super weights and massive activations
// with the kind of each token (CLS, register i, patch (row, col)).
int runVisionScan(const ScanCliOptions& o, const PreparedModel& prepared) {
    const core::Model& m = *prepared.model;
    if (!o.promptsFile.empty() || o.consistency) return fail("--prompts and --consistency take text prompts; a vision model reads one image (--pixels)");
    auto pixels = resolvePixels(o.input, m);
    if (!pixels) return fail(pixels.error());
    const std::int64_t T = m.config().imageTokenCount((*pixels)->height, (*pixels)->width);
    auto edits = prepared.editsFor(o.edits, {}, *pixels);
    if (!edits) return fail(edits.error());
    core::PromptSetScanOptions so;
    so.scan = o.scan;
    so.massive = o.massive;
    auto result = core::scanImage(*prepared.engine, *pixels, *edits, so);
    if (!result) return fail(result.error());
    const core::SuperWeightScan* scan = &result->scan;
    const core::MassiveActivationReport* massive = &result->massive;
    if (o.json) {
        nlohmann::json j = nlohmann::json::parse(core::imageScanJson(*result, m));
        j["edits"] = analysis::editsJson(*edits);
        printJson(j);
        return kExitOk;
    }
    std::printf("%s: %d layers, image %dx%d -> %lld tokens (CLS, %d registers, %dx%d patches)\n", o.model.c_str(), m.config().numLayers,
                (*pixels)->height, (*pixels)->width, static_cast<long long>(T), m.config().numRegisters, (*pixels)->height / m.config().patchSize,
                (*pixels)->width / m.config().patchSize);
    std::printf("\nsuper weights (%zu):\n", scan->superWeights.size());
    for (const auto& sw : scan->superWeights) {
        std::printf("  %s[%lld,%lld] = %.6g   %s, down_out %.4g (%.0fx)\n", sw.tensorName(m).c_str(), static_cast<long long>(sw.row),
                    static_cast<long long>(sw.col), sw.value,
                    core::imageTokenAt(sw.token, m.config().numRegisters, (*pixels)->width / m.config().patchSize).label().c_str(), sw.downOut,
                    sw.outputRatio);
    }
    std::printf("\nlargest residual entries per layer:\n");
    for (const auto& layer : massive->topPerLayer) {
        for (const auto& a : layer) {
            std::printf("  layer %3d  %-16s channel %6lld  value %12.5g  ratio %10.1f\n", a.layer, a.imageToken->label().c_str(),
                        static_cast<long long>(a.channel), a.value, a.ratio);
        }
    }
    std::printf("\nmassive activations (>= %.0fx the layer median): %zu\n", o.massive.ratioThreshold, massive->flagged.size());
    for (const auto& a : massive->flagged) {
        std::printf("  layer %3d  %-16s channel %6lld  value %12.5g  ratio %10.1f\n", a.layer, a.imageToken->label().c_str(),
                    static_cast<long long>(a.channel), a.value, a.ratio);
    }
    return kExitOk;
}

// Mixture-of-experts models: the super-expert profile over every prompt (Su
// et al. 2025's rule), the super weight inside each flagged expert, and the
// massive activations of the first prompt.
int runExpertScan(const ScanCliOptions& o, const PreparedModel& prepared, const std::vector<std::vector<core::TokenId>>& prompts,
                  const std::vector<core::EditSpec>& edits, const core::PromptSetScanOptions& options) {
    const core::Model& m = *prepared.model;
    auto result = core::scanExpertPromptSet(*prepared.engine, prompts, edits, prepared.tokenizer.get(), options);
    if (!result) return fail(result.error());
    const core::ExpertModelScan* scan = &result->scan;
    const auto* sws = &scan->inExperts;
    const auto& dense = scan->denseWeights;
    const auto& denseLayers = scan->denseLayers;
    const core::MassiveActivationReport* massive = &result->massive;
    const auto& p = scan->profile;
    if (o.json) {
        nlohmann::json j = nlohmann::json::parse(core::expertPromptSetScanJson(*result, m));
        j["edits"] = analysis::editsJson(edits);
        printJson(j);
        return kExitOk;
    }
    std::printf("%s: %d layers, %zu routed (%d experts, top-%d), profiled %lld tokens in %zu prompt(s)\n", o.model.c_str(), m.config().numLayers,
                p.layers.size(), p.experts, p.topK, static_cast<long long>(p.tokens), prompts.size());
    std::printf("\nsuper experts (max |down_proj output| > %.4g = max(99.5th percentile %.4g, max/10 %.4g)): %zu\n", p.threshold, p.percentile995,
                p.globalMax / 10, p.superExperts.size());
    for (const auto& s : p.superExperts) {
        std::printf("  layer %3d expert %4d  max %12.5g  prompt %d token %lld channel %lld  load %lld\n", s.layer, s.expert, s.maxAbsOut, s.prompt,
                    static_cast<long long>(s.token), static_cast<long long>(s.channel), static_cast<long long>(s.load));
    }
    if (!denseLayers.empty()) {
        std::printf("\nsuper weights in the dense layers (");
        for (std::size_t i = 0; i < denseLayers.size(); ++i) std::printf("%s%d", i ? "," : "", denseLayers[i]);
        std::printf("): %zu\n", dense.size());
        for (const auto& sw : dense) {
            std::printf("  %s[%lld,%lld] = %.6g   token %lld, down_in %.4g, down_out %.4g\n", sw.tensorName(m).c_str(), static_cast<long long>(sw.row),
                        static_cast<long long>(sw.col), sw.value, static_cast<long long>(sw.token), sw.downIn, sw.downOut);
        }
    }
    std::printf("\nsuper weights inside them:\n");
    for (const auto& w : *sws) {
        std::printf("  %s[%lld,%lld] = %.6g   token %lld, down_in %.4g, down_out %.4g (%.0f%% of it)\n", w.tensor.c_str(), static_cast<long long>(w.row),
                    static_cast<long long>(w.col), w.value, static_cast<long long>(w.token), w.downIn, w.downOut, 100 * w.share);
    }
    std::printf("\nrouting of the first token (top-%d per routed layer):", p.topK);
    for (std::size_t li = 0; li < p.layers.size(); ++li) {
        std::printf(" L%d:", p.layers[li]);
        for (std::size_t k = 0; k < p.firstTokenExperts[li].size(); ++k) std::printf("%s%d", k ? "," : "", p.firstTokenExperts[li][k]);
    }
    std::printf("\n\nmassive activations (>= %.0fx the layer median): %zu\n", o.massive.ratioThreshold, massive->flagged.size());
    for (const auto& a : massive->flagged) {
        std::printf("  layer %3d  token %4lld  channel %6lld  value %12.5g  ratio %10.1f%s\n", a.layer, static_cast<long long>(a.token),
                    static_cast<long long>(a.channel), a.value, a.ratio, a.firstToken ? "  first token" : "");
    }
    return kExitOk;
}

int runScan(const ScanCliOptions& o) {
    auto prepared = prepareModel(o.model, engineOptions(o.compute));
    if (!prepared) return fail(prepared.error());
    const core::Model& m = *prepared->model;
    if (m.config().pixelInput || o.input.hasPicture()) return runVisionScan(o, *prepared);
    const core::Tokenizer* tok = prepared->tokenizer.get();

    // The prompt set: the explicit input first, then --prompts and (with
    // --consistency, or when no input is given) the bundled defaults.
    std::vector<std::vector<core::TokenId>> prompts;
    const bool explicitInput = o.input.given();
    if (explicitInput) {
        auto ids = resolveTokens(o.input, m, tok);
        if (!ids) return fail(ids.error());
        prompts.push_back(std::move(ids).value());
    }
    if (!o.promptsFile.empty()) {
        auto fromFile = readPromptsFile(o.promptsFile, m, tok);  // the rule capture reads --prompts by
        if (!fromFile) return fail(fromFile.error());
        for (auto& p : *fromFile) prompts.push_back(std::move(p.ids));
    }
    if (!explicitInput || o.consistency) {
        auto defaults = core::bundledScanPrompts(m, tok);
        if (!defaults) return fail(defaults.error().message + (explicitInput ? "" : " with --ids 1,2,3"));
        for (auto& p : *defaults) prompts.push_back(std::move(p.ids));
    }
    const std::vector<core::TokenId>& primary = prompts.front();

    auto resolved = prepared->editsFor(o.edits, primary);
    if (!resolved) return fail(resolved.error());
    core::PromptSetScanOptions so;
    so.scan = o.scan;
    so.massive = o.massive;
    so.minConsistency = o.minConsistency;
    so.firstPromptExplicit = explicitInput;
    if (m.config().hasExperts()) return runExpertScan(o, *prepared, prompts, *resolved, so);
    auto scanned = core::scanPromptSet(*prepared->engine, prompts, *resolved, tok, so);
    if (!scanned) return fail(scanned.error());
    const core::PromptSetScan& result = *scanned;
    const core::SuperWeightScan* scan = &result.first;
    const core::MassiveActivationReport* massive = &result.massive;
    const auto& reported = result.reported;

    if (o.json) {
        nlohmann::json j = nlohmann::json::parse(core::promptSetScanJson(result, m));
        j["edits"] = analysis::editsJson(*resolved);
        printJson(j);
        return kExitOk;
    }

    std::printf("%s: %d layers, scanned %zu prompt(s)%s\n", o.model.c_str(), m.config().numLayers, prompts.size(),
                prompts.size() > 1 && !explicitInput ? " (bundled default set)" : "");
    std::printf("\nlayer  max|down_in| (x median)   max|down_out| (x median)   max|resid| (x median)\n");
    for (const auto& s : scan->firstPass) {
        std::printf("%5d  %12.4g (%8.1fx)  %12.4g (%8.1fx)  %12.4g (%8.1fx)\n", s.layer, s.downIn.absValue(), s.downInRatio(), s.downOut.absValue(),
                    s.downOutRatio(), s.resid.absValue(), s.residRatio());
    }
    std::printf("\nsuper weights (%zu):\n", reported.size());
    for (const auto& sw : reported) {
        std::printf("  %s[%lld,%lld] = %.6g   token %lld, down_in %.4g, down_out %.4g (%.0fx)", sw.tensorName(m).c_str(),
                    static_cast<long long>(sw.row), static_cast<long long>(sw.col), sw.value, static_cast<long long>(sw.token), sw.downIn,
                    sw.downOut, sw.outputRatio);
        // Stored [in, out] (GPT-2's Conv1D): say which index is the output channel.
        if (sw.outputAxis != 0) std::printf("  (stored [in, out]: output channel %lld)", static_cast<long long>(sw.outputChannel()));
        if (const auto* c = result.consistencyOf(sw)) std::printf("  in %d/%d prompts", c->promptsFound, c->promptsTotal);
        std::printf("\n");
    }
    if (prompts.size() > 1) {
        for (const auto& c : result.consistency) {
            const bool shown = std::any_of(reported.begin(), reported.end(), [&](const auto& sw) { return sw.sameCoordinate(c.weight); });
            if (!shown) {
                std::printf("  (seen in %d/%d prompts only: layers.%d[%lld,%lld])\n", c.promptsFound, c.promptsTotal, c.weight.layer,
                            static_cast<long long>(c.weight.row), static_cast<long long>(c.weight.col));
            }
        }
    }
    std::printf("\nmassive activations (>= %.0fx the layer median): %zu\n", o.massive.ratioThreshold, massive->flagged.size());
    for (const auto& a : massive->flagged) {
        // Token text when the model has a tokenizer, else the id.
        std::string tokenText;
        if (a.token < static_cast<std::int64_t>(primary.size())) {
            const core::TokenId id = primary[static_cast<std::size_t>(a.token)];
            tokenText = tok ? tok->tokenText(id) : "id " + std::to_string(id);
        }
        std::printf("  layer %3d  token %4lld %-12s channel %6lld  value %12.5g  ratio %10.1f%s%s\n", a.layer, static_cast<long long>(a.token),
                    nlohmann::json(tokenText).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str(),
                    static_cast<long long>(a.channel), a.value, a.ratio, a.firstToken ? "  first token" : "", a.delimiter ? "  delimiter" : "");
    }
    for (const auto& p : massive->persistent) {
        std::printf("  persists: token %lld channel %lld, layers %d..%d\n", static_cast<long long>(p.token), static_cast<long long>(p.channel),
                    p.firstLayer, p.lastLayer);
    }
    if (result.published) {
        const auto& p = *result.published->model;
        std::printf("\npublished coordinates (%s, matched by %s): ", p.name.c_str(), result.published->matchedBy.c_str());
        for (const auto& c : p.superWeights) {
            std::printf(" layers.%d[%lld,%lld]%s", c.layer, static_cast<long long>(c.row), static_cast<long long>(c.col),
                        result.found(c) ? " (found)" : " (not found)");
        }
        if (!p.massiveChannels.empty()) {
            std::printf("; massive-activation channels");
            for (auto ch : p.massiveChannels) std::printf(" %lld", static_cast<long long>(ch));
        }
        std::printf("\n  source: %s\n", p.source.c_str());
        if (!p.note.empty()) std::printf("  note: %s\n", p.note.c_str());
    }
    std::printf("\nscan: %d forward pass(es):", scan->forwardPasses);
    for (std::size_t i = 0; i < scan->iterationSeconds.size(); ++i) {
        std::printf(" %.3fs (from layer %d)", scan->iterationSeconds[i], scan->iterationStartLayer[i]);
    }
    std::printf("\n");
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(35, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<ScanCliOptions>();
    CLI::App* cmd = app.add_subcommand("scan", "Find super weights and massive activations");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    addInputOptions(cmd, opts->input);
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--prompts", opts->promptsFile, "More prompts, one per line: report how consistently each super weight appears");
    cmd->add_flag("--consistency", opts->consistency, "Also scan the bundled default prompts and report consistency");
    cmd->add_option("--min-consistency", opts->minConsistency,
                    "Without --prompt/--ids: report super weights found in at least this fraction of the prompts (default 0.5)")
        ->check(CLI::Range(0.0, 1.0));
    analysis::addScanOptions(cmd, opts->scan);
    cmd->add_option("--massive-ratio", opts->massive.ratioThreshold, "Massive activation: |value| / layer median at least this (default 100)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--top-k", opts->massive.topK, "Largest residual entries listed per layer (default 3)")->check(CLI::Range(1, 1000));
    cmd->add_flag("--json", opts->json, "Print one JSON document {\"super_weights\", \"massive_activations\", ...}");
    cmd->callback([&ctx, opts] { ctx.run = [opts] { return runScan(*opts); }; });
});

}  // namespace superlens::cli
