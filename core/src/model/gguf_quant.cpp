#include "superlens/core/model/gguf_quant.h"
#include "superlens/core/model/quantization_step.h"

#include <array>
#include <cmath>
#include <cstring>

#if defined(__AVX2__) || (defined(__F16C__) && defined(__AVX__))
#include <immintrin.h>
#endif

#include "superlens/core/model/dtype.h"
#include "superlens/core/result.h"

namespace superlens::core {
namespace {

// Block sizes in bytes, from ggml-common.h's static_asserts (QK_K = 256).
constexpr std::int64_t kQK = 32;
constexpr std::int64_t kQKK = 256;

constexpr std::array<GgmlTypeInfo, 40> makeTable() {
    std::array<GgmlTypeInfo, 40> t{};
    for (std::uint32_t i = 0; i < t.size(); ++i) t[i] = {static_cast<GgmlType>(i), {}, 0, 0, false};
    auto set = [&t](GgmlType type, std::string_view name, std::int64_t elements, std::int64_t bytes, bool dequantizable) {
        t[static_cast<std::uint32_t>(type)] = {type, name, elements, bytes, dequantizable};
    };
    set(GgmlType::F32, "F32", 1, 4, true);
    set(GgmlType::F16, "F16", 1, 2, true);
    set(GgmlType::Q4_0, "Q4_0", kQK, 2 + 16, true);
    set(GgmlType::Q4_1, "Q4_1", kQK, 2 + 2 + 16, true);
    set(GgmlType::Q5_0, "Q5_0", kQK, 2 + 4 + 16, true);
    set(GgmlType::Q5_1, "Q5_1", kQK, 2 + 2 + 4 + 16, true);
    set(GgmlType::Q8_0, "Q8_0", kQK, 2 + 32, true);
    set(GgmlType::Q8_1, "Q8_1", kQK, 2 + 2 + 32, false);
    set(GgmlType::Q2_K, "Q2_K", kQKK, 16 + 64 + 2 + 2, true);
    set(GgmlType::Q3_K, "Q3_K", kQKK, 32 + 64 + 12 + 2, true);
    set(GgmlType::Q4_K, "Q4_K", kQKK, 2 + 2 + 12 + 128, true);
    set(GgmlType::Q5_K, "Q5_K", kQKK, 2 + 2 + 12 + 32 + 128, true);
    set(GgmlType::Q6_K, "Q6_K", kQKK, 128 + 64 + 16 + 2, true);
    set(GgmlType::Q8_K, "Q8_K", kQKK, 4 + 256 + 32, true);
    set(GgmlType::IQ2_XXS, "IQ2_XXS", kQKK, 2 + 64, false);
    set(GgmlType::IQ2_XS, "IQ2_XS", kQKK, 2 + 64 + 8, false);
    set(GgmlType::IQ3_XXS, "IQ3_XXS", kQKK, 2 + 96, false);
    set(GgmlType::IQ1_S, "IQ1_S", kQKK, 2 + 32 + 16, false);
    set(GgmlType::IQ4_NL, "IQ4_NL", kQK, 2 + 16, false);
    set(GgmlType::IQ3_S, "IQ3_S", kQKK, 2 + 64 + 8 + 32 + 4, false);
    set(GgmlType::IQ2_S, "IQ2_S", kQKK, 2 + 64 + 8 + 8, false);
    set(GgmlType::IQ4_XS, "IQ4_XS", kQKK, 2 + 2 + 4 + 128, false);
    set(GgmlType::I8, "I8", 1, 1, false);
    set(GgmlType::I16, "I16", 1, 2, false);
    set(GgmlType::I32, "I32", 1, 4, false);
    set(GgmlType::I64, "I64", 1, 8, false);
    set(GgmlType::F64, "F64", 1, 8, false);
    set(GgmlType::IQ1_M, "IQ1_M", kQKK, 32 + 16 + 8, false);
    set(GgmlType::BF16, "BF16", 1, 2, true);
    set(GgmlType::TQ1_0, "TQ1_0", kQKK, 48 + 4 + 2, false);
    set(GgmlType::TQ2_0, "TQ2_0", kQKK, 64 + 2, false);
    set(GgmlType::MXFP4, "MXFP4", kQK, 1 + 16, false);
    return t;
}

constexpr std::array<GgmlTypeInfo, 40> kTable = makeTable();

inline std::uint8_t u8(const std::byte* p) { return std::to_integer<std::uint8_t>(*p); }

inline float halfAt(const std::byte* p) {
    std::uint16_t h;
    std::memcpy(&h, p, sizeof h);
#if defined(__F16C__) && defined(__AVX__)
    return _cvtsh_ss(h);
#else
    return f16ToFloat(h);
#endif
}

// Every decoder below writes one block: `y` receives blockElements values.
// Loops run over 16 or 32 values with one scale, so the compiler vectorises them.

void blockQ4_0(const std::byte* b, float* __restrict y) {
    const float d = halfAt(b);
    std::uint8_t qs[16];
    std::memcpy(qs, b + 2, sizeof qs);
    for (int j = 0; j < 16; ++j) y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    for (int j = 0; j < 16; ++j) y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
}

void blockQ4_1(const std::byte* b, float* __restrict y) {
    const float d = halfAt(b);
    const float m = halfAt(b + 2);
    std::uint8_t qs[16];
    std::memcpy(qs, b + 4, sizeof qs);
    for (int j = 0; j < 16; ++j) y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    for (int j = 0; j < 16; ++j) y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
}

// Q5: bit j of the little-endian 32-bit qh is the fifth bit of value j.
void blockQ5_0(const std::byte* b, float* __restrict y) {
    const float d = halfAt(b);
    std::uint32_t qh;
    std::memcpy(&qh, b + 2, sizeof qh);
    std::uint8_t qs[16];
    std::memcpy(qs, b + 6, sizeof qs);
    for (int j = 0; j < 16; ++j) y[j] = static_cast<float>(((qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4)) - 16) * d;
    for (int j = 0; j < 16; ++j) y[j + 16] = static_cast<float>(((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - 16) * d;
}

void blockQ5_1(const std::byte* b, float* __restrict y) {
    const float d = halfAt(b);
    const float m = halfAt(b + 2);
    std::uint32_t qh;
    std::memcpy(&qh, b + 4, sizeof qh);
    std::uint8_t qs[16];
    std::memcpy(qs, b + 8, sizeof qs);
    for (int j = 0; j < 16; ++j) y[j] = static_cast<float>((qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4)) * d + m;
    for (int j = 0; j < 16; ++j) y[j + 16] = static_cast<float>((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) * d + m;
}

void blockQ8_0(const std::byte* b, float* __restrict y) {
    const float d = halfAt(b);
    std::int8_t qs[32];
    std::memcpy(qs, b + 2, sizeof qs);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// Q2_K: 16 groups of 16 values; value e takes 2 bits of qs[32*(e/128) + e%32]
// at shift 2*((e%128)/32), and scale byte e/16 (low nibble scale, high nibble min).
void blockQ2_K(const std::byte* b, float* __restrict y) {
    std::uint8_t scales[16], qs[64];
    std::memcpy(scales, b, sizeof scales);
    std::memcpy(qs, b + 16, sizeof qs);
    const float d = halfAt(b + 80);
    const float dmin = halfAt(b + 82);
    for (int h = 0; h < 2; ++h) {
        for (int j = 0; j < 4; ++j) {
            for (int half = 0; half < 2; ++half) {
                const int group = h * 8 + j * 2 + half;
                const float dl = d * static_cast<float>(scales[group] & 0x0F);
                const float ml = dmin * static_cast<float>(scales[group] >> 4);
                const std::uint8_t* q = qs + 32 * h + 16 * half;
                float* out = y + 16 * group;
                for (int l = 0; l < 16; ++l) out[l] = dl * static_cast<float>((q[l] >> (2 * j)) & 3) - ml;
            }
        }
    }
}

// Q3_K: 16 groups of 16 values with signed 6-bit scales (stored +32): the low
// four bits in nibbles of scales[0..7], the high two bits in scales[8..11].
// Value e: 2 low bits as in Q2_K, high bit e/32 of hmask[e%32]; a clear high
// bit subtracts 4.
void blockQ3_K(const std::byte* b, float* __restrict y) {
    std::uint8_t hmask[32], qs[64], sc[12];
    std::memcpy(hmask, b, sizeof hmask);
    std::memcpy(qs, b + 32, sizeof qs);
    std::memcpy(sc, b + 96, sizeof sc);
    const float d = halfAt(b + 108);
    int scale[16];
    for (int s = 0; s < 16; ++s) {
        const int low = s < 8 ? (sc[s] & 0x0F) : (sc[s - 8] >> 4);
        const int high = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
        scale[s] = (low | (high << 4)) - 32;
    }
    for (int h = 0; h < 2; ++h) {
        for (int j = 0; j < 4; ++j) {
            const int bit = 4 * h + j;
            for (int half = 0; half < 2; ++half) {
                const int group = h * 8 + j * 2 + half;
                const float dl = d * static_cast<float>(scale[group]);
                const std::uint8_t* q = qs + 32 * h + 16 * half;
                const std::uint8_t* hm = hmask + 16 * half;
                float* out = y + 16 * group;
                for (int l = 0; l < 16; ++l) {
                    // A clear high bit subtracts 4: v = low2 - 4 + 4 * high.
                    const int v = ((q[l] >> (2 * j)) & 3) - 4 + 4 * ((hm[l] >> bit) & 1);
                    out[l] = dl * static_cast<float>(v);
                }
            }
        }
    }
}

// The 12 scale bytes of Q4_K/Q5_K: eight 6-bit scales and eight 6-bit mins.
void scaleMinK4(const std::byte* q, int j, int& scale, int& min) {
    if (j < 4) {
        scale = u8(q + j) & 63;
        min = u8(q + j + 4) & 63;
    } else {
        scale = (u8(q + j + 4) & 0x0F) | ((u8(q + j - 4) >> 6) << 4);
        min = (u8(q + j + 4) >> 4) | ((u8(q + j) >> 6) << 4);
    }
}

// Q4_K: 8 groups of 32; qs byte 32*(e/64) + e%32, low nibble for the first 32
// of each 64, high nibble for the second. Q5_K (kFifthBit): the same plus a
// fifth bit: bit e/32 of qh[e%32] adds 16.
template <bool kFifthBit>
void blockQ4Q5_K(const std::byte* b, float* y) {
    const float d = halfAt(b);
    const float dmin = halfAt(b + 2);
    const std::byte* scales = b + 4;
    const std::byte* qh = b + 16;                      // Q5_K's fifth bits
    const std::byte* qs = b + (kFifthBit ? 48 : 16);
    for (int c = 0; c < 4; ++c) {
        int sc0, m0, sc1, m1;
        scaleMinK4(scales, 2 * c, sc0, m0);
        scaleMinK4(scales, 2 * c + 1, sc1, m1);
        const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
        const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
        const std::byte* q = qs + 32 * c;
        float* out = y + 64 * c;
        for (int l = 0; l < 32; ++l) {
            int lo = u8(q + l) & 0x0F, hi = u8(q + l) >> 4;
            if constexpr (kFifthBit) {
                lo |= ((u8(qh + l) >> (2 * c)) & 1) << 4;
                hi |= ((u8(qh + l) >> (2 * c + 1)) & 1) << 4;
            }
            out[l] = d0 * static_cast<float>(lo) - min0;
            out[l + 32] = d1 * static_cast<float>(hi) - min1;
        }
    }
}

void blockQ4_K(const std::byte* b, float* y) { blockQ4Q5_K<false>(b, y); }
void blockQ5_K(const std::byte* b, float* y) { blockQ4Q5_K<true>(b, y); }

// Q6_K: 16 groups of 16 with int8 scales; value e (h = e/128, r = e%128,
// l = r%32, k = r/32) has its low nibble in ql[64h + l + 32*(k&1)] (low nibble
// for k < 2, high for k >= 2) and its top two bits at 2k of qh[32h + l]; stored +32.
void blockQ6_K(const std::byte* b, float* __restrict y) {
    std::uint8_t ql[128], qh[64];
    std::int8_t sc[16];
    std::memcpy(ql, b, sizeof ql);
    std::memcpy(qh, b + 128, sizeof qh);
    std::memcpy(sc, b + 192, sizeof sc);
    const float d = halfAt(b + 208);
    for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
            for (int half = 0; half < 2; ++half) {
                const int group = 8 * h + 2 * k + half;
                const float ds = d * static_cast<float>(sc[group]);
                const std::uint8_t* lo = ql + 64 * h + 32 * (k & 1) + 16 * half;
                const std::uint8_t* hi = qh + 32 * h + 16 * half;
                const int shift = k < 2 ? 0 : 4;
                float* out = y + 16 * group;
                for (int l = 0; l < 16; ++l) {
                    const int v = ((lo[l] >> shift) & 0x0F) | (((hi[l] >> (2 * k)) & 3) << 4);
                    out[l] = ds * static_cast<float>(v - 32);
                }
            }
        }
    }
}

// Q8_K: an fp32 scale and 256 int8 values (the 16 int16 group sums that follow
// serve ggml's dot products only).
void blockQ8_K(const std::byte* b, float* y) {
    float d;
    std::memcpy(&d, b, sizeof d);
    const std::byte* qs = b + 4;
    for (int j = 0; j < 256; ++j) y[j] = d * static_cast<float>(static_cast<std::int8_t>(u8(qs + j)));
}

template <void (*Block)(const std::byte*, float*)>
void decodeBlocks(const std::byte* src, float* dst, std::int64_t blocks, std::int64_t blockBytes, std::int64_t blockElements) {
    for (std::int64_t i = 0; i < blocks; ++i) Block(src + i * blockBytes, dst + i * blockElements);
}


#if defined(__AVX2__)
// AVX2 decoders for the formats whose scalar loops the compiler leaves
// scalar (16-value groups of nibbles and crumbs). Same arithmetic, same order:
// an int -> float conversion is exact, then one multiply (and one add or
// subtract where the format has a min), so the results are the scalar
// decoders' bits, zero signs included (checked by the tests on both paths).

// Eight unsigned bytes -> eight floats.
inline __m256 bytesToFloats(__m128i bytes8) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes8)); }
inline __m256 signedBytesToFloats(__m128i bytes8) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8)); }
inline __m128i loadBytes(const std::byte* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m128i lowNibbles(__m128i q) { return _mm_and_si128(q, _mm_set1_epi8(0x0F)); }
inline __m128i highNibbles(__m128i q) { return _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F)); }

