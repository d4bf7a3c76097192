// GGUF files as models (issue 19): the real stories260K GGUF gives the logits
// of its safetensors copy (names mapped, llama.cpp's q/k row permutation
// undone), and quantized GGUF files run exactly: the engine's tile-by-tile
// dequantizing GEMMs against a float64 forward over the same dequantized
// weights, for stories260K in Q8_0 and Q4_0 (blocks made by a quantizer
// written here) and for a 256-wide Llama in every block type F32 ... Q8_K
// (blocks and answers made by scripts/fixtures/make_gguf_models.py).

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <numbers>
#include <immintrin.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reference_forward.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "test_gguf_writer.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::testData;

namespace {

namespace fs = std::filesystem;

const std::vector<TokenId> kIds = {1, 403, 407, 261, 378, 300, 33, 91, 460, 280, 2, 1};

double relativeMaxError(const std::vector<float>& got, const std::vector<float>& want) {
    double maxAbs = 0, maxErr = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        maxAbs = std::max(maxAbs, std::abs(static_cast<double>(want[i])));
        maxErr = std::max(maxErr, std::abs(static_cast<double>(got[i]) - want[i]));
    }
    return maxErr / std::max(maxAbs, 1e-30);
}

std::vector<float> runLogits(const std::shared_ptr<const Model>& m, Precision p = Precision::Float32, std::vector<std::string> edits = {}) {
    EngineOptions o;
    o.precision = p;
    Engine engine(m, o);
    ForwardRequest req;
    req.tokens = kIds;
    req.allPositionLogits = true;
    if (!edits.empty()) {
        auto parsed = parseEdits(edits, *m);
        EXPECT_TRUE(parsed.ok()) << parsed.error().message;
        if (parsed.ok()) req.edits = *parsed;
    }
    auto r = engine.run(req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? (*r)->logits.values : std::vector<float>{};
}

TEST(GgufModel, Stories260KGivesTheLogitsOfItsSafetensorsCopy) {
    auto gguf = Model::open(testData() / "stories260K" / "stories260K.gguf");
    ASSERT_TRUE(gguf.ok()) << gguf.error().message;
    auto st = Model::open(testData() / "stories260K");
    ASSERT_TRUE(st.ok()) << st.error().message;
    const ModelConfig& a = (*gguf)->config();
    const ModelConfig& b = (*st)->config();
    EXPECT_EQ(a.modelType, "llama");
    EXPECT_EQ(a.numLayers, b.numLayers);
    EXPECT_EQ(a.hiddenSize, b.hiddenSize);
    EXPECT_EQ(a.intermediateSize, b.intermediateSize);
    EXPECT_EQ(a.numHeads, b.numHeads);
    EXPECT_EQ(a.numKvHeads, b.numKvHeads);
    EXPECT_EQ(a.vocabSize, b.vocabSize);
    EXPECT_TRUE((*gguf)->isGguf());
    // Names: Hugging Face's, with llama.cpp's beside them.
    EXPECT_EQ((*gguf)->ggufName("model.layers.2.mlp.down_proj.weight"), "blk.2.ffn_down.weight");
    EXPECT_EQ((*gguf)->canonicalTensorName("blk.2.ffn_down.weight"), "model.layers.2.mlp.down_proj.weight");
    // The un-permuted q rows equal the safetensors rows.
    const TensorView* qg = (*gguf)->tensor("model.layers.1.self_attn.q_proj.weight");
    const TensorView* qs = (*st)->tensor("model.layers.1.self_attn.q_proj.weight");
    ASSERT_TRUE(qg && qs);
    ASSERT_EQ(qg->shape, qs->shape);
    for (std::int64_t i = 0; i < qs->elementCount(); ++i) ASSERT_EQ(qg->at(i), qs->at(i)) << i;

    const auto logitsGguf = runLogits(*gguf);
    const auto logitsSt = runLogits(*st);
    ASSERT_EQ(logitsGguf.size(), logitsSt.size());
    EXPECT_LT(relativeMaxError(logitsGguf, logitsSt), 1e-5);
}

TEST(GgufModel, EditsAcceptLlamaCppNames) {
    auto gguf = Model::open(testData() / "stories260K" / "stories260K.gguf");
    ASSERT_TRUE(gguf.ok()) << gguf.error().message;
    const auto byGgufName = runLogits(*gguf, Precision::Float32, {"blk.1.ffn_down.weight[3,5]=0"});
    const auto byHfName = runLogits(*gguf, Precision::Float32, {"model.layers.1.mlp.down_proj.weight[3,5]=0"});
    EXPECT_EQ(byGgufName, byHfName);
    auto parsed = parseEdits({"blk.1.ffn_down.weight[3,5]=0"}, **gguf);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ((*parsed)[0].target, "model.layers.1.mlp.down_proj.weight");
}

// An edits file (--edits FILE in the CLI and Python) takes llama.cpp names as
// --edit does: before, its specs skipped the name mapping and a GGUF name was
// refused as an unknown tensor.
TEST(GgufModel, EditsFilesAcceptLlamaCppNames) {
    auto gguf = Model::open(testData() / "stories260K" / "stories260K.gguf");
    ASSERT_TRUE(gguf.ok()) << gguf.error().message;
    const auto file = std::filesystem::temp_directory_path() / ("sl-gguf-edits-" + std::to_string(::getpid()) + ".json");
    {
        std::ofstream out(file);
        out << R"({"edits": [{"spec": "blk.1.ffn_down.weight[3,5]=0"}, {"spec": "blk.0.ffn_down.weight[1,1]=0", "enabled": false}]})";
    }
    auto edits = loadEditsFileFor(file, **gguf);
    ASSERT_TRUE(edits.ok()) << edits.error().message;
    ASSERT_EQ(edits->size(), 1u);
    EXPECT_EQ((*edits)[0].target, "model.layers.1.mlp.down_proj.weight");
    {
        std::ofstream out(file);
        out << R"(["blk.1.ffn_down.weight[3,99999]=0"])";
    }
    auto outOfRange = loadEditsFileFor(file, **gguf);
    ASSERT_FALSE(outOfRange.ok());
    EXPECT_EQ(outOfRange.error().message.rfind(file.string() + ": ", 0), 0u) << outOfRange.error().message;
    std::filesystem::remove(file);
}

// ---- a quantizer written from the block layouts (ggml-common.h) ----

std::uint16_t toF16(float f) {
    // Round to nearest even through the hardware conversion (F16C is in the x86-64-v3 baseline).
    return static_cast<std::uint16_t>(_cvtss_sh(f, 0));
}

// block_q8_0: fp16 d, 32 int8 q; x = d * q.
std::string quantizeQ8_0(const std::vector<float>& x) {
    std::string out;
    for (std::size_t b = 0; b < x.size(); b += 32) {
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
        const float d = amax / 127.0f;
        const std::uint16_t dh = toF16(d);
        out.append(reinterpret_cast<const char*>(&dh), 2);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        for (int i = 0; i < 32; ++i) out.push_back(static_cast<char>(static_cast<std::int8_t>(std::lround(x[b + i] * id))));
    }
    return out;
}

// block_q4_0: fp16 d, 16 bytes of nibbles; element i in the low nibble of byte i,
// element i + 16 in the high nibble; x = d * (q - 8).
std::string quantizeQ4_0(const std::vector<float>& x) {
    std::string out;
    for (std::size_t b = 0; b < x.size(); b += 32) {
        float amax = 0, max = 0;
        for (int i = 0; i < 32; ++i) {
            if (std::fabs(x[b + i]) > amax) {
                amax = std::fabs(x[b + i]);
                max = x[b + i];
            }
        }
        const float d = max / -8.0f;
        const std::uint16_t dh = toF16(d);
        out.append(reinterpret_cast<const char*>(&dh), 2);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        auto code = [&](float v) { return static_cast<std::uint8_t>(std::min(15, static_cast<int>(v * id + 8.5f))); };
        for (int i = 0; i < 16; ++i) out.push_back(static_cast<char>(code(x[b + i]) | (code(x[b + i + 16]) << 4)));
    }
    return out;
}

std::string asF16(const std::vector<float>& x) {
    std::string out;
    for (float v : x) {
        const std::uint16_t h = toF16(v);
        out.append(reinterpret_cast<const char*>(&h), 2);
    }
    return out;
}

std::string asF32(const std::vector<float>& x) { return std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4); }

