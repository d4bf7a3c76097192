#include "superlens/core/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <list>
#include <random>
#include <set>

#include "forward_pass.h"
#include "superlens/core/engine/laser.h"
#include "superlens/core/engine/rtn_quantization.h"
#include "superlens/core/model/non_finite.h"
#include "superlens/core/system/blas.h"

namespace superlens::core {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Element edits applied to a dense copy, in place.
void applyElementEdit(const EditSpec& e, RowMatrixF& m) {
    const bool vector = e.index.size() == 1;
    const std::int64_t rows = m.rows(), cols = m.cols();
    std::int64_t r0 = 0, r1 = rows, c0 = 0, c1 = cols;
    if (vector) {
        if (e.index[0]) {
            c0 = *e.index[0];
            c1 = c0 + 1;
        }
    } else {
        if (e.index[0]) {
            r0 = *e.index[0];
            r1 = r0 + 1;
        }
        if (e.index[1]) {
            c0 = *e.index[1];
            c1 = c0 + 1;
        }
    }
    for (std::int64_t r = r0; r < r1; ++r) {
        for (std::int64_t c = c0; c < c1; ++c) {
            // Set stores the value as given (no dtype rounding): edits are
            // exact in the fp32 compute, matching a float64 reference.
            if (e.op == EditOp::Set) m(r, c) = static_cast<float>(e.value);
            else m(r, c) = static_cast<float>(static_cast<double>(m(r, c)) * e.value);
        }
    }
}

// Model weights read after the last block (the rest feed the embedding stage).
bool isHeadWeight(ModelWeight w) {
    switch (w) {
        case ModelWeight::FinalNorm: case ModelWeight::FinalNormBias: case ModelWeight::LmHead: case ModelWeight::LmHeadBias:
        case ModelWeight::HeadDense: case ModelWeight::HeadDenseBias:
            return true;
        default:
            return false;
    }
}

// Stage s: 0 = embedding, 1 + l = block l, layers + 1 = final norm + head.
int stageOfHook(HookPoint p, int layers) {
    if (p.kind == HookKind::Embed || p.kind == HookKind::PosEmbed) return 0;
    if (p.kind == HookKind::LnFinal) return layers + 1;
    return 1 + p.layer;
}

template <class S>
struct Checkpoints {
    std::vector<std::shared_ptr<const kernels::Mat<S>>> residPre;  // layers + 1 entries
};

}  // namespace

struct Engine::Impl {
    const Model& model;
    std::map<std::string, WeightPtr> stored;

    struct CacheEntry {
        WeightPtr weight;
        std::list<std::string>::iterator lru;
    };
    std::mutex cacheMutex;
    std::map<std::string, CacheEntry> cache;
    std::list<std::string> lruOrder;  // front = most recent
    std::size_t cachedBytes = 0;
    std::size_t budget;

    ComputeDtype compute;

    Impl(const Model& m, std::size_t budgetBytes, ComputeDtype dtype) : model(m), budget(budgetBytes), compute(dtype) {
        // The tensors the forward pass reads (not buffers or other towers' weights).
        for (const auto& name : m.tensorNames()) {
            if (m.tensorRole(name)) stored[name] = makeStoredWeight(*m.tensor(name));
        }
    }

    Result<WeightPtr> build(const std::string& name, const std::vector<const EditSpec*>& edits) {
        WeightPtr state = stored.at(name);
        std::optional<RowMatrixF> dense;
        auto flush = [&] {
            if (dense) {
                state = std::make_shared<DenseWeight>(std::move(*dense));
                dense.reset();
            }
        };
        for (const EditSpec* e : edits) {
            switch (e->kind) {
                case EditKind::Weight:
                    if (!dense) dense = state->toDense();
                    applyElementEdit(*e, *dense);
                    break;
                case EditKind::Laser:
                    flush();
                    state = rankReduce(*state, e->rho);
                    break;
                case EditKind::Rtn: {
                    flush();
                    if (e->needsSuperWeightScan()) {
                        return Error{"edit '" + e->text() + "': keep_super needs super-weight coordinates (run a scan first)"};
                    }
                    RtnOptions o;
                    o.bits = e->bits;
                    o.block = e->block;
                    o.zclip = e->zclip;
                    o.pclip = e->pclip;
                    const int layer = model.tensorLayer(name);
                    for (const auto& k : e->keepWeights) {
                        if (k.layer == layer && name == model.downProjectionName(layer)) o.keep.emplace_back(k.row, k.col);
                    }
                    state = quantizeRtn(*state, o);
                    break;
                }
                case EditKind::Activation:
                case EditKind::ActQuant:
                case EditKind::ExpertOff:
                    break;
            }
        }
        flush();
        return state;
    }

