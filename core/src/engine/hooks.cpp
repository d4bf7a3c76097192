#include "superlens/core/engine/hooks.h"

#include <charconv>

#include "superlens/core/model/model_config.h"

#include <algorithm>

namespace superlens::core {
namespace {

struct KindName {
    HookKind kind;
    std::string_view suffix;  // after "blocks.<l>."
};
constexpr KindName kLayerKinds[] = {
    {HookKind::ResidPre, "hook_resid_pre"}, {HookKind::AttnPattern, "attn.hook_pattern"},
    {HookKind::AttnOut, "hook_attn_out"},   {HookKind::ResidMid, "hook_resid_mid"},
    {HookKind::MlpPre, "mlp.hook_pre"},     {HookKind::MlpPost, "mlp.hook_post"},
    {HookKind::ExpertWeights, "mlp.hook_expert_weights"}, {HookKind::ExpertIndices, "mlp.hook_expert_indices"},
    {HookKind::SharedPre, "mlp.shared_expert.hook_pre"}, {HookKind::SharedPost, "mlp.shared_expert.hook_post"},
    {HookKind::SharedOut, "mlp.shared_expert.hook_out"},
    {HookKind::MlpOut, "hook_mlp_out"},     {HookKind::ResidPost, "hook_resid_post"},
};
// Per expert: "blocks.<l>.mlp.experts.<e>." + suffix.
constexpr KindName kExpertKinds[] = {{HookKind::ExpertPre, "hook_pre"}, {HookKind::ExpertPost, "hook_post"}, {HookKind::ExpertOut, "hook_out"}};

bool isMlpInternal(HookKind k) { return k == HookKind::MlpPre || k == HookKind::MlpPost; }
bool isRoutedOnly(HookKind k) {
    return k == HookKind::ExpertWeights || k == HookKind::ExpertIndices || k == HookKind::SharedPre || k == HookKind::SharedPost ||
           k == HookKind::SharedOut || isExpertHook(k);
}
bool isShared(HookKind k) { return k == HookKind::SharedPre || k == HookKind::SharedPost || k == HookKind::SharedOut; }

// Rank inside a layer, in execution order: the router, then expert after expert, then the shared expert.
int rankInLayer(HookKind k, int expert) {
    constexpr int kExpertBase = 8;
    constexpr int kAfterExperts = kExpertBase + kExpertHookKindCount * static_cast<int>(kMaxExperts);
    switch (k) {
        case HookKind::ResidPre: return 0;
        case HookKind::AttnPattern: return 1;
        case HookKind::AttnOut: return 2;
        case HookKind::ResidMid: return 3;
        case HookKind::MlpPre: return 4;
        case HookKind::MlpPost: return 5;
        case HookKind::ExpertWeights: return 6;
        case HookKind::ExpertIndices: return 7;
        case HookKind::ExpertPre: return kExpertBase + kExpertHookKindCount * expert;
        case HookKind::ExpertPost: return kExpertBase + kExpertHookKindCount * expert + 1;
        case HookKind::ExpertOut: return kExpertBase + kExpertHookKindCount * expert + 2;
        case HookKind::SharedPre: return kAfterExperts;
        case HookKind::SharedPost: return kAfterExperts + 1;
        case HookKind::SharedOut: return kAfterExperts + 2;
        case HookKind::MlpOut: return kAfterExperts + 3;
        case HookKind::ResidPost: return kAfterExperts + 4;
        default: return 0;
    }
}
constexpr int kLayerStride = 8 + kExpertHookKindCount * static_cast<int>(kMaxExperts) + 5;

}  // namespace

bool isExpertHook(HookKind k) { return k == HookKind::ExpertPre || k == HookKind::ExpertPost || k == HookKind::ExpertOut; }

bool isLayerHook(HookKind k) { return k != HookKind::Embed && k != HookKind::PosEmbed && k != HookKind::LnFinal; }

int HookPoint::order() const {
    if (kind == HookKind::Embed) return 0;
    if (kind == HookKind::PosEmbed) return 1;
    if (kind == HookKind::LnFinal) return 1 << 30;
    return 2 + layer * kLayerStride + rankInLayer(kind, expert);
}

std::string hookName(HookPoint p) {
    if (p.kind == HookKind::Embed) return "hook_embed";
    if (p.kind == HookKind::PosEmbed) return "hook_pos_embed";
    if (p.kind == HookKind::LnFinal) return "ln_final.hook_normalized";
    for (const auto& kn : kLayerKinds) {
        if (kn.kind == p.kind) return "blocks." + std::to_string(p.layer) + "." + std::string(kn.suffix);
    }
    for (const auto& kn : kExpertKinds) {
        if (kn.kind == p.kind) return "blocks." + std::to_string(p.layer) + ".mlp.experts." + std::to_string(p.expert) + "." + std::string(kn.suffix);
    }
    return "?";
}

std::optional<HookPoint> parseHookName(std::string_view name) {
    if (name == "hook_embed") return HookPoint{HookKind::Embed, -1};
    if (name == "hook_pos_embed") return HookPoint{HookKind::PosEmbed, -1};
    if (name == "ln_final.hook_normalized") return HookPoint{HookKind::LnFinal, -1};
    constexpr std::string_view prefix = "blocks.";
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    name.remove_prefix(prefix.size());
    const auto dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0) return std::nullopt;
    int layer = -1;
    const auto digits = name.substr(0, dot);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), layer);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || layer < 0) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    const auto suffix = name.substr(dot + 1);
    for (const auto& kn : kLayerKinds) {
        if (kn.suffix == suffix) return HookPoint{kn.kind, layer};
    }
    // blocks.<l>.mlp.experts.<e>.hook_pre|hook_post|hook_out
    constexpr std::string_view experts = "mlp.experts.";
    if (suffix.substr(0, experts.size()) != experts) return std::nullopt;
    const auto rest = suffix.substr(experts.size());
    const auto dot2 = rest.find('.');
    if (dot2 == std::string_view::npos || dot2 == 0) return std::nullopt;
    const auto edigits = rest.substr(0, dot2);
    int expert = -1;
    const auto [eptr, eec] = std::from_chars(edigits.data(), edigits.data() + edigits.size(), expert);
    if (eec != std::errc() || eptr != edigits.data() + edigits.size() || expert < 0 || expert >= kMaxExperts) return std::nullopt;
    if (edigits.size() > 1 && edigits[0] == '0') return std::nullopt;
    for (const auto& kn : kExpertKinds) {
        if (kn.suffix == rest.substr(dot2 + 1)) return HookPoint{kn.kind, layer, expert};
    }
    return std::nullopt;
}

