#pragma once
// HDF5 activation cache (DESIGN.md "HDF5 cache"): captured forward passes on
// disk, readable later by SuperLens (GUI: File -> Open activations) or by
// h5py, without the model. Layout, version 1 (docs/CACHE.md has an h5py tour):
//
//   /                              attrs: format = "superlens-activations" (str)
//                                         version = 1 (int32)
//                                         model_config (str, config.json text)
//                                         model_fingerprint (str, Model::fingerprint())
//                                         model_name, model_dtype (str), model_parameters (int64)
//                                         created_by (str)
//   /vocab/pieces                  str [V]  vocabulary pieces ("▁the"), when a tokenizer was known
//   /vocab/texts                   str [V]  display text of each id (decode of that one id)
//   /runs/<n>/                     one forward pass, n = 0, 1, 2, ... (decimal, in append order)
//                                  attrs: prompt (str, "" when given as ids)
//                                         edits (str, JSON list of canonical edit specs, in order)
//                                         hook_patterns (str, JSON list of the selection's patterns)
//                                         precision ("float32" | "float64": the engine's arithmetic;
//                                                    "+bf16" / "+fp16" appended for a precision-emulating run, --compute)
//                                         logits_positions ("last" | "all")
//                                         seconds (float64, forward time), created (str, UTC ISO 8601)
//                                         metadata (str, JSON object for applications, "{}" by default)
//   /runs/<n>/token_ids            int32 [T]
//   /runs/<n>/token_strings        str [T]  vocabulary pieces (only with a tokenizer)
//   /runs/<n>/token_texts          str [T]  display text per token (only with a tokenizer)
//   /runs/<n>/logits               float32 [1, V] (last position) or [T, V]
//   /runs/<n>/<hook name>          float32, shape from the hook table (hooks.h), e.g.
//                                  /runs/0/blocks.3.hook_mlp_out [T, d] (the name contains dots:
//                                  it is one dataset, f["runs/0"]["blocks.3.hook_mlp_out"] in h5py)
//
// Strings are fixed-length, NUL-padded UTF-8: variable-length strings live in
// HDF5's unchecksummed global heap, and libhdf5 1.10 crashes on a damaged one.
// h5py returns them as bytes (.decode(), or .asstr() for datasets). Hook datasets are chunked by token rows (a
// few rows, about 64 KiB per chunk) and attention patterns [H, T, T] per head
// and query rows, so reading one layer, token or head touches only that data.
// Compression is off by default (fp32 activations gain ~1.1x with gzip at a
// large CPU cost); "gzip1" etc. are options.
//
// Safety: files are never modified in place. A writer works on a temporary
// file in the target folder (".<name>.tmp-XXXXXX"; a copy of the old file when
// appending) and renames it over the target on commit() (after fsync when it
// replaces a file, see CacheSync), so a crash or kill at any moment leaves the
// old file intact (stale temporaries of
// killed writers are removed by the next writer of that target). A foreign,
// truncated or damaged file is refused with one error naming it and is never
// overwritten; disk full is reported and leaves the old file unchanged. Two
// writers committing to one target do not lose runs (the later commit copies
// its new runs onto the newer file). Caches are never written into a model
// folder.
//
// Errors: every HDF5 failure becomes an Error naming the file (HDF5's own
// error printing is switched off for the process). Thread-safety: a reader or
// writer object may be used from one thread at a time (calls are serialised
// internally); different objects may be used from different threads.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "superlens/core/engine/activation.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/hooks.h"
#include "superlens/core/model/model.h"
#include "superlens/core/model/model_config.h"
#include "superlens/core/result.h"
#include "superlens/core/run_control.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

inline constexpr const char* kCacheFormat = "superlens-activations";
inline constexpr int kCacheVersion = 1;

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Dataset compression: "none" (default), "gzipN" (N = 1..9, deflate level),
// "shuffle-gzipN" (byte shuffle first: a few percent smaller for floats).
struct CacheCompression {
    int gzipLevel = 0;  // 0 = no compression
    bool shuffle = false;

