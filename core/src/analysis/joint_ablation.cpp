// Joint ablation of named edit sets (joint_ablation.h).

#include "superlens/core/analysis/joint_ablation.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace superlens::core {
namespace {

double meanNll(const WindowUnits& w, const std::vector<std::uint32_t>& c) { return weightedSum(w.nll, c) / weightedSum(w.tokens, c); }

nlohmann::json intervalJson(const Interval& i) {
    if (!i.valid()) return nullptr;
    return nlohmann::json::array({i.lo, i.hi});
}

std::string withInterval(const char* format, double v, const Interval& i) {
    const auto fmt = [format](double x) {
        char buf[64];
        std::snprintf(buf, sizeof buf, format, x);
        return std::string(buf);
    };
    std::string s = fmt(v);
    if (i.valid()) s += " [" + fmt(i.lo) + ", " + fmt(i.hi) + "]";
    return s;
}

}  // namespace

Result<JointAblation> jointAblation(Engine& engine, const std::vector<TokenId>& textTokens, const std::vector<EditSpec>& baseEdits,
                                    const std::vector<JointItem>& items, const JointAblationOptions& options,
                                    const std::map<std::uint64_t, WindowUnits>& known, const RunControl& control) {
    const std::size_t n = items.size();
    if (n > kMaxJointItems) {
        return Error{"--joint: " + std::to_string(n) + " " + options.noun + "; at most " + std::to_string(kMaxJointItems) +
                     " (every pair is one pass over the text)"};
    }
    if (n == 0) return Error{"--joint: no " + options.noun + " to ablate"};
    SL_TRY(validate(options.bootstrap));
    std::map<std::uint64_t, WindowUnits> measured = known;
    const auto measure = [&](std::uint64_t mask) -> Status {
        if (measured.count(mask)) return {};
        std::vector<EditSpec> edits = baseEdits;
        for (std::size_t i = 0; i < n; ++i) {
            if (mask >> i & 1U) edits.insert(edits.end(), items[i].edits.begin(), items[i].edits.end());
        }
        auto p = perplexity(engine, textTokens, edits, options.perplexity, control);
        if (!p) return Error{"joint ablation: " + p.error().message};
        measured[mask] = windowUnits(*p, nullptr);
        return {};
    };
    const std::uint64_t all = (std::uint64_t{1} << n) - 1;
    std::vector<std::uint64_t> masks = {0, all};
    for (std::size_t i = 0; i < n; ++i) masks.push_back(std::uint64_t{1} << i);
    for (std::size_t i = 0; i < n; ++i) masks.push_back(all & ~(std::uint64_t{1} << i));
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i + 1; j < n; ++j) masks.push_back((std::uint64_t{1} << i) | (std::uint64_t{1} << j));
    }
    for (std::size_t m = 0; m < masks.size(); ++m) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        SL_TRY(measure(masks[m]));
        control.progress(static_cast<std::int64_t>(m + 1), static_cast<std::int64_t>(masks.size()), "joint ablation");
    }
    const std::size_t nWindows = measured.at(0).nll.size();
    for (const auto& [mask, w] : measured) {
        if (w.nll.size() != nWindows) return Error{"joint ablation: the measured subsets have different window counts"};
    }
    const auto nllOf = [&](std::uint64_t mask) {
        const WindowUnits& w = measured.at(mask);
        double a = 0, t = 0;
        for (std::size_t k = 0; k < w.nll.size(); ++k) a += w.nll[k], t += w.tokens[k];
        return a / t;
    };
    const BootstrapOptions& B = options.bootstrap;
    const auto effectCi = [&](std::uint64_t mask) {
        const WindowUnits& w = measured.at(mask);
        const WindowUnits& w0 = measured.at(0);
        return bootstrapInterval(nWindows, B, [&](const auto& k) { return meanNll(w, k) - meanNll(w0, k); });
    };
    JointAblation j;
    for (const JointItem& it : items) {
        j.names.push_back(it.name);
        std::vector<std::string> texts;
        for (const EditSpec& e : it.edits) texts.push_back(e.text());
        j.edits.push_back(std::move(texts));
    }
    j.originalNll = nllOf(0);
    j.allEffect = nllOf(all) - j.originalNll;
    j.allCi = effectCi(all);
    j.pairEffect.assign(n * n, 0.0);
    j.interaction.assign(n * n, 0.0);
    j.interactionCi.assign(n * n, Interval{});
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t one = std::uint64_t{1} << i;
        j.singleEffect.push_back(nllOf(one) - j.originalNll);
        j.singleCi.push_back(effectCi(one));
        j.leaveOneOutEffect.push_back(nllOf(all & ~one) - j.originalNll);
        j.leaveOneOutCi.push_back(effectCi(all & ~one));
    }
    for (std::size_t i = 0; i < n; ++i) {
        j.pairEffect[i * n + i] = j.singleEffect[i];
        for (std::size_t k = 0; k < n; ++k) {
            if (k == i) continue;
            const std::uint64_t pi = std::uint64_t{1} << i, pk = std::uint64_t{1} << k;
            j.pairEffect[i * n + k] = nllOf(pi | pk) - j.originalNll;
            j.interaction[i * n + k] = nllOf(pi | pk) - nllOf(pi) - nllOf(pk) + j.originalNll;
            const WindowUnits &wp = measured.at(pi | pk), &wi = measured.at(pi), &wk = measured.at(pk), &w0 = measured.at(0);
            j.interactionCi[i * n + k] = bootstrapInterval(nWindows, B, [&](const auto& c) {
                return meanNll(wp, c) - meanNll(wi, c) - meanNll(wk, c) + meanNll(w0, c);
            });
        }
    }
    return j;
}