// y[0..15] = (q - bias) * d, for 16 unsigned byte values q.
inline void scale16(__m128i q, __m256 bias, __m256 d, float* y) {
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_sub_ps(bytesToFloats(q), bias), d));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_sub_ps(bytesToFloats(_mm_srli_si128(q, 8)), bias), d));
}
// y[0..15] = q * d + m.
inline void affine16(__m128i q, __m256 d, __m256 m, float* y) {
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(bytesToFloats(q), d), m));
    _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(bytesToFloats(_mm_srli_si128(q, 8)), d), m));
}
// y[0..15] = q * d - m.
inline void affineSub16(__m128i q, __m256 d, __m256 m, float* y) {
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(bytesToFloats(q), d), m));
    _mm256_storeu_ps(y + 8, _mm256_sub_ps(_mm256_mul_ps(bytesToFloats(_mm_srli_si128(q, 8)), d), m));
}
// The fifth bits of Q5_0/Q5_1 as bytes 0x10 or 0: bit j of qh (j = first .. first + 15) for byte j - first.
inline __m128i fifthBits(std::uint32_t qh, int first) {
    const std::uint16_t bits = static_cast<std::uint16_t>(qh >> first);
    // Spread the 16 bits over 16 bytes, then test each byte's own bit.
    const __m128i spread = _mm_shuffle_epi8(_mm_set1_epi16(static_cast<short>(bits)),
                                            _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    const __m128i mask = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(spread, mask), mask), _mm_set1_epi8(0x10));
}

