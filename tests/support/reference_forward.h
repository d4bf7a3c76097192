#pragma once
// An independent float64 forward pass for tests: plain loops over the
// checkpoint's tensors (TensorView::at), written from the Hugging Face
// equations without any engine code, producing every hook of the DESIGN.md
// table. Slow and simple on purpose.

#include <cmath>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include "superlens/core/model/model.h"

namespace superlens::test {

using Matrix = std::vector<std::vector<double>>;  // [rows][cols]

struct ReferenceRun {
    std::map<std::string, Matrix> hooks;  // attention patterns stored as [head * T + query][key]
    Matrix logits;                        // [T][V]
};

inline Matrix weightMatrix(const core::Model& m, const std::string& name) {
    const core::TensorView* t = m.tensor(name);
    const std::int64_t rows = t->shape.size() == 1 ? 1 : t->shape[0];
    const std::int64_t cols = t->shape.size() == 1 ? t->shape[0] : t->shape[1];
    Matrix w(static_cast<std::size_t>(rows), std::vector<double>(static_cast<std::size_t>(cols)));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) w[r][c] = t->at(r * cols + c);
    return w;
}

// y[t][o] = sum_i x[t][i] * w[o][i] (+ bias)
inline Matrix matmulT(const Matrix& x, const Matrix& w, std::size_t rowBegin = 0, std::size_t rowCount = 0) {
    if (rowCount == 0) rowCount = w.size() - rowBegin;
    Matrix y(x.size(), std::vector<double>(rowCount, 0.0));
    for (std::size_t t = 0; t < x.size(); ++t)
        for (std::size_t o = 0; o < rowCount; ++o) {
            double s = 0;
            for (std::size_t i = 0; i < x[t].size(); ++i) s += x[t][i] * w[rowBegin + o][i];
            y[t][o] = s;
        }
    return y;
}

inline Matrix normalize(const core::Model& m, const Matrix& x, const std::string& weightName) {
    const auto& c = m.config();
    Matrix y = x;
    for (auto& row : y) {
        const double n = static_cast<double>(row.size());
        if (c.normKind == core::NormKind::NonParametricLayerNorm) {
            double mean = 0, var = 0;
            for (double v : row) mean += v;
            mean /= n;
            for (double v : row) var += (v - mean) * (v - mean);
            var /= n;
            for (double& v : row) v = (v - mean) / std::sqrt(var + 1e-5);
        } else {
            double ss = 0;
            for (double v : row) ss += v * v;
            const double inv = 1.0 / std::sqrt(ss / n + c.normEps);
            const Matrix w = weightMatrix(m, weightName);
            for (std::size_t i = 0; i < row.size(); ++i) row[i] = row[i] * inv * w[0][i];
        }
    }
    return y;
}

inline std::vector<double> inverseFrequencies(const core::ModelConfig& c) {
    std::vector<double> inv;
    for (int i = 0; i < c.headDim / 2; ++i) {
        double f = 1.0 / std::pow(c.ropeTheta, 2.0 * i / c.headDim);
        if (c.ropeScaling.type == core::RopeScalingType::Llama3) {
            const auto& s = c.ropeScaling;
            const double wavelen = 2 * std::numbers::pi / f;
            const double low = s.originalMaxPositions / s.lowFreqFactor, high = s.originalMaxPositions / s.highFreqFactor;
            if (wavelen > low) f /= s.factor;
            else if (wavelen >= high) {
                const double smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
                f = (1 - smooth) * f / s.factor + smooth * f;
            }
        } else if (c.ropeScaling.type == core::RopeScalingType::Linear) {
            f /= c.ropeScaling.factor;
        }
        inv.push_back(f);
    }
    return inv;
}

inline void rotate(Matrix& x, int heads, int hd, const std::vector<double>& inv) {
    for (std::size_t t = 0; t < x.size(); ++t)
        for (int h = 0; h < heads; ++h)
            for (int i = 0; i < hd / 2; ++i) {
                const double a = static_cast<double>(t) * inv[i];
                double& x1 = x[t][h * hd + i];
                double& x2 = x[t][h * hd + i + hd / 2];
                const double r1 = x1 * std::cos(a) - x2 * std::sin(a);
                const double r2 = x2 * std::cos(a) + x1 * std::sin(a);
                x1 = r1;
                x2 = r2;
            }
}