std::string jointAblationJson(const JointAblation& j, const std::string& itemsJson) {
    const std::size_t n = j.n();
    const auto intervals = [](const std::vector<Interval>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (const Interval& i : v) a.push_back(intervalJson(i));
        return a;
    };
    const auto matrix = [n](const std::vector<double>& v) {
        nlohmann::json m = nlohmann::json::array();
        for (std::size_t i = 0; i < n; ++i) m.push_back(std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(i * n),
                                                                           v.begin() + static_cast<std::ptrdiff_t>((i + 1) * n)));
        return m;
    };
    nlohmann::json interCi = nlohmann::json::array();
    for (std::size_t i = 0; i < n; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (std::size_t k = 0; k < n; ++k) row.push_back(intervalJson(j.interactionCi[i * n + k]));
        interCi.push_back(row);
    }
    nlohmann::json out = {{"items", nlohmann::json::parse(itemsJson)},
                          {"names", j.names},
                          {"edits", j.edits},
                          {"unit", "mean NLL change (nats)"},
                          {"original_nll", j.originalNll},
                          {"single", j.singleEffect},
                          {"single_ci", intervals(j.singleCi)},
                          {"leave_one_out", j.leaveOneOutEffect},
                          {"leave_one_out_ci", intervals(j.leaveOneOutCi)},
                          {"all", j.allEffect},
                          {"all_ci", intervalJson(j.allCi)},
                          {"pair", matrix(j.pairEffect)},
                          {"interaction", matrix(j.interaction)},
                          {"interaction_ci", interCi}};
    return out.dump();
}

std::string jointAblationMarkdown(const JointAblation& j, const std::string& removed) {
    const std::size_t n = j.n();
    std::string s = "\nJoint ablation (effect = mean NLL change in nats, ln of the perplexity ratio):\n\n| " + removed + " | effect |\n|---|---:|\n";
    for (std::size_t i = 0; i < n; ++i) s += "| " + j.names[i] + " alone | " + withInterval("%.4f", j.singleEffect[i], j.singleCi[i]) + " |\n";
    if (n > 2) {
        for (std::size_t i = 0; i < n; ++i) {
            s += "| all but " + j.names[i] + " | " + withInterval("%.4f", j.leaveOneOutEffect[i], j.leaveOneOutCi[i]) + " |\n";
        }
    }
    s += "| all " + std::to_string(n) + " | " + withInterval("%.4f", j.allEffect, j.allCi) + " |\n";
    if (n >= 2) {
        s += "\nPairwise interaction (effect of the pair - the two single effects; 0 = additive):\n\n|";
        for (std::size_t k = 0; k < n; ++k) s += " | " + j.names[k];
        s += " |\n|---|";
        for (std::size_t k = 0; k < n; ++k) s += "---:|";
        s += "\n";
        for (std::size_t i = 0; i < n; ++i) {
            s += "| " + j.names[i];
            for (std::size_t k = 0; k < n; ++k) {
                s += " | " + (i == k ? std::string("-") : withInterval("%.4f", j.inter(i, k), j.interactionCi[i * n + k]));
            }
            s += " |\n";
        }
    }
    return s;
}

}  // namespace superlens::core
