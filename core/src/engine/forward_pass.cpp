#include "forward_pass.h"

#include "superlens/core/model/image_input.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <unsupported/Eigen/SpecialFunctions>

#include "activation_edits.h"
#include "superlens/core/engine/engine.h"

namespace superlens::core {

std::vector<double> ropeInverseFrequencies(const ModelConfig& c, bool local) {
    if (c.positions != PositionKind::Rotary) return {};
    const int dim = c.rotaryDim, half = dim / 2;
    const double theta = local ? c.ropeLocalTheta : c.ropeTheta;
    std::vector<double> inv(static_cast<std::size_t>(half));
    for (int i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(theta, (2.0 * i) / dim);
    if (local) return inv;
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

namespace {

// The global layers' inverse frequencies, divided by the per-frequency
// factors a Llama 3.1 GGUF file carries (llama.cpp's rope_freqs.weight:
// theta_i = position * inv_i / factor_i, which is transformers' llama3 rule;
// the file's values were checked when the model opened).
std::vector<double> globalInverseFrequencies(const Model& model) {
    std::vector<double> inv = ropeInverseFrequencies(model.config());
    const TensorView* factors = model.isGguf() ? model.tensor("rope_freqs.weight") : nullptr;
    if (factors && factors->elementCount() == static_cast<std::int64_t>(inv.size())) {
        for (std::size_t i = 0; i < inv.size(); ++i) inv[i] /= factors->at(static_cast<std::int64_t>(i));
    }
    return inv;
}

}  // namespace

template <class S>
ForwardPass<S>::ForwardPass(const Model& model, const RunWeights& weights, const HookPlan& plan, ThreadPool& pool, ComputeDtype compute)
    : m_model(model), m_config(model.config()), m_weights(weights), m_plan(plan), m_pool(pool), m_compute(compute),
      m_invFreq(globalInverseFrequencies(model)),
      m_localInvFreq(model.config().ropeLocalTheta > 0 ? ropeInverseFrequencies(model.config(), true) : std::vector<double>{}) {}

template <class S>
void ForwardPass<S>::hook(HookPoint p, Mat& values, std::int64_t p0) {
    const int i = m_plan.index(p);
    for (const EditSpec* e : m_plan.edits[i]) applyActivationEdit<S>(*e, values, p0);
    if (!m_plan.edits[i].empty()) rnd(values);  // an edited activation is stored in the model's dtype too
    if (m_plan.record[i]) {
        auto t = std::make_shared<ActivationTensor>();
        t->shape = {values.rows(), values.cols()};
        t->values.resize(static_cast<std::size_t>(values.size()));
        std::copy(values.data(), values.data() + values.size(), t->values.begin());
        record(p, std::move(t));
    }
}

template <class S>
void ForwardPass<S>::record(HookPoint p, std::shared_ptr<ActivationTensor> values) {
    if (!m_sink) {
        m_recorded[p] = std::move(values);
    } else if (m_sinkStatus) {
        m_sinkStatus = m_sink->consume(p, *values);
    }
}

template <class S>
void ForwardPass<S>::softcap(Mat& x, S cap) const {
    if (!emulating()) {
        x = ((x.array() / cap).tanh() * cap).matrix();
        return;
    }
    x /= cap;
    rnd(x);
    x = x.array().tanh().matrix();
    rnd(x);
    x *= cap;
    rnd(x);
}

template <class S>
void ForwardPass<S>::addBias(Mat& x, const WeightPtr& bias) {
    if (bias) x.rowwise() += kernels::vectorOf<S>(*bias).transpose();
}

template <class S>
void ForwardPass<S>::project(const WeightPtr& w, const WeightPtr& bias, const Mat& x, Mat& y) const {
    kernels::linear<S>(*w, x, y, m_pool);
    addBias(y, bias);
    rnd(y);
}

template <class S>
void ForwardPass<S>::norm(const WeightPtr& weight, const WeightPtr& bias, const Mat& x, Mat& out) const {
    using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    const Vec w = weight ? kernels::vectorOf<S>(*weight) : Vec();
    switch (m_config.normKind) {
        case NormKind::RmsNorm:
            if (emulating()) {
                // LlamaRMSNorm in bf16/fp16: normalised in fp32, cast to the dtype,
                // then multiplied by the weight in the dtype (two roundings).
                kernels::rmsNorm<S>(x, Vec(), m_config.normEps, out);
                rnd(out);
                if (w.size() > 0) out.array().rowwise() *= w.transpose().array();
            } else {
                kernels::rmsNorm<S>(x, w, m_config.normEps, out);
            }
            break;
        case NormKind::RmsNormUnitOffset:
            // Gemma: x * (1 + w), the offset added in the compute precision
            // (Gemma's norm runs wholly in fp32 and casts once at the end).
            kernels::rmsNorm<S>(x, (w.array() + S(1)).matrix(), m_config.normEps, out);
            break;
        case NormKind::LayerNorm:
        case NormKind::NonParametricLayerNorm:
            // F.layer_norm on bf16/fp16 computes in fp32 and rounds its output once.
            kernels::layerNorm<S>(x, w, bias ? kernels::vectorOf<S>(*bias) : Vec(), m_config.normEps, out);
            break;
    }
    rnd(out);
}

template <class S>
void ForwardPass<S>::headNorm(const WeightPtr& weight, const WeightPtr& bias, int heads, Mat& x) const {
    const int hd = m_config.headDim;
    // Each head's slice as its own row: [n * heads, hd] is x's row-major memory.
    Eigen::Map<Mat> perHead(x.data(), x.rows() * heads, hd);
    Mat normed;
    norm(weight, bias, Mat(perHead), normed);
    perHead = normed;
}

template <class S>
void ForwardPass<S>::applyRope(int layer, Mat& x, int heads, std::int64_t p0) const {
    const bool local = !m_localInvFreq.empty() && m_config.windowOfLayer(layer).has_value();
    const std::vector<double>& invFreq = local ? m_localInvFreq : m_invFreq;
    const int hd = m_config.headDim, half = m_config.rotaryDim / 2;
    const bool interleaved = m_config.rotaryStyle == RotaryStyle::Interleaved;
    const bool emulate = emulating();
    std::vector<S> cosv(static_cast<std::size_t>(half)), sinv(static_cast<std::size_t>(half));
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        const double pos = static_cast<double>(p0 + r);
        for (int i = 0; i < half; ++i) {
            // Angles in double: exact enough for positions up to 1e6 and beyond.
            const double a = pos * invFreq[i];
            cosv[i] = rnd(static_cast<S>(std::cos(a)));  // HF casts cos/sin to the model's dtype
            sinv[i] = rnd(static_cast<S>(std::sin(a)));
        }
        S* row = x.data() + r * x.cols();
        for (int h = 0; h < heads; ++h) {
            S* v = row + h * hd;  // dims past rotaryDim pass through (partial rotary)
            for (int i = 0; i < half; ++i) {
                // Pair i: (i, i + half) for rotate-half, (2i, 2i + 1) for GPT-J.
                S* a = interleaved ? v + 2 * i : v + i;
                S* b = interleaved ? v + 2 * i + 1 : v + i + half;
                const S x0 = *a, x1 = *b;
                if (emulate) {
                    // q * cos + rotate_half(q) * sin: each product and the sum rounded.
                    *a = rnd(rnd(x0 * cosv[i]) + rnd(-x1 * sinv[i]));
                    *b = rnd(rnd(x1 * cosv[i]) + rnd(x0 * sinv[i]));
                } else {
                    *a = x0 * cosv[i] - x1 * sinv[i];
                    *b = x1 * cosv[i] + x0 * sinv[i];
                }
            }
        }
    }
}

template <class S>
void ForwardPass<S>::embed(const std::int32_t* ids, std::int64_t n, std::int64_t p0, Mat& x) {
    kernels::gatherRows<S>(*m_weights[ModelWeight::Embed], ids, n, x);
    if (m_config.embeddingScale != 1.0) {
        x *= rnd(static_cast<S>(m_config.embeddingScale));  // Gemma's normalizer is a tensor of the model's dtype
        rnd(x);
    }
    hook({HookKind::Embed, -1}, x, p0);
    if (const WeightPtr& wpe = m_weights[ModelWeight::PosEmbed]) {
        Mat pos(n, x.cols());
        if (m_config.paddingIdx) {
            // RoBERTa (create_position_ids_from_input_ids): padding tokens sit
            // at padding_idx, the others at padding_idx + their 1-based count
            // among non-padding tokens. Whole sequences only (no KV cache for
            // encoders), so the count starts at this chunk's first token.
            SL_ASSERT(p0 == 0);
            const std::int64_t pad = *m_config.paddingIdx;
            std::int64_t seen = 0;
            for (std::int64_t i = 0; i < n; ++i) {
                const std::int64_t id = ids[i] == pad ? pad : pad + ++seen;
                wpe->decodeRows(id, id + 1, pos.data() + i * pos.cols());
            }
        } else {
            wpe->decodeRows(p0, p0 + n, pos.data());
        }
        hook({HookKind::PosEmbed, -1}, pos, p0);
        x += pos;
        rnd(x);
    }
    if (const WeightPtr& types = m_weights[ModelWeight::TokenTypeEmbed]) {
        // token_type_ids default to zeros (one segment): row 0 for every token.
        Mat type0(1, x.cols());
        types->decodeRows(0, 1, type0.data());
        x.rowwise() += type0.row(0);
        rnd(x);
    }
    if (m_config.embeddingNorm) {
        Mat normed;
        norm(m_weights[ModelWeight::EmbedNorm], m_weights[ModelWeight::EmbedNormBias], x, normed);
        x = std::move(normed);
    }
}

template <class S>
void ForwardPass<S>::embedPixels(const PixelTensor& px, Mat& x) {
    const ModelConfig& c = m_config;
    const std::int64_t p = c.patchSize, C = c.numChannels, d = c.hiddenSize, R = c.numRegisters;
    const std::int64_t gh = px.height / p, gw = px.width / p, np = gh * gw;
    const std::int64_t T = 1 + R + np;
    // Conv2d(kernel = stride = p) as a matmul: patch (py, px) is the vector
    // [channel, ky, kx] of its pixels (the weight [d, C, p, p] read as [d, C*p*p]);
    // HF's conv drops the pixels past the last whole patch, so does this.
    Mat patches(np, C * p * p);
    for (std::int64_t py = 0; py < gh; ++py) {
        for (std::int64_t qx = 0; qx < gw; ++qx) {
            S* row = patches.data() + (py * gw + qx) * patches.cols();
            for (std::int64_t ch = 0; ch < C; ++ch) {
                for (std::int64_t ky = 0; ky < p; ++ky) {
                    for (std::int64_t kx = 0; kx < p; ++kx) {
                        row[(ch * p + ky) * p + kx] = static_cast<S>(px.at(static_cast<int>(ch), static_cast<int>(py * p + ky), static_cast<int>(qx * p + kx)));
                    }
                }
            }
        }
    }
    Mat projected;
    kernels::linear<S>(*m_weights[ModelWeight::PatchEmbed], patches, projected, m_pool);
    addBias(projected, m_weights[ModelWeight::PatchEmbedBias]);

    // Whole small tensors (CLS [1, 1, d] or [d], registers [1, R, d], positions
    // [1, N + 1, d] or [N + 1, d]) decoded flat.
    auto flat = [](const WeightPtr& w) {
        std::vector<S> out(static_cast<std::size_t>(w->rows() * w->cols()));
        w->decodeRows(0, w->rows(), out.data());
        return out;
    };
    x.resize(T, d);
    const std::vector<S> cls = flat(m_weights[ModelWeight::ClsToken]);
    x.row(0) = Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(cls.data(), d);
    if (R > 0) {
        const std::vector<S> regs = flat(m_weights[ModelWeight::RegisterTokens]);
        x.middleRows(1, R) = Eigen::Map<const Mat>(regs.data(), R, d);
    }
    x.bottomRows(np) = projected;
    rnd(x);  // the patch convolution's output (CLS and registers are weights, already in the dtype)
    hook({HookKind::Embed, -1}, x, 0);

    // Position embeddings: CLS's, none for registers (DINOv2 adds positions
    // before inserting them), the trained grid's for the patches, interpolated
    // (in float64) when the image's grid is another one.
    const std::vector<S> table = flat(m_weights[ModelWeight::PosEmbed]);
    const std::int64_t side = c.trainedPatchesPerSide();
    SL_ASSERT(static_cast<std::int64_t>(table.size()) == (1 + side * side) * d);
    Mat pos = Mat::Zero(T, d);
    const Eigen::Map<const Mat> trained(table.data(), 1 + side * side, d);
    pos.row(0) = trained.row(0);
    if (gh == side && gw == side) {
        pos.bottomRows(np) = trained.bottomRows(np);
    } else {
        std::vector<double> grid(static_cast<std::size_t>(side * side * d));
        for (std::size_t i = 0; i < grid.size(); ++i) grid[i] = static_cast<double>(table[static_cast<std::size_t>(d) + i]);
        const std::vector<double> resized = interpolatePositionGrid(grid, static_cast<int>(side), static_cast<int>(d), static_cast<int>(gh),
                                                                    static_cast<int>(gw), c.posInterpolation);
        for (std::int64_t i = 0; i < np; ++i) {
            for (std::int64_t k = 0; k < d; ++k) pos(1 + R + i, k) = static_cast<S>(resized[static_cast<std::size_t>(i * d + k)]);
        }
    }
    rnd(pos);
    hook({HookKind::PosEmbed, -1}, pos, 0);
    x += pos;
    rnd(x);
    if (c.embeddingNorm) {
        // CLIP's pre_layrnorm.
        Mat normed;
        norm(m_weights[ModelWeight::EmbedNorm], m_weights[ModelWeight::EmbedNormBias], x, normed);
        x = std::move(normed);
    }
}

template <class S>
void ForwardPass<S>::scaleChannels(Mat& x, const WeightPtr& scale) const {
    if (scale) {
        x.array().rowwise() *= kernels::vectorOf<S>(*scale).transpose().array();
        rnd(x);
    }
}

template <class S>
void ForwardPass<S>::attention(int layer, const Mat& q, const KvCache<S>& kv, std::int64_t p0, Mat& out) {
    const int H = m_config.numHeads, KV = m_config.numKvHeads, hd = m_config.headDim;
    const int group = H / KV;
    const std::int64_t n = q.rows(), keys = p0 + n;
    const double baseScale = m_config.attentionScale / (m_config.scaleByInverseLayer ? layer + 1.0 : 1.0);
    const S scale = static_cast<S>(baseScale);
    const std::optional<double> attnCap = m_config.attnSoftcap;
    const std::optional<int> window = m_config.windowOfLayer(layer);
    const HookPoint patternPoint{HookKind::AttnPattern, layer};
    const int slot = m_plan.index(patternPoint);
    const bool recordPattern = m_plan.record[slot];
    const auto& patternEdits = m_plan.edits[slot];
    const bool emulate = emulating();

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
            if (emulate) {
                // Eager attention in the dtype: matmul(q, k^T) rounded, then * scaling rounded.
                scores.noalias() = qh * kh.transpose();
                rnd(scores);
                scores *= scale;
                rnd(scores);
            } else {
                scores.noalias() = (qh * kh.transpose()) * scale;
            }
            if (attnCap) {
                // Gemma 2: cap * tanh(scores / cap), before the mask.
                softcap(scores, static_cast<S>(*attnCap));
            }
            for (std::int64_t i = 0; i < n; ++i) {
                // Keys visible to this query: causal (or all of them in a
                // bidirectional encoder), and inside the sliding window when
                // the layer has one (HF: kv > q - window).
                const std::int64_t pos = m_config.causal ? p0 + i : keys - 1;
                const std::int64_t first = window ? std::max<std::int64_t>(0, p0 + i - *window + 1) : 0;
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
            rnd(scores);  // softmax(..., dtype=float32).to(query.dtype)
            for (const EditSpec* e : patternEdits) applyPatternEdit<S>(*e, static_cast<int>(h), scores, p0);
            if (pattern) std::copy(scores.data(), scores.data() + scores.size(), pattern->values.begin() + h * n * keys);
            Strided oh(out.data() + h * hd, n, hd, Stride(out.cols()));
            oh.noalias() = scores * vh;
        }
    });
    rnd(out);  // matmul(attn_weights, value)
    if (pattern) record(patternPoint, std::move(pattern));
}

