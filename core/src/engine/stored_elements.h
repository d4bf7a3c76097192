#pragma once
// Weight elements as a checkpoint stores them (f32, bf16, f16), read as fp32
// by the engine's AVX2 kernels (x86-64-v3 baseline): the tile decoder and the
// single-token GEMV (kernels.cpp, gemv.cpp) share these, one home each.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <immintrin.h>

#include "superlens/core/model/dtype.h"

namespace superlens::core::stored {

// Stored elements of dtype D: F32 as float, BF16/F16 as their 16 bits.
template <DType D>
using Stored = std::conditional_t<D == DType::F32, float, std::uint16_t>;

template <DType D>
inline float toFloat(Stored<D> v) {
    if constexpr (D == DType::F32) return v;
    else if constexpr (D == DType::BF16) return bf16ToFloat(v);
    else return f16ToFloat(v);
}

// The element at p as fp32. Tensors may start at any byte offset of a
// safetensors file (and the test fixtures place them at odd ones), so
// elements are read by memcpy, never through a typed pointer: an f32 at an
// address that is not a multiple of 4 is undefined behaviour in C++
// (UndefinedBehaviorSanitizer reported it in the scalar tail of gemvColumns).
template <DType D>
inline float loadOne(const Stored<D>* p) {
    Stored<D> v;
    std::memcpy(&v, p, sizeof v);
    return toFloat<D>(v);
}

// Eight consecutive elements as fp32 (exact: bf16 and f16 widen without rounding).
template <DType D>
inline __m256 load8(const Stored<D>* p) {
    if constexpr (D == DType::F32) {
        return _mm256_loadu_ps(p);
    } else {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        if constexpr (D == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        else return _mm256_cvtph_ps(h);
    }
}

}  // namespace superlens::core::stored
