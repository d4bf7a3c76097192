// The massive-activation study (massive_study.h): scan, sites, means, and the
// joint ablation with the sites set to zero and to their means.

#include "superlens/core/analysis/massive_study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "sliding_windows.h"

namespace superlens::core {
namespace {

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

std::string siteName(const MassiveSite& s) {
    return "L" + std::to_string(s.layer) + " t" + std::to_string(s.token) + " c" + std::to_string(s.channel);
}

std::string zeroEdit(const MassiveSite& s) { return activationSetText(s.hook(), s.token, s.channel, 0.0); }
std::string meanEdit(const MassiveSite& s) { return activationSetText(s.hook(), s.token, s.channel, s.mean); }

}  // namespace

Result<MassiveStudy> studyMassiveActivations(Engine& engine, const std::vector<TokenId>& givenScanTokens, const std::vector<TokenId>& textTokens,
                                             const Tokenizer* tokenizer, const std::vector<EditSpec>& baseEdits,
                                             const MassiveStudyOptions& options, const RunControl& control) {
    MassiveStudy study;
    SL_TRY(validate(options.bootstrap));
    study.bootstrap = options.bootstrap;
    if (options.maxSites < 1 || options.maxSites > static_cast<int>(kMaxJointItems)) {
        return Error{"--max-sites must be between 1 and " + std::to_string(kMaxJointItems) + " (got " + std::to_string(options.maxSites) + ")"};
    }
    if (options.perplexity.stride < 0 || options.perplexity.context < 2) return Error{"the perplexity window needs --ctx >= 2 and --stride >= 0"};
    if (textTokens.size() < 2) return Error{"the study text has fewer than 2 tokens"};
    // Default scan input: the text's first window (at most 128 tokens), so the sites are window positions.
    const std::vector<TokenId> scanTokens = givenScanTokens.empty()
        ? std::vector<TokenId>(textTokens.begin(), textTokens.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                                        textTokens.size(), static_cast<std::size_t>(std::min(options.perplexity.context, 128)))))
        : givenScanTokens;

    // 1. Scan: flagged (layer, token, channel) entries, merged into sites.
    ForwardRequest req;
    req.tokens = scanTokens;
    req.edits = baseEdits;
    req.record = HookSelection::patterns({"blocks.*.hook_resid_post"});
    auto run = engine.run(req);
    if (!run) return Error{"massive-activation scan: " + run.error().message};
    auto report = findMassiveActivations(**run, tokenizer, options.scan);
    if (!report) return report.error();
    study.flagged = static_cast<int>(report->flagged.size());
    std::map<std::pair<std::int64_t, std::int64_t>, MassiveSite> byPosition;
    for (const MassiveActivation& a : report->flagged) {
        auto [it, fresh] = byPosition.try_emplace({a.token, a.channel});
        MassiveSite& s = it->second;
        if (fresh || a.layer < s.layer) {
            s.layer = a.layer;
            s.value = a.value;
        }
        if (fresh || a.layer > s.lastLayer) s.lastLayer = a.layer;
        s.token = a.token;
        s.channel = a.channel;
        s.ratio = std::max(s.ratio, a.ratio);
    }
    if (byPosition.empty()) {
        return Error{"no massive activation at " + fmt("%g", options.scan.ratioThreshold) +
                     "x the layer median in the scan input (lower --massive-ratio to study smaller ones)"};
    }
    std::vector<MassiveSite> sites;
    std::int64_t outside = 0;
    for (auto& [pos, s] : byPosition) {
        if (s.token < options.perplexity.context) {
            sites.push_back(s);
        } else {
            ++outside;
        }
    }
    if (outside > 0) study.notes.push_back(std::to_string(outside) + " site(s) at a token beyond the perplexity window (--ctx) left out");
    if (sites.empty()) return Error{"every massive-activation site lies beyond the perplexity window (--ctx " + std::to_string(options.perplexity.context) + ")"};
    std::stable_sort(sites.begin(), sites.end(), [](const MassiveSite& a, const MassiveSite& b) { return a.ratio > b.ratio; });
    if (sites.size() > static_cast<std::size_t>(options.maxSites)) {
        study.notes.push_back(std::to_string(sites.size()) + " sites found; the " + std::to_string(options.maxSites) +
                              " largest (by ratio) are studied (--max-sites)");
        sites.resize(static_cast<std::size_t>(options.maxSites));
    }
    if (std::any_of(sites.begin(), sites.end(), [](const MassiveSite& s) { return s.token != 0; })) {
        study.notes.push_back("a site sits at a token other than the first; it is set at that same position in every window");
    }

    // 2. Means over the text's windows (the original model with the base edits).
    std::set<int> layers;
    for (const MassiveSite& s : sites) layers.insert(s.layer);
    std::vector<std::string> hooks;
    for (int l : layers) hooks.push_back("blocks." + std::to_string(l) + ".hook_resid_post");
    const std::int64_t stride = options.perplexity.stride == 0 ? options.perplexity.context : options.perplexity.stride;
    const auto windows = slidingWindows(static_cast<std::int64_t>(textTokens.size()), options.perplexity.context, stride);
    std::vector<double> sums(sites.size(), 0.0);
    std::vector<int> otherToken(sites.size(), 0);  // windows holding another token than the scan at the site
    for (std::size_t w = 0; w < windows.size(); ++w) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        ForwardRequest wr;
        wr.tokens.assign(textTokens.begin() + windows[w].begin, textTokens.begin() + windows[w].end);
        wr.edits = baseEdits;
        wr.record = HookSelection::patterns(hooks);
        auto r = engine.run(wr);
        if (!r) return Error{"massive-activation means: " + r.error().message};
        for (std::size_t i = 0; i < sites.size(); ++i) {
            const ActivationTensor* h = (*r)->activation(sites[i].hook());
            if (!h) return Error{"massive-activation means: the run did not record " + sites[i].hook()};
            if (sites[i].token >= h->rows()) continue;
            sums[i] += static_cast<double>(h->at(sites[i].token, sites[i].channel));
            ++sites[i].meanWindows;
            if (textTokens[static_cast<std::size_t>(windows[w].begin + sites[i].token)] != scanTokens[static_cast<std::size_t>(sites[i].token)]) {
                ++otherToken[i];
            }
        }
        control.progress(static_cast<std::int64_t>(w + 1), static_cast<std::int64_t>(windows.size()), "site means");
    }
    for (std::size_t i = 0; i < sites.size(); ++i) {
        if (sites[i].meanWindows == 0) return Error{"massive-activation means: no window holds token " + std::to_string(sites[i].token)};
        sites[i].mean = sums[i] / sites[i].meanWindows;
        if (otherToken[i] > 0) {
            study.notes.push_back("site " + siteName(sites[i]) + ": " + std::to_string(otherToken[i]) + " of " + std::to_string(sites[i].meanWindows) +
                                  " windows hold another token there than the scan input (token " +
                                  std::to_string(scanTokens[static_cast<std::size_t>(sites[i].token)]) +
                                  "), so its mean mixes tokens; --bos-windows starts every window with BOS");
        }
    }
    study.sites = sites;

    // 3. The original, then the joint ablations (zero, mean) reusing it.
    auto original = perplexity(engine, textTokens, baseEdits, options.perplexity, control);
    if (!original) return original.error();
    study.originalPpl = original->ppl;
    const std::map<std::uint64_t, WindowUnits> known = {{0, windowUnits(*original, nullptr)}};
    JointAblationOptions jo;
    jo.perplexity = options.perplexity;
    jo.bootstrap = options.bootstrap;
    jo.noun = "massive-activation sites";
    for (bool mean : {false, true}) {
        std::vector<JointItem> items;
        for (const MassiveSite& s : sites) {
            auto e = parseEdit(mean ? meanEdit(s) : zeroEdit(s));
            if (!e) return e.error();
            items.push_back({siteName(s), {*e}});
        }
        auto j = jointAblation(engine, textTokens, baseEdits, items, jo, known, control);
        if (!j) return Error{std::string(mean ? "mean: " : "zero: ") + j.error().message};
        (mean ? study.mean : study.zero) = std::move(j).value();
    }
    if (sites.size() < 2) study.notes.push_back("one massive-activation site: no pairs and no interaction");
    return study;
}

