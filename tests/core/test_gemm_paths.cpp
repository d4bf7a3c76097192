// The GEMM path of prompt-sized Linear layers (core/system/gemm_path.h):
// AMX with activations split in three bf16 parts, our own kernel in AVX-512
// or AVX2 (engine/gemm_panels.h), or OpenBLAS. CTest runs this binary with
// SUPERLENS_GEMM unset (the automatic choice), =amx (AMX for bf16, f16 and
// f32 weights, from 2 tokens up), =avx512 and =avx2 (our kernel for the
// three, from 2 tokens up) and =blas, and with
// SUPERLENS_GEMV=avx2 and =avx512 (the GEMV of one token or a few, gemv.h); a path
// this machine cannot run is skipped. On each: kernels::linear against float64 loops over
// the stored values, for ragged shapes that cross every tile, chunk and
// block boundary of the AMX kernel; the same bits on 1 and 2 threads; and
// the engine's logits against the float64 reference answers.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../core/src/engine/gemm_amx.h"
#include "../../core/src/engine/gemm_panels.h"
#include "../../core/src/engine/gemv.h"
#include "../../core/src/engine/kernels.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"
#include "superlens/core/system/cpu_features.h"
#include "superlens/core/system/gemm_path.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;

namespace {

std::string requested() {
    const char* v = std::getenv("SUPERLENS_GEMM");
    return v ? v : "";
}

std::string requestedGemv() {
    const char* v = std::getenv("SUPERLENS_GEMV");
    return v ? v : "";
}

bool cpuHasAvx512() {
    const CpuFeatures& cpu = cpuFeatures();
    return cpu.avx512f && cpu.avx512bw && cpu.avx512vl;
}

std::string skipReason() {
    std::string why;
    if (requested() == "amx" && !amx::tilesEnabled(&why)) return "this machine cannot run AMX: " + why;
    if (requested() == "avx512" && !panels::available(panels::Isa::Avx512, &why)) return "this machine cannot run the AVX-512 kernel: " + why;
    if (requestedGemv() == "avx512" && !cpuHasAvx512()) return "this machine cannot run AVX-512";
    return "";
}

#define REQUIRE_PATH()                                          \
    do {                                                        \
        if (const std::string why = skipReason(); !why.empty()) \
            GTEST_SKIP() << why;                                \
    } while (false)

constexpr gemm::WeightRead kInPlace = gemm::WeightRead::InPlace, kDecoded = gemm::WeightRead::Decoded;

// SUPERLENS_GEMV_TOKENS, or 0 when unset.
std::int64_t requestedTokens() {
    const char* v = std::getenv("SUPERLENS_GEMV_TOKENS");
    return v ? std::atoll(v) : 0;
}

// The GEMV's token limits (weights read in place, by type, and decoded ones)
// and the first token count of the kernels as the mode sets them (kernelFrom
// 0: one more than the GEMV's), unless SUPERLENS_GEMV_TOKENS sets them all.
void expectLimits(std::int64_t f32, std::int64_t bf16, std::int64_t f16, std::int64_t decoded, std::int64_t kernelFrom) {
    const std::int64_t asked = requestedTokens();
    const std::pair<DType, std::int64_t> inPlace[] = {{DType::F32, f32}, {DType::BF16, bf16}, {DType::F16, f16}};
    for (const auto& [d, limit] : inPlace) {
        EXPECT_EQ(gemm::gemvMaxTokens(kInPlace, d), asked ? asked : limit) << dtypeName(d);
        EXPECT_EQ(gemm::kernelMinRows(kInPlace, d), asked ? asked + 1 : kernelFrom ? kernelFrom : limit + 1) << dtypeName(d);
        EXPECT_EQ(gemm::gemvMaxTokens(kDecoded, d), asked ? asked : decoded) << dtypeName(d);
        EXPECT_EQ(gemm::kernelMinRows(kDecoded, d), asked ? asked + 1 : kernelFrom ? kernelFrom : decoded + 1) << dtypeName(d);
    }
}

TEST(GemmPath, FollowsTheEnvironment) {
    REQUIRE_PATH();
    const gemm::GemmPath& p = gemm::path();
    const bool canAmx = amx::tilesEnabled(), can512 = panels::available(panels::Isa::Avx512);
    const bool asked = requestedTokens() > 0;
    const auto onPanels = [](std::initializer_list<DType> dtypes) {
        for (DType d : dtypes)
            if (!gemm::panelsFor(d)) return false;
        return true;
    };
    if (requested() == "blas") {
        EXPECT_FALSE(p.amx);
        EXPECT_EQ(p.panels, gemm::PanelIsa::None);
        EXPECT_FALSE(gemm::amxFor(DType::BF16));
        EXPECT_FALSE(gemm::panelsFor(DType::F32));
        EXPECT_EQ(gemm::kernelFor(DType::F32, 128, kInPlace), "OpenBLAS");
        EXPECT_EQ(gemm::kernelFor(DType::BF16, 128, kDecoded), "decoded tiles + OpenBLAS");
        expectLimits(1, 1, 1, 1, 16);
        if (!asked) {
            EXPECT_EQ(gemm::kernelFor(DType::F32, 2, kInPlace), "OpenBLAS");
        }
    } else if (requested() == "amx") {
        EXPECT_TRUE(p.amx);
        EXPECT_TRUE(gemm::amxFor(DType::BF16) && gemm::amxFor(DType::F16) && gemm::amxFor(DType::F32));
        EXPECT_FALSE(gemm::panelsFor(DType::F32));
        expectLimits(1, 1, 1, 1, 2);
        if (!asked) {
            EXPECT_EQ(gemm::kernelFor(DType::F32, 2, kInPlace), "AMX");
        }
    } else if (requested() == "avx512" || requested() == "avx2") {
        const bool is512 = requested() == "avx512";
        EXPECT_FALSE(p.amx);
        EXPECT_EQ(p.panels, is512 ? gemm::PanelIsa::Avx512 : gemm::PanelIsa::Avx2);
        EXPECT_TRUE(onPanels({DType::BF16, DType::F16, DType::F32}));
        expectLimits(1, 1, 1, 1, 2);
        if (!asked) {
            EXPECT_EQ(gemm::kernelFor(DType::BF16, 2, kInPlace), is512 ? "AVX-512 kernel" : "AVX2 kernel");
        }
    } else {
        EXPECT_EQ(p.amx, canAmx) << p.selection;
        // Our kernel, in AVX-512 where the CPU has it and in AVX2 (the build's baseline) otherwise.
        EXPECT_EQ(p.panels, can512 ? gemm::PanelIsa::Avx512 : gemm::PanelIsa::Avx2) << p.selection;
        EXPECT_EQ(gemm::amxFor(DType::BF16), canAmx);
        EXPECT_FALSE(gemm::amxFor(DType::F32));
        // Every float weight the AMX path does not take runs on it.
        EXPECT_TRUE(onPanels({DType::F32, DType::F16}));
        EXPECT_EQ(gemm::panelsFor(DType::BF16), !canAmx);
        // Up to 24 tokens of f32 weights, 28 of bf16 (15 where AMX takes
        // them) and 31 of f16, 11 of decoded weights, go to the GEMV, the
        // rest to AMX or our kernel, never to OpenBLAS.
        expectLimits(24, canAmx ? 15 : 28, 31, 11, 0);
        const std::string kernel = can512 ? "AVX-512 kernel" : "AVX2 kernel";
        for (DType d : {DType::F32, DType::BF16, DType::F16}) {
            const std::int64_t limit = gemm::gemvMaxTokens(kInPlace, d);
            for (std::int64_t tokens : {std::int64_t{1}, std::int64_t{2}, limit})
                EXPECT_NE(gemm::kernelFor(d, tokens, kInPlace).find("GEMV"), std::string::npos) << tokens << " tokens";
            EXPECT_EQ(gemm::kernelFor(d, limit + 1, kInPlace), gemm::amxFor(d) ? "AMX" : kernel);
            // Decoded weights reach our kernel as f32 rows, AMX or not.
            const std::int64_t decoded = gemm::gemvMaxTokens(kDecoded, d);
            EXPECT_NE(gemm::kernelFor(d, decoded, kDecoded).find("GEMV"), std::string::npos);
            EXPECT_EQ(gemm::kernelFor(d, decoded + 1, kDecoded), kernel);
        }
    }
    EXPECT_FALSE(p.name.empty());
    EXPECT_FALSE(p.selection.empty());
}

// A weight [rows, cols] stored in `dtype` at an odd address (as safetensors
// may place it), or `lineOffset` bytes into a 64-byte cache line between
// NaN bytes, with the values it holds as doubles.
struct Weight {
    std::string name = "model.layers.0.mlp.up_proj.weight";
    std::vector<std::byte> bytes;
    std::vector<double> values;
    TensorView view;

