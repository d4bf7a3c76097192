#pragma once
// A recorded activation tensor: float32 values, row-major, with its shape
// from the hook table (e.g. [T, d], or [H, T, T] for attention patterns).

#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Core>

namespace superlens::core {

struct ActivationTensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;

    // All but the last dimension folded into rows.
    std::int64_t rows() const {
        std::int64_t r = 1;
        for (std::size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
        return r;
    }
    std::int64_t cols() const { return shape.empty() ? 0 : shape.back(); }
    float at(std::int64_t row, std::int64_t col) const { return values[static_cast<std::size_t>(row * cols() + col)]; }
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> matrix() const {
        return {values.data(), rows(), cols()};
    }
};

using ActivationPtr = std::shared_ptr<const ActivationTensor>;

}  // namespace superlens::core