// Writes stories260K (from its safetensors copy) as a llama GGUF the way
// llama.cpp's converter lays it out: llama.cpp names, q/k rows permuted per
// head, matrices whose rows are whole 32-blocks in `type`, the rest in F16/F32.
fs::path writeLlamaGguf(const fs::path& source, const std::string& type, const fs::path& path,
                        const std::function<void(superlens::test::gguf::Builder&, const ModelConfig&)>& extra = {}) {
    auto st = Model::open(source);
    EXPECT_TRUE(st.ok());
    const Model& m = **st;
    const ModelConfig& c = m.config();
    using namespace superlens::test::gguf;
    Builder b;
    b.kvString("general.architecture", "llama");
    b.kvU32("llama.block_count", static_cast<std::uint32_t>(c.numLayers));
    b.kvU32("llama.embedding_length", static_cast<std::uint32_t>(c.hiddenSize));
    b.kvU32("llama.feed_forward_length", static_cast<std::uint32_t>(c.intermediateSize));
    b.kvU32("llama.attention.head_count", static_cast<std::uint32_t>(c.numHeads));
    b.kvU32("llama.attention.head_count_kv", static_cast<std::uint32_t>(c.numKvHeads));
    b.kvU32("llama.context_length", static_cast<std::uint32_t>(c.maxPositionEmbeddings));
    b.kv("llama.attention.layer_norm_rms_epsilon", kF32, f32(static_cast<float>(c.normEps)));
    b.kv("llama.rope.freq_base", kF32, f32(static_cast<float>(c.ropeTheta)));

    auto values = [&](const std::string& name, std::int64_t heads) {
        const TensorView* t = m.tensor(name);
        const std::int64_t rows = t->rows(), cols = t->shape.size() == 1 ? t->shape[0] : t->cols();
        std::vector<float> out(static_cast<std::size_t>(t->elementCount()));
        for (std::int64_t r = 0; r < (t->shape.size() == 1 ? 1 : rows); ++r) {
            // GGUF row g holds HF row h*hd + s*hd/2 + i where g = h*hd + 2i + s.
            std::int64_t src = r;
            if (heads > 0) {
                const std::int64_t hd = rows / heads, h = r / hd, within = r % hd, i = within / 2, s = within % 2;
                src = h * hd + s * (hd / 2) + i;
            }
            for (std::int64_t k = 0; k < cols; ++k) out[static_cast<std::size_t>(r * cols + k)] = t->at(src * cols + k);
        }
        return out;
    };
    auto add = [&](const std::string& ggufName, const std::string& hfName, std::int64_t heads, bool quantizable) {
        const TensorView* t = m.tensor(hfName);
        const std::vector<float> x = values(hfName, heads);
        Tensor out;
        out.name = ggufName;
        if (t->shape.size() == 1) {
            out.ne = {static_cast<std::uint64_t>(t->shape[0])};
            out.type = 0;  // F32
            out.data = asF32(x);
        } else {
            out.ne = {static_cast<std::uint64_t>(t->shape[1]), static_cast<std::uint64_t>(t->shape[0])};
            if (type == "F32") {
                out.type = 0;
                out.data = asF32(x);
            } else if (quantizable && t->shape[1] % 32 == 0) {
                out.type = type == "Q8_0" ? 8 : 2;
                out.data = type == "Q8_0" ? quantizeQ8_0(x) : quantizeQ4_0(x);
            } else {
                out.type = 1;  // F16
                out.data = asF16(x);
            }
        }
        b.tensor(out);
    };
    add("token_embd.weight", "model.embed_tokens.weight", 0, true);
    add("output_norm.weight", "model.norm.weight", 0, false);
    for (int l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", g = "blk." + std::to_string(l) + ".";
        add(g + "attn_norm.weight", p + "input_layernorm.weight", 0, false);
        add(g + "ffn_norm.weight", p + "post_attention_layernorm.weight", 0, false);
        add(g + "attn_q.weight", p + "self_attn.q_proj.weight", c.numHeads, true);
        add(g + "attn_k.weight", p + "self_attn.k_proj.weight", c.numKvHeads, true);
        add(g + "attn_v.weight", p + "self_attn.v_proj.weight", 0, true);
        add(g + "attn_output.weight", p + "self_attn.o_proj.weight", 0, true);
        add(g + "ffn_gate.weight", p + "mlp.gate_proj.weight", 0, true);
        add(g + "ffn_up.weight", p + "mlp.up_proj.weight", 0, true);
        add(g + "ffn_down.weight", p + "mlp.down_proj.weight", 0, true);  // 172 columns: F16
    }
    if (!c.tieWordEmbeddings) add("output.weight", "lm_head.weight", 0, true);
    if (extra) extra(b, c);
    std::ofstream(path, std::ios::binary) << b.build();
    return path;
}

