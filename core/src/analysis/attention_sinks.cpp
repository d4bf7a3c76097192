#include "superlens/core/analysis/attention_sinks.h"

#include <algorithm>
#include <set>
#include <string>

namespace superlens::core {

Result<AttentionSinkReport> attentionSinks(const ForwardResult& run, const std::vector<std::int64_t>& carrierTokens) {
    AttentionSinkReport out;
    // A vision model's run has positions (CLS, registers, patches) but no token ids.
    const std::int64_t T = run.tokens.empty() ? run.positions : static_cast<std::int64_t>(run.tokens.size());
    if (T < 1) return Error{"attention sinks: the run has no tokens"};
    out.tokens = T;
    std::set<std::int64_t> carriers{0};
    for (std::int64_t t : carrierTokens) {
        if (t < 0 || t >= T) return Error{"attention sinks: carrier token " + std::to_string(t) + " is outside the prompt (0.." + std::to_string(T - 1) + ")"};
        carriers.insert(t);
    }
    out.carriers.assign(carriers.begin(), carriers.end());
    for (int l = 0;; ++l) {
        const ActivationTensor* a = run.activation(HookPoint{HookKind::AttnPattern, l});
        if (!a) {
            if (l == 0) return Error{"attention sinks: the run did not record blocks.0.attn.hook_pattern"};
            break;
        }
        if (a->shape.size() != 3 || a->shape[1] != T || a->shape[2] != T) {
            return Error{"attention sinks: blocks." + std::to_string(l) + ".attn.hook_pattern is not [heads, " + std::to_string(T) + ", " +
                         std::to_string(T) + "]"};
        }
        const int H = static_cast<int>(a->shape[0]);
        if (l > 0 && H != out.heads) return Error{"attention sinks: layers have different head counts"};
        out.heads = H;
        const std::int64_t q0 = T > 1 ? 1 : 0;
        const double queries = static_cast<double>(T - q0);
        std::vector<double> first(static_cast<std::size_t>(H)), all(static_cast<std::size_t>(H));
        for (int h = 0; h < H; ++h) {
            double f = 0, c = 0;
            for (std::int64_t q = q0; q < T; ++q) {
                const float* row = a->values.data() + (static_cast<std::int64_t>(h) * T + q) * T;
                f += row[0];
                for (std::int64_t k : out.carriers) c += row[k];
            }
            first[static_cast<std::size_t>(h)] = f / queries;
            all[static_cast<std::size_t>(h)] = c / queries;
        }
        out.firstTokenMass.push_back(std::move(first));
        out.carrierMass.push_back(std::move(all));
    }
    out.layers = static_cast<int>(out.firstTokenMass.size());
    return out;
}

std::vector<std::int64_t> massiveCarrierTokens(const MassiveActivationReport& report) {
    std::set<std::int64_t> tokens;
    for (const auto& m : report.flagged) tokens.insert(m.token);
    return {tokens.begin(), tokens.end()};
}

Result<std::vector<SinkChange>> lostSinks(const AttentionSinkReport& original, const AttentionSinkReport& edited, bool firstToken,
                                          const SinkLossOptions& options) {
    if (original.layers != edited.layers || original.heads != edited.heads) return Error{"attention sinks: the two runs have different shapes"};
    const auto& a = firstToken ? original.firstTokenMass : original.carrierMass;
    const auto& b = firstToken ? edited.firstTokenMass : edited.carrierMass;
    std::vector<SinkChange> out;
    for (int l = 0; l < original.layers; ++l) {
        for (int h = 0; h < original.heads; ++h) {
            const double o = a[static_cast<std::size_t>(l)][static_cast<std::size_t>(h)];
            const double e = b[static_cast<std::size_t>(l)][static_cast<std::size_t>(h)];
            if (o >= options.sinkThreshold && e < options.keptFraction * o) out.push_back({l, h, o, e});
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const SinkChange& x, const SinkChange& y) { return x.original - x.edited > y.original - y.edited; });
    return out;
}

}  // namespace superlens::core
