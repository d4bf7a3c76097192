#include "gemm_amx.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

// GCC 12's AVX-512 headers start some conversions from _mm512_undefined_*(),
// which -Wuninitialized reports inside them; nothing here reads such a value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "superlens/core/system/cpu_features.h"

// Only the functions marked below use AVX-512 / AMX instructions (target
// attributes, not translation-unit flags): inline library templates
// instantiated in this file stay x86-64-v3 code, so the linker can never pick
// an AVX-512 copy of them for a CPU without it. They run only after
// tilesEnabled() has checked CPUID, XCR0 and the kernel's permission.
#define SL_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define SL_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))

namespace superlens::core::amx {
namespace {

constexpr std::int64_t kTileK = 32;         // bf16 per tile row
constexpr std::int64_t kSuperM = 128;       // activation rows per accumulator block
constexpr std::int64_t kSuperN = 256;       // weight rows per accumulator block (acc: 128 KB, stays in L2)
// k blocks per chunk: 512 columns. Measured on Sapphire/Emerald Rapids
// (bf16 weights, 128 x 2048 x 2048 and 128 x 2048 x 5632): 4 blocks 94-140
// GFLOP/s, 8: 119-180, 16: 200-260, 32 and 64: 190-210 (the C tiles go
// through memory between chunks; larger chunks spill the activations out of L2).
constexpr std::int64_t kChunkBlocks = 16;
constexpr std::int64_t kChunk = kChunkBlocks * kTileK;

struct alignas(64) TileConfig {
    std::uint8_t palette = 1;
    std::uint8_t startRow = 0;
    std::uint8_t reserved[14] = {};
    std::uint16_t colsb[16] = {};
    std::uint8_t rows[16] = {};
};

// Splits 16 floats into bf16 parts (round to nearest even); v becomes the remainder (exact).
SL_AVX512BF16 inline __m256i splitOff(__m512& v) {
    const __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
    const __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    v = _mm512_sub_ps(v, back);
    return h;
}

// Activations: three parts of a 16 x 32 block, transposed into VNNI tiles.
SL_AVX512BF16 void packBlock(const float* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, std::uint16_t* out0,
                             std::uint16_t* out1, std::uint16_t* out2) {
    alignas(64) std::uint32_t parts[3][16][16];  // [part][row of X][k pair]
    const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<std::int64_t>(cols, 0)) - 1);
    const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : __mmask16((1u << std::clamp<std::int64_t>(cols - 16, 0, 16)) - 1);
    for (std::int64_t i = 0; i < 16; ++i) {
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        if (i < rows) {
            a = _mm512_maskz_loadu_ps(m0, x + i * ldx);
            b = _mm512_maskz_loadu_ps(m1, x + i * ldx + 16);
        }
        for (int p = 0; p < 3; ++p) {
            const __m256i ha = splitOff(a), hb = splitOff(b);
            _mm256_store_si256(reinterpret_cast<__m256i*>(&parts[p][i][0]), ha);
            _mm256_store_si256(reinterpret_cast<__m256i*>(&parts[p][i][8]), hb);
        }
    }
    // Tile row r holds, for each of the 16 rows of X, the pair (k = 2r, 2r + 1).
    const __m512i across = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
    std::uint16_t* outs[3] = {out0, out1, out2};
    for (int p = 0; p < 3; ++p) {
        for (int r = 0; r < 16; ++r) {
            const __m512i v = _mm512_i32gather_epi32(_mm512_add_epi32(across, _mm512_set1_epi32(r)), &parts[p][0][0], 4);
            _mm512_storeu_si512(outs[p] + r * 32, v);
        }
    }
}

