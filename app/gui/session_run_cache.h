#pragma once
// The GUI's on-disk run cache (issue 7: "the GUI reuses cached runs for the
// same model, prompt and edits instead of recomputing, and says so").
//
// Every original forward pass the app makes (the prompt without edits, with
// the hooks the views draw) is appended to one HDF5 activation cache per
// model, <cache dir>/runs-<fingerprint>-<weight files' mtimes hash>.h5, through the same writer as
// `superlens-cli capture` (temporary file + rename, never in a model folder).
// The super-weight scan of that prompt rides along in the run's metadata, so
// reopening the model and running a prompt seen before reads both back
// instead of running the forward pass and the iterative scan again.
//
// A cache file that cannot be read is left alone (never overwritten): the
// run is computed and the problem reported in the status text. A file over
// the size budget is started afresh: it is a cache, not the user's data.
//
// Thread-safety: plain functions on worker threads; one writer per call.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::gui {

struct CachedOriginalRun {
    std::shared_ptr<const core::ForwardResult> result;
    std::vector<core::SuperWeight> superWeights;  // from the scan stored with the run
    bool scanned = false;                         // false: the run was stored without a scan
    int run = -1;                                 // n in /runs/<n>
};

// The cache file of a model inside `directory`: one per fingerprint and
// weight-file modification times (new weights of the same shapes count as a
// new model, which the fingerprint alone cannot see).
std::filesystem::path runCacheFile(const std::filesystem::path& directory, const core::Model& model);

// The stored original run of `request` (no edits) for this model, if any.
// With `needScan`, a run stored without a scan does not count. Errors: the
// file exists but cannot be read (damaged, foreign, another model).
core::Result<std::optional<CachedOriginalRun>> findCachedOriginalRun(const std::filesystem::path& file, const core::Engine& engine,
                                                                     const core::ForwardRequest& request, bool needScan);

// Appends `result` (and the scan, when `scanned`) to the file, replacing a
// file larger than `budgetBytes` first. Errors: unreadable target, disk full.
core::Status storeOriginalRun(const std::filesystem::path& file, const core::Model& model, const core::Tokenizer* tokenizer,
                              const core::ForwardResult& result, const std::vector<std::string>& hookPatterns,
                              const std::vector<core::SuperWeight>* scan, std::uint64_t budgetBytes);

// Scan results <-> the run's metadata JSON ({"super_weight_scan": [...]}).
std::string superWeightsToMetadata(const std::vector<core::SuperWeight>& weights);
std::optional<std::vector<core::SuperWeight>> superWeightsFromMetadata(const std::string& metadataJson);

}  // namespace superlens::gui