    Weight(DType dtype, std::int64_t rows, std::int64_t cols, std::uint32_t seed, int lineOffset = -1) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> nd(0.0f, 0.1f);
        const auto count = static_cast<std::size_t>(rows * cols);
        bytes.resize(count * dtypeSize(dtype) + 128);
        values.resize(count);
        std::byte* base = bytes.data() + 2;
        if (lineOffset >= 0) {
            const auto misalign = reinterpret_cast<std::uintptr_t>(bytes.data()) % 64;
            base = bytes.data() + (64 - misalign) % 64 + lineOffset;
            // NaN bytes around the tensor: a kernel reading past its ends shows.
            std::fill(bytes.begin(), bytes.end(), std::byte{0xFF});
        }
        for (std::size_t i = 0; i < count; ++i) {
            const float v = nd(rng);
            if (dtype == DType::F32) {
                std::memcpy(base + 4 * i, &v, 4);
                values[i] = v;
                continue;
            }
            const std::uint16_t h = dtype == DType::BF16 ? floatToBf16(v) : floatToF16(v);
            std::memcpy(base + 2 * i, &h, 2);
            if (dtype == DType::BF16) {
                const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
                float f;
                std::memcpy(&f, &u, 4);
                values[i] = f;
            } else {
                // IEEE half, decoded here from its fields.
                const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
                const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
                values[i] = (h & 0x8000) ? -mag : mag;
            }
        }
        view.name = &name;
        view.dtype = dtype;
        view.shape = {rows, cols};
        view.data = base;
    }
};

