// bench_machine: what this machine can do, measured, as the baseline the
// engine benchmarks are judged against (issue 22).
//   - fp32 GEMM GFLOP/s of every OpenBLAS core type the CPU can run (each in
//     a child process started with SUPERLENS_BLAS_CORE, since OpenBLAS fixes
//     its kernels at load), on the TinyLlama-1.1B prompt shapes (M = T
//     tokens), 1 thread and split over the engine's pool like the engine
//     does; the automatic choice is marked, and the best rate is "the best
//     GEMM on the machine";
//   - the engine's Linear on bf16 weights over the same shapes, all threads,
//     through the path core/system/gemm_path.h chose (AMX with activations
//     split in three bf16 parts, or decoded tiles + OpenBLAS): exact to fp32
//     accumulation like the sgemm, so it counts as a GEMM of the machine;
//   - memory read bandwidth (a STREAM-like sum over a 1 GiB array, 1 and all
//     threads): the ceiling for single-token decode, which streams weights.
//
//   bench_machine [--tokens T] [--seconds S] [--json]

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <immintrin.h>
#include <nlohmann/json.hpp>

#include "bench_common.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/system/blas.h"
#include "superlens/core/system/cpu_features.h"
#include "superlens/core/system/gemm_path.h"
#include "superlens/core/system/system_report.h"

using namespace superlens;
using namespace superlens::core;

namespace {

struct Shape {
    const char* name;
    std::int64_t n, k;
};
// TinyLlama-1.1B: d = 2048, f = 5632, 32 heads x 64, 4 KV heads.
const Shape kShapes[] = {{"q/o 2048x2048", 2048, 2048}, {"k/v 256x2048", 256, 2048}, {"gate/up 5632x2048", 5632, 2048}, {"down 2048x5632", 2048, 5632}};

// GFLOP/s over the shapes, each measured for the same time (so the mean is
// total FLOP over total time), Y[T, n] = X[T, k] W[n, k]^T, W's rows split
// over the pool's workers when pool != nullptr (core's measurement, as
// `info --system` runs it).
double gemmRate(std::int64_t T, ThreadPool* pool, double seconds) {
    double sum = 0;
    for (const Shape& s : kShapes) sum += measureSgemmGflops(T, s.n, s.k, pool, seconds / std::size(kShapes));
    return sum / static_cast<double>(std::size(kShapes));
}

// The same mean for kernels::linear on bf16 weights (the engine's path), all threads.
double bf16LinearRate(std::int64_t T, ThreadPool& pool, double seconds) {
    double sum = 0;
    for (const Shape& s : kShapes) sum += measureBf16LinearGflops(T, s.n, s.k, pool, seconds / std::size(kShapes));
    return sum / static_cast<double>(std::size(kShapes));
}

// GB/s reading `bytes` of floats (sum with AVX2, 4 accumulators), best of `reps`.
double readBandwidth(std::size_t bytes, ThreadPool* pool, int reps) {
    const std::int64_t n = static_cast<std::int64_t>(bytes / sizeof(float));
    std::vector<float> storage(static_cast<std::size_t>(n));
    float* a = storage.data();
    // Touch with the pool's split so pages land where the readers run.
    auto fill = [&](std::int64_t b, std::int64_t e, int) {
        for (float* p = a + b; p < a + e; ++p) *p = static_cast<float>((p - a) & 7);
    };
    if (pool) pool->parallelFor(n, 1 << 16, fill);
    else fill(0, n, 0);
    std::vector<double> sums(64, 0.0);
    auto sum = [&](std::int64_t b, std::int64_t e, int worker) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        const float* p = a + b;
        for (; p + 32 <= a + e; p += 32) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + 24));
        }
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        double t = 0;
        for (float v : lanes) t += v;
        for (; p < a + e; ++p) t += *p;
        sums[static_cast<std::size_t>(worker) % sums.size()] += t;
    };
    double best = 0;
    for (int r = 0; r < reps; ++r) {
        const double t0 = bench::now();
        if (pool) pool->parallelFor(n, 1 << 16, sum);
        else sum(0, n, 0);
        best = std::max(best, static_cast<double>(bytes) / (bench::now() - t0) / 1e9);
    }
    double check = 0;
    for (double s : sums) check += s;
    if (check < 0) std::printf("impossible\n");  // keeps the sums alive
    return best;
}