// Values are exact small integers, so (q - 8) as a float subtraction equals the integer one.
void blockQ4_0Avx2(const std::byte* b, float* y) {
    const __m256 d = _mm256_set1_ps(halfAt(b));
    const __m256 bias = _mm256_set1_ps(8.0f);
    const __m128i q = loadBytes(b + 2);
    scale16(lowNibbles(q), bias, d, y);
    scale16(highNibbles(q), bias, d, y + 16);
}

void blockQ4_1Avx2(const std::byte* b, float* y) {
    const __m256 d = _mm256_set1_ps(halfAt(b));
    const __m256 m = _mm256_set1_ps(halfAt(b + 2));
    const __m128i q = loadBytes(b + 4);
    affine16(lowNibbles(q), d, m, y);
    affine16(highNibbles(q), d, m, y + 16);
}

void blockQ5_0Avx2(const std::byte* b, float* y) {
    const __m256 d = _mm256_set1_ps(halfAt(b));
    const __m256 bias = _mm256_set1_ps(16.0f);
    std::uint32_t qh;
    std::memcpy(&qh, b + 2, sizeof qh);
    const __m128i q = loadBytes(b + 6);
    scale16(_mm_or_si128(lowNibbles(q), fifthBits(qh, 0)), bias, d, y);
    scale16(_mm_or_si128(highNibbles(q), fifthBits(qh, 16)), bias, d, y + 16);
}

