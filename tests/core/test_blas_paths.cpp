// The run-time BLAS choice (core/system/blas.h): which OpenBLAS kernels a CPU
// gets, that the CPUID reading agrees with the kernel's /proc/cpuinfo, and
// that every kernel path this machine can run is exact: GEMMs against plain
// float64 loops, LAPACK's SVD by reconstruction, and the engine's logits
// against the float64 reference answers. CTest runs this binary once per
// OpenBLAS core type (SUPERLENS_BLAS_CORE=PRESCOTT|HASWELL|SKYLAKEX|COOPERLAKE)
// and once with the automatic choice; paths the CPU cannot run are skipped.

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "superlens/core/system/blas.h"
#include "superlens/core/system/cpu_features.h"
#include "golden_fixture.h"
#include "test_paths.h"

using namespace superlens::core;

namespace {

CpuFeatures cpu(const char* vendor, std::initializer_list<bool CpuFeatures::*> flags) {
    CpuFeatures f;
    f.vendor = vendor;
    for (auto flag : flags) f.*flag = true;
    return f;
}

const auto kAvx2 = {&CpuFeatures::avx, &CpuFeatures::avx2, &CpuFeatures::fma, &CpuFeatures::f16c};

CpuFeatures withAvx512(const char* vendor, bool bf16) {
    CpuFeatures f = cpu(vendor, kAvx2);
    f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = true;
    f.avx512bf16 = bf16;
    return f;
}

TEST(BlasChoice, KernelsFollowFeaturesNotModelNumbers) {
    std::string why;
    // Sapphire/Emerald Rapids, Cooper Lake, Zen 4: AVX-512 with BF16.
    EXPECT_EQ(blas::chooseOpenBlasCore(withAvx512("GenuineIntel", true), &why), "COOPERLAKE");
    EXPECT_NE(why.find("BF16"), std::string::npos);
    EXPECT_EQ(blas::chooseOpenBlasCore(withAvx512("AuthenticAMD", true)), "COOPERLAKE");
    // Skylake-X, Ice Lake server: AVX-512 without BF16.
    EXPECT_EQ(blas::chooseOpenBlasCore(withAvx512("GenuineIntel", false)), "SKYLAKEX");
    // AVX-512F alone (Knights Landing) is not enough for the SKYLAKEX kernels.
    CpuFeatures knl = cpu("GenuineIntel", kAvx2);
    knl.avx512f = true;
    EXPECT_EQ(blas::chooseOpenBlasCore(knl), "HASWELL");
    // Intel AVX2 (Haswell .. Alder Lake): HASWELL.
    EXPECT_EQ(blas::chooseOpenBlasCore(cpu("GenuineIntel", kAvx2)), "HASWELL");
    // AMD AVX2 (Zen 1-3): OpenBLAS's own detection, which knows its Zen kernels.
    EXPECT_EQ(blas::chooseOpenBlasCore(cpu("AuthenticAMD", kAvx2), &why), "");
    EXPECT_NE(why.find("own detection"), std::string::npos);
    // Without AVX2 (or with AVX2 the OS does not enable): nothing forced.
    EXPECT_EQ(blas::chooseOpenBlasCore(cpu("GenuineIntel", {&CpuFeatures::sse42, &CpuFeatures::avx})), "");
}

TEST(BlasChoice, CoresRunOnlyWhereTheirInstructionsExist) {
    const CpuFeatures sse = cpu("GenuineIntel", {&CpuFeatures::sse42});
    const CpuFeatures avx2 = cpu("GenuineIntel", kAvx2);
    const CpuFeatures skx = withAvx512("GenuineIntel", false);
    const CpuFeatures cpl = withAvx512("GenuineIntel", true);
    for (const char* core : {"PRESCOTT", "prescott"}) EXPECT_TRUE(blas::canRunCore(sse, core));
    EXPECT_FALSE(blas::canRunCore(sse, "HASWELL"));
    EXPECT_TRUE(blas::canRunCore(avx2, "haswell"));
    EXPECT_TRUE(blas::canRunCore(avx2, "ZEN"));
    EXPECT_FALSE(blas::canRunCore(avx2, "SKYLAKEX"));
    EXPECT_TRUE(blas::canRunCore(skx, "SKYLAKEX"));
    EXPECT_FALSE(blas::canRunCore(skx, "COOPERLAKE"));
    EXPECT_TRUE(blas::canRunCore(cpl, "COOPERLAKE"));
    EXPECT_FALSE(blas::canRunCore(cpl, "SAPPHIRERAPIDS"));  // not in Debian's OpenBLAS 0.3.21
    EXPECT_FALSE(blas::canRunCore(cpl, ""));
}

// An independent reading of the same facts: the kernel's flags line.
std::set<std::string> procCpuinfoFlags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) == 0) {
            std::istringstream words(line.substr(line.find(':') + 1));
            std::set<std::string> flags;
            for (std::string w; words >> w;) flags.insert(w);
            return flags;
        }
    }
    return {};
}

