#include "superlens/core/engine/laser.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/truncated_svd.h"
#include "superlens/core/system/blas.h"

namespace superlens::core {

// ---------------------------------------------------------------------------
// LASER
// ---------------------------------------------------------------------------

std::int64_t laserRank(std::int64_t rows, std::int64_t cols, double rho) {
    const auto full = std::min(rows, cols);
    const auto k = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(rho * static_cast<double>(full))));
    return std::min(k, full);
}

const char* laserMethodName(LaserMethod m) {
    switch (m) {
        case LaserMethod::Auto: return "auto";
        case LaserMethod::Exact: return "exact";
        case LaserMethod::Randomized: return "randomized";
        case LaserMethod::Gram: return "gram";
    }
    return "auto";
}

namespace {

// Below this size the exact float64 SVD costs well under a second (512 x
// 1376: ~0.1 s), and nothing can beat "exact".
constexpr std::int64_t kExactMaxSide = 512;

// p = max(10, ceil(k/2)) with q = 4 power iterations: on LLM-shaped test
// matrices this lands within 0.25% of the optimal Frobenius error (p = k/10,
// q = 2 gave up to 2.7%); at k = 40 of 4096 x 11008 it is ~10 fp32 GEMM
// passes of 2 * 4096 * 11008 * 60 flops, well under a second.
int defaultOversampling(std::int64_t k) { return static_cast<int>(std::max<std::int64_t>(10, (k + 1) / 2)); }

LaserMethod chooseMethod(std::int64_t rows, std::int64_t cols, std::int64_t k, int oversampling) {
    const std::int64_t side = std::min(rows, cols);
    if (side <= kExactMaxSide) return LaserMethod::Exact;
    // The randomized sketch pays ~(2q + 2) passes of 2 rows cols l flops and
    // QRs of [max side, l]; once l nears the smaller side, one Gram matrix
    // (2 rows cols side flops) plus a side x side eigensolver is cheaper and exact.
    if (k + oversampling <= side / 4) return LaserMethod::Randomized;
    return LaserMethod::Gram;
}

}  // namespace

LaserMethod laserAutoMethod(std::int64_t rows, std::int64_t cols, double rho) {
    const std::int64_t k = laserRank(rows, cols, rho);
    return chooseMethod(rows, cols, k, defaultOversampling(k));
}

WeightPtr rankReduce(const WeightMatrix& w, double rho) { return rankReduce(w, rho, LaserOptions{}); }

WeightPtr rankReduce(const WeightMatrix& w, double rho, const LaserOptions& o, LaserReport* report) {
    const auto t0 = std::chrono::steady_clock::now();
    ThreadPool& pool = o.pool ? *o.pool : defaultThreadPool();
    const std::int64_t rows = w.rows(), cols = w.cols();
    const std::int64_t k = laserRank(rows, cols, rho);
    const int p = o.oversampling > 0 ? o.oversampling : defaultOversampling(k);
    LaserMethod method = o.method == LaserMethod::Auto ? chooseMethod(rows, cols, k, p) : o.method;

    // F32 checkpoints are read in place through the mmap; other dtypes are
    // decoded once (the SVD reads the matrix several times).
    RowMatrixF decoded;
    const float* a = w.directF32();
    if (!a) {
        decoded = w.toDense();
        a = decoded.data();
    }

    svd::TruncatedSvd factors;
    switch (method) {
        case LaserMethod::Exact:
        case LaserMethod::Auto:
            method = LaserMethod::Exact;
            factors = svd::exactSvd(a, rows, cols, k);
            break;
        case LaserMethod::Gram:
            factors = svd::gramSvd(a, rows, cols, k, pool);
            break;
        case LaserMethod::Randomized:
            factors = svd::randomizedSvd(a, rows, cols, k, p, o.powerIterations, o.seed, pool);
            break;
    }

    // Factors when they are smaller than the matrix (the engine then runs two
    // thin GEMMs); otherwise the dense product, computed once here.
    const bool factored = k * (rows + cols) < rows * cols;
    WeightPtr out;
    if (factored) {
        out = std::make_shared<LowRankWeight>(std::move(factors.us), std::move(factors.vt));
    } else {
        RowMatrixF dense(rows, cols);
        const RowMatrixF& us = factors.us;
        const RowMatrixF& vt = factors.vt;
        pool.parallelFor(rows, 16, [&](std::int64_t r0, std::int64_t r1, int) {
            blas::sgemm(false, false, r1 - r0, cols, k, 1.0f, us.data() + r0 * k, k, vt.data(), cols, 0.0f, dense.data() + r0 * cols, cols);
        });
        out = std::make_shared<DenseWeight>(std::move(dense));
    }
    if (report) {
        report->rank = k;
        report->maxRank = std::min(rows, cols);
        report->method = method;
        report->sketchWidth = method == LaserMethod::Randomized ? static_cast<int>(std::min<std::int64_t>(k + p, std::min(rows, cols))) : 0;
        report->factored = factored;
        report->frobeniusNorm = std::sqrt(factors.frobeniusSq);
        report->residualNorm = std::sqrt(std::max(0.0, factors.residualSq));
        report->singularValues = factors.sigma;
        report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return out;
}

}  // namespace superlens::core