void blockQ5_1Avx2(const std::byte* b, float* y) {
    const __m256 d = _mm256_set1_ps(halfAt(b));
    const __m256 m = _mm256_set1_ps(halfAt(b + 2));
    std::uint32_t qh;
    std::memcpy(&qh, b + 4, sizeof qh);
    const __m128i q = loadBytes(b + 8);
    affine16(_mm_or_si128(lowNibbles(q), fifthBits(qh, 0)), d, m, y);
    affine16(_mm_or_si128(highNibbles(q), fifthBits(qh, 16)), d, m, y + 16);
}

void blockQ8_0Avx2(const std::byte* b, float* y) {
    const __m256 d = _mm256_set1_ps(halfAt(b));
    const __m128i q0 = loadBytes(b + 2);
    const __m128i q1 = loadBytes(b + 18);
    _mm256_storeu_ps(y, _mm256_mul_ps(signedBytesToFloats(q0), d));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(signedBytesToFloats(_mm_srli_si128(q0, 8)), d));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(signedBytesToFloats(q1), d));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(signedBytesToFloats(_mm_srli_si128(q1, 8)), d));
}

void blockQ2_KAvx2(const std::byte* b, float* y) {
    const float d = halfAt(b + 80);
    const float dmin = halfAt(b + 82);
    const __m128i three = _mm_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        const __m128i qa = loadBytes(b + 16 + 32 * h);
        const __m128i qb = loadBytes(b + 16 + 32 * h + 16);
        for (int j = 0; j < 4; ++j) {
            const __m128i shift = _mm_cvtsi32_si128(2 * j);
            for (int half = 0; half < 2; ++half) {
                const int group = h * 8 + j * 2 + half;
                const std::uint8_t sc = u8(b + group);
                const __m256 dl = _mm256_set1_ps(d * static_cast<float>(sc & 0x0F));
                const __m256 ml = _mm256_set1_ps(dmin * static_cast<float>(sc >> 4));
                // Shifting 16-bit lanes keeps each byte's bits 2j, 2j+1 in its own bits 0, 1.
                const __m128i q = _mm_and_si128(_mm_srl_epi16(half ? qb : qa, shift), three);
                affineSub16(q, dl, ml, y + 16 * group);
            }
        }
    }
}

