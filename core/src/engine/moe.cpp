// The routed-experts MLP (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE), as the
// Hugging Face sparse MoE blocks compute it:
//   probs = softmax(router(x))                 (fp32 in HF; the compute precision here)
//   top-k of probs per token, descending        (torch.topk)
//   weights = top-k probs, / their sum when the family renormalises (norm_topk_prob; Mixtral always)
//   out = sum over the selected experts, in ascending expert index (HF's index_add_ loop),
//         of weight * down(act(gate(x)) * up(x))
//       + sigmoid(shared_expert_gate(x)) * shared_expert(x)   (Qwen2-MoE)
// Only the selected experts run, each on the rows of the tokens routed to it.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "forward_pass.h"

namespace superlens::core {

template <class S>
void ForwardPass<S>::scatteredHook(HookPoint p, const std::vector<std::int64_t>& rows, std::int64_t n, Mat& values, std::int64_t p0) {
    if (!m_plan.active(p)) return;
    Mat full = Mat::Zero(n, values.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) full.row(rows[i]) = values.row(static_cast<Eigen::Index>(i));
    hook(p, full, p0);
    for (std::size_t i = 0; i < rows.size(); ++i) values.row(static_cast<Eigen::Index>(i)) = full.row(rows[i]);
}

template <class S>
void ForwardPass<S>::expertsBlock(int l, const Mat& h, std::int64_t p0, Mat& out) {
    using LW = LayerWeight;
    const RunWeights::Layer& w = m_weights.layers[static_cast<std::size_t>(l)];
    const ExpertsRecipe& recipe = m_config.experts;
    const int E = recipe.count, k = recipe.topK;
    const std::int64_t n = h.rows();

    // Router probabilities [n, E]: a max-shifted softmax, the sum in double.
    Mat probs;
    project(w[LW::Router], nullptr, h, probs);  // router logits in the model's dtype; the softmax in fp32
    for (std::int64_t t = 0; t < n; ++t) {
        S* row = probs.data() + t * E;
        const S maxv = *std::max_element(row, row + E);
        double sum = 0.0;
        for (int e = 0; e < E; ++e) {
            row[e] = std::exp(row[e] - maxv);
            sum += row[e];
        }
        const S inv = static_cast<S>(1.0 / sum);
        for (int e = 0; e < E; ++e) row[e] *= inv;
    }
    hook({HookKind::ExpertWeights, l}, probs, p0);

    // Top-k per token, descending probability. Exactly equal probabilities
    // go to the lower expert index first (torch.topk leaves the order of
    // exact ties unspecified; a near tie is decided by the values).
    std::vector<int> selected(static_cast<std::size_t>(n * k));
    std::vector<S> weight(static_cast<std::size_t>(n * k));
    std::vector<int> order(static_cast<std::size_t>(E));
    const bool anyOff = !w.expertOff.empty() && std::any_of(w.expertOff.begin(), w.expertOff.end(), [](char c) { return c != 0; });
    for (std::int64_t t = 0; t < n; ++t) {
        const S* row = probs.data() + t * E;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
        S* wt = weight.data() + t * k;
        S total = 0;
        for (int j = 0; j < k; ++j) {
            selected[static_cast<std::size_t>(t * k + j)] = order[static_cast<std::size_t>(j)];
            wt[j] = row[order[static_cast<std::size_t>(j)]];
            total += wt[j];
        }
        if (recipe.renormalize) {
            for (int j = 0; j < k; ++j) wt[j] /= total;
            total = S(1);
        }
        for (int j = 0; j < k; ++j) wt[j] = rnd(wt[j]);  // routing_weights.to(hidden_states.dtype)
        if (anyOff) {
            // expert:L:E=off: a removed expert contributes nothing; the other
            // selected experts keep their weights, or with :renorm share the
            // removed weight in proportion (their weights again sum to the total).
            S kept = 0;
            for (int j = 0; j < k; ++j) {
                if (w.expertOff[static_cast<std::size_t>(selected[static_cast<std::size_t>(t * k + j)])]) wt[j] = 0;
                kept += wt[j];
            }
            if (w.renormAfterOff && kept > 0) {
                for (int j = 0; j < k; ++j) wt[j] = wt[j] * total / kept;
            }
        }
    }
    if (m_plan.active({HookKind::ExpertIndices, l})) {
        Mat indices(n, k);
        for (std::int64_t i = 0; i < n * k; ++i) indices.data()[i] = static_cast<S>(selected[static_cast<std::size_t>(i)]);
        hook({HookKind::ExpertIndices, l}, indices, p0);
    }

    out = Mat::Zero(n, h.cols());
    std::vector<std::int64_t> rows;
    std::vector<S> rowWeight;
    for (int e = 0; e < E; ++e) {
        rows.clear();
        rowWeight.clear();
        for (std::int64_t t = 0; t < n; ++t) {
            for (int j = 0; j < k; ++j) {
                if (selected[static_cast<std::size_t>(t * k + j)] == e) {
                    rows.push_back(t);
                    rowWeight.push_back(weight[static_cast<std::size_t>(t * k + j)]);
                }
            }
        }
        const auto& ew = w.experts[static_cast<std::size_t>(e)];
        const bool off = !w.expertOff.empty() && w.expertOff[static_cast<std::size_t>(e)];
        if (rows.empty() || off) {
            // Not computed: its hooks (when recorded) are all zero.
            for (HookKind kind : {HookKind::ExpertPre, HookKind::ExpertPost, HookKind::ExpertOut}) {
                const HookPoint p{kind, l, e};
                if (!m_plan.record[static_cast<std::size_t>(m_plan.index(p))]) continue;
                Mat zero = Mat::Zero(n, kind == HookKind::ExpertOut ? h.cols() : recipe.intermediate);
                hook(p, zero, p0);
            }
            continue;
        }
        Mat x(static_cast<Eigen::Index>(rows.size()), h.cols());
        for (std::size_t i = 0; i < rows.size(); ++i) x.row(static_cast<Eigen::Index>(i)) = h.row(rows[i]);
        Mat gate, up, y;
        project(ew[static_cast<std::size_t>(ExpertWeight::Gate)], nullptr, x, gate);
        project(ew[static_cast<std::size_t>(ExpertWeight::Up)], nullptr, x, up);
        scatteredHook({HookKind::ExpertPre, l, e}, rows, n, gate, p0);
        activate(gate, m_config.activation);
        Mat post = gate.cwiseProduct(up);
        rnd(post);
        scatteredHook({HookKind::ExpertPost, l, e}, rows, n, post, p0);
        project(ew[static_cast<std::size_t>(ExpertWeight::Down)], nullptr, post, y);
        scatteredHook({HookKind::ExpertOut, l, e}, rows, n, y, p0);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            // expert(x) * routing weight, then index_add_ into the dtype's accumulator: each rounded.
            auto o = out.row(rows[i]);
            if (emulating()) {
                Mat term = y.row(static_cast<Eigen::Index>(i)) * rowWeight[i];
                rnd(term);
                o += term;
                for (Eigen::Index c = 0; c < o.size(); ++c) o(c) = rnd(o(c));
            } else {
                o += y.row(static_cast<Eigen::Index>(i)) * rowWeight[i];
            }
        }
    }