struct Shape {
    std::int64_t m, n, k;
};

// m: below, at and across the 16/32-row tiles and the 128-row block; n: across
// the 32-row weight blocks and the 256-row block; k: across the 32-column
// tiles and the 512-column chunks.
// m = 2, 5, 11, 24, 28 and 31: the GEMV's token pairs, a lone last token,
// and its most tokens for decoded weights and for f32, bf16 and f16 weights
// read in place (by default; the GEMM kernels when SUPERLENS_GEMM is set);
// 15, 16 and 20 in between.
const Shape kShapes[] = {{2, 5, 7},      {5, 37, 45},  {11, 33, 300}, {15, 70, 1030}, {16, 37, 45},  {24, 20, 300},
                         {28, 20, 300}, {31, 9, 1030}, {33, 70, 100}, {40, 300, 1030}, {130, 64, 96}, {20, 33, 512}};

double maxError(const kernels::Mat<float>& x, const std::vector<double>& w, std::int64_t n, const kernels::Mat<float>& y, double* maxRef) {
    double err = 0;
    *maxRef = 0;
    for (std::int64_t i = 0; i < x.rows(); ++i)
        for (std::int64_t r = 0; r < n; ++r) {
            double s = 0;
            for (std::int64_t c = 0; c < x.cols(); ++c) s += static_cast<double>(x(i, c)) * w[static_cast<std::size_t>(r * x.cols() + c)];
            err = std::max(err, std::abs(s - static_cast<double>(y(i, r))));
            *maxRef = std::max(*maxRef, std::abs(s));
        }
    return err;
}

TEST(GemmPath, LinearMatchesFloat64OnEveryWeightType) {
    REQUIRE_PATH();
    ThreadPool pool(2);
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        for (const Shape& sh : kShapes) {
            const Weight w(dtype, sh.n, sh.k, static_cast<std::uint32_t>(sh.n * 31 + sh.k));
            const StoredWeight stored(w.view);
            std::mt19937 rng(static_cast<std::uint32_t>(sh.m));
            std::normal_distribution<float> nd(0.0f, 1.0f);
            kernels::Mat<float> x(sh.m, sh.k), y;
            for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
            x(0, 0) = 300.0f;  // a massive activation: its bf16 parts must still add up
            kernels::linear<float>(stored, x, y, pool);
            ASSERT_EQ(y.rows(), sh.m);
            ASSERT_EQ(y.cols(), sh.n);
            double maxRef = 0;
            const double err = maxError(x, w.values, sh.n, y, &maxRef);
            // 1e-4 of the float64 result, relative to the largest output
            // when the massive activation makes outputs large (OpenBLAS's
            // sgemm errs by 1.0e-4 absolute at 89 here, AMX by 1.1e-4).
            EXPECT_LT(err, 1e-4 * std::max(1.0, maxRef)) << dtypeName(dtype) << " " << sh.m << "x" << sh.n << "x" << sh.k << " on " << gemm::path().name
                                 << " (largest output " << maxRef << ")";
            // The f32 dense copy an edit leaves behind takes the same path as mapped f32.
            if (dtype == DType::F32) {
                RowMatrixF dense(sh.n, sh.k);
                for (std::int64_t i = 0; i < dense.size(); ++i) dense.data()[i] = static_cast<float>(w.values[static_cast<std::size_t>(i)]);
                const DenseWeight dw(std::move(dense));
                kernels::Mat<float> y2;
                kernels::linear<float>(dw, x, y2, pool);
                EXPECT_EQ(y2, y) << "dense copy " << sh.m << "x" << sh.n << "x" << sh.k;
            }
        }
    }
}