    Result<WeightPtr> weightFor(const std::string& name, const std::vector<const EditSpec*>& edits) {
        if (edits.empty()) return stored.at(name);
        std::string key = name;
        for (const EditSpec* e : edits) key += "\n" + e->text();
        {
            std::lock_guard lock(cacheMutex);
            auto it = cache.find(key);
            if (it != cache.end()) {
                lruOrder.splice(lruOrder.begin(), lruOrder, it->second.lru);
                return it->second.weight;
            }
        }
        auto built = build(name, edits);
        if (!built) return built.error();
        std::lock_guard lock(cacheMutex);
        lruOrder.push_front(key);
        cache[key] = {*built, lruOrder.begin()};
        cachedBytes += (*built)->ownedBytes();
        // Evict least recently used entries beyond the budget (never the one just built).
        while (cachedBytes > budget && lruOrder.size() > 1) {
            const std::string victim = lruOrder.back();
            lruOrder.pop_back();
            auto v = cache.find(victim);
            cachedBytes -= v->second.weight->ownedBytes();
            cache.erase(v);
        }
        return *built;
    }

    // Edits touching each tensor, in order.
    std::map<std::string, std::vector<const EditSpec*>> editsByTensor(const std::vector<EditSpec>& edits) const {
        std::map<std::string, std::vector<const EditSpec*>> out;
        for (const EditSpec& e : edits) {
            if (!e.touchesWeights()) continue;
            for (const auto& name : editedTensors(e, model)) out[name].push_back(&e);
        }
        return out;
    }

    Result<RunWeights> runWeights(const std::vector<EditSpec>& edits) {
        const auto byTensor = editsByTensor(edits);
        static const std::vector<const EditSpec*> kNone;
        auto get = [&](const std::string& name) -> Result<WeightPtr> {
            if (name.empty()) return WeightPtr{};
            const auto it = byTensor.find(name);
            return weightFor(name, it == byTensor.end() ? kNone : it->second);
        };
        RunWeights w;
        const ModelConfig& c = model.config();
        // Conv1D-stored matrices are edited as stored, then seen as [out, in].
        auto assign = [&](WeightPtr& slot, const std::string& name) -> Status {
            auto r = get(name);
            if (!r) return r.error();
            slot = inComputeDtype(*r, compute);
            const TensorRole* role = model.tensorRole(name);
            if (slot && role && role->storedTransposed) slot = std::make_shared<TransposedWeight>(slot);
            return {};
        };
        for (int i = 0; i < kModelWeightCount; ++i) SL_TRY(assign(w.model[static_cast<std::size_t>(i)], model.modelWeightName(static_cast<ModelWeight>(i))));
        w.layers.resize(static_cast<std::size_t>(c.numLayers));
        for (int l = 0; l < c.numLayers; ++l) {
            auto& L = w.layers[static_cast<std::size_t>(l)];
            for (int i = 0; i < kLayerWeightCount; ++i) SL_TRY(assign(L.w[static_cast<std::size_t>(i)], model.layerWeightName(l, static_cast<LayerWeight>(i))));
            if (!c.isExpertLayer(l)) continue;
            L.expertOff.assign(static_cast<std::size_t>(c.experts.count), 0);
            for (const EditSpec& e : edits) {
                if (e.kind != EditKind::ExpertOff || e.expertLayer != l) continue;
                L.expertOff[static_cast<std::size_t>(e.expert)] = 1;
                L.renormAfterOff = L.renormAfterOff || e.renorm;
            }
            L.experts.resize(static_cast<std::size_t>(c.experts.count));
            for (int e = 0; e < c.experts.count; ++e) {
                for (int i = 0; i < kExpertWeightCount; ++i) {
                    SL_TRY(assign(L.experts[static_cast<std::size_t>(e)][static_cast<std::size_t>(i)], model.expertWeightName(l, e, static_cast<ExpertWeight>(i))));
                }
            }
        }
        return w;
    }

