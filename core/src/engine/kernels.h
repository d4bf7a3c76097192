#pragma once
// Numeric kernels of the forward pass, templated on the compute scalar
// (float for speed, double for reference checks). Internal to core.

#include <cstdint>

#include <Eigen/Core>

#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"

namespace superlens::core::kernels {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Y[n, out] = X[n, in] * W^T, W stored [out, in] (Hugging Face Linear).
// Rows of W are split statically across the pool's workers (one token:
// each starts on its own slice and then helps the slower, row_claims.h); bf16/f16
// weights are decoded tile by tile right before their GEMM, so no fp32 copy
// of the checkpoint is ever held. Deterministic: same inputs, same bits.
// A TransposedWeight (a matrix S stored [in, out], GPT-2's Conv1D) is
// multiplied in its stored layout, Y = X * S (float: NN GEMM on the mapped
// f32 matrix or on decoded column panels; one token: a GEMV streaming S's
// rows; low-rank S = U Vt: (X U) Vt), split over output columns.
template <class S>
void linear(const WeightMatrix& w, const Mat<S>& x, Mat<S>& y, ThreadPool& pool);

// Decodes a 1 x n weight (norm weights, biases) to a vector.
template <class S>
Eigen::Matrix<S, Eigen::Dynamic, 1> vectorOf(const WeightMatrix& w);

// Rows of the embedding for the given ids.
template <class S>
void gatherRows(const WeightMatrix& w, const std::int32_t* ids, std::int64_t n, Mat<S>& out);

// Hugging Face LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * weight (weight may be empty = 1).
template <class S>
void rmsNorm(const Mat<S>& x, const Eigen::Matrix<S, Eigen::Dynamic, 1>& weight, double eps, Mat<S>& out);

// LayerNorm: (x - mean) / sqrt(var + eps) * weight + bias, population
// variance; an empty weight or bias is left out (OLMo has neither).
template <class S>
void layerNorm(const Mat<S>& x, const Eigen::Matrix<S, Eigen::Dynamic, 1>& weight, const Eigen::Matrix<S, Eigen::Dynamic, 1>& bias, double eps,
               Mat<S>& out);

}  // namespace superlens::core::kernels
