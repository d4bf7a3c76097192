// Dequantization of every GGUF block type against an independent encoding
// written for this test: each format is described here by the bit positions
// of each value (the element -> byte/bit maps below, written from ggml's
// block definitions in ggml-common.h), known values are packed into blocks
// bit by bit and must come back exactly as the float64 formula says; random
// blocks are decoded value by value through the same maps and must equal the
// decoder's output bit for bit.

#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "superlens/core/model/gguf.h"
#include "superlens/core/model/gguf_quant.h"
#include "test_gguf_writer.h"

using namespace superlens::core;

namespace {

// ---- fp16 / bf16 written independently of core (float64 arithmetic) ----

double halfValue(std::uint16_t h) {
    const int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
    double v;
    if (exponent == 0) v = std::ldexp(mantissa, -24);
    else if (exponent == 31) v = mantissa ? std::nan("") : INFINITY;
    else v = std::ldexp(1024 + mantissa, exponent - 25);
    return sign ? -v : v;
}

// Encodes a value that fp16 represents exactly as a normal number (the tests pick such values).
std::uint16_t halfBits(double v) {
    const std::uint16_t sign = v < 0 ? 0x8000 : 0;
    const double a = std::fabs(v);
    if (a == 0) return sign;
    int e;
    const double frac = std::frexp(a, &e);  // a = frac * 2^e, frac in [0.5, 1)
    const int exponent = e - 1 + 15;
    const double mant = (frac * 2 - 1) * 1024;
    EXPECT_TRUE(exponent >= 1 && exponent <= 30 && mant == std::floor(mant)) << v << " is not an fp16 normal";
    const std::uint16_t h = static_cast<std::uint16_t>(sign | (exponent << 10) | static_cast<int>(mant));
    EXPECT_EQ(halfValue(h), v);
    return h;
}

// ---- a block as a bit field: bit i of byte k is bit 8k + i ----

struct Block {
    std::vector<std::uint8_t> bytes;
    explicit Block(std::size_t n) : bytes(n, 0) {}
    void put(std::size_t bit, int width, std::uint64_t value) {
        for (int i = 0; i < width; ++i) {
            const std::size_t b = bit + static_cast<std::size_t>(i);
            const std::uint8_t mask = static_cast<std::uint8_t>(1u << (b % 8));
            if ((value >> i) & 1) bytes[b / 8] |= mask;
            else bytes[b / 8] &= static_cast<std::uint8_t>(~mask);
        }
    }
    std::uint64_t get(std::size_t bit, int width) const {
        std::uint64_t v = 0;
        for (int i = 0; i < width; ++i) {
            const std::size_t b = bit + static_cast<std::size_t>(i);
            v |= static_cast<std::uint64_t>((bytes[b / 8] >> (b % 8)) & 1) << i;
        }
        return v;
    }
    void putHalf(std::size_t byte, double v) { put(8 * byte, 16, halfBits(v)); }
    double getHalf(std::size_t byte) const { return halfValue(static_cast<std::uint16_t>(get(8 * byte, 16))); }
};

std::int64_t signExtend(std::uint64_t v, int width) {
    const std::uint64_t sign = std::uint64_t{1} << (width - 1);
    return static_cast<std::int64_t>((v ^ sign)) - static_cast<std::int64_t>(sign);
}

// ---- the formats: where each field of each value lives ----
// All positions are in bits from the block start.

// 4-bit nibble of value e in a 32-value block whose 16 nibble bytes start at byte `at`:
// values 0-15 in the low nibbles, 16-31 in the high nibbles.
std::size_t nibble32(std::size_t at, int e) { return 8 * (at + e % 16) + 4 * (e / 16); }

// K-quant 6-bit scale and min j (Q4_K, Q5_K), 12 bytes at byte `at`:
// j < 4: scale = bits 0-5 of byte j, min = bits 0-5 of byte j+4;
// j >= 4: low 4 bits in byte j+4 (scale low nibble, min high nibble),
// top 2 bits in bits 6-7 of byte j-4 (scale) and byte j (min).
void putScaleMinK4(Block& b, std::size_t at, int j, int scale, int min) {
    if (j < 4) {
        b.put(8 * (at + j), 6, scale);
        b.put(8 * (at + j + 4), 6, min);
    } else {
        b.put(8 * (at + j + 4), 4, scale & 15);
        b.put(8 * (at + j + 4) + 4, 4, min & 15);
        b.put(8 * (at + j - 4) + 6, 2, scale >> 4);
        b.put(8 * (at + j) + 6, 2, min >> 4);
    }
}
std::pair<int, int> getScaleMinK4(const Block& b, std::size_t at, int j) {
    if (j < 4) return {static_cast<int>(b.get(8 * (at + j), 6)), static_cast<int>(b.get(8 * (at + j + 4), 6))};
    const int scale = static_cast<int>(b.get(8 * (at + j + 4), 4) | (b.get(8 * (at + j - 4) + 6, 2) << 4));
    const int min = static_cast<int>(b.get(8 * (at + j + 4) + 4, 4) | (b.get(8 * (at + j) + 6, 2) << 4));
    return {scale, min};
}

// Q2_K/Q3_K 2-bit field of value e: byte 32*(e/128) + e%32 of the 64 qs bytes at `at`, bit 2*((e%128)/32).
std::size_t twoBits256(std::size_t at, int e) { return 8 * (at + 32 * (e / 128) + e % 32) + 2 * ((e % 128) / 32); }
// Q4_K/Q5_K nibble of value e: byte 32*(e/64) + e%32 of the 128 qs bytes at `at`, high nibble for the second 32 of each 64.
std::size_t nibble256(std::size_t at, int e) { return 8 * (at + 32 * (e / 64) + e % 32) + 4 * ((e % 64) / 32); }
// One bit per value: bit e/32 of byte e%32 (Q3_K hmask, Q5_K qh).
std::size_t bitOf256(std::size_t at, int e) { return 8 * (at + e % 32) + e / 32; }
// Q3_K 6-bit scale s (stored +32): low 4 bits in nibble s/8 of byte s%8, top 2 bits at 2*(s/4) of byte 8 + s%4.
void putScaleQ3(Block& b, std::size_t at, int s, int stored) {
    b.put(8 * (at + s % 8) + 4 * (s / 8), 4, stored & 15);
    b.put(8 * (at + 8 + s % 4) + 2 * (s / 4), 2, stored >> 4);
}
int getScaleQ3(const Block& b, std::size_t at, int s) {
    return static_cast<int>(b.get(8 * (at + s % 8) + 4 * (s / 8), 4) | (b.get(8 * (at + 8 + s % 4) + 2 * (s / 4), 2) << 4));
}
// Q6_K value e (h = e/128, r = e%128, l = r%32, k = r/32): low nibble in byte
// 64h + l + 32*(k%2) at bit 4*(k/2); top 2 bits in byte 128 + 32h + l at bit 2k.
std::size_t q6Low(int e) {
    const int h = e / 128, r = e % 128, l = r % 32, k = r / 32;
    return 8 * static_cast<std::size_t>(64 * h + l + 32 * (k % 2)) + 4 * (k / 2);
}
std::size_t q6High(int e) {
    const int h = e / 128, r = e % 128, l = r % 32, k = r / 32;
    return 8 * static_cast<std::size_t>(128 + 32 * h + l) + 2 * k;
}

// ---- per type: the value of element e of a block (the format's formula) ----
// Evaluated in float: every intermediate product is exact, so the value is
// rounded once whatever the order; the order (scale x sub-block scale first,
// as ggml's reference decoder) still decides the sign of a zero result.

float valueOf(GgmlType t, const Block& b, int e) {
    switch (t) {
        case GgmlType::Q4_0: {
            const float d = static_cast<float>(b.getHalf(0));
            return static_cast<float>(static_cast<int>(b.get(nibble32(2, e), 4)) - 8) * d;
        }
        case GgmlType::Q4_1: {
            const float d = static_cast<float>(b.getHalf(0)), m = static_cast<float>(b.getHalf(2));
            return static_cast<float>(b.get(nibble32(4, e), 4)) * d + m;
        }
        case GgmlType::Q5_0: {
            const float d = static_cast<float>(b.getHalf(0));
            const int q = static_cast<int>(b.get(nibble32(6, e), 4) | (b.get(8 * 2 + e, 1) << 4));
            return static_cast<float>(q - 16) * d;
        }
        case GgmlType::Q5_1: {
            const float d = static_cast<float>(b.getHalf(0)), m = static_cast<float>(b.getHalf(2));
            const int q = static_cast<int>(b.get(nibble32(8, e), 4) | (b.get(8 * 4 + e, 1) << 4));
            return static_cast<float>(q) * d + m;
        }
        case GgmlType::Q8_0: {
            const float d = static_cast<float>(b.getHalf(0));
            return static_cast<float>(signExtend(b.get(8 * (2 + e), 8), 8)) * d;
        }
        case GgmlType::Q2_K: {
            const float d = static_cast<float>(b.getHalf(80)), dmin = static_cast<float>(b.getHalf(82));
            const int sc = static_cast<int>(b.get(8 * (e / 16), 4)), mn = static_cast<int>(b.get(8 * (e / 16) + 4, 4));
            const int q = static_cast<int>(b.get(twoBits256(16, e), 2));
            return (d * static_cast<float>(sc)) * static_cast<float>(q) - dmin * static_cast<float>(mn);
        }
        case GgmlType::Q3_K: {
            const float d = static_cast<float>(b.getHalf(108));
            const int sc = getScaleQ3(b, 96, e / 16) - 32;
            const int q = static_cast<int>(b.get(twoBits256(32, e), 2)) - (b.get(bitOf256(0, e), 1) ? 0 : 4);
            return (d * static_cast<float>(sc)) * static_cast<float>(q);
        }
        case GgmlType::Q4_K: {
            const float d = static_cast<float>(b.getHalf(0)), dmin = static_cast<float>(b.getHalf(2));
            const auto [sc, mn] = getScaleMinK4(b, 4, e / 32);
            const int q = static_cast<int>(b.get(nibble256(16, e), 4));
            return (d * static_cast<float>(sc)) * static_cast<float>(q) - dmin * static_cast<float>(mn);
        }
        case GgmlType::Q5_K: {
            const float d = static_cast<float>(b.getHalf(0)), dmin = static_cast<float>(b.getHalf(2));
            const auto [sc, mn] = getScaleMinK4(b, 4, e / 32);
            const int q = static_cast<int>(b.get(nibble256(48, e), 4) | (b.get(bitOf256(16, e), 1) << 4));
            return (d * static_cast<float>(sc)) * static_cast<float>(q) - dmin * static_cast<float>(mn);
        }
        case GgmlType::Q6_K: {
            const float d = static_cast<float>(b.getHalf(208));
            const int sc = static_cast<int>(signExtend(b.get(8 * (192 + e / 16), 8), 8));
            const int q = static_cast<int>(b.get(q6Low(e), 4) | (b.get(q6High(e), 2) << 4)) - 32;
            // d * sc is exact (11 + 8 bits); the product with q is the one rounding.
            return (d * static_cast<float>(sc)) * static_cast<float>(q);
        }
        case GgmlType::Q8_K: {
            const std::uint32_t bits = static_cast<std::uint32_t>(b.get(0, 32));
            float d;
            std::memcpy(&d, &bits, sizeof d);
            return d * static_cast<float>(signExtend(b.get(8 * (4 + e), 8), 8));
        }
        default: break;
    }
    ADD_FAILURE() << "no formula for " << ggmlTypeName(t);
    return 0;
}

struct Format {
    GgmlType type;
    std::int64_t elements;
    std::int64_t bytes;
};

// Block sizes from the specification (independent of core's table).
const Format kFormats[] = {
    {GgmlType::Q4_0, 32, 18}, {GgmlType::Q4_1, 32, 20}, {GgmlType::Q5_0, 32, 22},  {GgmlType::Q5_1, 32, 24},
    {GgmlType::Q8_0, 32, 34}, {GgmlType::Q2_K, 256, 84}, {GgmlType::Q3_K, 256, 110}, {GgmlType::Q4_K, 256, 144},
    {GgmlType::Q5_K, 256, 176}, {GgmlType::Q6_K, 256, 210}, {GgmlType::Q8_K, 256, 292},
};

bool sameFloat(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    std::uint32_t x, y;
    std::memcpy(&x, &a, 4);
    std::memcpy(&y, &b, 4);
    return x == y;
}

// Decodes with dequantizeRow (AVX2 paths where built) and checks that the
// portable decoders give the same bits.
std::vector<float> decode(GgmlType t, const std::vector<std::uint8_t>& bytes, std::int64_t n) {
    std::vector<float> out(static_cast<std::size_t>(n), -12345.0f), portable(static_cast<std::size_t>(n), -54321.0f);
    dequantizeRow(t, reinterpret_cast<const std::byte*>(bytes.data()), out.data(), n);
    dequantizeRowPortable(t, reinterpret_cast<const std::byte*>(bytes.data()), portable.data(), n);
    for (std::size_t i = 0; i < out.size(); ++i) {
        EXPECT_TRUE(sameFloat(out[i], portable[i])) << ggmlTypeName(t) << " value " << i << ": " << out[i] << " vs portable " << portable[i];
    }
    return out;
}

// ---- known values: the encoder packs them, the decoder must give back exactly these ----

// Quantized levels for value e of a block: a hash of e over the format's whole
// range, so values 32, 64 or 128 apart (which share bytes in the layouts) differ.
int level(int e, int lo, int hi) {
    std::uint64_t h = static_cast<std::uint64_t>(e + 1) * 0x9E3779B97F4A7C15ull;  // splitmix64's mixing
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    return lo + static_cast<int>(h % static_cast<std::uint64_t>(hi - lo + 1));
}

struct Encoded {
    Block block;
    std::vector<double> expected;
};

Encoded encodeKnown(GgmlType t, int seed) {
    const double d = std::ldexp(1.0 + (seed % 5) / 8.0, -6 - seed % 3);     // exact in fp16
    const double dmin = std::ldexp(1.0 + (seed % 3) / 4.0, -7);
    switch (t) {
        case GgmlType::Q4_0: {
            Encoded x{Block(18), {}};
            x.block.putHalf(0, d);
            for (int e = 0; e < 32; ++e) {
                const int q = level(e + seed, -8, 7);
                x.block.put(nibble32(2, e), 4, q + 8);
                x.expected.push_back(q * d);
            }
            return x;
        }
        case GgmlType::Q4_1: {
            Encoded x{Block(20), {}};
            const double m = -0.375 - seed * 0.125;
            x.block.putHalf(0, d);
            x.block.putHalf(2, m);
            for (int e = 0; e < 32; ++e) {
                const int q = level(e + seed, 0, 15);
                x.block.put(nibble32(4, e), 4, q);
                x.expected.push_back(q * d + m);
            }
            return x;
        }
        case GgmlType::Q5_0: {
            Encoded x{Block(22), {}};
            x.block.putHalf(0, -d);
            for (int e = 0; e < 32; ++e) {
                const int q = level(e + seed, -16, 15);
                x.block.put(nibble32(6, e), 4, (q + 16) & 15);
                x.block.put(16 + e, 1, (q + 16) >> 4);
                x.expected.push_back(q * -d);
            }
            return x;
        }
        case GgmlType::Q5_1: {
            Encoded x{Block(24), {}};
            const double m = 0.25 + seed * 0.5;
            x.block.putHalf(0, d);
            x.block.putHalf(2, m);
            for (int e = 0; e < 32; ++e) {
                const int q = level(e + seed, 0, 31);
                x.block.put(nibble32(8, e), 4, q & 15);
                x.block.put(32 + e, 1, q >> 4);
                x.expected.push_back(q * d + m);
            }
            return x;
        }
        case GgmlType::Q8_0: {
            Encoded x{Block(34), {}};
            x.block.putHalf(0, d);
            for (int e = 0; e < 32; ++e) {
                const int q = level(e * 5 + seed, -128, 127);
                x.block.put(8 * (2 + e), 8, static_cast<std::uint8_t>(q));
                x.expected.push_back(q * d);
            }
            return x;
        }
        case GgmlType::Q2_K: {
            Encoded x{Block(84), {}};
            x.block.putHalf(80, d);
            x.block.putHalf(82, dmin);
            for (int g = 0; g < 16; ++g) {
                x.block.put(8 * g, 4, level(g + seed, 0, 15));
                x.block.put(8 * g + 4, 4, level(g * 3 + seed, 0, 15));
            }
            for (int e = 0; e < 256; ++e) {
                const int q = level(e + seed, 0, 3);
                x.block.put(twoBits256(16, e), 2, q);
                x.expected.push_back(d * level(e / 16 + seed, 0, 15) * q - dmin * level(e / 16 * 3 + seed, 0, 15));
            }
            return x;
        }
        case GgmlType::Q3_K: {
            Encoded x{Block(110), {}};
            x.block.putHalf(108, d);
            for (int s = 0; s < 16; ++s) putScaleQ3(x.block, 96, s, level(s * 5 + seed, -32, 31) + 32);
            for (int e = 0; e < 256; ++e) {
                const int q = level(e + seed, -4, 3);
                x.block.put(twoBits256(32, e), 2, (q + 4) & 3);
                x.block.put(bitOf256(0, e), 1, (q + 4) >> 2);  // a set high bit means "no -4"
                x.expected.push_back(d * level(e / 16 * 5 + seed, -32, 31) * q);
            }
            return x;
        }
        case GgmlType::Q4_K:
        case GgmlType::Q5_K: {
            const bool five = t == GgmlType::Q5_K;
            Encoded x{Block(five ? 176 : 144), {}};
            x.block.putHalf(0, d);
            x.block.putHalf(2, dmin);
            for (int j = 0; j < 8; ++j) putScaleMinK4(x.block, 4, j, level(j * 9 + seed, 0, 63), level(j * 13 + seed + 1, 0, 63));
            for (int e = 0; e < 256; ++e) {
                const int q = level(e + seed, 0, five ? 31 : 15);
                x.block.put(nibble256(five ? 48 : 16, e), 4, q & 15);
                if (five) x.block.put(bitOf256(16, e), 1, q >> 4);
                const int j = e / 32;
                x.expected.push_back(d * level(j * 9 + seed, 0, 63) * q - dmin * level(j * 13 + seed + 1, 0, 63));
            }
            return x;
        }
        case GgmlType::Q6_K: {
            Encoded x{Block(210), {}};
            x.block.putHalf(208, d);
            for (int g = 0; g < 16; ++g) x.block.put(8 * (192 + g), 8, static_cast<std::uint8_t>(level(g * 11 + seed, -128, 127)));
            for (int e = 0; e < 256; ++e) {
                const int q = level(e + seed, -32, 31);
                x.block.put(q6Low(e), 4, (q + 32) & 15);
                x.block.put(q6High(e), 2, (q + 32) >> 4);
                x.expected.push_back(d * level(e / 16 * 11 + seed, -128, 127) * q);
            }
            return x;
        }
        case GgmlType::Q8_K: {
            Encoded x{Block(292), {}};
            const float df = 0.0123f * static_cast<float>(seed + 1);
            std::uint32_t bits;
            std::memcpy(&bits, &df, 4);
            x.block.put(0, 32, bits);
            for (int g = 0; g < 16; ++g) {
                int sum = 0;
                for (int e = 16 * g; e < 16 * g + 16; ++e) {
                    const int q = level(e * 3 + seed, -128, 127);
                    x.block.put(8 * (4 + e), 8, static_cast<std::uint8_t>(q));
                    x.expected.push_back(static_cast<double>(df) * q);
                    sum += q;
                }
                x.block.put(8 * (260 + 2 * g), 16, static_cast<std::uint16_t>(static_cast<std::int16_t>(sum)));
            }
            return x;
        }
        default: break;
    }
    ADD_FAILURE() << "no encoder for " << ggmlTypeName(t);
    return {Block(0), {}};
}

TEST(GgufQuant, TypeTableMatchesTheSpecification) {
    for (const Format& f : kFormats) {
        const GgmlTypeInfo* info = ggmlTypeInfo(static_cast<std::uint32_t>(f.type));
        ASSERT_NE(info, nullptr);
        EXPECT_EQ(info->blockElements, f.elements) << info->name;
        EXPECT_EQ(info->blockBytes, f.bytes) << info->name;
        EXPECT_TRUE(info->dequantizable) << info->name;
    }
    EXPECT_EQ(ggmlTypeName(GgmlType::Q4_K), "Q4_K");
    EXPECT_EQ(ggmlTypeInfo(GgmlType::BF16).blockBytes, 2);
    EXPECT_EQ(ggmlTypeInfo(GgmlType::F32).blockBytes, 4);
    // Known to ggml but not decoded: validated for size, refused by canDequantize.
    EXPECT_FALSE(canDequantize(GgmlType::IQ4_XS));
    EXPECT_EQ(ggmlTypeInfo(GgmlType::IQ4_XS).blockBytes, 136);
    EXPECT_FALSE(canDequantize(GgmlType::Q8_1));
    // Removed or never defined ids.
    for (std::uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u}) EXPECT_EQ(ggmlTypeInfo(id), nullptr) << id;
}