// Q5_K: per 32-value group, low nibble | bit (2c or 2c+1) of qh << 4, times d*s, minus dmin*m.
void blockQ5_KAvx2(const std::byte* b, float* y) {
    const float d = halfAt(b);
    const float dmin = halfAt(b + 2);
    const __m128i qh0 = loadBytes(b + 16), qh1 = loadBytes(b + 32);
    const __m128i one = _mm_set1_epi8(1);
    for (int c = 0; c < 4; ++c) {
        const __m128i q0 = loadBytes(b + 48 + 32 * c), q1 = loadBytes(b + 48 + 32 * c + 16);
        for (int half = 0; half < 2; ++half) {
            int sc, m;
            scaleMinK4(b + 4, 2 * c + half, sc, m);
            const __m256 dl = _mm256_set1_ps(d * static_cast<float>(sc));
            const __m256 ml = _mm256_set1_ps(dmin * static_cast<float>(m));
            const __m128i bit = _mm_cvtsi32_si128(2 * c + half);
            const __m128i h0 = _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(qh0, bit), one), 4);
            const __m128i h1 = _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(qh1, bit), one), 4);
            const __m128i v0 = _mm_or_si128(half ? highNibbles(q0) : lowNibbles(q0), h0);
            const __m128i v1 = _mm_or_si128(half ? highNibbles(q1) : lowNibbles(q1), h1);
            affineSub16(v0, dl, ml, y + 64 * c + 32 * half);
            affineSub16(v1, dl, ml, y + 64 * c + 32 * half + 16);
        }
    }
}

