// JSON, Markdown and CSV exports of the compression studies (formats in
// docs/COMPRESSION.md). Not-measured values are null in JSON, empty in CSV
// and "-" in Markdown; numbers use the shortest round-trip form.

#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "superlens/core/analysis/compression_study.h"

namespace superlens::core {
namespace {

using nlohmann::json;

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json metricsJson(const CompressionMetrics& m) {
    json j;
    j["ppl"] = number(m.ppl);
    j["nll"] = number(m.nll);
    j["tokens"] = m.pplTokens;
    j["accuracy"] = number(m.accuracy);
    j["accuracy_norm"] = number(m.accuracyNorm);
    j["answer_loss"] = number(m.answerLoss);
    j["answer_exact_match"] = number(m.answerExactMatch);
    j["mlm_accuracy"] = number(m.mlmAccuracy);
    j["mlm_loss"] = number(m.mlmLoss);
    j["mlm_tokens"] = m.mlmTokens;
    j["seconds"] = m.seconds;
    const auto interval = [](const Interval& i) { return i.valid() ? json::array({i.lo, i.hi}) : json(nullptr); };
    for (const auto& [name, i] : m.ci) j[name + "_ci"] = interval(i);
    for (const auto& [name, i] : m.deltaCi) j[name + "_delta_ci"] = interval(i);
    return j;
}

// Metrics measured in the baseline (the same set is measured everywhere).
std::vector<std::string> measured(const CompressionMetrics& baseline) {
    std::vector<std::string> out;
    for (const auto& name : compressionMetricNames()) {
        if (std::isfinite(baseline.value(name))) out.push_back(name);
    }
    return out;
}

std::string csvNumber(double v) { return std::isfinite(v) ? formatNumber(v) : std::string(); }

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += "\"\"";
        else q += c;
    }
    return q + "\"";
}