    static Result<CacheCompression> parse(std::string_view text);
    std::string text() const;
};

// When commit() calls fsync. A kill never needs it (the rename is atomic and
// happens after the last write); a power loss does: without fsync the renamed
// file may come back empty or truncated after the reboot.
enum class CacheSync {
    Always,         // fsync the file before the rename and the folder after it
    WhenReplacing,  // only when the rename replaces an existing file (appends),
                    // whose old runs are at stake; a new file lost to a power
                    // cut is reported as damaged and captured again
    Never,
};
std::string_view cacheSyncName(CacheSync s);  // "always" | "replace" | "never"
Result<CacheSync> parseCacheSync(std::string_view text);

struct CacheWriteOptions {
    CacheCompression compression;
    CacheSync sync = CacheSync::WhenReplacing;
};

// The model a cache belongs to. Reuse needs an equal fingerprint.
struct CacheModelInfo {
    std::string fingerprint;
    std::string configJson;
    // The model's parsed config (fromModel sets it): an existing file's runs
    // are checked against it (vocabulary, hooks, widths) before they are
    // reused or appended to. Without it, configJson is parsed when it can be.
    std::optional<ModelConfig> config;
    std::string name;  // folder name, informative
    std::string dtype;
    std::int64_t parameters = 0;
    // The vocabulary (pieces and display texts by id), when a tokenizer exists;
    // written once to /vocab so the logits view can name any predicted token.
    std::vector<std::string> vocabPieces;
    std::vector<std::string> vocabTexts;

    static CacheModelInfo fromModel(const Model& model, const Tokenizer* tokenizer = nullptr);
};

// One forward pass to write.
struct CaptureRun {
    std::string prompt;                     // "" when the tokens were given as ids
    std::vector<TokenId> tokens;            // [T]; empty for an image run
    // Vision models: the image that ran ([C, H, W] pixel values, stored as
    // /runs/<n>/pixel_values) and its positions T (CLS, registers, patches).
    std::shared_ptr<const PixelTensor> pixels;
    std::int64_t imagePositions = 0;
    // Positions of the run: the tokens, or the image's.
    std::int64_t positions() const { return pixels ? imagePositions : static_cast<std::int64_t>(tokens.size()); }
    std::vector<std::string> tokenStrings;  // [T] vocabulary pieces, or empty (no tokenizer)
    std::vector<std::string> tokenTexts;    // [T] display texts, or empty
    std::vector<std::string> edits;         // canonical EditSpec::text(), application order
    std::vector<std::string> hookPatterns;  // the selection that was asked for
    std::string precision = "float32";
    double seconds = 0.0;
    std::map<std::string, ActivationPtr> hooks;  // hook name -> values, shape as in hooks.h
    ActivationPtr logits;                        // [1, V] or [T, V]; may be null (no logits dataset)
    bool allPositionLogits = false;
    std::string metadataJson = "{}";

    // A run from an engine result; token strings/texts when `tokenizer` is given.
    // An image run's token texts name each position ("CLS", "register 0", "patch (0, 1)").
    static CaptureRun fromResult(const ForwardResult& result, std::string prompt, const Tokenizer* tokenizer,
                                 std::vector<std::string> hookPatterns);
};

struct CachedHook {
    std::string name;
    HookPoint point;
    std::vector<std::int64_t> shape;
};

// One run as listed from a file (everything but the float arrays).
struct CachedRunInfo {
    int index = 0;  // n in /runs/<n>
    std::string prompt;
    std::vector<TokenId> tokens;            // empty for an image run
    std::vector<std::int64_t> pixelShape;   // image runs: [C, H, W] of /runs/<n>/pixel_values
    std::string pixelsFingerprint;          // image runs: FNV-1a of the shape and values (pixelsFingerprint())
    std::int64_t imagePositions = 0;        // image runs: T
    std::int64_t positions() const { return pixelShape.empty() ? static_cast<std::int64_t>(tokens.size()) : imagePositions; }
    std::vector<std::string> tokenStrings;  // empty when the capture had no tokenizer
    std::vector<std::string> tokenTexts;
    std::vector<std::string> edits;         // canonical specs, application order
    std::vector<std::string> hookPatterns;
    std::string precision;
    bool allPositionLogits = false;
    std::vector<std::int64_t> logitsShape;  // empty when the run has no logits
    std::vector<CachedHook> hooks;          // in execution order
    double seconds = 0.0;
    std::string created;
    std::string metadataJson;

