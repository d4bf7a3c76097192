#include "superlens/core/analysis/expert_study.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "superlens/core/analysis/measure_intervals.h"

namespace superlens::core {
namespace {

std::string offSpec(int layer, int expert) { return expertOffText(layer, expert); }

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string expertName(int layer, int expert) { return "L" + std::to_string(layer) + ":E" + std::to_string(expert); }

nlohmann::json intervalJson(const Interval& i) {
    if (!i.valid()) return nullptr;
    return nlohmann::json::array({i.lo, i.hi});
}

nlohmann::json expertJson(const ExpertStat& s) {
    return {{"layer", s.layer}, {"expert", s.expert}, {"max_abs_out", s.maxAbsOut}, {"value", s.value}, {"prompt", s.prompt},
            {"token", s.token}, {"channel", s.channel}, {"load", s.load}, {"super", s.super}};
}

}  // namespace

Result<std::vector<std::pair<int, int>>> parseExpertList(const std::string& text, const std::string& option) {
    std::vector<std::pair<int, int>> out;
    std::string item;
    const auto flush = [&]() -> Status {
        // Trim spaces.
        const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
        const std::string t = b == std::string::npos ? std::string() : item.substr(b, e - b + 1);
        item.clear();
        if (t.empty()) return {};
        const auto colon = t.find(':');
        const auto number = [](const std::string& s, int& v) {
            if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
            v = std::stoi(s);
            return true;
        };
        int layer = 0, expert = 0;
        if (colon == std::string::npos || !number(t.substr(0, colon), layer) || !number(t.substr(colon + 1), expert)) {
            return Error{option + ": '" + t + "' is not LAYER:EXPERT"};
        }
        out.emplace_back(layer, expert);
        return {};
    };
    for (char c : text) {
        if (c == ';' || c == ',') {
            SL_TRY(flush());
        } else {
            item += c;
        }
    }
    SL_TRY(flush());
    if (out.empty()) return Error{option + ": no expert given (LAYER:EXPERT;...)"};
    return out;
}

std::string ExpertStudyResult::markdown() const {
    std::string s = "| condition | experts pruned | perplexity | stopword mass ratio | zero-shot accuracy |\n|---|---|---|---|---|\n";
    for (const auto& c : conditions) {
        std::string pruned;
        for (const auto& e : c.edits) pruned += (pruned.empty() ? "" : ", ") + e.substr(7, e.size() - 11);  // "L:E"
        s += "| " + c.label + " | " + (pruned.empty() ? "-" : pruned) + " | " + fixed(c.ppl.ppl, 3) + " | " +
             (c.stopwords ? fixed(c.stopwords->ratio(), 3) : std::string("-")) + " | " +
             (c.zeroShot ? fixed(c.zeroShot->accuracy, 3) + " (" + std::to_string(c.zeroShot->count) + " tasks)" : std::string("-")) + " |\n";
    }
    s += "\nSuper experts (max |down_proj output| above " + fixed(profile.threshold, 3) + " = max(99.5th percentile " + fixed(profile.percentile995, 3) +
         ", max/10 " + fixed(profile.globalMax / 10, 3) + ")):";
    for (const auto& e : profile.superExperts) {
        s += " L" + std::to_string(e.layer) + ":E" + std::to_string(e.expert) + " (" + fixed(e.maxAbsOut, 2) + " at token " + std::to_string(e.token) +
             ", channel " + std::to_string(e.channel) + ")";
    }
    s += "\n";
    if (given) {
        s += "\nExperts ablated (given, instead of the super experts):";
        for (const auto& e : ablated) s += " " + expertName(e.layer, e.expert);
        s += "\n";
    }
    if (joint) s += jointAblationMarkdown(*joint, "pruned");
    return s;
}

std::string ExpertStudyResult::json() const {
    nlohmann::json j;
    j["super_experts"] = nlohmann::json::array();
    for (const auto& s : profile.superExperts) j["super_experts"].push_back(expertJson(s));
    j["ablated_experts"] = nlohmann::json::array();
    for (const auto& s : ablated) j["ablated_experts"].push_back(expertJson(s));
    j["experts_given"] = given;
    j["threshold"] = profile.threshold;
    j["percentile995"] = profile.percentile995;
    j["global_max"] = profile.globalMax;
    j["conditions"] = nlohmann::json::array();
    for (const auto& c : conditions) {
        nlohmann::json cj = {{"key", c.key}, {"label", c.label}, {"edits", c.edits}, {"ppl", c.ppl.ppl}, {"nll", c.ppl.nll}, {"tokens", c.ppl.tokens},
                             {"ppl_ci", intervalJson(c.pplCi)}, {"ppl_ratio", c.ppl.ppl / conditions.front().ppl.ppl},
                             {"ppl_ratio_ci", intervalJson(c.pplRatioCi)}};
        if (c.stopwords) {
            cj["stopwords"] = {{"mass", c.stopwords->editedMass}, {"original_mass", c.stopwords->originalMass}, {"ratio", c.stopwords->ratio()}};
        } else {
            cj["stopwords"] = nullptr;
        }
        if (c.zeroShot) {
            cj["zero_shot"] = {{"accuracy", c.zeroShot->accuracy}, {"accuracy_norm", c.zeroShot->accuracyNorm}, {"count", c.zeroShot->count},
                               {"predictions", c.zeroShot->predictions}};
        } else {
            cj["zero_shot"] = nullptr;
        }
        j["conditions"].push_back(std::move(cj));
    }
    if (joint) {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& e : ablated) items.push_back({{"layer", e.layer}, {"expert", e.expert}});
        j["joint"] = nlohmann::json::parse(jointAblationJson(*joint, items.dump()));
    } else {
        j["joint"] = nullptr;
    }
    j["ci"] = bootstrap.enabled() ? nlohmann::json{{"level", bootstrap.level}, {"resamples", bootstrap.resamples}, {"seed", bootstrap.seed}}
                                  : nlohmann::json(nullptr);
    return j.dump();
}

