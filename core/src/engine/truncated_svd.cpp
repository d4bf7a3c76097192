#include "engine/truncated_svd.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <Eigen/Core>
#include <Eigen/QR>

#include "superlens/core/result.h"
#include "superlens/core/system/blas.h"


namespace superlens::core::svd {
namespace {

using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

int asInt(std::int64_t v) {
    SL_ASSERT(v >= 0 && v <= 0x7fffffff);
    return static_cast<int>(v);
}

// Thin SVD of a row-major float64 matrix (destroyed): A = U diag(s) Vt.
// LAPACK is column-major, so we factor A^T (the same memory seen
// column-major): A^T = U' S V'^T gives U_A = V' and Vt_A = U'^T, and both
// land in our row-major buffers without a transpose.
void svdRowMajor(RowMatrixD& a, RowMatrixD& u, std::vector<double>& s, RowMatrixD& vt) {
    const int m = asInt(a.rows()), n = asInt(a.cols());
    const int r = std::min(m, n);
    u.resize(m, r);
    vt.resize(r, n);
    s.assign(static_cast<std::size_t>(r), 0.0);
    // Column-major view: M = n, N = m.
    const int M = n, N = m, lda = n, ldu = n, ldvt = r;
    std::vector<int> iwork(static_cast<std::size_t>(8) * static_cast<std::size_t>(r));
    int info = 0, lwork = -1;
    double query = 0;
    blas::dgesdd("S", &M, &N, a.data(), &lda, s.data(), vt.data(), &ldu, u.data(), &ldvt, &query, &lwork, iwork.data(), &info);
    SL_ASSERT(info == 0);
    lwork = static_cast<int>(query) + 1;
    std::vector<double> work(static_cast<std::size_t>(lwork));
    blas::dgesdd("S", &M, &N, a.data(), &lda, s.data(), vt.data(), &ldu, u.data(), &ldvt, work.data(), &lwork, iwork.data(), &info);
    // info > 0: the divide-and-conquer did not converge (never seen on finite
    // input); treat as a programmer-visible failure rather than silent garbage.
    SL_ASSERT(info == 0);
}

// Symmetric eigen-decomposition in place: on return `a` holds eigenvectors
// in its columns (column-major, i.e. a[i + j n] is component i of vector j),
// eigenvalues ascending in w.
void symmetricEigen(std::vector<double>& a, std::int64_t n64, std::vector<double>& w) {
    const int n = asInt(n64);
    w.assign(static_cast<std::size_t>(n), 0.0);
    int info = 0, lwork = -1, liwork = -1, iquery = 0;
    double query = 0;
    blas::dsyevd("V", "L", &n, a.data(), &n, w.data(), &query, &lwork, &iquery, &liwork, &info);
    SL_ASSERT(info == 0);
    lwork = static_cast<int>(query) + 1;
    liwork = iquery;
    std::vector<double> work(static_cast<std::size_t>(lwork));
    std::vector<int> iwork(static_cast<std::size_t>(std::max(1, liwork)));
    blas::dsyevd("V", "L", &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    SL_ASSERT(info == 0);
}

// C[m, l] = A[m, n] * B[n, l] (row-major), split over A's rows.
void gemmRows(ThreadPool& pool, std::int64_t m, std::int64_t n, std::int64_t l, const float* a, std::int64_t lda, const float* b,
              std::int64_t ldb, float* c, std::int64_t ldc) {
    pool.parallelFor(m, 16, [&](std::int64_t r0, std::int64_t r1, int) {
        blas::sgemm(false, false, r1 - r0, l, n, 1.0f, a + r0 * lda, lda, b,
                    ldb, 0.0f, c + r0 * ldc, ldc);
    });
}

// C[n, l] = A[m, n]^T * Q[m, l], split over A's columns (each output row is
// one full reduction over m, so the split does not change the arithmetic).
void gemmColsT(ThreadPool& pool, std::int64_t m, std::int64_t n, std::int64_t l, const float* a, std::int64_t lda, const float* q,
               std::int64_t ldq, float* c, std::int64_t ldc) {
    pool.parallelFor(n, 16, [&](std::int64_t c0, std::int64_t c1, int) {
        blas::sgemm(true, false, c1 - c0, l, m, 1.0f, a + c0, lda, q, ldq,
                    0.0f, c + c0 * ldc, ldc);
    });
}

// B[l, n] = Q[m, l]^T * A[m, n], split over A's columns.
void gemmQtA(ThreadPool& pool, std::int64_t m, std::int64_t n, std::int64_t l, const float* q, const float* a, std::int64_t lda,
             float* b) {
    pool.parallelFor(n, 64, [&](std::int64_t c0, std::int64_t c1, int) {
        blas::sgemm(true, false, l, c1 - c0, m, 1.0f, q, l, a + c0, lda,
                    0.0f, b + c0, n);
    });
}

// Orthonormal basis of the columns of y [rows, l] (row-major fp32), by
// Householder QR in float64: always orthonormal, even when y is rank
// deficient (power iterations make y ill-conditioned by design).
Eigen::MatrixXd orthonormalize(RowMatrixF& y) {
    const Eigen::MatrixXd yd = y.cast<double>();
    const Eigen::HouseholderQR<Eigen::MatrixXd> qr(yd);
    Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(y.rows(), y.cols());
    y = q.cast<float>();
    return q;
}

TruncatedSvd fromFullSvd(const RowMatrixD& u, const std::vector<double>& s, const RowMatrixD& vt, std::int64_t k) {
    TruncatedSvd out;
    out.sigma.assign(s.begin(), s.begin() + k);
    out.us = (u.leftCols(k) * Eigen::Map<const Eigen::VectorXd>(s.data(), k).asDiagonal()).cast<float>();
    out.vt = vt.topRows(k).cast<float>();
    // The tail of the spectrum, summed smallest first.
    double tail = 0;
    for (std::size_t i = s.size(); i-- > static_cast<std::size_t>(k);) tail += s[i] * s[i];
    out.residualSq = tail;
    return out;
}

}  // namespace

double frobeniusSquared(const float* a, std::int64_t rows, std::int64_t cols, ThreadPool& pool) {
    const std::int64_t n = rows * cols;
    constexpr std::int64_t kSlice = 1 << 16;
    const std::int64_t slices = (n + kSlice - 1) / kSlice;
    std::vector<double> partial(static_cast<std::size_t>(slices), 0.0);
    pool.parallelFor(slices, 1, [&](std::int64_t s0, std::int64_t s1, int) {
        for (std::int64_t s = s0; s < s1; ++s) {
            const std::int64_t e1 = std::min(n, (s + 1) * kSlice);
            double acc = 0;
            for (std::int64_t i = s * kSlice; i < e1; ++i) acc += static_cast<double>(a[i]) * static_cast<double>(a[i]);
            partial[static_cast<std::size_t>(s)] = acc;
        }
    });
    double total = 0;
    for (double p : partial) total += p;
    return total;
}

TruncatedSvd exactSvd(const float* a, std::int64_t rows, std::int64_t cols, std::int64_t k) {
    RowMatrixD ad = Eigen::Map<const RowMatrixF>(a, rows, cols).cast<double>();
    RowMatrixD u, vt;
    std::vector<double> s;
    svdRowMajor(ad, u, s, vt);
    TruncatedSvd out = fromFullSvd(u, s, vt, k);
    double total = 0;
    for (std::size_t i = s.size(); i-- > 0;) total += s[i] * s[i];
    out.frobeniusSq = total;
    return out;
}

TruncatedSvd gramSvd(const float* a, std::int64_t rows, std::int64_t cols, std::int64_t k, ThreadPool& pool) {
    const bool wide = rows <= cols;  // Gram of the smaller side
    const std::int64_t g = wide ? rows : cols;
    std::vector<double> gram(static_cast<std::size_t>(g * g), 0.0);
    // Accumulate G in float64 over chunks of the long side: each chunk is
    // converted to float64 once (bounded scratch), and chunks are added in a
    // fixed order, so the sum does not depend on the thread count.
    constexpr std::int64_t kChunk = 512;
    const std::int64_t longSide = wide ? cols : rows;
    std::vector<double> chunk;
    for (std::int64_t t0 = 0; t0 < longSide; t0 += kChunk) {
        const std::int64_t w = std::min(kChunk, longSide - t0);
        chunk.resize(static_cast<std::size_t>(g * w));
        if (wide) {
            // chunk [rows, w] = A[:, t0:t0+w]; G += chunk chunk^T.
            for (std::int64_t r = 0; r < rows; ++r) {
                for (std::int64_t c = 0; c < w; ++c) chunk[static_cast<std::size_t>(r * w + c)] = a[r * cols + t0 + c];
            }
            pool.parallelFor(g, 16, [&](std::int64_t r0, std::int64_t r1, int) {
                blas::dgemm(false, true, r1 - r0, g, w, 1.0, chunk.data() + r0 * w, w,
                            chunk.data(), w, 1.0, gram.data() + r0 * g, g);
            });
        } else {
            // chunk [w, cols] = A[t0:t0+w, :]; G += chunk^T chunk.
            for (std::int64_t i = 0; i < w * cols; ++i) chunk[static_cast<std::size_t>(i)] = a[t0 * cols + i];
            pool.parallelFor(g, 16, [&](std::int64_t c0, std::int64_t c1, int) {
                blas::dgemm(true, false, c1 - c0, g, w, 1.0, chunk.data() + c0, g,
                            chunk.data(), g, 1.0, gram.data() + c0 * g, g);
            });
        }
    }
    double trace = 0;
    for (std::int64_t i = 0; i < g; ++i) trace += gram[static_cast<std::size_t>(i * g + i)];

    std::vector<double> lambda;
    symmetricEigen(gram, g, lambda);  // ascending; vectors in columns

    TruncatedSvd out;
    out.frobeniusSq = trace;
    double tail = 0;
    for (std::int64_t j = 0; j < g - k; ++j) tail += std::max(0.0, lambda[static_cast<std::size_t>(j)]);
    out.residualSq = tail;
    // Top-k eigenvectors, largest first, as a row-major [g, k] matrix.
    RowMatrixF top(g, k);
    out.sigma.resize(static_cast<std::size_t>(k));
    for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t src = g - 1 - j;
        out.sigma[static_cast<std::size_t>(j)] = std::sqrt(std::max(0.0, lambda[static_cast<std::size_t>(src)]));
        for (std::int64_t i = 0; i < g; ++i) top(i, j) = static_cast<float>(gram[static_cast<std::size_t>(i + src * g)]);
    }
    if (wide) {
        // A_k = U_k U_k^T A: us = U_k S, vt = S^-1 (U_k^T A).
        RowMatrixF w(k, cols);
        gemmQtA(pool, rows, cols, k, top.data(), a, cols, w.data());
        out.us = top;
        out.vt = std::move(w);
        // Directions with sigma ~ 0 carry nothing (U_k^T A ~ 0 there): zero
        // them instead of dividing noise by ~0.
        const double floor = (out.sigma.empty() ? 0.0 : out.sigma[0]) * 1e-12;
        for (std::int64_t j = 0; j < k; ++j) {
            const double s = out.sigma[static_cast<std::size_t>(j)];
            if (s <= floor || s == 0.0) {
                out.us.col(j).setZero();
                out.vt.row(j).setZero();
            } else {
                out.us.col(j) *= static_cast<float>(s);
                out.vt.row(j) *= static_cast<float>(1.0 / s);
            }
        }
    } else {
        // A_k = A V_k V_k^T: us = A V_k (= U_k S), vt = V_k^T.
        out.us.resize(rows, k);
        gemmRows(pool, rows, cols, k, a, cols, top.data(), k, out.us.data(), k);
        out.vt = top.transpose();
    }
    return out;
}

TruncatedSvd randomizedSvd(const float* a, std::int64_t rows, std::int64_t cols, std::int64_t k, int oversampling, int powerIterations,
                           std::uint64_t seed, ThreadPool& pool) {
    const std::int64_t l = std::min<std::int64_t>(k + std::max(0, oversampling), std::min(rows, cols));
    SL_ASSERT(l >= k);

    // Gaussian test matrix Omega [cols, l], from a fixed seed.
    RowMatrixF omega(cols, l);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::int64_t i = 0; i < omega.size(); ++i) omega.data()[i] = normal(rng);

