// Matrices stored [in, out] (GPT-2's Conv1D weights) seen through
// TransposedWeight: the gathered decode (decodeRows, float and double) is the
// exact transpose of the stored matrix, and kernels::linear, which multiplies
// by the stored layout directly (NN GEMM on mapped F32, decoded row blocks for
// F16/BF16 and quantized codes, a column GEMV for one token, (X U) Vt for
// low-rank factors), matches y = x * S computed here in float64 from the
// stored values, for n = 1 and n > 1, F32/F16/BF16 checkpoints, edited dense
// copies, low-rank and quantized inner matrices. One-token results do not
// depend on the number of threads; every result repeats bit for bit.

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../core/src/engine/kernels.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"

using namespace superlens::core;

namespace {

using MatF = kernels::Mat<float>;
using MatD = kernels::Mat<double>;
constexpr double kUnit = 1.0 / (1 << 24);  // fp32 unit roundoff

// A tensor [in, out] stored in `dtype`, with the values it holds (as doubles) kept for the reference.
struct StoredTensor {
    std::string name = "h.0.mlp.c_fc.weight";
    std::vector<std::byte> bytes;
    std::vector<double> values;  // row-major [in, out], exactly what the bytes decode to
    TensorView view;

    StoredTensor(DType dtype, std::int64_t in, std::int64_t out, std::uint32_t seed) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        const std::size_t count = static_cast<std::size_t>(in * out);
        bytes.resize(count * dtypeSize(dtype) + 2);  // +2: start the tensor at an odd offset, as safetensors may
        values.resize(count);
        std::byte* base = bytes.data() + 2;
        for (std::size_t i = 0; i < count; ++i) {
            const float v = nd(rng);
            if (dtype == DType::F32) {
                std::memcpy(base + 4 * i, &v, 4);
                values[i] = v;
            } else {
                const std::uint16_t h = dtype == DType::BF16 ? floatToBf16(v) : floatToF16(v);
                std::memcpy(base + 2 * i, &h, 2);
                // The stored value, decoded independently of the engine's decoders.
                if (dtype == DType::BF16) {
                    const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
                    float f;
                    std::memcpy(&f, &u, 4);
                    values[i] = f;
                } else {
                    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
                    const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
                    values[i] = (h & 0x8000) ? -mag : mag;
                }
            }
        }
        view.name = &name;
        view.dtype = dtype;
        view.shape = {in, out};
        view.data = base;
    }
};

std::vector<float> randomInput(std::int64_t n, std::int64_t in, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::vector<float> x(static_cast<std::size_t>(n * in));
    for (auto& v : x) v = u(rng);
    return x;
}

// y = x * S in float64, and the bound a float32 evaluation of it must meet:
// |y - ref| <= terms * u * sum_i |x_i| sAbs_ic, with sAbs = |S| and terms =
// in + 2 for any summation order of stored values; sAbs > |S| and more terms
// where each S element is itself computed in float32 (U Vt, min + code * scale).
struct Reference {
    std::vector<double> y, bound;
};

Reference reference(const std::vector<float>& x, std::int64_t n, std::int64_t in, std::int64_t out, const std::vector<double>& s,
                    const std::vector<double>* sAbs = nullptr, double terms = 0) {
    if (terms == 0) terms = static_cast<double>(in) + 2;
    Reference r;
    r.y.assign(static_cast<std::size_t>(n * out), 0.0);
    r.bound.assign(static_cast<std::size_t>(n * out), 0.0);
    for (std::int64_t t = 0; t < n; ++t) {
        for (std::int64_t i = 0; i < in; ++i) {
            const double xi = x[static_cast<std::size_t>(t * in + i)];
            for (std::int64_t c = 0; c < out; ++c) {
                const std::size_t e = static_cast<std::size_t>(i * out + c), k = static_cast<std::size_t>(t * out + c);
                r.y[k] += xi * s[e];
                r.bound[k] += std::fabs(xi) * (sAbs ? (*sAbs)[e] : std::fabs(s[e]));
            }
        }
    }
    for (double& b : r.bound) b = b * terms * kUnit + 1e-30;
    return r;
}

