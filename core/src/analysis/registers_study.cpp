// The registers study (registers_study.h): scan, sites, zero vs mean.

#include "superlens/core/analysis/registers_study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "superlens/core/engine/edit_spec.h"

namespace superlens::core {
namespace {

// Final hidden states [T, d] in float64 for the comparisons.
Result<std::vector<double>> finalHidden(const ForwardResult& r) {
    const ActivationTensor* h = r.activation("ln_final.hook_normalized");
    if (!h) return Error{"the run did not record ln_final.hook_normalized"};
    return std::vector<double>(h->values.begin(), h->values.end());
}

RegistersEffect effectOf(const std::vector<double>& base, const std::vector<double>& edited, std::int64_t d) {
    // Sums in float64 over at most a few million values: no compensated sum needed.
    RegistersEffect e;
    double dot = 0, nb = 0, ne = 0, diff = 0;
    for (std::int64_t c = 0; c < d; ++c) {
        const double a = base[static_cast<std::size_t>(c)], b = edited[static_cast<std::size_t>(c)];
        dot += a * b;
        nb += a * a;
        ne += b * b;
        diff += (b - a) * (b - a);
    }
    e.clsCosine = nb > 0 && ne > 0 ? dot / std::sqrt(nb * ne) : (nb == ne ? 1.0 : 0.0);
    e.clsRelChange = nb > 0 ? std::sqrt(diff) / std::sqrt(nb) : 0.0;
    double all = 0, allDiff = 0;
    for (std::size_t i = 0; i < base.size(); ++i) {
        all += base[i] * base[i];
        allDiff += (edited[i] - base[i]) * (edited[i] - base[i]);
    }
    e.tokensRelChange = all > 0 ? std::sqrt(allDiff) / std::sqrt(all) : 0.0;
    return e;
}

void accumulate(RegistersEffect& sum, const RegistersEffect& e, double w) {
    sum.clsCosine += w * e.clsCosine;
    sum.clsRelChange += w * e.clsRelChange;
    sum.tokensRelChange += w * e.tokensRelChange;
}

std::string kindOf(const ImageToken& t) { return t.kindName(); }

}  // namespace

std::vector<std::string> RegistersModelStudy::edits(bool mean) const {
    std::vector<std::string> out;
    for (const RegistersSite& s : sites) {
        out.push_back("blocks." + std::to_string(interventionLayer) + ".hook_resid_post[" + std::to_string(s.token) + "," +
                      std::to_string(s.channel) + "]=" + formatNumber(mean ? s.mean : 0.0));
    }
    return out;
}

Result<RegistersModelStudy> studyRegisters(Engine& engine, const std::vector<RegistersImage>& images, const RegistersStudyOptions& options,
                                           const RunControl& control) {
    const Model& model = engine.model();
    const ModelConfig& c = model.config();
    if (!c.pixelInput) return Error{"the registers study reads images; this " + c.familyName + " model reads tokens (a vision model is needed)"};
    if (images.empty()) return Error{"no images given"};
    RegistersModelStudy s;
    s.model = model.folder().string();
    s.modelType = c.modelType;
    s.registers = c.numRegisters;
    const std::int64_t total = static_cast<std::int64_t>(images.size()) * 3;
    std::int64_t done = 0;

    // 1. Scan every image.
    std::vector<std::shared_ptr<const ForwardResult>> runs;
    std::vector<MassiveActivationReport> reports;
    for (const RegistersImage& img : images) {
        if (control.isCancelled()) return Error{kCancelledMessage};
        ForwardRequest req;
        req.pixels = img.pixels;
        req.record = HookSelection::patterns({"blocks.*.hook_resid_post", "ln_final.hook_normalized"});
        auto r = engine.run(req);
        if (!r) return Error{img.label + ": " + r.error().message};
        if (runs.empty()) {
            s.tokens = (*r)->positions;
            s.patchGridWidth = (*r)->patchGridWidth;
        } else if ((*r)->positions != s.tokens || (*r)->patchGridWidth != s.patchGridWidth) {
            return Error{img.label + ": gives " + std::to_string((*r)->positions) + " tokens, " + images.front().label + " gave " +
                         std::to_string(s.tokens) + " (the images must have the same patch grid so their tokens correspond)"};
        }
        auto report = findMassiveActivations(**r, nullptr, options.massive);
        if (!report) return report.error();
        runs.push_back(*r);
        reports.push_back(std::move(report).value());
        control.progress(++done, total, "registers");
    }

    // Merge the flagged entries over the images.
    std::map<std::tuple<int, std::int64_t, std::int64_t>, RegistersMassiveEntry> merged;
    for (const MassiveActivationReport& rep : reports) {
        for (const MassiveActivation& a : rep.flagged) {
            RegistersMassiveEntry& e = merged[{a.layer, a.token, a.channel}];
            e.layer = a.layer;
            e.token = a.token;
            e.channel = a.channel;
            e.where = imageTokenAt(a.token, s.registers, s.patchGridWidth);
            if (a.ratio > e.ratio) {
                e.ratio = a.ratio;
                e.value = a.value;
            }
            ++e.images;
        }
    }
    for (auto& [key, e] : merged) {
        s.massive.push_back(e);
        ++s.where[kindOf(e.where)];
    }
    std::stable_sort(s.massive.begin(), s.massive.end(), [](const auto& a, const auto& b) {
        return a.layer != b.layer ? a.layer < b.layer : a.ratio > b.ratio;
    });
    if (s.massive.empty()) {
        s.notes.push_back("no residual entry reaches " + formatNumber(options.massive.ratioThreshold) +
                          "x its layer's median in any image: nothing to intervene on");
        return s;
    }

    // 2. Sites: the flagged (token, channel) of the first flagged layer, over all images.
    s.interventionLayer = s.massive.front().layer;
    std::set<std::pair<std::int64_t, std::int64_t>> siteKeys;
    for (const auto& e : s.massive) {
        if (e.layer == s.interventionLayer) siteKeys.insert({e.token, e.channel});
    }
    const HookPoint resid{HookKind::ResidPost, s.interventionLayer};
    for (const auto& [token, channel] : siteKeys) {
        RegistersSite site;
        site.token = token;
        site.channel = channel;
        site.where = imageTokenAt(token, s.registers, s.patchGridWidth);
        double sum = 0;
        for (const auto& r : runs) {
            const ActivationTensor* h = r->activation(resid);
            if (!h) return Error{"the scan did not record " + hookName(resid)};
            const double v = h->at(token, channel);
            site.values.push_back(v);
            sum += v;
        }
        site.mean = sum / static_cast<double>(runs.size());
        s.sites.push_back(std::move(site));
    }

    // 3-4. Zero and mean, per image, against the unedited final hidden states.
    const std::int64_t d = c.hiddenSize;
    const double w = 1.0 / static_cast<double>(images.size());
    s.zeroMean = RegistersEffect{0, 0, 0};
    s.meanMean = RegistersEffect{0, 0, 0};
    for (std::size_t i = 0; i < images.size(); ++i) {
        auto base = finalHidden(*runs[i]);
        if (!base) return base.error();
        RegistersImageResult res;
        res.label = images[i].label;
        for (const bool mean : {false, true}) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            ForwardRequest req;
            req.pixels = images[i].pixels;
            // The scan's hooks again, so the engine restarts at block L (the same record patterns are required).
            req.record = HookSelection::patterns({"blocks.*.hook_resid_post", "ln_final.hook_normalized"});
            req.previous = runs[i];  // blocks before L are reused (bit-identical)
            for (const std::string& text : s.edits(mean)) {
                auto e = parseEdit(text);
                if (!e) return e.error();
                req.edits.push_back(*e);
            }
            auto r = engine.run(req);
            if (!r) return Error{images[i].label + ": " + r.error().message};
            auto edited = finalHidden(**r);
            if (!edited) return edited.error();
            (mean ? res.mean : res.zero) = effectOf(*base, *edited, d);
            control.progress(++done, total, "registers");
        }
        accumulate(s.zeroMean, res.zero, w);
        accumulate(s.meanMean, res.mean, w);
        s.images.push_back(std::move(res));
    }
    if (images.size() == 1) s.notes.push_back("one image: its mean is its own value, so the mean intervention changes nothing; give several images");
    return s;
}