    // Range finder with subspace iteration: Y = A Omega, then q times
    // Q <- orth(A orth(A^T Q)). Orthonormalising after every product keeps
    // the fp32 GEMMs from collapsing onto the top singular vector.
    RowMatrixF y(rows, l);
    gemmRows(pool, rows, cols, l, a, cols, omega.data(), l, y.data(), l);
    Eigen::MatrixXd q = orthonormalize(y);
    RowMatrixF z(cols, l);
    for (int it = 0; it < powerIterations; ++it) {
        gemmColsT(pool, rows, cols, l, a, cols, y.data(), l, z.data(), l);
        orthonormalize(z);
        gemmRows(pool, rows, cols, l, a, cols, z.data(), l, y.data(), l);
        q = orthonormalize(y);
    }
    // B = Q^T A [l, cols]; its SVD in float64 (small: l rows).
    RowMatrixF b(l, cols);
    gemmQtA(pool, rows, cols, l, y.data(), a, cols, b.data());
    RowMatrixD bd = b.cast<double>();
    RowMatrixD ub, vtb;
    std::vector<double> s;
    svdRowMajor(bd, ub, s, vtb);

    TruncatedSvd out;
    out.frobeniusSq = frobeniusSquared(a, rows, cols, pool);
    out.sigma.assign(s.begin(), s.begin() + k);
    // U_k = Q Ub_k; the approximation is P A with P = U_k U_k^T an orthogonal
    // projector, hence ||A - P A||_F^2 = ||A||_F^2 - ||P A||_F^2 exactly.
    const Eigen::MatrixXd uk = q * ub.leftCols(k);
    out.us = (uk * Eigen::Map<const Eigen::VectorXd>(s.data(), k).asDiagonal()).cast<float>();
    out.vt = vtb.topRows(k).cast<float>();
    double kept = 0;
    for (std::int64_t i = k; i-- > 0;) kept += s[static_cast<std::size_t>(i)] * s[static_cast<std::size_t>(i)];
    out.residualSq = std::max(0.0, out.frobeniusSq - kept);
    return out;
}

}  // namespace superlens::core::svd
