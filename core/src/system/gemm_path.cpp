#include "superlens/core/system/gemm_path.h"

#include <cstdio>
#include <cstdlib>

#include "../engine/gemm_amx.h"
#include "superlens/core/system/cpu_features.h"

namespace superlens::core::gemm {
namespace {

[[noreturn]] void fatal(const std::string& message) {
    std::fprintf(stderr, "superlens: %s\n", message.c_str());
    std::exit(1);
}

GemmPath choose() {
    GemmPath p;
    const char* env = std::getenv("SUPERLENS_GEMM");
    const std::string value = env ? env : "";
    if (value.empty() || value == "auto") p.mode = Mode::Auto;
    else if (value == "amx") p.mode = Mode::Amx;
    else if (value == "blas") p.mode = Mode::Blas;
    else fatal("SUPERLENS_GEMM=" + value + ": not one of auto, amx, blas");
    const char* from = env && *env ? " (SUPERLENS_GEMM=" : " (SUPERLENS_GEMM unset: auto";
    const std::string suffix = env && *env ? std::string(from) + value + ")" : std::string(from) + ")";
    std::string why;
    const bool usable = p.mode != Mode::Blas && amx::tilesEnabled(&why);
    if (p.mode == Mode::Amx && !usable) fatal("SUPERLENS_GEMM=amx: this machine cannot run AMX: " + why);
    p.amx = usable;
    if (p.mode == Mode::Blas) {
        p.name = "OpenBLAS";
        p.selection = "asked for" + suffix;
    } else if (!usable) {
        p.name = "OpenBLAS";
        p.selection = "no AMX: " + why + suffix;
    } else if (p.mode == Mode::Amx) {
        p.name = "AMX-BF16 for bf16, f16 and f32 weights (bf16 parts, fp32 accumulation); OpenBLAS for the rest";
        p.selection = "asked for" + suffix;
    } else {
        p.name = "AMX-BF16 for bf16 weights (activations as 3 bf16 parts, fp32 accumulation); OpenBLAS for the rest";
        p.selection = "CPUID: AMX-BF16 and AVX-512 BF16, tile state granted by the kernel" + suffix;
    }
    return p;
}

}  // namespace

const GemmPath& path() {
    static const GemmPath s_path = choose();
    return s_path;
}

bool amxFor(DType dtype) {
    const GemmPath& p = path();
    if (!p.amx) return false;
    return p.mode == Mode::Amx || dtype == DType::BF16;
}

}  // namespace superlens::core::gemm

namespace superlens::core::gemm {
std::int64_t amxMinRows() { return path().mode == Mode::Amx ? 2 : 16; }
}  // namespace superlens::core::gemm

namespace superlens::core::gemm {
namespace {

GemvPath chooseGemv() {
    GemvPath p;
    const char* env = std::getenv("SUPERLENS_GEMV");
    const std::string value = env ? env : "";
    if (!value.empty() && value != "auto" && value != "avx512" && value != "avx2")
        fatal("SUPERLENS_GEMV=" + value + ": not one of auto, avx512, avx2");
    const CpuFeatures& cpu = cpuFeatures();
    const bool has512 = cpu.avx512f && cpu.avx512bw && cpu.avx512vl;
    if (value == "avx512" && !has512) fatal("SUPERLENS_GEMV=avx512: this CPU (or its OS) has no AVX-512 F/BW/VL");
    const std::string suffix = value.empty() ? " (SUPERLENS_GEMV unset: auto)" : " (SUPERLENS_GEMV=" + value + ")";
    p.isa = value == "avx2" || (value != "avx512" && !has512) ? GemvIsa::Avx2 : GemvIsa::Avx512;
    p.name = std::string(p.isa == GemvIsa::Avx512 ? "AVX-512" : "AVX2") + ", 4 rows per pass, rows 2 passes ahead prefetched to L2";
    if (value == "avx512" || value == "avx2") p.selection = "asked for" + suffix;
    else p.selection = std::string(has512 ? "CPUID: AVX-512 F/BW/VL with the ZMM state enabled" : "no AVX-512: x86-64-v3 baseline") + suffix;
    return p;
}

}  // namespace

const GemvPath& gemvPath() {
    static const GemvPath s_path = chooseGemv();
    return s_path;
}

}  // namespace superlens::core::gemm