    // A key per stage naming every edit that can change it, so two runs with
    // equal keys up to stage s compute identical values before s.
    std::vector<std::string> stageKeys(const std::vector<EditSpec>& edits) const {
        const ModelConfig& c = model.config();
        const int L = c.numLayers;
        std::vector<std::string> keys(static_cast<std::size_t>(L + 2));
        for (const EditSpec& e : edits) {
            std::set<int> stages;
            if (e.touchesWeights()) {
                for (const auto& name : editedTensors(e, model)) {
                    const int layer = model.tensorLayer(name);
                    if (layer >= 0) stages.insert(1 + layer);
                    else if (name == model.modelWeightName(ModelWeight::Embed)) {
                        stages.insert(0);
                        if (c.tieWordEmbeddings) stages.insert(L + 1);
                    } else if (const TensorRole* role = model.tensorRole(name); role && isHeadWeight(role->modelWeight)) {
                        stages.insert(L + 1);
                    } else {
                        stages.insert(0);  // positions, token types, embedding norm, patch projection, CLS, registers
                    }
                }
            } else if (e.kind == EditKind::ExpertOff) {
                stages.insert(1 + e.expertLayer);
            } else if (e.kind == EditKind::Activation) {
                stages.insert(stageOfHook(*parseHookName(e.target), L));
            } else if (e.kind == EditKind::ActQuant) {
                for (const HookPoint& p : allHookPoints(hookLayoutOf(c))) {
                    if (p.kind != HookKind::AttnPattern && globMatch(e.target, hookName(p))) stages.insert(stageOfHook(p, L));
                }
            }
            for (int s : stages) keys[static_cast<std::size_t>(s)] += e.text() + "\n";
        }
        return keys;
    }

    HookPlan hookPlan(const HookSelection& record, const std::vector<EditSpec>& edits) const {
        const int L = model.config().numLayers;
        HookPlan plan;
        plan.layers = L;
        plan.experts = model.config().experts.count;
        plan.record.assign(HookPlan::slotCount(L, plan.experts), 0);
        plan.edits.assign(HookPlan::slotCount(L, plan.experts), {});
        const HookLayout layout = hookLayoutOf(model.config());
        for (const HookPoint& p : record.resolve(layout)) plan.record[plan.index(p)] = 1;
        for (const EditSpec& e : edits) {
            if (e.kind == EditKind::Activation) {
                plan.edits[plan.index(*parseHookName(e.target))].push_back(&e);
            } else if (e.kind == EditKind::ActQuant) {
                for (const HookPoint& p : allHookPoints(layout)) {
                    if (p.kind != HookKind::AttnPattern && globMatch(e.target, hookName(p))) plan.edits[plan.index(p)].push_back(&e);
                }
            }
        }
        return plan;
    }