// A weight the kernels cannot read in place: only its decoder (as GGUF
// quantized blocks and RTN edits are read).
class DecodeOnly final : public WeightMatrix {
public:
    explicit DecodeOnly(const WeightMatrix& inner) : m_inner(inner) {}
    std::int64_t rows() const override { return m_inner.rows(); }
    std::int64_t cols() const override { return m_inner.cols(); }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override { m_inner.decodeRows(r0, r1, dst); }
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override { m_inner.decodeRows(r0, r1, dst); }

private:
    const WeightMatrix& m_inner;
};

// Decoded weights match float64 on every path, and give the same bits as the
// stored weights they decode from wherever both take the same kernel (ours
// reads both as fp32 rows in the same order).
TEST(GemmPath, DecodedWeightsMatchFloat64AndTheStoredOnes) {
    REQUIRE_PATH();
    ThreadPool pool(2);
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        for (const Shape& sh : kShapes) {
            const Weight w(dtype, sh.n, sh.k, static_cast<std::uint32_t>(sh.n * 7 + sh.k));
            const StoredWeight stored(w.view);
            const DecodeOnly decoded(stored);
            std::mt19937 rng(static_cast<std::uint32_t>(sh.m + 5));
            std::normal_distribution<float> nd(0.0f, 1.0f);
            kernels::Mat<float> x(sh.m, sh.k), yStored, yDecoded;
            for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
            kernels::linear<float>(decoded, x, yDecoded, pool);
            double maxRef = 0;
            const double err = maxError(x, w.values, sh.n, yDecoded, &maxRef);
            EXPECT_LT(err, 1e-4 * std::max(1.0, maxRef)) << dtypeName(dtype) << " " << sh.m << "x" << sh.n << "x" << sh.k << " on " << gemm::path().name;
            kernels::linear<float>(stored, x, yStored, pool);
            if (gemm::panelsFor(dtype) && gemm::panelsFor(DType::F32) && sh.m >= gemm::kernelMinRows(kInPlace, dtype) &&
                sh.m >= gemm::kernelMinRows(kDecoded, dtype)) {
                EXPECT_EQ(yDecoded, yStored) << dtypeName(dtype) << " " << sh.m << "x" << sh.n << "x" << sh.k;
            }
        }
    }
}

// W with one 1 per row (any dtype holds 1 exactly): y[i, r] = x[i, c_r]
// bit for bit, which needs the bf16 parts of x to add up to x exactly (a
// split in two parts, or x rounded to bf16, would lose the low bits).
TEST(GemmPath, OneHotWeightsGiveTheActivationsBackBitForBit) {
    REQUIRE_PATH();
    ThreadPool pool(2);
    const std::int64_t m = 37, n = 70, k = 600;
    std::mt19937 rng(4);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    kernels::Mat<float> x(m, k), y;
    for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng) * std::ldexp(1.0f, static_cast<int>(i % 41) - 20);
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        Weight w(dtype, n, k, 1);
        std::vector<std::byte> bytes(static_cast<std::size_t>(n * k) * dtypeSize(dtype));
        for (std::int64_t r = 0; r < n; ++r) {
            const std::int64_t c = (r * 97 + 13) % k;
            std::byte* p = bytes.data() + static_cast<std::size_t>(r * k + c) * dtypeSize(dtype);
            const float one = 1.0f;
            const std::uint16_t h = dtype == DType::BF16 ? floatToBf16(one) : floatToF16(one);
            if (dtype == DType::F32) std::memcpy(p, &one, 4);
            else std::memcpy(p, &h, 2);
        }
        w.view.data = bytes.data();
        const StoredWeight stored(w.view);
        kernels::linear<float>(stored, x, y, pool);
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t r = 0; r < n; ++r)
                ASSERT_EQ(y(i, r), x(i, (r * 97 + 13) % k)) << dtypeName(dtype) << " row " << i << " output " << r << " on " << gemm::path().name;
    }
}

