#pragma once
// Edits (interventions): one syntax for the CLI, the GUI and cache metadata
// (DESIGN.md). Edits are an in-memory overlay; files on disk never change.
//
//   weight element   model.layers.2.mlp.down_proj.weight[3968,7003]=0
//                    NAME[r,c]*=F (scale), NAME[r,*]=0 (row), NAME[*,c]=0 (column),
//                    NAME[i]=V for 1-D tensors (norm weights, biases)
//   activation       blocks.2.hook_mlp_out[0,3968]=-1234.5, [*,3968] = every token,
//                    =mean sets the channel to its mean over the run's tokens,
//                    blocks.l.attn.hook_pattern[h,q,k]=V
//   LASER            laser:model.layers.27.mlp.up_proj.weight:rank=0.01
//   weight RTN       rtn:model.layers.*.mlp.*:bits=4:block=128[:keep_super[=L:R:C;L:R:C]][:zclip=Z][:pclip=P]
//   activation RTN   actq:blocks.*.hook_resid_post:bits=8[:block=N|tensor|token][:keep_super[=T:C;T:C]]
//   expert removal   expert:L:E=off[:renorm]   (mixture-of-experts layers) routed expert E of layer L
//                    contributes nothing; the router still selects it, and the other selected
//                    experts keep their routing weights. With :renorm they are rescaled to the
//                    total weight the k selected experts had (1 when the family renormalises).
//
// In patterns '*' matches any run of characters, dots included.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

class Model;

enum class EditKind { Weight, Activation, Laser, Rtn, ActQuant, ExpertOff };
enum class EditOp { Set, Scale, Mean };

// Super-weight coordinate: layer, row (output channel), column (input channel) of down_proj.
struct SuperWeightCoord {
    int layer = 0;
    std::int64_t row = 0;
    std::int64_t col = 0;
    bool operator==(const SuperWeightCoord&) const = default;
};

// Activation coordinate (token, channel), for actq:keep_super.
struct ActivationCoord {
    std::int64_t token = 0;
    std::int64_t channel = 0;
    bool operator==(const ActivationCoord&) const = default;
};

struct EditSpec {
    EditKind kind = EditKind::Weight;
    std::string target;                         // tensor name, hook name, or pattern
    std::vector<std::optional<std::int64_t>> index;  // nullopt = '*'
    EditOp op = EditOp::Set;
    double value = 0.0;                         // Set: new value; Scale: factor

    double rho = 0.0;                           // laser: fraction of the maximal rank kept

    int bits = 0;                               // rtn / actq
    std::int64_t block = 0;                     // rtn: elements per block, 0 = whole tensor;
                                                // actq: 0 = whole tensor, -1 = per token, N = block of N channels
    bool keepSuper = false;
    std::vector<SuperWeightCoord> keepWeights;  // rtn: explicit list (empty = from a scan)
    std::vector<ActivationCoord> keepActivations;  // actq: explicit list (empty = from a scan)
    std::optional<double> zclip;                // rtn: clip each block to mean +- Z sigma first
    std::optional<double> pclip;                // rtn: clip each block to its [100-P, P] percentiles first

    int expertLayer = 0;                        // expert: layer L and expert E
    int expert = 0;
    bool renorm = false;                        // expert: the other selected experts share the removed weight

    // Canonical text: parse(text()) gives back an equal spec.
    std::string text() const;
    bool operator==(const EditSpec& o) const { return text() == o.text(); }

    bool touchesWeights() const { return kind == EditKind::Weight || kind == EditKind::Laser || kind == EditKind::Rtn; }
    // keep_super without an explicit list: the caller must resolve it from a scan.
    bool needsSuperWeightScan() const { return keepSuper && keepWeights.empty() && kind == EditKind::Rtn; }
    bool needsSuperActivationScan() const { return keepSuper && keepActivations.empty() && kind == EditKind::ActQuant; }
};

// Parses one spec; errors quote it and say what is wrong.
Result<EditSpec> parseEdit(std::string_view text);

// Edit texts built in one place, in DESIGN.md's syntax (front ends and
// analyses call these instead of assembling strings):
//   NAME[row,col]=value, NAME[row,col]*=factor, HOOK[token,channel]=value,
//   expert:L:E=off[:renorm].
std::string weightSetText(const std::string& tensor, std::int64_t row, std::int64_t col, double value);
std::string weightScaleText(const std::string& tensor, std::int64_t row, std::int64_t col, double factor);
std::string activationSetText(const std::string& hook, std::int64_t token, std::int64_t channel, double value);
std::string expertOffText(int layer, int expert, bool renorm = false);

// Reads the enabled edits of an experiments file (experiment_file.h): a list
// of spec strings, or an object with an "edits" list (strings, or
// {"spec": "...", "enabled": bool}; disabled ones are skipped).
Result<std::vector<EditSpec>> loadEditsFile(const std::filesystem::path& file);

// loadEditsFile's edits parsed and checked against a model as parseEdits
// does (GGUF tensor names mapped, indices checked): what `--edits FILE` means
// in the CLI and the Python module. Errors of the file's own specs name it.
Result<std::vector<EditSpec>> loadEditsFileFor(const std::filesystem::path& file, const Model& model, std::int64_t tokenCount = 0);

// Parses edit spec strings and checks them against a model (validateEdit);
// llama.cpp tensor names (GGUF checkpoints) become the Hugging Face name.
// One error, for the first bad spec.
Result<std::vector<EditSpec>> parseEdits(const std::vector<std::string>& specs, const Model& model, std::int64_t tokenCount = 0);

// Checks a spec against a model: tensor and hook names exist, indices are in
// range, patterns match something. Token indices of activation edits are
// checked against `tokenCount` when it is > 0.
Status validateEdit(const EditSpec& edit, const Model& model, std::int64_t tokenCount = 0);

// Tensor names an edit changes (empty for activation edits).
std::vector<std::string> editedTensors(const EditSpec& edit, const Model& model);

// True for the weights RTN quantizes under a pattern: 2-D block weights only
// (no embeddings, norms, biases or output head), as in the super-weight paper.
bool isQuantizableLinear(const std::string& tensorName, const Model& model);

// Shortest decimal that round-trips a double ("0", "-1234.5", "1e-05").
std::string formatNumber(double v);

}  // namespace superlens::core