template <class S>
void ForwardPass<S>::attentionBlock(int l, const Mat& h, std::int64_t p0, KvCache<S>& kv, Mat& out) {
    using LW = LayerWeight;
    const RunWeights::Layer& w = m_weights.layers[static_cast<std::size_t>(l)];
    const ModelConfig& c = m_config;
    const int H = c.numHeads, KV = c.numKvHeads, hd = c.headDim;
    const std::int64_t n = h.rows();
    const std::int64_t qw = static_cast<std::int64_t>(H) * hd, kvw = static_cast<std::int64_t>(KV) * hd;

    Mat q, k, v;
    switch (c.qkvLayout) {
        case QkvLayout::Separate:
            project(w[LW::Q], w[LW::QBias], h, q);
            project(w[LW::K], w[LW::KBias], h, k);
            project(w[LW::V], w[LW::VBias], h, v);
            break;
        case QkvLayout::Fused: {
            // One projection, outputs ordered q | k | v (Phi-3 qkv_proj, GPT-2 c_attn).
            Mat qkv;
            project(w[LW::Qkv], w[LW::QkvBias], h, qkv);
            q = qkv.leftCols(qw);
            k = qkv.middleCols(qw, kvw);
            v = qkv.rightCols(kvw);
            break;
        }
        case QkvLayout::FusedPerHead: {
            // GPT-NeoX: outputs ordered per head [q_h | k_h | v_h] (no GQA).
            Mat qkv;
            project(w[LW::Qkv], w[LW::QkvBias], h, qkv);
            q.resize(n, qw);
            k.resize(n, kvw);
            v.resize(n, kvw);
            for (int head = 0; head < H; ++head) {
                q.middleCols(static_cast<Eigen::Index>(head) * hd, hd) = qkv.middleCols(static_cast<Eigen::Index>(3 * head) * hd, hd);
                k.middleCols(static_cast<Eigen::Index>(head) * hd, hd) = qkv.middleCols(static_cast<Eigen::Index>(3 * head + 1) * hd, hd);
                v.middleCols(static_cast<Eigen::Index>(head) * hd, hd) = qkv.middleCols(static_cast<Eigen::Index>(3 * head + 2) * hd, hd);
            }
            break;
        }
    }
    if (c.clipQkv) {
        const S lim = static_cast<S>(*c.clipQkv);
        q = q.cwiseMax(-lim).cwiseMin(lim);
        k = k.cwiseMax(-lim).cwiseMin(lim);
        v = v.cwiseMax(-lim).cwiseMin(lim);
    }
    if (c.qkNorm && c.qkNormWhole) {
        // OLMoE: one norm over the whole q (k) projection, before the split into heads.
        Mat normed;
        norm(w[LW::QNorm], w[LW::QNormBias], q, normed);
        q = std::move(normed);
        norm(w[LW::KNorm], w[LW::KNormBias], k, normed);
        k = std::move(normed);
    } else if (c.qkNorm) {
        headNorm(w[LW::QNorm], w[LW::QNormBias], H, q);
        headNorm(w[LW::KNorm], w[LW::KNormBias], KV, k);
    }
    if (c.positions == PositionKind::Rotary) {
        applyRope(l, q, H, p0);
        applyRope(l, k, KV, p0);
    }
    SL_ASSERT(kv.length == p0 || l > 0);
    SL_ASSERT(kv.keys[l].rows() >= p0 + n);
    kv.keys[l].middleRows(p0, n) = k;
    kv.values[l].middleRows(p0, n) = v;

    Mat attn;
    attention(l, q, kv, p0, attn);
    project(w[LW::O], w[LW::OBias], attn, out);
}

