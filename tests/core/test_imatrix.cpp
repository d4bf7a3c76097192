// llama.cpp importance matrix files (core/model/imatrix.h): the legacy
// imatrix.dat layout and the GGUF one, written here byte by byte from
// llama.cpp's tools/imatrix writers (save_imatrix_legacy: value = mean square
// x ncall; save_imatrix: in_sum2 and counts tensors); every truncation and
// hostile size refused in one line.

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "superlens/core/model/imatrix.h"
#include "test_gguf_writer.h"

using namespace superlens::core;
namespace g = superlens::test::gguf;

namespace {

std::string legacyEntry(const std::string& name, std::int32_t ncall, const std::vector<float>& values) {
    std::string out = g::le<std::int32_t>(static_cast<std::int32_t>(name.size())) + name + g::le(ncall) +
                      g::le<std::int32_t>(static_cast<std::int32_t>(values.size()));
    for (float v : values) out += g::le(v);
    return out;
}

Result<Imatrix> parse(const std::string& bytes, const std::string& name = "m.dat") {
    return Imatrix::fromBytes(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), name);
}

void expectOneLine(const Result<Imatrix>& r, const std::string& fragment, const std::string& file = "m.dat") {
    ASSERT_FALSE(r.ok());
    const std::string& m = r.error().message;
    EXPECT_EQ(m.rfind(file + ": ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
}

TEST(Imatrix, LegacyValuesAreMeanSquaresTimesCalls) {
    // ncall 10: the stored value is the mean square times 10.
    const std::string bytes = g::le<std::int32_t>(2) + legacyEntry("blk.0.ffn_down.weight", 10, {20.0f, 5.0f, 0.0f, 1.0f}) +
                              legacyEntry("output.weight", 0, {3.0f, 4.0f}) + g::le<std::int32_t>(10) + g::le<std::int32_t>(14) + "wiki.train.raw";
    auto m = parse(bytes);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->format(), "legacy");
    ASSERT_EQ(m->entries().size(), 2u);
    const ImatrixEntry* e = m->find("blk.0.ffn_down.weight");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->columns, 4);
    EXPECT_EQ(e->matrices, 1);
    EXPECT_DOUBLE_EQ(e->at(0), 2.0);
    EXPECT_DOUBLE_EQ(e->at(1), 0.5);
    EXPECT_DOUBLE_EQ(e->at(3), static_cast<double>(1.0f) / 10);
    EXPECT_EQ(e->rank(0), 1);
    EXPECT_EQ(e->rank(2), 4);
    // median of {2, 0.5, 0, 0.1} (upper middle) is 0.5
    EXPECT_DOUBLE_EQ(e->ratioToMedian(0), 4.0);
    // ncall 0 (no chunk finished): the values as stored.
    EXPECT_DOUBLE_EQ(m->find("output.weight")->at(1), 4.0);
    EXPECT_EQ(m->chunkCount(), 10);
    ASSERT_EQ(m->datasets().size(), 1u);
    EXPECT_EQ(m->datasets()[0], "wiki.train.raw");
    EXPECT_EQ(m->find("missing"), nullptr);
}

TEST(Imatrix, LegacyTruncatedAnywhereIsOneLineOrAValidPrefix) {
    const std::string entries = g::le<std::int32_t>(2) + legacyEntry("blk.0.ffn_down.weight", 3, {1, 2, 3}) + legacyEntry("blk.0.attn_q.weight", 3, {4, 5});
    const std::string full = entries + g::le<std::int32_t>(3) + g::le<std::int32_t>(4) + "data";
    ASSERT_TRUE(parse(full).ok());
    for (std::size_t n = 0; n < full.size(); ++n) {
        auto m = parse(full.substr(0, n));
        // Valid prefixes: all entries without a trailer, or with the chunk count only.
        const bool valid = n == entries.size() || n == entries.size() + 4;
        EXPECT_EQ(m.ok(), valid) << n;
        if (!m.ok()) {
            EXPECT_EQ(m.error().message.rfind("m.dat: ", 0), 0u) << m.error().message;
            EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
        }
    }
    expectOneLine(parse(full + "x"), "stray bytes");
}