// Q6_K: per 16-value group, (d * s) * (low nibble | 2 high bits << 4 - 32).
void blockQ6_KAvx2(const std::byte* b, float* y) {
    const float d = halfAt(b + 208);
    const __m256 bias = _mm256_set1_ps(32.0f);
    const __m128i three = _mm_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
            const __m128i shiftHigh = _mm_cvtsi32_si128(2 * k);
            for (int half = 0; half < 2; ++half) {
                const int group = 8 * h + 2 * k + half;
                const float s = static_cast<float>(static_cast<std::int8_t>(u8(b + 192 + group)));
                const __m256 ds = _mm256_set1_ps(d * s);
                const __m128i lo = loadBytes(b + 64 * h + 32 * (k & 1) + 16 * half);
                const __m128i hi = loadBytes(b + 128 + 32 * h + 16 * half);
                const __m128i v = _mm_or_si128(k < 2 ? lowNibbles(lo) : highNibbles(lo),
                                               _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(hi, shiftHigh), three), 4));
                scale16(v, bias, ds, y + 16 * group);
            }
        }
    }
}
#endif

void decodeF16(const std::byte* src, float* dst, std::int64_t n) {
    std::int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) dst[i] = halfAt(src + 2 * i);
}

void decodeBf16(const std::byte* src, float* dst, std::int64_t n) {
    // Through a small aligned buffer: `src` may sit at an odd address (GGUF
    // alignment can be 1), and the shift loop then vectorises.
    constexpr std::int64_t kChunk = 256;
    std::uint16_t bits[kChunk];
    for (std::int64_t i = 0; i < n; i += kChunk) {
        const std::int64_t m = n - i < kChunk ? n - i : kChunk;
        std::memcpy(bits, src + 2 * i, static_cast<std::size_t>(m) * 2);
        for (std::int64_t j = 0; j < m; ++j) {
            const std::uint32_t u = static_cast<std::uint32_t>(bits[j]) << 16;
            std::memcpy(dst + i + j, &u, sizeof u);
        }
    }
}

}  // namespace

const GgmlTypeInfo* ggmlTypeInfo(std::uint32_t id) {
    if (id >= kTable.size() || kTable[id].blockElements == 0) return nullptr;
    return &kTable[id];
}

const GgmlTypeInfo& ggmlTypeInfo(GgmlType type) {
    const GgmlTypeInfo* info = ggmlTypeInfo(static_cast<std::uint32_t>(type));
    SL_ASSERT(info != nullptr);
    return *info;
}

std::string_view dequantizableTypeList() {
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K";
}

