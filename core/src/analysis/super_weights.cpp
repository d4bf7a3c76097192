#include "superlens/core/analysis/super_weights.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

namespace superlens::core {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Entry {
    std::int64_t token;
    std::int64_t channel;
    float value;
};

// The largest-|value| entries of a [T, C] tensor at or above `threshold`,
// at most `k`, one per channel (a super activation's channel spikes at several
// tokens; the largest token represents it).
std::vector<Entry> topEntriesDistinctChannels(const ActivationTensor& t, double threshold, int k) {
    std::vector<Entry> all;
    const std::int64_t C = t.cols();
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const float v = t.values[i];
        if (std::fabs(v) >= threshold) all.push_back({static_cast<std::int64_t>(i) / C, static_cast<std::int64_t>(i) % C, v});
    }
    std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) {
        const float fa = std::fabs(a.value), fb = std::fabs(b.value);
        if (fa != fb) return fa > fb;
        return a.token != b.token ? a.token < b.token : a.channel < b.channel;
    });
    std::vector<Entry> out;
    for (const Entry& e : all) {
        if (static_cast<int>(out.size()) >= k) break;
        const bool seen = std::any_of(out.begin(), out.end(), [&](const Entry& o) { return o.channel == e.channel; });
        if (!seen) out.push_back(e);
    }
    return out;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    const std::size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
    const double hi = v[mid];
    if (v.size() % 2) return hi;
    return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)));
}

struct Picked {
    SuperWeight weight;
    double score = 0;
};

// One detection step on a forward result (see super_weights.h for the method
// and the guards). `edits` are the edits that result was computed with.
Result<std::optional<Picked>> pickCandidate(Engine& engine, const ForwardResult& r, const std::vector<LayerSpikeStats>& stats,
                                            const std::vector<SuperWeight>& found, const std::vector<EditSpec>& edits,
                                            const SuperWeightScanOptions& o) {
    const Model& model = engine.model();
    const int L = static_cast<int>(stats.size());
    std::optional<Picked> best;
    for (int l = 0; l < L; ++l) {
        const LayerSpikeStats& s = stats[static_cast<std::size_t>(l)];
        if (s.downOutMedian <= 0 || s.downInMedian <= 0 || s.residMedian <= 0) continue;
        if (s.downOutRatio() < o.outputRatio || s.downInRatio() < o.inputRatio) continue;
        const ActivationTensor& in = *r.activation(HookPoint{HookKind::MlpPost, l});     // [T, f]
        const ActivationTensor& out = *r.activation(HookPoint{HookKind::MlpOut, l});     // [T, d]
        const ActivationTensor& resid = *r.activation(HookPoint{HookKind::ResidPost, l});  // [T, d]
        const ActivationTensor* residNext = l + 1 < L ? r.activation(HookPoint{HookKind::ResidPost, l + 1}) : nullptr;
        const std::string name = model.downProjectionName(l);
        auto W = engine.effectiveWeight(name, edits);
        if (!W) return W.error();
        // Seen as [out, in] whatever the storage (GPT-2 stores [in, out]).
        const int axis = model.downOutputAxis();
        const WeightPtr logical = axis == 0 ? *W : std::make_shared<TransposedWeight>(*W);
        const WeightMatrix& w = *logical;
        const std::int64_t f = w.cols();
        std::vector<float> row(static_cast<std::size_t>(f));

        for (const Entry& e : topEntriesDistinctChannels(out, o.outputRatio * s.downOutMedian, std::max(1, o.candidatesPerLayer))) {
            const std::int64_t t = e.token, rIdx = e.channel;
            // Paper, Sec. 3.1: the row is the output channel of the spike; the
            // column is the input channel whose product with its weight makes it.
            w.decodeRows(rIdx, rIdx + 1, row.data());
            std::int64_t c = -1;
            double bestContribution = 0;
            for (std::int64_t j = 0; j < f; ++j) {
                const double contribution = std::fabs(static_cast<double>(row[static_cast<std::size_t>(j)]) * in.at(t, j));
                if (contribution > bestContribution) {
                    bestContribution = contribution;
                    c = j;
                }
            }
            if (c < 0) continue;
            if (bestContribution < o.minContributionShare * std::fabs(e.value)) continue;
            const float x = in.at(t, c);
            const double inRatio = std::fabs(x) / s.downInMedian;
            if (inRatio < o.inputRatio) continue;  // no input spike behind this output: not the super-weight signature

            // Leftover-input guard: column c already fed a super weight of this
            // layer, so its input spike is still there after the zeroing.
            if (o.leftoverGuard) {
                const bool leftover = std::any_of(found.begin(), found.end(), [&](const SuperWeight& sw) { return sw.layer == l && sw.inputChannel() == c; });
                if (leftover) {
                    std::vector<double> column(static_cast<std::size_t>(w.rows()));
                    for (std::int64_t i = 0; i < w.rows(); ++i) column[static_cast<std::size_t>(i)] = std::fabs(w.at(i, c));
                    const double med = median(column);
                    if (!(std::fabs(row[static_cast<std::size_t>(c)]) >= o.leftoverColumnRatio * med)) continue;
                }
            }

            // Echo / persistence guard: the output spike must build a residual
            // spike of the same sign that the next block carries on.
            const float rv = resid.at(t, rIdx);
            const double residRatio = std::fabs(rv) / s.residMedian;
            if (o.requirePersistence) {
                const bool sameSign = (rv > 0) == (e.value > 0);
                if (residRatio < o.residRatio || !sameSign || std::fabs(rv) < 0.5 * std::fabs(e.value)) continue;
                if (residNext) {
                    const double nextMedian = stats[static_cast<std::size_t>(l + 1)].residMedian;
                    if (nextMedian <= 0 || std::fabs(residNext->at(t, rIdx)) / nextMedian < o.residRatio) continue;
                }
            }

            Picked p;
            p.weight.layer = l;
            p.weight.setChannels(rIdx, c, axis);
            p.weight.value = row[static_cast<std::size_t>(c)];
            p.weight.downIn = x;
            p.weight.downOut = e.value;
            p.weight.token = t;
            p.weight.outputRatio = std::fabs(e.value) / s.downOutMedian;
            p.weight.inputRatio = inRatio;
            p.weight.residRatio = residRatio;
            p.score = p.weight.outputRatio;
            if (!best || p.score > best->score) best = p;
            break;  // the largest passing entry represents this layer
        }
    }
    return best;
}

}  // namespace

