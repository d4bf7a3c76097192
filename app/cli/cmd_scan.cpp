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

// Installed before main() runs: function-local statics make the order safe.
const bool kKeepSuperResolverInstalled = [] {
    keepSuperResolver() = [](core::Engine& engine, const std::vector<core::TokenId>& tokens, std::vector<core::EditSpec> edits) {
        return core::resolveKeepSuperFromScan(engine, tokens, std::move(edits));
    };
    return true;
}();

nlohmann::json massiveJson(const core::MassiveActivation& m) { return nlohmann::json::parse(core::massiveActivationJson(m)); }

// Vision models: one image (--pixels); super weights and massive activations
// with the kind of each token (CLS, register i, patch (row, col)).
int runVisionScan(const ScanCliOptions& o, const std::shared_ptr<const core::Model>& model) {
    const core::Model& m = *model;
    if (!o.promptsFile.empty() || o.consistency) return fail("--prompts and --consistency take text prompts; a vision model reads one image (--pixels)");
    auto pixels = resolvePixels(o.input, m);
    if (!pixels) return fail(pixels.error());
    const std::int64_t T = m.config().imageTokenCount((*pixels)->height, (*pixels)->width);
    auto edits = resolveEdits(o.edits, m, T);
    if (!edits) return fail(edits.error());
    for (const auto& e : *edits) {
        if (e.needsSuperWeightScan() || e.needsSuperActivationScan()) return fail("keep_super without coordinates is not available for images yet");
    }
    core::Engine engine(model, engineOptions(o.compute));
    core::SuperWeightScanOptions scanOptions = o.scan;
    scanOptions.pixels = *pixels;
    auto scan = core::scanSuperWeights(engine, {}, *edits, scanOptions);
    if (!scan) return fail(scan.error());
    auto massive = core::findMassiveActivations(*scan->firstResult, nullptr, o.massive);
    if (!massive) return fail(massive.error());
    if (o.json) {
        nlohmann::json j = nlohmann::json::parse(core::massiveReportJson(*massive));
        j["super_weights"] = nlohmann::json::array();
        for (const auto& sw : scan->superWeights) j["super_weights"].push_back(analysis::superWeightJson(sw, m));
        j["image"] = nlohmann::json::parse(core::imageJson(**pixels, m.config()));
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
int runExpertScan(const ScanCliOptions& o, const core::Model& m, std::shared_ptr<const core::Model> model, const core::Tokenizer* tok,
                  const std::vector<std::vector<core::TokenId>>& prompts, const std::vector<core::EditSpec>& edits) {
    core::Engine engine(std::move(model), engineOptions(o.compute));
    auto scan = core::scanExpertModel(engine, prompts, edits, o.scan);
    if (!scan) return fail(scan.error());
    const auto* sws = &scan->inExperts;
    const auto& dense = scan->denseWeights;
    const auto& denseLayers = scan->denseLayers;
    core::ForwardRequest req;
    req.tokens = prompts.front();
    req.edits = edits;
    req.record = core::HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto first = engine.run(req);
    if (!first) return fail(first.error());
    auto massive = core::findMassiveActivations(**first, tok, o.massive);
    if (!massive) return fail(massive.error());
    const auto& p = scan->profile;
    if (o.json) {
        nlohmann::json j = nlohmann::json::parse(core::expertScanJson(*scan, m));
        j["massive_activations"] = nlohmann::json::array();
        for (const auto& a : massive->flagged) j["massive_activations"].push_back(massiveJson(a));
        j["ids"] = prompts.front();
        j["prompts"] = static_cast<int>(prompts.size());
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
    auto model = openModel(o.model);
    if (!model) return fail(model.error());
    const core::Model& m = **model;
    if (m.config().pixelInput || o.input.hasPicture()) return runVisionScan(o, *model);
    auto tokOr = optionalTokenizer(m);
    if (!tokOr) return fail(tokOr.error());
    const core::Tokenizer* tok = tokOr->get();

    // The prompt set: the explicit input first, then --prompts and (with
    // --consistency, or when no input is given) the bundled defaults.
    std::vector<std::vector<core::TokenId>> prompts;
    std::vector<std::string> promptLabels;
    const bool explicitInput = o.input.given();
    if (explicitInput) {
        auto ids = resolveTokens(o.input, m, tok);
        if (!ids) return fail(ids.error());
        prompts.push_back(std::move(ids).value());
        promptLabels.push_back(o.input.hasPrompt ? o.input.prompt : "--ids");
    }
    auto addTextPrompts = [&](const std::vector<std::string>& lines, const std::string& origin) -> core::Status {
        if (!tok) {
            return core::Error{m.folder().string() + ": no tokenizer.json or tokenizer.model, needed to tokenize " + origin +
                               "; give token ids with --ids 1,2,3"};
        }
        for (const auto& line : lines) {
            auto ids = tok->encode(line, true);
            if (ids.empty()) continue;
            prompts.push_back(std::move(ids));
            promptLabels.push_back(line);
        }
        return {};
    };
    if (!o.promptsFile.empty()) {
        auto fromFile = readPromptsFile(o.promptsFile, m, tok);  // the rule capture reads --prompts by
        if (!fromFile) return fail(fromFile.error());
        for (auto& p : *fromFile) {
            prompts.push_back(std::move(p.ids));
            promptLabels.push_back(std::move(p.text));
        }
    }
    if (!explicitInput || o.consistency) {
        const auto defaults = core::bundledDefaultPrompts();
        if (defaults.empty()) return fail("this build has no bundled default prompts (resources/prompts/default_prompts.txt); give --prompt or --ids");
        if (auto s = addTextPrompts(defaults, "the bundled default prompts"); !s) return fail(s.error());
    }
    const std::vector<core::TokenId>& primary = prompts.front();

    auto edits = resolveEdits(o.edits, m, static_cast<std::int64_t>(primary.size()));
    if (!edits) return fail(edits.error());
    if (m.config().hasExperts()) return runExpertScan(o, m, *model, tok, prompts, *edits);
    core::Engine engine(*model, engineOptions(o.compute));
    auto resolved = resolveKeepSuper(engine, primary, std::move(edits).value());
    if (!resolved) return fail(resolved.error());

    auto scan = core::scanSuperWeights(engine, primary, *resolved, o.scan);
    if (!scan) return fail(scan.error());
    auto massive = core::findMassiveActivations(*scan->firstResult, tok, o.massive);
    if (!massive) return fail(massive.error());

    // Consistency over the prompt set (the primary scan is reused for prompt 0).
    std::vector<core::SuperWeightConsistency> consistency;
    if (prompts.size() > 1) {
        auto c = core::scanConsistency(engine, prompts, *resolved, o.scan, core::RunControl::none(), &*scan);
        if (!c) return fail(c.error());
        consistency = std::move(c).value();
    }
    // Reported super weights: the explicit prompt's scan, or with the default
    // set, the coordinates found in at least minConsistency of the prompts.
    std::vector<core::SuperWeight> reported;
    std::vector<int> reportedFound;
    if (explicitInput || prompts.size() == 1) {
        reported = scan->superWeights;
    } else {
        for (const auto& c : consistency) {
            if (c.fraction() + 1e-12 >= o.minConsistency) reported.push_back(c.weight);
        }
    }

    const auto published = core::PublishedCoordinates::bundled().match(m.config(), m.folder().filename().string());

    if (o.json) {
        nlohmann::json j;
        j["super_weights"] = nlohmann::json::array();
        for (const auto& sw : reported) {
            nlohmann::json e = analysis::superWeightJson(sw, m);
            for (const auto& c : consistency) {
                if (c.weight.sameCoordinate(sw)) {
                    e["prompts_found"] = c.promptsFound;
                    e["prompts_total"] = c.promptsTotal;
                }
            }
            j["super_weights"].push_back(std::move(e));
        }
        j.update(nlohmann::json::parse(core::massiveReportJson(*massive)));
        j.update(nlohmann::json::parse(core::scanPassesJson(*scan)));
        j["ids"] = primary;
        j["prompts"] = static_cast<int>(prompts.size());
        if (prompts.size() > 1) {
            j["consistency"] = nlohmann::json::array();
            for (const auto& c : consistency) {
                j["consistency"].push_back({{"layer", c.weight.layer}, {"row", c.weight.row}, {"col", c.weight.col}, {"output_axis", c.weight.outputAxis},
                                            {"prompts_found", c.promptsFound}, {"prompts_total", c.promptsTotal}});
            }
        }
        if (published) {
            const auto& p = *published->model;
            nlohmann::json pj = {{"model", p.name}, {"matched_by", published->matchedBy}, {"source", p.source}};
            pj["super_weights"] = nlohmann::json::array();
            for (const auto& c : p.superWeights) {
                const bool found = std::any_of(reported.begin(), reported.end(), [&](const auto& sw) { return sw.coord() == c; });
                pj["super_weights"].push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}, {"found", found}});
            }
            pj["massive_channels"] = p.massiveChannels;
            if (!p.note.empty()) pj["note"] = p.note;
            j["published"] = std::move(pj);
        } else {
            j["published"] = nullptr;
        }
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
        for (const auto& c : consistency) {
            if (c.weight.sameCoordinate(sw)) std::printf("  in %d/%d prompts", c.promptsFound, c.promptsTotal);
        }
        std::printf("\n");
    }
    if (prompts.size() > 1) {
        for (const auto& c : consistency) {
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
    if (published) {
        const auto& p = *published->model;
        std::printf("\npublished coordinates (%s, matched by %s): ", p.name.c_str(), published->matchedBy.c_str());
        for (const auto& c : p.superWeights) {
            const bool found = std::any_of(reported.begin(), reported.end(), [&](const auto& sw) { return sw.coord() == c; });
            std::printf(" layers.%d[%lld,%lld]%s", c.layer, static_cast<long long>(c.row), static_cast<long long>(c.col), found ? " (found)" : " (not found)");
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
