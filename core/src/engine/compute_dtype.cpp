#include "superlens/core/engine/compute_dtype.h"

#include <bit>
#include <cmath>

#include "superlens/core/model/dtype.h"

namespace superlens::core {

Result<ComputeDtype> parseComputeDtype(const std::string& name) {
    if (name == "fp32" || name == "float32") return ComputeDtype::Float32;
    if (name == "bf16" || name == "bfloat16") return ComputeDtype::BFloat16;
    if (name == "fp16" || name == "float16") return ComputeDtype::Float16;
    return Error{"unknown compute dtype '" + name + "' (expected fp32, bf16 or fp16)"};
}

const char* computeDtypeName(ComputeDtype dtype) {
    switch (dtype) {
        case ComputeDtype::Float32: return "fp32";
        case ComputeDtype::BFloat16: return "bf16";
        case ComputeDtype::Float16: return "fp16";
    }
    return "fp32";
}

namespace {

// fp32 -> bf16 -> fp32, round to nearest even (PyTorch's c10::BFloat16
// conversion); NaN stays NaN, overflow rounds to inf as the bits carry.
inline float bf16Round(float v) {
    std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return v;  // NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return std::bit_cast<float>(bits & 0xffff0000u);
}

// fp32 -> fp16 -> fp32 through the hardware conversion (F16C: round to
// nearest even, subnormals kept, overflow to inf), as c10::Half does.
// clang 14 (the fuzz build's compiler, tests/fuzz) has no _Float16 on x86:
// there the same rounding in software (dtype.cpp's checkpoint converters;
// test_compute_dtype checks the two agree on every fp16 value, every tie and
// the floats either side of each).
#if defined(__clang__) && __clang_major__ < 15
inline float f16Round(float v) { return f16ToFloat(floatToF16(v)); }
#else
inline float f16Round(float v) { return static_cast<float>(static_cast<_Float16>(v)); }
#endif

}  // namespace

float roundedToDtype(ComputeDtype dtype, float value) {
    switch (dtype) {
        case ComputeDtype::Float32: return value;
        case ComputeDtype::BFloat16: return bf16Round(value);
        case ComputeDtype::Float16: return f16Round(value);
    }
    return value;
}

void roundToDtype(ComputeDtype dtype, float* values, std::int64_t n) {
    if (dtype == ComputeDtype::BFloat16) {
        for (std::int64_t i = 0; i < n; ++i) values[i] = bf16Round(values[i]);
    } else if (dtype == ComputeDtype::Float16) {
        for (std::int64_t i = 0; i < n; ++i) values[i] = f16Round(values[i]);
    }
}

void roundToDtype(ComputeDtype dtype, double* values, std::int64_t n) {
    if (dtype == ComputeDtype::Float32) return;
    for (std::int64_t i = 0; i < n; ++i) values[i] = roundedToDtype(dtype, static_cast<float>(values[i]));
}

}  // namespace superlens::core