    template <class S>
    Result<std::shared_ptr<const ForwardResult>> run(const ForwardRequest& req, Precision precision, const RunControl& control) {
        const auto t0 = Clock::now();
        const ModelConfig& c = model.config();
        const int L = c.numLayers;
        const std::int64_t T = inputPositions(c, req.tokens, req.pixels.get());

        auto weights = runWeights(req.edits);
        if (!weights) return weights.error();
        const HookPlan plan = hookPlan(req.record, req.edits);

        auto result = std::make_shared<ForwardResult>();
        result->tokens = req.tokens;
        result->pixels = req.pixels;
        result->positions = T;
        if (req.pixels) {
            result->registers = c.numRegisters;
            result->patchGridWidth = req.pixels->width / c.patchSize;
        }
        result->edits = req.edits;
        result->precision = precision;
        result->compute = compute;
        result->allPositionLogits = req.allPositionLogits;
        result->stageKeys = stageKeys(req.edits);
        result->recordPatterns = req.record.patternList();

        // Where can we start? Everything before the first stage whose key
        // differs from the previous run's is unchanged.
        int start = 0;
        const ForwardResult* prev = req.previous.get();
        const Checkpoints<S>* prevCk = nullptr;
        const bool samePixels = prev && (prev->pixels == req.pixels || (prev->pixels && req.pixels && *prev->pixels == *req.pixels));
        if (prev && prev->tokens == req.tokens && samePixels && prev->precision == precision && prev->compute == compute && prev->recordPatterns == result->recordPatterns &&
            prev->checkpoints && prev->stageKeys.size() == result->stageKeys.size()) {
            prevCk = static_cast<const Checkpoints<S>*>(prev->checkpoints.get());
            start = L + 2;
            for (int s = 0; s < L + 2; ++s) {
                if (prev->stageKeys[s] != result->stageKeys[s]) {
                    start = s;
                    break;
                }
            }
            if (prev->allPositionLogits != req.allPositionLogits) start = std::min(start, L + 1);
            if (start == L + 2) start = L + 1;  // identical edits: recompute only the cheap head
        }

        auto ck = std::make_shared<Checkpoints<S>>();
        ck->residPre.resize(static_cast<std::size_t>(L + 1));
        ForwardPass<S> pass(model, *weights, plan, defaultThreadPool(), compute);
        pass.streamTo(req.sink);
        kernels::Mat<S> x;
        if (start == 0) {
            if (req.pixels) pass.embedPixels(*req.pixels, x);
            else pass.embed(req.tokens.data(), T, 0, x);
        } else {
            for (int l = 0; l < start && l <= L; ++l) ck->residPre[l] = prevCk->residPre[l];
            x = *prevCk->residPre[std::min(start - 1, L)];
            for (const auto& [p, a] : prev->activations) {
                if (stageOfHook(p, L) >= start) continue;
                if (!req.sink) {
                    result->activations[p] = a;
                } else if (auto st = req.sink->consume(p, *a); !st) {
                    return st.error();
                }
            }
        }
        KvCache<S> kv;
        kv.reset(L, T, static_cast<std::int64_t>(c.numKvHeads) * c.headDim);
        for (int l = std::max(0, start - 1); l < L; ++l) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            ck->residPre[l] = std::make_shared<const kernels::Mat<S>>(x);
            pass.block(l, x, 0, kv);
            if (!pass.sinkStatus()) return pass.sinkStatus().error();
            control.progress(l + 1, L + 1, "forward");
        }
        if (start <= L) ck->residPre[L] = std::make_shared<const kernels::Mat<S>>(x);
        if (control.isCancelled()) return Error{kCancelledMessage};
        pass.head(x, 0, req.allPositionLogits, result->logits);
        if (!pass.sinkStatus()) return pass.sinkStatus().error();
        control.progress(L + 1, L + 1, "forward");
        for (auto& [p, a] : pass.recorded()) result->activations[p] = a;
        result->checkpoints = ck;
        result->recomputedFromStage = start;
        result->seconds = secondsSince(t0);
        return std::shared_ptr<const ForwardResult>(std::move(result));
    }

    template <class S>
    Result<ActivationTensor> unembed(const ActivationTensor& residual, const std::vector<EditSpec>& edits) {
        auto weights = runWeights(edits);
        if (!weights) return weights.error();
        const HookPlan plan = hookPlan(HookSelection::none(), edits);
        ForwardPass<S> pass(model, *weights, plan, defaultThreadPool(), compute);
        const kernels::Mat<S> x = residual.matrix().template cast<S>();
        ActivationTensor logits;
        pass.head(x, 0, true, logits);
        return logits;
    }

    template <class S>
    Result<GenerateResult> generate(const GenerateRequest& req, const RunControl& control) {
        const ModelConfig& c = model.config();
        const int L = c.numLayers;
        auto weights = runWeights(req.edits);
        if (!weights) return weights.error();
        const HookPlan plan = hookPlan(HookSelection::none(), req.edits);
        ForwardPass<S> pass(model, *weights, plan, defaultThreadPool(), compute);
        KvCache<S> kv;
        const std::int64_t capacity = static_cast<std::int64_t>(req.prompt.size()) + req.maxNewTokens;
        kv.reset(L, capacity, static_cast<std::int64_t>(c.numKvHeads) * c.headDim);
        std::mt19937_64 rng(req.seed);
        GenerateResult out;

        auto step = [&](const std::int32_t* ids, std::int64_t n) -> std::vector<float> {
            kernels::Mat<S> x;
            const std::int64_t p0 = kv.length;
            pass.embed(ids, n, p0, x);
            for (int l = 0; l < L; ++l) pass.block(l, x, p0, kv);
            kv.length += n;
            ActivationTensor logits;
            pass.head(x, p0, false, logits);
            return logits.values;
        };
        auto pick = [&](std::vector<float> logits) -> TokenId {
            if (req.greedy || req.temperature <= 0) {
                return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
            }
            std::vector<std::pair<double, TokenId>> cand;
            const double maxv = *std::max_element(logits.begin(), logits.end());
            for (std::size_t i = 0; i < logits.size(); ++i) cand.emplace_back(std::exp((logits[i] - maxv) / req.temperature), static_cast<TokenId>(i));
            std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
            if (req.topK > 0 && static_cast<std::size_t>(req.topK) < cand.size()) cand.resize(static_cast<std::size_t>(req.topK));
            double total = 0;
            for (const auto& p : cand) total += p.first;
            if (req.topP < 1.0) {
                double acc = 0;
                std::size_t keep = 0;
                while (keep < cand.size() && acc < req.topP * total) acc += cand[keep++].first;
                cand.resize(std::max<std::size_t>(1, keep));
                total = acc;
            }
            std::uniform_real_distribution<double> u(0.0, total);
            double r = u(rng), acc = 0;
            for (const auto& p : cand) {
                acc += p.first;
                if (r <= acc) return p.second;
            }
            return cand.back().second;
        };

        const auto t0 = Clock::now();
        std::vector<float> logits = step(req.prompt.data(), static_cast<std::int64_t>(req.prompt.size()));
        SL_TRY(checkFiniteOutput(model, logits.data(), logits.size(), "logits"));
        out.promptSeconds = secondsSince(t0);
        const auto t1 = Clock::now();
        for (int i = 0; i < req.maxNewTokens; ++i) {
            if (control.isCancelled()) return Error{kCancelledMessage};
            const TokenId next = pick(std::move(logits));
            out.tokens.push_back(next);
            control.progress(i + 1, req.maxNewTokens, "generate");
            if (req.stopToken && next == *req.stopToken) break;
            if (i + 1 == req.maxNewTokens) break;
            logits = step(&next, 1);
            SL_TRY(checkFiniteOutput(model, logits.data(), logits.size(), "logits"));
        }
        out.decodeSeconds = secondsSince(t1);
        return out;
    }
};