// Weight panel: rows [0, 32) x columns [0, kChunk) of bf16 parts, stride kChunk.
// Rows past `rows` and columns past `cols` are zero.
SL_AVX512BF16 void convertPanel(const WeightSource& w, std::int64_t r0, std::int64_t c0, std::int64_t rows, std::int64_t cols, int parts,
                                std::uint16_t* panel) {
    for (std::int64_t r = 0; r < 32; ++r) {
        std::uint16_t* dst[3] = {panel + r * kChunk, panel + (32 + r) * kChunk, panel + (64 + r) * kChunk};
        for (std::int64_t c = 0; c < kChunk; c += 16) {
            const std::int64_t left = r < rows ? std::clamp<std::int64_t>(cols - c, 0, 16) : 0;
            const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
            if (w.dtype == DType::BF16) {
                __m256i v = _mm256_setzero_si256();
                if (left > 0) v = _mm256_maskz_loadu_epi16(mask, static_cast<const std::uint16_t*>(w.data) + (r0 + r) * w.ld + c0 + c);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[0] + c), v);
                continue;
            }
            __m512 v = _mm512_setzero_ps();
            if (left > 0) {
                if (w.dtype == DType::F32) {
                    v = _mm512_maskz_loadu_ps(mask, static_cast<const float*>(w.data) + (r0 + r) * w.ld + c0 + c);
                } else {
                    const auto* src = static_cast<const std::uint16_t*>(w.data) + (r0 + r) * w.ld + c0 + c;
                    v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, src));
                }
            }
            for (int p = 0; p < parts; ++p) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[p] + c), splitOff(v));
        }
    }
}

int weightParts(DType d) { return d == DType::BF16 ? 1 : d == DType::F16 ? 2 : 3; }

struct Scratch {
    std::vector<float> acc;
    std::vector<std::uint16_t> panel;
};

Scratch& scratch() {
    thread_local Scratch t_scratch;
    if (t_scratch.acc.empty()) {
        t_scratch.acc.resize(static_cast<std::size_t>(kSuperN * kSuperM));
        t_scratch.panel.resize(static_cast<std::size_t>(kSuperN / 32 * 3 * 32 * kChunk));
    }
    return t_scratch;
}

