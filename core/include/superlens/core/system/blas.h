#pragma once
// BLAS and LAPACK for the whole process, loaded at run time so that the
// kernels fit the CPU.
//
// Debian's OpenBLAS picks its kernels from a table of CPU model numbers; on a
// CPU newer than the table (e.g. Sapphire/Emerald Rapids with 0.3.21) it falls
// back to generic SSE3 "Prescott" kernels, 4x slower than its AVX-512 ones.
// OpenBLAS reads its choice (OPENBLAS_CORETYPE) once, when the library is
// initialised, so SuperLens does not link it: the first call here reads
// CPUID, sets OPENBLAS_CORETYPE from the CPU's *features* (see
// chooseOpenBlasCore), then dlopen()s libopenblas.so.0. Precedence:
//   1. SUPERLENS_BLAS_CORE=NAME (tests and benchmarks; refused with one clear
//      error when the CPU lacks the instructions NAME needs),
//   2. OPENBLAS_CORETYPE already in the environment (the user's choice),
//   3. the CPUID choice.
// The library runs single-threaded: SuperLens parallelises across its own
// pool, and two pools on the same cores halve throughput.
//
// Thread-safe. A missing libopenblas.so.0 ends the process with one line on
// stderr, as the dynamic linker would have at start-up.

#include <cstdint>
#include <string>

#include "superlens/core/system/cpu_features.h"

namespace superlens::core::blas {

// Row-major C[m, n] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
void sgemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
           const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);
void dgemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a, std::int64_t lda,
           const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc);

// LAPACK's Fortran routines, same arguments (column-major), info as returned.
void dgesdd(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u, const int* ldu, double* vt,
            const int* ldvt, double* work, const int* lwork, int* iwork, int* info);
void dsyevd(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work, const int* lwork,
            int* iwork, const int* liwork, int* info);

// The library's own thread count. SuperLens keeps it at 1 (set at load);
// benchmarks raise it to give a baseline the same cores, then set it back.
void setLibraryThreads(int threads);

struct BlasInfo {
    std::string library;    // the file loaded, e.g. "libopenblas.so.0"
    std::string core;       // the kernels it runs (openblas_get_corename), e.g. "Cooperlake"
    std::string config;     // openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ..."
    std::string requested;  // the OPENBLAS_CORETYPE it was started with ("" = its own detection)
    std::string selection;  // why, in words: "CPUID: AVX-512 (F/DQ/BW/VL) with BF16", ...
};

// The loaded library (loads it on first use).
const BlasInfo& info();

// The OpenBLAS core type SuperLens asks for on a CPU with these features, or
// "" to leave OpenBLAS's own detection (which knows AMD's and older CPUs):
//   AVX-512 F/DQ/BW/VL + BF16 -> "COOPERLAKE"; AVX-512 F/DQ/BW/VL -> "SKYLAKEX";
//   Intel with AVX2 + FMA -> "HASWELL". `why` receives the reason in words.
std::string chooseOpenBlasCore(const CpuFeatures& cpu, std::string* why = nullptr);

// Whether a CPU with these features can run OpenBLAS's kernels `core`
// (case-insensitive: PRESCOTT, HASWELL, ZEN, SKYLAKEX, COOPERLAKE; unknown
// names: false).
bool canRunCore(const CpuFeatures& cpu, const std::string& core);

}  // namespace superlens::core::blas