bool HookLayout::has(HookPoint p) const { return missingReason(p).empty(); }

std::string HookLayout::missingReason(HookPoint p) const {
    if (isLayerHook(p.kind) && (p.layer < 0 || p.layer >= layers)) {
        return "layer " + std::to_string(p.layer) + " is out of range (model has " + std::to_string(layers) + " layers)";
    }
    if (p.kind == HookKind::ResidMid && !residMid) {
        return family + " blocks are parallel (attention and MLP read the same residual), so there is no hook_resid_mid";
    }
    if (p.kind == HookKind::PosEmbed && !posEmbed) return family + " has no learned position embeddings (its positions are rotary)";
    const bool routed = isLayerHook(p.kind) && experts > 0 && expertLayers[static_cast<std::size_t>(p.layer)];
    if (isMlpInternal(p.kind) && routed) {
        return "layer " + std::to_string(p.layer) + " of " + family +
               " routes tokens to experts, so it has no single MLP; use blocks.L.mlp.experts.E.hook_pre/hook_post";
    }
    if (isRoutedOnly(p.kind) && !routed) {
        return experts == 0 ? family + " has no routed experts" : "layer " + std::to_string(p.layer) + " of " + family + " has a dense MLP, not routed experts";
    }
    if (isExpertHook(p.kind) && (p.expert < 0 || p.expert >= experts)) {
        return "expert " + std::to_string(p.expert) + " is out of range (" + family + " has " + std::to_string(experts) + " experts per layer)";
    }
    if (isShared(p.kind) && !sharedExpert) return family + " has no shared expert";
    return "";
}

