#include "superlens/core/system/gemm_path.h"

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "../engine/gemm_amx.h"
#include "../engine/gemm_panels.h"
#include "../engine/gemv.h"
#include "superlens/core/system/cpu_features.h"

namespace superlens::core::gemm {
namespace {

[[noreturn]] void fatal(const std::string& message) {
    std::fprintf(stderr, "superlens: %s\n", message.c_str());
    std::exit(1);
}

// The value of environment variable `name`: "" when unset or empty, else
// one of `allowed`; any other value ends the program with one line naming
// the variable and the values it takes.
std::string envChoice(const char* name, std::initializer_list<const char*> allowed) {
    const char* env = std::getenv(name);
    const std::string value = env ? env : "";
    if (value.empty()) return value;
    std::string list;
    for (const char* a : allowed) {
        if (value == a) return value;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    fatal(std::string(name) + "=" + value + ": not one of " + list);
}

GemmPath choose() {
    GemmPath p;
    const std::string value = envChoice("SUPERLENS_GEMM", {"auto", "amx", "avx512", "avx2", "blas"});
    if (value.empty() || value == "auto") p.mode = Mode::Auto;
    else if (value == "amx") p.mode = Mode::Amx;
    else if (value == "avx512") p.mode = Mode::Avx512;
    else if (value == "avx2") p.mode = Mode::Avx2;
    else p.mode = Mode::Blas;
    const std::string suffix = !value.empty() ? " (SUPERLENS_GEMM=" + value + ")" : std::string(" (SUPERLENS_GEMM unset: auto)");
    std::string whyNotAmx, whyNot512, whyNot2;
    const bool amxUsable = (p.mode == Mode::Auto || p.mode == Mode::Amx) && amx::tilesEnabled(&whyNotAmx);
    const bool can512 = panels::available(panels::Isa::Avx512, &whyNot512), can2 = panels::available(panels::Isa::Avx2, &whyNot2);
    if (p.mode == Mode::Amx && !amxUsable) fatal("SUPERLENS_GEMM=amx: this machine cannot run AMX: " + whyNotAmx);
    if (p.mode == Mode::Avx512 && !can512) fatal("SUPERLENS_GEMM=avx512: this machine cannot run the AVX-512 kernel: " + whyNot512);
    if (p.mode == Mode::Avx2 && !can2) fatal("SUPERLENS_GEMM=avx2: this machine cannot run the AVX2 kernel: " + whyNot2);
    p.amx = amxUsable;
    if (p.mode == Mode::Avx512 || (p.mode == Mode::Auto && can512)) p.panels = PanelIsa::Avx512;
    else if (p.mode == Mode::Avx2 || (p.mode == Mode::Auto && can2)) p.panels = PanelIsa::Avx2;
    const std::string kernel = std::string(p.panels == PanelIsa::Avx512 ? "AVX-512" : "AVX2") + " kernel (fp32 FMA, weights decoded into L1 blocks)";
    if (p.mode == Mode::Blas) {
        p.name = "OpenBLAS";
        p.selection = "asked for" + suffix;
    } else if (p.mode == Mode::Amx) {
        p.name = "AMX-BF16 for bf16, f16 and f32 weights (bf16 parts, fp32 accumulation); OpenBLAS for the rest";
        p.selection = "asked for" + suffix;
    } else if (p.mode != Mode::Auto) {
        p.name = kernel + " for f32, bf16 and f16 weights; OpenBLAS for the rest";
        p.selection = "asked for" + suffix;
    } else if (amxUsable) {
        p.name = "AMX-BF16 for bf16 weights (activations as 3 bf16 parts, fp32 accumulation); " + kernel + " for f32 and f16 weights; OpenBLAS for the rest";
        p.selection = "CPUID: AMX-BF16 and AVX-512, tile state granted by the kernel" + suffix;
    } else if (p.panels != PanelIsa::None) {
        p.name = kernel + " for f32, bf16 and f16 weights; OpenBLAS for the rest";
        p.selection = std::string(p.panels == PanelIsa::Avx512 ? "CPUID: AVX-512 F/DQ/BW/VL" : "no AVX-512: " + whyNot512) + "; no AMX: " + whyNotAmx + suffix;
    } else {
        p.name = "OpenBLAS";
        p.selection = "no AVX2 kernel: " + whyNot2 + suffix;
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

bool panelsFor(DType dtype) {
    const GemmPath& p = path();
    if (p.panels == PanelIsa::None || amxFor(dtype)) return false;
    return dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16;
}

}  // namespace superlens::core::gemm

namespace superlens::core::gemm {
namespace {
// SUPERLENS_GEMV_TOKENS=N (1 to 64): the GEMV's token limit for every
// weight, in every mode, to measure where it should stop; 0 when unset.
std::int64_t gemvTokensAsked() {
    static const std::int64_t s_asked = [] {
        const char* env = std::getenv("SUPERLENS_GEMV_TOKENS");
        if (env == nullptr || *env == '\0') return std::int64_t{0};
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        if (*end != '\0' || v < 1 || v > 64) fatal(std::string("SUPERLENS_GEMV_TOKENS=") + env + ": not a whole number from 1 to 64");
        return std::int64_t{v};
    }();
    return s_asked;
}
}  // namespace

std::int64_t gemvMaxTokens(WeightRead read, DType stored) {
    if (const std::int64_t asked = gemvTokensAsked()) return asked;
    if (path().mode != Mode::Auto) return 1;
    if (read == WeightRead::Decoded) return 11;
    if (amxFor(stored)) return 15;
    return stored == DType::F16 ? 31 : stored == DType::BF16 ? 28 : 24;
}

std::int64_t kernelMinRows(WeightRead read, DType stored) {
    if (path().mode == Mode::Auto || gemvTokensAsked()) return gemvMaxTokens(read, stored) + 1;
    return path().mode == Mode::Blas ? 16 : 2;
}

std::string kernelFor(DType dtype, std::int64_t tokens, WeightRead read) {
    // Decoded weights take the kernels as f32 rows.
    const DType kernelType = read == WeightRead::InPlace ? dtype : DType::F32;
    if (tokens <= gemvMaxTokens(read, dtype)) return gemvPath().isa == GemvIsa::Avx512 ? "AVX-512 GEMV" : "AVX2 GEMV";
    const bool kernelTakes = tokens >= kernelMinRows(read, dtype);
    if (kernelTakes && read == WeightRead::InPlace && amxFor(dtype)) return "AMX";
    if (kernelTakes && panelsFor(kernelType)) return path().panels == PanelIsa::Avx512 ? "AVX-512 kernel" : "AVX2 kernel";
    return dtype == DType::F32 ? "OpenBLAS" : "decoded tiles + OpenBLAS";
}
}  // namespace superlens::core::gemm

namespace superlens::core::gemm {
namespace {

// The GEMV's token limits in words, for its name.
std::string tokenLimits() {
    const auto limit = [](WeightRead read, DType d) { return std::to_string(gemvMaxTokens(read, d)); };
    if (gemvMaxTokens(WeightRead::InPlace, DType::F32) == 1 && gemvMaxTokens(WeightRead::Decoded, DType::F32) == 1) return " (one token)";
    return " (up to " + limit(WeightRead::InPlace, DType::F32) + " tokens of f32 weights, " + limit(WeightRead::InPlace, DType::BF16) + " of bf16, " +
           limit(WeightRead::InPlace, DType::F16) + " of f16, " + limit(WeightRead::Decoded, DType::F32) + " of decoded ones; 2 at a time)";
}

GemvPath chooseGemv() {
    GemvPath p;
    const std::string value = envChoice("SUPERLENS_GEMV", {"auto", "avx512", "avx2"});
    const CpuFeatures& cpu = cpuFeatures();
    const bool has512 = cpu.avx512f && cpu.avx512bw && cpu.avx512vl;
    if (value == "avx512" && !has512) fatal("SUPERLENS_GEMV=avx512: this CPU (or its OS) has no AVX-512 F/BW/VL");
    const std::string suffix = value.empty() ? " (SUPERLENS_GEMV unset: auto)" : " (SUPERLENS_GEMV=" + value + ")";
    p.isa = value == "avx2" || (value != "avx512" && !has512) ? GemvIsa::Avx2 : GemvIsa::Avx512;
    const std::string pf = envChoice("SUPERLENS_GEMV_ROW_PREFETCH", {"auto", "on", "off"});
    p.bf16RowPrefetch = pf == "on" || (pf != "off" && bf16RowPrefetchFor(cpu));
    p.name = std::string(p.isa == GemvIsa::Avx512 ? "AVX-512 (bf16 widened in pairs)" : "AVX2") +
             ", 4 rows per pass" +
             tokenLimits() +
             ", rows 2 passes ahead prefetched to L2, idle workers take rows from the slower";
    if (value == "avx512" || value == "avx2") p.selection = "asked for" + suffix;
    else p.selection = std::string(has512 ? "CPUID: AVX-512 F/BW/VL with the ZMM state enabled" : "no AVX-512: x86-64-v3 baseline") + suffix;
    if (p.isa == GemvIsa::Avx512) {
        p.name += "; one token streams rows of up to " + std::to_string(gemv::kRowStreamMaxXBytes / 1024) +
                  " KiB of activations one at a time (bf16 " +
                  (p.bf16RowPrefetch ? "prefetched " + std::to_string(gemv::kRowAheadBytes / 1024) + " KiB ahead" : "with the hardware prefetcher alone") + ")";
        p.selection += std::string("; bf16 rows ") + (p.bf16RowPrefetch ? "prefetched" : "not prefetched") +
                       (pf.empty() || pf == "auto" ? (cpu.isAmd() ? " (AMD: auto)" : " (not AMD: auto)") : " (SUPERLENS_GEMV_ROW_PREFETCH=" + pf + ")");
    }
    return p;
}

}  // namespace

bool bf16RowPrefetchFor(const CpuFeatures& cpu) { return !cpu.isAmd(); }

const GemvPath& gemvPath() {
    static const GemvPath s_path = chooseGemv();
    return s_path;
}

}  // namespace superlens::core::gemm