// No input features: every output is the empty sum, 0, on every path.
TEST(GemmPath, ZeroColumnWeightsGiveZeros) {
    REQUIRE_PATH();
    ThreadPool pool(2);
    for (DType dtype : {DType::BF16, DType::F32}) {
        const Weight w(dtype, 40, 0, 1);
        const StoredWeight stored(w.view);
        kernels::Mat<float> x(20, 0), y;
        kernels::linear<float>(stored, x, y, pool);
        ASSERT_EQ(y.rows(), 20);
        ASSERT_EQ(y.cols(), 40);
        EXPECT_EQ(y.cwiseAbs().maxCoeff(), 0.0f) << dtypeName(dtype);
    }
}

TEST(GemmPath, SameBitsOnOneAndTwoThreads) {
    REQUIRE_PATH();
    ThreadPool one(1), two(2);
    for (DType dtype : {DType::BF16, DType::F32}) {
        const Weight w(dtype, 600, 1100, 5);
        const StoredWeight stored(w.view);
        std::mt19937 rng(9);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        kernels::Mat<float> x(48, 1100), y1, y2;
        for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
        kernels::linear<float>(stored, x, y1, one);
        kernels::linear<float>(stored, x, y2, two);
        EXPECT_EQ(y1, y2) << dtypeName(dtype);
    }
}

TEST(GemmPath, EngineLogitsMatchTheFloat64Reference) {
    REQUIRE_PATH();
    for (const char* name : superlens::test::kReferenceModels) {
        EXPECT_LT(superlens::test::referenceLogitsError(name), 1e-4) << name << " on " << gemm::path().name;
    }
}

// ---- The GEMV (decode and short prompts), gemv.h: one activation row or a few.

TEST(GemvPath, FollowsTheEnvironment) {
    REQUIRE_PATH();
    const gemm::GemvPath& p = gemm::gemvPath();
    if (requestedGemv() == "avx2") EXPECT_EQ(p.isa, gemm::GemvIsa::Avx2);
    else if (requestedGemv() == "avx512") EXPECT_EQ(p.isa, gemm::GemvIsa::Avx512);
    else EXPECT_EQ(p.isa == gemm::GemvIsa::Avx512, cpuHasAvx512()) << p.selection;
    EXPECT_FALSE(p.name.empty());
    EXPECT_FALSE(p.selection.empty());
    // SUPERLENS_GEMV_ROW_PREFETCH, or the CPU's automatic choice.
    const char* pf = std::getenv("SUPERLENS_GEMV_ROW_PREFETCH");
    const std::string rowPrefetch = pf ? pf : "";
    if (rowPrefetch == "on") EXPECT_TRUE(p.bf16RowPrefetch);
    else if (rowPrefetch == "off") EXPECT_FALSE(p.bf16RowPrefetch);
    else EXPECT_EQ(p.bf16RowPrefetch, gemm::bf16RowPrefetchFor(cpuFeatures()));
}

// The automatic choice: off on AMD (and Hygon, its Zen licensee), where the
// streamed bf16 rows read faster without it; on for every other vendor.
TEST(GemvPath, Bf16RowPrefetchIsOffOnAmdOnly) {
    const auto vendor = [](const char* name) {
        CpuFeatures f;
        f.vendor = name;
        f.avx512f = f.avx512bw = f.avx512vl = true;
        return gemm::bf16RowPrefetchFor(f);
    };
    EXPECT_FALSE(vendor("AuthenticAMD"));
    EXPECT_FALSE(vendor("HygonGenuine"));
    EXPECT_TRUE(vendor("GenuineIntel"));
    EXPECT_TRUE(vendor("CentaurHauls"));
    EXPECT_TRUE(vendor(""));
}

// n: below, at and across the 4-row passes and the prefetch distance (8
// rows), split over two workers; k: below and across the 8- and 16-column
// vectors and the 32-column bf16 pairs (48 and 50: pairs, then one 16-column
// step, then a scalar tail), up to a TinyLlama row.
TEST(GemvPath, SingleTokenMatchesFloat64OnEveryWeightType) {
    REQUIRE_PATH();
    ThreadPool pool(2);
    const std::pair<std::int64_t, std::int64_t> shapes[] = {{1, 7}, {3, 16}, {5, 17}, {9, 31}, {6, 48}, {11, 50}, {37, 45}, {70, 100}, {130, 2048}, {300, 1030}};
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        for (const auto& [n, k] : shapes) {
            const Weight w(dtype, n, k, static_cast<std::uint32_t>(n * 17 + k));
            const StoredWeight stored(w.view);
            std::mt19937 rng(static_cast<std::uint32_t>(k));
            std::normal_distribution<float> nd(0.0f, 1.0f);
            kernels::Mat<float> x(1, k), y;
            for (std::int64_t i = 0; i < k; ++i) x.data()[i] = nd(rng);
            x(0, k - 1) = 300.0f;  // a massive activation, in the scalar tail when there is one
            kernels::linear<float>(stored, x, y, pool);
            ASSERT_EQ(y.rows(), 1);
            ASSERT_EQ(y.cols(), n);
            double maxRef = 0;
            const double err = maxError(x, w.values, n, y, &maxRef);
            EXPECT_LT(err, 1e-4 * std::max(1.0, maxRef)) << dtypeName(dtype) << " 1x" << n << "x" << k << " on " << gemm::gemvPath().name
                                                         << " (largest output " << maxRef << ")";
        }
    }
}