    const CachedHook* hook(const std::string& name) const;
};

// What a cached run must match to stand in for a new forward pass.
struct CacheRunKey {
    std::vector<TokenId> tokens;
    std::string pixelsFingerprint;   // image runs; empty for token runs
    std::vector<std::string> edits;  // canonical specs, application order
    std::vector<std::string> hooks;  // hook names the run must contain (it may hold more)
    std::string precision = "float32";
    bool allPositionLogits = false;

    // The key of a forward request on an engine (hooks resolved for its
    // model's layer count, precision from its options).
    static CacheRunKey forRequest(const ForwardRequest& request, const Engine& engine);
};

// FNV-1a of an image's shape and float bits: the identity of an image run.
std::string pixelsFingerprint(const PixelTensor& pixels);

// First run (lowest n) matching the key, if any. The file's fingerprint must
// be checked separately (the reader/writer findRun do both).
std::optional<int> findMatchingRun(const std::vector<CachedRunInfo>& runs, const CacheRunKey& key);

// Reading. open() validates the root attributes and lists every run; arrays
// are read on demand. The file stays open (read-only) until destruction.
class ActivationCache {
public:
    // Errors (one line, naming the file): missing, not HDF5 / damaged /
    // truncated, not a SuperLens cache (foreign HDF5), newer version,
    // malformed run metadata.
    static Result<std::shared_ptr<ActivationCache>> open(const std::filesystem::path& file);
    ~ActivationCache();
    ActivationCache(const ActivationCache&) = delete;
    ActivationCache& operator=(const ActivationCache&) = delete;

    const std::filesystem::path& path() const;
    int version() const;
    const std::string& modelFingerprint() const;
    const std::string& modelConfigJson() const;
    const std::string& modelName() const;
    const std::string& modelDtype() const;
    std::int64_t modelParameters() const;
    // model_config parsed as config.json (architecture, sizes).
    Result<ModelConfig> modelConfig() const;
    // /vocab: pieces and display texts by id. Read on first use (a 128k
    // vocabulary takes ~0.5 s); empty when the capture had no tokenizer or
    // the vocabulary cannot be read.
    bool hasVocab() const;
    const std::vector<std::string>& vocabPieces() const;
    const std::vector<std::string>& vocabTexts() const;

    const std::vector<CachedRunInfo>& runs() const;
    const CachedRunInfo* run(int index) const;  // by n; nullptr when absent
    // A run for this model fingerprint and key, or nullopt.
    std::optional<int> findRun(const std::string& modelFingerprint, const CacheRunKey& key) const;

    // Whole hook dataset, shape as stored. Errors: no such run/hook, read failure.
    Result<ActivationTensor> readHook(int run, const std::string& hookName) const;
    // [rows, cols] with all but the last dimension folded into rows.
    Result<RowMatrixF> readHookMatrix(int run, const std::string& hookName) const;
    // Slice [first, first + count) along the first dimension (tokens, or heads
    // of an attention pattern); reads only the chunks involved.
    Result<ActivationTensor> readHookSlice(int run, const std::string& hookName, std::int64_t first, std::int64_t count) const;
    Result<ActivationTensor> readLogits(int run) const;
    // An image run's pixel values [C, H, W]; an error for token runs.
    Result<ActivationTensor> readPixels(int run) const;
    // The run as an engine result (tokens, parsed edits, logits, and the hooks
    // the selection matches; default all), so views built on ForwardResult can
    // draw from a file.
    Result<std::shared_ptr<const ForwardResult>> readRun(int run, const HookSelection& hooks = HookSelection::all()) const;

