#include "superlens/core/engine/weight_matrix.h"

#include <algorithm>
#include <cstring>
#include <vector>
#include <immintrin.h>

namespace superlens::core {

void decodeStored(DType dtype, const std::byte* src, std::int64_t n, float* dst) {
    switch (dtype) {
        case DType::F32:
            std::memcpy(dst, src, static_cast<std::size_t>(n) * 4);
            return;
        case DType::BF16: {
            // A 16-bit shift per element; this loop vectorises to AVX2 shifts.
            const auto* s = reinterpret_cast<const std::uint16_t*>(src);
            auto* d = reinterpret_cast<std::uint32_t*>(dst);
            for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<std::uint32_t>(s[i]) << 16;
            return;
        }
        case DType::F16: {
            // F16C is part of the x86-64-v3 baseline.
            const auto* s = reinterpret_cast<const std::uint16_t*>(src);
            std::int64_t i = 0;
            for (; i + 8 <= n; i += 8) {
                const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
                _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
            }
            for (; i < n; ++i) dst[i] = f16ToFloat(s[i]);
            return;
        }
    }
}

void decodeStored(DType dtype, const std::byte* src, std::int64_t n, double* dst) {
    constexpr std::int64_t kChunk = 1024;
    float tmp[kChunk];
    for (std::int64_t i = 0; i < n; i += kChunk) {
        const std::int64_t m = std::min(kChunk, n - i);
        decodeStored(dtype, src + i * static_cast<std::int64_t>(dtypeSize(dtype)), m, tmp);
        for (std::int64_t j = 0; j < m; ++j) dst[i + j] = tmp[j];
    }
}

float WeightMatrix::at(std::int64_t r, std::int64_t c) const {
    if (const float* p = directF32()) return p[r * cols() + c];
    std::vector<float> row(static_cast<std::size_t>(cols()));
    decodeRows(r, r + 1, row.data());
    return row[static_cast<std::size_t>(c)];
}

void WeightMatrix::decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const {
    if (const float* p = directF32()) {
        std::copy(p + r * cols() + c0, p + r * cols() + c1, dst);
        return;
    }
    std::vector<float> row(static_cast<std::size_t>(cols()));
    decodeRows(r, r + 1, row.data());
    std::copy(row.begin() + c0, row.begin() + c1, dst);
}

void StoredWeight::decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const {
    const auto size = static_cast<std::int64_t>(dtypeSize(m_view.dtype));
    decodeStored(m_view.dtype, m_view.data + (r * m_cols + c0) * size, c1 - c0, dst);
}

GgufWeight::GgufWeight(const TensorView& view) : m_view(view) {
    m_rows = view.shape.size() <= 1 ? 1 : view.shape[0];
    m_cols = view.gguf->rowLength();
    SL_ASSERT(m_rows * m_cols == view.gguf->elementCount);
}

void GgufWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const {
    const GgufTensor& t = *m_view.gguf;
    if (m_view.qkHeads == 0) {
        t.dequantizeRows(r0, r1 - r0, dst);
        return;
    }
    for (std::int64_t r = r0; r < r1; ++r) t.dequantizeRows(m_view.storedRow(r), 1, dst + (r - r0) * m_cols);
}

void GgufWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const {
    std::vector<float> row(static_cast<std::size_t>(m_cols));
    for (std::int64_t r = r0; r < r1; ++r) {
        decodeRows(r, r + 1, row.data());
        std::copy(row.begin(), row.end(), dst + (r - r0) * m_cols);
    }
}

void GgufWeight::decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const {
    // Whole blocks around [c0, c1), then the part asked for.
    const GgufTensor& t = *m_view.gguf;
    const GgmlTypeInfo& info = t.typeInfo();
    const std::int64_t b0 = c0 / info.blockElements, b1 = (c1 + info.blockElements - 1) / info.blockElements;
    std::vector<float> buf(static_cast<std::size_t>((b1 - b0) * info.blockElements));
    dequantizeRow(t.type, t.row(m_view.storedRow(r)) + b0 * info.blockBytes, buf.data(), (b1 - b0) * info.blockElements);
    std::copy(buf.begin() + (c0 - b0 * info.blockElements), buf.begin() + (c1 - b0 * info.blockElements), dst);
}

WeightPtr makeStoredWeight(const TensorView& view) {
    if (view.gguf && (view.quantized || view.qkHeads > 0)) return std::make_shared<GgufWeight>(view);
    return std::make_shared<StoredWeight>(view);
}

template <class S>
void TransposedWeight::decode(std::int64_t r0, std::int64_t r1, S* dst) const {
    // Logical rows [r0, r1) are stored columns: read a block of stored rows'
    // segments (each contiguous), then write the block transposed, so dst is
    // filled in runs of kBlock consecutive elements.
    constexpr std::int64_t kBlock = 64;
    const std::int64_t in = m_stored->rows(), width = r1 - r0;
    if (width <= 0) return;
    std::vector<float> block(static_cast<std::size_t>(std::min(in, kBlock) * width));
    for (std::int64_t i0 = 0; i0 < in; i0 += kBlock) {
        const std::int64_t i1 = std::min(in, i0 + kBlock);
        for (std::int64_t i = i0; i < i1; ++i) m_stored->decodeRowSegment(i, r0, r1, block.data() + (i - i0) * width);
        for (std::int64_t j = 0; j < width; ++j) {
            S* d = dst + j * in;
            for (std::int64_t i = i0; i < i1; ++i) d[i] = static_cast<S>(block[static_cast<std::size_t>((i - i0) * width + j)]);
        }
    }
}

void TransposedWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const { decode(r0, r1, dst); }
void TransposedWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const { decode(r0, r1, dst); }

RowMatrixF WeightMatrix::toDense() const {
    RowMatrixF m(rows(), cols());
    decodeRows(0, rows(), m.data());
    return m;
}

StoredWeight::StoredWeight(const TensorView& view) : m_view(view) {
    if (view.shape.size() <= 1) {  // vectors and scalars: one row
        m_rows = 1;
        m_cols = view.elementCount();
    } else {
        m_rows = view.shape[0];
        m_cols = view.elementCount() / std::max<std::int64_t>(1, view.shape[0]);
    }
}

void StoredWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const {
    const std::size_t es = dtypeSize(m_view.dtype);
    decodeStored(m_view.dtype, m_view.data + r0 * m_cols * static_cast<std::int64_t>(es), (r1 - r0) * m_cols, dst);
}

void StoredWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const {
    const std::size_t es = dtypeSize(m_view.dtype);
    decodeStored(m_view.dtype, m_view.data + r0 * m_cols * static_cast<std::int64_t>(es), (r1 - r0) * m_cols, dst);
}

const float* StoredWeight::directF32() const {
    // x86 loads tolerate the unaligned tensor starts safetensors allows.
    return m_view.dtype == DType::F32 ? reinterpret_cast<const float*>(m_view.data) : nullptr;
}

void DenseWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const {
    std::memcpy(dst, m_values.data() + r0 * cols(), static_cast<std::size_t>((r1 - r0) * cols()) * sizeof(float));
}

void DenseWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const {
    const float* src = m_values.data() + r0 * cols();
    for (std::int64_t i = 0; i < (r1 - r0) * cols(); ++i) dst[i] = src[i];
}

void LowRankWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const {
    Eigen::Map<RowMatrixF> out(dst, r1 - r0, cols());
    out.noalias() = m_u.middleRows(r0, r1 - r0) * m_vt;
}

void LowRankWeight::decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const {
    Eigen::Map<Eigen::Matrix<float, 1, Eigen::Dynamic>> out(dst, c1 - c0);
    out.noalias() = m_u.row(r) * m_vt.middleCols(c0, c1 - c0);
}

void LowRankWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const {
    using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<RowMatrixD> out(dst, r1 - r0, cols());
    out.noalias() = m_u.middleRows(r0, r1 - r0).cast<double>() * m_vt.cast<double>();
}

QuantizedWeight::QuantizedWeight(std::int64_t rows, std::int64_t cols, std::int64_t blockSize, std::vector<std::uint8_t> codes,
                                 std::vector<float> scales, std::vector<float> minimums, std::vector<Override> overrides)
    : m_rows(rows), m_cols(cols), m_blockSize(blockSize), m_codes(std::move(codes)), m_scales(std::move(scales)),
      m_minimums(std::move(minimums)), m_overrides(std::move(overrides)) {
    std::sort(m_overrides.begin(), m_overrides.end(), [](const Override& a, const Override& b) { return a.index < b.index; });
}

template <class S>
void QuantizedWeight::decode(std::int64_t begin, std::int64_t end, S* dst) const {
    for (std::int64_t i = begin; i < end; ++i) {
        const std::int64_t b = i / m_blockSize;
        dst[i - begin] = static_cast<S>(m_minimums[b] + static_cast<float>(m_codes[i]) * m_scales[b]);
    }
    auto it = std::lower_bound(m_overrides.begin(), m_overrides.end(), begin, [](const Override& o, std::int64_t v) { return o.index < v; });
    for (; it != m_overrides.end() && it->index < end; ++it) dst[it->index - begin] = static_cast<S>(it->value);
}

void QuantizedWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const { decode(r0 * m_cols, r1 * m_cols, dst); }
void QuantizedWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const { decode(r0 * m_cols, r1 * m_cols, dst); }
void QuantizedWeight::decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const {
    decode(r * m_cols + c0, r * m_cols + c1, dst);
}

std::size_t QuantizedWeight::ownedBytes() const {
    return m_codes.size() + (m_scales.size() + m_minimums.size()) * sizeof(float) + m_overrides.size() * sizeof(Override);
}

void RoundedWeight::decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const {
    m_inner->decodeRows(r0, r1, dst);
    roundToDtype(m_dtype, dst, (r1 - r0) * cols());
}

void RoundedWeight::decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const {
    m_inner->decodeRows(r0, r1, dst);
    roundToDtype(m_dtype, dst, (r1 - r0) * cols());
}

void RoundedWeight::decodeRowSegment(std::int64_t r, std::int64_t c0, std::int64_t c1, float* dst) const {
    m_inner->decodeRowSegment(r, c0, c1, dst);
    roundToDtype(m_dtype, dst, c1 - c0);
}

WeightPtr inComputeDtype(WeightPtr w, ComputeDtype dtype) {
    if (!w || dtype == ComputeDtype::Float32) return w;
    if (const auto* stored = dynamic_cast<const StoredWeight*>(w.get())) {
        const DType d = stored->view().dtype;
        if ((d == DType::BF16 && dtype == ComputeDtype::BFloat16) || (d == DType::F16 && dtype == ComputeDtype::Float16)) return w;
    }
    return std::make_shared<RoundedWeight>(std::move(w), dtype);
}

}  // namespace superlens::core