// Every row is reduced in one order whether it falls in a 4-row pass or in
// the remainder, and whichever worker has it: the same matrix seen from its
// second row on, and on 1 or 2 threads, gives the same bits per row.
// 1050 columns: 32 bf16 pairs, one 16-column step, a scalar tail; 1056 at
// 48 bytes into a cache line: bf16 blocks aligned to the lines, the first
// and last masked.
TEST(GemvPath, RowsGiveTheSameBitsWhereverThePassesFall) {
    REQUIRE_PATH();
    ThreadPool one(1), two(2);
    const std::int64_t n = 67;
    for (const auto& [k, offset] : {std::pair{std::int64_t{1050}, -1}, std::pair{std::int64_t{1056}, 48}}) {
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        kernels::Mat<float> x(1, k);
        for (std::int64_t i = 0; i < k; ++i) x.data()[i] = nd(rng);
        Weight w(dtype, n, k, 11, offset);
        const StoredWeight all(w.view);
        kernels::Mat<float> y1, y2, yShift;
        kernels::linear<float>(all, x, y1, one);
        kernels::linear<float>(all, x, y2, two);
        EXPECT_EQ(y1, y2) << dtypeName(dtype);
        // From row s on, rows move between the passes and the remainder
        // (one thread: rows 64-66 are the remainder of the whole matrix).
        for (std::int64_t skip = 1; skip <= 3; ++skip) {
            TensorView tail = w.view;
            tail.shape = {n - skip, k};
            tail.data = w.view.data + static_cast<std::size_t>(skip * k) * dtypeSize(dtype);
            const StoredWeight shifted(tail);
            for (ThreadPool* pool : {&one, &two}) {
                kernels::linear<float>(shifted, x, yShift, *pool);
                for (std::int64_t r = skip; r < n; ++r)
                    ASSERT_EQ(yShift(0, r - skip), y1(0, r))
                        << dtypeName(dtype) << " " << k << " columns, row " << r << " from row " << skip << ", " << pool->size() << " threads";
            }
        }
    }
    }
}

// A token's outputs do not depend on the tokens beside it in a panel, nor on
// whether its panel is whole or a last one of at most half the width (16 of
// 32 tokens on AVX-512, 8 of 16 on AVX2), which multiplies only its first
// half: 16 (or the fewest the GEMV leaves to the kernel), 40 and 48 tokens
// against the same tokens among 64.
TEST(GemmPath, ATokenGetsTheSameBitsInAWholeOrAHalfPanel) {
    REQUIRE_PATH();
    ThreadPool pool(2);
    if (!gemm::panelsFor(DType::F32)) GTEST_SKIP() << "our kernel is not in use: " << gemm::path().name;
    const std::int64_t rows = 37, k = 300;
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        if (!gemm::panelsFor(dtype)) continue;  // bf16 on AMX
        const Weight w(dtype, rows, k, 21);
        const StoredWeight stored(w.view);
        std::mt19937 rng(8);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        kernels::Mat<float> x(64, k), yAll, y;
        for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
        kernels::linear<float>(stored, x, yAll, pool);
        // A whole panel or a half one alone (where the GEMV leaves 16 tokens
        // to the kernel), then a half one after whole ones.
        for (std::int64_t m : {std::max<std::int64_t>(16, gemm::kernelMinRows(kInPlace, dtype)), std::int64_t{40}, std::int64_t{48}}) {
            const kernels::Mat<float> xm = x.topRows(m);
            kernels::linear<float>(stored, xm, y, pool);
            ASSERT_EQ(y, yAll.topRows(m)) << dtypeName(dtype) << ", " << m << " tokens on " << gemm::path().name;
        }
    }
}

