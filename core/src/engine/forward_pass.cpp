#include "forward_pass.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "activation_edits.h"

namespace superlens::core {

std::vector<double> ropeInverseFrequencies(const ModelConfig& c) {
    const int half = c.headDim / 2;
    std::vector<double> inv(static_cast<std::size_t>(half));
    for (int i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(c.ropeTheta, (2.0 * i) / c.headDim);
    const RopeScaling& rs = c.ropeScaling;
    if (rs.type == RopeScalingType::Linear) {
        for (double& f : inv) f /= rs.factor;
    } else if (rs.type == RopeScalingType::Llama3) {
        // transformers' _compute_llama3_parameters.
        const double lowWavelen = rs.originalMaxPositions / rs.lowFreqFactor;
        const double highWavelen = rs.originalMaxPositions / rs.highFreqFactor;
        for (double& f : inv) {
            const double wavelen = 2.0 * std::numbers::pi / f;
            if (wavelen > lowWavelen) {
                f = f / rs.factor;
            } else if (wavelen >= highWavelen) {
                const double smooth = (rs.originalMaxPositions / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
                f = (1.0 - smooth) * f / rs.factor + smooth * f;
            }
        }
    }
    return inv;
}

template <class S>
void KvCache<S>::reset(int layers, std::int64_t capacity, std::int64_t width) {
    keys.assign(static_cast<std::size_t>(layers), kernels::Mat<S>(capacity, width));
    values.assign(static_cast<std::size_t>(layers), kernels::Mat<S>(capacity, width));
    length = 0;
}

template <class S>
ForwardPass<S>::ForwardPass(const Model& model, const RunWeights& weights, const HookPlan& plan, ThreadPool& pool)
    : m_model(model), m_config(model.config()), m_weights(weights), m_plan(plan), m_pool(pool),
      m_invFreq(ropeInverseFrequencies(model.config())) {}

template <class S>
void ForwardPass<S>::hook(HookPoint p, Mat& values, std::int64_t p0) {
    const int i = m_plan.index(p);
    for (const EditSpec* e : m_plan.edits[i]) applyActivationEdit<S>(*e, values, p0);
    if (m_plan.record[i]) {
        auto t = std::make_shared<ActivationTensor>();
        t->shape = {values.rows(), values.cols()};
        t->values.resize(static_cast<std::size_t>(values.size()));
        std::copy(values.data(), values.data() + values.size(), t->values.begin());
        m_recorded[p] = std::move(t);
    }
}

template <class S>
void ForwardPass<S>::norm(const WeightPtr& weight, const Mat& x, Mat& out) const {
    if (m_config.normKind == NormKind::NonParametricLayerNorm) {
        kernels::layerNorm<S>(x, m_config.normEps, out);
    } else {
        kernels::rmsNorm<S>(x, kernels::vectorOf<S>(*weight), m_config.normEps, out);
    }
}

template <class S>
void ForwardPass<S>::applyRope(Mat& x, int heads, std::int64_t p0) const {
    const int hd = m_config.headDim, half = hd / 2;
    std::vector<S> cosv(static_cast<std::size_t>(half)), sinv(static_cast<std::size_t>(half));
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        const double pos = static_cast<double>(p0 + r);
        for (int i = 0; i < half; ++i) {
            // Angles in double: exact enough for positions up to 1e6 and beyond.
            const double a = pos * m_invFreq[i];
            cosv[i] = static_cast<S>(std::cos(a));
            sinv[i] = static_cast<S>(std::sin(a));
        }
        S* row = x.data() + r * x.cols();
        for (int h = 0; h < heads; ++h) {
            S* v = row + h * hd;
            for (int i = 0; i < half; ++i) {
                const S a = v[i], b = v[i + half];
                v[i] = a * cosv[i] - b * sinv[i];
                v[i + half] = b * cosv[i] + a * sinv[i];
            }
        }
    }
}

template <class S>
void ForwardPass<S>::embed(const std::int32_t* ids, std::int64_t n, std::int64_t p0, Mat& x) {
    kernels::gatherRows<S>(*m_weights.embedding, ids, n, x);
    hook({HookKind::Embed, -1}, x, p0);
}

template <class S>
void ForwardPass<S>::attention(int layer, const Mat& q, const KvCache<S>& kv, std::int64_t p0, Mat& out) {
    const int H = m_config.numHeads, KV = m_config.numKvHeads, hd = m_config.headDim;
    const int group = H / KV;
    const std::int64_t n = q.rows(), keys = p0 + n;
    const S scale = static_cast<S>(1.0 / std::sqrt(static_cast<double>(hd)));
    const std::optional<int> window = m_config.slidingWindow;
    const HookPoint patternPoint{HookKind::AttnPattern, layer};
    const int slot = m_plan.index(patternPoint);
    const bool recordPattern = m_plan.record[slot];
    const auto& patternEdits = m_plan.edits[slot];

    std::shared_ptr<ActivationTensor> pattern;
    if (recordPattern) {
        pattern = std::make_shared<ActivationTensor>();
        pattern->shape = {H, n, keys};
        pattern->values.assign(static_cast<std::size_t>(H * n * keys), 0.0f);
    }
    out.resize(n, static_cast<Eigen::Index>(H) * hd);
    const Mat& K = kv.keys[layer];
    const Mat& V = kv.values[layer];
    using Stride = Eigen::OuterStride<>;
    using ConstStrided = Eigen::Map<const Mat, 0, Stride>;
    using Strided = Eigen::Map<Mat, 0, Stride>;

    m_pool.parallelFor(H, 1, [&](std::int64_t h0, std::int64_t h1, int) {
        Mat scores;
        for (std::int64_t h = h0; h < h1; ++h) {
            const std::int64_t kvh = h / group;
            ConstStrided qh(q.data() + h * hd, n, hd, Stride(q.cols()));
            ConstStrided kh(K.data() + kvh * hd, keys, hd, Stride(K.cols()));
            ConstStrided vh(V.data() + kvh * hd, keys, hd, Stride(V.cols()));
            scores.noalias() = (qh * kh.transpose()) * scale;
            for (std::int64_t i = 0; i < n; ++i) {
                const std::int64_t pos = p0 + i;
                // Keys visible to this query: causal, and inside the sliding
                // window when the model has one (HF: kv > q - window).
                const std::int64_t first = window ? std::max<std::int64_t>(0, pos - *window + 1) : 0;
                S* row = scores.data() + i * keys;
                S maxv = -std::numeric_limits<S>::infinity();
                for (std::int64_t j = first; j <= pos; ++j) maxv = std::max(maxv, row[j]);
                double sum = 0.0;
                for (std::int64_t j = first; j <= pos; ++j) {
                    row[j] = std::exp(row[j] - maxv);
                    sum += row[j];
                }
                const S inv = static_cast<S>(1.0 / sum);
                for (std::int64_t j = 0; j < keys; ++j) row[j] = (j >= first && j <= pos) ? row[j] * inv : S(0);
            }
            for (const EditSpec* e : patternEdits) applyPatternEdit<S>(*e, static_cast<int>(h), scores, p0);
            if (pattern) std::copy(scores.data(), scores.data() + scores.size(), pattern->values.begin() + h * n * keys);
            Strided oh(out.data() + h * hd, n, hd, Stride(out.cols()));
            oh.noalias() = scores * vh;
        }
    });
    if (pattern) m_recorded[patternPoint] = std::move(pattern);
}

template <class S>
void ForwardPass<S>::block(int l, Mat& x, std::int64_t p0, KvCache<S>& kv) {
    const RunWeights::Layer& w = m_weights.layers[static_cast<std::size_t>(l)];
    const ModelConfig& c = m_config;
    const int H = c.numHeads, KV = c.numKvHeads, hd = c.headDim;
    const std::int64_t n = x.rows();
    const std::int64_t qw = static_cast<std::int64_t>(H) * hd, kvw = static_cast<std::int64_t>(KV) * hd;

    hook({HookKind::ResidPre, l}, x, p0);

    Mat h;
    norm(w.inputNorm, x, h);
    Mat q, k, v;
    if (w.qkv) {
        // Phi-3: one fused projection, rows ordered q | k | v.
        Mat qkv;
        kernels::linear<S>(*w.qkv, h, qkv, m_pool);
        q = qkv.leftCols(qw);
        k = qkv.middleCols(qw, kvw);
        v = qkv.rightCols(kvw);
    } else {
        kernels::linear<S>(*w.q, h, q, m_pool);
        kernels::linear<S>(*w.k, h, k, m_pool);
        kernels::linear<S>(*w.v, h, v, m_pool);
    }
    if (w.qBias) {
        q.rowwise() += kernels::vectorOf<S>(*w.qBias).transpose();
        k.rowwise() += kernels::vectorOf<S>(*w.kBias).transpose();
        v.rowwise() += kernels::vectorOf<S>(*w.vBias).transpose();
    }
    if (c.clipQkv) {
        const S lim = static_cast<S>(*c.clipQkv);
        q = q.cwiseMax(-lim).cwiseMin(lim);
        k = k.cwiseMax(-lim).cwiseMin(lim);
        v = v.cwiseMax(-lim).cwiseMin(lim);
    }
    applyRope(q, H, p0);
    applyRope(k, KV, p0);
    SL_ASSERT(kv.length == p0 || l > 0);
    SL_ASSERT(kv.keys[l].rows() >= p0 + n);
    kv.keys[l].middleRows(p0, n) = k;
    kv.values[l].middleRows(p0, n) = v;

    Mat attn;
    attention(l, q, kv, p0, attn);
    Mat attnOut;
    kernels::linear<S>(*w.o, attn, attnOut, m_pool);
    if (w.oBias) attnOut.rowwise() += kernels::vectorOf<S>(*w.oBias).transpose();
    hook({HookKind::AttnOut, l}, attnOut, p0);
    x += attnOut;
    hook({HookKind::ResidMid, l}, x, p0);

    norm(w.postAttentionNorm, x, h);
    Mat gate, up;
    if (w.gateUp) {
        // Phi-3: fused gate_up_proj, gate rows first, then up.
        Mat gu;
        kernels::linear<S>(*w.gateUp, h, gu, m_pool);
        const std::int64_t f = c.intermediateSize;
        gate = gu.leftCols(f);
        up = gu.rightCols(f);
    } else {
        kernels::linear<S>(*w.gate, h, gate, m_pool);
        kernels::linear<S>(*w.up, h, up, m_pool);
    }
    hook({HookKind::MlpPre, l}, gate, p0);
    // SiLU(gate) * up: the down_proj input, where super weights read their spike.
    // Vectorised (Eigen's SIMD exp); exp(-g) overflowing to inf gives -0 * up, as in PyTorch.
    Mat post(gate.rows(), gate.cols());
    post.array() = gate.array() / (S(1) + (-gate.array()).exp()) * up.array();
    hook({HookKind::MlpPost, l}, post, p0);
    Mat mlpOut;
    kernels::linear<S>(*w.down, post, mlpOut, m_pool);
    hook({HookKind::MlpOut, l}, mlpOut, p0);
    x += mlpOut;
    hook({HookKind::ResidPost, l}, x, p0);
}

template <class S>
void ForwardPass<S>::head(const Mat& x, std::int64_t p0, bool allPositions, ActivationTensor& logits) {
    Mat normed;
    norm(m_weights.finalNorm, x, normed);
    hook({HookKind::LnFinal, -1}, normed, p0);
    Mat out;
    if (allPositions) {
        kernels::linear<S>(*m_weights.lmHead, normed, out, m_pool);
    } else {
        const Mat last = normed.bottomRows(1);
        kernels::linear<S>(*m_weights.lmHead, last, out, m_pool);
    }
    logits.shape = {out.rows(), out.cols()};
    logits.values.resize(static_cast<std::size_t>(out.size()));
    std::copy(out.data(), out.data() + out.size(), logits.values.begin());
}

template struct KvCache<float>;
template struct KvCache<double>;
template class ForwardPass<float>;
template class ForwardPass<double>;

}  // namespace superlens::core