MatF runLinear(const WeightMatrix& w, const std::vector<float>& x, std::int64_t n, ThreadPool& pool) {
    MatF xm = Eigen::Map<const MatF>(x.data(), n, w.cols());
    MatF y;
    kernels::linear<float>(w, xm, y, pool);
    return y;
}

void expectWithin(const MatF& y, const Reference& r, const std::string& what) {
    const std::int64_t out = y.cols();
    int bad = 0;
    double worst = 0;
    for (std::int64_t t = 0; t < y.rows(); ++t) {
        for (std::int64_t c = 0; c < out; ++c) {
            const std::size_t k = static_cast<std::size_t>(t * out + c);
            const double err = std::fabs(static_cast<double>(y(t, c)) - r.y[k]);
            worst = std::max(worst, err / r.bound[k]);
            if (err > r.bound[k] && ++bad <= 3) {
                ADD_FAILURE() << what << ": y[" << t << "," << c << "] = " << y(t, c) << ", float64 " << r.y[k] << ", bound " << r.bound[k];
            }
        }
    }
    EXPECT_EQ(bad, 0) << what << " (worst error / bound " << worst << ")";
}

bool bitIdentical(const MatF& a, const MatF& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

struct Shape {
    std::int64_t in, out;
};
// Odd sizes (vector tails, a partial 4-row group), more output columns than the
// GEMV's 1024-column chunk and the 4 MB row block, and GPT-2 small's c_fc.
const Shape kShapes[] = {{37, 203}, {150, 1100}, {3, 2600}, {768, 3072}};

class StoredInOut : public ::testing::TestWithParam<DType> {};

TEST_P(StoredInOut, DecodeIsTheExactTranspose) {
    const DType dtype = GetParam();
    const std::int64_t in = 150, out = 77;  // in > the 64-row transpose block, not a multiple of it
    StoredTensor st(dtype, in, out, 11);
    const TransposedWeight t(std::make_shared<StoredWeight>(st.view));
    ASSERT_EQ(t.rows(), out);
    ASSERT_EQ(t.cols(), in);
    for (auto [r0, r1] : {std::pair<std::int64_t, std::int64_t>{0, out}, {5, 6}, {13, 70}}) {
        std::vector<float> f(static_cast<std::size_t>((r1 - r0) * in));
        std::vector<double> d(f.size());
        t.decodeRows(r0, r1, f.data());
        t.decodeRows(r0, r1, d.data());
        for (std::int64_t r = r0; r < r1; ++r) {
            for (std::int64_t i = 0; i < in; ++i) {
                const double want = st.values[static_cast<std::size_t>(i * out + r)];
                ASSERT_EQ(static_cast<double>(f[static_cast<std::size_t>((r - r0) * in + i)]), want) << r << "," << i;
                ASSERT_EQ(d[static_cast<std::size_t>((r - r0) * in + i)], want) << r << "," << i;
            }
        }
    }
    EXPECT_EQ(static_cast<double>(t.at(40, 149)), st.values[149 * out + 40]);
}

TEST_P(StoredInOut, LinearMatchesFloat64ForOneAndManyTokens) {
    const DType dtype = GetParam();
    ThreadPool pool(2);
    for (const Shape& sh : kShapes) {
        StoredTensor st(dtype, sh.in, sh.out, static_cast<std::uint32_t>(sh.in * 7 + sh.out));
        const TransposedWeight t(std::make_shared<StoredWeight>(st.view));
        for (std::int64_t n : {1, 2, 19}) {
            const auto x = randomInput(n, sh.in, static_cast<std::uint32_t>(n + sh.out));
            const std::string what = std::string(dtypeName(dtype)) + " [" + std::to_string(sh.in) + "," + std::to_string(sh.out) + "] n=" + std::to_string(n);
            const MatF y = runLinear(t, x, n, pool);
            ASSERT_EQ(y.rows(), n);
            ASSERT_EQ(y.cols(), sh.out);
            expectWithin(y, reference(x, n, sh.in, sh.out, st.values), what);
            EXPECT_TRUE(bitIdentical(y, runLinear(t, x, n, pool))) << what << ": a second run differs";
        }
    }
}

TEST_P(StoredInOut, OneTokenDoesNotDependOnTheThreadCount) {
    const DType dtype = GetParam();
    StoredTensor st(dtype, 150, 1100, 5);
    const TransposedWeight t(std::make_shared<StoredWeight>(st.view));
    const auto x = randomInput(1, 150, 6);
    ThreadPool one(1), two(2), three(3);
    const MatF y1 = runLinear(t, x, 1, one);
    EXPECT_TRUE(bitIdentical(y1, runLinear(t, x, 1, two)));
    EXPECT_TRUE(bitIdentical(y1, runLinear(t, x, 1, three)));
}

TEST_P(StoredInOut, DoublePathMatchesFloat64) {
    // kernels::linear<double> (the reference compute path) goes through decodeRows.
    const DType dtype = GetParam();
    ThreadPool pool(2);
    const std::int64_t in = 37, out = 203;
    StoredTensor st(dtype, in, out, 9);
    const TransposedWeight t(std::make_shared<StoredWeight>(st.view));
    for (std::int64_t n : {1, 5}) {
        const auto x = randomInput(n, in, 10);
        MatD xm(n, in);
        for (std::int64_t i = 0; i < n * in; ++i) xm.data()[i] = x[static_cast<std::size_t>(i)];
        MatD y;
        kernels::linear<double>(t, xm, y, pool);
        const Reference r = reference(x, n, in, out, st.values);
        for (std::int64_t k = 0; k < n * out; ++k) ASSERT_NEAR(y.data()[k], r.y[static_cast<std::size_t>(k)], 1e-12 * (1 + r.bound[static_cast<std::size_t>(k)] / kUnit));
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, StoredInOut, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) { return std::string(dtypeName(info.param)); });

TEST(TransposedInner, EditedDenseCopy) {
    // An edit replaces the stored matrix by a dense fp32 copy (still [in, out]).
    ThreadPool pool(2);
    for (const Shape& sh : {Shape{37, 203}, Shape{150, 1100}}) {
        StoredTensor st(DType::BF16, sh.in, sh.out, 21);
        RowMatrixF values(sh.in, sh.out);
        std::vector<double> ref(st.values);
        for (std::int64_t i = 0; i < sh.in * sh.out; ++i) values.data()[i] = static_cast<float>(st.values[static_cast<std::size_t>(i)]);
        values(3, 17) = -8.0f;  // the kind of edit a super-weight study makes
        ref[static_cast<std::size_t>(3 * sh.out + 17)] = -8.0;
        const TransposedWeight t(std::make_shared<DenseWeight>(values));
        for (std::int64_t n : {1, 7}) {
            const auto x = randomInput(n, sh.in, 22);
            const MatF y = runLinear(t, x, n, pool);
            expectWithin(y, reference(x, n, sh.in, sh.out, ref), "dense [" + std::to_string(sh.in) + "," + std::to_string(sh.out) + "] n=" + std::to_string(n));
        }
    }
}

TEST(TransposedInner, LowRankFactors) {
    // LASER on a Conv1D weight: S = U Vt with U [in, k], Vt [k, out].
    ThreadPool pool(2);
    const std::int64_t in = 150, out = 1100, k = 9;
    std::mt19937 rng(31);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    RowMatrixF u(in, k), vt(k, out);
    for (std::int64_t i = 0; i < u.size(); ++i) u.data()[i] = nd(rng);
    for (std::int64_t i = 0; i < vt.size(); ++i) vt.data()[i] = nd(rng);
    // S in float64, and per element the sum of |U_ij Vt_jc| for the error bound.
    std::vector<double> s(static_cast<std::size_t>(in * out), 0.0), sAbs(s.size(), 0.0);
    for (std::int64_t i = 0; i < in; ++i) {
        for (std::int64_t c = 0; c < out; ++c) {
            for (std::int64_t j = 0; j < k; ++j) {
                s[static_cast<std::size_t>(i * out + c)] += static_cast<double>(u(i, j)) * vt(j, c);
                sAbs[static_cast<std::size_t>(i * out + c)] += std::fabs(static_cast<double>(u(i, j)) * vt(j, c));
            }
        }
    }
    const TransposedWeight t(std::make_shared<LowRankWeight>(u, vt));
    for (std::int64_t n : {1, 6}) {
        const auto x = randomInput(n, in, 32);
        const MatF y = runLinear(t, x, n, pool);
        expectWithin(y, reference(x, n, in, out, s, &sAbs, static_cast<double>(in + k + 2)), "low-rank n=" + std::to_string(n));
    }
    // The gathered decode and the low-rank row segments agree with S.
    std::vector<float> rows(static_cast<std::size_t>(3 * in));
    t.decodeRows(100, 103, rows.data());
    for (std::int64_t r = 100; r < 103; ++r) {
        for (std::int64_t i = 0; i < in; ++i) {
            const std::size_t e = static_cast<std::size_t>(i * out + r);
            EXPECT_NEAR(rows[static_cast<std::size_t>((r - 100) * in + i)], s[e], 2 * (k + 1) * kUnit * sAbs[e] + 1e-30);
        }
    }
}

TEST(TransposedInner, QuantizedCodes) {
    // Blockwise codes with an exact override: decoded in row blocks before the GEMM / GEMV.
    ThreadPool pool(2);
    const std::int64_t in = 150, out = 1100, blockSize = 64;
    const std::int64_t count = in * out, blocks = (count + blockSize - 1) / blockSize;
    std::mt19937 rng(41);
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(count));
    std::vector<float> scales(static_cast<std::size_t>(blocks)), minimums(static_cast<std::size_t>(blocks));
    for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 16);
    std::uniform_real_distribution<float> su(0.01f, 0.1f), mu(-1.0f, 0.0f);
    for (auto& v : scales) v = su(rng);
    for (auto& v : minimums) v = mu(rng);
    const std::int64_t overrideIndex = 77 * out + 1000;
    std::vector<double> s(static_cast<std::size_t>(count)), sAbs(s.size());
    for (std::int64_t e = 0; e < count; ++e) {
        const std::size_t b = static_cast<std::size_t>(e / blockSize);
        const double code = codes[static_cast<std::size_t>(e)];
        s[static_cast<std::size_t>(e)] = static_cast<double>(minimums[b]) + code * scales[b];
        sAbs[static_cast<std::size_t>(e)] = std::fabs(static_cast<double>(minimums[b])) + code * scales[b];
    }
    s[static_cast<std::size_t>(overrideIndex)] = sAbs[static_cast<std::size_t>(overrideIndex)] = 12.5;
    const TransposedWeight t(std::make_shared<QuantizedWeight>(in, out, blockSize, codes, scales, minimums,
                                                               std::vector<QuantizedWeight::Override>{{overrideIndex, 12.5f}}));
    for (std::int64_t n : {1, 4}) {
        const auto x = randomInput(n, in, 42);
        // +4 terms: each element is itself one fp32 multiply-add away from its float64 value.
        expectWithin(runLinear(t, x, n, pool), reference(x, n, in, out, s, &sAbs, static_cast<double>(in + 4)),
                     "quantized n=" + std::to_string(n));
    }
    ThreadPool one(1);
    const auto x = randomInput(1, in, 43);
    EXPECT_TRUE(bitIdentical(runLinear(t, x, 1, pool), runLinear(t, x, 1, one)));
    // Row segments of the quantized matrix are the same values as whole rows.
    std::vector<float> row(static_cast<std::size_t>(out)), seg(100);
    t.stored().decodeRows(77, 78, row.data());
    t.stored().decodeRowSegment(77, 950, 1050, seg.data());
    for (int j = 0; j < 100; ++j) EXPECT_EQ(seg[static_cast<std::size_t>(j)], row[static_cast<std::size_t>(950 + j)]);
    EXPECT_EQ(seg[50], 12.5f);
}

}  // namespace