TEST(GgufQuant, KnownValuesPackedBitByBitComeBackExactly) {
    for (const Format& f : kFormats) {
        // Three blocks in one row, each with its own scales and levels.
        std::vector<std::uint8_t> row;
        std::vector<double> expected;
        for (int seed = 0; seed < 3; ++seed) {
            Encoded x = encodeKnown(f.type, seed);
            ASSERT_EQ(static_cast<std::int64_t>(x.block.bytes.size()), f.bytes);
            row.insert(row.end(), x.block.bytes.begin(), x.block.bytes.end());
            expected.insert(expected.end(), x.expected.begin(), x.expected.end());
        }
        const std::vector<float> got = decode(f.type, row, 3 * f.elements);
        for (std::size_t i = 0; i < got.size(); ++i) {
            ASSERT_EQ(got[i], static_cast<float>(expected[i])) << ggmlTypeName(f.type) << " value " << i;
        }
        // A sub-range starting at the second block decodes on its own (tile-by-tile use).
        std::vector<float> tail(static_cast<std::size_t>(f.elements));
        dequantizeRow(f.type, reinterpret_cast<const std::byte*>(row.data() + f.bytes), tail.data(), f.elements);
        for (std::int64_t i = 0; i < f.elements; ++i) ASSERT_EQ(tail[i], got[f.elements + i]) << ggmlTypeName(f.type);
    }
}

