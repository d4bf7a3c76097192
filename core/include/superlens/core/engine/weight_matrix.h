#pragma once
// What a linear layer multiplies by: the stored checkpoint tensor (mmap, any
// supported dtype) or an edited replacement held in memory (dense fp32 copy,
// low-rank factors, quantized codes). 1-D tensors are 1 x n matrices.
//
// Thread-safety: immutable after construction; decode from any thread.

#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Core>

#include "superlens/core/engine/compute_dtype.h"
#include "superlens/core/model/model.h"

namespace superlens::core {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class WeightMatrix {
public:
    virtual ~WeightMatrix() = default;
    virtual std::int64_t rows() const = 0;
    virtual std::int64_t cols() const = 0;
    // Writes rows [r0, r1) into dst, row-major with leading dimension cols().
    virtual void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const = 0;
    virtual void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const = 0;
    // Writes elements [c0, c1) of row r into dst (default: decodes the whole row).
    virtual void decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const;
    // Contiguous row-major fp32 values when the matrix has them (F32 checkpoints, dense copies).
    virtual const float* directF32() const { return nullptr; }
    // Low-rank form W = U * Vt, when the matrix is stored that way (LASER).
    struct LowRank {
        const RowMatrixF* u = nullptr;   // [rows, k], singular values folded in
        const RowMatrixF* vt = nullptr;  // [k, cols]
    };
    virtual LowRank lowRank() const { return {}; }
    // Bytes held in memory beyond the mmap (for memory budgets).
    virtual std::size_t ownedBytes() const { return 0; }

