#pragma once
// Whole-matrix edits: LASER rank reduction and round-to-nearest quantization.
// Both return a new WeightMatrix and never modify their input.

#include <vector>

#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/engine/weight_matrix.h"

namespace superlens::core {

// LASER (Sharma et al., 2023): keep k = max(1, floor(rho * min(rows, cols)))
// singular values. Returns the factors U*S and Vt.
std::int64_t laserRank(std::int64_t rows, std::int64_t cols, double rho);
WeightPtr rankReduce(const WeightMatrix& w, double rho);

// Blockwise asymmetric min-max RTN (quantize-dequantize semantics, kept as
// codes). `keep` are (row, col) elements excluded from the block statistics
// and restored exactly afterwards (the super-weight paper's "ours").
struct RtnOptions {
    int bits = 4;
    std::int64_t block = 0;  // elements per block (row-major), 0 = whole tensor
    std::optional<double> zclip;
    std::optional<double> pclip;
    std::vector<std::pair<std::int64_t, std::int64_t>> keep;
};
WeightPtr quantizeRtn(const WeightMatrix& w, const RtnOptions& options);

}  // namespace superlens::core