TEST(GgufQuant, RandomBlocksMatchTheBitMapsValueByValue) {
    std::mt19937_64 rng(20240611);
    for (const Format& f : kFormats) {
        for (int trial = 0; trial < 200; ++trial) {
            Block b(static_cast<std::size_t>(f.bytes));
            for (auto& byte : b.bytes) byte = static_cast<std::uint8_t>(rng());
            // Keep most scales finite so values are compared, not just NaN patterns;
            // every 10th block keeps whatever the random bits say (Inf/NaN scales included).
            if (trial % 10 != 0) {
                auto finiteHalf = [&](std::size_t byte) { b.put(8 * byte + 10, 5, 1 + rng() % 29); };
                switch (f.type) {
                    case GgmlType::Q4_1:
                    case GgmlType::Q5_1:
                    case GgmlType::Q4_K:
                    case GgmlType::Q5_K: finiteHalf(0); finiteHalf(2); break;
                    case GgmlType::Q2_K: finiteHalf(80); finiteHalf(82); break;
                    case GgmlType::Q3_K: finiteHalf(108); break;
                    case GgmlType::Q6_K: finiteHalf(208); break;
                    case GgmlType::Q8_K: b.put(23, 8, 100 + rng() % 50); break;
                    default: finiteHalf(0); break;
                }
            }
            const std::vector<float> got = decode(f.type, b.bytes, f.elements);
            for (int e = 0; e < f.elements; ++e) {
                const float want = valueOf(f.type, b, e);
                ASSERT_TRUE(sameFloat(got[static_cast<std::size_t>(e)], want))
                    << ggmlTypeName(f.type) << " trial " << trial << " value " << e << ": " << got[static_cast<std::size_t>(e)] << " vs " << want;
            }
        }
    }
}

