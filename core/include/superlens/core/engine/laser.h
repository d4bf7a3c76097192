#pragma once
// LASER rank reduction (a whole-matrix edit): returns a new WeightMatrix and
// never modifies its input; the engine's overlay caches the result per
// (tensor, edit texts) and drops it when the edit is removed, so the stored
// checkpoint values come back untouched. The truncated SVD back ends are in
// src/engine/truncated_svd.h.
//
// Thread-safety: reentrant; parallelised internally on a ThreadPool
// (defaultThreadPool() unless given) with static partitioning, so a given
// input, option set and thread count always gives the same bits.

#include <cstdint>
#include <vector>

#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"

namespace superlens::core {

// ---------------------------------------------------------------------------
// LASER (Sharma et al., 2023, "The Truth is in There: Improving Reasoning in
// Language Models with Layer-Selective Rank Reduction")
// ---------------------------------------------------------------------------

// k = max(1, floor(rho * min(rows, cols))) singular values are kept.
std::int64_t laserRank(std::int64_t rows, std::int64_t cols, double rho);

enum class LaserMethod {
    Auto,        // Exact when min(rows, cols) <= 512; Randomized when k + p <= min(rows, cols) / 4; Gram otherwise
    Exact,       // full thin SVD in float64 (LAPACK dgesdd): optimal up to float64 rounding
    Randomized,  // Halko-Martinsson-Tropp randomized subspace iteration, fp32 GEMMs, float64 QR and small SVD
    Gram,        // eigen-decomposition of the smaller Gram matrix (A A^T or A^T A) in float64 (LAPACK dsyevd)
};
const char* laserMethodName(LaserMethod m);
// The method LaserMethod::Auto picks for a shape and rho (default options).
LaserMethod laserAutoMethod(std::int64_t rows, std::int64_t cols, double rho);

struct LaserOptions {
    LaserMethod method = LaserMethod::Auto;
    // Randomized: sketch width l = k + p with p = oversampling, or
    // max(10, ceil(k / 2)) when 0; q = powerIterations passes of subspace
    // iteration (each re-orthonormalised, so fp32 GEMMs stay stable).
    int oversampling = 0;
    int powerIterations = 4;
    std::uint64_t seed = 0x5eed1a5e2ULL;  // Gaussian test matrix: fixed, so results are reproducible
    ThreadPool* pool = nullptr;           // nullptr = defaultThreadPool()
};

// What rankReduce did (for studies, benchmarks and tests).
struct LaserReport {
    std::int64_t rank = 0;      // k
    std::int64_t maxRank = 0;   // min(rows, cols)
    LaserMethod method = LaserMethod::Auto;  // the method actually used
    int sketchWidth = 0;        // Randomized: l = k + p
    bool factored = false;      // stored as U*S, Vt (k*(rows+cols) < rows*cols) rather than dense
    double frobeniusNorm = 0;   // ||A||_F (float64 sum)
    // ||A - A_k||_F of the returned approximation, before its fp32 rounding:
    // exact for Exact (tail of the spectrum), from the Gram eigenvalues for
    // Gram, and ||A||_F^2 - sum of the kept sigma^2 for Randomized (A_k = P A
    // with P an orthogonal projector, so this identity holds exactly; it
    // loses relative accuracy only when the residual is below ~1e-3 ||A||_F).
    double residualNorm = 0;
    std::vector<double> singularValues;  // the k kept, descending
    double seconds = 0;
};

// Error bound (stated and tested, tests/core/test_laser.cpp). Let
// tau_k = ||A - A_k^opt||_F = sqrt(sum_{i>k} sigma_i^2) (Eckart-Young).
//   Exact, Gram: ||A - A_k||_F = tau_k up to float64 rounding (Gram's
//     eigenvalues carry an absolute error ~1e-16 sigma_1^2 per entry, far
//     below any tail that matters); tested to 1e-4 relative.
//   Randomized (sketch l = k + p, q power iterations): the theory bounds
//     the expected excess over tau_k by terms that shrink like
//     (sigma_{l+1} / sigma_k)^{2q} (Halko, Martinsson & Tropp 2011, Thm 10.5
//     and Cor. 10.10; Gu 2015, Sec. 5, for the rank-k truncation in the
//     Frobenius norm), with constants that depend on p; it gives no useful
//     number for the flat tails of LLM weights. What we guarantee, and test
//     on LLM-shaped matrices (N(0, .02)
//     bulk + power-law low-rank part + outliers; 512..2048 x 512..2048,
//     rho = 0.01..0.25) with the defaults p = max(10, k/2), q = 4:
//       ||A - A_k||_F <= (1 + 1e-2) tau_k      (measured: <= 1.004 tau_k)
//     and LaserReport::residualNorm is the achieved error (A_k = P A with P
//     an orthogonal projector, so ||A - P A||_F^2 = ||A||_F^2 - ||P A||_F^2).
// The result is LowRankWeight(U*S [rows,k], Vt [k,cols]) when
// k*(rows+cols) < rows*cols, else a DenseWeight of the product.
WeightPtr rankReduce(const WeightMatrix& w, double rho);
WeightPtr rankReduce(const WeightMatrix& w, double rho, const LaserOptions& options, LaserReport* report = nullptr);

}  // namespace superlens::core
