#include "superlens/core/analysis/super_experts.h"

#include <algorithm>
#include <cmath>

namespace superlens::core {

double percentileLinear(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<std::string> SuperExpertProfile::pruneEdits() const {
    std::vector<std::string> out;
    for (const ExpertStat& s : superExperts) out.push_back(expertOffText(s.layer, s.expert));
    return out;
}

Result<SuperExpertProfile> profileExperts(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                          const RunControl& control) {
    const ModelConfig& c = engine.model().config();
    if (!c.hasExperts()) return Error{"the super-expert profile needs a mixture-of-experts model (" + c.familyName + " has no routed experts)"};
    if (prompts.empty()) return Error{"the super-expert profile needs at least one prompt"};
    SuperExpertProfile p;
    p.experts = c.experts.count;
    p.topK = c.experts.topK;
    for (int l = 0; l < c.numLayers; ++l) {
        if (c.isExpertLayer(l)) p.layers.push_back(l);
    }
    const int E = p.experts;
    p.stats.resize(p.layers.size() * static_cast<std::size_t>(E));
    for (std::size_t li = 0; li < p.layers.size(); ++li) {
        for (int e = 0; e < E; ++e) {
            ExpertStat& s = p.stats[li * static_cast<std::size_t>(E) + static_cast<std::size_t>(e)];
            s.layer = p.layers[li];
            s.expert = e;
        }
    }
    p.firstTokenExperts.resize(p.layers.size());

    constexpr double kBudgetBytes = 256.0 * 1024 * 1024;
    for (std::size_t pi = 0; pi < prompts.size(); ++pi) {
        const auto& ids = prompts[pi];
        const double perLayer = static_cast<double>(ids.size()) * E * c.hiddenSize * 4.0;
        const std::size_t group = std::max<std::size_t>(1, static_cast<std::size_t>(kBudgetBytes / std::max(perLayer, 1.0)));
        p.tokens += static_cast<std::int64_t>(ids.size());
        for (std::size_t g0 = 0; g0 < p.layers.size(); g0 += group) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            const std::size_t g1 = std::min(p.layers.size(), g0 + group);
            ForwardRequest req;
            req.tokens = ids;
            req.edits = edits;
            std::vector<std::string> patterns;
            for (std::size_t li = g0; li < g1; ++li) {
                const std::string b = "blocks." + std::to_string(p.layers[li]) + ".mlp.";
                patterns.push_back(b + "experts.*.hook_out");
                patterns.push_back(b + "hook_expert_indices");
            }
            req.record = HookSelection::patterns(patterns);
            auto r = engine.run(req, control);
            if (!r) return r.error();
            for (std::size_t li = g0; li < g1; ++li) {
                const int l = p.layers[li];
                const ActivationTensor* idx = (*r)->activation(HookPoint{HookKind::ExpertIndices, l});
                SL_ASSERT(idx != nullptr);
                for (std::int64_t t = 0; t < idx->rows(); ++t) {
                    for (std::int64_t j = 0; j < idx->cols(); ++j) {
                        const int e = static_cast<int>(idx->at(t, j));
                        p.stats[li * static_cast<std::size_t>(E) + static_cast<std::size_t>(e)].load += 1;
                        if (pi == 0 && t == 0) p.firstTokenExperts[li].push_back(e);
                    }
                }
                for (int e = 0; e < E; ++e) {
                    const ActivationTensor* out = (*r)->activation(HookPoint{HookKind::ExpertOut, l, e});
                    SL_ASSERT(out != nullptr);
                    ExpertStat& s = p.stats[li * static_cast<std::size_t>(E) + static_cast<std::size_t>(e)];
                    const std::int64_t cols = out->cols();
                    for (std::size_t i = 0; i < out->values.size(); ++i) {
                        const double v = out->values[i];
                        if (std::fabs(v) > s.maxAbsOut) {
                            s.maxAbsOut = std::fabs(v);
                            s.value = v;
                            s.prompt = static_cast<int>(pi);
                            s.token = static_cast<std::int64_t>(i) / cols;
                            s.channel = static_cast<std::int64_t>(i) % cols;
                        }
                    }
                }
            }
        }
        control.progress(static_cast<std::int64_t>(pi + 1), static_cast<std::int64_t>(prompts.size()), "expert profile");
    }

    std::vector<double> maxima;
    maxima.reserve(p.stats.size());
    for (const ExpertStat& s : p.stats) maxima.push_back(s.maxAbsOut);
    p.percentile995 = percentileLinear(maxima, 99.5);
    p.globalMax = *std::max_element(maxima.begin(), maxima.end());
    p.threshold = std::max(p.percentile995, p.globalMax / 10.0);
    for (ExpertStat& s : p.stats) {
        s.super = s.maxAbsOut > p.threshold;
        if (s.super) p.superExperts.push_back(s);
    }
    std::sort(p.superExperts.begin(), p.superExperts.end(), [](const ExpertStat& a, const ExpertStat& b) { return a.maxAbsOut > b.maxAbsOut; });
    return p;
}

Result<std::vector<ExpertSuperWeight>> superWeightsInExperts(Engine& engine, const SuperExpertProfile& profile,
                                                             const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits) {
    const Model& model = engine.model();
    std::vector<ExpertSuperWeight> out;
    for (const ExpertStat& s : profile.superExperts) {
        if (s.prompt < 0 || static_cast<std::size_t>(s.prompt) >= prompts.size()) return Error{"super-expert profile does not match the prompts"};
        ForwardRequest req;
        req.tokens = prompts[static_cast<std::size_t>(s.prompt)];
        req.edits = edits;
        const std::string b = "blocks." + std::to_string(s.layer) + ".mlp.experts." + std::to_string(s.expert) + ".";
        req.record = HookSelection::patterns({b + "hook_post", b + "hook_out"});
        auto r = engine.run(req);
        if (!r) return r.error();
        const ActivationTensor* post = (*r)->activation(HookPoint{HookKind::ExpertPost, s.layer, s.expert});
        const ActivationTensor* o = (*r)->activation(HookPoint{HookKind::ExpertOut, s.layer, s.expert});
        SL_ASSERT(post && o);
        ExpertSuperWeight w;
        w.layer = s.layer;
        w.expert = s.expert;
        w.tensor = model.expertWeightName(s.layer, s.expert, ExpertWeight::Down);
        auto W = engine.effectiveWeight(w.tensor, edits);
        if (!W) return W.error();
        w.row = s.channel;
        w.prompt = s.prompt;
        w.token = s.token;
        w.downOut = o->at(s.token, s.channel);
        std::vector<float> row(static_cast<std::size_t>((*W)->cols()));
        (*W)->decodeRows(w.row, w.row + 1, row.data());
        double best = -1;
        for (std::size_t j = 0; j < row.size(); ++j) {
            const double contribution = std::fabs(static_cast<double>(row[j]) * post->at(s.token, static_cast<std::int64_t>(j)));
            if (contribution > best) {
                best = contribution;
                w.col = static_cast<std::int64_t>(j);
            }
        }
        w.value = row[static_cast<std::size_t>(w.col)];
        w.downIn = post->at(s.token, w.col);
        w.share = w.downOut != 0 ? best / std::fabs(w.downOut) : 0;
        out.push_back(w);
    }
    return out;
}

Result<ExpertModelScan> scanExpertModel(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, const std::vector<EditSpec>& edits,
                                        const SuperWeightScanOptions& options, const RunControl& control) {
    ExpertModelScan out;
    auto profile = profileExperts(engine, prompts, edits, control);
    if (!profile) return profile.error();
    out.profile = std::move(profile).value();
    auto inExperts = superWeightsInExperts(engine, out.profile, prompts, edits);
    if (!inExperts) return inExperts.error();
    out.inExperts = std::move(inExperts).value();
    const ModelConfig& config = engine.model().config();
    for (int l = 0; l < config.numLayers; ++l) {
        if (!config.isExpertLayer(l)) out.denseLayers.push_back(l);
    }
    if (!out.denseLayers.empty() && !prompts.empty()) {
        auto scan = scanSuperWeights(engine, prompts.front(), edits, options, control);
        if (!scan) return scan.error();
        out.denseWeights = scan->superWeights;
    }
    return out;
}

Result<ModelSuperWeights> findModelSuperWeights(Engine& engine, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits,
                                                const RunControl& control) {
    ModelSuperWeights out;
    if (!engine.model().config().hasExperts()) {
        auto scan = scanSuperWeights(engine, tokens, edits, {}, control);
        if (!scan) return scan.error();
        out.weights = scan->superWeights;
        return out;
    }
    auto scan = scanExpertModel(engine, {tokens}, edits, {}, control);
    if (!scan) return scan.error();
    out.weights = scan->denseWeights;
    for (const ExpertSuperWeight& e : scan->inExperts) {
        SuperWeight w;
        w.layer = e.layer;
        w.expert = e.expert;
        w.setChannels(e.row, e.col, 0);  // expert weights are stored [out, in]
        w.value = static_cast<float>(e.value);
        w.downIn = static_cast<float>(e.downIn);
        w.downOut = static_cast<float>(e.downOut);
        w.token = e.token;
        out.weights.push_back(w);
    }
    out.profile = std::move(scan->profile);
    return out;
}

}  // namespace superlens::core