std::string MassiveStudy::markdown() const {
    std::string s = "Massive-activation sites (" + std::to_string(flagged) + " flagged entries; each set at the first layer flagged):\n\n";
    s += "| site | hook | token | channel | value | ratio | layers flagged | mean over windows |\n|---|---|---:|---:|---:|---:|---|---:|\n";
    for (const MassiveSite& m : sites) {
        s += "| " + siteName(m) + " | " + m.hook() + " | " + std::to_string(m.token) + " | " + std::to_string(m.channel) + " | " +
             fmt("%.5g", m.value) + " | " + fmt("%.4g", m.ratio) + " | " + std::to_string(m.layer) + "-" + std::to_string(m.lastLayer) + " | " +
             fmt("%.5g", m.mean) + " (" + std::to_string(m.meanWindows) + " windows) |\n";
    }
    s += "\nOriginal perplexity: " + fmt("%.6g", originalPpl) + "\n";
    if (bootstrap.enabled()) {
        s += "\nIntervals: " + fmt("%g", 100 * bootstrap.level) + "% percentile bootstrap, " + std::to_string(bootstrap.resamples) +
             " resamples of the perplexity windows (paired), seed " + std::to_string(bootstrap.seed) + ".\n";
    }
    s += "\n### Set to zero\n" + jointAblationMarkdown(zero, "set to 0");
    s += "\n### Set to the mean\n" + jointAblationMarkdown(mean, "set to mean");
    for (const std::string& n : notes) s += "\nNote: " + n + "\n";
    return s;
}

std::string MassiveStudy::json() const {
    nlohmann::json siteArr = nlohmann::json::array(), items = nlohmann::json::array();
    for (const MassiveSite& m : sites) {
        siteArr.push_back({{"name", siteName(m)},
                           {"layer", m.layer},
                           {"last_layer", m.lastLayer},
                           {"token", m.token},
                           {"channel", m.channel},
                           {"value", m.value},
                           {"ratio", m.ratio},
                           {"mean", m.mean},
                           {"mean_windows", m.meanWindows},
                           {"zero_edit", zeroEdit(m)},
                           {"mean_edit", meanEdit(m)}});
        items.push_back({{"layer", m.layer}, {"token", m.token}, {"channel", m.channel}});
    }
    nlohmann::json out = {{"sites", siteArr},
                          {"flagged", flagged},
                          {"original_ppl", originalPpl},
                          {"zero", nlohmann::json::parse(jointAblationJson(zero, items.dump()))},
                          {"mean", nlohmann::json::parse(jointAblationJson(mean, items.dump()))},
                          {"ci", bootstrap.enabled() ? nlohmann::json{{"level", bootstrap.level}, {"resamples", bootstrap.resamples}, {"seed", bootstrap.seed}}
                                                     : nlohmann::json(nullptr)},
                          {"notes", notes}};
    return out.dump();
}

}  // namespace superlens::core
