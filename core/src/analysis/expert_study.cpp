#include "superlens/core/analysis/expert_study.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace superlens::core {
namespace {

std::string offSpec(int layer, int expert) { return expertOffText(layer, expert); }

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

}  // namespace

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
    return s + "\n";
}

Result<ExpertStudyResult> studySuperExperts(Engine& engine, const std::vector<std::vector<TokenId>>& profilePrompts,
                                            const std::vector<TokenId>& textTokens, const std::vector<TokenId>& stopwordIds,
                                            const std::vector<EditSpec>& baseEdits, const ExpertStudyOptions& options, const RunControl& control) {
    ExpertStudyResult out;
    auto profile = profileExperts(engine, profilePrompts, baseEdits, control);
    if (!profile) return profile.error();
    out.profile = std::move(profile).value();
    const SuperExpertProfile& p = out.profile;
    if (p.superExperts.empty()) return Error{"no super expert stands out in the profile (threshold " + fixed(p.threshold, 4) + ")"};

    std::vector<std::pair<std::string, std::string>> keys;  // key, label
    std::vector<std::vector<std::string>> specs;
    keys.emplace_back("original", "original");
    specs.push_back({});
    std::vector<std::string> all;
    for (const ExpertStat& s : p.superExperts) {
        keys.emplace_back("super_" + std::to_string(s.layer) + "_" + std::to_string(s.expert),
                          "super expert L" + std::to_string(s.layer) + ":E" + std::to_string(s.expert) + " pruned");
        specs.push_back({offSpec(s.layer, s.expert)});
        all.push_back(offSpec(s.layer, s.expert));
    }
    if (p.superExperts.size() > 1) {
        keys.emplace_back("all_super", "all super experts pruned");
        specs.push_back(all);
    }
    // Control: as many random non-super experts that saw tokens.
    std::vector<const ExpertStat*> pool;
    for (const ExpertStat& s : p.stats) {
        if (!s.super && s.load > 0) pool.push_back(&s);
    }
    std::mt19937_64 rng(options.seed);
    std::shuffle(pool.begin(), pool.end(), rng);
    std::vector<const ExpertStat*> chosen(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(std::min(pool.size(), p.superExperts.size())));
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
    return out;
}

}  // namespace superlens::core