fs::path writeQuantizedStories(const std::string& type, const fs::path& dir) {
    return writeLlamaGguf(testData() / "stories260K", type, dir / ("stories260K-" + type + ".gguf"));
}

class QuantizedGguf : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantizedGguf, EngineMatchesTheFloat64ForwardOnTheDequantizedWeights) {
    const fs::path dir = fs::temp_directory_path() / ("superlens-gguf-model-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path path = writeQuantizedStories(GetParam(), dir);
    auto model = Model::open(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    EXPECT_GT((*model)->parametersByStorage().count(GetParam()), 0u);
    EXPECT_GT((*model)->parametersByStorage().count("F16"), 0u);

    // Reference: plain float64 loops over TensorView::at (one block dequantized per value).
    const auto ref = superlens::test::referenceForward(**model, std::vector<int>(kIds.begin(), kIds.end()));
    std::vector<float> want;
    for (const auto& row : ref.logits) for (double v : row) want.push_back(static_cast<float>(v));
    for (Precision p : {Precision::Float32, Precision::Float64}) {
        const auto got = runLogits(*model, p);
        EXPECT_LT(relativeMaxError(got, want), 1e-4) << GetParam();
    }
    // And the quantized model stays close to the original (the permutation and names are right).
    auto st = Model::open(testData() / "stories260K");
    ASSERT_TRUE(st.ok());
    EXPECT_LT(relativeMaxError(runLogits(*model), runLogits(*st)), std::string(GetParam()) == "Q8_0" ? 0.05 : 0.5);
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, QuantizedGguf, ::testing::Values("Q8_0", "Q4_0"));

TEST(GgufModel, UnsupportedArchitecturesAndTypesAreRefusedInOneLine) {
    const fs::path dir = fs::temp_directory_path() / ("superlens-gguf-bad-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    using namespace superlens::test::gguf;
    {
        Builder b;
        b.kvString("general.architecture", "rwkv6");
        Tensor t;
        t.name = "token_embd.weight";
        t.ne = {4, 4};
        t.type = 0;
        t.data = std::string(64, '\0');
        b.tensor(t);
        std::ofstream(dir / "rwkv.gguf", std::ios::binary) << b.build();
        auto m = Model::open(dir / "rwkv.gguf");
        ASSERT_FALSE(m.ok());
        EXPECT_NE(m.error().message.find("GGUF architecture 'rwkv6' is not supported"), std::string::npos) << m.error().message;
        EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
    }
    {
        // A llama GGUF without its block count: the missing key is named.
        Builder b;
        b.kvString("general.architecture", "llama");
        Tensor t;
        t.name = "token_embd.weight";
        t.ne = {4, 4};
        t.type = 0;
        t.data = std::string(64, '\0');
        b.tensor(t);
        std::ofstream(dir / "nolayers.gguf", std::ios::binary) << b.build();
        auto m = Model::open(dir / "nolayers.gguf");
        ASSERT_FALSE(m.ok());
        EXPECT_NE(m.error().message.find("missing metadata key 'llama.block_count'"), std::string::npos) << m.error().message;
    }
    fs::remove_all(dir);
}


// ---- every block type: GGUF files written by scripts/fixtures/make_gguf_models.py ----
// (CTest fixture gguf_quant_files, from tests/data/gguf/llama-q256: hidden 256,
// intermediate 512, so every matrix row is whole 256-value super-blocks). The
// script's own quantizers give the dequantized weights from their (d, scale,
// min, q), and refs.json the float64 forward over them.

const nlohmann::json& quantRefs() {
    static const nlohmann::json refs = [] {
        std::ifstream in(fs::path(SUPERLENS_GGUF_QUANT_DIR) / "refs.json");
        return nlohmann::json::parse(in, nullptr, false);
    }();
    return refs;
}

class EveryBlockType : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryBlockType, LogitsWithin1e4OfTheFloat64ForwardOnTheDequantizedWeights) {
    const std::string type = GetParam();
    const nlohmann::json& refs = quantRefs();
    ASSERT_FALSE(refs.is_discarded()) << "run the gguf_quant_files test first (CTest does: fixture gguf_quant)";
    const nlohmann::json& ref = refs["types"][type];
    auto model = Model::open(fs::path(SUPERLENS_GGUF_QUANT_DIR) / ("llama-q256-" + type + ".gguf"));
    ASSERT_TRUE(model.ok()) << model.error().message;
    // Every matrix is stored in the type, the norms in F32.
    const auto storage = (*model)->parametersByStorage();
    ASSERT_GT(storage.count(type), 0u);
    EXPECT_EQ(storage.size(), type == "F32" ? 1u : 2u);
    // The planted super weight reads as the quantizer dequantized it.
    const nlohmann::json& sw = refs["super_weight"];
    const TensorView* down = (*model)->tensor(sw["tensor"].get<std::string>());
    ASSERT_NE(down, nullptr);
    const std::int64_t at = sw["row"].get<std::int64_t>() * down->cols() + sw["col"].get<std::int64_t>();
    EXPECT_EQ(down->at(at), static_cast<float>(ref["super_weight"].get<double>()));

    std::vector<int> ids;
    for (const auto& v : refs["ids"]) ids.push_back(v.get<int>());
    std::vector<float> want;
    for (const auto& row : ref["logits"]) for (const auto& v : row) want.push_back(v.get<float>());
    for (Precision p : {Precision::Float32, Precision::Float64}) {
        EngineOptions o;
        o.precision = p;
        Engine engine(*model, o);
        ForwardRequest req;
        req.tokens.assign(ids.begin(), ids.end());
        req.allPositionLogits = true;
        auto r = engine.run(req);
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_LT(relativeMaxError((*r)->logits.values, want), 1e-4) << type << (p == Precision::Float64 ? " fp64" : " fp32");
    }
}

INSTANTIATE_TEST_SUITE_P(GgufBlockTypes, EveryBlockType,
                         ::testing::Values("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K",
                                           "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"));

// ---- Llama 3.1: rope_freqs.weight ----

// The divisors llama.cpp's converter writes for rope_scaling type llama3
// (convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors): 1 for short
// wavelengths, `factor` for long ones, a smooth blend between.
std::vector<float> llama3RopeFactors(const nlohmann::json& rs, double theta, int headDim) {
    const double factor = rs["factor"], low = rs["low_freq_factor"], high = rs["high_freq_factor"];
    const double old = rs["original_max_position_embeddings"];
    std::vector<float> out;
    for (int i = 0; i < headDim / 2; ++i) {
        const double freq = 1.0 / std::pow(theta, 2.0 * i / headDim);
        const double wavelen = 2 * std::numbers::pi / freq;
        if (wavelen < old / high) {
            out.push_back(1.0f);
        } else if (wavelen > old / low) {
            out.push_back(static_cast<float>(factor));
        } else {
            const double smooth = (old / wavelen - low) / (high - low);
            out.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
        }
    }
    return out;
}

TEST(GgufModel, Llama31RopeFreqsGiveTheLlama3ScaledLogits) {
    // tests/data/reference/llama3-rope-scaled: rope_scaling llama3 (factor 8, original
    // context 8 so that it matters on a 10-token prompt); refs.json has its float64
    // Hugging Face logits. As GGUF: no scaling key, the factors as rope_freqs.weight.
    std::ifstream in(testData() / "reference" / "refs.json");
    const nlohmann::json refs = nlohmann::json::parse(in);
    const nlohmann::json& ref = refs["llama3-rope-scaled"];
    std::ifstream cfgIn(testData() / "reference" / "llama3-rope-scaled" / "config.json");
    const nlohmann::json cfg = nlohmann::json::parse(cfgIn);
    const fs::path dir = fs::temp_directory_path() / ("superlens-gguf-rope-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    using namespace superlens::test::gguf;
    std::vector<float> factors;
    auto addFactors = [&](Builder& b, const ModelConfig& c) {
        factors = llama3RopeFactors(cfg["rope_scaling"], c.ropeTheta, c.hiddenSize / c.numHeads);
        Tensor t;
        t.name = "rope_freqs.weight";
        t.ne = {factors.size()};
        t.type = 0;
        t.data = asF32(factors);
        b.tensor(t);
    };
    const fs::path path = writeLlamaGguf(testData() / "reference" / "llama3-rope-scaled", "F32", dir / "llama31.gguf", addFactors);
    auto model = Model::open(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    EXPECT_EQ((*model)->config().ropeScaling.type, RopeScalingType::None);
    ASSERT_EQ(factors.size(), 8u);
    EXPECT_EQ(factors.back(), 8.0f);
    EXPECT_GT(std::count_if(factors.begin(), factors.end(), [](float f) { return f > 1 && f < 8; }), 0);  // the blend is exercised

    std::vector<float> want;
    for (const auto& row : ref["logits_all"]) for (const auto& v : row) want.push_back(v.get<float>());
    std::vector<TokenId> ids;
    for (const auto& v : ref["ids"]) ids.push_back(v.get<TokenId>());
    for (Precision p : {Precision::Float32, Precision::Float64}) {
        EngineOptions o;
        o.precision = p;
        Engine engine(*model, o);
        ForwardRequest req;
        req.tokens = ids;
        req.allPositionLogits = true;
        auto r = engine.run(req);
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_LT(relativeMaxError((*r)->logits.values, want), 1e-4);
    }
    // Without the factors the same weights give other logits (the test can fail).
    const fs::path plain = writeLlamaGguf(testData() / "reference" / "llama3-rope-scaled", "F32", dir / "plain.gguf");
    auto plainModel = Model::open(plain);
    ASSERT_TRUE(plainModel.ok());
    {
        Engine engine(*plainModel);
        ForwardRequest req;
        req.tokens = ids;
        req.allPositionLogits = true;
        auto r = engine.run(req);
        ASSERT_TRUE(r.ok());
        EXPECT_GT(relativeMaxError((*r)->logits.values, want), 1e-3);
    }
    // Damaged factors: one line naming the tensor.
    for (const std::vector<float>& bad : {std::vector<float>(5, 1.0f), std::vector<float>(8, 0.0f)}) {
        const fs::path p = writeLlamaGguf(testData() / "reference" / "llama3-rope-scaled", "F32", dir / "bad.gguf", [&](Builder& b, const ModelConfig&) {
            Tensor t;
            t.name = "rope_freqs.weight";
            t.ne = {bad.size()};
            t.type = 0;
            t.data = asF32(bad);
            b.tensor(t);
        });
        auto m = Model::open(p);
        ASSERT_FALSE(m.ok());
        EXPECT_NE(m.error().message.find("rope_freqs.weight"), std::string::npos) << m.error().message;
        EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
    }
    fs::remove_all(dir);
}


}  // namespace
