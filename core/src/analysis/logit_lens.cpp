#include "superlens/core/analysis/logit_lens.h"
#include "superlens/core/analysis/softmax.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace superlens::core {
namespace {

HookPoint residualHook(int layer) {
    return layer < 0 ? HookPoint{HookKind::ResidPre, 0} : HookPoint{HookKind::ResidPost, layer};
}

// Most probable first, lower id first among equal probabilities.
bool before(const std::vector<double>& p, TokenId a, TokenId b) {
    const double pa = p[static_cast<std::size_t>(a)], pb = p[static_cast<std::size_t>(b)];
    return pa > pb || (pa == pb && a < b);
}

TokenId argmax(const std::vector<double>& p) {
    TokenId best = 0;
    for (std::size_t i = 1; i < p.size(); ++i) {
        if (before(p, static_cast<TokenId>(i), best)) best = static_cast<TokenId>(i);
    }
    return best;
}

}  // namespace

const LensLayer* LogitLensResult::layer(int l) const {
    for (const auto& row : layers) {
        if (row.layer == l) return &row;
    }
    return nullptr;
}

HookSelection logitLensHooks() { return HookSelection::patterns({"blocks.0.hook_resid_pre", "blocks.*.hook_resid_post"}); }

Result<LogitLensResult> logitLens(Engine& engine, const ForwardResult& run, const LogitLensOptions& options, const RunControl& control,
                                  const LogitLensResult* previous, const ForwardResult* previousRun) {
    const int L = engine.model().config().numLayers;
    const std::int64_t T = static_cast<std::int64_t>(run.tokens.size());
    if (T < 1) return Error{"logit lens: the run has no tokens"};
    if (options.topK < 1) return Error{"logit lens: top-k must be at least 1"};
    const std::int64_t P = options.position < 0 ? T - 1 : options.position;
    if (P >= T) {
        return Error{"logit lens: position " + std::to_string(options.position) + " is outside the prompt (0.." + std::to_string(T - 1) + ")"};
    }
    for (int l = -1; l < L; ++l) {
        const ActivationTensor* a = run.activation(residualHook(l));
        if (!a || a->rows() != T) return Error{"logit lens: the run did not record " + hookName(residualHook(l))};
    }
    // A previous lens is reusable per layer when it is of the same tokens and
    // position, its head (final norm, unembedding) saw the same edits, and the
    // layer's residual is the very tensor this run holds.
    const bool headSame = previous && previousRun && previousRun->tokens == run.tokens && previous->position == P &&
                          previousRun->precision == run.precision && !run.stageKeys.empty() &&
                          run.stageKeys.size() == previousRun->stageKeys.size() && run.stageKeys.back() == previousRun->stageKeys.back();
    auto reusable = [&](int l) {
        if (!headSame) return false;
        const auto mine = run.activations.find(residualHook(l));
        const auto theirs = previousRun->activations.find(residualHook(l));
        return mine != run.activations.end() && theirs != previousRun->activations.end() && mine->second == theirs->second &&
               static_cast<int>(previous->layers.size()) == L + 1 && static_cast<int>(previous->top1Prob.size()) == L + 1;
    };

    LogitLensResult out;
    out.position = P;
    out.layers.resize(static_cast<std::size_t>(L + 1));
    out.top1Prob.assign(static_cast<std::size_t>(L + 1), std::vector<double>(static_cast<std::size_t>(T), 0.0));
    out.top1Id.assign(static_cast<std::size_t>(L + 1), std::vector<TokenId>(static_cast<std::size_t>(T), 0));
    if (options.allPositions) {
        out.perPosition.assign(static_cast<std::size_t>(T), std::vector<LensLayer>(static_cast<std::size_t>(L + 1)));
        out.finalTokens.assign(static_cast<std::size_t>(T), 0);
    }
    const bool previousFits = headSame && previous->topK == options.topK && previous->perPosition.size() == out.perPosition.size() &&
                              previous->finalTokens.size() == out.finalTokens.size();

    // The last layer first: its top-1 at each position is the final prediction the other rows rank.
    std::vector<int> order{L - 1};
    for (int l = -1; l < L - 1; ++l) order.push_back(l);
    std::vector<double> p;
    std::vector<TokenId> ids;
    int done = 0;
    for (int l : order) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        const std::size_t row = static_cast<std::size_t>(l + 1);
        if (previousFits && reusable(l) && (l == L - 1 || (previous->finalToken == out.finalToken && previous->finalTokens == out.finalTokens))) {
            out.layers[row] = previous->layers[row];
            out.top1Prob[row] = previous->top1Prob[row];
            out.top1Id[row] = previous->top1Id[row];
            for (std::size_t t = 0; t < out.perPosition.size(); ++t) out.perPosition[t][row] = previous->perPosition[t][row];
            if (l == L - 1) {
                out.finalToken = previous->finalToken;
                out.finalTokens = previous->finalTokens;
            }
            control.progress(++done, L + 1, "logit lens");
            continue;
        }
        auto logits = engine.unembed(*run.activation(residualHook(l)), run.edits, control);
        if (!logits) return logits.error();
        const std::int64_t V = logits->cols();
        for (std::int64_t t = 0; t < T; ++t) {
            softmax(logits->values.data() + t * V, V, p);
            const TokenId top1 = argmax(p);
            out.top1Prob[row][static_cast<std::size_t>(t)] = p[static_cast<std::size_t>(top1)];
            out.top1Id[row][static_cast<std::size_t>(t)] = top1;
            if (t != P && !options.allPositions) continue;
            if (l == L - 1) {
                if (t == P) out.finalToken = top1;
                if (options.allPositions) out.finalTokens[static_cast<std::size_t>(t)] = top1;
            }
            const TokenId final = options.allPositions ? out.finalTokens[static_cast<std::size_t>(t)] : out.finalToken;
            LensLayer r;
            r.layer = l;
            ids.resize(static_cast<std::size_t>(V));
            std::iota(ids.begin(), ids.end(), TokenId{0});
            const std::int64_t k = std::min<std::int64_t>(options.topK, V);
            std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](TokenId a, TokenId b) { return before(p, a, b); });
            for (std::int64_t i = 0; i < k; ++i) r.top.push_back({ids[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(ids[static_cast<std::size_t>(i)])]});
            double h = 0.0;
            for (double q : p) {
                if (q > 0.0) h -= q * std::log(q);
            }
            r.entropy = h;
            r.finalProb = p[static_cast<std::size_t>(final)];
            int rank = 0;
            for (std::int64_t i = 0; i < V; ++i) {
                if (before(p, static_cast<TokenId>(i), final)) ++rank;
            }
            r.finalRank = rank;
            if (t == P) out.layers[row] = r;
            if (options.allPositions) out.perPosition[static_cast<std::size_t>(t)][row] = std::move(r);
        }
        control.progress(++done, L + 1, "logit lens");
    }
    out.topK = options.topK;
    return out;
}

}  // namespace superlens::core