TEST(CpuFeaturesTest, AgreesWithProcCpuinfo) {
    const auto flags = procCpuinfoFlags();
    if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line";
    const CpuFeatures& f = cpuFeatures();
    const std::pair<bool, const char*> pairs[] = {
        {f.sse42, "sse4_2"},         {f.avx, "avx"},           {f.avx2, "avx2"},           {f.fma, "fma"},
        {f.f16c, "f16c"},            {f.avx512f, "avx512f"},   {f.avx512dq, "avx512dq"},   {f.avx512bw, "avx512bw"},
        {f.avx512vl, "avx512vl"},    {f.avx512vnni, "avx512_vnni"}, {f.avx512bf16, "avx512_bf16"}, {f.avx512fp16, "avx512_fp16"},
        {f.amxTile, "amx_tile"},     {f.amxBf16, "amx_bf16"},  {f.amxInt8, "amx_int8"}};
    for (const auto& [ours, flag] : pairs) EXPECT_EQ(ours, flags.count(flag) == 1) << flag;
    EXPECT_GT(f.logicalCpus, 0);
    EXPECT_FALSE(f.vendor.empty());
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Why this process cannot run the kernels it was asked for
// (SUPERLENS_BLAS_CORE), or "" when it can. A machine whose environment pins
// OpenBLAS's kernels (OPENBLAS_CORETYPE, set on CPUs where other kernels of
// this OpenBLAS misbehave) keeps its pin: the forced paths are not tried there.
std::string pathSkipReason() {
    const char* forced = std::getenv("SUPERLENS_BLAS_CORE");
    if (forced == nullptr) return "";
    if (!blas::canRunCore(cpuFeatures(), forced)) return std::string("this CPU cannot run the ") + forced + " kernels";
    const char* pinned = std::getenv("OPENBLAS_CORETYPE");
    if (pinned != nullptr && *pinned != '\0' && lower(pinned) != lower(forced))
        return std::string("the environment pins OpenBLAS to ") + pinned + "; not forcing " + forced;
    return "";
}

#define REQUIRE_PATH()                                              \
    do {                                                            \
        if (const std::string why = pathSkipReason(); !why.empty()) \
            GTEST_SKIP() << why;                                    \
    } while (false)

TEST(BlasPath, LoadsTheRequestedKernels) {
    REQUIRE_PATH();
    const blas::BlasInfo& info = blas::info();
    EXPECT_NE(info.config.find("OpenBLAS"), std::string::npos) << info.config;
    const char* forced = std::getenv("SUPERLENS_BLAS_CORE");
    std::string want = forced ? forced : blas::chooseOpenBlasCore(cpuFeatures());
    if (const char* user = std::getenv("OPENBLAS_CORETYPE"); !forced && user && *user) want = user;
    if (want.empty()) GTEST_SKIP() << "OpenBLAS's own detection chose " << info.core;
    EXPECT_EQ(lower(info.core), lower(want)) << info.selection;
}

// C = op(A) op(B) in float64 loops, row-major.
template <class T>
std::vector<double> naiveGemm(bool ta, bool tb, int m, int n, int k, const std::vector<T>& a, int lda, const std::vector<T>& b, int ldb) {
    std::vector<double> c(static_cast<std::size_t>(m) * n, 0.0);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int p = 0; p < k; ++p) {
                const double x = ta ? a[static_cast<std::size_t>(p) * lda + i] : a[static_cast<std::size_t>(i) * lda + p];
                const double y = tb ? b[static_cast<std::size_t>(j) * ldb + p] : b[static_cast<std::size_t>(p) * ldb + j];
                s += x * y;
            }
            c[static_cast<std::size_t>(i) * n + j] = s;
        }
    return c;
}