    float at(std::int64_t r, std::int64_t c) const;
    // The whole matrix as fp32 (a copy): for edits, SVDs and tests.
    RowMatrixF toDense() const;
};

using WeightPtr = std::shared_ptr<const WeightMatrix>;

// A checkpoint tensor, read through the mmap in its stored dtype.
class StoredWeight final : public WeightMatrix {
public:
    explicit StoredWeight(const TensorView& view);
    std::int64_t rows() const override { return m_rows; }
    std::int64_t cols() const override { return m_cols; }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    void decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const override;
    const float* directF32() const override;
    const TensorView& view() const { return m_view; }

private:
    TensorView m_view;
    std::int64_t m_rows, m_cols;
};

// A GGUF tensor read through the mmap: quantized blocks dequantized row by
// row right before use (a tile at a time inside linear layers, never the
// whole matrix), rows of llama.cpp-permuted q/k weights read in Hugging Face
// order.
class GgufWeight final : public WeightMatrix {
public:
    explicit GgufWeight(const TensorView& view);
    std::int64_t rows() const override { return m_rows; }
    std::int64_t cols() const override { return m_cols; }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    void decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const override;

private:
    TensorView m_view;
    std::int64_t m_rows, m_cols;
};

// The weight matrix of a checkpoint tensor: StoredWeight, or GgufWeight for
// quantized or permuted GGUF tensors.
WeightPtr makeStoredWeight(const TensorView& view);

// An fp32 copy owned in memory (element edits, dequantized or rank-reduced results).
class DenseWeight final : public WeightMatrix {
public:
    explicit DenseWeight(RowMatrixF values) : m_values(std::move(values)) {}
    std::int64_t rows() const override { return m_values.rows(); }
    std::int64_t cols() const override { return m_values.cols(); }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    const float* directF32() const override { return m_values.data(); }
    std::size_t ownedBytes() const override { return static_cast<std::size_t>(m_values.size()) * sizeof(float); }
    const RowMatrixF& values() const { return m_values; }

private:
    RowMatrixF m_values;
};

// The transpose of a matrix stored [in, out] (GPT-2's Conv1D weights), seen
// as the [out, in] matrix every kernel expects. Edits and transforms apply to
// the stored matrix (their coordinates index the tensor as stored); the
// engine wraps the result. decodeRows gathers stored columns (for scans and
// copies); kernels::linear multiplies by stored() directly in its layout.
class TransposedWeight final : public WeightMatrix {
public:
    explicit TransposedWeight(WeightPtr stored) : m_stored(std::move(stored)) {}
    std::int64_t rows() const override { return m_stored->cols(); }
    std::int64_t cols() const override { return m_stored->rows(); }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    std::size_t ownedBytes() const override { return m_stored->ownedBytes(); }
    const WeightMatrix& stored() const { return *m_stored; }

private:
    template <class S> void decode(std::int64_t r0, std::int64_t r1, S* dst) const;
    WeightPtr m_stored;
};

// A matrix seen in another dtype (precision emulation, EngineOptions::compute):
// every decoded value rounded to it, as `model.to(dtype)` stores it. Nothing
// is copied; rows are rounded as they are decoded.
class RoundedWeight final : public WeightMatrix {
public:
    RoundedWeight(WeightPtr inner, ComputeDtype dtype) : m_inner(std::move(inner)), m_dtype(dtype) {}
    std::int64_t rows() const override { return m_inner->rows(); }
    std::int64_t cols() const override { return m_inner->cols(); }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    void decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const override;
    std::size_t ownedBytes() const override { return m_inner->ownedBytes(); }

private:
    WeightPtr m_inner;
    ComputeDtype m_dtype;
};

// The matrix as the emulated dtype stores it: `w` itself when its values are
// already exact in that dtype (Float32, or a checkpoint stored in it),
// otherwise a RoundedWeight.
WeightPtr inComputeDtype(WeightPtr w, ComputeDtype dtype);

// W = U * Vt with U [rows, k] (singular values folded in) and Vt [k, cols].
class LowRankWeight final : public WeightMatrix {
public:
    LowRankWeight(RowMatrixF u, RowMatrixF vt) : m_u(std::move(u)), m_vt(std::move(vt)) {}
    std::int64_t rows() const override { return m_u.rows(); }
    std::int64_t cols() const override { return m_vt.cols(); }
    std::int64_t rank() const { return m_u.cols(); }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    void decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const override;
    LowRank lowRank() const override { return {&m_u, &m_vt}; }
    std::size_t ownedBytes() const override { return static_cast<std::size_t>(m_u.size() + m_vt.size()) * sizeof(float); }

private:
    RowMatrixF m_u, m_vt;
};

// Blockwise asymmetric quantization, kept as codes: value = minimum + code * scale
// per block of `blockSize` consecutive row-major elements, with exact
// overrides (e.g. super weights kept in full precision) applied on top.
class QuantizedWeight final : public WeightMatrix {
public:
    struct Override {
        std::int64_t index;  // row-major element index
        float value;
    };
    QuantizedWeight(std::int64_t rows, std::int64_t cols, std::int64_t blockSize, std::vector<std::uint8_t> codes,
                    std::vector<float> scales, std::vector<float> minimums, std::vector<Override> overrides);
    std::int64_t rows() const override { return m_rows; }
    std::int64_t cols() const override { return m_cols; }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    void decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const override;
    std::size_t ownedBytes() const override;
    std::int64_t blockSize() const { return m_blockSize; }
    const std::vector<Override>& overrides() const { return m_overrides; }

private:
    template <class S> void decode(std::int64_t begin, std::int64_t end, S* dst) const;  // row-major elements [begin, end)
    std::int64_t m_rows, m_cols, m_blockSize;
    std::vector<std::uint8_t> m_codes;
    std::vector<float> m_scales, m_minimums;
    std::vector<Override> m_overrides;  // sorted by index
};

// Converts n stored elements to fp32/fp64 (vectorised; used by decodeRows).
void decodeStored(DType dtype, const std::byte* src, std::int64_t n, float* dst);
void decodeStored(DType dtype, const std::byte* src, std::int64_t n, double* dst);

}  // namespace superlens::core
