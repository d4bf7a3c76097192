#include "superlens/core/view/build_view_snapshot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>

#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/softmax.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/analysis/token_loss.h"
#include "superlens/core/model/image_tokens.h"
#include "superlens/core/tokenizer/mask_token.h"

namespace superlens::core::view {
namespace {

using core::ActivationTensor;
using core::HookKind;
using core::HookPoint;

std::vector<std::vector<float>> tokenPeaks(const core::ForwardResult& r, int layers, std::int64_t T) {
    std::vector<std::vector<float>> peaks(static_cast<std::size_t>(layers), std::vector<float>(static_cast<std::size_t>(T), 0.0f));
    for (int l = 0; l < layers; ++l) {
        const ActivationTensor* a = r.activation(HookPoint{HookKind::ResidPost, l});
        if (!a) continue;
        for (std::int64_t t = 0; t < std::min<std::int64_t>(T, a->rows()); ++t) {
            float m = 0.0f;
            for (std::int64_t c = 0; c < a->cols(); ++c) m = std::max(m, std::fabs(a->at(t, c)));
            peaks[static_cast<std::size_t>(l)][static_cast<std::size_t>(t)] = m;
        }
    }
    return peaks;
}

std::vector<std::vector<float>> headMeans(const core::ForwardResult& r, int layers, std::int64_t T) {
    std::vector<std::vector<float>> means(static_cast<std::size_t>(layers));
    for (int l = 0; l < layers; ++l) {
        const ActivationTensor* a = r.activation(HookPoint{HookKind::AttnPattern, l});
        if (!a || a->shape.size() != 3) continue;
        const std::int64_t H = a->shape[0];
        std::vector<double> acc(static_cast<std::size_t>(T * T), 0.0);
        for (std::int64_t h = 0; h < H; ++h) {
            for (std::int64_t i = 0; i < T * T; ++i) acc[static_cast<std::size_t>(i)] += a->values[static_cast<std::size_t>(h * T * T + i)];
        }
        auto& out = means[static_cast<std::size_t>(l)];
        out.resize(acc.size());
        for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<float>(acc[i] / static_cast<double>(H));
    }
    return means;
}

struct Channel {
    std::int64_t channel;
    std::int64_t token;
    std::string origin;
};

std::vector<Channel> channelsToTrack(const SnapshotInputs& in, const core::MassiveActivationReport& massive) {
    std::vector<Channel> out;
    std::set<std::int64_t> seen;
    for (const auto& sw : in.superWeights) {
        if (!seen.insert(sw.outputChannel()).second) continue;
        out.push_back({sw.outputChannel(), sw.token,
                       "super weight L" + std::to_string(sw.layer) + " [" + std::to_string(sw.row) + "," + std::to_string(sw.col) + "]"});
    }
    for (const auto& p : massive.persistent) {
        if (!seen.insert(p.channel).second) continue;
        out.push_back({p.channel, p.token,
                       "massive activation, layers " + std::to_string(p.firstLayer) + "-" + std::to_string(p.lastLayer)});
    }
    if (out.empty()) {
        // No detection: follow the largest residual entry of the middle layer, so the view is never empty.
        const auto& top = massive.topPerLayer;
        if (!top.empty()) {
            const auto& mid = top[top.size() / 2];
            if (!mid.empty()) out.push_back({mid.front().channel, mid.front().token, "largest residual entry (no detection)"});
        }
    }
    return out;
}

}  // namespace

core::HookSelection viewHooks() {
    // blocks.0.hook_resid_pre: the logit lens's embedding row.
    // Lenient: routed-experts layers have no mlp.hook_post; they record the
    // router's probabilities (the Experts view's routing) instead.
    return core::HookSelection::patterns({"blocks.0.hook_resid_pre", "blocks.*.attn.hook_pattern", "blocks.*.mlp.hook_post",
                                          "blocks.*.hook_mlp_out", "blocks.*.hook_resid_post", "blocks.*.mlp.hook_expert_weights"})
        .lenient();
}

core::ForwardRequest viewForwardRequest(const std::vector<core::TokenId>& tokens, std::vector<core::EditSpec> edits,
                                        std::shared_ptr<const core::ForwardResult> previous) {
    core::ForwardRequest req;
    req.tokens = tokens;
    req.edits = std::move(edits);
    req.record = viewHooks();
    req.allPositionLogits = true;
    req.previous = std::move(previous);
    return req;
}

core::ForwardRequest viewForwardRequest(std::shared_ptr<const core::PixelTensor> pixels, std::vector<core::EditSpec> edits,
                                        std::shared_ptr<const core::ForwardResult> previous) {
    core::ForwardRequest req = viewForwardRequest(std::vector<core::TokenId>{}, std::move(edits), std::move(previous));
    req.pixels = std::move(pixels);
    return req;
}

std::string imageTokenLabel(std::int64_t position, int registers, std::int64_t gridWidth) {
    const core::ImageToken tok = core::imageTokenAt(position, registers, gridWidth);
    switch (tok.kind) {
        case core::ImageTokenKind::Cls: return "CLS";
        case core::ImageTokenKind::Register: return "reg" + std::to_string(tok.index);
        case core::ImageTokenKind::Patch: break;
    }
    return "p(" + std::to_string(tok.row) + "," + std::to_string(tok.col) + ")";
}

const char* patchQuantityName(PatchQuantity q) {
    switch (q) {
        case PatchQuantity::MassivePeak: return "massive";
        case PatchQuantity::AttentionToCls: return "attn-cls";
        case PatchQuantity::AttentionToRegisters: return "attn-registers";
        case PatchQuantity::HookChannel: return "hook";
    }
    return "massive";
}

std::optional<PatchQuantity> patchQuantityFromName(const std::string& name) {
    for (PatchQuantity q : {PatchQuantity::MassivePeak, PatchQuantity::AttentionToCls, PatchQuantity::AttentionToRegisters, PatchQuantity::HookChannel}) {
        if (name == patchQuantityName(q)) return q;
    }
    return std::nullopt;
}

core::Result<std::vector<double>> patchGridValues(const core::ForwardResult& run, int registers, const PatchGridRequest& r) {
    const std::int64_t T = run.positions > 0 ? run.positions : static_cast<std::int64_t>(run.tokens.size());
    std::vector<double> out(static_cast<std::size_t>(T), 0.0);
    if (r.quantity == PatchQuantity::AttentionToCls || r.quantity == PatchQuantity::AttentionToRegisters) {
        const std::string name = "blocks." + std::to_string(r.layer) + ".attn.hook_pattern";
        const core::ActivationTensor* a = run.activation(name);
        if (!a || a->shape.size() != 3 || a->shape[1] != T || a->shape[2] != T) return core::Error{name + " was not recorded in this run"};
        const std::int64_t H = a->shape[0];
        if (r.head >= H) return core::Error{"head " + std::to_string(r.head) + " out of range: the model has " + std::to_string(H) + " heads"};
        if (r.quantity == PatchQuantity::AttentionToRegisters && registers <= 0) return core::Error{"this model has no register tokens"};
        const std::int64_t k0 = r.quantity == PatchQuantity::AttentionToCls ? 0 : 1;
        const std::int64_t k1 = r.quantity == PatchQuantity::AttentionToCls ? 1 : 1 + registers;
        const std::int64_t h0 = r.head < 0 ? 0 : r.head, h1 = r.head < 0 ? H : r.head + 1;
        for (std::int64_t t = 0; t < T; ++t) {
            double sum = 0.0;
            for (std::int64_t h = h0; h < h1; ++h) {
                for (std::int64_t k = k0; k < k1; ++k) sum += a->values[static_cast<std::size_t>((h * T + t) * T + k)];
            }
            out[static_cast<std::size_t>(t)] = sum / static_cast<double>(h1 - h0);
        }
        return out;
    }
    const std::string name = r.quantity == PatchQuantity::HookChannel ? r.hook : "blocks." + std::to_string(r.layer) + ".hook_resid_post";
    const core::ActivationTensor* a = run.activation(name);
    if (!a || a->shape.size() != 2 || a->rows() != T) return core::Error{name + " was not recorded in this run"};
    if (r.quantity == PatchQuantity::HookChannel && r.channel < 0) return core::Error{name + ": give a channel"};
    if (r.channel >= a->cols()) return core::Error{name + ": channel " + std::to_string(r.channel) + " out of range 0.." + std::to_string(a->cols() - 1)};
    for (std::int64_t t = 0; t < T; ++t) {
        if (r.quantity == PatchQuantity::HookChannel) {
            out[static_cast<std::size_t>(t)] = a->at(t, r.channel);
        } else if (r.channel >= 0) {
            out[static_cast<std::size_t>(t)] = std::fabs(static_cast<double>(a->at(t, r.channel)));
        } else {
            double m = 0.0;
            for (std::int64_t c = 0; c < a->cols(); ++c) m = std::max(m, std::fabs(static_cast<double>(a->at(t, c))));
            out[static_cast<std::size_t>(t)] = m;
        }
    }
    return out;
}

core::Result<HeldOutRuns> heldOutLossOf(core::Engine& engine, const core::Tokenizer& tokenizer, const std::string& textPath,
                                         const std::vector<core::EditSpec>& baselineEdits, const std::vector<core::EditSpec>& edits,
                                         int maxTokens, std::shared_ptr<const core::ForwardResult> unedited, const core::RunControl& control) {
    // Core's rule for text files: a regular file of bounded size (a FIFO cannot hang the view).
    auto text = core::readRegularFile(textPath, core::kMaxTextBytes);
    if (!text) return text.error();
    std::vector<core::TokenId> ids = tokenizer.encode(*text, true);
    // No longer than the model's context (small test models have a few dozen positions).
    std::int64_t limit = maxTokens > 0 ? maxTokens : static_cast<std::int64_t>(ids.size());
    if (const std::int64_t context = engine.model().config().maxPositionEmbeddings; context > 0) limit = std::min(limit, context);
    if (static_cast<std::int64_t>(ids.size()) > limit) ids.resize(static_cast<std::size_t>(limit));
    if (ids.size() < 2) return core::Error{textPath + ": the held-out text has fewer than two tokens"};
    auto run = [&](const std::vector<core::EditSpec>& e, std::shared_ptr<const core::ForwardResult> previous)
        -> core::Result<std::shared_ptr<const core::ForwardResult>> {
        core::ForwardRequest req;
        req.tokens = ids;
        req.edits = e;
        req.allPositionLogits = true;
        req.previous = std::move(previous);
        auto r = engine.run(req, control);
        if (!r) return r.error();
        return std::shared_ptr<const core::ForwardResult>(*r);
    };
    HeldOutRuns out;
    if (unedited && unedited->tokens == ids && unedited->edits.empty()) {
        out.unedited = unedited;
    } else {
        auto u = run({}, nullptr);
        if (!u) return u.error();
        out.unedited = *u;
    }
    auto sideOf = [&](const std::vector<core::EditSpec>& e) -> core::Result<std::shared_ptr<const core::ForwardResult>> {
        if (e.empty()) return out.unedited;
        return run(e, out.unedited);
    };
    auto a = sideOf(baselineEdits);
    if (!a) return a.error();
    auto b = sideOf(edits);
    if (!b) return b.error();
    auto lossA = core::tokenLosses(**a);
    if (!lossA) return lossA.error();
    auto lossB = core::tokenLosses(**b);
    if (!lossB) return lossB.error();
    auto loss = std::make_shared<HeldOutLoss>();
    loss->textPath = textPath;
    loss->textName = std::filesystem::path(textPath).filename().string();
    loss->tokens = ids;
    for (core::TokenId id : ids) loss->tokenLabels.push_back(tokenLabel(&tokenizer, id));
    loss->original = std::move(lossA).value();
    loss->edited = std::move(lossB).value();
    out.loss = loss;
    return out;
}

std::string tokenLabel(const core::Tokenizer* tokenizer, core::TokenId id) {
    if (!tokenizer) return "#" + std::to_string(id);
    if (tokenizer->isSpecial(id)) return tokenizer->tokenString(id);
    std::string text = tokenizer->tokenText(id);
    std::string shown;
    for (char c : text) {
        if (c == '\n') shown += "\\n";
        else if (c == '\t') shown += "\\t";
        else shown += c;
    }
    return "'" + shown + "'";
}

core::Result<SnapshotPtr> buildViewSnapshot(const SnapshotInputs& in, const core::RunControl& control) {
    if (!in.original) return core::Error{"no forward result to show"};
    auto snap = std::make_shared<ViewSnapshot>();
    const core::ForwardResult& orig = *in.original;
    const core::ForwardResult& edit = in.edited ? *in.edited : orig;
    snap->modelName = in.modelName;
    const core::ModelConfig* config = in.model ? &in.model->config() : in.config;
    if (config) {
        const auto& c = *config;
        snap->layers = c.numLayers;
        snap->hidden = c.hiddenSize;
        snap->intermediate = c.intermediateSize;
        snap->heads = c.numHeads;
        for (int l = 0; l < c.numLayers; ++l) {
            // Without the checkpoint (a cache opened alone), Llama's name.
            snap->downProjTensor.push_back(in.model ? in.model->downProjectionName(l)
                                                    : "model.layers." + std::to_string(l) + ".mlp.down_proj.weight");
        }
        snap->downOutputAxis = in.model ? in.model->downOutputAxis() : (c.conv1dWeights ? 1 : 0);
    }
    auto label = [&](core::TokenId id) {
        if (in.tokenizer || in.vocabTexts.empty()) return tokenLabel(in.tokenizer, id);
        if (id < 0 || static_cast<std::size_t>(id) >= in.vocabTexts.size()) return "#" + std::to_string(id);
        return "'" + in.vocabTexts[static_cast<std::size_t>(id)] + "'";
    };
    snap->tokens = orig.tokens;
    if (config) snap->causal = config->causal;
    // A vision model's run has positions (CLS, registers, patches) but no token ids.
    const bool vision = orig.tokens.empty() && orig.pixels && orig.positions > 0;
    const std::int64_t T = vision ? orig.positions : static_cast<std::int64_t>(orig.tokens.size());
    if (vision) {
        const core::PixelTensor& px = *orig.pixels;
        auto image = std::make_shared<ImageLayout>();
        image->registers = orig.registers;
        image->patchSize = config ? config->patchSize : 0;
        image->gridCols = static_cast<int>(orig.patchGridWidth);
        image->gridRows = orig.patchGridWidth > 0 ? static_cast<int>((T - 1 - orig.registers) / orig.patchGridWidth) : 0;
        image->width = px.width;
        image->height = px.height;
        image->source = in.imageSource;
        // Display bytes: each channel scaled from its own range (normalised pixel_values are not 0..1).
        const int C = px.channels;
        image->rgb.assign(static_cast<std::size_t>(px.width) * static_cast<std::size_t>(px.height) * 3, 0);
        for (int c = 0; c < 3; ++c) {
            const int src = C >= 3 ? c : 0;
            float lo = px.at(src, 0, 0), hi = lo;
            for (int y = 0; y < px.height; ++y) {
                for (int x = 0; x < px.width; ++x) {
                    lo = std::min(lo, px.at(src, y, x));
                    hi = std::max(hi, px.at(src, y, x));
                }
            }
            const double span = hi > lo ? static_cast<double>(hi) - lo : 1.0;
            for (int y = 0; y < px.height; ++y) {
                for (int x = 0; x < px.width; ++x) {
                    const double v = (static_cast<double>(px.at(src, y, x)) - lo) / span * 255.0;
                    image->rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(px.width) + static_cast<std::size_t>(x)) * 3 + static_cast<std::size_t>(c)] =
                        static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
                }
            }
        }
        snap->image = image;
        for (std::int64_t t = 0; t < T; ++t) {
            snap->tokenLabels.push_back(imageTokenLabel(t, orig.registers, orig.patchGridWidth));
            snap->delimiterToken.push_back(t <= orig.registers);  // CLS and registers: the sink candidates
        }
        snap->nextTokenUnavailable = "A vision encoder has no vocabulary head: no token probabilities or per-token loss (the Patch grid view shows the image's tokens).";
    } else if (!snap->causal) {
        snap->nextTokenUnavailable = "A bidirectional encoder predicts masked tokens, not the next one: the per-token loss does not apply (the Logits view shows the MLM prediction).";
    }
    for (std::int64_t t = 0; t < (vision ? 0 : T); ++t) {
        const core::TokenId id = orig.tokens[static_cast<std::size_t>(t)];
        snap->tokenLabels.push_back(label(id));
        // The scan's rule (core::isDelimiterToken), plus the first token.
        bool delimiter = t == 0;
        if (in.tokenizer) delimiter = delimiter || core::isDelimiterToken(*in.tokenizer, id);
        else if (id >= 0 && static_cast<std::size_t>(id) < in.vocabTexts.size()) delimiter = delimiter || core::isDelimiterText(in.vocabTexts[static_cast<std::size_t>(id)]);
        snap->delimiterToken.push_back(delimiter);
    }
    snap->original = in.original;
    snap->edited = in.edited ? in.edited : in.original;
    for (const auto& e : edit.edits) snap->editTexts.push_back(e.text());
    snap->comparison = in.comparison;
    snap->heldOutLoss = in.heldOutLoss;
    if (!in.comparison.empty()) {
        for (const auto& e : orig.edits) snap->baselineEditTexts.push_back(e.text());
    }
    snap->superWeights = in.superWeights;
    snap->scanned = in.scanned;
    snap->modelComparison = in.modelComparison;
    snap->modelBName = in.modelBName;
    snap->secondSideIsModelB = in.edited && in.editedEngine;
    if (in.imatrix) {
        snap->imatrix = in.imatrix;
        snap->imatrixName = in.imatrixName;
        snap->downImportance.assign(snap->downProjTensor.size(), nullptr);
        for (std::size_t l = 0; l < snap->downProjTensor.size() && in.model; ++l) {
            if (snap->downProjTensor[l].empty()) continue;
            const std::string name = core::imatrixTensorName(*in.model, in.modelB, snap->downProjTensor[l]);
            if (name.empty()) {
                snap->imatrixProblem = "the importance matrix names llama.cpp's tensors: open a GGUF file as the model or as model B";
                break;
            }
            const core::ImatrixEntry* e = in.imatrix->find(name);
            if (!e) continue;
            if (e->matrices != 1 || e->columns != snap->intermediate) {
                snap->imatrixProblem = "importance matrix entry '" + name + "' has " + std::to_string(e->columns) + " columns; " +
                                       snap->downProjTensor[l] + " reads " + std::to_string(snap->intermediate);
                continue;
            }
            snap->downImportance[l] = e;
        }
    }
    snap->perplexity = in.perplexity;

    // The original side of an earlier snapshot of this same run, when given (a toggle re-analyses only the edited run).
    const ViewSnapshot* reuse =
        in.reuseOriginalFrom && in.reuseOriginalFrom->original == in.original && !in.reuseOriginalFrom->originalStats.empty()
            ? in.reuseOriginalFrom.get()
            : nullptr;
    if (reuse) {
        snap->originalStats = reuse->originalStats;
    } else {
        auto stats = core::layerSpikeStats(orig);
        if (!stats) return stats.error();
        snap->originalStats = std::move(stats).value();
    }
    if (in.edited) {
        auto editedStats = core::layerSpikeStats(edit);
        if (!editedStats) return editedStats.error();
        snap->editedStats = std::move(editedStats).value();
    } else {
        snap->editedStats = snap->originalStats;
    }
    if (snap->layers == 0) snap->layers = static_cast<int>(snap->originalStats.size());
    if (control.isCancelled()) return core::Error{core::kCancelledMessage};

    if (reuse) {
        snap->originalMassive = reuse->originalMassive;
    } else {
        auto massive = core::findMassiveActivations(orig, in.tokenizer);
        if (!massive) return massive.error();
        snap->originalMassive = std::move(massive).value();
    }
    if (in.edited) {
        auto editedMassive = core::findMassiveActivations(edit, in.tokenizer);
        if (!editedMassive) return editedMassive.error();
        snap->editedMassive = std::move(editedMassive).value();
    } else {
        snap->editedMassive = snap->originalMassive;
    }
    snap->originalTokenPeak = reuse ? reuse->originalTokenPeak : tokenPeaks(orig, snap->layers, T);
    snap->editedTokenPeak = in.edited ? tokenPeaks(edit, snap->layers, T) : snap->originalTokenPeak;
    snap->originalHeadMean = reuse ? reuse->originalHeadMean : headMeans(orig, snap->layers, T);
    snap->editedHeadMean = in.edited ? headMeans(edit, snap->layers, T) : snap->originalHeadMean;
    if (control.isCancelled()) return core::Error{core::kCancelledMessage};

    for (const Channel& ch : channelsToTrack(in, snap->originalMassive)) {
        TrackedChannel tc;
        tc.channel = ch.channel;
        tc.token = ch.token;
        tc.origin = ch.origin;
        for (std::int64_t t = 0; t < T; ++t) {
            auto o = core::channelAcrossLayers(orig, t, ch.channel);
            if (!o) return o.error();
            tc.original.push_back(std::move(o).value());
            if (in.edited) {
                auto e = core::channelAcrossLayers(edit, t, ch.channel);
                if (!e) return e.error();
                tc.edited.push_back(std::move(e).value());
            } else {
                tc.edited.push_back(tc.original.back());
            }
        }
        snap->tracked.push_back(std::move(tc));
    }

    // Attention sinks: the same carriers (first token, the original run's massive-activation tokens) for both runs.
    if (orig.activation(HookPoint{HookKind::AttnPattern, 0}) && edit.activation(HookPoint{HookKind::AttnPattern, 0})) {
        const auto carriers = core::massiveCarrierTokens(snap->originalMassive);
        if (reuse && reuse->originalSinks.layers > 0) {
            snap->originalSinks = reuse->originalSinks;
        } else {
            auto sinks = core::attentionSinks(orig, carriers);
            if (!sinks) return sinks.error();
            snap->originalSinks = std::move(sinks).value();
        }
        if (in.edited) {
            auto editedSinks = core::attentionSinks(edit, carriers);
            if (!editedSinks) return editedSinks.error();
            snap->editedSinks = std::move(editedSinks).value();
        } else {
            snap->editedSinks = snap->originalSinks;
        }
    }
    // Per-token loss, when every position's logits were kept (next-token loss: causal models only).
    if (snap->causal && orig.logits.rows() == T && edit.logits.rows() == T && T > 0) {
        if (reuse && reuse->originalLoss.size() == static_cast<std::size_t>(T)) {
            snap->originalLoss = reuse->originalLoss;
        } else {
            auto loss = core::tokenLosses(orig);
            if (!loss) return loss.error();
            snap->originalLoss = std::move(loss).value();
        }
        if (in.edited) {
            auto editedLoss = core::tokenLosses(edit);
            if (!editedLoss) return editedLoss.error();
            snap->editedLoss = std::move(editedLoss).value();
        } else {
            snap->editedLoss = snap->originalLoss;
        }
    }

    // Logit lens of every position, the edited one reusing the original's unchanged layers.
    // (Runs read back from an older run cache may lack the embedding row: no lens then.)
    const auto hasLensHooks = [&](const core::ForwardResult& r) {
        return r.activation(HookPoint{HookKind::ResidPre, 0}) && r.activation(HookPoint{HookKind::ResidPost, snap->layers - 1});
    };
    const core::ModelConfig* lensConfig = in.model ? &in.model->config() : nullptr;
    const double lensFlops = lensConfig ? 2.0 * (snap->layers + 1) * static_cast<double>(T) * lensConfig->hiddenSize * static_cast<double>(lensConfig->vocabSize) : 0.0;
    if (vision || (lensConfig && lensConfig->vocabSize == 0)) {
        snap->lensUnavailable = "A vision encoder has no vocabulary to read the residual stream through: the logit lens does not apply.";
    } else if (!in.engine) {
        snap->lensUnavailable = "The logit lens needs the model itself (these activations came from a cache file).";
    } else if (snap->layers == 0 || !hasLensHooks(orig) || !hasLensHooks(edit)) {
        snap->lensUnavailable = "This run did not record the residual stream the logit lens reads (blocks.0.hook_resid_pre, blocks.*.hook_resid_post).";
    } else if (lensFlops > in.lensBudgetFlops) {
        snap->lensUnavailable = "The logit lens of this model and prompt takes " + std::to_string(static_cast<long long>(lensFlops / 1e9)) +
                                " GFLOP per toggle, more than the view recomputes interactively: use superlens-cli lens or Model.lens, or a shorter prompt.";
    } else {
        const core::LogitLensOptions lo{.position = -1, .topK = in.lensTopK, .allPositions = true};
        if (in.originalLens && in.originalLens->top1Prob.size() == static_cast<std::size_t>(snap->layers + 1) &&
            !in.originalLens->perPosition.empty() && in.originalLens->perPosition.size() == static_cast<std::size_t>(T) &&
            in.originalLens->topK == in.lensTopK) {
            snap->originalLens = in.originalLens;
        } else {
            auto lens = core::logitLens(*in.engine, orig, lo, control);
            if (!lens) return lens.error();
            snap->originalLens = std::make_shared<const core::LogitLensResult>(std::move(lens).value());
        }
        if (in.edited && in.editedEngine) {
            // Another model's run (model B): its own head, nothing shared with A's lens.
            auto lens = core::logitLens(*in.editedEngine, edit, lo, control);
            if (!lens) return lens.error();
            snap->editedLens = std::make_shared<const core::LogitLensResult>(std::move(lens).value());
        } else if (in.edited) {
            auto lens = core::logitLens(*in.engine, edit, lo, control, snap->originalLens.get(), &orig);
            if (!lens) return lens.error();
            snap->editedLens = std::make_shared<const core::LogitLensResult>(std::move(lens).value());
        } else {
            snap->editedLens = snap->originalLens;
        }
        for (const auto* lens : {snap->originalLens.get(), snap->editedLens.get()}) {
            for (const auto& row : lens->top1Id) {
                for (core::TokenId id : row) snap->vocabLabels.emplace(id, std::string());
            }
            for (const auto& rows : lens->perPosition) {
                for (const auto& r : rows) {
                    for (const auto& t : r.top) snap->vocabLabels.emplace(t.id, std::string());
                }
            }
            for (core::TokenId id : lens->finalTokens) snap->vocabLabels.emplace(id, std::string());
        }
        for (auto& [id, text] : snap->vocabLabels) text = label(id);
    }

    // Mixture of experts: the super-expert profile of the original run's tokens.
    if (in.model && in.model->config().hasExperts()) {
        if (in.expertProfile) {
            snap->expertProfile = in.expertProfile;
        } else if (in.engine && !orig.tokens.empty()) {
            auto profile = core::profileExperts(*in.engine, {orig.tokens}, {}, control);
            if (!profile) return profile.error();
            snap->expertProfile = std::make_shared<const core::SuperExpertProfile>(std::move(profile).value());
        }
    }

    // Next-token distribution: last position, original vs edited.
    const std::int64_t V = orig.logits.cols();
    const std::int64_t rows = orig.logits.rows();
    if (V > 0 && rows > 0) {
        std::vector<double> pOrig, pEdit;
        // Encoders: the MLM prediction at the first <mask> (else the last position).
        std::int64_t at = rows - 1;
        if (!snap->causal && in.tokenizer && rows == T && edit.logits.rows() == rows) {
            const auto masks = core::maskPositions(*in.tokenizer, orig.tokens);
            if (!masks.empty()) at = masks.front();
        }
        snap->logitsPosition = at;
        core::softmax(orig.logits.values.data() + at * V, V, pOrig);
        core::softmax(edit.logits.values.data() + (edit.logits.rows() == rows ? at : edit.logits.rows() - 1) * V, V, pEdit);
        auto topIds = [&](const std::vector<double>& p) {
            std::vector<core::TokenId> ids(static_cast<std::size_t>(V));
            for (std::int64_t i = 0; i < V; ++i) ids[static_cast<std::size_t>(i)] = static_cast<core::TokenId>(i);
            const auto k = std::min<std::int64_t>(in.topK, V);
            std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](core::TokenId a, core::TokenId b) {
                return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)];
            });
            ids.resize(static_cast<std::size_t>(k));
            return ids;
        };
        std::vector<core::TokenId> ids = topIds(pOrig);
        for (core::TokenId id : topIds(pEdit)) {
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
        }
        std::stable_sort(ids.begin(), ids.end(), [&](core::TokenId a, core::TokenId b) {
            return pOrig[static_cast<std::size_t>(a)] > pOrig[static_cast<std::size_t>(b)];
        });
        for (core::TokenId id : ids) {
            snap->topNext.push_back({id, label(id), pOrig[static_cast<std::size_t>(id)], pEdit[static_cast<std::size_t>(id)]});
        }

        // Mean probability over all positions (as core's stopwordShift does): movers and stopword mass.
        if (edit.logits.rows() == rows) {
            // Each side's mean is its own sum over rows, so the original's can come from an earlier snapshot.
            const auto meanProb = [&](const core::ForwardResult& run) {
                std::vector<double> mean(static_cast<std::size_t>(V), 0.0), p;
                for (std::int64_t r = 0; r < rows; ++r) {
                    core::softmax(run.logits.values.data() + r * V, V, p);
                    for (std::int64_t i = 0; i < V; ++i) mean[static_cast<std::size_t>(i)] += p[static_cast<std::size_t>(i)] / static_cast<double>(rows);
                }
                return mean;
            };
            snap->originalMeanProb = reuse && reuse->originalMeanProb.size() == static_cast<std::size_t>(V) ? reuse->originalMeanProb : meanProb(orig);
            const std::vector<double>& meanOrig = snap->originalMeanProb;
            const std::vector<double> meanEdit = in.edited ? meanProb(edit) : meanOrig;
            if (!in.stopwordIds.empty()) {
                snap->stopwordsAvailable = true;
                for (core::TokenId id : in.stopwordIds) {
                    if (id < 0 || id >= V) continue;
                    snap->stopwordMassOriginal += meanOrig[static_cast<std::size_t>(id)];
                    snap->stopwordMassEdited += meanEdit[static_cast<std::size_t>(id)];
                }
            }
            if (in.edited) {
                std::vector<core::TokenId> ids2(static_cast<std::size_t>(V));
                for (std::int64_t i = 0; i < V; ++i) ids2[static_cast<std::size_t>(i)] = static_cast<core::TokenId>(i);
                const auto k = std::min<std::int64_t>(in.moverCount, V);
                std::partial_sort(ids2.begin(), ids2.begin() + k, ids2.end(), [&](core::TokenId a, core::TokenId b) {
                    return std::fabs(meanEdit[static_cast<std::size_t>(a)] - meanOrig[static_cast<std::size_t>(a)]) >
                           std::fabs(meanEdit[static_cast<std::size_t>(b)] - meanOrig[static_cast<std::size_t>(b)]);
                });
                for (std::int64_t i = 0; i < k; ++i) {
                    const core::TokenId id = ids2[static_cast<std::size_t>(i)];
                    snap->movers.push_back({id, label(id), meanOrig[static_cast<std::size_t>(id)],
                                            meanEdit[static_cast<std::size_t>(id)]});
                }
            }
        }
    }
    return SnapshotPtr(std::move(snap));
}

int defaultSelectedLayer(const ViewSnapshot& snapshot) {
    if (!snapshot.superWeights.empty()) return snapshot.superWeights.front().layer;
    int layer = 0;
    double best = -1;
    for (std::size_t l = 0; l < snapshot.originalStats.size(); ++l) {
        if (snapshot.originalStats[l].downOutRatio() > best) {
            best = snapshot.originalStats[l].downOutRatio();
            layer = static_cast<int>(l);
        }
    }
    return layer;
}

}  // namespace superlens::core::view
