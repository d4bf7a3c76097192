// LASER benchmark: rank-reduce a 4096 x 11008 matrix (Llama-7B's MLP shape)
// to rho = 0.01 (k = 40) with the default method (randomized subspace
// iteration), against a full SVD of the same matrix in the same run, and
// report both times, their ratio, the error of each against the optimum, and
// the peak RSS of each phase.
//
// Usage: bench_laser [--rows R] [--cols C] [--rho RHO] [--threads N]
//                    [--dtype f32|bf16] [--skip-full] [--gram]
//   --threads N   pool size (default: one per hardware thread; "2 cores" = 2)
//   --dtype bf16  serve the matrix as bf16 (decoded by the SVD like a bf16 checkpoint tensor)
//   --skip-full   no full SVD (minutes at 4096 x 11008)
//   --gram        also time the Gram-matrix method (the one Auto uses for large rho)
// The matrix is synthetic and LLM-shaped: N(0, 0.02) plus a decaying
// low-rank part and a few outlier weights (fixed seed).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>


#include "compression_bench_util.h"
#include "superlens/core/engine/laser.h"
#include "superlens/core/system/blas.h"

using namespace superlens::core;
using namespace superlens::bench;

namespace {

class Bf16Weight final : public WeightMatrix {
public:
    Bf16Weight(const RowMatrixF& a) : m_rows(a.rows()), m_cols(a.cols()), m_bits(static_cast<std::size_t>(a.size())) {
        for (std::int64_t i = 0; i < a.size(); ++i) {
            std::uint32_t u;
            std::memcpy(&u, a.data() + i, 4);
            m_bits[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
        }
    }
    std::int64_t rows() const override { return m_rows; }
    std::int64_t cols() const override { return m_cols; }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override {
        decodeStored(DType::BF16, reinterpret_cast<const std::byte*>(m_bits.data() + r0 * m_cols), (r1 - r0) * m_cols, dst);
    }
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override {
        decodeStored(DType::BF16, reinterpret_cast<const std::byte*>(m_bits.data() + r0 * m_cols), (r1 - r0) * m_cols, dst);
    }

private:
    std::int64_t m_rows, m_cols;
    std::vector<std::uint16_t> m_bits;
};

RowMatrixF llmLike(std::int64_t rows, std::int64_t cols) {
    std::mt19937_64 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    RowMatrixF a(rows, cols);
    for (std::int64_t i = 0; i < a.size(); ++i) a.data()[i] = 0.02f * normal(rng);
    constexpr int kStructured = 64;
    RowMatrixF b(rows, kStructured), c(kStructured, cols);
    for (std::int64_t i = 0; i < b.size(); ++i) b.data()[i] = normal(rng);
    for (std::int64_t i = 0; i < c.size(); ++i) c.data()[i] = normal(rng);
    for (int j = 0; j < kStructured; ++j) b.col(j) *= 0.08f / std::pow(static_cast<float>(j + 1), 0.8f) / std::sqrt(static_cast<float>(cols));
    a.noalias() += b * c;
    std::uniform_int_distribution<std::int64_t> pick(0, a.size() - 1);
    for (int i = 0; i < 8; ++i) a.data()[pick(rng)] = (i % 2 ? -1.0f : 1.0f) * (1.0f + static_cast<float>(i));
    return a;
}

struct Phase {
    double seconds = 0, cpu = 0, peakMiB = 0, residual = 0;
    LaserReport report;
};

Phase runPhase(const WeightMatrix& w, double rho, LaserMethod method, ThreadPool& pool) {
    resetPeakRss();
    const double rssBefore = statusMiB("VmRSS");
    LaserOptions o;
    o.method = method;
    o.pool = &pool;
    Phase p;
    const double t0 = now(), c0 = cpuSeconds();
    WeightPtr out = rankReduce(w, rho, o, &p.report);
    p.seconds = now() - t0;
    p.cpu = cpuSeconds() - c0;
    p.peakMiB = statusMiB("VmHWM") - rssBefore;
    p.residual = p.report.residualNorm;
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t rows = 4096, cols = 11008;
    double rho = 0.01;
    int threads = 0;
    bool bf16 = false, skipFull = false, gram = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--rows") rows = std::stoll(next());
        else if (a == "--cols") cols = std::stoll(next());
        else if (a == "--rho") rho = std::stod(next());
        else if (a == "--threads") threads = std::stoi(next());
        else if (a == "--dtype") bf16 = next() == "bf16";
        else if (a == "--skip-full") skipFull = true;
        else if (a == "--gram") gram = true;
        else {
            std::fprintf(stderr, "usage: bench_laser [--rows R] [--cols C] [--rho RHO] [--threads N] [--dtype f32|bf16] [--skip-full] [--gram]\n");
            return 2;
        }
    }
    ThreadPool pool(threads);
    std::printf("matrix %lld x %lld (%s), rho %.3g -> k = %lld, %d thread(s)\n", static_cast<long long>(rows), static_cast<long long>(cols),
                bf16 ? "bf16" : "f32", rho, static_cast<long long>(laserRank(rows, cols, rho)), pool.size());
    const double t0 = now();
    RowMatrixF a = llmLike(rows, cols);
    std::unique_ptr<WeightMatrix> w;
    if (bf16) {
        w = std::make_unique<Bf16Weight>(a);
        a.resize(0, 0);
    } else {
        w = std::make_unique<DenseWeight>(std::move(a));
    }
    std::printf("generated in %.1f s; input resident: %.0f MiB\n", now() - t0, statusMiB("VmRSS"));

    const Phase fast = runPhase(*w, rho, LaserMethod::Auto, pool);
    std::printf("%-28s %8.2f s wall %8.2f s cpu  peak +%6.0f MiB  ||A-A_k||_F = %.6g  (||A||_F = %.6g)\n",
                (std::string("rank reduce (") + laserMethodName(fast.report.method) + ")").c_str(), fast.seconds, fast.cpu, fast.peakMiB,
                fast.residual, fast.report.frobeniusNorm);
    if (gram) {
        const Phase g = runPhase(*w, rho, LaserMethod::Gram, pool);
        std::printf("%-28s %8.2f s wall %8.2f s cpu  peak +%6.0f MiB  ||A-A_k||_F = %.6g  (error / gram optimum %.6f)\n", "rank reduce (gram)",
                    g.seconds, g.cpu, g.peakMiB, g.residual, fast.residual / g.residual);
    }
    if (!skipFull) {
        // The baseline gets the same cores: LAPACK's BLAS may use the pool's
        // thread count (core keeps OpenBLAS single-threaded because its own
        // pool does the parallel work; nothing else runs during this phase).
        blas::setLibraryThreads(pool.size());
        const Phase full = runPhase(*w, rho, LaserMethod::Exact, pool);
        std::printf("%-28s %8.2f s wall %8.2f s cpu  peak +%6.0f MiB  ||A-A_k||_F = %.6g (optimal)\n", "full SVD (dgesdd f64)", full.seconds,
                    full.cpu, full.peakMiB, full.residual);
        std::printf("ratio full / %s: %.1fx wall, %.1fx cpu; error / optimal: %.6f\n", laserMethodName(fast.report.method),
                    full.seconds / fast.seconds, full.cpu / fast.cpu, fast.residual / full.residual);
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("process peak RSS %.0f MiB\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
    return 0;
}