std::string mdNumber(double v, const char* fmt = "%.4g") {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

// "12.3 (+4.5)": the value and its change against the baseline.
std::string mdWithDelta(double v, double base, const Interval& deltaCi = {}) {
    if (!std::isfinite(v)) return "-";
    std::string s = mdNumber(v);
    if (std::isfinite(base)) {
        char buf[96];
        if (deltaCi.valid()) {
            std::snprintf(buf, sizeof buf, " (%+.3g [%+.3g, %+.3g])", v - base, deltaCi.lo, deltaCi.hi);
        } else {
            std::snprintf(buf, sizeof buf, " (%+.3g)", v - base);
        }
        s += buf;
    }
    return s;
}

Interval deltaOf(const CompressionMetrics& m, const std::string& name) {
    const auto it = m.deltaCi.find(name);
    return it == m.deltaCi.end() ? Interval{} : it->second;
}

const char* metricTitle(const std::string& m) {
    if (m == "ppl") return "ppl";
    if (m == "nll") return "nll";
    if (m == "accuracy") return "zero-shot acc";
    if (m == "accuracy_norm") return "acc (norm)";
    if (m == "answer_loss") return "answer loss";
    if (m == "answer_exact_match") return "answer EM";
    if (m == "mlm_accuracy") return "MLM acc";
    if (m == "mlm_loss") return "MLM loss";
    return "?";
}

std::string joinEdits(const std::vector<std::string>& edits) {
    std::string s;
    for (const auto& e : edits) s += (s.empty() ? "" : " ") + e;
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// LASER
// ---------------------------------------------------------------------------

std::string LaserStudy::toJson() const {
    json j;
    j["study"] = "laser";
    j["baseline"] = metricsJson(baseline);
    j["base_edits"] = baseEdits;
    j["types"] = types;
    j["layers"] = layers;
    j["rhos"] = rhos;
    const auto metrics = measured(baseline);
    j["metrics"] = metrics;
    j["cells"] = json::array();
    for (const LaserCell& c : cells) {
        json cell = {{"type", c.type},       {"layer", c.layer},     {"rho", c.rho},         {"tensor", c.tensor},
                     {"edit", c.edit},       {"rank", c.rank},       {"max_rank", c.maxRank}, {"factored", c.factored},
                     {"method", c.method}};
        cell.update(metricsJson(c.metrics));
        j["cells"].push_back(std::move(cell));
    }
    j["heatmaps"] = json::array();
    for (const auto& type : types) {
        for (const auto& metric : metrics) {
            const LaserHeatmap h = heatmap(type, metric);
            json rows = json::array();
            for (std::size_t l = 0; l < h.layers.size(); ++l) {
                json row = json::array();
                for (std::size_t r = 0; r < h.rhos.size(); ++r) row.push_back(number(h.at(l, r)));
                rows.push_back(std::move(row));
            }
            j["heatmaps"].push_back({{"type", type}, {"metric", metric}, {"layers", h.layers}, {"rhos", h.rhos}, {"values", std::move(rows)},
                                     {"baseline", number(h.baseline)}});
        }
    }
    j["sequences"] = sequences;
    j["reused_sequences"] = reusedSequences;
    if (!maskedWindows.empty()) {
        json windows = json::array();
        for (const MaskedWindow& w : maskedWindows) windows.push_back({{"input", w.input}, {"positions", w.positions}, {"targets", w.targets}});
        j["masked_lm"] = {{"fraction", maskedLm.fraction}, {"seed", maskedLm.seed}, {"context", maskedLm.context}, {"rule", "mask"},
                          {"windows", std::move(windows)}};
    }
    j["notes"] = notes;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string LaserStudy::markdown() const {
    const auto metrics = measured(baseline);
    std::ostringstream out;
    out << "| matrix | layer | rho | rank |";
    for (const auto& m : metrics) out << " " << metricTitle(m) << " |";
    out << "\n|---|---:|---:|---:|";
    for (std::size_t i = 0; i < metrics.size(); ++i) out << "---:|";
    out << "\n| baseline | | | |";
    for (const auto& m : metrics) out << " " << mdNumber(baseline.value(m)) << " |";
    out << "\n";
    for (const LaserCell& c : cells) {
        out << "| " << c.type << " | " << c.layer << " | " << formatNumber(c.rho) << " | " << c.rank << "/" << c.maxRank << " |";
        for (const auto& m : metrics) out << " " << mdWithDelta(c.metrics.value(m), baseline.value(m), deltaOf(c.metrics, m)) << " |";
        out << "\n";
    }
    if (!baseEdits.empty()) out << "\nBase edits: `" << joinEdits(baseEdits) << "`\n";
    for (const auto& n : notes) out << "\nNote: " << n << "\n";
    return out.str();
}

std::string LaserStudy::csv() const {
    std::ostringstream out;
    out << "type,layer,rho,tensor,rank,max_rank,factored,method";
    for (const auto& m : compressionMetricNames()) out << "," << m;
    out << ",tokens,seconds\n";
    out << "baseline,,,,,,,";
    for (const auto& m : compressionMetricNames()) out << "," << csvNumber(baseline.value(m));
    out << "," << baseline.pplTokens << "," << formatNumber(baseline.seconds) << "\n";
    for (const LaserCell& c : cells) {
        out << csvField(c.type) << "," << c.layer << "," << formatNumber(c.rho) << "," << csvField(c.tensor) << "," << c.rank << "," << c.maxRank
            << "," << (c.factored ? "true" : "false") << "," << c.method;
        for (const auto& m : compressionMetricNames()) out << "," << csvNumber(c.metrics.value(m));
        out << "," << c.metrics.pplTokens << "," << formatNumber(c.metrics.seconds) << "\n";
    }
    return out.str();
}

// ---------------------------------------------------------------------------
// Quantization
// ---------------------------------------------------------------------------

std::string QuantStudy::toJson() const {
    json j;
    j["study"] = "quant";
    j["bits"] = bits;
    j["act_bits"] = actBits;
    j["pattern"] = pattern;
    j["super_weights"] = json::array();
    for (const auto& c : superWeights) j["super_weights"].push_back({{"layer", c.layer}, {"row", c.row}, {"col", c.col}});
    j["super_activations"] = json::array();
    for (const auto& c : superActivations) j["super_activations"].push_back({{"token", c.token}, {"channel", c.channel}});
    j["baseline"] = metricsJson(baseline);
    j["base_edits"] = baseEdits;
    const auto metrics = measured(baseline);
    j["metrics"] = metrics;
    j["points"] = json::array();
    for (const QuantPoint& p : points) {
        json point = {{"series", p.series}, {"block", p.block}, {"block_label", blockLabel(p.block)}, {"edit", p.edit}};
        point.update(metricsJson(p.metrics));
        j["points"].push_back(std::move(point));
    }
    j["plots"] = json::array();
    for (const auto& metric : metrics) {
        json series = json::array();
        for (const QuantSeries& s : plot(metric)) {
            json labels = json::array(), values = json::array();
            for (std::int64_t b : s.blocks) labels.push_back(blockLabel(b));
            for (double v : s.values) values.push_back(number(v));
            series.push_back({{"name", s.name}, {"blocks", s.blocks}, {"block_labels", labels}, {"values", values}});
        }
        j["plots"].push_back({{"metric", metric}, {"baseline", number(baseline.value(metric))}, {"series", series}});
    }
    j["sequences"] = sequences;
    j["reused_sequences"] = reusedSequences;
    j["notes"] = notes;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string QuantStudy::markdown() const {
    const auto metrics = measured(baseline);
    std::ostringstream out;
    out << "| series | block |";
    for (const auto& m : metrics) out << " " << metricTitle(m) << " |";
    out << "\n|---|---:|";
    for (std::size_t i = 0; i < metrics.size(); ++i) out << "---:|";
    out << "\n| baseline | |";
    for (const auto& m : metrics) out << " " << mdNumber(baseline.value(m)) << " |";
    out << "\n";
    for (const QuantPoint& p : points) {
        out << "| " << p.series << " | " << blockLabel(p.block) << " |";
        for (const auto& m : metrics) out << " " << mdWithDelta(p.metrics.value(m), baseline.value(m), deltaOf(p.metrics, m)) << " |";
        out << "\n";
    }
    out << "\nWeights: " << bits << "-bit RTN of `" << pattern << "`";
    if (!superWeights.empty()) {
        out << "; super weights kept: ";
        for (std::size_t i = 0; i < superWeights.size(); ++i) {
            out << (i ? ", " : "") << "(" << superWeights[i].layer << ", " << superWeights[i].row << ", " << superWeights[i].col << ")";
        }
    }
    out << ".\n";
    if (actBits) out << "Activations: " << actBits << "-bit RTN.\n";
    if (!baseEdits.empty()) out << "\nBase edits: `" << joinEdits(baseEdits) << "`\n";
    for (const auto& n : notes) out << "\nNote: " << n << "\n";
    return out.str();
}

std::string QuantStudy::csv() const {
    std::ostringstream out;
    out << "series,block,block_label,edit";
    for (const auto& m : compressionMetricNames()) out << "," << m;
    out << ",tokens,seconds\n";
    out << "baseline,,,";
    for (const auto& m : compressionMetricNames()) out << "," << csvNumber(baseline.value(m));
    out << "," << baseline.pplTokens << "," << formatNumber(baseline.seconds) << "\n";
    for (const QuantPoint& p : points) {
        out << p.series << "," << p.block << "," << blockLabel(p.block) << "," << csvField(p.edit);
        for (const auto& m : compressionMetricNames()) out << "," << csvNumber(p.metrics.value(m));
        out << "," << p.metrics.pplTokens << "," << formatNumber(p.metrics.seconds) << "\n";
    }
    return out.str();
}

// ---------------------------------------------------------------------------
// Reading back
// ---------------------------------------------------------------------------

namespace {

// A field error, thrown inside the readers below and turned into an Error
// value at their edge (nlohmann's own type errors are caught there too).
struct FieldError {
    std::string message;
};

const json& field(const json& j, const char* key, const std::string& where) {
    if (!j.is_object() || !j.contains(key)) throw FieldError{where + ": missing field \"" + key + "\""};
    return j.at(key);
}

// null (not measured) or a number.
double optionalNumber(const json& j, const char* key) {
    if (!j.contains(key) || j.at(key).is_null()) return kNotMeasured;
    if (!j.at(key).is_number()) throw FieldError{std::string("field \"") + key + "\" is not a number"};
    return j.at(key).get<double>();
}

CompressionMetrics readMetrics(const json& j, const std::string& where) {
    if (!j.is_object()) throw FieldError{where + ": expected an object of measures"};
    CompressionMetrics m;
    try {
        m.ppl = optionalNumber(j, "ppl");
        m.nll = optionalNumber(j, "nll");
        m.accuracy = optionalNumber(j, "accuracy");
        m.accuracyNorm = optionalNumber(j, "accuracy_norm");
        m.answerLoss = optionalNumber(j, "answer_loss");
        m.answerExactMatch = optionalNumber(j, "answer_exact_match");
        m.mlmAccuracy = optionalNumber(j, "mlm_accuracy");
        m.mlmLoss = optionalNumber(j, "mlm_loss");
        m.mlmTokens = j.value("mlm_tokens", std::int64_t{0});
        m.seconds = j.value("seconds", 0.0);
        m.pplTokens = j.value("tokens", std::int64_t{0});
        for (const auto& name : compressionMetricNames()) {
            for (const bool delta : {false, true}) {
                const std::string key = name + (delta ? "_delta_ci" : "_ci");
                if (!j.contains(key) || j.at(key).is_null()) continue;
                const json& v = j.at(key);
                if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
                    throw FieldError{"field \"" + key + "\" is not [lo, hi]"};
                }
                (delta ? m.deltaCi : m.ci)[name] = Interval{v[0].get<double>(), v[1].get<double>()};
            }
        }
    } catch (const FieldError& e) {
        throw FieldError{where + ": " + e.message};
    }
    return m;
}

template <class T>
std::vector<T> readList(const json& j, const char* key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_array()) throw FieldError{where + ": field \"" + key + "\" is not a list"};
    return v.get<std::vector<T>>();
}

template <class Fn>
auto readDocument(const std::string& text, const std::string& name, const char* kind, Fn&& fn) -> Result<decltype(fn(json()))> {
    try {
        const json j = json::parse(text);
        const std::string study = field(j, "study", name).get<std::string>();
        if (study != kind) return Error{name + ": a '" + study + "' study, not a '" + kind + "' study"};
        return fn(j);
    } catch (const FieldError& e) {
        return Error{e.message};
    } catch (const json::exception& e) {
        return Error{name + ": not a " + std::string(kind) + " study JSON (" + e.what() + ")"};
    }
}

}  // namespace

Result<std::string> compressionStudyKind(const std::string& text, const std::string& name) {
    try {
        const json j = json::parse(text);
        if (!j.is_object() || !j.contains("study") || !j["study"].is_string()) return Error{name + ": not a study JSON (no \"study\" field)"};
        const std::string kind = j["study"].get<std::string>();
        if (kind != "laser" && kind != "quant") return Error{name + ": a '" + kind + "' study (SuperLens shows 'laser' and 'quant' studies here)"};
        return kind;
    } catch (const json::exception& e) {
        return Error{name + ": malformed JSON (" + std::string(e.what()) + ")"};
    }
}

Result<LaserStudy> parseLaserStudyJson(const std::string& text, const std::string& name) {
    return readDocument(text, name, "laser", [&](const json& j) {
        LaserStudy s;
        s.baseline = readMetrics(field(j, "baseline", name), name + ": baseline");
        s.types = readList<std::string>(j, "types", name);
        s.layers = readList<int>(j, "layers", name);
        s.rhos = readList<double>(j, "rhos", name);
        if (j.contains("base_edits")) s.baseEdits = readList<std::string>(j, "base_edits", name);
        if (j.contains("notes")) s.notes = readList<std::string>(j, "notes", name);
        s.sequences = j.value("sequences", std::int64_t{0});
        s.reusedSequences = j.value("reused_sequences", std::int64_t{0});
        const json& cells = field(j, "cells", name);
        if (!cells.is_array()) throw FieldError{name + ": field \"cells\" is not a list"};
        for (std::size_t i = 0; i < cells.size(); ++i) {
            const std::string where = name + ": cells[" + std::to_string(i) + "]";
            const json& c = cells[i];
            LaserCell cell;
            cell.type = field(c, "type", where).get<std::string>();
            cell.layer = field(c, "layer", where).get<int>();
            cell.rho = field(c, "rho", where).get<double>();
            cell.tensor = c.value("tensor", std::string());
            cell.edit = c.value("edit", std::string());
            cell.rank = c.value("rank", std::int64_t{0});
            cell.maxRank = c.value("max_rank", std::int64_t{0});
            cell.factored = c.value("factored", false);
            cell.method = c.value("method", std::string());
            cell.metrics = readMetrics(c, where);
            s.cells.push_back(std::move(cell));
        }
        return s;
    });
}

Result<QuantStudy> parseQuantStudyJson(const std::string& text, const std::string& name) {
    return readDocument(text, name, "quant", [&](const json& j) {
        QuantStudy s;
        s.bits = field(j, "bits", name).get<int>();
        s.actBits = j.value("act_bits", 0);
        s.pattern = j.value("pattern", std::string());
        s.baseline = readMetrics(field(j, "baseline", name), name + ": baseline");
        if (j.contains("base_edits")) s.baseEdits = readList<std::string>(j, "base_edits", name);
        if (j.contains("notes")) s.notes = readList<std::string>(j, "notes", name);
        s.sequences = j.value("sequences", std::int64_t{0});
        s.reusedSequences = j.value("reused_sequences", std::int64_t{0});
        for (const json& c : j.value("super_weights", json::array())) {
            s.superWeights.push_back({field(c, "layer", name + ": super_weights").get<int>(), field(c, "row", name + ": super_weights").get<std::int64_t>(),
                                      field(c, "col", name + ": super_weights").get<std::int64_t>()});
        }
        for (const json& c : j.value("super_activations", json::array())) {
            s.superActivations.push_back(
                {field(c, "token", name + ": super_activations").get<std::int64_t>(), field(c, "channel", name + ": super_activations").get<std::int64_t>()});
        }
        const json& points = field(j, "points", name);
        if (!points.is_array()) throw FieldError{name + ": field \"points\" is not a list"};
        for (std::size_t i = 0; i < points.size(); ++i) {
            const std::string where = name + ": points[" + std::to_string(i) + "]";
            const json& p = points[i];
            QuantPoint point;
            point.series = field(p, "series", where).get<std::string>();
            point.block = field(p, "block", where).get<std::int64_t>();
            point.edit = p.value("edit", std::string());
            point.metrics = readMetrics(p, where);
            s.points.push_back(std::move(point));
        }
        return s;
    });
}

}  // namespace superlens::core