TEST(BlasPath, GemmsMatchFloat64Loops) {
    REQUIRE_PATH();
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(-1, 1);
    struct Shape {
        int m, n, k;
    };
    // Odd sizes exercise every kernel's edge handling; 129 x 257 x 300 its blocking.
    for (const Shape s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{17, 33, 65}, Shape{129, 257, 300}, Shape{1, 512, 640}}) {
        for (const bool ta : {false, true})
            for (const bool tb : {false, true}) {
                const int lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
                std::vector<float> a(static_cast<std::size_t>(s.m) * s.k), b(static_cast<std::size_t>(s.k) * s.n);
                std::vector<double> ad(a.size()), bd(b.size());
                for (std::size_t i = 0; i < a.size(); ++i) ad[i] = a[i] = static_cast<float>(u(rng));
                for (std::size_t i = 0; i < b.size(); ++i) bd[i] = b[i] = static_cast<float>(u(rng));
                const auto want = naiveGemm(ta, tb, s.m, s.n, s.k, a, lda, b, ldb);
                std::vector<float> c(want.size(), 7.0f);
                blas::sgemm(ta, tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
                std::vector<double> cd(want.size(), 7.0);
                blas::dgemm(ta, tb, s.m, s.n, s.k, 1.0, ad.data(), lda, bd.data(), ldb, 0.0, cd.data(), s.n);
                double errF = 0, errD = 0;
                for (std::size_t i = 0; i < want.size(); ++i) {
                    errF = std::max(errF, std::abs(c[i] - want[i]));
                    errD = std::max(errD, std::abs(cd[i] - want[i]));
                }
                // fp32 accumulation over k terms of size <= 1: ~k * 2^-24 at worst.
                EXPECT_LT(errF, 1e-6 * s.k + 1e-6) << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
                EXPECT_LT(errD, 1e-13 * s.k + 1e-14) << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
            }
    }
}

TEST(BlasPath, LapackSvdReconstructs) {
    REQUIRE_PATH();
    // Column-major 20 x 12 matrix; A = U diag(s) Vt from dgesdd("S").
    const int m = 20, n = 12, r = 12;
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> a(static_cast<std::size_t>(m) * n), orig;
    for (double& v : a) v = u(rng);
    orig = a;
    std::vector<double> s(r), U(static_cast<std::size_t>(m) * r), Vt(static_cast<std::size_t>(r) * n);
    std::vector<int> iwork(8 * r);
    int info = 0, lwork = -1;
    double query = 0;
    blas::dgesdd("S", &m, &n, a.data(), &m, s.data(), U.data(), &m, Vt.data(), &r, &query, &lwork, iwork.data(), &info);
    ASSERT_EQ(info, 0);
    lwork = static_cast<int>(query) + 1;
    std::vector<double> work(static_cast<std::size_t>(lwork));
    blas::dgesdd("S", &m, &n, a.data(), &m, s.data(), U.data(), &m, Vt.data(), &r, work.data(), &lwork, iwork.data(), &info);
    ASSERT_EQ(info, 0);
    double err = 0;
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double v = 0;
            for (int p = 0; p < r; ++p) v += U[static_cast<std::size_t>(p) * m + i] * s[p] * Vt[static_cast<std::size_t>(j) * r + p];
            err = std::max(err, std::abs(v - orig[static_cast<std::size_t>(j) * m + i]));
        }
    EXPECT_LT(err, 1e-12);
    for (int p = 1; p < r; ++p) EXPECT_GE(s[p - 1], s[p]);
}

TEST(BlasPath, EngineLogitsMatchTheFloat64Reference) {
    REQUIRE_PATH();
    for (const char* name : superlens::test::kReferenceModels) {
        EXPECT_LT(superlens::test::referenceLogitsError(name), 1e-4) << name << " on " << blas::info().core;
    }
}

}  // namespace
