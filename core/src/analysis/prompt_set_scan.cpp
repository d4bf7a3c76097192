#include "superlens/core/analysis/prompt_set_scan.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/report_json.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

bool PromptSetScan::found(const SuperWeightCoord& c) const {
    return std::any_of(reported.begin(), reported.end(), [&](const SuperWeight& sw) { return sw.coord() == c; });
}

const SuperWeightConsistency* PromptSetScan::consistencyOf(const SuperWeight& sw) const {
    for (const auto& c : consistency) {
        if (c.weight.sameCoordinate(sw)) return &c;
    }
    return nullptr;
}

Result<std::vector<ScanPrompt>> bundledScanPrompts(const Model& model, const Tokenizer* tokenizer) {
    const auto lines = bundledDefaultPrompts();
    if (lines.empty()) return Error{"this build has no bundled default prompts (resources/prompts/default_prompts.txt); give a prompt or token ids"};
    if (!tokenizer) {
        return Error{model.folder().string() + ": no tokenizer.json or tokenizer.model, needed to tokenize the bundled default prompts; give token ids"};
    }
    std::vector<ScanPrompt> out;
    for (const auto& line : lines) {
        auto ids = tokenizer->encode(line, true);
        if (!ids.empty()) out.push_back({line, std::move(ids)});
    }
    if (out.empty()) return Error{model.folder().string() + ": the tokenizer gives no tokens for any bundled default prompt"};
    return out;
}

Result<PromptSetScan> scanPromptSet(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                    const Tokenizer* tokenizer, const PromptSetScanOptions& options, const RunControl& control) {
    if (prompts.empty()) return Error{"no prompt to scan"};
    PromptSetScan out;
    out.firstPrompt = prompts.front();
    out.prompts = static_cast<int>(prompts.size());
    auto first = scanSuperWeights(engine, prompts.front(), edits, options.scan, control);
    if (!first) return first.error();
    out.first = std::move(first).value();
    auto massive = findMassiveActivations(*out.first.firstResult, tokenizer, options.massive);
    if (!massive) return massive.error();
    out.massive = std::move(massive).value();
    if (prompts.size() > 1) {
        // The first prompt's scan is reused as the set's first entry.
        auto c = scanConsistency(engine, prompts, edits, options.scan, control, &out.first);
        if (!c) return c.error();
        out.consistency = std::move(c).value();
    }
    // The user's own prompt reports its own super weights; a set reports what
    // at least minConsistency of its prompts found.
    if (options.firstPromptExplicit || prompts.size() == 1) {
        out.reported = out.first.superWeights;
    } else {
        for (const auto& c : out.consistency) {
            if (c.fraction() + 1e-12 >= options.minConsistency) out.reported.push_back(c.weight);
        }
    }
    const Model& model = engine.model();
    out.published = PublishedCoordinates::bundled().match(model.config(), model.folder().filename().string());
    return out;
}

std::string promptSetScanJson(const PromptSetScan& scan, const Model& model) {
    using nlohmann::json;
    json j;
    j["super_weights"] = json::array();
    for (const auto& sw : scan.reported) {
        json e = json::parse(superWeightJson(sw, model));
        if (const auto* c = scan.consistencyOf(sw)) {
            e["prompts_found"] = c->promptsFound;
            e["prompts_total"] = c->promptsTotal;
        }
        j["super_weights"].push_back(std::move(e));
    }
    j.update(json::parse(massiveReportJson(scan.massive)));
    j.update(json::parse(scanPassesJson(scan.first)));
    j["ids"] = scan.firstPrompt;
    j["prompts"] = scan.prompts;
    if (scan.prompts > 1) {
        j["consistency"] = json::array();
        for (const auto& c : scan.consistency) {
            j["consistency"].push_back({{"layer", c.weight.layer}, {"row", c.weight.row}, {"col", c.weight.col}, {"output_axis", c.weight.outputAxis},
                                        {"prompts_found", c.promptsFound}, {"prompts_total", c.promptsTotal}});
        }
    }
    if (scan.published) {
        const auto& p = *scan.published->model;
        json pj = {{"model", p.name}, {"matched_by", scan.published->matchedBy}, {"source", p.source}};
        pj["super_weights"] = json::array();
        for (const auto& c : p.superWeights) pj["super_weights"].push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}, {"found", scan.found(c)}});
        pj["massive_channels"] = p.massiveChannels;
        if (!p.note.empty()) pj["note"] = p.note;
        j["published"] = std::move(pj);
    } else {
        j["published"] = nullptr;
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ExpertPromptSetScan> scanExpertPromptSet(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                                const Tokenizer* tokenizer, const PromptSetScanOptions& options, const RunControl& control) {
    if (prompts.empty()) return Error{"no prompt to scan"};
    ExpertPromptSetScan out;
    out.firstPrompt = prompts.front();
    out.prompts = static_cast<int>(prompts.size());
    auto scan = scanExpertModel(engine, prompts, edits, options.scan, control);
    if (!scan) return scan.error();
    out.scan = std::move(scan).value();
    ForwardRequest req;
    req.tokens = prompts.front();
    req.edits = edits;
    req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto first = engine.run(req, control);
    if (!first) return first.error();
    auto massive = findMassiveActivations(**first, tokenizer, options.massive);
    if (!massive) return massive.error();
    out.massive = std::move(massive).value();
    return out;
}

std::string expertPromptSetScanJson(const ExpertPromptSetScan& scan, const Model& model) {
    using nlohmann::json;
    json j = json::parse(expertScanJson(scan.scan, model));
    j.update(json::parse(massiveReportJson(scan.massive)));
    j["ids"] = scan.firstPrompt;
    j["prompts"] = scan.prompts;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ImageScan> scanImage(Engine& engine, std::shared_ptr<const PixelTensor> pixels, const std::vector<EditSpec>& edits,
                            const PromptSetScanOptions& options, const RunControl& control) {
    if (!pixels) return Error{"no image to scan"};
    ImageScan out;
    out.pixels = pixels;
    SuperWeightScanOptions scanOptions = options.scan;
    scanOptions.pixels = std::move(pixels);
    auto scan = scanSuperWeights(engine, {}, edits, scanOptions, control);
    if (!scan) return scan.error();
    out.scan = std::move(scan).value();
    auto massive = findMassiveActivations(*out.scan.firstResult, nullptr, options.massive);
    if (!massive) return massive.error();
    out.massive = std::move(massive).value();
    return out;
}

std::string imageScanJson(const ImageScan& scan, const Model& model) {
    using nlohmann::json;
    json j = json::parse(massiveReportJson(scan.massive));
    j.update(json::parse(scanPassesJson(scan.scan)));
    j["super_weights"] = json::array();
    for (const auto& sw : scan.scan.superWeights) j["super_weights"].push_back(json::parse(superWeightJson(sw, model)));
    j["image"] = json::parse(imageJson(*scan.pixels, model.config()));
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace superlens::core
