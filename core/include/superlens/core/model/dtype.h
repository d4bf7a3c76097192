#pragma once
// Storage dtypes of checkpoint tensors and scalar conversions to fp32.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace superlens::core {

enum class DType { F32, F16, BF16 };

constexpr std::size_t dtypeSize(DType t) {
    return t == DType::F32 ? 4 : 2;
}

constexpr std::string_view dtypeName(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
    }
    return "?";
}

std::optional<DType> dtypeFromName(std::string_view safetensorsName);

// bf16 is the upper half of an IEEE float: the conversion is a 16-bit shift.
inline float bf16ToFloat(std::uint16_t bits) {
    const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// IEEE half -> float, exact for normals, subnormals, infinities and NaN.
float f16ToFloat(std::uint16_t bits);

// Round-to-nearest-even float -> bf16 / f16 (used to write test checkpoints
// and to reproduce what a checkpoint stores).
std::uint16_t floatToBf16(float f);
std::uint16_t floatToF16(float f);

}  // namespace superlens::core
