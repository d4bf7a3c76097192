#pragma once
// The version-1 file layout (documented in activation_cache.h and
// docs/CACHE.md): reading and writing the root header, the vocabulary and
// runs. Throws h5::Failure; messages have no file name (callers add it).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cache/h5_util.h"
#include "superlens/core/cache/activation_cache.h"

namespace superlens::core::cachelayout {

struct Header {
    int version = 0;
    std::string fingerprint;
    std::string configJson;
    std::string name;
    std::string dtype;
    std::int64_t parameters = 0;
    std::vector<std::string> vocabPieces;
    std::vector<std::string> vocabTexts;
};

// Failure messages say "not a SuperLens activation cache ...", "written by a
// newer SuperLens ..." or "damaged SuperLens activation cache: ...".
Header readHeader(hid_t file, bool withVocab);
// Opens an existing file; failures say "no such file", "not an HDF5 file",
// "empty file" or "damaged or truncated HDF5 file".
h5::Handle openFile(const std::filesystem::path& p, bool readWrite);
// Lists the runs and checks each against the layout: token_ids 32-bit signed
// integers, logits and hooks 32-bit floats, logits [1 or T, V], hooks [T, w]
// ([H, T, T] for patterns). With the model's config it also checks every
// token id against the vocabulary, V against vocab_size, each hook against
// the hooks the model has (layer and expert indices) and its width against
// the config (hidden, intermediate, expert sizes, heads). A file that fails is
// refused ("damaged SuperLens activation cache: /runs/0/...: ..."), so it is
// neither read nor reused nor appended to.
std::vector<CachedRunInfo> readRuns(hid_t file, const ModelConfig* config);
// The config a cache's runs are checked against: the model's own when known
// (writers), else the file's model_config attribute when it parses (readers;
// GGUF models store none), else nullopt.
std::optional<ModelConfig> checkingConfig(const Header& header, const CacheModelInfo* model);
// Last dimension of a hook's dataset for this config (heads for attention
// patterns, whose shape is [H, T, T]).
std::int64_t hookWidth(const ModelConfig& config, HookKind kind);

void writeHeader(hid_t file, const CacheModelInfo& model);
bool hasVocab(hid_t file);
void writeVocab(hid_t file, const CacheModelInfo& model);

// Checks a run before anything is written (shapes, names, token count):
// its header, every hook it carries and its logits.
void validateRun(const CaptureRun& run);
// One hook of a run of `tokens` positions (name, shape, values filling it).
void validateHook(const std::string& name, const ActivationTensor& t, std::int64_t tokens);

// /runs/<index> written in three steps, so a capture can write each hook as
// the engine produces it: beginRun (attributes, token ids and strings),
// writeRunHook per hook, finishRun (logits, seconds). Nothing is checked
// here that validateRun/validateHook check.
struct RunGroup {
    h5::Handle group;
    std::string path;
    std::int64_t tokens = 0;
    CachedRunInfo info;
};
RunGroup beginRun(hid_t file, int index, const CaptureRun& header);
void writeRunHook(RunGroup& run, const std::string& name, const ActivationTensor& t, const CacheCompression& compression,
                  std::uint64_t& rawBytes);
CachedRunInfo finishRun(RunGroup& run, const ActivationTensor* logits, double seconds, const CacheCompression& compression,
                        std::uint64_t& rawBytes);

// A float dataset of a run, whole or a slice [first, first + count) of dimension 0.
ActivationTensor readFloat(hid_t file, int run, const std::string& name, std::optional<std::pair<std::int64_t, std::int64_t>> slice);

std::string runPath(int index);

// Chunk shape for a float dataset (exposed for tests): the last dimension
// whole, a few rows of the one before (about 64 KiB), 1 for the others.
std::vector<std::uint64_t> chunkShape(const std::vector<std::int64_t>& shape);

}  // namespace superlens::core::cachelayout
