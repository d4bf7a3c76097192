#include "superlens/core/analysis/report_json.h"

#include <nlohmann/json.hpp>

namespace superlens::core {

namespace {

using nlohmann::json;

json massiveValue(const MassiveActivation& a) {
    json j = {{"layer", a.layer}, {"token", a.token}, {"channel", a.channel}, {"value", a.value}, {"ratio", a.ratio},
              {"first_token", a.firstToken}, {"delimiter", a.delimiter}};
    if (a.imageToken) {
        // Vision runs: which token this is ([CLS, registers..., patches row-major]).
        j["token_kind"] = a.imageToken->kindName();
        if (a.imageToken->kind == ImageTokenKind::Register) j["register"] = a.imageToken->index;
        if (a.imageToken->kind == ImageTokenKind::Patch) {
            j["patch_row"] = a.imageToken->row;
            j["patch_col"] = a.imageToken->col;
        }
    }
    return j;
}

// Replaces invalid UTF-8 (a tensor or token name from a file) instead of throwing.
std::string text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string superWeightJson(const SuperWeight& sw, const Model& model) {
    json j = {{"layer", sw.layer},
                 {"row", sw.row},
                 {"col", sw.col},
                 {"value", sw.value},
                 {"down_in", sw.downIn},
                 {"down_out", sw.downOut},
                 {"token", sw.token},
                 {"iteration", sw.iteration},
                 {"output_ratio", sw.outputRatio},
                 {"input_ratio", sw.inputRatio},
                 {"resid_ratio", sw.residRatio},
                 {"tensor", sw.tensorName(model)},
                 {"output_axis", sw.outputAxis},
                 {"output_channel", sw.outputChannel()},
                 {"input_channel", sw.inputChannel()},
                 {"gguf_tensor", model.isGguf() ? json(model.ggufName(sw.tensorName(model))) : json(nullptr)},
                 {"edit", sw.zeroEdit(model)}};
    if (sw.expert >= 0) j["expert"] = sw.expert;  // inside this routed expert (mixture of experts)
    return text(j);
}

std::string massiveActivationJson(const MassiveActivation& a) { return text(massiveValue(a)); }

std::string massiveReportJson(const MassiveActivationReport& report) {
    json j;
    j["massive_activations"] = json::array();
    for (const auto& a : report.flagged) j["massive_activations"].push_back(massiveValue(a));
    j["massive_persistent"] = json::array();
    for (const auto& p : report.persistent) {
        j["massive_persistent"].push_back({{"token", p.token}, {"channel", p.channel}, {"first_layer", p.firstLayer}, {"last_layer", p.lastLayer}});
    }
    j["top_per_layer"] = json::array();
    for (const auto& layer : report.topPerLayer) {
        json l = json::array();
        for (const auto& a : layer) l.push_back(massiveValue(a));
        j["top_per_layer"].push_back(std::move(l));
    }
    return text(j);
}

std::string scanPassesJson(const SuperWeightScan& scan) {
    json j;
    j["layers"] = json::array();
    for (const auto& s : scan.firstPass) {
        j["layers"].push_back({{"layer", s.layer},
                               {"down_in_max", s.downIn.absValue()},
                               {"down_in_ratio", s.downInRatio()},
                               {"down_out_max", s.downOut.absValue()},
                               {"down_out_ratio", s.downOutRatio()},
                               {"resid_max", s.resid.absValue()},
                               {"resid_ratio", s.residRatio()},
                               {"resid_median", s.residMedian}});
    }
    j["iterations"] = json::array();
    for (std::size_t i = 0; i < scan.iterationSeconds.size(); ++i) {
        j["iterations"].push_back({{"seconds", scan.iterationSeconds[i]},
                                   {"start_layer", i < scan.iterationStartLayer.size() ? scan.iterationStartLayer[i] : 0}});
    }
    return text(j);
}

std::string expertScanJson(const SuperExpertProfile& p, const std::vector<ExpertSuperWeight>& superWeights) {
    json j;
    j["super_weights"] = json::array();
    for (const auto& w : superWeights) {
        j["super_weights"].push_back({{"layer", w.layer}, {"expert", w.expert}, {"tensor", w.tensor}, {"row", w.row}, {"col", w.col},
                                      {"value", w.value}, {"down_in", w.downIn}, {"token", w.token}, {"prompt", w.prompt}, {"output_axis", 0},
                                      {"output_channel", w.row}, {"input_channel", w.col}, {"down_out", w.downOut}});
    }
    j["expert_profile"] = json::array();
    for (const auto& s : p.stats) {
        j["expert_profile"].push_back({{"layer", s.layer}, {"expert", s.expert}, {"max_abs_out", s.maxAbsOut}, {"value", s.value}, {"prompt", s.prompt},
                                       {"token", s.token}, {"channel", s.channel}, {"load", s.load}, {"super", s.super}});
    }
    j["super_experts"] = json::array();
    for (const auto& s : p.superExperts) {
        j["super_experts"].push_back({{"layer", s.layer}, {"expert", s.expert}, {"max_abs_out", s.maxAbsOut}, {"prompt", s.prompt},
                                      {"token", s.token}, {"channel", s.channel}, {"load", s.load}});
    }
    j["expert_threshold"] = {{"threshold", p.threshold}, {"percentile995", p.percentile995}, {"global_max", p.globalMax}};
    j["first_token_experts"] = json::array();
    for (std::size_t li = 0; li < p.layers.size(); ++li) {
        j["first_token_experts"].push_back({{"layer", p.layers[li]}, {"experts", p.firstTokenExperts[li]}});
    }
    return text(j);
}

std::string imageJson(const PixelTensor& pixels, const ModelConfig& config) {
    const int p = config.patchSize > 0 ? config.patchSize : 1;
    return text({{"channels", pixels.channels},
                 {"height", pixels.height},
                 {"width", pixels.width},
                 {"tokens", config.imageTokenCount(pixels.height, pixels.width)},
                 {"registers", config.numRegisters},
                 {"patch_grid", {pixels.height / p, pixels.width / p}}});
}

std::string expertScanJson(const ExpertModelScan& scan, const Model& model) {
    json j = json::parse(expertScanJson(scan.profile, scan.inExperts));
    json all = json::array();
    for (const auto& sw : scan.denseWeights) all.push_back(json::parse(superWeightJson(sw, model)));
    for (auto& e : j["super_weights"]) all.push_back(std::move(e));
    j["super_weights"] = std::move(all);
    j["dense_layers"] = scan.denseLayers;
    return text(j);
}

}  // namespace superlens::core