namespace {

// `fast`: use the AVX2 block decoders where compiled in.
void dequantize(GgmlType type, const std::byte* src, float* dst, std::int64_t n, bool fast) {
    const GgmlTypeInfo& info = ggmlTypeInfo(type);
    SL_ASSERT(info.dequantizable);
    SL_ASSERT(n >= 0 && n % info.blockElements == 0);
    const std::int64_t blocks = n / info.blockElements;
    const std::int64_t bb = info.blockBytes;
    const std::int64_t be = info.blockElements;
#if defined(__AVX2__)
    if (fast) {
        switch (type) {
            case GgmlType::Q4_0: decodeBlocks<blockQ4_0Avx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q4_1: decodeBlocks<blockQ4_1Avx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q5_0: decodeBlocks<blockQ5_0Avx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q5_1: decodeBlocks<blockQ5_1Avx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q8_0: decodeBlocks<blockQ8_0Avx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q2_K: decodeBlocks<blockQ2_KAvx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q5_K: decodeBlocks<blockQ5_KAvx2>(src, dst, blocks, bb, be); return;
            case GgmlType::Q6_K: decodeBlocks<blockQ6_KAvx2>(src, dst, blocks, bb, be); return;
            default: break;
        }
    }
#else
    (void)fast;
#endif
    switch (type) {
        case GgmlType::F32: std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float)); return;
        case GgmlType::F16: decodeF16(src, dst, n); return;
        case GgmlType::BF16: decodeBf16(src, dst, n); return;
        case GgmlType::Q4_0: decodeBlocks<blockQ4_0>(src, dst, blocks, bb, be); return;
        case GgmlType::Q4_1: decodeBlocks<blockQ4_1>(src, dst, blocks, bb, be); return;
        case GgmlType::Q5_0: decodeBlocks<blockQ5_0>(src, dst, blocks, bb, be); return;
        case GgmlType::Q5_1: decodeBlocks<blockQ5_1>(src, dst, blocks, bb, be); return;
        case GgmlType::Q8_0: decodeBlocks<blockQ8_0>(src, dst, blocks, bb, be); return;
        case GgmlType::Q2_K: decodeBlocks<blockQ2_K>(src, dst, blocks, bb, be); return;
        case GgmlType::Q3_K: decodeBlocks<blockQ3_K>(src, dst, blocks, bb, be); return;
        case GgmlType::Q4_K: decodeBlocks<blockQ4_K>(src, dst, blocks, bb, be); return;
        case GgmlType::Q5_K: decodeBlocks<blockQ5_K>(src, dst, blocks, bb, be); return;
        case GgmlType::Q6_K: decodeBlocks<blockQ6_K>(src, dst, blocks, bb, be); return;
        case GgmlType::Q8_K: decodeBlocks<blockQ8_K>(src, dst, blocks, bb, be); return;
        default: break;
    }
    SL_ASSERT(!"dequantizable type without a decoder");
}

}  // namespace

void dequantizeRow(GgmlType type, const std::byte* src, float* dst, std::int64_t n) { dequantize(type, src, dst, n, true); }

void dequantizeRowPortable(GgmlType type, const std::byte* src, float* dst, std::int64_t n) { dequantize(type, src, dst, n, false); }

}  // namespace superlens::core

namespace superlens::core {

// The distance between adjacent codes at element `index` of one block: the
// scale the value was rounded to (d for the 32-blocks, d times the group's
// scale for the K-quants, from the same fields the decoders above read).
float ggmlQuantizationStep(GgmlType type, const std::byte* b, std::int64_t index) {
    switch (type) {
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0:
            return std::fabs(halfAt(b));
        case GgmlType::Q8_K: {
            float d;
            std::memcpy(&d, b, sizeof d);
            return std::fabs(d);
        }
        case GgmlType::Q2_K:
            return std::fabs(halfAt(b + 80) * static_cast<float>(u8(b + index / 16) & 0x0F));
        case GgmlType::Q3_K: {
            const int s = static_cast<int>(index / 16);
            const int low = s < 8 ? (u8(b + 96 + s) & 0x0F) : (u8(b + 96 + s - 8) >> 4);
            const int high = (u8(b + 96 + 8 + s % 4) >> (2 * (s / 4))) & 3;
            return std::fabs(halfAt(b + 108) * static_cast<float>((low | (high << 4)) - 32));
        }
        case GgmlType::Q4_K:
        case GgmlType::Q5_K: {
            int scale = 0, min = 0;
            scaleMinK4(b + 4, static_cast<int>(index / 32), scale, min);
            return std::fabs(halfAt(b) * static_cast<float>(scale));
        }
        case GgmlType::Q6_K: {
            const auto sc = static_cast<std::int8_t>(u8(b + 192 + index / 16));
            return std::fabs(halfAt(b + 208) * static_cast<float>(sc));
        }
        default:
            return 0.0f;
    }
}

float quantizationStep(const TensorView& v, std::int64_t r, std::int64_t c) {
    if (!v.gguf || !v.quantized) return 0.0f;
    const GgmlTypeInfo& t = v.gguf->typeInfo();
    return ggmlQuantizationStep(v.gguf->type, v.gguf->row(v.storedRow(r)) + (c / t.blockElements) * t.blockBytes, c % t.blockElements);
}

}  // namespace superlens::core