template <class S>
void ForwardPass<S>::activate(Mat& x, Activation kind) const {
    // Vectorised (Eigen's SIMD exp/tanh/erf). exp(-g) overflowing to inf gives -0, as in PyTorch.
    auto a = x.array();
    if (emulating() && kind == Activation::GeluTanh && m_config.activationOpByOp) {
        // NewGELUActivation (gelu_new) is a chain of tensor ops, each rounded in the dtype:
        // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3)))).
        const S k = static_cast<S>(std::sqrt(2.0 / std::numbers::pi));
        Mat t = (a * a * a).matrix();  // pow(x, 3.0): one op
        rnd(t);
        t = (S(0.044715) * t.array()).matrix();
        rnd(t);
        t += x;
        rnd(t);
        t *= k;
        rnd(t);
        t = t.array().tanh().matrix();
        rnd(t);
        t = (t.array() + S(1)).matrix();
        rnd(t);
        x *= S(0.5);
        rnd(x);
        x = x.cwiseProduct(t);
        rnd(x);
        return;
    }
    if (emulating() && kind == Activation::QuickGelu) {
        // QuickGELUActivation: x * sigmoid(1.702 * x), three ops.
        Mat t = (S(1.702) * a).matrix();
        rnd(t);
        t = (S(1) / (S(1) + (-t.array()).exp())).matrix();
        rnd(t);
        x = x.cwiseProduct(t);
        rnd(x);
        return;
    }
    switch (kind) {
        case Activation::Silu:
            a = a / (S(1) + (-a).exp());
            break;
        case Activation::Gelu:
            a = S(0.5) * a * (S(1) + (a * static_cast<S>(1.0 / std::numbers::sqrt2)).erf());
            break;
        case Activation::GeluTanh: {
            const S k = static_cast<S>(std::sqrt(2.0 / std::numbers::pi));
            a = S(0.5) * a * (S(1) + (k * (a + S(0.044715) * a * a * a)).tanh());
            break;
        }
        case Activation::QuickGelu:
            a = a / (S(1) + (S(-1.702) * a).exp());
            break;
    }
    rnd(x);  // F.silu, F.gelu (exact or tanh): computed in fp32, rounded once
}