    if (recipe.sharedIntermediate > 0) {
        Mat gate, up, y, g;
        project(w[LW::SharedGate], nullptr, h, gate);
        project(w[LW::SharedUp], nullptr, h, up);
        hook({HookKind::SharedPre, l}, gate, p0);
        activate(gate, m_config.activation);
        Mat post = gate.cwiseProduct(up);
        rnd(post);
        hook({HookKind::SharedPost, l}, post, p0);
        project(w[LW::SharedDown], nullptr, post, y);
        if (recipe.sharedGate) {
            project(w[LW::SharedExpertGate], nullptr, h, g);  // [n, 1]
            for (std::int64_t t = 0; t < n; ++t) y.row(t) *= rnd(S(1) / (S(1) + std::exp(-g(t, 0))));
            rnd(y);
        }
        hook({HookKind::SharedOut, l}, y, p0);
        out += y;
        rnd(out);
    }
}

template void ForwardPass<float>::expertsBlock(int, const kernels::Mat<float>&, std::int64_t, kernels::Mat<float>&);
template void ForwardPass<double>::expertsBlock(int, const kernels::Mat<double>&, std::int64_t, kernels::Mat<double>&);
template void ForwardPass<float>::scatteredHook(HookPoint, const std::vector<std::int64_t>&, std::int64_t, kernels::Mat<float>&, std::int64_t);
template void ForwardPass<double>::scatteredHook(HookPoint, const std::vector<std::int64_t>&, std::int64_t, kernels::Mat<double>&, std::int64_t);

}  // namespace superlens::core
