#pragma once
// The JSON records of the scan reports, written once for every front end:
// `superlens-cli scan --json` / `study superweight --json` and the Python
// module's Model.scan / Model.massive dicts parse these texts and add their
// own envelope (ids, edits, published coordinates). Each function returns
// one JSON value as text (core keeps its JSON library private).

#include <string>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/super_experts.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/model/npy.h"

namespace superlens::core {

// One super weight: {"layer", "row", "col", "value", "down_in", "down_out",
// "token", "iteration", "output_ratio", "input_ratio", "resid_ratio",
// "tensor", "output_axis", "output_channel", "input_channel", "gguf_tensor"
// (llama.cpp's name, null for safetensors), "edit" (the spec zeroing it)}.
// row/col index the tensor as stored; output_axis says which is the output channel.
std::string superWeightJson(const SuperWeight& sw, const Model& model);

// One massive activation: {"layer", "token", "channel", "value", "ratio",
// "first_token", "delimiter"}, and for images "token_kind" (cls | register |
// patch) with "register" or "patch_row"/"patch_col".
std::string massiveActivationJson(const MassiveActivation& a);

// {"massive_activations": [flagged...], "massive_persistent": [{"token",
// "channel", "first_layer", "last_layer"}...], "top_per_layer": [[...]...]}.
std::string massiveReportJson(const MassiveActivationReport& report);

// {"layers": [{"layer", "down_in_max", "down_in_ratio", "down_out_max",
// "down_out_ratio", "resid_max", "resid_ratio", "resid_median"}...],
// "iterations": [{"seconds", "start_layer"}...]}: the scan's first pass and timings.
std::string scanPassesJson(const SuperWeightScan& scan);

// Mixture-of-experts scans (Su et al. 2025's super experts): {"super_weights":
// [{"layer", "expert", "tensor", "row", "col", "value", "down_in", "down_out",
// "token", "prompt", "output_axis", "output_channel", "input_channel"}...],
// "super_experts", "expert_profile" (every expert: max_abs_out, load, super),
// "expert_threshold", "first_token_experts"}.
// With `scan` (scanExpertModel): "super_weights" lists the dense layers'
// super weights first (superWeightJson records), and "dense_layers" is added.
std::string expertScanJson(const SuperExpertProfile& profile, const std::vector<ExpertSuperWeight>& superWeights);
std::string expertScanJson(const ExpertModelScan& scan, const Model& model);

// An image's shape and token layout: {"channels", "height", "width",
// "tokens", "registers", "patch_grid": [rows, cols]}.
std::string imageJson(const PixelTensor& pixels, const ModelConfig& config);

}  // namespace superlens::core
