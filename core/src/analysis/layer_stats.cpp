#include "superlens/core/analysis/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace superlens::core {
namespace {

TensorPeak peakOf(const ActivationTensor& t) {
    TensorPeak p;
    float best = -1.0f;
    const std::int64_t C = t.cols();
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const float a = std::fabs(t.values[i]);
        if (a > best) {
            best = a;
            p.value = t.values[i];
            p.token = static_cast<std::int64_t>(i) / C;
            p.channel = static_cast<std::int64_t>(i) % C;
        }
    }
    return p;
}

}  // namespace

HookSelection superWeightHooks() {
    // Lenient: the routed-experts layers of mixture-of-experts models have no
    // single down projection (no blocks.L.mlp.hook_post); their other hooks
    // are still recorded.
    return HookSelection::patterns({"blocks.*.mlp.hook_post", "blocks.*.hook_mlp_out", "blocks.*.hook_resid_post",
                                    "blocks.*.mlp.hook_expert_weights"})
        .lenient();
}

namespace {

// The bits of |v| as an unsigned key: ordered like |v| for every non-NaN float
// (NaNs order above infinity).
inline std::uint32_t absKey(float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return u & 0x7fffffffu;
}

// The k-th smallest |value| (0-based), exactly: a histogram of the keys' top
// 15 bits finds the bucket holding rank k, then nth_element on that bucket's
// entries only. Two passes over the data and no copy of it (a toggle in the
// GUI takes ~100 medians of 65-180k values; nth_element on a copy of each was
// most of the snapshot's time).
float kthAbs(const std::vector<float>& values, const std::vector<std::uint32_t>& cumulative, std::size_t k) {
    constexpr int kShift = 16;
    // First bucket whose cumulative count exceeds k.
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), static_cast<std::uint32_t>(k));
    const std::uint32_t bucket = static_cast<std::uint32_t>(it - cumulative.begin());
    const std::size_t below = bucket == 0 ? 0 : cumulative[bucket - 1];
    std::vector<std::uint32_t> in;
    in.reserve(cumulative[bucket] - below);
    for (float v : values) {
        const std::uint32_t key = absKey(v);
        if ((key >> kShift) == bucket) in.push_back(key);
    }
    const auto nth = in.begin() + static_cast<std::ptrdiff_t>(k - below);
    std::nth_element(in.begin(), nth, in.end());
    float out;
    std::memcpy(&out, &*nth, sizeof out);
    return out;
}

}  // namespace

double medianAbs(const std::vector<float>& values) {
    if (values.empty()) return 0.0;
    const std::size_t n = values.size();
    // Counts in 32-bit (values of one tensor); a larger input falls back to nth_element on a copy.
    if (n >= (std::size_t{1} << 32) - 1) {
        std::vector<float> a(values.size());
        std::transform(values.begin(), values.end(), a.begin(), [](float v) { return std::fabs(v); });
        const std::size_t mid = n / 2;
        std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(mid), a.end());
        const double hi = a[mid];
        if (n % 2 == 1) return hi;
        const double lo = *std::max_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(mid));
        return 0.5 * (lo + hi);
    }
    std::vector<std::uint32_t> cumulative(std::size_t{1} << 15, 0);
    for (float v : values) ++cumulative[absKey(v) >> 16];
    for (std::size_t b = 1; b < cumulative.size(); ++b) cumulative[b] += cumulative[b - 1];
    const std::size_t mid = n / 2;
    const double hi = kthAbs(values, cumulative, mid);
    if (n % 2 == 1) return hi;
    // Even count: mean of the two middle values (numpy.median's convention).
    const double lo = kthAbs(values, cumulative, mid - 1);
    return 0.5 * (lo + hi);
}

Result<std::vector<LayerSpikeStats>> layerSpikeStats(const ForwardResult& result) {
    std::vector<LayerSpikeStats> out;
    // Layers present = the contiguous run of blocks with all three hooks.
    int layers = 0;
    for (const auto& [p, a] : result.activations) {
        if (p.layer >= 0) layers = std::max(layers, p.layer + 1);
    }
    if (layers == 0) return Error{"layer statistics need blocks.*.mlp.hook_post, blocks.*.hook_mlp_out and blocks.*.hook_resid_post recorded"};
    for (int l = 0; l < layers; ++l) {
        const ActivationTensor* in = result.activation(HookPoint{HookKind::MlpPost, l});
        const ActivationTensor* outT = result.activation(HookPoint{HookKind::MlpOut, l});
        const ActivationTensor* resid = result.activation(HookPoint{HookKind::ResidPost, l});
        // A routed-experts layer has no single down_proj input (each expert has its own).
        const bool routed = !in && result.activation(HookPoint{HookKind::ExpertWeights, l});
        if ((!in && !routed) || !outT || !resid) {
            return Error{"layer statistics: blocks." + std::to_string(l) + " hooks (mlp.hook_post, hook_mlp_out, hook_resid_post) were not recorded"};
        }
        LayerSpikeStats s;
        s.layer = l;
        s.routed = routed;
        if (in) {
            s.downIn = peakOf(*in);
            s.downInMedian = medianAbs(in->values);
        }
        s.downOut = peakOf(*outT);
        s.resid = peakOf(*resid);
        s.downOutMedian = medianAbs(outT->values);
        s.residMedian = medianAbs(resid->values);
        out.push_back(s);
    }
    return out;
}

Result<std::vector<float>> channelAcrossLayers(const ForwardResult& result, std::int64_t token, std::int64_t channel) {
    std::vector<float> out;
    for (int l = 0;; ++l) {
        const ActivationTensor* resid = result.activation(HookPoint{HookKind::ResidPost, l});
        if (!resid) break;
        if (token < 0 || token >= resid->rows() || channel < 0 || channel >= resid->cols()) {
            return Error{"channelAcrossLayers: (token " + std::to_string(token) + ", channel " + std::to_string(channel) +
                         ") is outside the residual stream [" + std::to_string(resid->rows()) + ", " + std::to_string(resid->cols()) + "]"};
        }
        out.push_back(std::fabs(resid->at(token, channel)));
    }
    if (out.empty()) return Error{"channelAcrossLayers needs blocks.*.hook_resid_post recorded"};
    return out;
}

}  // namespace superlens::core
