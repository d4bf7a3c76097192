#pragma once
// The quantization step of a stored weight: the distance between adjacent
// codes where it lives, i.e. the scale its value was rounded to. What
// `compare` divides a quantization error by ("error in steps").

#include <cstddef>
#include <cstdint>

#include "superlens/core/model/gguf_quant.h"
#include "superlens/core/model/model.h"

namespace superlens::core {

// At element `index` (0 <= index < blockElements) of the ggml block at
// `block`: |d| for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_K; |d x group scale|
// for Q2_K, Q3_K, Q4_K, Q5_K and Q6_K (from the same fields the decoders
// read). 0 for F32, F16, BF16 and types without a decoder.
float ggmlQuantizationStep(GgmlType type, const std::byte* block, std::int64_t index);

// At logical element (r, c) of a checkpoint tensor (GGUF q/k rows un-permuted
// as TensorView::at does); 0 when the tensor is not block-quantized
// (safetensors, GGUF F32/F16/BF16).
float quantizationStep(const TensorView& view, std::int64_t r, std::int64_t c);

}  // namespace superlens::core
