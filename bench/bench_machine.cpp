// bench_machine: what this machine can do, measured, as the baseline the
// engine benchmarks are judged against (issue 22).
//   - fp32 GEMM GFLOP/s of every OpenBLAS core type the CPU can run (each in
//     a child process started with SUPERLENS_BLAS_CORE, since OpenBLAS fixes
//     its kernels at load), on the TinyLlama-1.1B prompt shapes (M = T
//     tokens), 1 thread and split over the engine's pool like the engine
//     does; the automatic choice is marked, and the best rate is "the best
//     GEMM on the machine";
//   - the engine's Linear on f32 and on bf16 weights over the same shapes,
//     all threads, through the kernels core/system/gemm_path.h chose (the
//     AVX-512 kernel, AMX with activations split in three bf16 parts, or
//     OpenBLAS): exact to fp32 accumulation like the sgemm, so the f32 rate
//     counts as a GEMM of the machine ("best GEMM" is the best of all);
//   - memory read bandwidth (STREAM-like sums over a 1 GiB array, 1 and all
//     threads, the best of AVX2/AVX-512 loads with and without prefetch, 4 KiB
//     and huge pages): the ceiling for single-token decode, which streams weights;
//   - the engine's decode GEMV over 1 GiB of bf16 and f32 weights in each page
//     size, all threads: its share of that ceiling.
//
//   bench_machine [--tokens T] [--seconds S] [--json]
//   bench_machine --memory-only [--json]   (the read bandwidth and GEMV alone, about 10 s:
//                                           bench/same_run.sh measures it in every round)

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_common.h"
#include "memory_read.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/system/blas.h"
#include "superlens/core/system/cpu_features.h"
#include "superlens/core/system/gemm_path.h"
#include "superlens/core/system/system_report.h"

using namespace superlens;
using namespace superlens::core;
using namespace superlens::bench;

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

// The same mean for kernels::linear on weights stored as `dtype` (the engine's path), all threads.
double linearRate(std::int64_t T, DType dtype, ThreadPool& pool, double seconds) {
    double sum = 0;
    for (const Shape& s : kShapes) sum += measureLinearGflops(T, s.n, s.k, dtype, pool, seconds / std::size(kShapes));
    return sum / static_cast<double>(std::size(kShapes));
}

// The read bandwidth is the ceiling of single-token decode, which streams the
// weights once per token. The machine's figure is the best over several
// read kernels and page sizes (a kernel or page size the hardware handles
// worse would understate what memory can deliver, and so flatter the decode
// ratio): bench/memory_read.h's AVX2 and AVX-512 sums, each also with
// software prefetch 2 KiB ahead, over a 1 GiB buffer (beyond any L3 here) in
// 4 KiB pages and in transparent huge pages, on 1 thread and on every worker
// of the pool, best of `reps` passes each.
// Every (kernel, pages) pair on 1 thread and on the pool: {"kernel", "pages", "gb_s_1", "gb_s_all"}.
nlohmann::json readBandwidths(ThreadPool& pool, int reps) {
    struct Named {
        const char* name;
        ReadKernel kernel;
        bool avx512;
    };
    const Named kernels[] = {{"avx2", sumAvx2<0>, false},
                             {"avx2+prefetch", sumAvx2<2048>, false},
                             {"avx512", sumAvx512<0>, true},
                             {"avx512+prefetch", sumAvx512<2048>, true}};
    const bool has512 = cpuFeatures().avx512f;
    nlohmann::json out = nlohmann::json::array();
    for (const bool huge : {false, true}) {
        const ReadBuffer buf(std::size_t{1} << 30, huge, &pool);
        if (!buf.data) continue;
        for (const Named& k : kernels) {
            if (k.avx512 && !has512) continue;
            out.push_back({{"kernel", k.name},
                           {"pages", huge ? "2M (THP)" : "4K"},
                           {"gb_s_1_thread", readRate(buf, k.kernel, nullptr, reps)},
                           {"gb_s_all_threads", readRate(buf, k.kernel, &pool, reps)}});
        }
    }
    return out;
}

