#pragma once
// Hook points, named as in TransformerLens (DESIGN.md). For layer l, T token
// positions, hidden d, intermediate f, heads H:
//
//   hook_embed                   [T, d]     token embeddings (Gemma: times sqrt(d))
//   hook_pos_embed               [T, d]     learned position embeddings (GPT-2)
//   blocks.l.hook_resid_pre      [T, d]     residual entering block l
//   blocks.l.attn.hook_pattern   [H, T, T]  attention probabilities (query, key)
//   blocks.l.hook_attn_out       [T, d]     what attention adds to the residual (after o_proj,
//                                           its bias, and Gemma's post-attention norm)
//   blocks.l.hook_resid_mid      [T, d]     residual after attention (sequential blocks only)
//   blocks.l.mlp.hook_pre        [T, f]     gate (or up/fc_in) projection before the activation
//   blocks.l.mlp.hook_post       [T, f]     down projection input: act(gate) * up, or act(fc_in)
//   blocks.l.hook_mlp_out        [T, d]     what the MLP adds to the residual (down projection
//                                           output, its bias, and Gemma's post-MLP norm)
//   blocks.l.hook_resid_post     [T, d]     residual leaving block l
//
// Routed-experts layers (E experts, k per token, expert size fe, shared size fs)
// have, instead of mlp.hook_pre / mlp.hook_post:
//   blocks.l.mlp.hook_expert_weights      [T, E]   router probabilities (softmax of the router logits)
//   blocks.l.mlp.hook_expert_indices      [T, k]   selected experts, in top-k order (as float values)
//   blocks.l.mlp.experts.e.hook_pre       [T, fe]  expert e's gate projection (rows of tokens not routed to e: 0)
//   blocks.l.mlp.experts.e.hook_post      [T, fe]  expert e's down_proj input act(gate) * up (likewise)
//   blocks.l.mlp.experts.e.hook_out       [T, d]   expert e's down_proj output, before the routing weight (likewise)
//   blocks.l.mlp.shared_expert.hook_pre   [T, fs]  shared expert (Qwen2-MoE): gate projection
//   blocks.l.mlp.shared_expert.hook_post  [T, fs]  its down_proj input
//   blocks.l.mlp.shared_expert.hook_out   [T, d]   its output times sigmoid(shared_expert_gate(x))
//   ln_final.hook_normalized     [T, d]     final norm output
//
// Hook names are data: parsed once into HookPoint {kind, layer}. Which hooks
// a model has depends on its family (HookLayout): parallel blocks have no
// resid_mid, only learned-position models have pos_embed.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

struct ModelConfig;

enum class HookKind {
    Embed, PosEmbed, ResidPre, AttnPattern, AttnOut, ResidMid, MlpPre, MlpPost,
    ExpertWeights, ExpertIndices, SharedPre, SharedPost, SharedOut,  // routed-experts layers
    MlpOut, ResidPost,
    ExpertPre, ExpertPost, ExpertOut,  // per expert (HookPoint::expert)
    LnFinal
};
inline constexpr int kHookKindCount = 19;
inline constexpr int kLayerHookKindCount = 13;  // ResidPre .. ResidPost: one slot per layer
inline constexpr int kExpertHookKindCount = 3;  // ExpertPre .. ExpertOut: one slot per layer and expert
bool isExpertHook(HookKind k);

struct HookPoint {
    HookKind kind = HookKind::Embed;
    int layer = -1;  // -1 for hook_embed, hook_pos_embed and ln_final.hook_normalized
    int expert = -1; // routed expert of ExpertPre/ExpertPost/ExpertOut, else -1

    // Position in execution order: embed, pos_embed, blocks 0..L-1 (in kind order), ln_final.
    int order() const;
    bool operator==(const HookPoint&) const = default;
    bool operator<(const HookPoint& o) const {
        if (order() != o.order()) return order() < o.order();
        if (kind != o.kind) return kind < o.kind;
        return expert < o.expert;
    }
};

bool isLayerHook(HookKind k);
std::string hookName(HookPoint p);
// Parses an exact hook name ("blocks.3.hook_mlp_out"); nullopt if it is not one.
std::optional<HookPoint> parseHookName(std::string_view name);
// The hooks a model has: its depth and the family's block shape.
struct HookLayout {
    int layers = 0;
    bool residMid = true;   // sequential blocks
    bool posEmbed = false;  // learned absolute positions
    std::string family;     // for messages ("GPT-J")
    int experts = 0;                // routed experts per MoE layer (0: dense model)
    bool sharedExpert = false;      // Qwen2-MoE's shared expert
    std::vector<char> expertLayers; // per layer: 1 = routed-experts MLP (no mlp.hook_pre/hook_post)
    bool has(HookPoint p) const;
    // Why a well-formed hook name does not exist in this model ("" if it does).
    std::string missingReason(HookPoint p) const;
};
HookLayout hookLayoutOf(const ModelConfig& config);

// Every hook point of a model, in execution order.
std::vector<HookPoint> allHookPoints(const HookLayout& layout);

// Glob match where '*' matches any run of characters, dots included.
bool globMatch(std::string_view pattern, std::string_view text);

// Which hooks to record: a set of name patterns, resolved per model.
class HookSelection {
public:
    HookSelection() = default;
    static HookSelection none() { return {}; }
    static HookSelection patterns(std::vector<std::string> patterns);
    // The default capture set (DESIGN.md): down_proj in/out and resid_post,
    // plus what the GUI views need (attention patterns, resid_pre/mid, embed).
    static HookSelection captureDefault();
    static HookSelection all() { return patterns({"*"}); }

    // The same patterns, where those a model lacks are skipped instead of
    // refused (selections made for every family, e.g. the views' hooks).
    HookSelection lenient() const {
        HookSelection s = *this;
        s.m_lenient = true;
        return s;
    }
    bool empty() const { return m_patterns.empty(); }
    bool matches(HookPoint p) const;
    const std::vector<std::string>& patternList() const { return m_patterns; }
    // Resolved list for a model, in execution order.
    std::vector<HookPoint> resolve(const HookLayout& layout) const;
    // Error when a pattern matches no hook of the model (a typo would otherwise
    // record nothing), naming why when the hook exists in other families.
    // The default capture set asks only for what each model has.
    Status validate(const HookLayout& layout) const;

private:
    std::vector<std::string> m_patterns;
    bool m_lenient = false;  // captureDefault, lenient(): patterns a family lacks are skipped
};

}  // namespace superlens::core
