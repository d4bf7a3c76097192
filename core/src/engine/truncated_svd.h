#pragma once
// Truncated SVD back ends for LASER (internal to core): exact float64 SVD,
// Gram-matrix eigen-decomposition, and Halko-Martinsson-Tropp randomized
// subspace iteration. Inputs are row-major fp32 matrices (lda = cols).
//
// BLAS/LAPACK come from OpenBLAS, kept single-threaded (as the forward
// kernels keep it); parallelism is ours, over the ThreadPool, with static
// slices so results are reproducible.

#include <cstdint>
#include <vector>

#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"

namespace superlens::core::svd {

struct TruncatedSvd {
    RowMatrixF us;              // [rows, k]: left singular vectors times singular values
    RowMatrixF vt;              // [k, cols]: right singular vectors
    std::vector<double> sigma;  // k kept singular values, descending
    double residualSq = 0;      // ||A - us*vt||_F^2 in exact arithmetic of the computed factors (see each method)
    double frobeniusSq = 0;     // ||A||_F^2
};

// ||A||_F^2 in float64 (fixed-size partial sums, so independent of thread count).
double frobeniusSquared(const float* a, std::int64_t rows, std::int64_t cols, ThreadPool& pool);

// Full thin SVD in float64 (LAPACK dgesdd), truncated to k.
TruncatedSvd exactSvd(const float* a, std::int64_t rows, std::int64_t cols, std::int64_t k);

// Eigen-decomposition (LAPACK dsyevd) of the float64 Gram matrix of the
// smaller side, accumulated in column (or row) chunks of float64.
TruncatedSvd gramSvd(const float* a, std::int64_t rows, std::int64_t cols, std::int64_t k, ThreadPool& pool);

// Randomized subspace iteration (HMT 2011, Alg. 4.4 + 5.1): sketch width
// l = min(k + oversampling, min(rows, cols)), q power iterations.
TruncatedSvd randomizedSvd(const float* a, std::int64_t rows, std::int64_t cols, std::int64_t k, int oversampling,
                           int powerIterations, std::uint64_t seed, ThreadPool& pool);

}  // namespace superlens::core::svd
