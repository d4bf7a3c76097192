#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/model/mapped_file.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "superlens/core/engine/experiment_file.h"
#include "superlens/core/engine/hooks.h"
#include "superlens/core/model/model.h"

namespace superlens::core {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::optional<double> parseDouble(std::string_view s) {
    s = trim(s);
    if (s.empty()) return std::nullopt;
    if (s.front() == '+') s.remove_prefix(1);
    double v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<std::int64_t> parseInt(std::string_view s) {
    s = trim(s);
    if (s.empty()) return std::nullopt;
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

Error bad(std::string_view text, const std::string& why) {
    return Error{"edit '" + std::string(text) + "': " + why};
}

// name[i,j]=V | name[i,j]*=F | name[i,j]=mean
Result<EditSpec> parseElement(std::string_view text) {
    const auto open = text.find('[');
    const auto close = text.find(']', open == std::string_view::npos ? 0 : open);
    if (open == std::string_view::npos || close == std::string_view::npos || open == 0) {
        return bad(text, "expected NAME[i,j]=VALUE, NAME[i,j]*=FACTOR, laser:NAME:rank=RHO or rtn:PATTERN:bits=B:block=N");
    }
    EditSpec e;
    e.target = std::string(trim(text.substr(0, open)));
    if (e.target.empty()) return bad(text, "missing tensor or hook name before '['");
    if (auto hook = parseHookName(e.target)) e.kind = EditKind::Activation;
    else if (e.target.rfind("blocks.", 0) == 0 || e.target.find("hook_") != std::string::npos) {
        return bad(text, "'" + e.target + "' is not a hook name (e.g. blocks.2.hook_mlp_out, blocks.2.mlp.hook_post)");
    } else e.kind = EditKind::Weight;

    for (std::string_view part : split(text.substr(open + 1, close - open - 1), ',')) {
        part = trim(part);
        if (part == "*") {
            e.index.emplace_back(std::nullopt);
            continue;
        }
        const auto v = parseInt(part);
        if (!v) return bad(text, "index '" + std::string(part) + "' is not an integer or '*'");
        if (*v < 0) return bad(text, "index " + std::to_string(*v) + " is negative");
        e.index.emplace_back(*v);
    }
    std::string_view rest = trim(text.substr(close + 1));
    if (rest.substr(0, 2) == "*=") {
        e.op = EditOp::Scale;
        rest.remove_prefix(2);
    } else if (!rest.empty() && rest.front() == '=') {
        e.op = EditOp::Set;
        rest.remove_prefix(1);
    } else {
        return bad(text, "expected '=VALUE' or '*=FACTOR' after the index");
    }
    rest = trim(rest);
    if (rest == "mean") {
        if (e.kind != EditKind::Activation || e.op != EditOp::Set) return bad(text, "'=mean' applies to activations only");
        e.op = EditOp::Mean;
        return e;
    }
    const auto v = parseDouble(rest);
    if (!v) return bad(text, "'" + std::string(rest) + "' is not a finite number");
    // The engine runs in float32: a value beyond its range would become Inf
    // in the weight or activation and NaN in every logit.
    if (std::abs(*v) > static_cast<double>(std::numeric_limits<float>::max())) {
        return bad(text, "'" + std::string(rest) + "' is beyond the float32 range (|x| <= 3.4028235e38)");
    }
    e.value = *v;
    return e;
}

Result<EditSpec> parseLaser(std::string_view text) {
    // laser:NAME:rank=RHO
    const auto parts = split(text, ':');
    if (parts.size() != 3) return bad(text, "expected laser:TENSOR:rank=RHO");
    EditSpec e;
    e.kind = EditKind::Laser;
    e.target = std::string(trim(parts[1]));
    if (e.target.empty()) return bad(text, "missing tensor name");
    const auto opt = trim(parts[2]);
    if (opt.substr(0, 5) != "rank=") return bad(text, "expected rank=RHO (fraction of the maximal rank kept, 0 < RHO <= 1)");
    const auto rho = parseDouble(opt.substr(5));
    if (!rho || *rho <= 0.0 || *rho > 1.0) return bad(text, "rank must be a fraction in (0, 1]");
    e.rho = *rho;
    return e;
}

Status parseKeepWeights(std::string_view text, std::string_view list, EditSpec& e) {
    for (std::string_view item : split(list, ';')) {
        item = trim(item);
        if (item.empty()) continue;
        const auto f = split(item, ':');
        if (f.size() != 3) return bad(text, "keep_super list items are LAYER:ROW:COL separated by ';'");
        const auto l = parseInt(f[0]), r = parseInt(f[1]), c = parseInt(f[2]);
        if (!l || !r || !c || *l < 0 || *r < 0 || *c < 0) return bad(text, "keep_super item '" + std::string(item) + "' is not LAYER:ROW:COL");
        e.keepWeights.push_back({static_cast<int>(*l), *r, *c});
    }
    if (e.keepWeights.empty()) return bad(text, "keep_super= needs at least one LAYER:ROW:COL");
    return {};
}

Status parseKeepActivations(std::string_view text, std::string_view list, EditSpec& e) {
    for (std::string_view item : split(list, ';')) {
        item = trim(item);
        if (item.empty()) continue;
        const auto f = split(item, ':');
        if (f.size() != 2) return bad(text, "actq keep_super items are TOKEN:CHANNEL separated by ';'");
        const auto t = parseInt(f[0]), c = parseInt(f[1]);
        if (!t || !c || *t < 0 || *c < 0) return bad(text, "keep_super item '" + std::string(item) + "' is not TOKEN:CHANNEL");
        e.keepActivations.push_back({*t, *c});
    }
    if (e.keepActivations.empty()) return bad(text, "keep_super= needs at least one TOKEN:CHANNEL");
    return {};
}

// rtn:PATTERN:bits=B:block=N|tensor[:keep_super[=...]][:zclip=Z][:pclip=P]
// actq:PATTERN:bits=B[:block=N|tensor|token][:keep_super[=...]]
Result<EditSpec> parseQuant(std::string_view text, bool activations) {
    // The keep_super list uses ':' inside items, so split options by ":<key>=" boundaries.
    const std::string_view head = activations ? "actq:" : "rtn:";
    std::string_view rest = text.substr(head.size());
    EditSpec e;
    e.kind = activations ? EditKind::ActQuant : EditKind::Rtn;
    const auto firstColon = rest.find(':');
    if (firstColon == std::string_view::npos) {
        return bad(text, activations ? "expected actq:HOOK_PATTERN:bits=B" : "expected rtn:PATTERN:bits=B:block=N|tensor");
    }
    e.target = std::string(trim(rest.substr(0, firstColon)));
    if (e.target.empty()) return bad(text, "missing pattern");
    rest = rest.substr(firstColon + 1);

    // Tokenise options: keys we know, each starting after a ':'.
    std::vector<std::string_view> options;
    std::size_t start = 0;
    auto isKeyStart = [&](std::size_t pos) {
        for (std::string_view key : {"bits=", "block=", "keep_super", "zclip=", "pclip="}) {
            if (rest.substr(pos, key.size()) == key) return true;
        }
        return false;
    };
    for (std::size_t i = 0; i <= rest.size(); ++i) {
        if (i == rest.size() || (rest[i] == ':' && isKeyStart(i + 1))) {
            options.push_back(trim(rest.substr(start, i - start)));
            start = i + 1;
        }
    }
    bool haveBits = false, haveBlock = false;
    for (std::string_view opt : options) {
        if (opt.substr(0, 5) == "bits=") {
            const auto b = parseInt(opt.substr(5));
            const int maxBits = activations ? 16 : 8;
            if (!b || *b < 2 || *b > maxBits) return bad(text, "bits must be an integer from 2 to " + std::to_string(maxBits));
            e.bits = static_cast<int>(*b);
            haveBits = true;
        } else if (opt.substr(0, 6) == "block=") {
            const auto v = trim(opt.substr(6));
            if (v == "tensor") e.block = 0;
            else if (activations && v == "token") e.block = -1;
            else {
                const auto n = parseInt(v);
                if (!n || *n < 1) return bad(text, activations ? "block must be a positive integer, 'token' or 'tensor'" : "block must be a positive integer or 'tensor'");
                e.block = *n;
            }
            haveBlock = true;
        } else if (opt == "keep_super") {
            e.keepSuper = true;
        } else if (opt.substr(0, 11) == "keep_super=") {
            e.keepSuper = true;
            SL_TRY(activations ? parseKeepActivations(text, opt.substr(11), e) : parseKeepWeights(text, opt.substr(11), e));
        } else if (!activations && opt.substr(0, 6) == "zclip=") {
            const auto z = parseDouble(opt.substr(6));
            if (!z || *z <= 0) return bad(text, "zclip must be a positive number of standard deviations");
            e.zclip = *z;
        } else if (!activations && opt.substr(0, 6) == "pclip=") {
            const auto p = parseDouble(opt.substr(6));
            if (!p || *p <= 50 || *p > 100) return bad(text, "pclip must be a percentile in (50, 100]");
            e.pclip = *p;
        } else {
            return bad(text, "unknown option '" + std::string(opt) + "'");
        }
    }
    if (!haveBits) return bad(text, "missing bits=B");
    if (!haveBlock) {
        if (!activations) return bad(text, "missing block=N|tensor");
        e.block = -1;  // activations: per token by default
    }
    return e;
}

// expert:L:E=off[:renorm]
Result<EditSpec> parseExpertOff(std::string_view text) {
    const auto parts = split(text, ':');
    const char* usage = "expected expert:LAYER:EXPERT=off or expert:LAYER:EXPERT=off:renorm";
    if (parts.size() != 3 && parts.size() != 4) return bad(text, usage);
    const auto eq = parts[2].find('=');
    if (eq == std::string_view::npos || trim(parts[2].substr(eq + 1)) != "off") return bad(text, usage);
    const auto layer = parseInt(parts[1]), expert = parseInt(parts[2].substr(0, eq));
    if (!layer || !expert || *layer < 0 || *expert < 0 || *layer > kMaxLayers || *expert > kMaxExperts) {
        return bad(text, "layer and expert must be non-negative integers (" + std::string(usage) + ")");
    }
    if (parts.size() == 4 && trim(parts[3]) != "renorm") return bad(text, "unknown option '" + std::string(trim(parts[3])) + "' (only :renorm)");
    EditSpec e;
    e.kind = EditKind::ExpertOff;
    e.expertLayer = static_cast<int>(*layer);
    e.expert = static_cast<int>(*expert);
    e.renorm = parts.size() == 4;
    e.target = std::to_string(e.expertLayer) + ":" + std::to_string(e.expert);
    return e;
}

}  // namespace

std::string formatNumber(double v) {
    if (v == 0.0) return "0";  // also folds -0
    char buf[64];
    const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, ptr);
}

std::string EditSpec::text() const {
    std::string s;
    switch (kind) {
        case EditKind::Weight:
        case EditKind::Activation: {
            s = target + "[";
            for (std::size_t i = 0; i < index.size(); ++i) {
                if (i) s += ",";
                s += index[i] ? std::to_string(*index[i]) : "*";
            }
            s += "]";
            if (op == EditOp::Mean) s += "=mean";
            else s += (op == EditOp::Scale ? "*=" : "=") + formatNumber(value);
            return s;
        }
        case EditKind::Laser:
            return "laser:" + target + ":rank=" + formatNumber(rho);
        case EditKind::ExpertOff:
            return "expert:" + std::to_string(expertLayer) + ":" + std::to_string(expert) + "=off" + (renorm ? ":renorm" : "");
        case EditKind::Rtn:
        case EditKind::ActQuant: {
            s = (kind == EditKind::Rtn ? "rtn:" : "actq:") + target + ":bits=" + std::to_string(bits) + ":block=";
            s += block == 0 ? "tensor" : block == -1 ? "token" : std::to_string(block);
            if (keepSuper) {
                s += ":keep_super";
                std::string list;
                for (const auto& c : keepWeights) list += (list.empty() ? "" : ";") + std::to_string(c.layer) + ":" + std::to_string(c.row) + ":" + std::to_string(c.col);
                for (const auto& c : keepActivations) list += (list.empty() ? "" : ";") + std::to_string(c.token) + ":" + std::to_string(c.channel);
                if (!list.empty()) s += "=" + list;
            }
            if (zclip) s += ":zclip=" + formatNumber(*zclip);
            if (pclip) s += ":pclip=" + formatNumber(*pclip);
            return s;
        }
    }
    return s;
}

Result<EditSpec> parseEdit(std::string_view raw) {
    const std::string_view text = trim(raw);
    if (text.empty()) return Error{"empty edit spec"};
    if (text.substr(0, 6) == "laser:") return parseLaser(text);
    if (text.substr(0, 7) == "expert:") return parseExpertOff(text);
    if (text.substr(0, 4) == "rtn:") return parseQuant(text, false);
    if (text.substr(0, 5) == "actq:") return parseQuant(text, true);
    return parseElement(text);
}

std::string weightSetText(const std::string& tensor, std::int64_t row, std::int64_t col, double value) {
    return tensor + "[" + std::to_string(row) + "," + std::to_string(col) + "]=" + formatNumber(value);
}

std::string weightScaleText(const std::string& tensor, std::int64_t row, std::int64_t col, double factor) {
    return tensor + "[" + std::to_string(row) + "," + std::to_string(col) + "]*=" + formatNumber(factor);
}

std::string activationSetText(const std::string& hook, std::int64_t token, std::int64_t channel, double value) {
    return hook + "[" + std::to_string(token) + "," + std::to_string(channel) + "]=" + formatNumber(value);
}

std::string expertOffText(int layer, int expert, bool renorm) {
    return "expert:" + std::to_string(layer) + ":" + std::to_string(expert) + "=off" + (renorm ? ":renorm" : "");
}

Result<std::vector<EditSpec>> loadEditsFile(const std::filesystem::path& file) {
    // The experiments file's own parser (experiment_file.h): one format for every front end.
    auto experiment = loadExperimentFile(file);
    if (!experiment) return experiment.error();
    std::vector<EditSpec> out;
    for (const ExperimentEdit& item : experiment->edits) {
        if (!item.enabled) continue;
        auto e = parseEdit(item.spec);
        if (!e) return Error{file.string() + ": " + e.error().message};
        out.push_back(std::move(e).value());
    }
    return out;
}

Result<std::vector<EditSpec>> loadEditsFileFor(const std::filesystem::path& file, const Model& model, std::int64_t tokenCount) {
    auto edits = loadEditsFile(file);
    if (!edits) return edits.error();
    std::vector<std::string> texts;
    for (const EditSpec& e : *edits) texts.push_back(e.text());
    auto parsed = parseEdits(texts, model, tokenCount);
    if (!parsed) return Error{file.string() + ": " + parsed.error().message};
    return parsed;
}

Result<std::vector<EditSpec>> parseEdits(const std::vector<std::string>& specs, const Model& model, std::int64_t tokenCount) {
    std::vector<EditSpec> out;
    for (const auto& s : specs) {
        auto e = parseEdit(s);
        if (!e) return e.error();
        // llama.cpp names (GGUF checkpoints) are accepted and stored as the Hugging Face name.
        if (e->kind == EditKind::Weight || e->kind == EditKind::Laser) e->target = model.canonicalTensorName(e->target);
        SL_TRY(validateEdit(*e, model, tokenCount));
        out.push_back(std::move(e).value());
    }
    return out;
}

bool isQuantizableLinear(const std::string& name, const Model& model) {
    // Projection matrices of the blocks; embeddings and the head stay in full precision.
    const TensorRole* role = model.tensorRole(name);
    return role && role->matrix && role->layer >= 0;
}

std::vector<std::string> editedTensors(const EditSpec& e, const Model& model) {
    switch (e.kind) {
        case EditKind::Weight:
        case EditKind::Laser:
            return {e.target};
        case EditKind::Rtn: {
            std::vector<std::string> out;
            for (const auto& name : model.tensorNames()) {
                if (globMatch(e.target, name) && isQuantizableLinear(name, model)) out.push_back(name);
            }
            return out;
        }
        case EditKind::Activation:
        case EditKind::ActQuant:
        case EditKind::ExpertOff:
            return {};
    }
    return {};
}

Status validateEdit(const EditSpec& e, const Model& model, std::int64_t tokenCount) {
    const std::string where = "edit '" + e.text() + "': ";
    const ModelConfig& c = model.config();
    switch (e.kind) {
        case EditKind::Weight:
        case EditKind::Laser: {
            const TensorView* t = model.tensor(e.target);
            if (!t) return Error{where + "unknown tensor '" + e.target + "' (names are the checkpoint's own, e.g. " + model.downProjectionName(0) + ")"};
            if (!model.tensorRole(e.target)) {
                return Error{where + "tensor '" + e.target + "' is not a weight the forward pass uses (a buffer or another tower's tensor)"};
            }
            if (e.kind == EditKind::Laser) {
                if (t->shape.size() != 2) return Error{where + "LASER needs a 2-D weight matrix"};
                return {};
            }
            if (e.index.size() != t->shape.size()) {
                return Error{where + "tensor has " + std::to_string(t->shape.size()) + " dimension(s) but the edit gives " + std::to_string(e.index.size()) + " index(es)"};
            }
            for (std::size_t i = 0; i < e.index.size(); ++i) {
                if (e.index[i] && *e.index[i] >= t->shape[i]) {
                    return Error{where + (i == 0 ? "row " : "column ") + std::to_string(*e.index[i]) + " is out of range (tensor has " +
                                 std::to_string(t->shape[i]) + ")"};
                }
            }
            return {};
        }
        case EditKind::Activation: {
            const auto hook = parseHookName(e.target);
            if (!hook) return Error{where + "unknown hook '" + e.target + "'"};
            if (const std::string why = hookLayoutOf(c).missingReason(*hook); !why.empty()) return Error{where + why};
            const bool pattern = hook->kind == HookKind::AttnPattern;
            const std::size_t dims = pattern ? 3 : 2;
            if (e.index.size() != dims) {
                return Error{where + (pattern ? "attention patterns take [head,query,key]" : "activations take [token,channel]")};
            }
            if (e.op == EditOp::Mean && pattern) return Error{where + "'=mean' applies to [token,channel] hooks"};
            if (e.op == EditOp::Mean && e.index[0]) return Error{where + "'=mean' needs '*' for the token (the mean is over all tokens)"};
            std::vector<std::int64_t> extent;
            if (pattern) extent = {c.numHeads, tokenCount, tokenCount};
            else {
                std::int64_t width = c.hiddenSize;
                switch (hook->kind) {
                    case HookKind::MlpPre: case HookKind::MlpPost: width = c.intermediateSize; break;
                    case HookKind::ExpertPre: case HookKind::ExpertPost: width = c.experts.intermediate; break;
                    case HookKind::SharedPre: case HookKind::SharedPost: width = c.experts.sharedIntermediate; break;
                    case HookKind::ExpertWeights: width = c.experts.count; break;
                    case HookKind::ExpertIndices: return Error{where + "expert indices are read-only (remove an expert with expert:L:E=off)"};
                    default: break;
                }
                extent = {tokenCount, width};
            }
            const char* names3[] = {"head", "query", "key"};
            const char* names2[] = {"token", "channel"};
            for (std::size_t i = 0; i < dims; ++i) {
                if (!e.index[i]) continue;
                if (extent[i] <= 0) continue;  // token count unknown yet
                if (*e.index[i] >= extent[i]) {
                    return Error{where + (pattern ? names3[i] : names2[i]) + std::string(" ") + std::to_string(*e.index[i]) +
                                 " is out of range (" + std::to_string(extent[i]) + ")"};
                }
            }
            return {};
        }
        case EditKind::Rtn: {
            if (editedTensors(e, model).empty()) {
                return Error{where + "pattern '" + e.target + "' matches no quantizable weight (e.g. model.layers.*.mlp.*)"};
            }
            for (const auto& k : e.keepWeights) {
                if (k.layer >= c.numLayers) return Error{where + "keep_super layer " + std::to_string(k.layer) + " is out of range"};
                // Coordinates index the down projection as stored.
                const TensorView* down = model.layerWeight(k.layer, LayerWeight::Down);
                if (!down) return Error{where + "keep_super layer " + std::to_string(k.layer) + " routes to experts (no single down projection)"};
                if (k.row >= down->rows() || k.col >= down->cols()) {
                    return Error{where + "keep_super coordinate " + std::to_string(k.row) + "," + std::to_string(k.col) + " is outside " +
                                 model.downProjectionName(k.layer)};
                }
            }
            return {};
        }
        case EditKind::ExpertOff: {
            if (!c.hasExperts()) return Error{where + c.familyName + " has no routed experts"};
            if (e.expertLayer >= c.numLayers) {
                return Error{where + "layer " + std::to_string(e.expertLayer) + " is out of range (model has " + std::to_string(c.numLayers) + " layers)"};
            }
            if (!c.isExpertLayer(e.expertLayer)) return Error{where + "layer " + std::to_string(e.expertLayer) + " has a dense MLP, not routed experts"};
            if (e.expert >= c.experts.count) {
                return Error{where + "expert " + std::to_string(e.expert) + " is out of range (" + std::to_string(c.experts.count) + " experts per layer)"};
            }
            return {};
        }
        case EditKind::ActQuant: {
            bool any = false;
            for (const HookPoint& p : allHookPoints(hookLayoutOf(c))) {
                if (p.kind != HookKind::AttnPattern && globMatch(e.target, hookName(p))) any = true;
            }
            if (!any) return Error{where + "pattern '" + e.target + "' matches no [token,channel] hook"};
            for (const auto& k : e.keepActivations) {
                if (tokenCount > 0 && k.token >= tokenCount) return Error{where + "keep_super token " + std::to_string(k.token) + " is out of range"};
            }
            return {};
        }
    }
    return {};
}

}  // namespace superlens::core