TEST(GgufQuant, PlainFloatTypes) {
    // F16: normals, subnormals, signed zero, infinities, NaN.
    const std::vector<std::uint16_t> halves = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7BFF, 0x3555, 0x0400};
    std::vector<std::uint8_t> bytes;
    for (std::uint16_t h : halves) {
        bytes.push_back(static_cast<std::uint8_t>(h & 0xFF));
        bytes.push_back(static_cast<std::uint8_t>(h >> 8));
    }
    // Past 8 values the vector path and the scalar tail both run: check all of them.
    std::vector<float> got = decode(GgmlType::F16, bytes, static_cast<std::int64_t>(halves.size()));
    for (std::size_t i = 0; i < halves.size(); ++i) {
        ASSERT_TRUE(sameFloat(got[i], static_cast<float>(halfValue(halves[i])))) << i;
        if (halves[i] == 0x8000) {
            EXPECT_TRUE(std::signbit(got[i]));
        }
    }
    // BF16: the upper half of an IEEE float, at an odd address.
    std::vector<std::uint8_t> b16 = {0xAA};
    const std::vector<float> floats = {1.0f, -2.5f, 3.0e38f, -0.0f, 1.0e-40f};
    for (float f : floats) {
        std::uint32_t u;
        std::memcpy(&u, &f, 4);
        b16.push_back(static_cast<std::uint8_t>((u >> 16) & 0xFF));
        b16.push_back(static_cast<std::uint8_t>(u >> 24));
    }
    std::vector<float> outB(floats.size());
    dequantizeRow(GgmlType::BF16, reinterpret_cast<const std::byte*>(b16.data() + 1), outB.data(), static_cast<std::int64_t>(floats.size()));
    for (std::size_t i = 0; i < floats.size(); ++i) {
        std::uint32_t u;
        std::memcpy(&u, &floats[i], 4);
        u &= 0xFFFF0000u;
        float want;
        std::memcpy(&want, &u, 4);
        EXPECT_TRUE(sameFloat(outB[i], want)) << i;
    }
    // F32 is a copy.
    const std::vector<float> f32 = {1.5f, -0.0f, 7e-45f};
    std::vector<float> outF(3);
    dequantizeRow(GgmlType::F32, reinterpret_cast<const std::byte*>(f32.data()), outF.data(), 3);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(sameFloat(outF[i], f32[i]));
    // A long F16 row (vector path) equals value-by-value decoding.
    std::mt19937 rng(7);
    std::vector<std::uint8_t> longRow(2 * 1000);
    for (auto& x : longRow) x = static_cast<std::uint8_t>(rng());
    got = decode(GgmlType::F16, longRow, 1000);
    for (std::size_t i = 0; i < 1000; ++i) {
        const std::uint16_t h = static_cast<std::uint16_t>(longRow[2 * i] | (longRow[2 * i + 1] << 8));
        ASSERT_TRUE(sameFloat(got[i], static_cast<float>(halfValue(h)))) << i;
    }
}

