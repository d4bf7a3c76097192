#pragma once
// The super-weight scan of a set of prompts, as `superlens-cli scan` and the
// Python module's Model.scan() report it: the first prompt's scan and massive
// activations, every prompt's consistency, which super weights are reported,
// and the published coordinates the model matches. One rule for every front
// end (docs/ANALYSIS.md, "Scan").

#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/published_coordinates.h"
#include "superlens/core/analysis/super_experts.h"
#include "superlens/core/analysis/super_weights.h"

namespace superlens::core {

struct PromptSetScanOptions {
    SuperWeightScanOptions scan;
    MassiveActivationOptions massive;
    // Several prompts (the bundled default set): report the coordinates found
    // in at least this share of them.
    double minConsistency = 0.5;
    // prompts[0] is the user's own prompt (with --consistency the others only
    // check it): its own super weights are reported, whatever the set says.
    bool firstPromptExplicit = false;
};

struct PromptSetScan {
    std::vector<TokenId> firstPrompt;                 // prompts[0]
    int prompts = 0;                                  // how many were scanned
    SuperWeightScan first;                            // the scan of prompts[0]
    MassiveActivationReport massive;                  // prompts[0]'s massive activations
    std::vector<SuperWeightConsistency> consistency;  // over every prompt (empty for one)
    std::vector<SuperWeight> reported;                // what the scan reports (PromptSetScanOptions)
    std::optional<PublishedMatch> published;          // bundled published coordinates the model matches
    // Whether a published coordinate is among the reported super weights.
    bool found(const SuperWeightCoord& c) const;
    // The consistency entry of a reported weight; null when one prompt was scanned.
    const SuperWeightConsistency* consistencyOf(const SuperWeight& sw) const;
};

// The bundled default prompts (resources/prompts/default_prompts.txt), the
// set a scan without an input of its own uses, tokenized with the model's
// tokenizer (BOS as it adds it); lines that give no tokens are skipped. An
// error names the model when it has no tokenizer.
struct ScanPrompt {
    std::string text;
    std::vector<TokenId> ids;
};
Result<std::vector<ScanPrompt>> bundledScanPrompts(const Model& model, const Tokenizer* tokenizer);

// `edits` (keep_super resolved) apply to every pass; `tokenizer` (may be
// null) names delimiter tokens. Text models without experts.
Result<PromptSetScan> scanPromptSet(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                    const Tokenizer* tokenizer, const PromptSetScanOptions& options = {},
                                    const RunControl& control = RunControl::none());

// The scan's JSON document (`superlens-cli scan --json`, DESIGN.md):
// "super_weights" (superWeightJson records, with "prompts_found" /
// "prompts_total" when several prompts were scanned), the massive report,
// the scan passes, "ids", "prompts", "consistency" (several prompts) and
// "published" (null when none matches). The front end adds "edits".
std::string promptSetScanJson(const PromptSetScan& scan, const Model& model);

// Mixture-of-experts models: the super-expert profile over every prompt (Su
// et al. 2025's rule), the super weight inside each flagged expert, the
// dense layers' scan (scanExpertModel), and the first prompt's massive
// activations.
struct ExpertPromptSetScan {
    std::vector<TokenId> firstPrompt;
    int prompts = 0;
    ExpertModelScan scan;
    MassiveActivationReport massive;
};
Result<ExpertPromptSetScan> scanExpertPromptSet(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                                const Tokenizer* tokenizer, const PromptSetScanOptions& options = {},
                                                const RunControl& control = RunControl::none());
// expertScanJson's document with the massive report, "ids" and "prompts";
// the front end adds "edits".
std::string expertPromptSetScanJson(const ExpertPromptSetScan& scan, const Model& model);

// Vision models: the scan of one image (super weights, with the kind of
// each token: CLS, register, patch) and its massive activations.
struct ImageScan {
    std::shared_ptr<const PixelTensor> pixels;
    SuperWeightScan scan;
    MassiveActivationReport massive;
};
Result<ImageScan> scanImage(Engine& engine, std::shared_ptr<const PixelTensor> pixels, const std::vector<EditSpec>& edits,
                            const PromptSetScanOptions& options = {}, const RunControl& control = RunControl::none());
// The massive report, the scan passes, "super_weights" and "image"
// (imageJson); the front end adds "edits".
std::string imageScanJson(const ImageScan& scan, const Model& model);

}  // namespace superlens::core