std::string SuperWeight::tensorName(const Model& model) const {
    return expert >= 0 ? model.expertWeightName(layer, expert, ExpertWeight::Down) : model.downProjectionName(layer);
}

std::string SuperWeight::zeroEdit(const Model& model) const {
    return weightSetText(tensorName(model), row, col, 0.0);
}

Result<SuperWeightScan> scanSuperWeights(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& baseEdits,
                                         const SuperWeightScanOptions& options, const RunControl& control) {
    const Model& model = engine.model();
    SuperWeightScan scan;
    std::vector<EditSpec> edits = baseEdits;
    std::shared_ptr<const ForwardResult> previous;
    const int maxFinds = std::max(0, options.maxIterations);
    for (int pass = 0;; ++pass) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        const auto t0 = Clock::now();
        ForwardRequest req;
        req.tokens = tokens;
        req.pixels = options.pixels;
        req.edits = edits;
        req.record = superWeightHooks();
        // Incremental recompute: blocks before the layer of the weight just
        // zeroed are reused from the previous pass (bit-identical).
        req.previous = previous;
        auto result = engine.run(req);
        if (!result) return result.error();
        ++scan.forwardPasses;
        auto stats = layerSpikeStats(**result);
        if (!stats) return stats.error();
        if (pass == 0) {
            scan.firstPass = *stats;
            scan.firstResult = *result;
        }
        scan.lastResult = *result;
        scan.iterationStartLayer.push_back(std::max(0, (*result)->recomputedFromStage - 1));
        std::optional<Picked> picked;
        if (static_cast<int>(scan.superWeights.size()) < maxFinds) {
            auto p = pickCandidate(engine, **result, *stats, scan.superWeights, edits, options);
            if (!p) return p.error();
            picked = *p;
        }
        scan.iterationSeconds.push_back(secondsSince(t0));
        control.progress(pass + 1, maxFinds + 1, "super-weight scan");
        if (!picked) break;
        picked->weight.iteration = pass;
        auto zero = parseEdit(picked->weight.zeroEdit(model));
        if (!zero) return zero.error();
        edits.push_back(std::move(zero).value());
        scan.superWeights.push_back(picked->weight);
        previous = *result;
    }
    scan.zeroEdits = edits;
    return scan;
}

