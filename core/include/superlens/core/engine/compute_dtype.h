#pragma once
// The dtype a forward pass emulates (EngineOptions::compute) and the rounding
// to it.

#include <cstdint>
#include <string>

#include "superlens/core/result.h"

namespace superlens::core {

// Precision emulation: the dtype the model would run in under Hugging Face
// (`model.to(torch.bfloat16)`). Float32 = no rounding (the exact engine).
// BFloat16/Float16: weights are rounded to the dtype, and every op output is
// rounded to it where PyTorch's forward in that dtype rounds (Linear outputs
// once after the fp32-accumulated product and bias, norms, rotary products
// and sums, attention scores, softmax outputs, residual adds, activations;
// docs/ANALYSIS.md, "Precision emulation"). The arithmetic between the
// rounding points stays in the engine's Precision.
enum class ComputeDtype { Float32, BFloat16, Float16 };
// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16"; the error lists them.
Result<ComputeDtype> parseComputeDtype(const std::string& name);
const char* computeDtypeName(ComputeDtype dtype);  // "fp32", "bf16", "fp16"

// Rounds n values in place to the dtype (round to nearest, ties to even; fp16
// overflows to +-inf and keeps subnormals, as a cast does). Float32: nothing.
void roundToDtype(ComputeDtype dtype, float* values, std::int64_t n);
void roundToDtype(ComputeDtype dtype, double* values, std::int64_t n);
// One value.
float roundedToDtype(ComputeDtype dtype, float value);

}  // namespace superlens::core