inline ReferenceRun referenceForward(const core::Model& m, const std::vector<int>& ids) {
    const auto& c = m.config();
    const int H = c.numHeads, KV = c.numKvHeads, hd = c.headDim, d = c.hiddenSize, f = c.intermediateSize;
    const std::size_t T = ids.size();
    ReferenceRun run;
    const Matrix embed = weightMatrix(m, "model.embed_tokens.weight");
    Matrix x(T);
    for (std::size_t t = 0; t < T; ++t) x[t] = embed[static_cast<std::size_t>(ids[t])];
    run.hooks["hook_embed"] = x;
    const auto inv = inverseFrequencies(c);
    for (int l = 0; l < c.numLayers; ++l) {
        const std::string p = "blocks." + std::to_string(l) + ".";
        const std::string w = "model.layers." + std::to_string(l) + ".";
        run.hooks[p + "hook_resid_pre"] = x;
        const Matrix h = normalize(m, x, w + "input_layernorm.weight");
        Matrix q, k, v;
        if (c.qkvLayout == core::QkvLayout::Fused) {
            const Matrix qkv = weightMatrix(m, w + "self_attn.qkv_proj.weight");
            q = matmulT(h, qkv, 0, static_cast<std::size_t>(H * hd));
            k = matmulT(h, qkv, static_cast<std::size_t>(H * hd), static_cast<std::size_t>(KV * hd));
            v = matmulT(h, qkv, static_cast<std::size_t>((H + KV) * hd), static_cast<std::size_t>(KV * hd));
        } else {
            q = matmulT(h, weightMatrix(m, w + "self_attn.q_proj.weight"));
            k = matmulT(h, weightMatrix(m, w + "self_attn.k_proj.weight"));
            v = matmulT(h, weightMatrix(m, w + "self_attn.v_proj.weight"));
            if (c.qkvBias) {
                const Matrix qb = weightMatrix(m, w + "self_attn.q_proj.bias"), kb = weightMatrix(m, w + "self_attn.k_proj.bias"),
                             vb = weightMatrix(m, w + "self_attn.v_proj.bias");
                for (std::size_t t = 0; t < T; ++t) {
                    for (std::size_t i = 0; i < q[t].size(); ++i) q[t][i] += qb[0][i];
                    for (std::size_t i = 0; i < k[t].size(); ++i) k[t][i] += kb[0][i];
                    for (std::size_t i = 0; i < v[t].size(); ++i) v[t][i] += vb[0][i];
                }
            }
        }
        if (c.clipQkv) {
            for (Matrix* mtx : {&q, &k, &v})
                for (auto& row : *mtx)
                    for (double& val : row) val = std::clamp(val, -*c.clipQkv, *c.clipQkv);
        }
        rotate(q, H, hd, inv);
        rotate(k, KV, hd, inv);
        Matrix attn(T, std::vector<double>(static_cast<std::size_t>(H * hd), 0.0));
        Matrix pattern(static_cast<std::size_t>(H) * T, std::vector<double>(T, 0.0));
        for (int hh = 0; hh < H; ++hh) {
            const int kvh = hh / (H / KV);
            for (std::size_t i = 0; i < T; ++i) {
                std::vector<double> s(i + 1);
                double mx = -1e300;
                for (std::size_t j = 0; j <= i; ++j) {
                    double dot = 0;
                    for (int e = 0; e < hd; ++e) dot += q[i][hh * hd + e] * k[j][kvh * hd + e];
                    s[j] = dot / std::sqrt(static_cast<double>(hd));
                    mx = std::max(mx, s[j]);
                }
                double sum = 0;
                for (double& val : s) sum += (val = std::exp(val - mx));
                for (std::size_t j = 0; j <= i; ++j) {
                    const double pj = s[j] / sum;
                    pattern[hh * T + i][j] = pj;
                    for (int e = 0; e < hd; ++e) attn[i][hh * hd + e] += pj * v[j][kvh * hd + e];
                }
            }
        }
        run.hooks[p + "attn.hook_pattern"] = pattern;
        const Matrix o = matmulT(attn, weightMatrix(m, w + "self_attn.o_proj.weight"));
        run.hooks[p + "hook_attn_out"] = o;
        for (std::size_t t = 0; t < T; ++t)
            for (int i = 0; i < d; ++i) x[t][i] += o[t][i];
        run.hooks[p + "hook_resid_mid"] = x;
        const Matrix h2 = normalize(m, x, w + "post_attention_layernorm.weight");
        Matrix gate, up;
        if (c.fusedGateUp) {
            const Matrix gu = weightMatrix(m, w + "mlp.gate_up_proj.weight");
            gate = matmulT(h2, gu, 0, static_cast<std::size_t>(f));
            up = matmulT(h2, gu, static_cast<std::size_t>(f), static_cast<std::size_t>(f));
        } else {
            gate = matmulT(h2, weightMatrix(m, w + "mlp.gate_proj.weight"));
            up = matmulT(h2, weightMatrix(m, w + "mlp.up_proj.weight"));
        }
        run.hooks[p + "mlp.hook_pre"] = gate;
        Matrix post = gate;
        for (std::size_t t = 0; t < T; ++t)
            for (int i = 0; i < f; ++i) post[t][i] = gate[t][i] / (1.0 + std::exp(-gate[t][i])) * up[t][i];
        run.hooks[p + "mlp.hook_post"] = post;
        const Matrix out = matmulT(post, weightMatrix(m, w + "mlp.down_proj.weight"));
        run.hooks[p + "hook_mlp_out"] = out;
        for (std::size_t t = 0; t < T; ++t)
            for (int i = 0; i < d; ++i) x[t][i] += out[t][i];
        run.hooks[p + "hook_resid_post"] = x;
    }
    const Matrix fin = normalize(m, x, "model.norm.weight");
    run.hooks["ln_final.hook_normalized"] = fin;
    run.logits = matmulT(fin, weightMatrix(m, c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"));
    return run;
}

}  // namespace superlens::test