// One core type, in this process: {"core", "gflops_1", "gflops_all"}.
nlohmann::json measureThisProcess(std::int64_t T, double seconds) {
    ThreadPool& pool = defaultThreadPool();
    return {{"core", blas::info().core},
            {"requested", blas::info().requested},
            {"selection", blas::info().selection},
            {"gflops_1_thread", gemmRate(T, nullptr, seconds)},
            {"gflops_all_threads", gemmRate(T, &pool, seconds)},
            {"threads", pool.size()}};
}

std::string selfPath() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("bench_machine");
}

nlohmann::json runChild(const std::string& core, std::int64_t T, double seconds) {
    std::string cmd = (core.empty() ? std::string() : "SUPERLENS_BLAS_CORE=" + core + " ") + "'" + selfPath() + "' --child --tokens " +
                      std::to_string(T) + " --seconds " + std::to_string(seconds);
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return nullptr;
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    if (pclose(p) != 0) return nullptr;
    return nlohmann::json::parse(out, nullptr, false);
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t T = 128;
    double seconds = 2.0;
    bool json = false, child = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tokens" && i + 1 < argc) T = std::stoll(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
        else if (a == "--json") json = true;
        else if (a == "--child") child = true;
        else {
            std::cerr << "usage: bench_machine [--tokens T] [--seconds S] [--json]\n";
            return 2;
        }
    }
    if (child) {
        std::cout << measureThisProcess(T, seconds).dump() << "\n";
        return 0;
    }
    const CpuFeatures& cpu = cpuFeatures();
    nlohmann::json cores = nlohmann::json::array();
    double best = 0;
    std::string bestCore;
    for (const char* core : {"PRESCOTT", "HASWELL", "SKYLAKEX", "COOPERLAKE"}) {
        if (!blas::canRunCore(cpu, core)) continue;
        nlohmann::json r = runChild(core, T, seconds);
        if (r.is_discarded() || r.is_null()) continue;
        const double rate = std::max(r["gflops_1_thread"].get<double>(), r["gflops_all_threads"].get<double>());
        if (rate > best) best = rate, bestCore = r["core"].get<std::string>();
        cores.push_back(r);
    }
    nlohmann::json automatic = runChild("", T, seconds);
    ThreadPool& pool = defaultThreadPool();
    const double bf16Linear = bf16LinearRate(T, pool, seconds);
    const std::size_t bytes = std::size_t{1} << 30;
    const double bw1 = readBandwidth(bytes, nullptr, 5), bwAll = readBandwidth(bytes, &pool, 5);
    nlohmann::json j = {{"cpu", cpu.brand},
                        {"features", cpu.names()},
                        {"tokens", T},
                        {"cores", cores},
                        {"automatic", automatic},
                        {"best_gemm_gflops", best},
                        {"best_gemm_core", bestCore},
                        {"bf16_linear_gflops", bf16Linear},
                        {"gemm_path", gemm::path().name},
                        {"read_gb_s_1_thread", bw1},
                        {"read_gb_s_all_threads", bwAll},
                        {"threads", pool.size()}};
    if (json) {
        std::cout << j.dump() << "\n";
        return 0;
    }
    std::printf("CPU        %s\nfeatures   %s\n", cpu.brand.c_str(), [&] {
        std::string s;
        for (const auto& f : cpu.names()) s += f + " ";
        return s;
    }().c_str());
    std::printf("fp32 GEMM, TinyLlama prompt shapes, T=%lld (GFLOP/s):\n", static_cast<long long>(T));
    std::printf("  %-12s %10s %10s\n", "kernels", "1 thread", "all");
    for (const auto& r : cores)
        std::printf("  %-12s %10.1f %10.1f\n", r["core"].get<std::string>().c_str(), r["gflops_1_thread"].get<double>(),
                    r["gflops_all_threads"].get<double>());
    if (!automatic.is_null() && !automatic.is_discarded())
        std::printf("  automatic: %s (%s): %.1f / %.1f = %.0f%% of the best (%s)\n", automatic["core"].get<std::string>().c_str(),
                    automatic["selection"].get<std::string>().c_str(), automatic["gflops_1_thread"].get<double>(),
                    automatic["gflops_all_threads"].get<double>(),
                    100 * std::max(automatic["gflops_1_thread"].get<double>(), automatic["gflops_all_threads"].get<double>()) / best,
                    bestCore.c_str());
    std::printf("bf16 Linear (engine path: %s), all threads: %.1f GFLOP/s\n", gemm::path().name.c_str(), bf16Linear);
    std::printf("memory read %.1f GB/s on 1 thread, %.1f GB/s on %d\n", bw1, bwAll, pool.size());
    return 0;
}
