#pragma once
// One transformer forward pass over a chunk of positions, templated on the
// compute scalar. Internal to core: Engine drives it for full runs,
// incremental recompute and KV-cached generation.

#include <array>
#include <map>
#include <vector>

#include "kernels.h"
#include "superlens/core/engine/activation.h"
#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/engine/hooks.h"
#include "superlens/core/model/model.h"
#include "superlens/core/model/npy.h"

namespace superlens::core {

class HookSink;  // engine.h

// The matrices a run multiplies by, after edits, by role (null where the
// family has no such tensor). Matrices are [out, in] whatever the storage.
struct RunWeights {
    struct Layer {
        std::array<WeightPtr, kLayerWeightCount> w;
        const WeightPtr& operator[](LayerWeight r) const { return w[static_cast<std::size_t>(r)]; }
        // Routed-experts layers: per expert gate, up, down (empty otherwise).
        std::vector<std::array<WeightPtr, kExpertWeightCount>> experts;
        // Experts removed by expert:L:E=off edits (1 = off), and whether the
        // remaining selected weights are renormalised (:renorm).
        std::vector<char> expertOff;
        bool renormAfterOff = false;
    };
    std::array<WeightPtr, kModelWeightCount> model;
    const WeightPtr& operator[](ModelWeight r) const { return model[static_cast<std::size_t>(r)]; }
    std::vector<Layer> layers;
};

// Which hooks record and which edits apply where, indexed by hookIndex().
struct HookPlan {
    int layers = 0;
    int experts = 0;  // routed experts per layer (per-expert hook slots)
    std::vector<char> record;
    std::vector<std::vector<const EditSpec*>> edits;

    // Slots: embed, pos_embed, kLayerHookKindCount per layer, ln_final, then
    // kExpertHookKindCount per layer and expert.
    static std::size_t slotCount(int layers, int experts) {
        return 3 + static_cast<std::size_t>(layers) * kLayerHookKindCount + static_cast<std::size_t>(layers) * experts * kExpertHookKindCount;
    }
    int index(HookPoint p) const {
        if (p.kind == HookKind::Embed) return 0;
        if (p.kind == HookKind::PosEmbed) return 1;
        if (p.kind == HookKind::LnFinal) return 2 + layers * kLayerHookKindCount;
        if (isExpertHook(p.kind)) {
            const int k = static_cast<int>(p.kind) - static_cast<int>(HookKind::ExpertPre);
            return 3 + layers * kLayerHookKindCount + (p.layer * experts + p.expert) * kExpertHookKindCount + k;
        }
        return 2 + p.layer * kLayerHookKindCount + (static_cast<int>(p.kind) - static_cast<int>(HookKind::ResidPre));
    }
    bool active(HookPoint p) const {
        const int i = index(p);
        return record[i] || !edits[i].empty();
    }
};

template <class S>
struct KvCache {
    std::vector<kernels::Mat<S>> keys, values;  // per layer [capacity, kvHeads * headDim]
    std::int64_t length = 0;                    // positions filled (same for all layers after a step)
    void reset(int layers, std::int64_t capacity, std::int64_t width);
};

template <class S>
class ForwardPass {
public:
    using Mat = kernels::Mat<S>;
    using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

    ForwardPass(const Model& model, const RunWeights& weights, const HookPlan& plan, ThreadPool& pool,
                ComputeDtype compute = ComputeDtype::Float32);

    // x <- embeddings of ids at positions p0 ...
    void embed(const std::int32_t* ids, std::int64_t n, std::int64_t p0, Mat& x);
    // Vision models: x <- [CLS, registers..., patches row-major] embeddings of an image
    // (patch projection as a matmul over [C * p * p] patch vectors, plus position embeddings).
    void embedPixels(const PixelTensor& pixels, Mat& x);
    // x [n, d] is the residual at positions p0 .. p0+n-1; keys/values of
    // earlier positions come from kv (whose length must equal p0), and this
    // chunk's are appended.
    void block(int layer, Mat& x, std::int64_t p0, KvCache<S>& kv);
    // Final norm and lm_head; all rows or only the last.
    void head(const Mat& x, std::int64_t p0, bool allPositions, ActivationTensor& logits);

