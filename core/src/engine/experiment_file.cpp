#include "superlens/core/engine/experiment_file.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "superlens/core/model/mapped_file.h"

namespace superlens::core {

namespace {

using json = nlohmann::json;

// Reads the optional fields of one object with their types checked; the first
// problem is kept (with the key's name) and later reads are skipped.
class Fields {
public:
    Fields(const json& object, std::string context) : m_object(object), m_context(std::move(context)) {}

    bool has(const char* key) const { return m_object.contains(key) && !m_object.at(key).is_null(); }

    void text(const char* key, std::string& out) {
        if (!ok() || !has(key)) return;
        const json& v = m_object.at(key);
        if (!v.is_string()) return fail(key, "must be a string");
        out = v.get<std::string>();
    }
    void flag(const char* key, bool& out) {
        if (!ok() || !has(key)) return;
        const json& v = m_object.at(key);
        if (!v.is_boolean()) return fail(key, "must be true or false");
        out = v.get<bool>();
    }
    // An integer in [lo, hi] (JSON numbers written as 3.0 count as integers).
    void integer(const char* key, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
        if (!ok() || !has(key)) return;
        const json& v = m_object.at(key);
        if (!integral(v, lo, hi, out)) return fail(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    void number(const char* key, std::optional<double>& out) {
        if (!ok() || !has(key)) return;  // null: not measured
        const json& v = m_object.at(key);
        if (!v.is_number()) return fail(key, "must be a number or null");
        out = v.get<double>();
    }
    void texts(const char* key, std::vector<std::string>& out) {
        if (!ok() || !has(key)) return;
        const json& v = m_object.at(key);
        if (!v.is_array()) return fail(key, "must be a list of strings");
        for (const json& item : v) {
            if (!item.is_string()) return fail(key, "must be a list of strings");
            out.push_back(item.get<std::string>());
        }
    }

    static bool integral(const json& v, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
        if (v.is_number_integer()) {
            if (v.is_number_unsigned()) {
                const auto u = v.get<std::uint64_t>();
                if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
                out = static_cast<std::int64_t>(u);
            } else {
                out = v.get<std::int64_t>();
            }
            return out >= lo && out <= hi;
        }
        if (v.is_number_float()) {
            const double d = v.get<double>();
            if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != std::floor(d)) return false;
            out = static_cast<std::int64_t>(d);
            return true;
        }
        return false;
    }

    void fail(const char* key, const std::string& problem) {
        if (ok()) m_error = m_context + "\"" + key + "\" " + problem;
    }
    bool ok() const { return m_error.empty(); }
    const std::string& error() const { return m_error; }

private:
    const json& m_object;
    std::string m_context;
    std::string m_error;
};

constexpr std::int64_t kMaxTokenId = std::numeric_limits<std::int32_t>::max();

Result<ExperimentEdit> parseEditEntry(const json& item, const std::string& context) {
    ExperimentEdit e;
    if (item.is_string()) {
        e.spec = item.get<std::string>();
        return e;
    }
    if (!item.is_object() || !item.contains("spec") || !item.at("spec").is_string()) {
        return Error{context + "each edit must be a string or {\"spec\": \"...\"}"};
    }
    Fields f(item, context);
    f.text("spec", e.spec);
    f.flag("enabled", e.enabled);
    f.text("label", e.label);
    f.text("origin", e.origin);
    if (!f.ok()) return Error{f.error()};
    return e;
}

Result<ExperimentRun> parseRun(const json& item, const std::string& context) {
    if (!item.is_object()) return Error{context + "not an object"};
    ExperimentRun r;
    Fields f(item, context);
    std::int64_t number = 0;
    if (!f.has("number")) f.fail("number", "is missing");
    f.integer("number", 1, std::numeric_limits<std::int32_t>::max(), number);
    r.number = static_cast<int>(number);
    f.text("time", r.time);
    f.text("prompt", r.prompt);
    f.flag("ids_mode", r.idsMode);
    f.text("image", r.image);
    if (f.ok()) {
        if (!item.contains("ids") || !item.at("ids").is_array()) {
            f.fail("ids", "must be a list of token ids");
        } else {
            for (const json& v : item.at("ids")) {
                std::int64_t id = 0;
                if (!Fields::integral(v, 0, kMaxTokenId, id)) {
                    f.fail("ids", "holds something that is not a token id");
                    break;
                }
                r.ids.push_back(static_cast<std::int32_t>(id));
            }
            if (f.ok() && r.ids.empty() && r.image.empty()) f.fail("ids", "is empty");
        }
    }
    f.texts("edits", r.edits);
    f.text("prediction", r.prediction);
    std::optional<double> prob;
    f.number("prediction_prob", prob);
    r.predictionProb = prob.value_or(0.0);
    f.number("mean_loss", r.meanLoss);
    f.number("stopword_mass", r.stopwordMass);
    f.number("perplexity", r.perplexity);
    if (!f.ok()) return Error{f.error()};
    return r;
}

json optionalNumber(const std::optional<double>& v) {
    // JSON has no NaN or infinity: a number that is not finite is written as "not measured".
    if (!v || !std::isfinite(*v)) return nullptr;
    return *v;
}

}  // namespace

Result<Experiment> parseExperiment(std::string_view text, const std::string& where) {
    const std::string at = where + ": ";
    json root;
    try {
        root = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        return Error{at + "malformed JSON (" + std::string(e.what()) + ")"};
    }
    Experiment x;
    const json* edits = &root;
    if (root.is_object()) {
        if (!root.contains("edits")) return Error{at + "expected a JSON list of edit specs or an object with \"edits\" (not a SuperLens experiment)"};
        Fields f(root, at);
        f.text("model", x.model);
        f.texts("prompts", x.prompts);
        std::int64_t current = 0;
        f.integer("current_prompt", 0, x.prompts.empty() ? 0 : static_cast<std::int64_t>(x.prompts.size()) - 1, current);
        x.currentPrompt = static_cast<int>(current);
        f.flag("ids_mode", x.idsMode);
        if (!f.ok()) return Error{f.error()};
        edits = &root.at("edits");
        if (root.contains("history")) {
            const json& history = root.at("history");
            if (!history.is_array()) return Error{at + "\"history\" must be a list"};
            std::vector<ExperimentRun> runs;
            for (std::size_t i = 0; i < history.size(); ++i) {
                auto run = parseRun(history[i], at + "history entry " + std::to_string(i) + ": ");
                if (!run) return run.error();
                runs.push_back(std::move(run).value());
            }
            x.history = std::move(runs);
        }
    }
    if (!edits->is_array()) return Error{at + "\"edits\" must be a list"};
    for (std::size_t i = 0; i < edits->size(); ++i) {
        auto e = parseEditEntry((*edits)[i], at);
        if (!e) return e.error();
        x.edits.push_back(std::move(e).value());
    }
    return x;
}

Result<Experiment> loadExperimentFile(const std::filesystem::path& file) {
    auto text = readRegularFile(file, kMaxConfigBytes);
    if (!text) return text.error();
    return parseExperiment(*text, file.string());
}

std::string experimentJson(const Experiment& x) {
    json root = json::object();
    root["format"] = "superlens-experiment";
    root["version"] = 1;
    root["model"] = x.model;
    root["prompts"] = x.prompts;
    root["current_prompt"] = x.currentPrompt;
    root["ids_mode"] = x.idsMode;
    json edits = json::array();
    for (const auto& e : x.edits) {
        json o = {{"spec", e.spec}, {"enabled", e.enabled}};
        if (!e.label.empty()) o["label"] = e.label;
        if (!e.origin.empty()) o["origin"] = e.origin;
        edits.push_back(std::move(o));
    }
    root["edits"] = std::move(edits);
    if (x.history) {
        json history = json::array();
        for (const auto& r : *x.history) {
            json o = {{"number", r.number}, {"time", r.time}, {"prompt", r.prompt}, {"ids_mode", r.idsMode}};
            if (!r.image.empty()) o["image"] = r.image;
            o["ids"] = r.ids;
            o["edits"] = r.edits;
            o["prediction"] = r.prediction;
            o["prediction_prob"] = std::isfinite(r.predictionProb) ? r.predictionProb : 0.0;
            o["mean_loss"] = optionalNumber(r.meanLoss);
            o["stopword_mass"] = optionalNumber(r.stopwordMass);
            o["perplexity"] = optionalNumber(r.perplexity);
            history.push_back(std::move(o));
        }
        root["history"] = std::move(history);
    }
    // Texts from a front end may hold invalid UTF-8 (a file name): replaced, never a throw.
    return root.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace superlens::core