HookLayout hookLayoutOf(const ModelConfig& c) {
    HookLayout h;
    h.layers = c.numLayers;
    h.residMid = c.hasResidMid();
    h.posEmbed = c.positions == PositionKind::Learned;
    h.family = c.familyName.empty() ? c.modelType : c.familyName;
    if (c.hasExperts()) {
        h.experts = c.experts.count;
        h.sharedExpert = c.experts.sharedIntermediate > 0;
        h.expertLayers.assign(static_cast<std::size_t>(c.numLayers), 0);
        for (int l = 0; l < c.numLayers; ++l) h.expertLayers[static_cast<std::size_t>(l)] = c.isExpertLayer(l);
    }
    return h;
}

std::vector<HookPoint> allHookPoints(const HookLayout& layout) {
    std::vector<HookPoint> out{{HookKind::Embed, -1}};
    if (layout.posEmbed) out.push_back({HookKind::PosEmbed, -1});
    for (int l = 0; l < layout.layers; ++l) {
        const std::size_t first = out.size();
        for (const auto& kn : kLayerKinds) {
            if (layout.has({kn.kind, l})) out.push_back({kn.kind, l});
        }
        for (int e = 0; e < layout.experts; ++e) {
            for (const auto& ek : kExpertKinds) {
                if (layout.has({ek.kind, l, e})) out.push_back({ek.kind, l, e});
            }
        }
        std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
    }
    out.push_back({HookKind::LnFinal, -1});
    return out;
}

bool globMatch(std::string_view pattern, std::string_view text) {
    // Iterative wildcard match with backtracking to the last '*': linear in
    // practice and no recursion depth to blow on hostile patterns.
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

HookSelection HookSelection::patterns(std::vector<std::string> patterns) {
    HookSelection s;
    s.m_patterns = std::move(patterns);
    return s;
}

HookSelection HookSelection::captureDefault() {
    HookSelection s = patterns({"hook_embed", "blocks.*.hook_resid_pre", "blocks.*.attn.hook_pattern", "blocks.*.hook_attn_out",
                     "blocks.*.hook_resid_mid", "blocks.*.mlp.hook_post", "blocks.*.hook_mlp_out",
                     "blocks.*.hook_resid_post", "ln_final.hook_normalized", "blocks.*.mlp.hook_expert_weights",
                     "blocks.*.mlp.hook_expert_indices"});
    s.m_lenient = true;
    return s;
}

bool HookSelection::matches(HookPoint p) const {
    if (m_patterns.empty()) return false;
    const std::string name = hookName(p);
    for (const auto& pat : m_patterns) {
        if (globMatch(pat, name)) return true;
    }
    return false;
}

std::vector<HookPoint> HookSelection::resolve(const HookLayout& layout) const {
    std::vector<HookPoint> out;
    if (m_patterns.empty()) return out;
    for (const HookPoint& p : allHookPoints(layout)) {
        if (matches(p)) out.push_back(p);
    }
    return out;
}

Status HookSelection::validate(const HookLayout& layout) const {
    if (m_lenient) return {};
    const auto points = allHookPoints(layout);
    for (const auto& pat : m_patterns) {
        // An exact name the model lacks: say why (e.g. no resid_mid in a parallel block).
        if (const auto exact = parseHookName(pat)) {
            const std::string why = layout.missingReason(*exact);
            if (!why.empty()) return Error{"hook '" + pat + "' does not exist in this model: " + why};
            continue;
        }
        bool any = false;
        for (const HookPoint& p : points) {
            if (globMatch(pat, hookName(p))) {
                any = true;
                break;
            }
        }
        if (!any) return Error{"hook pattern '" + pat + "' matches no hook of this model (e.g. blocks.0.hook_mlp_out, blocks.*.mlp.hook_post)"};
    }
    return {};
}

}  // namespace superlens::core
