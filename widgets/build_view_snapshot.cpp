#include "build_view_snapshot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "superlens/core/analysis/layer_stats.h"
#include "superlens/core/analysis/massive_activations.h"
#include "superlens/core/analysis/token_loss.h"

namespace superlens::widgets {
namespace {

using core::ActivationTensor;
using core::HookKind;
using core::HookPoint;

// Softmax of one logits row in double: probabilities summing to 1 even for
// 32k-entry vocabularies with large logits.
void softmaxRow(const float* logits, std::int64_t vocab, std::vector<double>& out) {
    out.resize(static_cast<std::size_t>(vocab));
    const double maxv = *std::max_element(logits, logits + vocab);
    double sum = 0.0;
    for (std::int64_t i = 0; i < vocab; ++i) {
        out[static_cast<std::size_t>(i)] = std::exp(static_cast<double>(logits[i]) - maxv);
        sum += out[static_cast<std::size_t>(i)];
    }
    for (double& p : out) p /= sum;
}

bool isDelimiterText(const std::string& text) {
    if (text.empty()) return true;
    bool anyAlnum = false;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c >= 0x80) anyAlnum = true;
    }
    return !anyAlnum;
}

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

core::Result<HeldOutRuns> heldOutLossOf(core::Engine& engine, const core::Tokenizer& tokenizer, const std::string& textPath,
                                         const std::vector<core::EditSpec>& baselineEdits, const std::vector<core::EditSpec>& edits,
                                         int maxTokens, std::shared_ptr<const core::ForwardResult> unedited, const core::RunControl& control) {
    std::ifstream in(textPath, std::ios::binary);
    if (!in) return core::Error{textPath + ": cannot open the held-out text"};
    std::stringstream text;
    text << in.rdbuf();
    std::vector<core::TokenId> ids = tokenizer.encode(text.str(), true);
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
    const std::int64_t T = static_cast<std::int64_t>(orig.tokens.size());
    for (std::int64_t t = 0; t < T; ++t) {
        const core::TokenId id = orig.tokens[static_cast<std::size_t>(t)];
        snap->tokenLabels.push_back(label(id));
        bool delimiter = t == 0;
        if (in.tokenizer) delimiter = delimiter || in.tokenizer->isSpecial(id) || isDelimiterText(in.tokenizer->tokenText(id));
        else if (id >= 0 && static_cast<std::size_t>(id) < in.vocabTexts.size()) delimiter = delimiter || isDelimiterText(in.vocabTexts[static_cast<std::size_t>(id)]);
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

    auto stats = core::layerSpikeStats(orig);
    if (!stats) return stats.error();
    snap->originalStats = std::move(stats).value();
    if (in.edited) {
        auto editedStats = core::layerSpikeStats(edit);
        if (!editedStats) return editedStats.error();
        snap->editedStats = std::move(editedStats).value();
    } else {
        snap->editedStats = snap->originalStats;
    }
    if (snap->layers == 0) snap->layers = static_cast<int>(snap->originalStats.size());
    if (control.isCancelled()) return core::Error{core::kCancelledMessage};

    auto massive = core::findMassiveActivations(orig, in.tokenizer);
    if (!massive) return massive.error();
    snap->originalMassive = std::move(massive).value();
    if (in.edited) {
        auto editedMassive = core::findMassiveActivations(edit, in.tokenizer);
        if (!editedMassive) return editedMassive.error();
        snap->editedMassive = std::move(editedMassive).value();
    } else {
        snap->editedMassive = snap->originalMassive;
    }
    snap->originalTokenPeak = tokenPeaks(orig, snap->layers, T);
    snap->editedTokenPeak = in.edited ? tokenPeaks(edit, snap->layers, T) : snap->originalTokenPeak;
    snap->originalHeadMean = headMeans(orig, snap->layers, T);
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
        auto sinks = core::attentionSinks(orig, carriers);
        if (!sinks) return sinks.error();
        snap->originalSinks = std::move(sinks).value();
        if (in.edited) {
            auto editedSinks = core::attentionSinks(edit, carriers);
            if (!editedSinks) return editedSinks.error();
            snap->editedSinks = std::move(editedSinks).value();
        } else {
            snap->editedSinks = snap->originalSinks;
        }
    }
    // Per-token loss, when every position's logits were kept.
    if (orig.logits.rows() == T && edit.logits.rows() == T && T > 0) {
        auto loss = core::tokenLosses(orig);
        if (!loss) return loss.error();
        snap->originalLoss = std::move(loss).value();
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
    if (!in.engine) {
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
        softmaxRow(orig.logits.values.data() + (rows - 1) * V, V, pOrig);
        softmaxRow(edit.logits.values.data() + (edit.logits.rows() - 1) * V, V, pEdit);
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
            std::vector<double> meanOrig(static_cast<std::size_t>(V), 0.0), meanEdit(static_cast<std::size_t>(V), 0.0);
            for (std::int64_t r = 0; r < rows; ++r) {
                softmaxRow(orig.logits.values.data() + r * V, V, pOrig);
                softmaxRow(edit.logits.values.data() + r * V, V, pEdit);
                for (std::int64_t i = 0; i < V; ++i) {
                    meanOrig[static_cast<std::size_t>(i)] += pOrig[static_cast<std::size_t>(i)] / static_cast<double>(rows);
                    meanEdit[static_cast<std::size_t>(i)] += pEdit[static_cast<std::size_t>(i)] / static_cast<double>(rows);
                }
            }
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

}  // namespace superlens::widgets