// ---------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------

namespace {

using nlohmann::json;

json tokenJson(const ImageToken& t) {
    json j = {{"token_kind", t.kindName()}, {"label", t.label()}};
    if (t.kind == ImageTokenKind::Register) j["register"] = t.index;
    if (t.kind == ImageTokenKind::Patch) {
        j["patch_row"] = t.row;
        j["patch_col"] = t.col;
    }
    return j;
}

json effectJson(const RegistersEffect& e) {
    return {{"cls_cosine", e.clsCosine}, {"cls_rel_change", e.clsRelChange}, {"tokens_rel_change", e.tokensRelChange}};
}

// The token kind holding most flagged entries ("" when none).
std::string dominantKind(const RegistersModelStudy& m) {
    std::string best;
    int n = 0;
    for (const auto& [kind, count] : m.where) {
        if (count > n) {
            best = kind;
            n = count;
        }
    }
    return best;
}

}  // namespace

std::string registersStudyJson(const std::vector<RegistersModelStudy>& models) {
    json j;
    j["study"] = "registers";
    j["models"] = json::array();
    for (const RegistersModelStudy& m : models) {
        json mj = {{"model", m.model}, {"model_type", m.modelType}, {"registers", m.registers}, {"tokens", m.tokens},
                   {"patch_grid_width", m.patchGridWidth}, {"intervention_layer", m.interventionLayer}, {"notes", m.notes}};
        mj["massive_activations"] = json::array();
        for (const auto& e : m.massive) {
            json ej = {{"layer", e.layer}, {"token", e.token}, {"channel", e.channel}, {"value", e.value}, {"ratio", e.ratio}, {"images", e.images}};
            ej.update(tokenJson(e.where));
            mj["massive_activations"].push_back(std::move(ej));
        }
        mj["where"] = json::object();
        for (const char* k : {"cls", "register", "patch"}) {
            const auto it = m.where.find(k);
            mj["where"][k] = it == m.where.end() ? 0 : it->second;
        }
        mj["sites"] = json::array();
        for (const auto& s : m.sites) {
            json sj = {{"token", s.token}, {"channel", s.channel}, {"values", s.values}, {"mean", s.mean}};
            sj.update(tokenJson(s.where));
            mj["sites"].push_back(std::move(sj));
        }
        mj["images"] = json::array();
        for (std::size_t i = 0; i < m.images.size(); ++i) {
            mj["images"].push_back({{"image", m.images[i].label}, {"zero", effectJson(m.images[i].zero)}, {"mean", effectJson(m.images[i].mean)},
                                    {"zero_edits", m.edits(false)}, {"mean_edits", m.edits(true)}});
        }
        if (!m.images.empty()) mj["effect"] = {{"zero", effectJson(m.zeroMean)}, {"mean", effectJson(m.meanMean)}};
        mj["head"] = nullptr;  // vision models here end at the final norm
        j["models"].push_back(std::move(mj));
    }
    json cmp = json::array();
    for (const RegistersModelStudy& m : models) cmp.push_back({{"model", m.model}, {"registers", m.registers}, {"massive_on", dominantKind(m)}});
    j["comparison"] = cmp;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string registersStudyMarkdown(const std::vector<RegistersModelStudy>& models) {
    std::ostringstream out;
    char buf[256];
    for (const RegistersModelStudy& m : models) {
        out << "## " << m.model << " (" << m.modelType << ", " << m.registers << " registers, " << m.tokens << " tokens)\n\n";
        if (m.massive.empty()) {
            for (const auto& n : m.notes) out << "Note: " << n << "\n";
            out << "\n";
            continue;
        }
        out << "| layer | token | channel | value | ratio | images |\n|---:|---|---:|---:|---:|---:|\n";
        for (const auto& e : m.massive) {
            std::snprintf(buf, sizeof buf, "| %d | %s | %lld | %.6g | %.1f | %d |\n", e.layer, e.where.label().c_str(), static_cast<long long>(e.channel),
                          e.value, e.ratio, e.images);
            out << buf;
        }
        out << "\nWhere: ";
        bool first = true;
        for (const char* k : {"cls", "register", "patch"}) {
            const auto it = m.where.find(k);
            out << (first ? "" : ", ") << (it == m.where.end() ? 0 : it->second) << " on " << k;
            first = false;
        }
        out << ".\n\nIntervention at layer " << m.interventionLayer << " (hook_resid_post):";
        for (const auto& s : m.sites) {
            std::snprintf(buf, sizeof buf, " %s channel %lld (mean %.6g)", s.where.label().c_str(), static_cast<long long>(s.channel), s.mean);
            out << buf;
        }
        out << "\n\n| image | zero: CLS cos | zero: CLS rel. change | zero: all rel. change | mean: CLS cos | mean: CLS rel. change | mean: all rel. change |\n"
               "|---|---:|---:|---:|---:|---:|---:|\n";
        auto row = [&](const std::string& label, const RegistersEffect& z, const RegistersEffect& mn) {
            std::snprintf(buf, sizeof buf, "| %s | %.4f | %.4g | %.4g | %.4f | %.4g | %.4g |\n", label.c_str(), z.clsCosine, z.clsRelChange,
                          z.tokensRelChange, mn.clsCosine, mn.clsRelChange, mn.tokensRelChange);
            out << buf;
        };
        for (const auto& i : m.images) row(i.label, i.zero, i.mean);
        row("mean", m.zeroMean, m.meanMean);
        for (const auto& n : m.notes) out << "\nNote: " << n << "\n";
        out << "\n";
    }
    if (models.size() > 1) {
        out << "Massive activations live on:";
        for (const RegistersModelStudy& m : models) {
            const std::string k = dominantKind(m);
            out << " " << m.model << " (" << m.registers << " registers): " << (k.empty() ? "none" : k) << ";";
        }
        out << "\n";
    }
    return out.str();
}

}  // namespace superlens::core
