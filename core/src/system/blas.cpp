#include "superlens/core/system/blas.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "superlens/core/result.h"

namespace superlens::core::blas {
namespace {

// CBLAS enums (cblas.h): row-major 101, no-transpose 111, transpose 112.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using DgemmFn = void (*)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*, int);
using SetThreadsFn = void (*)(int);
using CharFn = char* (*)();
// gfortran passes each CHARACTER argument's length as a trailing size_t.
using DgesddFn = void (*)(const char*, const int*, const int*, double*, const int*, double*, double*, const int*, double*, const int*,
                          double*, const int*, int*, int*, std::size_t);
using DsyevdFn = void (*)(const char*, const char*, const int*, double*, const int*, double*, double*, const int*, int*, const int*, int*,
                          std::size_t, std::size_t);

struct Library {
    SgemmFn sgemm = nullptr;
    DgemmFn dgemm = nullptr;
    DgesddFn dgesdd = nullptr;
    DsyevdFn dsyevd = nullptr;
    SetThreadsFn setThreads = nullptr;
    BlasInfo info;
};

std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

[[noreturn]] void fatal(const std::string& message) {
    std::fprintf(stderr, "superlens: %s\n", message.c_str());
    std::exit(1);
}

template <class F>
F symbol(void* handle, const char* name, const std::string& file) {
    void* p = dlsym(handle, name);
    if (p == nullptr) fatal(file + ": has no symbol " + name + " (SuperLens needs OpenBLAS with LAPACK: Debian's libopenblas0)");
    return reinterpret_cast<F>(p);
}

Library load() {
    Library lib;
    const CpuFeatures& cpu = cpuFeatures();
    std::string requested, selection;
    const char* forced = std::getenv("SUPERLENS_BLAS_CORE");
    const char* user = std::getenv("OPENBLAS_CORETYPE");
    if (forced != nullptr && *forced != '\0') {
        requested = upper(forced);
        if (!canRunCore(cpu, requested))
            fatal("SUPERLENS_BLAS_CORE=" + std::string(forced) + ": this CPU cannot run those kernels (or the name is not one of PRESCOTT, "
                  "HASWELL, ZEN, SKYLAKEX, COOPERLAKE)");
        selection = "SUPERLENS_BLAS_CORE from the environment";
    } else if (user != nullptr && *user != '\0') {
        requested = user;
        selection = "OPENBLAS_CORETYPE from the environment";
    } else {
        std::string why;
        requested = chooseOpenBlasCore(cpu, &why);
        selection = "CPUID: " + why;
    }
    // OpenBLAS reads OPENBLAS_CORETYPE while it is loaded; the variable is
    // put back as it was afterwards, so child processes see the user's own.
    const std::string previous = user ? user : "";
    if (!requested.empty()) setenv("OPENBLAS_CORETYPE", requested.c_str(), 1);
    const char* names[] = {"libopenblas.so.0", "libopenblas.so"};
    void* handle = nullptr;
    std::string file, errors;
    for (const char* name : names) {
        handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (handle != nullptr) {
            file = name;
            break;
        }
        const char* e = dlerror();
        errors += (errors.empty() ? "" : "; ") + std::string(e ? e : name);
    }
    if (user != nullptr) setenv("OPENBLAS_CORETYPE", previous.c_str(), 1);
    else unsetenv("OPENBLAS_CORETYPE");
    if (handle == nullptr) fatal("cannot load OpenBLAS (" + errors + "); install Debian's libopenblas0");

    lib.sgemm = symbol<SgemmFn>(handle, "cblas_sgemm", file);
    lib.dgemm = symbol<DgemmFn>(handle, "cblas_dgemm", file);
    lib.dgesdd = symbol<DgesddFn>(handle, "dgesdd_", file);
    lib.dsyevd = symbol<DsyevdFn>(handle, "dsyevd_", file);
    lib.setThreads = symbol<SetThreadsFn>(handle, "openblas_set_num_threads", file);
    lib.setThreads(1);
    lib.info.library = file;
    lib.info.core = symbol<CharFn>(handle, "openblas_get_corename", file)();
    lib.info.config = symbol<CharFn>(handle, "openblas_get_config", file)();
    while (!lib.info.config.empty() && lib.info.config.back() == ' ') lib.info.config.pop_back();
    lib.info.requested = requested;
    lib.info.selection = selection;
    return lib;
}

const Library& library() {
    static const Library s_library = load();
    return s_library;
}

int asInt(std::int64_t v) {
    SL_ASSERT(v >= 0 && v <= INT_MAX);
    return static_cast<int>(v);
}

}  // namespace

std::string chooseOpenBlasCore(const CpuFeatures& cpu, std::string* why) {
    auto say = [&](const char* s) {
        if (why) *why = s;
    };
    if (cpu.avx512Common() && cpu.avx512bf16) {
        say("AVX-512 (F/DQ/BW/VL) with BF16 -> COOPERLAKE kernels");
        return "COOPERLAKE";
    }
    if (cpu.avx512Common()) {
        say("AVX-512 (F/DQ/BW/VL) -> SKYLAKEX kernels");
        return "SKYLAKEX";
    }
    if (cpu.isIntel() && cpu.avx2 && cpu.fma) {
        say("Intel with AVX2 and FMA -> HASWELL kernels");
        return "HASWELL";
    }
    say("no AVX-512, not an Intel AVX2 CPU -> OpenBLAS's own detection");
    return "";
}

bool canRunCore(const CpuFeatures& cpu, const std::string& core) {
    const std::string c = upper(core);
    if (c == "PRESCOTT") return true;
    if (c == "HASWELL" || c == "ZEN") return cpu.avx2 && cpu.fma;
    if (c == "SKYLAKEX") return cpu.avx512Common() && cpu.fma;
    if (c == "COOPERLAKE") return cpu.avx512Common() && cpu.avx512bf16 && cpu.fma;
    return false;
}

const BlasInfo& info() { return library().info; }

void setLibraryThreads(int threads) { library().setThreads(std::max(1, threads)); }

void sgemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
           const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    library().sgemm(kRowMajor, transA ? kTrans : kNoTrans, transB ? kTrans : kNoTrans, asInt(m), asInt(n), asInt(k), alpha, a, asInt(lda), b,
                    asInt(ldb), beta, c, asInt(ldc));
}

void dgemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a, std::int64_t lda,
           const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) {
    library().dgemm(kRowMajor, transA ? kTrans : kNoTrans, transB ? kTrans : kNoTrans, asInt(m), asInt(n), asInt(k), alpha, a, asInt(lda), b,
                    asInt(ldb), beta, c, asInt(ldc));
}

void dgesdd(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u, const int* ldu, double* vt,
            const int* ldvt, double* work, const int* lwork, int* iwork, int* info) {
    library().dgesdd(jobz, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork, iwork, info, 1);
}

void dsyevd(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work, const int* lwork,
            int* iwork, const int* liwork, int* info) {
    library().dsyevd(jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork, info, 1, 1);
}

}  // namespace superlens::core::blas
