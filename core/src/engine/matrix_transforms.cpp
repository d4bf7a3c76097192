#include "superlens/core/engine/matrix_transforms.h"

#include <algorithm>
#include <cmath>

#include <Eigen/SVD>

namespace superlens::core {

std::int64_t laserRank(std::int64_t rows, std::int64_t cols, double rho) {
    const auto full = std::min(rows, cols);
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(rho * static_cast<double>(full))));
}

WeightPtr rankReduce(const WeightMatrix& w, double rho) {
    const std::int64_t k = laserRank(w.rows(), w.cols(), rho);
    // Exact SVD in double: the truncation error is then exactly the tail of
    // the singular spectrum (Eckart-Young), nothing more.
    const Eigen::MatrixXd a = w.toDense().cast<double>();
    Eigen::BDCSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Eigen::MatrixXd u = svd.matrixU().leftCols(k) * svd.singularValues().head(k).asDiagonal();
    const Eigen::MatrixXd vt = svd.matrixV().leftCols(k).transpose();
    return std::make_shared<LowRankWeight>(u.cast<float>(), vt.cast<float>());
}

WeightPtr quantizeRtn(const WeightMatrix& w, const RtnOptions& o) {
    const RowMatrixF values = w.toDense();
    const std::int64_t n = values.size();
    const std::int64_t block = o.block > 0 ? std::min(o.block, n) : n;
    const std::int64_t blocks = (n + block - 1) / block;
    const float* v = values.data();
    const int levels = (1 << o.bits) - 1;

    std::vector<std::int64_t> keepIndex;
    for (const auto& [r, c] : o.keep) keepIndex.push_back(r * w.cols() + c);
    std::sort(keepIndex.begin(), keepIndex.end());
    auto isKept = [&](std::int64_t i) { return std::binary_search(keepIndex.begin(), keepIndex.end(), i); };

    std::vector<std::uint8_t> codes(static_cast<std::size_t>(n));
    std::vector<float> scales(static_cast<std::size_t>(blocks)), minimums(static_cast<std::size_t>(blocks));
    std::vector<float> work;
    for (std::int64_t b = 0; b < blocks; ++b) {
        const std::int64_t begin = b * block, end = std::min(n, begin + block);
        work.clear();
        for (std::int64_t i = begin; i < end; ++i) if (!isKept(i)) work.push_back(v[i]);
        float lo = 0.0f, hi = 0.0f;
        if (!work.empty()) {
            lo = *std::min_element(work.begin(), work.end());
            hi = *std::max_element(work.begin(), work.end());
            if (o.zclip) {
                double mean = 0, sq = 0;
                for (float x : work) mean += x;
                mean /= static_cast<double>(work.size());
                for (float x : work) sq += (x - mean) * (x - mean);
                const double sd = std::sqrt(sq / static_cast<double>(work.size()));
                lo = std::max(lo, static_cast<float>(mean - *o.zclip * sd));
                hi = std::min(hi, static_cast<float>(mean + *o.zclip * sd));
            }
            if (o.pclip) {
                std::vector<float> sorted = work;
                std::sort(sorted.begin(), sorted.end());
                const double q = *o.pclip / 100.0;
                const auto at = [&](double p) { return sorted[static_cast<std::size_t>(std::llround(p * static_cast<double>(sorted.size() - 1)))]; };
                lo = std::max(lo, at(1.0 - q));
                hi = std::min(hi, at(q));
            }
        }
        const float scale = hi > lo ? (hi - lo) / static_cast<float>(levels) : 0.0f;
        scales[b] = scale;
        minimums[b] = lo;
        for (std::int64_t i = begin; i < end; ++i) {
            float q = scale > 0 ? std::nearbyint((std::clamp(v[i], lo, hi) - lo) / scale) : 0.0f;
            codes[i] = static_cast<std::uint8_t>(std::clamp(q, 0.0f, static_cast<float>(levels)));
        }
    }
    std::vector<QuantizedWeight::Override> overrides;
    for (std::int64_t i : keepIndex) overrides.push_back({i, v[i]});
    return std::make_shared<QuantizedWeight>(w.rows(), w.cols(), block, std::move(codes), std::move(scales), std::move(minimums),
                                             std::move(overrides));
}

}  // namespace superlens::core