template <class S>
void ForwardPass<S>::mlpBlock(int l, const Mat& h, std::int64_t p0, Mat& out) {
    using LW = LayerWeight;
    if (m_config.isExpertLayer(l)) {
        expertsBlock(l, h, p0, out);  // moe.cpp
        return;
    }
    const RunWeights::Layer& w = m_weights.layers[static_cast<std::size_t>(l)];
    Mat post;
    if (m_config.mlpKind == MlpKind::Gated) {
        Mat gate, up;
        if (w[LW::GateUp]) {
            // Phi-3: fused gate_up_proj, gate rows first, then up.
            Mat gu;
            project(w[LW::GateUp], nullptr, h, gu);
            const std::int64_t f = m_config.intermediateSize;
            gate = gu.leftCols(f);
            up = gu.rightCols(f);
        } else {
            project(w[LW::Gate], nullptr, h, gate);
            project(w[LW::Up], nullptr, h, up);
        }
        hook({HookKind::MlpPre, l}, gate, p0);
        activate(gate, m_config.activation);
        post = gate.cwiseProduct(up);
        rnd(post);
    } else {
        project(w[LW::Up], w[LW::UpBias], h, post);
        hook({HookKind::MlpPre, l}, post, p0);
        activate(post, m_config.activation);
    }
    // The down projection's input, where super weights read their spike.
    hook({HookKind::MlpPost, l}, post, p0);
    project(w[LW::Down], w[LW::DownBias], post, out);
}

