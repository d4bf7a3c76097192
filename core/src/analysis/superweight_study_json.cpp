#include "superlens/core/analysis/superweight_study_json.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace superlens::core {
namespace {

using json = nlohmann::json;

struct FieldError {
    std::string message;
};

constexpr std::size_t kMaxItems = 1u << 20;  // conditions, draws, predictions, matrix sides

const json& field(const json& j, const char* key, const std::string& where) {
    if (!j.is_object() || !j.contains(key)) throw FieldError{where + ": missing field \"" + key + "\""};
    return j[key];
}

double number(const json& v, const std::string& where) {
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();  // NaN is written as null
    if (!v.is_number()) throw FieldError{where + " is not a number"};
    return v.get<double>();
}

std::int64_t integer(const json& v, const std::string& where) {
    if (!v.is_number_integer()) throw FieldError{where + " is not an integer"};
    return v.get<std::int64_t>();
}

const json& list(const json& v, const std::string& where) {
    if (!v.is_array()) throw FieldError{where + " is not a list"};
    if (v.size() > kMaxItems) throw FieldError{where + " has too many entries"};
    return v;
}

Interval interval(const json& v, const std::string& where) {
    if (v.is_null()) return {};
    if (!v.is_array() || v.size() != 2) throw FieldError{where + " is not [lo, hi] or null"};
    return {number(v[0], where + "[0]"), number(v[1], where + "[1]")};
}

Interval optionalInterval(const json& j, const char* key, const std::string& where) {
    return j.contains(key) ? interval(j[key], where + "." + key) : Interval{};
}

std::vector<double> numbers(const json& v, const std::string& where) {
    std::vector<double> out;
    for (std::size_t i = 0; i < list(v, where).size(); ++i) out.push_back(number(v[i], where + "[" + std::to_string(i) + "]"));
    return out;
}

std::vector<EditSpec> edits(const json& v, const std::string& where) {
    std::vector<EditSpec> out;
    for (std::size_t i = 0; i < list(v, where).size(); ++i) {
        if (!v[i].is_string()) throw FieldError{where + "[" + std::to_string(i) + "] is not an edit string"};
        auto e = parseEdit(v[i].get<std::string>());
        if (!e) throw FieldError{where + "[" + std::to_string(i) + "]: " + e.error().message};
        out.push_back(std::move(e).value());
    }
    return out;
}

SuperWeightCoord coord(const json& v, const std::string& where) {
    SuperWeightCoord c;
    c.layer = static_cast<int>(integer(field(v, "layer", where), where + ".layer"));
    c.row = integer(field(v, "row", where), where + ".row");
    c.col = integer(field(v, "col", where), where + ".col");
    if (c.layer < 0 || c.row < 0 || c.col < 0) throw FieldError{where + ": negative coordinate"};
    return c;
}

NullControl nullControl(const json& v, const std::string& scope, const std::string& where) {
    NullControl n;
    n.scope = v.contains("scope") && v["scope"].is_string() ? v["scope"].get<std::string>() : scope;
    n.k = static_cast<int>(integer(field(v, "k", where), where + ".k"));
    n.ppl.values = numbers(field(v, "ppl", where), where + ".ppl");
    if (n.k < 0 || static_cast<std::size_t>(n.k) != n.ppl.values.size()) throw FieldError{where + ": k does not match the number of perplexities"};
    n.ppl.mean = number(field(v, "mean", where), where + ".mean");
    n.ppl.sd = number(field(v, "sd", where), where + ".sd");
    n.ppl.percentile = number(field(v, "percentile", where), where + ".percentile");
    const json& z = field(v, "z", where);
    if (!z.is_null()) n.ppl.z = number(z, where + ".z");
    if (v.contains("edits")) {
        const json& d = list(v["edits"], where + ".edits");
        for (std::size_t i = 0; i < d.size(); ++i) n.draws.push_back(edits(d[i], where + ".edits[" + std::to_string(i) + "]"));
    }
    return n;
}

StudyCondition condition(const json& c, const std::string& where) {
    StudyCondition s;
    s.key = field(c, "key", where).is_string() ? c["key"].get<std::string>() : throw FieldError{where + ".key is not a string"};
    s.label = c.contains("label") && c["label"].is_string() ? c["label"].get<std::string>() : s.key;
    if (c.contains("edits")) s.edits = edits(c["edits"], where + ".edits");
    if (c.contains("ppl") && !c["ppl"].is_null()) {
        PerplexityResult p;
        p.ppl = number(c["ppl"], where + ".ppl");
        if (c.contains("nll")) p.nll = number(c["nll"], where + ".nll");
        if (c.contains("tokens")) p.tokens = integer(c["tokens"], where + ".tokens");
        if (c.contains("windows")) p.windows = static_cast<int>(integer(c["windows"], where + ".windows"));
        s.ppl = p;
        s.ci.ppl = optionalInterval(c, "ppl_ci", where);
        if (c.contains("ppl_ratio")) s.pplRatio = number(c["ppl_ratio"], where + ".ppl_ratio");
        s.ci.pplRatio = optionalInterval(c, "ppl_ratio_ci", where);
    }
    if (c.contains("zero_shot") && !c["zero_shot"].is_null()) {
        const json& z = c["zero_shot"];
        const std::string w = where + ".zero_shot";
        ZeroShotResult r;
        r.accuracy = number(field(z, "accuracy", w), w + ".accuracy");
        r.accuracyNorm = number(field(z, "accuracy_norm", w), w + ".accuracy_norm");
        if (z.contains("count")) r.count = static_cast<int>(integer(z["count"], w + ".count"));
        if (z.contains("predictions")) {
            for (const double p : numbers(z["predictions"], w + ".predictions")) r.predictions.push_back(static_cast<int>(p));
        }
        s.zeroShot = r;
        s.ci.accuracy = optionalInterval(z, "accuracy_ci", w);
        s.ci.accuracyNorm = optionalInterval(z, "accuracy_norm_ci", w);
        if (z.contains("accuracy_delta")) s.accuracyDelta = number(z["accuracy_delta"], w + ".accuracy_delta");
        s.ci.accuracyDelta = optionalInterval(z, "accuracy_delta_ci", w);
    }
    if (c.contains("stopwords") && !c["stopwords"].is_null()) {
        const json& m = c["stopwords"];
        const std::string w = where + ".stopwords";
        StopwordShift sh;
        sh.editedMass = number(field(m, "mass", w), w + ".mass");
        sh.originalMass = number(field(m, "original_mass", w), w + ".original_mass");
        s.stopwords = sh;
        s.ci.stopwordMass = optionalInterval(m, "mass_ci", w);
        s.ci.stopwordRatio = optionalInterval(m, "ratio_ci", w);
    }
    if (c.contains("null")) s.nulls.push_back(nullControl(c["null"], "same_matrix", where + ".null"));
    if (c.contains("null_elsewhere")) s.nulls.push_back(nullControl(c["null_elsewhere"], "elsewhere", where + ".null_elsewhere"));
    return s;
}

std::vector<double> matrix(const json& v, std::size_t n, const std::string& where) {
    std::vector<double> out;
    if (list(v, where).size() != n) throw FieldError{where + " is not " + std::to_string(n) + " x " + std::to_string(n)};
    for (std::size_t i = 0; i < n; ++i) {
        const std::vector<double> row = numbers(v[i], where + "[" + std::to_string(i) + "]");
        if (row.size() != n) throw FieldError{where + " is not " + std::to_string(n) + " x " + std::to_string(n)};
        out.insert(out.end(), row.begin(), row.end());
    }
    return out;
}

std::vector<Interval> intervals(const json& v, std::size_t n, const std::string& where) {
    std::vector<Interval> out;
    if (list(v, where).size() != n) throw FieldError{where + " does not have " + std::to_string(n) + " entries"};
    for (std::size_t i = 0; i < n; ++i) out.push_back(interval(v[i], where + "[" + std::to_string(i) + "]"));
    return out;
}

JointAblation joint(const json& j, const std::string& where) {
    JointAblation a;
    const json& items = list(field(j, "items", where), where + ".items");
    for (std::size_t i = 0; i < items.size(); ++i) a.items.push_back(coord(items[i], where + ".items[" + std::to_string(i) + "]"));
    const std::size_t n = a.items.size();
    if (n > 64) throw FieldError{where + ": more than 64 items"};
    // Names and edit texts of the generic joint (joint_ablation.h; n() counts
    // names). Documents written before they existed name each item as the
    // study does, LAYER:ROW:COL, and carry no edit texts.
    if (j.contains("names")) {
        const json& names = list(j["names"], where + ".names");
        if (names.size() != n) throw FieldError{where + ".names does not have one entry per item"};
        for (std::size_t i = 0; i < n; ++i) {
            if (!names[i].is_string()) throw FieldError{where + ".names[" + std::to_string(i) + "] is not a string"};
            a.names.push_back(names[i].get<std::string>());
        }
    } else {
        for (const SuperWeightCoord& c : a.items) a.names.push_back(std::to_string(c.layer) + ":" + std::to_string(c.row) + ":" + std::to_string(c.col));
    }
    a.edits.assign(n, {});
    if (j.contains("edits")) {
        const json& all = list(j["edits"], where + ".edits");
        if (all.size() != n) throw FieldError{where + ".edits does not have one entry per item"};
        for (std::size_t i = 0; i < n; ++i) {
            const std::string at = where + ".edits[" + std::to_string(i) + "]";
            for (const EditSpec& e : edits(all[i], at)) a.edits[i].push_back(e.text());
        }
    }
    a.originalNll = number(field(j, "original_nll", where), where + ".original_nll");
    a.singleEffect = numbers(field(j, "single", where), where + ".single");
    a.leaveOneOutEffect = numbers(field(j, "leave_one_out", where), where + ".leave_one_out");
    if (a.singleEffect.size() != n || a.leaveOneOutEffect.size() != n) throw FieldError{where + ": single / leave_one_out do not have one entry per item"};
    a.allEffect = number(field(j, "all", where), where + ".all");
    a.pairEffect = matrix(field(j, "pair", where), n, where + ".pair");
    a.interaction = matrix(field(j, "interaction", where), n, where + ".interaction");
    a.singleCi = j.contains("single_ci") ? intervals(j["single_ci"], n, where + ".single_ci") : std::vector<Interval>(n);
    a.leaveOneOutCi = j.contains("leave_one_out_ci") ? intervals(j["leave_one_out_ci"], n, where + ".leave_one_out_ci") : std::vector<Interval>(n);
    a.allCi = optionalInterval(j, "all_ci", where);
    a.interactionCi.assign(n * n, Interval{});
    if (j.contains("interaction_ci")) {
        const json& rows = list(j["interaction_ci"], where + ".interaction_ci");
        if (rows.size() != n) throw FieldError{where + ".interaction_ci is not " + std::to_string(n) + " x " + std::to_string(n)};
        for (std::size_t i = 0; i < n; ++i) {
            const std::vector<Interval> row = intervals(rows[i], n, where + ".interaction_ci[" + std::to_string(i) + "]");
            std::copy(row.begin(), row.end(), a.interactionCi.begin() + static_cast<std::ptrdiff_t>(i * n));
        }
    }
    return a;
}

}  // namespace