    struct Impl;

private:
    explicit ActivationCache(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Writing. open() checks the target (an existing file must be a valid cache
// of the same model), appendRun() adds runs to a temporary file (the old file
// is copied on the first append), commit() makes them visible atomically.
// Destroying an uncommitted writer deletes its temporary file.
class ActivationCacheWriter {
public:
    // Errors: folder missing or a model folder, target a directory, target not
    // a valid cache (damaged, foreign, newer version), cache of another model.
    static Result<std::unique_ptr<ActivationCacheWriter>> open(const std::filesystem::path& target, const CacheModelInfo& model,
                                                               const CacheWriteOptions& options = {});
    ~ActivationCacheWriter();
    ActivationCacheWriter(const ActivationCacheWriter&) = delete;
    ActivationCacheWriter& operator=(const ActivationCacheWriter&) = delete;

    const std::filesystem::path& target() const;
    bool targetExisted() const;
    // Runs of the existing file plus those appended so far.
    const std::vector<CachedRunInfo>& runs() const;
    std::optional<int> findRun(const CacheRunKey& key) const;

    // Writes one run; returns its n (final unless commit() reports a rebase).
    // Errors: invalid run (shapes, hook names), write failures (disk full).
    // After an error the writer is unusable; the target stays unchanged.
    Result<int> appendRun(const CaptureRun& run, const RunControl& control = RunControl::none());

    // The same in steps, for hooks written as the engine produces them
    // (captureRun): beginRun with the run's header (its hooks and logits are
    // ignored), appendHook for each hook, finishRun with the logits. Memory
    // holds one hook at a time. discardRun drops a run begun but not finished
    // (the writer stays usable); a write error makes the writer unusable, as
    // for appendRun.
    Status beginRun(const CaptureRun& header);
    Status appendHook(const std::string& name, const ActivationTensor& values);
    Result<int> finishRun(const ActivationTensor* logits, double seconds);
    void discardRun();

    struct CommitInfo {
        std::vector<int> appendedRuns;  // final n of each appended run, in order
        std::uint64_t fileBytes = 0;    // size of the committed file
        std::uint64_t rawBytes = 0;     // uncompressed bytes of the appended datasets
        bool rebased = false;           // another writer committed meanwhile; runs renumbered
        bool wroteFile = false;         // false when nothing changed (all runs reused)
    };
    // Flushes, syncs and renames over the target. A writer that appended
    // nothing to an existing file leaves it untouched.
    Result<CommitInfo> commit();

    struct Impl;

private:
    explicit ActivationCacheWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Capture with reuse, for the CLI and the GUI: the writer's run that already
// matches the request (same model, tokens, edits, hooks, precision, logits
// positions) is reused; otherwise the engine runs and the run is appended.
// keep_super edits must be resolved first (their canonical text is the key).
struct CaptureOutcome {
    int run = -1;         // n in the file (renumbered by commit() only after a rebase)
    bool reused = false;  // true: no forward pass was made
    // The new pass (logits, no hooks: they were streamed to the file); null when reused.
    std::shared_ptr<const ForwardResult> result;
};
Result<CaptureOutcome> captureRun(ActivationCacheWriter& writer, Engine& engine, const ForwardRequest& request,
                                  const std::string& prompt, const Tokenizer* tokenizer,
                                  const RunControl& control = RunControl::none());

std::string_view precisionName(Precision p);  // "float32" | "float64"
// With precision emulation: "float32+bf16", "float32+fp16" (the plain name for fp32).
std::string precisionName(Precision p, ComputeDtype compute);

// Bytes a run of `tokens` positions would add (uncompressed), for a
// free-space check before a long capture.
std::uint64_t estimateRunBytes(const ModelConfig& config, std::int64_t tokens, const std::vector<HookPoint>& hooks,
                               bool allPositionLogits);
// The largest single hook among `hooks`: what a streamed capture holds in memory at once.
std::uint64_t estimateLargestHookBytes(const ModelConfig& config, std::int64_t tokens, const std::vector<HookPoint>& hooks);
// Free bytes for an unprivileged writer in a folder, nullopt when unknown.
std::optional<std::uint64_t> freeDiskBytes(const std::filesystem::path& folder);

}  // namespace superlens::core
