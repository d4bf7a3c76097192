#include "activation_edits.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace superlens::core {
namespace {

template <class S>
void applyElement(const EditSpec& e, kernels::Mat<S>& values, std::int64_t rowOffset, std::int64_t tokenIndex, std::int64_t channelIndex) {
    const std::int64_t n = values.rows(), cols = values.cols();
    std::int64_t r0 = 0, r1 = n;
    if (e.index[tokenIndex]) {
        const std::int64_t r = *e.index[tokenIndex] - rowOffset;
        if (r < 0 || r >= n) return;  // token not in this chunk
        r0 = r;
        r1 = r + 1;
    }
    std::int64_t c0 = 0, c1 = cols;
    if (e.index[channelIndex]) {
        if (*e.index[channelIndex] >= cols) return;
        c0 = *e.index[channelIndex];
        c1 = c0 + 1;
    }
    for (std::int64_t c = c0; c < c1; ++c) {
        if (e.op == EditOp::Mean) {
            double sum = 0.0;
            for (std::int64_t r = 0; r < n; ++r) sum += values(r, c);
            const S mean = static_cast<S>(sum / static_cast<double>(n));
            for (std::int64_t r = 0; r < n; ++r) values(r, c) = mean;
            continue;
        }
        for (std::int64_t r = r0; r < r1; ++r) {
            if (e.op == EditOp::Set) values(r, c) = static_cast<S>(e.value);
            else values(r, c) = static_cast<S>(values(r, c) * e.value);
        }
    }
}

// Round-to-nearest quantize-dequantize of groups of entries with min-max range.
template <class S>
void quantizeGroup(std::vector<S*>& group, int bits) {
    if (group.empty()) return;
    S lo = std::numeric_limits<S>::max(), hi = std::numeric_limits<S>::lowest();
    for (S* v : group) {
        lo = std::min(lo, *v);
        hi = std::max(hi, *v);
    }
    const S levels = static_cast<S>((1 << bits) - 1);
    const S scale = hi > lo ? (hi - lo) / levels : S(0);
    if (scale == S(0)) return;
    for (S* v : group) *v = lo + std::nearbyint((*v - lo) / scale) * scale;
}

template <class S>
void applyActQuant(const EditSpec& e, kernels::Mat<S>& values, std::int64_t p0) {
    const std::int64_t n = values.rows(), cols = values.cols();
    // Kept entries (super activations) are excluded from the statistics and restored exactly.
    std::vector<std::pair<std::int64_t, S>> kept;
    auto isKept = [&](std::int64_t r, std::int64_t c) {
        for (const auto& k : e.keepActivations) {
            if (k.token == p0 + r && k.channel == c) return true;
        }
        return false;
    };
    for (const auto& k : e.keepActivations) {
        const std::int64_t r = k.token - p0;
        if (r >= 0 && r < n && k.channel < cols) kept.emplace_back(r * cols + k.channel, values(r, k.channel));
    }
    std::vector<S*> group;
    auto flushRange = [&](std::int64_t r, std::int64_t c0, std::int64_t c1) {
        for (std::int64_t c = c0; c < c1; ++c) {
            if (!isKept(r, c)) group.push_back(&values(r, c));
        }
    };
    if (e.block == 0) {
        group.clear();
        for (std::int64_t r = 0; r < n; ++r) flushRange(r, 0, cols);
        quantizeGroup(group, e.bits);
    } else {
        const std::int64_t width = e.block < 0 ? cols : e.block;
        for (std::int64_t r = 0; r < n; ++r) {
            for (std::int64_t c0 = 0; c0 < cols; c0 += width) {
                group.clear();
                flushRange(r, c0, std::min(cols, c0 + width));
                quantizeGroup(group, e.bits);
            }
        }
    }
    for (const auto& [idx, v] : kept) values.data()[idx] = v;
}

}  // namespace

template <class S>
void applyActivationEdit(const EditSpec& e, kernels::Mat<S>& values, std::int64_t p0) {
    if (e.kind == EditKind::ActQuant) applyActQuant(e, values, p0);
    else applyElement(e, values, p0, 0, 1);
}

template <class S>
void applyPatternEdit(const EditSpec& e, int head, kernels::Mat<S>& pattern, std::int64_t p0) {
    if (e.index[0] && *e.index[0] != head) return;
    // index = [head, query, key]: query rows are positions p0.., keys are absolute.
    EditSpec view = e;
    view.index = {e.index[1], e.index[2]};
    applyElement(view, pattern, p0, 0, 1);
}

template void applyActivationEdit<float>(const EditSpec&, kernels::Mat<float>&, std::int64_t);
template void applyActivationEdit<double>(const EditSpec&, kernels::Mat<double>&, std::int64_t);
template void applyPatternEdit<float>(const EditSpec&, int, kernels::Mat<float>&, std::int64_t);
template void applyPatternEdit<double>(const EditSpec&, int, kernels::Mat<double>&, std::int64_t);

}  // namespace superlens::core