Engine::Engine(std::shared_ptr<const Model> model, EngineOptions options)
    : m_model(std::move(model)), m_options(options), m_impl(std::make_unique<Impl>(*m_model, options.editCacheBytes, options.compute)) {
    // Load BLAS now, on the thread that builds the engine, before any worker
    // needs it (loading sets OPENBLAS_CORETYPE for a moment; see blas.h).
    (void)blas::info();
}

Engine::~Engine() = default;

namespace {
// A run is limited to the model's context, max_position_embeddings: learned
// position embeddings end there (GPT-2: 1024), and rotary models were trained
// only up to it (beyond, the numbers describe a model nobody trained, and the
// time and memory grow with T^2). A config without the key sets no limit.
Status checkPositions(const Model& model, std::int64_t positions) {
    const ModelConfig& c = model.config();
    // RoBERTa's learned ids start at padding_idx + 1: they need more rows than tokens.
    if (c.maxPositionEmbeddings <= 0 || c.positionsNeeded(positions) <= c.maxPositionEmbeddings) return {};
    if (c.positions == PositionKind::Learned) {
        return Error{std::to_string(positions) + " positions exceed the " + std::to_string(c.maxPositionEmbeddings - c.positionsNeeded(0)) +
                     " learned position embeddings of this " + c.familyName + " model"};
    }
    return Error{std::to_string(positions) + " positions exceed this " + c.familyName + " model's context of " +
                 std::to_string(c.maxPositionEmbeddings) + " (max_position_embeddings in its config); shorten the prompt or use a text file with windows (ppl)"};
}

Status validateRequest(const Model& model, const std::vector<TokenId>& tokens, const std::vector<EditSpec>& edits) {
    if (tokens.empty()) return Error{"no tokens to run (empty prompt)"};
    const std::int64_t vocab = model.config().vocabSize;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= vocab) {
            return Error{"token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) + " is outside the vocabulary (0.." +
                         std::to_string(vocab - 1) + ")"};
        }
    }
    for (const EditSpec& e : edits) {
        SL_TRY(validateEdit(e, model, static_cast<std::int64_t>(tokens.size())));
        if (e.needsSuperWeightScan() || e.needsSuperActivationScan()) {
            return Error{"edit '" + e.text() + "': keep_super without coordinates must be resolved by a scan first"};
        }
    }
    return {};
}
// Vision models: one image whose patch grid the position embeddings cover.
Status validateImageRequest(const Model& model, const ForwardRequest& req) {
    const ModelConfig& c = model.config();
    if (!c.pixelInput) return Error{"this " + c.familyName + " model reads tokens, not an image"};
    if (!req.pixels) return Error{"this " + c.familyName + " model reads an image (--pixels FILE.npy or --image FILE), not tokens"};
    if (!req.tokens.empty()) return Error{"give either an image or tokens, not both"};
    const PixelTensor& px = *req.pixels;
    if (px.channels != c.numChannels) {
        return Error{"the image has " + std::to_string(px.channels) + " channels; this " + c.familyName + " model reads " + std::to_string(c.numChannels)};
    }
    if (px.height < c.patchSize || px.width < c.patchSize) {
        return Error{"the image (" + std::to_string(px.height) + "x" + std::to_string(px.width) + ") is smaller than one " +
                     std::to_string(c.patchSize) + "-pixel patch"};
    }
    if (static_cast<std::size_t>(px.channels) * static_cast<std::size_t>(px.height) * static_cast<std::size_t>(px.width) != px.values.size()) {
        return Error{"the pixel tensor's values do not match its shape"};
    }
    // Other grids than the trained one get interpolated position embeddings;
    // the token count stays bounded (attention patterns are tokens^2).
    const std::int64_t patches = static_cast<std::int64_t>(px.height / c.patchSize) * (px.width / c.patchSize);
    if (patches > kMaxImagePatches) {
        return Error{"a " + std::to_string(px.height) + "x" + std::to_string(px.width) + " image gives " + std::to_string(patches) +
                     " patches; at most " + std::to_string(kMaxImagePatches) + " are accepted (this model was trained on " +
                     std::to_string(c.imageSize) + " pixels): resize the image"};
    }
    const std::int64_t T = c.imageTokenCount(px.height, px.width);
    for (const EditSpec& e : req.edits) {
        SL_TRY(validateEdit(e, model, T));
        if (e.needsSuperWeightScan() || e.needsSuperActivationScan()) {
            return Error{"edit '" + e.text() + "': keep_super without coordinates must be resolved by a scan first"};
        }
    }
    return {};
}
}  // namespace

