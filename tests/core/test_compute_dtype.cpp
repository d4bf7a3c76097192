// Precision emulation (EngineOptions::compute): the rounding to bf16/fp16
// against hand-worked values, RoundedWeight and inComputeDtype, and the
// engine's runs in an emulated dtype (every hook value representable in the
// dtype, incremental recompute bit-identical to a full run, the fp32 default
// untouched). The logits against torch are tests/app/test_precision_cli.py.

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "superlens/core/model/dtype.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

float bf16(float v) { return roundedToDtype(ComputeDtype::BFloat16, v); }
float f16(float v) { return roundedToDtype(ComputeDtype::Float16, v); }

TEST(ComputeDtype, Bf16RoundsToNearestTiesToEven) {
    // bf16 keeps 8 significant bits: the spacing at 1 is 2^-7.
    EXPECT_EQ(bf16(1.0f), 1.0f);
    EXPECT_EQ(bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);                                 // a tie, to the even 1.0
    EXPECT_EQ(bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));      // a tie, to the even 1 + 2^-6
    EXPECT_EQ(bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));  // above the tie
    EXPECT_EQ(bf16(-3.14159265f), -3.140625f);
    EXPECT_EQ(bf16(7775.3f), 7776.0f);  // spacing 32 in [4096, 8192)
    EXPECT_TRUE(std::isinf(bf16(std::numeric_limits<float>::max())));  // rounds past bf16's largest value
    EXPECT_TRUE(std::isnan(bf16(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_EQ(bf16(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isfinite(bf16(1e-40f)));  // fp32 subnormals stay finite
    EXPECT_EQ(roundedToDtype(ComputeDtype::Float32, 1.2345678f), 1.2345678f);
}

TEST(ComputeDtype, Fp16RoundsLikeACast) {
    // fp16: 11 significant bits, largest finite 65504, subnormals down to 2^-24.
    EXPECT_EQ(f16(1.0f + std::ldexp(1.0f, -11)), 1.0f);                              // a tie, to even
    EXPECT_EQ(f16(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
    EXPECT_EQ(f16(65519.0f), 65504.0f);
    EXPECT_TRUE(std::isinf(f16(65520.0f)));  // the tie above 65504 overflows
    EXPECT_EQ(f16(std::ldexp(1.0f, -24)), std::ldexp(1.0f, -24));
    EXPECT_EQ(f16(std::ldexp(1.0f, -26)), 0.0f);
    EXPECT_EQ(f16(3 * std::ldexp(1.0f, -25)), std::ldexp(1.0f, -23));  // 1.5 x 2^-24: tie to the even 2 x 2^-24
    EXPECT_EQ(f16(-0.1f), -0.0999755859375f);
}

// The software rounding (dtype.cpp's checkpoint converters), which builds
// without _Float16 use for fp16 (clang 14: the fuzz build), must give what
// the hardware cast gives: on every fp16 value, on every tie between two
// neighbours (and the floats either side of it), beyond the largest finite
// value and among the subnormals.
TEST(ComputeDtype, Fp16SoftwareRoundingMatchesTheCast) {
    const auto software = [](float v) { return f16ToFloat(floatToF16(v)); };
    const auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : std::memcmp(&a, &b, sizeof a) == 0; };
    int checked = 0;
    for (std::uint32_t h = 0; h < 0xFFFF; ++h) {
        const auto bits = static_cast<std::uint16_t>(h);
        if ((bits & 0x7FFF) >= 0x7C00) continue;  // inf, NaN: no neighbour above
        const float lo = f16ToFloat(bits);
        const float hi = f16ToFloat(static_cast<std::uint16_t>(bits + 1));
        const float mid = lo + (hi - lo) / 2;  // exact in float: fp16 has 13 fewer mantissa bits
        for (const float v : {lo, mid, std::nextafter(mid, lo), std::nextafter(mid, hi), std::nextafter(lo, hi)}) {
            ASSERT_TRUE(same(f16(v), software(v))) << "value " << v << " near fp16 bits " << h;
            ++checked;
        }
    }
    EXPECT_GT(checked, 5 * 60000);
    for (const float v : {65519.0f, 65520.0f, 1e10f, -65520.0f, std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(), 1e-40f, -1e-45f, 0.0f, -0.0f})
        EXPECT_TRUE(same(f16(v), software(v))) << v;
    EXPECT_TRUE(std::isnan(software(std::numeric_limits<float>::quiet_NaN())));
}

TEST(ComputeDtype, NamesParseAndBadOnesNameTheChoices) {
    EXPECT_EQ(*parseComputeDtype("bf16"), ComputeDtype::BFloat16);
    EXPECT_EQ(*parseComputeDtype("bfloat16"), ComputeDtype::BFloat16);
    EXPECT_EQ(*parseComputeDtype("fp16"), ComputeDtype::Float16);
    EXPECT_EQ(*parseComputeDtype("float32"), ComputeDtype::Float32);
    auto bad = parseComputeDtype("int8");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("fp32, bf16 or fp16"), std::string::npos);
    EXPECT_STREQ(computeDtypeName(ComputeDtype::Float16), "fp16");
}

TEST(ComputeDtype, RoundedWeightDecodesRoundedValues) {
    RowMatrixF m(2, 3);
    m << 1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20), -3.14159265f, 0.1f, 65519.0f, 7775.3f, 2.0f;
    auto dense = std::make_shared<DenseWeight>(m);
    const WeightPtr r = inComputeDtype(dense, ComputeDtype::BFloat16);
    ASSERT_NE(r.get(), dense.get());
    std::vector<float> out(6);
    r->decodeRows(0, 2, out.data());
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], bf16(m.data()[i])) << i;
    std::vector<double> outD(6);
    r->decodeRows(0, 2, outD.data());
    for (int i = 0; i < 6; ++i) EXPECT_EQ(outD[static_cast<std::size_t>(i)], static_cast<double>(bf16(m.data()[i]))) << i;
    std::vector<float> seg(2);
    r->decodeRowSegment(1, 1, 3, seg.data());
    EXPECT_EQ(seg[0], 7776.0f);
    EXPECT_EQ(seg[1], 2.0f);
    EXPECT_EQ(inComputeDtype(dense, ComputeDtype::Float32).get(), dense.get());
}