bool isSuperWeightStudyJson(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return false;
    if (j.contains("study")) return j["study"].is_string() && j["study"].get<std::string>() == "superweight";
    return j.contains("conditions") && j["conditions"].is_array();
}

Result<SuperWeightStudy> parseSuperWeightStudyJson(const std::string& text, const std::string& name) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return Error{name + ": malformed JSON"};
    if (!j.is_object()) return Error{name + ": not a JSON object"};
    if (j.contains("study") && !(j["study"].is_string() && j["study"].get<std::string>() == "superweight")) {
        return Error{name + ": not a super-weight study (\"study\" is " + j["study"].dump() + ")"};
    }
    try {
        SuperWeightStudy s;
        const json& sws = list(field(j, "super_weights", name), name + ": super_weights");
        for (std::size_t i = 0; i < sws.size(); ++i) {
            const std::string w = name + ": super_weights[" + std::to_string(i) + "]";
            const SuperWeightCoord c = coord(sws[i], w);
            SuperWeight sw;
            sw.layer = c.layer;
            sw.row = c.row;
            sw.col = c.col;
            if (sws[i].contains("value")) sw.value = static_cast<float>(number(sws[i]["value"], w + ".value"));
            if (sws[i].contains("token")) sw.token = integer(sws[i]["token"], w + ".token");
            if (sws[i].contains("down_out")) sw.downOut = static_cast<float>(number(sws[i]["down_out"], w + ".down_out"));
            if (sws[i].contains("output_axis")) sw.outputAxis = static_cast<int>(integer(sws[i]["output_axis"], w + ".output_axis"));
            if (sws[i].contains("expert")) sw.expert = static_cast<int>(integer(sws[i]["expert"], w + ".expert"));
            s.superWeights.push_back(sw);
        }
        if (j.contains("outliers")) {
            const json& o = list(j["outliers"], name + ": outliers");
            for (std::size_t i = 0; i < o.size(); ++i) s.outliers.push_back(coord(o[i], name + ": outliers[" + std::to_string(i) + "]"));
        }
        const json& conds = list(field(j, "conditions", name), name + ": conditions");
        if (conds.empty()) throw FieldError{name + ": conditions is empty"};
        for (std::size_t i = 0; i < conds.size(); ++i) s.conditions.push_back(condition(conds[i], name + ": conditions[" + std::to_string(i) + "]"));
        if (j.contains("joint") && !j["joint"].is_null()) s.joint = joint(j["joint"], name + ": joint");
        s.bootstrap.resamples = 0;
        if (j.contains("ci") && !j["ci"].is_null()) {
            const json& ci = j["ci"];
            s.bootstrap.level = number(field(ci, "level", name + ": ci"), name + ": ci.level");
            s.bootstrap.resamples = static_cast<int>(integer(field(ci, "resamples", name + ": ci"), name + ": ci.resamples"));
            if (ci.contains("seed") && ci["seed"].is_number_unsigned()) s.bootstrap.seed = ci["seed"].get<std::uint64_t>();
            if (auto v = validate(s.bootstrap); !v) throw FieldError{name + ": ci: " + v.error().message};
        }
        if (j.contains("notes") && j["notes"].is_array()) {
            for (const json& n : j["notes"]) {
                if (n.is_string()) s.notes.push_back(n.get<std::string>());
            }
        }
        return s;
    } catch (const FieldError& e) {
        return Error{e.message};
    } catch (const json::exception& e) {
        return Error{name + ": malformed study (" + std::string(e.what()) + ")"};
    }
}

std::string superWeightStudyJson(const SuperWeightStudy& study) {
    json j;
    j["study"] = "superweight";
    j["super_weights"] = json::array();
    for (const SuperWeight& sw : study.superWeights) {
        json w = {{"layer", sw.layer}, {"row", sw.row},        {"col", sw.col},
                  {"value", sw.value}, {"token", sw.token},    {"down_out", sw.downOut}, {"output_axis", sw.outputAxis}};
        if (sw.expert >= 0) w["expert"] = sw.expert;
        j["super_weights"].push_back(w);
    }
    j["outliers"] = json::array();
    for (const SuperWeightCoord& c : study.outliers) j["outliers"].push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}});
    j["conditions"] = json::parse(study.conditionsJson());
    j["joint"] = json::parse(study.jointJson());
    j["ci"] = study.bootstrap.enabled() ? json{{"level", study.bootstrap.level}, {"resamples", study.bootstrap.resamples}, {"seed", study.bootstrap.seed}}
                                        : json(nullptr);
    j["notes"] = study.notes;
    return j.dump(2);
}

}  // namespace superlens::core