Result<std::shared_ptr<const ForwardResult>> Engine::run(const ForwardRequest& request, const RunControl& control) {
    if (m_model->config().pixelInput || request.pixels) {
        SL_TRY(validateImageRequest(*m_model, request));
    } else {
        SL_TRY(validateRequest(*m_model, request.tokens, request.edits));
        SL_TRY(checkPositions(*m_model, static_cast<std::int64_t>(request.tokens.size())));
    }
    SL_TRY(request.record.validate(hookLayoutOf(m_model->config())));
    std::lock_guard lock(m_runMutex);
    auto result = m_options.precision == Precision::Float64 ? m_impl->run<double>(request, Precision::Float64, control)
                                                            : m_impl->run<float>(request, Precision::Float32, control);
    if (result) {
        const ActivationTensor& logits = result.value()->logits;
        SL_TRY(checkFiniteOutput(*m_model, logits.values.data(), logits.values.size(), "logits"));
    }
    return result;
}

Result<GenerateResult> Engine::generate(const GenerateRequest& request, const RunControl& control) {
    SL_TRY(validateRequest(*m_model, request.prompt, request.edits));
    if (request.maxNewTokens < 0) return Error{"max new tokens must be >= 0"};
    if (!m_model->config().causal) {
        return Error{"this " + m_model->config().familyName + " model is a bidirectional encoder: it predicts masked tokens, it does not generate text"};
    }
    SL_TRY(checkPositions(*m_model, static_cast<std::int64_t>(request.prompt.size()) + request.maxNewTokens));
    std::lock_guard lock(m_runMutex);
    if (m_options.precision == Precision::Float64) return m_impl->generate<double>(request, control);
    return m_impl->generate<float>(request, control);
}

