#include "superlens/core/system/gemm_path.h"

#include <cstdio>
#include <cstdlib>

#include "../engine/gemm_amx.h"

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
