// LASER rank reduction (rankReduce): the rank rule, and every back end
// (exact, Gram, randomized) against an independent float64 SVD computed here
// with Eigen's BDCSVD (rankReduce itself uses LAPACK): rank, singular values,
// and the Frobenius error against the optimal tail of the spectrum.

#include <cmath>
#include <cstring>

#include <Eigen/SVD>
#include <gtest/gtest.h>

#include "compression_test_util.h"
#include "superlens/core/engine/laser.h"

using namespace superlens::core;
using superlens::test::IndirectWeight;
using superlens::test::llmLikeMatrix;

namespace {

using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Reference {
    Eigen::VectorXd sigma;
    double norm2 = 0;
    double tail(std::int64_t k) const {
        double t = 0;
        for (Eigen::Index i = sigma.size() - 1; i >= k; --i) t += sigma[i] * sigma[i];
        return std::sqrt(t);
    }
};

Reference referenceSvd(const RowMatrixF& a) {
    const Eigen::MatrixXd ad = a.cast<double>();
    Eigen::BDCSVD<Eigen::MatrixXd> svd(ad);
    return {svd.singularValues(), ad.squaredNorm()};
}

double errorNorm(const RowMatrixF& a, const WeightMatrix& approx) {
    const RowMatrixD d = a.cast<double>() - approx.toDense().cast<double>();
    return d.norm();
}

TEST(Laser, RankRule) {
    EXPECT_EQ(laserRank(64, 172, 0.01), 1);     // floor(0.64) -> at least 1
    EXPECT_EQ(laserRank(4096, 11008, 0.01), 40);
    EXPECT_EQ(laserRank(11008, 4096, 0.01), 40);
    EXPECT_EQ(laserRank(512, 1376, 0.25), 128);
    EXPECT_EQ(laserRank(64, 172, 1.0), 64);
    EXPECT_EQ(laserRank(64, 172, 0.9), 57);
}

struct MethodCase {
    LaserMethod method;
    std::int64_t rows, cols;
    double rho;
};

class LaserMethods : public ::testing::TestWithParam<MethodCase> {};

TEST_P(LaserMethods, NearOptimalAgainstIndependentSvd) {
    const MethodCase c = GetParam();
    const RowMatrixF a = llmLikeMatrix(c.rows, c.cols, 1234 + static_cast<std::uint64_t>(c.rows));
    const Reference ref = referenceSvd(a);
    LaserOptions o;
    o.method = c.method;
    LaserReport rep;
    const WeightPtr w = rankReduce(DenseWeight(a), c.rho, o, &rep);
    const std::int64_t k = laserRank(c.rows, c.cols, c.rho);
    ASSERT_EQ(rep.rank, k);
    ASSERT_EQ(rep.method, c.method);
    const double optimal = ref.tail(k);
    const double err = errorNorm(a, *w);
    std::printf("%-10s %4lldx%-4lld rho=%.2f k=%-4lld error/optimal = %.6f  (report %.6f)\n", laserMethodName(c.method),
                static_cast<long long>(c.rows), static_cast<long long>(c.cols), c.rho, static_cast<long long>(k), err / optimal,
                rep.residualNorm / optimal);
    // The stated bound (laser.h): within 1% of optimal for the
    // randomized sketch, optimal up to rounding for exact and Gram.
    const double eps = c.method == LaserMethod::Randomized ? 1e-2 : 1e-4;
    EXPECT_LE(err, (1 + eps) * optimal);
    EXPECT_GE(err, optimal * (1 - 1e-5));  // Eckart-Young: nothing beats the tail (fp32 slack)
    // The report's residual is the error of the factors before fp32 rounding.
    EXPECT_NEAR(rep.residualNorm, err, 2e-3 * err);
    EXPECT_NEAR(rep.frobeniusNorm, std::sqrt(ref.norm2), 1e-9 * std::sqrt(ref.norm2));
    // Kept singular values: exact methods reproduce sigma_1..k; the sketch's
    // are lower bounds (sigma_i(Q^T A) <= sigma_i(A)), tight for the largest.
    ASSERT_EQ(static_cast<std::int64_t>(rep.singularValues.size()), k);
    for (std::int64_t i = 0; i < k; ++i) {
        const double s = ref.sigma[i];
        if (c.method == LaserMethod::Randomized) {
            EXPECT_LE(rep.singularValues[static_cast<std::size_t>(i)], s * (1 + 1e-5));
            if (i == 0) EXPECT_NEAR(rep.singularValues[0], s, 1e-4 * s);
        } else {
            EXPECT_NEAR(rep.singularValues[static_cast<std::size_t>(i)], s, 1e-9 * ref.sigma[0] + 1e-9 * s) << i;
        }
    }
    // Rank of the result: exactly k (sigma_{k+1} of the product is rounding noise).
    const Reference got = referenceSvd(w->toDense());
    EXPECT_GT(got.sigma[k - 1], 1e-3 * got.sigma[0]);
    if (k < got.sigma.size()) EXPECT_LT(got.sigma[k], 1e-5 * got.sigma[0]);
}

INSTANTIATE_TEST_SUITE_P(
    MediumMatrices, LaserMethods,
    ::testing::Values(MethodCase{LaserMethod::Exact, 64, 172, 0.1}, MethodCase{LaserMethod::Exact, 172, 64, 0.5},
                      MethodCase{LaserMethod::Exact, 96, 96, 0.9}, MethodCase{LaserMethod::Gram, 96, 256, 0.25},
                      MethodCase{LaserMethod::Gram, 256, 96, 0.25}, MethodCase{LaserMethod::Gram, 512, 1376, 0.5},
                      MethodCase{LaserMethod::Randomized, 512, 1376, 0.01}, MethodCase{LaserMethod::Randomized, 512, 1376, 0.05},
                      MethodCase{LaserMethod::Randomized, 512, 1376, 0.1}, MethodCase{LaserMethod::Randomized, 1376, 512, 0.1},
                      MethodCase{LaserMethod::Randomized, 768, 2048, 0.02}, MethodCase{LaserMethod::Randomized, 768, 2048, 0.25},
                      MethodCase{LaserMethod::Randomized, 2048, 768, 0.05}));

TEST(Laser, AutoPicksExactForSmallAndRandomizedForSmallRanks) {
    const RowMatrixF small = llmLikeMatrix(64, 172, 1);
    LaserReport rep;
    rankReduce(DenseWeight(small), 0.5, LaserOptions{}, &rep);
    EXPECT_EQ(rep.method, LaserMethod::Exact);
    const RowMatrixF big = llmLikeMatrix(768, 2048, 2);
    rankReduce(DenseWeight(big), 0.05, LaserOptions{}, &rep);
    EXPECT_EQ(rep.method, LaserMethod::Randomized);
    rankReduce(DenseWeight(big), 0.5, LaserOptions{}, &rep);
    EXPECT_EQ(rep.method, LaserMethod::Gram);
}

TEST(Laser, StoredAsFactorsOnlyWhenSmaller) {
    const RowMatrixF a = llmLikeMatrix(64, 172, 3);
    // k (rows + cols) < rows cols: 6 * 236 < 11008 -> factors.
    const WeightPtr lo = rankReduce(DenseWeight(a), 0.1);
    ASSERT_NE(lo->lowRank().u, nullptr);
    EXPECT_EQ(lo->lowRank().u->cols(), 6);
    EXPECT_EQ(lo->lowRank().vt->rows(), 6);
    EXPECT_EQ(lo->ownedBytes(), sizeof(float) * 6 * (64 + 172));
    // 57 * 236 >= 11008 -> dense.
    const WeightPtr hi = rankReduce(DenseWeight(a), 0.9);
    EXPECT_EQ(hi->lowRank().u, nullptr);
    EXPECT_NE(hi->directF32(), nullptr);
    EXPECT_EQ(hi->ownedBytes(), sizeof(float) * 64 * 172);
}

TEST(Laser, FullRankReproducesTheMatrix) {
    const RowMatrixF a = llmLikeMatrix(48, 100, 4);
    const RowMatrixF d = rankReduce(DenseWeight(a), 1.0)->toDense();
    EXPECT_LT((d - a).cwiseAbs().maxCoeff(), 1e-5 * a.cwiseAbs().maxCoeff());
}

TEST(Laser, DecodedInputsAndRepeatedCallsGiveTheSameBits) {
    const RowMatrixF a = llmLikeMatrix(600, 1500, 5);
    for (LaserMethod m : {LaserMethod::Randomized, LaserMethod::Gram}) {
        LaserOptions o;
        o.method = m;
        const RowMatrixF first = rankReduce(DenseWeight(a), 0.05, o)->toDense();
        const RowMatrixF again = rankReduce(DenseWeight(a), 0.05, o)->toDense();
        const RowMatrixF indirect = rankReduce(IndirectWeight(a), 0.05, o)->toDense();
        EXPECT_EQ(0, std::memcmp(first.data(), again.data(), sizeof(float) * first.size())) << laserMethodName(m);
        EXPECT_EQ(0, std::memcmp(first.data(), indirect.data(), sizeof(float) * first.size())) << laserMethodName(m);
    }
}

TEST(Laser, ZeroMatrixStaysZero) {
    const RowMatrixF z = RowMatrixF::Zero(600, 700);
    for (LaserMethod m : {LaserMethod::Exact, LaserMethod::Randomized, LaserMethod::Gram}) {
        LaserOptions o;
        o.method = m;
        const RowMatrixF d = rankReduce(DenseWeight(z), 0.05, o)->toDense();
        EXPECT_EQ(d.cwiseAbs().maxCoeff(), 0.0f) << laserMethodName(m);
    }
}

TEST(Laser, ExactlyLowRankInputIsRecovered) {
    // rank-5 matrix, k = 5: every method must return it (the tail is zero).
    RowMatrixF b = llmLikeMatrix(600, 5, 6, 1, 0), c = llmLikeMatrix(5, 900, 7, 1, 0);
    const RowMatrixF a = b * c;
    for (LaserMethod m : {LaserMethod::Exact, LaserMethod::Randomized, LaserMethod::Gram}) {
        LaserOptions o;
        o.method = m;
        const RowMatrixF d = rankReduce(DenseWeight(a), 5.0 / 600.0 + 1e-9, o)->toDense();
        EXPECT_LT((d - a).norm(), 1e-4 * a.norm()) << laserMethodName(m);
    }
}

}  // namespace