template <class S>
void ForwardPass<S>::block(int l, Mat& x, std::int64_t p0, KvCache<S>& kv) {
    using LW = LayerWeight;
    const RunWeights::Layer& w = m_weights.layers[static_cast<std::size_t>(l)];
    hook({HookKind::ResidPre, l}, x, p0);

    Mat h, attnOut, mlpOut;
    if (m_config.postNorm) {
        attentionBlock(l, x, p0, kv, attnOut);  // post-LN: attention reads the residual itself
    } else {
        norm(w[LW::AttnNorm], w[LW::AttnNormBias], x, h);
        attentionBlock(l, h, p0, kv, attnOut);
    }
    scaleChannels(attnOut, w[LW::AttnScale]);
    if (m_config.sandwichNorms) {
        Mat normed;
        norm(w[LW::AttnPostNorm], nullptr, attnOut, normed);
        attnOut = std::move(normed);
    }
    hook({HookKind::AttnOut, l}, attnOut, p0);

    if (m_config.layout == BlockLayout::Parallel) {
        // Attention and MLP both read the block's input (GPT-J, Phi: one shared norm).
        if (!m_config.sharedParallelNorm) norm(w[LW::MlpNorm], w[LW::MlpNormBias], x, h);
        mlpBlock(l, h, p0, mlpOut);
        hook({HookKind::MlpOut, l}, mlpOut, p0);
        if (emulating()) {
            // attn + mlp + residual, left to right, each sum rounded.
            Mat sum = attnOut + mlpOut;
            rnd(sum);
            x += sum;
            rnd(x);
        } else {
            x += attnOut + mlpOut;
        }
    } else if (m_config.postNorm) {
        // BERT/RoBERTa: the norms follow each add; the normalised sums are the
        // residual stream (resid_mid, resid_post), so resid_post(L) = resid_pre(L + 1).
        Mat sum = x + attnOut;
        rnd(sum);
        norm(w[LW::AttnNorm], w[LW::AttnNormBias], sum, x);
        hook({HookKind::ResidMid, l}, x, p0);
        mlpBlock(l, x, p0, mlpOut);
        hook({HookKind::MlpOut, l}, mlpOut, p0);
        sum = x + mlpOut;
        rnd(sum);
        norm(w[LW::MlpNorm], w[LW::MlpNormBias], sum, x);
    } else {
        x += attnOut;
        rnd(x);
        hook({HookKind::ResidMid, l}, x, p0);
        norm(w[LW::MlpNorm], w[LW::MlpNormBias], x, h);
        mlpBlock(l, h, p0, mlpOut);
        if (m_config.sandwichNorms) {
            Mat normed;
            norm(w[LW::MlpPostNorm], nullptr, mlpOut, normed);
            mlpOut = std::move(normed);
        }
        scaleChannels(mlpOut, w[LW::MlpScale]);
        hook({HookKind::MlpOut, l}, mlpOut, p0);
        x += mlpOut;
        rnd(x);
    }
    hook({HookKind::ResidPost, l}, x, p0);
}