SL_AMX void configureTiles() {
    TileConfig cfg;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    // GCC 12's _tile_loadconfig does not tell the compiler that it reads all
    // 64 bytes, which then drops the stores above: a barrier keeps them.
    __asm__ __volatile__("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

// One chunk of k blocks [kb0, kb1) for a 32-row weight block and the 32
// activation rows of pair j: C tiles 0-3 ([n 16][m 16] fp32) live in `c`
// (row stride kSuperM floats) between chunks. a[p][h] is part p of weight
// rows h*16..h*16+15 at the chunk's first column, rows `strideA` bytes apart.
SL_AMX void chunkProduct(const PackedActivations& x, const std::uint16_t* const a[3][2], std::int64_t strideA, int parts, std::int64_t kb0,
                         std::int64_t kb1, std::int64_t j, float* c, bool first) {
    constexpr std::int64_t ldc = kSuperM * 4;
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        _tile_loadd(0, c, ldc);
        _tile_loadd(1, c + 16, ldc);
        _tile_loadd(2, c + 16 * kSuperM, ldc);
        _tile_loadd(3, c + 16 * kSuperM + 16, ldc);
    }
    for (std::int64_t kb = kb0; kb < kb1; ++kb) {
        const std::int64_t off = (kb - kb0) * kTileK;
        for (int pa = 0; pa < parts; ++pa) {
            _tile_loadd(4, a[pa][0] + off, strideA);
            _tile_loadd(5, a[pa][1] + off, strideA);
            for (int pb = 0; pb + pa <= 2; ++pb) {
                _tile_loadd(6, x.tile(2 * j, kb, pb), 64);
                _tile_loadd(7, x.tile(2 * j + 1, kb, pb), 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
    }
    _tile_stored(0, c, ldc);
    _tile_stored(1, c + 16, ldc);
    _tile_stored(2, c + 16 * kSuperM, ldc);
    _tile_stored(3, c + 16 * kSuperM + 16, ldc);
}

SL_AMX void releaseTiles() { _tile_release(); }

}  // namespace

void PackedActivations::resize(std::int64_t rows, std::int64_t cols) {
    m = rows;
    k = cols;
    mPadded = (rows + 31) / 32 * 32;
    kBlocks = (cols + kTileK - 1) / kTileK;
    m_data.resize(static_cast<std::size_t>(mPadded / 16 * kBlocks * 3 * 512));
}

void PackedActivations::packRows(const float* x, std::int64_t ldx, std::int64_t block0, std::int64_t block1) {
    for (std::int64_t mb = block0; mb < block1; ++mb) {
        const std::int64_t rows = std::clamp<std::int64_t>(m - mb * 16, 0, 16);
        for (std::int64_t kb = 0; kb < kBlocks; ++kb) {
            std::uint16_t* t = m_data.data() + (mb * kBlocks + kb) * 3 * 512;
            packBlock(x + mb * 16 * ldx + kb * kTileK, ldx, rows, k - kb * kTileK, t, t + 512, t + 1024);
        }
    }
}

void multiplyRows(const PackedActivations& x, const WeightSource& w, std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    if (r1 <= r0 || x.m == 0) return;
    Scratch& s = scratch();
    const int parts = weightParts(w.dtype);
    const std::int64_t k = x.k;
    configureTiles();
    for (std::int64_t ms0 = 0; ms0 < x.mPadded; ms0 += kSuperM) {
        const std::int64_t ms1 = std::min(x.mPadded, ms0 + kSuperM);
        for (std::int64_t ns0 = r0; ns0 < r1; ns0 += kSuperN) {
            const std::int64_t ns1 = std::min(r1, ns0 + kSuperN);
            // Loop order: per k chunk, the weight tiles of the whole row block
            // (in place or converted), then for each activation pair its
            // chunk of tiles (L1) against every 32-row weight block.
            const std::int64_t nBlocks = (ns1 - ns0 + 31) / 32;
            for (std::int64_t kb0 = 0; kb0 < x.kBlocks; kb0 += kChunkBlocks) {
                const std::int64_t kb1 = std::min(x.kBlocks, kb0 + kChunkBlocks);
                const std::int64_t c0 = kb0 * kTileK;
                const std::uint16_t* a[kSuperN / 32][3][2] = {};
                std::int64_t strideA[kSuperN / 32] = {};
                for (std::int64_t nb = 0; nb < nBlocks; ++nb) {
                    const std::int64_t n = ns0 + nb * 32;
                    if (w.dtype == DType::BF16 && n + 32 <= w.rows && kb1 * kTileK <= k) {
                        // Whole tiles inside the stored matrix: read them in place.
                        const auto* base = static_cast<const std::uint16_t*>(w.data) + n * w.ld + c0;
                        a[nb][0][0] = base;
                        a[nb][0][1] = base + 16 * w.ld;
                        strideA[nb] = w.ld * 2;
                    } else {
                        std::uint16_t* panel = s.panel.data() + nb * 3 * 32 * kChunk;
                        convertPanel(w, n, c0, std::min<std::int64_t>(32, w.rows - n), std::min(kChunk, k - c0), parts, panel);
                        for (int p = 0; p < parts; ++p) {
                            a[nb][p][0] = panel + p * 32 * kChunk;
                            a[nb][p][1] = a[nb][p][0] + 16 * kChunk;
                        }
                        strideA[nb] = kChunk * 2;
                    }
                }
                for (std::int64_t j = ms0 / 32; j < ms1 / 32; ++j)
                    for (std::int64_t nb = 0; nb < nBlocks; ++nb)
                        chunkProduct(x, a[nb], strideA[nb], parts, kb0, kb1, j, s.acc.data() + nb * 32 * kSuperM + (j * 32 - ms0), kb0 == 0);
            }
            const std::int64_t mEnd = std::min(x.m, ms1);
            for (std::int64_t n = ns0; n < ns1; ++n) {
                const float* src = s.acc.data() + (n - ns0) * kSuperM;
                for (std::int64_t i = ms0; i < mEnd; ++i) y[i * ldy + n] = src[i - ms0];
            }
        }
    }
    releaseTiles();
}

bool tilesEnabled(std::string* why) {
    static const std::string s_reason = [] {
        const CpuFeatures& cpu = cpuFeatures();
        if (!(cpu.amxTile && cpu.amxBf16)) return std::string("no AMX-BF16 (or the OS does not enable its state)");
        if (!(cpu.avx512Common() && cpu.avx512bf16)) return std::string("no AVX-512 BF16");
        // Linux >= 5.16 hands out the 8 KB tile state only on request.
        constexpr long kArchReqXcompPerm = 0x1023;
        constexpr long kXfeatureXtiledata = 18;
        if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
            return std::string("the kernel refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM: ") + std::strerror(errno) + ")";
        return std::string();
    }();
    if (why) *why = s_reason;
    return s_reason.empty();
}

}  // namespace superlens::core::amx

#pragma GCC diagnostic pop