bool representable(const std::vector<float>& v, ComputeDtype d) {
    for (float x : v) {
        if (roundedToDtype(d, x) != x) return false;
    }
    return true;
}

std::shared_ptr<const ForwardResult> runAll(Engine& e, const std::vector<TokenId>& ids, std::vector<EditSpec> edits,
                                            std::shared_ptr<const ForwardResult> previous = nullptr) {
    ForwardRequest req;
    req.tokens = ids;
    req.edits = std::move(edits);
    req.allPositionLogits = true;
    req.record = HookSelection::all();
    req.previous = std::move(previous);
    auto r = e.run(req);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return *r;
}

TEST(ComputeDtype, EveryHookOfAnEmulatedRunIsInTheDtypeAndIncrementalRunsMatch) {
    // llama-planted is stored in f32, mistral in bf16, qwen2 (biases) in f16.
    for (const char* name : {"llama-planted", "mistral-bf16-sharded", "qwen2-f16-tied"}) {
        auto model = Model::open(referenceModel(name));
        ASSERT_TRUE(model.ok()) << model.error().message;
        const auto ids = referenceAnswers()[name]["ids"].get<std::vector<TokenId>>();
        const std::string planted = referenceAnswers()[name]["edited"]["edit"].get<std::string>();
        for (ComputeDtype d : {ComputeDtype::BFloat16, ComputeDtype::Float16}) {
            EngineOptions o;
            o.compute = d;
            Engine engine(*model, o);
            const auto original = runAll(engine, ids, {});
            EXPECT_EQ(original->compute, d);
            EXPECT_TRUE(representable(original->logits.values, d)) << name;
            for (const auto& [p, a] : original->activations) {
                // The attention pattern is the softmax output, rounded too; every hook is an op output.
                EXPECT_TRUE(representable(a->values, d)) << name << " " << hookName(p) << " " << computeDtypeName(d);
            }
            auto edits = parseEdits({planted}, **model);
            ASSERT_TRUE(edits.ok());
            const auto incremental = runAll(engine, ids, *edits, original);
            EXPECT_GT(incremental->recomputedFromStage, 0) << name;
            Engine fresh(*model, o);
            const auto full = runAll(fresh, ids, *edits);
            EXPECT_EQ(0, std::memcmp(full->logits.values.data(), incremental->logits.values.data(), full->logits.values.size() * 4)) << name;
            // An exact run never reuses an emulated one's blocks.
            Engine exact(*model);
            const auto mixed = runAll(exact, ids, {}, original);
            EXPECT_EQ(mixed->recomputedFromStage, 0) << name;
            EXPECT_FALSE(representable(mixed->logits.values, ComputeDtype::BFloat16) && d == ComputeDtype::BFloat16) << name;
        }
    }
}

}  // namespace
