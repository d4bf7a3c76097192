#include "superlens/core/model/dtype.h"

#include <cmath>

namespace superlens::core {

std::optional<DType> dtypeFromName(std::string_view name) {
    if (name == "F32") return DType::F32;
    if (name == "F16") return DType::F16;
    if (name == "BF16") return DType::BF16;
    return std::nullopt;
}

float f16ToFloat(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu;
    const std::uint32_t mantissa = h & 0x3FFu;
    std::uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {
            // Subnormal half: value = mantissa * 2^-24, exactly representable in float.
            const float v = std::ldexp(static_cast<float>(mantissa), -24);
            float signed_v = sign ? -v : v;
            std::memcpy(&bits, &signed_v, sizeof bits);
        }
    } else if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

std::uint16_t floatToBf16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    const std::uint32_t roundingBias = 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>((u + roundingBias) >> 16);
}

std::uint16_t floatToF16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    const std::uint32_t absBits = u & 0x7FFFFFFFu;
    if (absBits >= 0x7F800000u) {  // inf or NaN
        return static_cast<std::uint16_t>(sign | 0x7C00u | (absBits > 0x7F800000u ? 0x200u : 0u));
    }
    if (absBits >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to inf
    float a;
    std::memcpy(&a, &absBits, sizeof a);
    if (absBits < 0x38800000u) {
        // Subnormal half: round a / 2^-24 to nearest even integer.
        const float scaled = a * 16777216.0f;  // exact: power of two
        const float rounded = std::nearbyint(scaled);  // default rounding mode: nearest even
        return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(rounded));
    }
    // Normal: drop 13 mantissa bits with round-to-nearest-even.
    const std::uint32_t rebias = absBits - (112u << 23);
    const std::uint32_t rounded = rebias + 0xFFFu + ((rebias >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

}  // namespace superlens::core