// A quantized tensor of every type inside a GGUF file made by the test writer:
// the reader finds rows of whole blocks and decodes them to the known values.
TEST(GgufQuant, EveryTypeInsideAFile) {
    namespace gw = superlens::test::gguf;
    gw::Builder builder;
    builder.kvString("general.architecture", "llama");
    std::vector<std::vector<double>> expected;
    for (const Format& f : kFormats) {
        // Two rows of two blocks each.
        std::string data;
        std::vector<double> values;
        for (int seed = 0; seed < 4; ++seed) {
            Encoded x = encodeKnown(f.type, seed + 1);
            data.append(reinterpret_cast<const char*>(x.block.bytes.data()), x.block.bytes.size());
            values.insert(values.end(), x.expected.begin(), x.expected.end());
        }
        builder.tensor({"t." + std::string(ggmlTypeName(f.type)), {static_cast<std::uint64_t>(2 * f.elements), 2},
                        static_cast<std::uint32_t>(f.type), data, std::nullopt, std::nullopt});
        expected.push_back(values);
    }
    const std::string bytes = builder.build();
    std::vector<std::byte> buffer(bytes.size());
    std::memcpy(buffer.data(), bytes.data(), bytes.size());
    auto file = GgufFile::fromBytes(std::move(buffer), "quantized.gguf");
    ASSERT_TRUE(file.ok()) << file.error().message;
    for (std::size_t i = 0; i < std::size(kFormats); ++i) {
        const Format& f = kFormats[i];
        const GgufTensor* t = (*file)->findTensor("t." + std::string(ggmlTypeName(f.type)));
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(t->type, f.type);
        EXPECT_EQ(t->rowCount(), 2);
        EXPECT_EQ(t->rowLength(), 2 * f.elements);
        EXPECT_EQ(t->rowBytes(), static_cast<std::uint64_t>(2 * f.bytes));
        EXPECT_EQ(t->byteSize, static_cast<std::uint64_t>(4 * f.bytes));
        EXPECT_EQ(t->shape(), (std::vector<std::int64_t>{2, 2 * f.elements}));
        std::vector<float> out(static_cast<std::size_t>(4 * f.elements));
        t->dequantizeRows(0, 2, out.data());
        for (std::size_t k = 0; k < out.size(); ++k) ASSERT_EQ(out[k], static_cast<float>(expected[i][k])) << ggmlTypeName(f.type) << " " << k;
        // The second row alone.
        std::vector<float> second(static_cast<std::size_t>(2 * f.elements));
        t->dequantizeRows(1, 1, second.data());
        for (std::size_t k = 0; k < second.size(); ++k) ASSERT_EQ(second[k], out[second.size() + k]);
    }
}

}  // namespace