Result<ExpertStudyResult> studySuperExperts(Engine& engine, const std::vector<std::vector<TokenId>>& profilePrompts,
                                            const std::vector<TokenId>& textTokens, const std::vector<TokenId>& stopwordIds,
                                            const std::vector<EditSpec>& baseEdits, const ExpertStudyOptions& options, const RunControl& control) {
    ExpertStudyResult out;
    SL_TRY(validate(options.bootstrap));
    out.bootstrap = options.bootstrap;
    auto profile = profileExperts(engine, profilePrompts, baseEdits, control);
    if (!profile) return profile.error();
    out.profile = std::move(profile).value();
    const SuperExpertProfile& p = out.profile;
    if (!options.experts.empty()) {
        // Given experts: each must be a routed (layer, expert) of the profile, listed once.
        std::set<std::pair<int, int>> seen;
        for (const auto& [layer, expert] : options.experts) {
            // Copied into the lambda: clang 14 (the fuzz build) cannot capture structured bindings.
            const auto it = std::find_if(p.stats.begin(), p.stats.end(), [l = layer, e = expert](const ExpertStat& s) { return s.layer == l && s.expert == e; });
            if (it == p.stats.end()) {
                std::string routed;
                for (int l : p.layers) routed += (routed.empty() ? "" : ", ") + std::to_string(l);
                return Error{"expert " + std::to_string(layer) + ":" + std::to_string(expert) + " is not a routed expert (routed layers " + routed +
                             ", experts 0-" + std::to_string(p.experts - 1) + ")"};
            }
            if (!seen.insert({layer, expert}).second) return Error{"expert " + std::to_string(layer) + ":" + std::to_string(expert) + " is listed twice"};
            out.ablated.push_back(*it);
        }
        out.given = true;
    } else {
        if (p.superExperts.empty()) return Error{"no super expert stands out in the profile (threshold " + fixed(p.threshold, 4) + ")"};
        out.ablated = p.superExperts;
    }
    if (options.joint && out.ablated.size() > kMaxJointItems) {
        return Error{"--joint: " + std::to_string(out.ablated.size()) + " experts; at most " + std::to_string(kMaxJointItems) +
                     " (every pair is one pass over the text)"};
    }

    std::vector<std::pair<std::string, std::string>> keys;  // key, label
    std::vector<std::vector<std::string>> specs;
    keys.emplace_back("original", "original");
    specs.push_back({});
    std::vector<std::string> all;
    const std::string kind = out.given ? "expert" : "super expert";
    for (const ExpertStat& s : out.ablated) {
        keys.emplace_back((out.given ? "expert_" : "super_") + std::to_string(s.layer) + "_" + std::to_string(s.expert),
                          kind + " L" + std::to_string(s.layer) + ":E" + std::to_string(s.expert) + " pruned");
        specs.push_back({offSpec(s.layer, s.expert)});
        all.push_back(offSpec(s.layer, s.expert));
    }
    if (out.ablated.size() > 1) {
        keys.emplace_back(out.given ? "all_given" : "all_super", out.given ? "all given experts pruned" : "all super experts pruned");
        specs.push_back(all);
    }
    // Control: as many random other experts that saw tokens (not super, not ablated).
    std::set<std::pair<int, int>> ablatedSet;
    for (const ExpertStat& s : out.ablated) ablatedSet.insert({s.layer, s.expert});
    std::vector<const ExpertStat*> pool;
    for (const ExpertStat& s : p.stats) {
        if (!s.super && !ablatedSet.count({s.layer, s.expert}) && s.load > 0) pool.push_back(&s);
    }
    std::mt19937_64 rng(options.seed);
    std::shuffle(pool.begin(), pool.end(), rng);
    std::vector<const ExpertStat*> chosen(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(std::min(pool.size(), out.ablated.size())));
    std::sort(chosen.begin(), chosen.end(), [](const ExpertStat* a, const ExpertStat* b) { return a->layer != b->layer ? a->layer < b->layer : a->expert < b->expert; });
    std::vector<std::string> control_;
    for (const ExpertStat* s : chosen) control_.push_back(offSpec(s->layer, s->expert));
    if (!control_.empty()) {
        keys.emplace_back("random_control", std::to_string(control_.size()) + " random non-super expert(s) pruned");
        specs.push_back(control_);
    }

    const Model& model = engine.model();
    for (std::size_t i = 0; i < specs.size(); ++i) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        std::vector<EditSpec> edits = baseEdits;
        auto parsed = parseEdits(specs[i], model);
        if (!parsed) return parsed.error();
        edits.insert(edits.end(), parsed->begin(), parsed->end());
        ExpertStudyCondition c;
        c.key = keys[i].first;
        c.label = keys[i].second;
        c.edits = specs[i];
        auto ppl = perplexity(engine, textTokens, edits, options.perplexity, control);
        if (!ppl) return ppl.error();
        c.ppl = std::move(ppl).value();
        if (!stopwordIds.empty()) {
            auto sw = stopwordShift(engine, textTokens, stopwordIds, edits, options.perplexity.context, 10, control);
            if (!sw) return sw.error();
            c.stopwords = std::move(sw).value();
        }
        if (options.tasks && !options.tasks->empty()) {
            auto zs = zeroShot(engine, options.tokenizer, *options.tasks, edits, control);
            if (!zs) return zs.error();
            c.zeroShot = std::move(zs).value();
        }
        out.conditions.push_back(std::move(c));
        control.progress(static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(specs.size()), "expert study");
    }
    // Intervals (measure_intervals.h), paired against the original.
    std::vector<WindowUnits> units;
    for (const ExpertStudyCondition& c : out.conditions) units.push_back(windowUnits(c.ppl, nullptr));
    if (options.bootstrap.enabled()) {
        for (std::size_t i = 0; i < out.conditions.size(); ++i) {
            out.conditions[i].pplCi = perplexityInterval(units[i], options.bootstrap);
            out.conditions[i].pplRatioCi = perplexityRatioInterval(units[i], units[0], options.bootstrap);
        }
    }
    // Joint ablation: the original, the singles and "all" are the conditions above.
    if (options.joint) {
        const std::size_t n = out.ablated.size();
        std::vector<JointItem> items;
        std::map<std::uint64_t, WindowUnits> known = {{0, units[0]}};
        for (std::size_t i = 0; i < n; ++i) {
            auto e = parseEdit(offSpec(out.ablated[i].layer, out.ablated[i].expert));
            if (!e) return e.error();
            items.push_back({expertName(out.ablated[i].layer, out.ablated[i].expert), {*e}});
            known[std::uint64_t{1} << i] = units[i + 1];
        }
        if (n > 1) known[(std::uint64_t{1} << n) - 1] = units[n + 1];
        JointAblationOptions jo;
        jo.perplexity = options.perplexity;
        jo.bootstrap = options.bootstrap;
        jo.noun = "experts";
        auto j = jointAblation(engine, textTokens, baseEdits, items, jo, known, control);
        if (!j) return j.error();
        out.joint = std::move(j).value();
    }
    return out;
}

}  // namespace superlens::core