// The GEMV of w for the tokens of x at once: each token gets, bit for bit,
// what it gets alone, and the values match float64. `what` names the case.
void expectEachTokenAsAlone(DType dtype, const Weight& w, std::int64_t rows, const kernels::Mat<float>& x, const std::string& what) {
    const std::int64_t n = x.rows(), k = x.cols();
    kernels::Mat<float> y(n, rows), alone(1, rows);
    gemv::OneRange all(rows);
    gemv::rows(dtype, w.view.data, k, {x.data(), k, y.data(), rows, n}, all);
    for (std::int64_t t = 0; t < n; ++t) {
        gemv::OneRange one(rows);
        gemv::rows(dtype, w.view.data, k, {x.data() + t * k, k, alone.data(), rows, 1}, one);
        for (std::int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(y(t, r), alone(0, r)) << what << ", token " << t << " of " << n << ", row " << r << " on " << gemm::gemvPath().name;
    }
    double maxRef = 0;
    const double err = maxError(x, w.values, rows, y, &maxRef);
    EXPECT_LT(err, 1e-4 * std::max(1.0, maxRef)) << what << ", " << n << " tokens";
}

// Several tokens: each gets, bit for bit, what it gets alone (the same
// per-row order, whether beside another token in a pass, the odd one out,
// or in the remainder rows), and matches float64. Tokens: one pair, a pair
// and a lone one, up to the 31 a Linear hands the GEMV; rows and columns as
// in SingleTokenMatchesFloat64OnEveryWeightType.
TEST(GemvPath, FewTokensGetTheBitsEachGetsAlone) {
    REQUIRE_PATH();
    const std::pair<std::int64_t, std::int64_t> shapes[] = {{3, 16}, {6, 48}, {11, 50}, {37, 45}, {13, 1050}};
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        for (const auto& [rows, k] : shapes) {
            const Weight w(dtype, rows, k, static_cast<std::uint32_t>(rows * 5 + k));
            for (std::int64_t n : {2, 3, 4, 15, 31}) {
                std::mt19937 rng(static_cast<std::uint32_t>(n * 100 + k));
                std::normal_distribution<float> nd(0.0f, 1.0f);
                kernels::Mat<float> x(n, k);
                for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
                x(n - 1, k - 1) = 300.0f;  // a massive activation, in the last token's scalar tail when there is one
                expectEachTokenAsAlone(dtype, w, rows, x, std::string(dtypeName(dtype)) + " " + std::to_string(rows) + "x" + std::to_string(k));
                if (HasFatalFailure()) return;
            }
        }
    }
}