TEST(Imatrix, LegacyHostileSizesAreRefusedBeforeAllocating) {
    expectOneLine(parse(g::le<std::int32_t>(0)), "entry count 0");
    expectOneLine(parse(g::le<std::int32_t>(0x7FFFFFFF) + std::string(64, '\0')), "entry count 2147483647");
    expectOneLine(parse(g::le<std::int32_t>(-1) + std::string(64, '\0')), "entry count -1");
    expectOneLine(parse(g::le<std::int32_t>(1) + g::le<std::int32_t>(-5) + std::string(64, '\0')), "name length -5");
    expectOneLine(parse(g::le<std::int32_t>(1) + g::le<std::int32_t>(1000000) + std::string(64, '\0')), "name length 1000000");
    expectOneLine(parse(g::le<std::int32_t>(1) + g::le<std::int32_t>(40) + std::string(20, 'a')), "runs past the end");
    expectOneLine(parse(g::le<std::int32_t>(1) + g::le<std::int32_t>(1) + "a" + g::le<std::int32_t>(1) + g::le<std::int32_t>(0x40000000) + std::string(16, '\0')),
                  "1073741824 values run past the end");
    expectOneLine(parse(g::le<std::int32_t>(1) + legacyEntry("a", -2, {1.0f, 1.0f, 1.0f})), "negative call count -2");
    expectOneLine(parse(g::le<std::int32_t>(1) + legacyEntry("a", 1, {1.0f, NAN, 1.0f})), "holds nan");
    expectOneLine(parse(g::le<std::int32_t>(1) + legacyEntry("a", 1, {1.0f, -1.0f, 1.0f})), "holds -1");
    expectOneLine(parse(g::le<std::int32_t>(2) + legacyEntry("a\n", 1, {1.0f}) + legacyEntry("a\n", 1, {1.0f})), "duplicate entry 'a\\x0a'");
}

std::string f32s(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

g::Tensor f32Tensor(const std::string& name, std::vector<std::uint64_t> ne, const std::vector<float>& v) {
    g::Tensor t;
    t.name = name;
    t.ne = std::move(ne);
    t.type = 0;
    t.data = f32s(v);
    return t;
}

TEST(Imatrix, GgufSumsOverCountsPerMatrix) {
    g::Builder b;
    b.kvString("general.type", "imatrix");
    b.kv("imatrix.datasets", g::kArray, g::array(g::kString, {g::str("a.txt"), g::str("b.txt")}));
    b.kvU32("imatrix.chunk_count", 7);
    b.kvU32("imatrix.chunk_size", 512);
    b.tensor(f32Tensor("blk.1.ffn_down.weight.in_sum2", {3, 1}, {300, 30, 3}));
    b.tensor(f32Tensor("blk.1.ffn_down.weight.counts", {1, 1}, {3}));
    b.tensor(f32Tensor("blk.1.ffn_down.weight.in_sum", {3, 1}, {1, 1, 1}));  // not needed: ignored
    // Two experts; the second saw nothing.
    b.tensor(f32Tensor("blk.1.ffn_down_exps.weight.in_sum2", {2, 2}, {8, 4, 0, 0}));
    b.tensor(f32Tensor("blk.1.ffn_down_exps.weight.counts", {1, 2}, {4, 0}));
    auto m = parse(b.build(), "m.gguf");
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->format(), "gguf");
    EXPECT_EQ(m->entries().size(), 2u);
    const ImatrixEntry* d = m->find("blk.1.ffn_down.weight");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->columns, 3);
    EXPECT_DOUBLE_EQ(d->at(0), 100.0);
    EXPECT_DOUBLE_EQ(d->at(2), 1.0);
    EXPECT_DOUBLE_EQ(d->ratioToMedian(0), 10.0);
    const ImatrixEntry* x = m->find("blk.1.ffn_down_exps.weight");
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(x->matrices, 2);
    EXPECT_DOUBLE_EQ(x->at(1, 0), 1.0);
    EXPECT_TRUE(std::isnan(x->at(0, 1)));
    EXPECT_EQ(m->chunkCount(), 7);
    EXPECT_EQ(m->chunkSize(), 512);
    EXPECT_EQ(m->datasets(), (std::vector<std::string>{"a.txt", "b.txt"}));
}

