#pragma once
// Hook points, named as in TransformerLens (DESIGN.md). For layer l, T token
// positions, hidden d, intermediate f, heads H:
//
//   hook_embed                   [T, d]     token embeddings
//   blocks.l.hook_resid_pre      [T, d]     residual entering block l
//   blocks.l.attn.hook_pattern   [H, T, T]  attention probabilities (query, key)
//   blocks.l.hook_attn_out       [T, d]     attention output after o_proj
//   blocks.l.hook_resid_mid      [T, d]     residual after attention
//   blocks.l.mlp.hook_pre        [T, f]     gate projection before the activation
//   blocks.l.mlp.hook_post       [T, f]     down_proj input: act(gate) * up
//   blocks.l.hook_mlp_out        [T, d]     down_proj output
//   blocks.l.hook_resid_post     [T, d]     residual leaving block l
//   ln_final.hook_normalized     [T, d]     final norm output
//
// Hook names are data: parsed once into HookPoint {kind, layer}.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

enum class HookKind { Embed, ResidPre, AttnPattern, AttnOut, ResidMid, MlpPre, MlpPost, MlpOut, ResidPost, LnFinal };
inline constexpr int kHookKindCount = 10;

struct HookPoint {
    HookKind kind = HookKind::Embed;
    int layer = -1;  // -1 for hook_embed and ln_final.hook_normalized

    // Position in execution order: embed, blocks 0..L-1 (in kind order), ln_final.
    int order() const;
    bool operator==(const HookPoint&) const = default;
    bool operator<(const HookPoint& o) const { return order() < o.order() || (order() == o.order() && kind < o.kind); }
};

bool isLayerHook(HookKind k);
std::string hookName(HookPoint p);
// Parses an exact hook name ("blocks.3.hook_mlp_out"); nullopt if it is not one.
std::optional<HookPoint> parseHookName(std::string_view name);
// Every hook point of a model with `layers` blocks, in execution order.
std::vector<HookPoint> allHookPoints(int layers);

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

    bool empty() const { return m_patterns.empty(); }
    bool matches(HookPoint p) const;
    const std::vector<std::string>& patternList() const { return m_patterns; }
    // Resolved list for a model, in execution order.
    std::vector<HookPoint> resolve(int layers) const;
    // Error when a pattern matches no hook of the model (a typo would otherwise record nothing).
    Status validate(int layers) const;

private:
    std::vector<std::string> m_patterns;
};

}  // namespace superlens::core
