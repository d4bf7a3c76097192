#pragma once
// Helpers shared by the compression tests: synthetic weight matrices shaped
// like LLM weights, and a WeightMatrix without a direct fp32 pointer so the
// decode (bf16-like) paths are exercised too.

#include <cmath>
#include <random>

#include "superlens/core/engine/weight_matrix.h"

namespace superlens::test {

using core::RowMatrixF;

// Serves rows through decodeRows only (like a bf16 checkpoint tensor).
class IndirectWeight final : public core::WeightMatrix {
public:
    explicit IndirectWeight(RowMatrixF values) : m_values(std::move(values)) {}
    std::int64_t rows() const override { return m_values.rows(); }
    std::int64_t cols() const override { return m_values.cols(); }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override {
        std::copy(m_values.data() + r0 * cols(), m_values.data() + r1 * cols(), dst);
    }
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override {
        std::copy(m_values.data() + r0 * cols(), m_values.data() + r1 * cols(), dst);
    }

private:
    RowMatrixF m_values;
};

// N(0, 0.02) noise (a flat Marchenko-Pastur bulk) plus a decaying low-rank
// part (power law over `structured` directions) and a few outlier weights:
// the spectrum shape of trained transformer matrices.
inline RowMatrixF llmLikeMatrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, int structured = 64, int outliers = 4) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    RowMatrixF a(rows, cols);
    for (std::int64_t i = 0; i < a.size(); ++i) a.data()[i] = 0.02f * normal(rng);
    RowMatrixF b(rows, structured), c(structured, cols);
    for (std::int64_t i = 0; i < b.size(); ++i) b.data()[i] = normal(rng);
    for (std::int64_t i = 0; i < c.size(); ++i) c.data()[i] = normal(rng);
    for (int j = 0; j < structured; ++j) {
        const float s = 0.02f * 4.0f / std::pow(static_cast<float>(j + 1), 0.8f) / std::sqrt(static_cast<float>(cols));
        b.col(j) *= s;
    }
    a += b * c;
    std::uniform_int_distribution<std::int64_t> pick(0, a.size() - 1);
    for (int i = 0; i < outliers; ++i) a.data()[pick(rng)] = (i % 2 ? -1.0f : 1.0f) * (2.0f + static_cast<float>(i));
    return a;
}

}  // namespace superlens::test
