#pragma once
// llama.cpp's importance matrix files (llama-imatrix): for each weight
// matrix, the mean square of each input column's activation over a
// calibration text, which llama-quantize uses to weight rounding errors.
// Two formats, both read here (layouts from llama.cpp's tools/imatrix):
//
//   legacy (imatrix.dat): int32 entry count; per entry int32 name length,
//     the name, int32 ncall, int32 nval, nval float32 values (the mean
//     square times ncall); then optionally int32 last chunk, int32 dataset
//     name length and the name. Importance = value / ncall.
//   GGUF (general.type "imatrix"): per matrix "<name>.in_sum2" (F32,
//     ne = [columns, matrices]: sums of squares) and "<name>.counts" (F32,
//     ne = [1, matrices]: activations summed), optionally "<name>.in_sum" and
//     "<name>.stats" (not needed here); imatrix.datasets, .chunk_count,
//     .chunk_size. Importance = in_sum2 / count.
//
// Names are llama.cpp's ("blk.1.ffn_down.weight"); a 3-D expert tensor has
// one row of columns per expert. Every size is checked before use; a damaged
// file gives one line "<file>: <problem>".

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

struct ImatrixEntry {
    std::string name;
    std::int64_t columns = 0;     // input features of the matrix
    std::int64_t matrices = 1;    // experts (1 for a dense matrix)
    // importance[m * columns + c]: mean square activation of column c in matrix m
    // (NaN where the matrix saw no activations).
    std::vector<double> importance;
    std::vector<double> counts;   // activations per matrix (legacy: ncall)

    double at(std::int64_t column, std::int64_t matrix = 0) const { return importance[static_cast<std::size_t>(matrix * columns + column)]; }
    // Rank of column c within its matrix (1 = most important) and the ratio of its importance to the matrix median.
    std::int64_t rank(std::int64_t column, std::int64_t matrix = 0) const;
    double ratioToMedian(std::int64_t column, std::int64_t matrix = 0) const;
};

class Imatrix {
public:
    static Result<Imatrix> open(const std::filesystem::path& path);
    // The same over bytes in memory; `displayName` stands for the file in errors.
    static Result<Imatrix> fromBytes(const std::byte* data, std::size_t size, const std::string& displayName);

    const std::string& format() const { return m_format; }   // "legacy" or "gguf"
    const std::vector<ImatrixEntry>& entries() const { return m_entries; }
    const ImatrixEntry* find(const std::string& name) const;
    const std::vector<std::string>& datasets() const { return m_datasets; }
    std::int64_t chunkCount() const { return m_chunkCount; }   // -1 when the file does not say
    std::int64_t chunkSize() const { return m_chunkSize; }     // -1 when the file does not say

private:
    std::string m_format;
    std::vector<ImatrixEntry> m_entries;
    std::vector<std::string> m_datasets;
    std::int64_t m_chunkCount = -1, m_chunkSize = -1;
};

// Limits (sizes from files are checked against them before any allocation).
inline constexpr std::int64_t kImatrixMaxEntries = 1 << 20;
inline constexpr std::int64_t kImatrixMaxNameBytes = 4096;

}  // namespace superlens::core