Result<ActivationTensor> Engine::unembed(const ActivationTensor& residual, const std::vector<EditSpec>& edits,
                                        const RunControl& control) {
    const std::int64_t d = m_model->config().hiddenSize;
    if (residual.shape.size() != 2 || residual.shape[1] != d || residual.shape[0] < 1 ||
        residual.values.size() != static_cast<std::size_t>(residual.shape[0]) * static_cast<std::size_t>(d)) {
        return Error{"unembed needs residual rows [n, " + std::to_string(d) + "]"};
    }
    for (const EditSpec& e : edits) SL_TRY(validateEdit(e, *m_model, residual.shape[0]));
    if (control.isCancelled()) return Error{kCancelledMessage};
    std::lock_guard lock(m_runMutex);
    if (m_options.precision == Precision::Float64) return m_impl->unembed<double>(residual, edits);
    return m_impl->unembed<float>(residual, edits);
}

Result<WeightPtr> Engine::effectiveWeight(const std::string& name, const std::vector<EditSpec>& edits) {
    if (!m_model->tensor(name)) return Error{"unknown tensor '" + name + "'"};
    if (!m_impl->stored.count(name)) return Error{"tensor '" + name + "' is not a weight the forward pass uses"};
    const auto byTensor = m_impl->editsByTensor(edits);
    const auto it = byTensor.find(name);
    if (it == byTensor.end()) return m_impl->stored.at(name);
    return m_impl->weightFor(name, it->second);
}

WeightPtr Engine::storedWeight(const std::string& name) const {
    const auto it = m_impl->stored.find(name);
    return it == m_impl->stored.end() ? nullptr : it->second;
}

std::size_t Engine::editCacheBytes() const {
    std::lock_guard lock(m_impl->cacheMutex);
    return m_impl->cachedBytes;
}

const ActivationTensor* ForwardResult::activation(HookPoint p) const {
    const auto it = activations.find(p);
    return it == activations.end() ? nullptr : it->second.get();
}

const ActivationTensor* ForwardResult::activation(const std::string& name) const {
    const auto p = parseHookName(name);
    return p ? activation(*p) : nullptr;
}

std::vector<float> ForwardResult::lastLogits() const {
    const std::int64_t V = logits.cols();
    const auto begin = logits.values.end() - V;
    return {begin, logits.values.end()};
}

std::int64_t inputPositions(const ModelConfig& config, const std::vector<TokenId>& tokens, const PixelTensor* pixels) {
    return pixels ? config.imageTokenCount(pixels->height, pixels->width) : static_cast<std::int64_t>(tokens.size());
}

}  // namespace superlens::core
