#pragma once
// Why is this machine fast or slow? The CPU's features, the BLAS kernels
// chosen for it (and why), the engine's threads, and a short measured GEMM
// rate. One home for the report that `superlens-cli info --system` prints and
// the GUI's Help -> About shows.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "superlens/core/system/blas.h"
#include "superlens/core/system/cpu_features.h"
#include "superlens/core/system/gemm_path.h"

namespace superlens::core {

struct SystemReport {
    CpuFeatures cpu;
    blas::BlasInfo blas;
    gemm::GemmPath gemmPath;  // the kernels of prompt-sized Linear layers (SUPERLENS_GEMM)
    gemm::GemvPath gemvPath;  // the single-token GEMV of decode (SUPERLENS_GEMV)
    int engineThreads = 0;  // workers of the engine's pool (all logical CPUs)
    // fp32 GEMM of a prompt-sized product (M = 128 tokens, N = K = 2048),
    // measured the way the engine runs it: one thread, and split over the
    // pool's workers with single-threaded BLAS in each.
    std::int64_t gemmM = 128, gemmN = 2048, gemmK = 2048;
    double gflopsOneThread = 0;
    double gflopsAllThreads = 0;
    // The same product through the engine's Linear on f32 and on bf16
    // weights, all workers: the kernels gemmPath chose for each
    // (gemm::kernelFor: AMX, the AVX-512 kernel or OpenBLAS).
    double gflopsF32Linear = 0;
    double gflopsBf16Linear = 0;
    double secondsMeasured = 0;

    // "label: value" rows in display order (CPU, features, BLAS, kernels, why, GEMM path, GEMV, threads, GEMM rates).
    std::vector<std::pair<std::string, std::string>> rows() const;
};

class ThreadPool;

// GFLOP/s of C[m, n] = A[m, k] * B[n, k]^T (the engine's Linear) on random
// data, repeated for about `seconds` after one warm-up; with a pool, B's rows
// are split over its workers, each calling single-threaded BLAS, as the
// engine runs it.
double measureSgemmGflops(std::int64_t m, std::int64_t n, std::int64_t k, ThreadPool* pool, double seconds);

// GFLOP/s of the engine's Linear (kernels::linear<float>) for m tokens
// through a weight [n, k] stored as `dtype` (random data, as a checkpoint's
// tensor is read: in place), on the pool, for about `seconds`.
double measureLinearGflops(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype, ThreadPool& pool, double seconds);

// GB/s of the engine's single-token Linear (the decode GEMV, gemv.h) over a
// weight [rows, cols] stored as `dtype` at `weights` (the caller's memory, so
// it can choose the pages), on the pool: the bytes of the weight over the
// best time of `reps` calls after one warm-up.
double measureGemvGbps(DType dtype, std::int64_t rows, std::int64_t cols, const std::byte* weights, ThreadPool& pool, int reps);

// Reads the CPU and the BLAS choice and measures the GEMM rate for about
// `seconds` (0 skips the measurement).
SystemReport systemReport(double seconds = 0.4);

}  // namespace superlens::core
