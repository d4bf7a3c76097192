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
std::vector<CachedRunInfo> readRuns(hid_t file);

void writeHeader(hid_t file, const CacheModelInfo& model);
bool hasVocab(hid_t file);
void writeVocab(hid_t file, const CacheModelInfo& model);

// Checks a run before anything is written (shapes, names, token count).
void validateRun(const CaptureRun& run);
// Writes /runs/<index>; returns its listing and adds the raw float bytes to rawBytes.
CachedRunInfo writeRun(hid_t file, int index, const CaptureRun& run, const CacheCompression& compression,
                       const RunControl& control, std::uint64_t& rawBytes);

// A float dataset of a run, whole or a slice [first, first + count) of dimension 0.
ActivationTensor readFloat(hid_t file, int run, const std::string& name, std::optional<std::pair<std::int64_t, std::int64_t>> slice);

std::string runPath(int index);

// Chunk shape for a float dataset (exposed for tests): the last dimension
// whole, a few rows of the one before (about 64 KiB), 1 for the others.
std::vector<std::uint64_t> chunkShape(const std::vector<std::int64_t>& shape);

}  // namespace superlens::core::cachelayout