// Rows of a multiple of 64 bytes share their offset in a cache line; the
// bf16 kernel then reads them in blocks aligned to the lines, the first and
// last masked. At every offset, for every kernel: each token gets the bits
// it gets alone, in four-row passes and in the remainder rows, and the
// values of float64 (massive activations in the first and last columns,
// which fall in the masked blocks).
TEST(GemvPath, RowsAtAnyOffsetWithinACacheLine) {
    REQUIRE_PATH();
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        // 32, 96 and 2080 columns: rows of a multiple of 64 bytes (bf16: 1-2,
        // 3-4 and 65-66 blocks, by the offset); 100: rows at different offsets.
        for (std::int64_t k : {32, 96, 2080, 100}) {
            for (int offset : {0, 2, 4, 16, 30, 32, 48, 62}) {
                if (offset % static_cast<int>(dtypeSize(dtype)) != 0) continue;
                const std::int64_t rows = 7;
                const Weight w(dtype, rows, k, static_cast<std::uint32_t>(k + offset), offset);
                for (std::int64_t n : {1, 2, 5}) {
                    std::mt19937 rng(static_cast<std::uint32_t>(n * 31 + offset));
                    std::normal_distribution<float> nd(0.0f, 1.0f);
                    kernels::Mat<float> x(n, k);
                    for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
                    x(n - 1, 0) = 300.0f;
                    x(0, k - 1) = -200.0f;
                    expectEachTokenAsAlone(dtype, w, rows, x,
                                           std::string(dtypeName(dtype)) + " " + std::to_string(k) + " columns at byte " + std::to_string(offset));
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
}

// The bf16 blocks of a shifted row start before it and end after it; x
// there is zero in the kernel's own copy of x (splitPairs: a per-thread
// buffer reused from call to call). A previous call whose activations were
// infinite at those places must not leak into the next: 0 x inf is NaN.
TEST(GemvPath, APreviousCallsActivationsDoNotReachTheNext) {
    REQUIRE_PATH();
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        const std::int64_t rows = 6, k = 64;
        const Weight wide(dtype, rows, 2 * k, 5, 16), shifted(dtype, rows, k, 6, 48);
        kernels::Mat<float> hot(3, 2 * k), y(3, rows);
        for (std::int64_t i = 0; i < hot.size(); ++i) hot.data()[i] = std::numeric_limits<float>::infinity();
        gemv::OneRange first(rows);
        gemv::rows(dtype, wide.view.data, 2 * k, {hot.data(), 2 * k, y.data(), rows, 3}, first);
        std::mt19937 rng(8);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        kernels::Mat<float> x(3, k);
        for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
        expectEachTokenAsAlone(dtype, shifted, rows, x, std::string(dtypeName(dtype)) + " after infinite activations");
        if (HasFatalFailure()) return;
    }
}

// By default a Linear with up to 24-31 tokens (by weight type) takes the
// GEMV, on every worker's claims: its tokens get their single-token bits.
// One token more takes our GEMM kernel (where AMX does not): its bits.
TEST(GemvPath, LinearHandsFewTokensToIt) {
    REQUIRE_PATH();
    if (gemm::gemvMaxTokens(kInPlace, DType::F32) < 2)
        GTEST_SKIP() << "SUPERLENS_GEMM=" << requested() << ": prompts take the GEMM kernels from 2 tokens";
    ThreadPool pool(2);
    const std::int64_t rows = 300, k = 1030;
    for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
        const std::int64_t n = gemm::gemvMaxTokens(kInPlace, dtype);
        const Weight w(dtype, rows, k, 9);
        const StoredWeight stored(w.view);
        std::mt19937 rng(4);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        kernels::Mat<float> x(n, k), y, alone;
        for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
        kernels::linear<float>(stored, x, y, pool);
        for (std::int64_t t = 0; t < n; ++t) {
            const kernels::Mat<float> xt = x.row(t);
            kernels::linear<float>(stored, xt, alone, pool);
            ASSERT_EQ(y.row(t), alone.row(0)) << dtypeName(dtype) << " token " << t << " of " << n;
        }
        if (!gemm::panelsFor(dtype)) continue;
        const std::int64_t m = gemm::kernelMinRows(kInPlace, dtype);
        kernels::Mat<float> xm(m, k), ym, yKernel(m, rows);
        for (std::int64_t i = 0; i < xm.size(); ++i) xm.data()[i] = nd(rng);
        kernels::linear<float>(stored, xm, ym, pool);
        const panels::Isa isa = gemm::path().panels == gemm::PanelIsa::Avx512 ? panels::Isa::Avx512 : panels::Isa::Avx2;
        panels::PackedTokens packed;
        packed.resize(m, k, panels::panelWidth(isa));
        packed.packPanels(xm.data(), k, 0, packed.panels);
        amx::WeightSource src;
        src.dtype = dtype, src.data = w.view.data, src.rows = rows, src.ld = k;
        panels::multiplyRows(isa, packed, src, 0, rows, yKernel.data(), rows);
        EXPECT_EQ(ym, yKernel) << dtypeName(dtype) << ", " << m << " tokens";
        // Decoded weights: up to 11 tokens on the GEMV, 12 on our kernel.
        const DecodeOnly decoded(stored);
        const std::int64_t nd11 = gemm::gemvMaxTokens(kDecoded, dtype), md = gemm::kernelMinRows(kDecoded, dtype);
        kernels::linear<float>(decoded, x.topRows(nd11), y, pool);
        for (std::int64_t t = 0; t < nd11; ++t) {
            const kernels::Mat<float> xt = x.row(t);
            kernels::linear<float>(decoded, xt, alone, pool);
            ASSERT_EQ(y.row(t), alone.row(0)) << dtypeName(dtype) << " decoded, token " << t << " of " << nd11;
        }
        const kernels::Mat<float> xd = xm.topRows(md);
        kernels::Mat<float> yd, ydKernel(md, rows);
        kernels::linear<float>(decoded, xd, yd, pool);
        packed.resize(md, k, panels::panelWidth(isa));
        packed.packPanels(xd.data(), k, 0, packed.panels);
        const panels::RowDecoder decode = [&decoded](std::int64_t g0, std::int64_t g1, float* dst) { decoded.decodeRows(g0, g1, dst); };
        panels::multiplyDecodedRows(isa, packed, decode, 0, rows, ydKernel.data(), rows);
        EXPECT_EQ(yd, ydKernel) << dtypeName(dtype) << " decoded, " << md << " tokens";
    }
}

}  // namespace
