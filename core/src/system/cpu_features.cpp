#include "superlens/core/system/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstring>
#include <thread>

namespace superlens::core {
namespace {

struct Regs {
    unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
    Regs r;
    if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) r = {};
    return r;
}

bool bit(unsigned v, int n) { return (v >> n) & 1u; }

std::uint64_t xgetbv0() {
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
    CpuFeatures f;
    f.logicalCpus = static_cast<int>(std::thread::hardware_concurrency());
    const Regs v = cpuid(0);
    const unsigned maxLeaf = v.a;
    char vendor[13] = {};
    std::memcpy(vendor, &v.b, 4);
    std::memcpy(vendor + 4, &v.d, 4);
    std::memcpy(vendor + 8, &v.c, 4);
    f.vendor = vendor;
    const unsigned maxExt = cpuid(0x80000000u).a;
    if (maxExt >= 0x80000004u) {
        char brand[49] = {};
        for (unsigned i = 0; i < 3; ++i) {
            const Regs r = cpuid(0x80000002u + i);
            std::memcpy(brand + 16 * i, &r.a, 4);
            std::memcpy(brand + 16 * i + 4, &r.b, 4);
            std::memcpy(brand + 16 * i + 8, &r.c, 4);
            std::memcpy(brand + 16 * i + 12, &r.d, 4);
        }
        f.brand = brand;
        const auto first = f.brand.find_first_not_of(' ');
        f.brand = first == std::string::npos ? std::string() : f.brand.substr(first);
        while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
    }
    if (maxLeaf < 1) return f;
    const Regs l1 = cpuid(1);
    const unsigned baseFamily = (l1.a >> 8) & 0xF, baseModel = (l1.a >> 4) & 0xF;
    f.family = static_cast<int>(baseFamily == 0xF ? baseFamily + ((l1.a >> 20) & 0xFF) : baseFamily);
    f.model = static_cast<int>(baseFamily == 0x6 || baseFamily == 0xF ? (((l1.a >> 16) & 0xF) << 4) + baseModel : baseModel);
    f.sse42 = bit(l1.c, 20);
    const bool osxsave = bit(l1.c, 27);
    const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymmState = (xcr0 & 0x6) == 0x6;            // XMM and YMM saved by the OS
    const bool zmmState = ymmState && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
    const bool amxState = (xcr0 & 0x60000) == 0x60000;     // XTILECFG, XTILEDATA
    f.avx = bit(l1.c, 28) && ymmState;
    f.fma = bit(l1.c, 12) && ymmState;
    f.f16c = bit(l1.c, 29) && ymmState;
    if (maxLeaf >= 7) {
        const Regs l7 = cpuid(7, 0);
        f.avx2 = bit(l7.b, 5) && ymmState;
        f.avx512f = bit(l7.b, 16) && zmmState;
        f.avx512dq = bit(l7.b, 17) && zmmState;
        f.avx512bw = bit(l7.b, 30) && zmmState;
        f.avx512vl = bit(l7.b, 31) && zmmState;
        f.avx512vnni = bit(l7.c, 11) && zmmState;
        f.avx512fp16 = bit(l7.d, 23) && zmmState;
        f.amxBf16 = bit(l7.d, 22) && amxState;
        f.amxTile = bit(l7.d, 24) && amxState;
        f.amxInt8 = bit(l7.d, 25) && amxState;
        if (l7.a >= 1) f.avx512bf16 = bit(cpuid(7, 1).a, 5) && zmmState;
    }
    return f;
}

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
    std::vector<std::string> out;
    const std::pair<bool, const char*> all[] = {
        {sse42, "sse4.2"},        {avx, "avx"},           {avx2, "avx2"},           {fma, "fma"},
        {f16c, "f16c"},           {avx512f, "avx512f"},   {avx512dq, "avx512dq"},   {avx512bw, "avx512bw"},
        {avx512vl, "avx512vl"},   {avx512vnni, "avx512_vnni"}, {avx512bf16, "avx512_bf16"}, {avx512fp16, "avx512_fp16"},
        {amxTile, "amx_tile"},    {amxBf16, "amx_bf16"},  {amxInt8, "amx_int8"}};
    for (const auto& [present, name] : all)
        if (present) out.emplace_back(name);
    return out;
}

const CpuFeatures& cpuFeatures() {
    static const CpuFeatures s_features = detect();
    return s_features;
}

}  // namespace superlens::core