template <class S>
void ForwardPass<S>::head(const Mat& x, std::int64_t p0, bool allPositions, ActivationTensor& logits) {
    Mat normed;
    if (m_config.headTransform) {
        // Masked-LM head: dense + activation + LayerNorm, then the decoder.
        Mat transformed;
        project(m_weights[ModelWeight::HeadDense], m_weights[ModelWeight::HeadDenseBias], x, transformed);
        activate(transformed, m_config.headActivation);
        norm(m_weights[ModelWeight::FinalNorm], m_weights[ModelWeight::FinalNormBias], transformed, normed);
    } else {
        norm(m_weights[ModelWeight::FinalNorm], m_weights[ModelWeight::FinalNormBias], x, normed);
    }
    hook({HookKind::LnFinal, -1}, normed, p0);
    if (!m_weights[ModelWeight::LmHead]) {
        // Vision encoders: no vocabulary; the output is the hidden states above.
        logits.shape = {0, 0};
        logits.values.clear();
        return;
    }
    Mat out;
    if (allPositions) {
        project(m_weights[ModelWeight::LmHead], m_weights[ModelWeight::LmHeadBias], normed, out);
    } else {
        const Mat last = normed.bottomRows(1);
        project(m_weights[ModelWeight::LmHead], m_weights[ModelWeight::LmHeadBias], last, out);
    }
    if (m_config.finalSoftcap) {
        softcap(out, static_cast<S>(*m_config.finalSoftcap));
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
