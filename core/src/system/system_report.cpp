#include "superlens/core/system/system_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "../engine/kernels.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"

namespace superlens::core {

using Clock = std::chrono::steady_clock;

double measureSgemmGflops(std::int64_t m, std::int64_t n, std::int64_t k, ThreadPool* pool, double seconds) {
    std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(n * k)), c(static_cast<std::size_t>(m * n));
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& v : a) v = u(rng);
    for (float& v : b) v = u(rng);
    auto once = [&] {
        if (pool == nullptr) {
            blas::sgemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
            return;
        }
        pool->parallelFor(n, 64, [&](std::int64_t r0, std::int64_t r1, int) {
            blas::sgemm(false, true, m, r1 - r0, k, 1.0f, a.data(), k, b.data() + r0 * k, k, 0.0f, c.data() + r0, n);
        });
    };
    once();  // warm-up: page in, let the library size its buffers
    int reps = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    do {
        once();
        ++reps;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (elapsed < seconds);
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * reps / elapsed / 1e9;
}

namespace {

// A [rows, cols] weight of `dtype` at `data`, named `name` (which must outlive the view).
TensorView viewOver(const std::string& name, DType dtype, std::int64_t rows, std::int64_t cols, const std::byte* data) {
    TensorView view;
    view.name = &name;
    view.dtype = dtype;
    view.shape = {rows, cols};
    view.data = data;
    return view;
}

}  // namespace

double measureLinearGflops(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype, ThreadPool& pool, double seconds) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    kernels::Mat<float> x(m, k), y;
    for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
    std::vector<std::byte> bytes(static_cast<std::size_t>(n * k) * dtypeSize(dtype));
    for (std::size_t i = 0; i < static_cast<std::size_t>(n * k); ++i) {
        const float v = u(rng);
        if (dtype == DType::F32) std::memcpy(bytes.data() + 4 * i, &v, 4);
        else {
            const std::uint16_t h = dtype == DType::BF16 ? floatToBf16(v) : floatToF16(v);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
    }
    const std::string name = "measure.weight";
    const StoredWeight w(viewOver(name, dtype, n, k, bytes.data()));
    kernels::linear<float>(w, x, y, pool);  // warm-up
    int reps = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    do {
        kernels::linear<float>(w, x, y, pool);
        ++reps;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (elapsed < seconds);
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * reps / elapsed / 1e9;
}

double measureGemvGbps(DType dtype, std::int64_t rows, std::int64_t cols, const std::byte* weights, ThreadPool& pool, int reps) {
    std::mt19937 rng(13);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    kernels::Mat<float> x(1, cols), y;
    for (std::int64_t i = 0; i < cols; ++i) x.data()[i] = u(rng);
    const std::string name = "measure.gemv";
    const StoredWeight w(viewOver(name, dtype, rows, cols, weights));
    kernels::linear<float>(w, x, y, pool);  // warm-up
    double best = 1e300;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        kernels::linear<float>(w, x, y, pool);
        best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(dtypeSize(dtype)) / best / 1e9;
}

namespace {

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
}

std::string fixed1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SystemReport::rows() const {
    std::vector<std::pair<std::string, std::string>> out = {
        {"CPU", (cpu.brand.empty() ? cpu.vendor : cpu.brand) + " (family " + std::to_string(cpu.family) + ", model " + std::to_string(cpu.model) +
                    ", " + std::to_string(cpu.logicalCpus) + " logical CPUs)"},
        {"features", joined(cpu.names())},
        {"BLAS", blas.config.empty() ? blas.library : blas.config},
        {"BLAS kernels", blas.core + (blas.requested.empty() ? " (OpenBLAS's own detection)" : " (OPENBLAS_CORETYPE=" + blas.requested + ")")},
        {"chosen by", blas.selection},
        {"GEMM path", gemmPath.name},
        {"GEMM chosen by", gemmPath.selection},
        {"GEMV", gemvPath.name},
        {"GEMV chosen by", gemvPath.selection},
        {"engine threads", std::to_string(engineThreads) + " (BLAS single-threaded inside each)"},
    };
    if (secondsMeasured > 0) {
        const std::string shape = std::to_string(gemmM) + "x" + std::to_string(gemmN) + "x" + std::to_string(gemmK);
        out.emplace_back("fp32 GEMM " + shape, fixed1(gflopsOneThread) + " GFLOP/s on 1 thread, " + fixed1(gflopsAllThreads) + " GFLOP/s on " +
                                                   std::to_string(engineThreads));
        out.emplace_back("f32 Linear " + shape, fixed1(gflopsF32Linear) + " GFLOP/s on " + std::to_string(engineThreads) + " (" +
                                                    gemm::kernelFor(DType::F32, gemmM, gemm::WeightRead::InPlace) + ")");
        out.emplace_back("bf16 Linear " + shape, fixed1(gflopsBf16Linear) + " GFLOP/s on " + std::to_string(engineThreads) + " (" +
                                                     gemm::kernelFor(DType::BF16, gemmM, gemm::WeightRead::InPlace) + ")");
    }
    return out;
}

SystemReport systemReport(double seconds) {
    SystemReport r;
    r.cpu = cpuFeatures();
    r.blas = blas::info();
    r.gemmPath = gemm::path();
    r.gemvPath = gemm::gemvPath();
    ThreadPool& pool = defaultThreadPool();
    r.engineThreads = pool.size();
    if (seconds > 0) {
        const auto t0 = Clock::now();
        r.gflopsOneThread = measureSgemmGflops(r.gemmM, r.gemmN, r.gemmK, nullptr, seconds / 4);
        r.gflopsAllThreads = measureSgemmGflops(r.gemmM, r.gemmN, r.gemmK, &pool, seconds / 4);
        r.gflopsF32Linear = measureLinearGflops(r.gemmM, r.gemmN, r.gemmK, DType::F32, pool, seconds / 4);
        r.gflopsBf16Linear = measureLinearGflops(r.gemmM, r.gemmN, r.gemmK, DType::BF16, pool, seconds / 4);
        r.secondsMeasured = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return r;
}

}  // namespace superlens::core
