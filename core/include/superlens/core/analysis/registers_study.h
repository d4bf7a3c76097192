#pragma once
// The registers study (issue 18): where a vision transformer keeps its
// massive activations, and what they do (Sun et al. 2024, *Massive
// Activations in Large Language Models*, Sec. 3.2 and 5; Darcet et al. 2024,
// *Vision Transformers Need Registers*).
//
// For one vision model (ViT, DINOv2, DINOv2 with registers, CLIP's vision
// tower) and a set of images (pixel tensors, all giving the same tokens):
// 1. Scan: each image runs once recording blocks.*.hook_resid_post;
//    findMassiveActivations flags the entries >= ratioThreshold x the layer
//    median. Every flagged entry is named by its token kind (CLS, register i,
//    patch (row, col)); `where` counts them per kind.
// 2. Sites: the intervention layer L is the first layer where any image has
//    a flagged entry (the paper intervenes where massive activations appear);
//    the sites are the union over images of the flagged (token, channel) at L.
// 3. Intervention, per image: every site of hook_resid_post at layer L set
//    to 0 ("zero"), or to the site's mean over the images ("mean": the
//    paper's rule, massive activations set to their mean values over many
//    inputs; with one image the mean is the value itself and changes nothing).
// 4. Effect on the output, the final norm's hidden states (the models carry
//    no head here; ViT/DINOv2 last_hidden_state, CLIP post_layernorm): cosine
//    and relative change ||h' - h|| / ||h|| of the CLS row, and the relative
//    change of all tokens (Frobenius). Means over the images are reported too.
// A model without flagged entries gets no sites and no intervention (a note says so).
//
// Thread-safety: synchronous; uses the engine. Progress: one unit per forward pass.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/model/image_tokens.h"
#include "superlens/core/model/npy.h"

namespace superlens::core {

struct RegistersImage {
    std::string label;  // the file, for reports
    std::shared_ptr<const PixelTensor> pixels;
};

struct RegistersStudyOptions {
    MassiveActivationOptions massive;  // ratioThreshold (100) flags; topK unused here
};

struct RegistersMassiveEntry {
    int layer = 0;
    std::int64_t token = 0;
    std::int64_t channel = 0;
    ImageToken where;
    double value = 0;     // in the image where the ratio is largest
    double ratio = 0;     // largest over the images
    int images = 0;       // images that flag it
};

struct RegistersSite {
    std::int64_t token = 0;
    std::int64_t channel = 0;
    ImageToken where;
    std::vector<double> values;  // per image, hook_resid_post at layer L
    double mean = 0;             // over the images (the "mean" intervention's value)
};

struct RegistersEffect {
    double clsCosine = 1;        // cos(h'[CLS], h[CLS])
    double clsRelChange = 0;     // ||h'[CLS] - h[CLS]|| / ||h[CLS]||
    double tokensRelChange = 0;  // ||H' - H||_F / ||H||_F over every token
};

struct RegistersImageResult {
    std::string label;
    RegistersEffect zero, mean;
};

struct RegistersModelStudy {
    std::string model;            // folder
    std::string modelType;
    int registers = 0;
    std::int64_t tokens = 0;
    std::int64_t patchGridWidth = 0;
    std::vector<RegistersMassiveEntry> massive;  // merged over images; layer, then ratio descending
    std::map<std::string, int> where;            // flagged (layer, token, channel) per token kind: "cls", "register", "patch"
    int interventionLayer = -1;                  // -1: nothing flagged
    std::vector<RegistersSite> sites;
    std::vector<RegistersImageResult> images;
    RegistersEffect zeroMean, meanMean;          // means over the images
    std::vector<std::string> edits(bool mean) const;  // the activation edits of every run: sites = 0, or = their means
    std::vector<std::string> notes;
};

// Errors: a model that does not read images, no images, images giving
// different token counts, engine errors, "cancelled".
Result<RegistersModelStudy> studyRegisters(Engine& engine, const std::vector<RegistersImage>& images, const RegistersStudyOptions& options = {},
                                           const RunControl& control = RunControl::none());

// Exports of one or more models (a with/without-registers pair): one JSON
// document {"study": "registers", "models": [...], "comparison": {...}} and
// a Markdown report. The comparison names, per model, the token kind
// holding most flagged entries.
std::string registersStudyJson(const std::vector<RegistersModelStudy>& models);
std::string registersStudyMarkdown(const std::vector<RegistersModelStudy>& models);

}  // namespace superlens::core