    std::map<HookPoint, ActivationPtr>& recorded() { return m_recorded; }
    // Recorded hooks go to `sink` instead of recorded(); the first error it
    // returns is kept (later hooks are dropped) and the run should stop.
    void streamTo(HookSink* sink) { m_sink = sink; }
    const Result<void>& sinkStatus() const { return m_sinkStatus; }

private:
    void hook(HookPoint p, Mat& values, std::int64_t p0);
    // Precision emulation: rounds an op's output to the emulated dtype (nothing for Float32).
    void rnd(Mat& x) const { roundToDtype(m_compute, x.data(), x.size()); }
    // Gemma 2's soft-capping cap * tanh(x / cap): three ops, each rounded when emulating.
    void softcap(Mat& x, S cap) const;
    S rnd(S v) const { return m_compute == ComputeDtype::Float32 ? v : static_cast<S>(roundedToDtype(m_compute, static_cast<float>(v))); }
    bool emulating() const { return m_compute != ComputeDtype::Float32; }
    // A Linear layer: y = x W^T + b, rounded once (PyTorch's addmm accumulates in fp32).
    void project(const WeightPtr& w, const WeightPtr& bias, const Mat& x, Mat& y) const;
    // A recorded hook: kept, or handed to the sink.
    void record(HookPoint p, std::shared_ptr<ActivationTensor> values);
    // The family's norm of x (rows), with its weight and bias (either may be null).
    void norm(const WeightPtr& weight, const WeightPtr& bias, const Mat& x, Mat& out) const;
    // The same norm applied to each head's slice of x (QK-norm).
    void headNorm(const WeightPtr& weight, const WeightPtr& bias, int heads, Mat& x) const;
    void applyRope(int layer, Mat& x, int heads, std::int64_t p0) const;
    void attention(int layer, const Mat& q, const KvCache<S>& kv, std::int64_t p0, Mat& out);
    // Attention sublayer: projections, rotary, attention, output projection.
    void attentionBlock(int layer, const Mat& h, std::int64_t p0, KvCache<S>& kv, Mat& out);
    // MLP sublayer, recording mlp.hook_pre and mlp.hook_post.
    void mlpBlock(int layer, const Mat& h, std::int64_t p0, Mat& out);
    // Routed-experts MLP (moe.cpp): router, top-k, the selected experts only, shared expert.
    void expertsBlock(int layer, const Mat& h, std::int64_t p0, Mat& out);
    // Rows `rows` of a [rows.size(), cols] matrix as the hook's [n, cols] tensor
    // (zero elsewhere): recorded and edited, then gathered back.
    void scatteredHook(HookPoint p, const std::vector<std::int64_t>& rows, std::int64_t n, Mat& values, std::int64_t p0);
    void activate(Mat& x, Activation kind) const;
    static void addBias(Mat& x, const WeightPtr& bias);
    void scaleChannels(Mat& x, const WeightPtr& scale) const;  // DINOv2 layer scale: column c x scale[c]

    const Model& m_model;
    const ModelConfig& m_config;
    const RunWeights& m_weights;
    const HookPlan& m_plan;
    ThreadPool& m_pool;
    ComputeDtype m_compute;
    std::vector<double> m_invFreq;       // per rotary pair, after rope scaling
    std::vector<double> m_localInvFreq;  // sliding layers of Gemma 3 (rope_local_base_freq, unscaled)
    std::map<HookPoint, ActivationPtr> m_recorded;
    HookSink* m_sink = nullptr;
    Result<void> m_sinkStatus;
};

// Rotary inverse frequencies as Hugging Face computes them, incl. linear and
// llama3 scaling; `local`: the sliding layers' base without scaling (Gemma 3).
std::vector<double> ropeInverseFrequencies(const ModelConfig& config, bool local = false);

}  // namespace superlens::core