// The engine's own decode GEMV (kernels::linear for one token, as decode runs
// it) over 1 GiB of bf16 and of f32 weights with TinyLlama's 2048 columns,
// in each page size, on the pool, `reps` times, each between two reads of the
// same buffer (bench::BetweenReads): {"dtype", "pages", "gb_s" (the best
// pass), "share_of_reads_around" (the median over the passes whose reads
// agree), "kept", "passes", "each" (every pass and its two reads)}. This is
// the kernel's share of what memory delivers at that moment, free of a
// token's other work (attention, norms, the pool's hand-offs).
nlohmann::json gemvBandwidths(ThreadPool& pool, int reps) {
    constexpr std::int64_t kCols = 2048;
    nlohmann::json out = nlohmann::json::array();
    for (const bool huge : {false, true}) {
        const ReadBuffer buf(std::size_t{1} << 30, huge, &pool);  // small finite floats, read as bf16 pairs too
        if (!buf.data) continue;
        for (const DType dtype : {DType::BF16, DType::F32}) {
            const std::int64_t rows = static_cast<std::int64_t>(buf.bytes / dtypeSize(dtype)) / kCols;
            std::vector<double> shares;
            nlohmann::json each = nlohmann::json::array();
            double best = 0, before = readNow(buf, pool);
            for (int r = 0; r < reps; ++r) {
                const double gbs = measureGemvGbps(dtype, rows, kCols, reinterpret_cast<const std::byte*>(buf.data), pool, 1);
                const BetweenReads around{before, readNow(buf, pool)};
                if (around.sameMode()) shares.push_back(around.share(gbs));
                each.push_back({{"gb_s", gbs}, {"read_before_gb_s", around.before}, {"read_after_gb_s", around.after}});
                best = std::max(best, gbs);
                before = around.after;
            }
            out.push_back({{"dtype", dtypeName(dtype)},
                           {"pages", huge ? "2M (THP)" : "4K"},
                           {"gb_s", best},
                           {"share_of_reads_around", bench::median(shares)},
                           {"kept", shares.size()},
                           {"passes", reps},
                           {"each", each}});
        }
    }
    return out;
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
    bool json = false, child = false, memoryOnly = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tokens" && i + 1 < argc) T = std::stoll(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
        else if (a == "--json") json = true;
        else if (a == "--child") child = true;
        else if (a == "--memory-only") memoryOnly = true;
        else {
            std::cerr << "usage: bench_machine [--tokens T] [--seconds S] [--memory-only] [--json]\n";
            return 2;
        }
    }
    if (child) {
        std::cout << measureThisProcess(T, seconds).dump() << "\n";
        return 0;
    }
    const CpuFeatures& cpu = cpuFeatures();
    ThreadPool& pool = defaultThreadPool();
    const auto readSummary = [&pool] {
        nlohmann::json reads = readBandwidths(pool, 5), j;
        double bw1 = 0, bwAll = 0;
        std::string bwBest;
        for (const auto& r : reads) {
            bw1 = std::max(bw1, r["gb_s_1_thread"].get<double>());
            if (r["gb_s_all_threads"].get<double>() > bwAll)
                bwAll = r["gb_s_all_threads"].get<double>(), bwBest = r["kernel"].get<std::string>() + ", " + r["pages"].get<std::string>() + " pages";
        }
        return nlohmann::json{{"read_gb_s_1_thread", bw1}, {"read_gb_s_all_threads", bwAll}, {"read_best", bwBest}, {"reads", reads},
                              {"gemv", gemvBandwidths(pool, 5)}, {"threads", pool.size()}};
    };
    const auto printReads = [&pool](const nlohmann::json& m) {
        std::printf("memory read (1 GiB, best of 5 passes; GB/s on 1 thread / on %d):\n", pool.size());
        for (const auto& r : m["reads"])
            std::printf("  %-16s %-9s %6.1f / %6.1f\n", r["kernel"].get<std::string>().c_str(), r["pages"].get<std::string>().c_str(),
                        r["gb_s_1_thread"].get<double>(), r["gb_s_all_threads"].get<double>());
        std::printf("memory read, best: %.1f GB/s on 1 thread, %.1f GB/s on %d (%s)\n", m["read_gb_s_1_thread"].get<double>(),
                    m["read_gb_s_all_threads"].get<double>(), pool.size(), m["read_best"].get<std::string>().c_str());
        std::printf("engine decode GEMV (one token, 1 GiB of weights, 2048 columns, 5 passes each between two reads; GB/s on %d: best pass, "
                    "%% of the best read above, median %% of the reads around a pass whose two reads agree):\n", pool.size());
        for (const auto& g : m["gemv"]) {
            std::printf("  %-6s %-9s %6.1f  %3.0f %%", g["dtype"].get<std::string>().c_str(), g["pages"].get<std::string>().c_str(),
                        g["gb_s"].get<double>(), 100.0 * g["gb_s"].get<double>() / m["read_gb_s_all_threads"].get<double>());
            if (g["kept"].get<int>() > 0) std::printf("  %3.0f %%", 100.0 * g["share_of_reads_around"].get<double>());
            else std::printf("      -");
            std::printf(" (%d of %d passes)\n", g["kept"].get<int>(), g["passes"].get<int>());
        }
    };
    if (memoryOnly) {
        nlohmann::json m = readSummary();
        m["cpu"] = cpu.brand;
        if (json) std::cout << m.dump() << "\n";
        else printReads(m);
        return 0;
    }
    nlohmann::json cores = nlohmann::json::array();
    double best = 0;
    std::string bestCore;
    for (const char* core : {"PRESCOTT", "HASWELL", "ZEN", "SKYLAKEX", "COOPERLAKE"}) {
        if (!blas::canRunCore(cpu, core)) continue;
        nlohmann::json r = runChild(core, T, seconds);
        if (r.is_discarded() || r.is_null()) continue;
        const double rate = std::max(r["gflops_1_thread"].get<double>(), r["gflops_all_threads"].get<double>());
        if (rate > best) best = rate, bestCore = r["core"].get<std::string>();
        cores.push_back(r);
    }
    nlohmann::json automatic = runChild("", T, seconds);
    // The engine's own Linear (the kernels gemm_path.h chose: the AVX-512
    // kernel, AMX or OpenBLAS) on f32 and bf16 weights, all threads. The f32
    // rate counts as a GEMM of the machine too: exact to fp32 accumulation
    // like the sgemm.
    const double f32Linear = linearRate(T, DType::F32, pool, seconds);
    const double bf16Linear = linearRate(T, DType::BF16, pool, seconds);
    const std::string bestOpenBlasCore = bestCore;
    const double bestOpenBlas = best;
    if (f32Linear > best) best = f32Linear, bestCore = "engine f32 Linear (" + gemm::kernelFor(DType::F32, T, gemm::WeightRead::InPlace) + ")";
    const nlohmann::json m = readSummary();
    nlohmann::json j = {{"cpu", cpu.brand},
                        {"features", cpu.names()},
                        {"tokens", T},
                        {"cores", cores},
                        {"automatic", automatic},
                        {"best_gemm_gflops", best},
                        {"best_gemm_core", bestCore},
                        {"best_openblas_gflops", bestOpenBlas},
                        {"best_openblas_core", bestOpenBlasCore},
                        {"f32_linear_gflops", f32Linear},
                        {"f32_linear_kernel", gemm::kernelFor(DType::F32, T, gemm::WeightRead::InPlace)},
                        {"bf16_linear_gflops", bf16Linear},
                        {"bf16_linear_kernel", gemm::kernelFor(DType::BF16, T, gemm::WeightRead::InPlace)},
                        {"gemm_path", gemm::path().name}};
    j.update(m);
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
        std::printf("  automatic: %s (%s): %.1f / %.1f = %.0f%% of the best OpenBLAS kernels (%s)\n", automatic["core"].get<std::string>().c_str(),
                    automatic["selection"].get<std::string>().c_str(), automatic["gflops_1_thread"].get<double>(),
                    automatic["gflops_all_threads"].get<double>(),
                    100 * std::max(automatic["gflops_1_thread"].get<double>(), automatic["gflops_all_threads"].get<double>()) / bestOpenBlas,
                    bestOpenBlasCore.c_str());
    std::printf("engine Linear, all threads (GEMM path: %s):\n  f32 weights  %.1f GFLOP/s (%s)\n  bf16 weights %.1f GFLOP/s (%s)\n",
                gemm::path().name.c_str(), f32Linear, gemm::kernelFor(DType::F32, T, gemm::WeightRead::InPlace).c_str(), bf16Linear, gemm::kernelFor(DType::BF16, T, gemm::WeightRead::InPlace).c_str());
    std::printf("best GEMM on this machine: %.1f GFLOP/s (%s)\n", best, bestCore.c_str());
    printReads(m);
    return 0;
}