Result<std::vector<SuperWeightConsistency>> scanConsistency(Engine& engine, const std::vector<std::vector<TokenId>>& prompts,
                                                            const std::vector<EditSpec>& baseEdits, const SuperWeightScanOptions& options,
                                                            const RunControl& control, const SuperWeightScan* firstPromptScan) {
    std::vector<SuperWeightConsistency> out;
    const int total = static_cast<int>(prompts.size());
    for (int i = 0; i < total; ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        const auto& tokens = prompts[static_cast<std::size_t>(i)];
        // Activation edits name token positions: each prompt must have them.
        for (const EditSpec& e : baseEdits) {
            if (e.kind != EditKind::Activation) continue;
            if (auto st = validateEdit(e, engine.model(), static_cast<std::int64_t>(tokens.size())); !st) {
                return Error{"prompt " + std::to_string(i + 1) + ": " + st.error().message};
            }
        }
        Result<SuperWeightScan> scanned = SuperWeightScan{};
        if (i > 0 || !firstPromptScan) {
            scanned = scanSuperWeights(engine, tokens, baseEdits, options);
            if (!scanned) return Error{"prompt " + std::to_string(i + 1) + ": " + scanned.error().message};
        }
        const SuperWeightScan& scan = (i == 0 && firstPromptScan) ? *firstPromptScan : *scanned;
        for (const SuperWeight& sw : scan.superWeights) {
            auto it = std::find_if(out.begin(), out.end(), [&](const SuperWeightConsistency& c) { return c.weight.sameCoordinate(sw); });
            if (it == out.end()) {
                out.push_back({sw, 0, total});
                it = out.end() - 1;
            }
            ++it->promptsFound;
        }
        control.progress(i + 1, total, "super-weight scan over prompts");
    }
    for (auto& c : out) c.promptsTotal = total;
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.promptsFound > b.promptsFound; });
    return out;
}

std::vector<TokenId> scanInputHead(const std::vector<TokenId>& textTokens) {
    return {textTokens.begin(), textTokens.begin() + static_cast<std::ptrdiff_t>(std::min(kScanInputTokens, textTokens.size()))};
}

Result<std::vector<EditSpec>> resolveKeepSuperFromScan(Engine& engine, const std::vector<TokenId>& tokens, std::vector<EditSpec> edits,
                                                       const SuperWeightScanOptions& options) {
    const bool needed = std::any_of(edits.begin(), edits.end(), [](const EditSpec& e) { return e.needsSuperWeightScan() || e.needsSuperActivationScan(); });
    if (!needed) return edits;
    // Scan the model the quantizer would protect: the user's other edits, without quantization.
    std::vector<EditSpec> base;
    for (const EditSpec& e : edits) {
        if (e.kind != EditKind::Rtn && e.kind != EditKind::ActQuant) base.push_back(e);
    }
    auto scan = scanSuperWeights(engine, tokens, base, options);
    if (!scan) return Error{"keep_super: super-weight scan failed: " + scan.error().message};
    std::vector<SuperWeightCoord> weights;
    std::vector<ActivationCoord> activations;
    for (const SuperWeight& sw : scan->superWeights) {
        weights.push_back(sw.coord());
        const ActivationCoord a{sw.token, sw.outputChannel()};
        if (std::find(activations.begin(), activations.end(), a) == activations.end()) activations.push_back(a);
    }
    for (EditSpec& e : edits) {
        if (e.needsSuperWeightScan()) {
            e.keepWeights = weights;
            // Nothing found: nothing to keep (an empty list would read as "unresolved").
            if (weights.empty()) e.keepSuper = false;
        } else if (e.needsSuperActivationScan()) {
            e.keepActivations = activations;
            if (activations.empty()) e.keepSuper = false;
        }
    }
    return edits;
}

Result<std::vector<EditSpec>> resolveKeepSuperFromScan(Engine& engine, const std::vector<TokenId>& tokens,
                                                       const std::shared_ptr<const PixelTensor>& pixels, std::vector<EditSpec> edits) {
    SuperWeightScanOptions options;
    options.pixels = pixels;
    return resolveKeepSuperFromScan(engine, pixels ? std::vector<TokenId>{} : tokens, std::move(edits), options);
}

}  // namespace superlens::core
