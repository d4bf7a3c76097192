#pragma once
// What this CPU can run, read from CPUID and XGETBV (the OS must have enabled
// the register state too: AVX-512 on a kernel that does not save ZMM registers
// counts as absent). Qt-free; read once, cheap to call.

#include <string>
#include <vector>

namespace superlens::core {

struct CpuFeatures {
    std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
    std::string brand;   // "Intel(R) Xeon(R) Processor", ...
    int family = 0;      // display family and model
    int model = 0;
    int logicalCpus = 0;  // std::thread::hardware_concurrency()
    bool sse42 = false;
    bool avx = false;
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512dq = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512vnni = false;
    bool avx512bf16 = false;
    bool avx512fp16 = false;
    bool amxTile = false;
    bool amxBf16 = false;
    bool amxInt8 = false;

    // AVX-512 as the common kernels need it (F, DQ, BW, VL: Skylake-X and later, Zen 4).
    bool avx512Common() const { return avx512f && avx512dq && avx512bw && avx512vl; }
    bool isIntel() const { return vendor == "GenuineIntel"; }
    bool isAmd() const { return vendor == "AuthenticAMD" || vendor == "HygonGenuine"; }
    // The names of the features above that are present, in a fixed order ("avx2 fma f16c avx512f ...").
    std::vector<std::string> names() const;
};

// This machine's features (detected on first call).
const CpuFeatures& cpuFeatures();

}  // namespace superlens::core