TEST(Imatrix, GgufDamageIsOneLine) {
    auto build = [](const std::function<void(g::Builder&)>& f) {
        g::Builder b;
        b.kvString("general.type", "imatrix");
        f(b);
        return b.build();
    };
    expectOneLine(parse(build([](g::Builder& b) { b.tensor(f32Tensor("w.in_sum2", {2, 1}, {1, 2})); }), "m.gguf"), "has no 'w.counts'", "m.gguf");
    expectOneLine(parse(build([](g::Builder& b) {
                      b.tensor(f32Tensor("w.in_sum2", {2, 2}, {1, 2, 3, 4}));
                      b.tensor(f32Tensor("w.counts", {1, 1}, {1}));
                  }),
                        "m.gguf"),
                  "1 values for 2 matrices", "m.gguf");
    expectOneLine(parse(build([](g::Builder& b) {
                      b.tensor(f32Tensor("w.in_sum2", {2, 1}, {1, -2}));
                      b.tensor(f32Tensor("w.counts", {1, 1}, {1}));
                  }),
                        "m.gguf"),
                  "holds -2", "m.gguf");
    expectOneLine(parse(build([](g::Builder& b) {
                      g::Tensor t = f32Tensor("w.in_sum2", {2, 1}, {});
                      t.type = 1;
                      t.data = std::string(4, '\0');
                      b.tensor(t);
                      b.tensor(f32Tensor("w.counts", {1, 1}, {1}));
                  }),
                        "m.gguf"),
                  "is F16, expected F32", "m.gguf");
    expectOneLine(parse(build([](g::Builder&) {}), "m.gguf"), "not an importance matrix", "m.gguf");
    {
        g::Builder b;
        b.kvString("general.type", "model");
        b.tensor(f32Tensor("w.in_sum2", {2, 1}, {1, 2}));
        expectOneLine(parse(b.build(), "m.gguf"), "general.type 'model'", "m.gguf");
    }
    // A damaged GGUF is the GGUF reader's one line.
    const std::string good = build([](g::Builder& b) {
        b.tensor(f32Tensor("w.in_sum2", {2, 1}, {1, 2}));
        b.tensor(f32Tensor("w.counts", {1, 1}, {1}));
    });
    ASSERT_TRUE(parse(good, "m.gguf").ok());
    for (std::size_t n = 4; n < good.size(); n += 7) {
        auto m = parse(good.substr(0, n), "m.gguf");
        ASSERT_FALSE(m.ok()) << n;
        EXPECT_EQ(m.error().message.rfind("m.gguf: ", 0), 0u) << m.error().message;
        EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
    }
}

TEST(Imatrix, OpenReadsAFile) {
    const auto path = std::filesystem::temp_directory_path() / ("superlens-imatrix-" + std::to_string(::getpid()) + ".dat");
    std::ofstream(path, std::ios::binary) << g::le<std::int32_t>(1) + legacyEntry("blk.0.ffn_down.weight", 2, {4.0f});
    auto m = Imatrix::open(path);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_DOUBLE_EQ(m->entries()[0].at(0), 2.0);
    std::filesystem::remove(path);
    auto missing = Imatrix::open(path);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find(path.string()), std::string::npos);
}

}  // namespace
