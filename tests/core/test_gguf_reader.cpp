// GGUF reader: files built by the test writer with every metadata type and
// tensor layout open with the values written; damaged copies (truncated at
// every byte, hostile counts, lengths, offsets, types, alignments) are each
// refused with one error line naming the file; the real GGUF files vendored in
// tests/data open with their known metadata, and stories260K's tensors equal
// its safetensors copy once llama.cpp's q/k row permutation is undone.

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "superlens/core/model/gguf.h"
#include "superlens/core/model/safetensors.h"
#include "test_gguf_writer.h"
#include "test_paths.h"

using namespace superlens::core;
namespace gw = superlens::test::gguf;
namespace fs = std::filesystem;

namespace {

std::vector<std::byte> toBytes(const std::string& s) {
    std::vector<std::byte> b(s.size());
    if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
    return b;
}

Result<std::shared_ptr<const GgufFile>> openBytes(const std::string& s, const std::string& name = "test.gguf") {
    return GgufFile::fromBytes(toBytes(s), name);
}

class TempFile {
public:
    explicit TempFile(const std::string& bytes) {
        static int s_counter = 0;
        m_path = fs::temp_directory_path() / ("superlens-gguf-test-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++) + ".gguf");
        std::ofstream out(m_path, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    ~TempFile() { fs::remove(m_path); }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

// One error line that names the file and says the problem.
void expectRefused(const std::string& bytes, const std::string& fragment, const std::string& name = "damaged.gguf") {
    auto f = openBytes(bytes, name);
    ASSERT_FALSE(f.ok()) << "expected an error containing '" << fragment << "'";
    const std::string& msg = f.error().message;
    EXPECT_EQ(msg.rfind(name + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\r'), std::string::npos) << msg;
}

std::string f32Data(const std::vector<float>& v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

// A small valid file: a few keys and two F32 tensors.
gw::Builder smallFile() {
    gw::Builder b;
    b.kvString("general.architecture", "llama");
    b.kvU32("llama.block_count", 2);
    b.kv("tokenizer.ggml.tokens", gw::kArray, gw::array(gw::kString, {gw::str("<s>"), gw::str("a")}));
    b.tensor({"a.weight", {4, 3}, 0, f32Data({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}), std::nullopt, std::nullopt});
    b.tensor({"b.weight", {8}, 0, f32Data({1, 2, 3, 4, 5, 6, 7, 8}), std::nullopt, std::nullopt});
    return b;
}

TEST(GgufReader, EveryMetadataTypeRoundTrips) {
    gw::Builder b;
    b.kv("u8", gw::kU8, gw::le<std::uint8_t>(200));
    b.kv("i8", gw::kI8, gw::le<std::int8_t>(-100));
    b.kv("u16", gw::kU16, gw::le<std::uint16_t>(60000));
    b.kv("i16", gw::kI16, gw::le<std::int16_t>(-30000));
    b.kv("u32", gw::kU32, gw::le<std::uint32_t>(4000000000u));
    b.kv("i32", gw::kI32, gw::le<std::int32_t>(-2000000000));
    b.kv("f32", gw::kF32, gw::f32(0.1f));
    b.kv("bool.t", gw::kBool, gw::le<std::uint8_t>(1));
    b.kv("bool.f", gw::kBool, gw::le<std::uint8_t>(0));
    b.kv("str", gw::kString, gw::str("h\xc3\xa9llo"));
    b.kv("str.empty", gw::kString, gw::str(""));
    b.kv("u64", gw::kU64, gw::le<std::uint64_t>(18446744073709551615ull));
    b.kv("i64", gw::kI64, gw::le<std::int64_t>(-9000000000000000000ll));
    b.kv("f64", gw::kF64, gw::f64(-1e300));
    b.kv("arr.u8", gw::kArray, gw::array(gw::kU8, {gw::le<std::uint8_t>(1), gw::le<std::uint8_t>(255)}));
    b.kv("arr.i16", gw::kArray, gw::array(gw::kI16, {gw::le<std::int16_t>(-5), gw::le<std::int16_t>(7)}));
    b.kv("arr.i32", gw::kArray, gw::array(gw::kI32, {gw::le<std::int32_t>(-1), gw::le<std::int32_t>(3), gw::le<std::int32_t>(6)}));
    b.kv("arr.u64", gw::kArray, gw::array(gw::kU64, {gw::le<std::uint64_t>(1ull << 40)}));
    b.kv("arr.f32", gw::kArray, gw::array(gw::kF32, {gw::f32(1.5f), gw::f32(-0.25f)}));
    b.kv("arr.f64", gw::kArray, gw::array(gw::kF64, {gw::f64(2.5)}));
    b.kv("arr.bool", gw::kArray, gw::array(gw::kBool, {gw::le<std::uint8_t>(1), gw::le<std::uint8_t>(0)}));
    b.kv("arr.str", gw::kArray, gw::array(gw::kString, {gw::str("x"), gw::str(""), gw::str("zzz")}));
    b.kv("arr.empty", gw::kArray, gw::array(gw::kU32, {}));
    b.kv("arr.nested", gw::kArray,
         gw::array(gw::kArray, {gw::array(gw::kU32, {gw::le<std::uint32_t>(1), gw::le<std::uint32_t>(2)}),
                                gw::array(gw::kString, {gw::str("deep")}), gw::array(gw::kArray, {gw::array(gw::kI8, {})})}));
    const std::string bytes = b.build();
    TempFile tmp(bytes);
    auto opened = GgufFile::open(tmp.path());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const GgufFile& f = **opened;
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.metadata().size(), 24u);
    EXPECT_EQ(f.metadata()[0].first, "u8");
    EXPECT_EQ(f.tensors().size(), 0u);
    EXPECT_EQ(f.headerBytes().size(), bytes.size());

    EXPECT_EQ(*f.getUInt("u8"), 200u);
    EXPECT_EQ(*f.getInt("i8"), -100);
    EXPECT_EQ(*f.getUInt("u16"), 60000u);
    EXPECT_EQ(*f.getInt("i16"), -30000);
    EXPECT_EQ(*f.getUInt("u32"), 4000000000u);
    EXPECT_EQ(*f.getInt("u32"), 4000000000ll);
    EXPECT_EQ(*f.getInt("i32"), -2000000000);
    EXPECT_EQ(*f.getFloat("f32"), static_cast<double>(0.1f));
    EXPECT_EQ(*f.getBool("bool.t"), true);
    EXPECT_EQ(*f.getBool("bool.f"), false);
    EXPECT_EQ(*f.getString("str"), "h\xc3\xa9llo");
    EXPECT_EQ(*f.getString("str.empty"), "");
    EXPECT_EQ(*f.getUInt("u64"), 18446744073709551615ull);
    EXPECT_EQ(*f.getInt("i64"), -9000000000000000000ll);
    EXPECT_EQ(*f.getFloat("f64"), -1e300);
    EXPECT_EQ(*f.getFloat("u16"), 60000.0);  // integers are exact as doubles up to 2^53
    EXPECT_EQ(*f.getIntArray("arr.u8"), (std::vector<std::int64_t>{1, 255}));
    EXPECT_EQ(*f.getIntArray("arr.i16"), (std::vector<std::int64_t>{-5, 7}));
    EXPECT_EQ(*f.getIntArray("arr.i32"), (std::vector<std::int64_t>{-1, 3, 6}));
    EXPECT_EQ(*f.getIntArray("arr.u64"), (std::vector<std::int64_t>{1ll << 40}));
    EXPECT_EQ(*f.getFloatArray("arr.f32"), (std::vector<float>{1.5f, -0.25f}));
    EXPECT_EQ(*f.getFloatArray("arr.f64"), (std::vector<float>{2.5f}));
    EXPECT_EQ(*f.getStringArray("arr.str"), (std::vector<std::string_view>{"x", "", "zzz"}));
    EXPECT_TRUE(f.getIntArray("arr.empty")->empty());
    const GgufValue* boolArray = f.find("arr.bool");
    ASSERT_NE(boolArray, nullptr);
    EXPECT_EQ(boolArray->typeName(), "array of bool");
    EXPECT_EQ(boolArray->length, 2u);

    const GgufValue* nested = f.find("arr.nested");
    ASSERT_NE(nested, nullptr);
    EXPECT_EQ(nested->typeName(), "array of array");
    const std::vector<GgufValue> items = nested->items();
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0].elementType, GgufValueType::UInt32);
    EXPECT_EQ(items[0].length, 2u);
    const std::vector<GgufValue> ints = items[0].items();
    ASSERT_EQ(ints.size(), 2u);
    EXPECT_EQ(ints[1].bits, 2u);
    EXPECT_EQ(items[1].items()[0].string, "deep");
    EXPECT_EQ(items[2].items()[0].elementType, GgufValueType::Int8);
    EXPECT_EQ(items[2].items()[0].length, 0u);
}

TEST(GgufReader, TypedAccessorsRefuseOtherTypesByName) {
    gw::Builder b;
    b.kv("u32", gw::kU32, gw::le<std::uint32_t>(5));
    b.kv("neg", gw::kI32, gw::le<std::int32_t>(-5));
    b.kv("big", gw::kU64, gw::le<std::uint64_t>(1ull << 63));
    b.kv("huge.int", gw::kU64, gw::le<std::uint64_t>((1ull << 53) + 1));
    b.kvString("s", "text");
    b.kv("arr.str", gw::kArray, gw::array(gw::kString, {gw::str("a")}));
    b.kv("arr.u64", gw::kArray, gw::array(gw::kU64, {gw::le<std::uint64_t>(1ull << 63)}));
    auto opened = openBytes(b.build(), "m.gguf");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const GgufFile& f = **opened;
    auto check = [](const Error& e, const std::string& fragment) {
        EXPECT_EQ(e.message.rfind("m.gguf: metadata key '", 0), 0u) << e.message;
        EXPECT_NE(e.message.find(fragment), std::string::npos) << e.message;
        EXPECT_EQ(e.message.find('\n'), std::string::npos);
    };
    check(f.getString("u32").error(), "'u32' is uint32, expected string");
    check(f.getUInt("s").error(), "'s' is string, expected an unsigned integer");
    check(f.getUInt("neg").error(), "'neg' is negative (-5)");
    check(f.getInt("big").error(), "beyond int64");
    check(f.getFloat("huge.int").error(), "too large to be exact");
    check(f.getFloat("s").error(), "expected a number");
    check(f.getBool("u32").error(), "expected bool");
    check(f.getStringArray("s").error(), "'s' is string, expected array of string");
    check(f.getIntArray("arr.str").error(), "is array of string, expected array of integers");
    check(f.getIntArray("arr.u64").error(), "element 0 is 9223372036854775808, beyond int64");
    check(f.getFloatArray("arr.str").error(), "expected array of float32");
    check(f.getUInt("missing.key").error(), "'missing.key' is missing");
    check(f.architecture().error(), "'general.architecture' is missing");
    EXPECT_EQ(*f.getInt("neg"), -5);
}

TEST(GgufReader, TensorsWithShapesOffsetsAndAlignment) {
    for (std::uint32_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
        gw::Builder b = smallFile();
        b.alignment = alignment;
        if (alignment != 32) b.kvU32("general.alignment", alignment);
        b.tensor({"c.weight", {2, 2, 2, 2}, 1, std::string(32, '\0'), std::nullopt, std::nullopt});
        const std::string bytes = b.build();
        TempFile tmp(bytes);
        auto opened = GgufFile::open(tmp.path());
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        const GgufFile& f = **opened;
        EXPECT_EQ(f.alignment(), alignment);
        EXPECT_EQ(f.dataOffset() % alignment, 0u);
        EXPECT_EQ(f.displayName(), tmp.path().string());
        ASSERT_EQ(f.tensors().size(), 3u);
        const GgufTensor* a = f.findTensor("a.weight");
        ASSERT_NE(a, nullptr);
        EXPECT_EQ(a->ne, (std::vector<std::int64_t>{4, 3}));
        EXPECT_EQ(a->shape(), (std::vector<std::int64_t>{3, 4}));  // row-major [ne1, ne0]
        EXPECT_EQ(a->rowLength(), 4);
        EXPECT_EQ(a->rowCount(), 3);
        EXPECT_EQ(a->elementCount, 12);
        EXPECT_EQ(a->byteSize, 48u);
        EXPECT_EQ(a->offset, 0u);
        EXPECT_EQ(a->data, reinterpret_cast<const std::byte*>(f.headerBytes().data()) + f.dataOffset());
        std::vector<float> rows(8);
        a->dequantizeRows(1, 2, rows.data());
        EXPECT_EQ(rows, (std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11}));
        const GgufTensor* bt = f.findTensor("b.weight");
        ASSERT_NE(bt, nullptr);
        EXPECT_EQ(bt->offset % alignment, 0u);
        EXPECT_EQ(bt->offset, (48 + alignment - 1) / alignment * alignment);
        EXPECT_EQ(bt->shape(), (std::vector<std::int64_t>{8}));
        EXPECT_EQ(bt->rowCount(), 1);
        const GgufTensor* c = f.findTensor("c.weight");
        ASSERT_NE(c, nullptr);
        EXPECT_EQ(c->type, GgmlType::F16);
        EXPECT_EQ(c->shape(), (std::vector<std::int64_t>{2, 2, 2, 2}));
        EXPECT_EQ(c->rowCount(), 8);
        EXPECT_EQ(f.findTensor("nope"), nullptr);
        EXPECT_EQ(*f.getStringArray("tokenizer.ggml.tokens"), (std::vector<std::string_view>{"<s>", "a"}));
    }
    // Version 2 has the same layout.
    gw::Builder v2 = smallFile();
    v2.version = 2;
    auto opened = openBytes(v2.build());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ((*opened)->version(), 2u);
    // Tensors stored out of order, with gaps, and zero-size ones are fine.
    gw::Builder gaps = smallFile();
    gaps.tensors()[0].offset = 128;
    gaps.tensors()[1].offset = 0;
    gaps.tensor({"empty", {0, 5}, 0, "", 64, std::nullopt});
    opened = openBytes(gaps.build());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ((*opened)->findTensor("empty")->elementCount, 0);
}

TEST(GgufReader, TruncatedAtEveryByteIsRefused) {
    gw::Builder b = smallFile();
    b.kv("arr.nested", gw::kArray, gw::array(gw::kArray, {gw::array(gw::kString, {gw::str("x")})}));
    const std::string bytes = b.build();
    ASSERT_TRUE(openBytes(bytes).ok());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        SCOPED_TRACE("truncated to " + std::to_string(n) + " bytes");
        auto f = openBytes(bytes.substr(0, n), "cut.gguf");
        ASSERT_FALSE(f.ok());
        EXPECT_EQ(f.error().message.rfind("cut.gguf: ", 0), 0u) << f.error().message;
        EXPECT_EQ(f.error().message.find('\n'), std::string::npos) << f.error().message;
    }
    // The same through real files, at every section boundary, with the messages users see.
    for (std::size_t n : b.boundaries) {
        if (n >= bytes.size()) continue;
        TempFile tmp(bytes.substr(0, n));
        auto f = GgufFile::open(tmp.path());
        ASSERT_FALSE(f.ok()) << n;
        EXPECT_EQ(f.error().message.rfind(tmp.path().string() + ": ", 0), 0u) << f.error().message;
    }
    expectRefused("", "truncated file (0 bytes");
    expectRefused("GGUF\x03", "truncated in the header");
    expectRefused(bytes.substr(0, bytes.size() - 1), "lies outside the file");
}

TEST(GgufReader, HeaderDamage) {
    expectRefused("GGML\x03\0\0\0" + std::string(16, '\0'), "not a GGUF file (it starts with 'GGML'");
    expectRefused(std::string("\x7f\x45LF\n\0\0\0", 8) + std::string(16, '\0'), "it starts with '\\x7fELF'");
    gw::Builder b = smallFile();
    b.version = 1;
    expectRefused(b.build(), "GGUF version 1 is not supported");
    b.version = 4;
    expectRefused(b.build(), "unsupported GGUF version 4");
    b.version = 0x03000000;
    expectRefused(b.build(), "big-endian GGUF file");
    b = smallFile();
    b.tensorCount = 1ull << 40;
    expectRefused(b.build(), "tensor count 1099511627776 exceeds the limit");
    b = smallFile();
    b.keyCount = ~0ull;
    expectRefused(b.build(), "metadata key count 18446744073709551615 exceeds the limit");
    b = smallFile();
    b.tensorCount = 1000000;
    expectRefused(b.build(), "more than the file's");
    b = smallFile();
    b.keyCount = 100000;
    expectRefused(b.build(), "more than the file's");
    // One key fewer than written: the key's bytes are read as a tensor info.
    b = smallFile();
    b.keyCount = 2;
    expectRefused(b.build(), "tensor");
}

TEST(GgufReader, MetadataDamage) {
    auto with = [](const std::string& key, std::uint32_t type, const std::string& value) {
        gw::Builder b = smallFile();
        b.kv(key, type, value);
        return b.build();
    };
    expectRefused(with("x", 13, gw::le<std::uint32_t>(0)), "metadata key 'x': unknown value type 13");
    expectRefused(with("x", 0xFFFFFFFFu, ""), "unknown value type 4294967295");
    expectRefused(with("x", gw::kBool, gw::le<std::uint8_t>(2)), "bool value 2 is neither 0 nor 1");
    expectRefused(with("x", gw::kArray, gw::array(gw::kBool, {gw::le<std::uint8_t>(1), gw::le<std::uint8_t>(7)})), "bool element 1 is 7");
    expectRefused(with("x", gw::kArray, gw::array(99, {})), "unknown array element type 99");
    expectRefused(with("x", gw::kString, gw::le<std::uint64_t>(1ull << 62) + "abc"), "string length 4611686018427387904 runs past the end");
    expectRefused(with("x", gw::kString, gw::le<std::uint64_t>(~0ull)), "runs past the end of the file");
    // Array lengths whose byte count overflows or exceeds the file.
    expectRefused(with("x", gw::kArray, gw::array(gw::kU32, {}, 1ull << 62)), "array length 4611686018427387904 of uint32 runs past the end");
    expectRefused(with("x", gw::kArray, gw::array(gw::kU64, {}, ~0ull)), "runs past the end");
    expectRefused(with("x", gw::kArray, gw::array(gw::kString, {}, 1ull << 60)), "array length 1152921504606846976 of string cannot fit");
    expectRefused(with("x", gw::kArray, gw::array(gw::kArray, {}, 1ull << 61)), "of array cannot fit");
    expectRefused(with("x", gw::kArray, gw::array(gw::kString, {gw::str("ok"), gw::le<std::uint64_t>(1000) + "short"})), "runs past the end");
    // Nesting deeper than the limit (each level an array of one array).
    std::string deep = gw::array(gw::kU8, {});
    for (int i = 0; i < kGgufMaxArrayDepth; ++i) deep = gw::array(gw::kArray, {deep});
    expectRefused(with("x", gw::kArray, deep), "nested deeper than 8 levels");
    std::string ok = gw::array(gw::kU8, {});
    for (int i = 0; i < kGgufMaxArrayDepth - 1; ++i) ok = gw::array(gw::kArray, {ok});
    EXPECT_TRUE(openBytes(with("x", gw::kArray, ok)).ok());
    // Keys: empty, too long, duplicated (names with control bytes are escaped).
    expectRefused(with("", gw::kU8, gw::le<std::uint8_t>(1)), "has an empty key");
    expectRefused(with(std::string(70000, 'k'), gw::kU8, gw::le<std::uint8_t>(1)), "string length 70000 exceeds the limit of 65535");
    expectRefused(with("llama.block_count", gw::kU32, gw::le<std::uint32_t>(3)), "duplicate metadata key 'llama.block_count'");
    gw::Builder twice = smallFile();
    twice.kvU32("evil\nkey", 1);
    twice.kvU32("evil\nkey", 2);
    expectRefused(twice.build(), "duplicate metadata key 'evil\\x0akey'");
}

TEST(GgufReader, AlignmentDamage) {
    for (std::uint32_t bad : {0u, 3u, 48u, 0xFFFFFFFFu}) {
        gw::Builder b = smallFile();
        b.kvU32("general.alignment", bad);
        expectRefused(b.build(), "general.alignment " + std::to_string(bad) + " is not a power of two");
    }
    gw::Builder b = smallFile();
    b.kv("general.alignment", gw::kU64, gw::le<std::uint64_t>(32));
    expectRefused(b.build(), "'general.alignment' is uint64, expected uint32");
    // A power of two the layout does not follow: offsets are no longer multiples of it.
    b = smallFile();
    b.kvU32("general.alignment", 256);
    expectRefused(b.build(), "tensor 'b.weight': data offset 64 is not a multiple of the alignment 256");
    // Huge but valid: the data section would start past the end of the file.
    gw::Builder huge;
    huge.kvU32("general.alignment", 1u << 31);
    huge.tensor({"w", {8}, 0, f32Data({1, 2, 3, 4, 5, 6, 7, 8}), std::nullopt, std::nullopt});
    expectRefused(huge.build(), "tensor 'w': data at offset 0 (32 bytes of F32) lies outside the file");
}

TEST(GgufReader, TensorInfoDamage) {
    auto one = [](gw::Tensor t) {
        gw::Builder b;
        b.kvString("general.architecture", "llama");
        b.tensor(std::move(t));
        return b.build();
    };
    const std::string f32x8 = f32Data({1, 2, 3, 4, 5, 6, 7, 8});
    EXPECT_TRUE(openBytes(one({"w", {8}, 0, f32x8, std::nullopt, std::nullopt})).ok());
    expectRefused(one({"w", {8}, 0, f32x8, std::nullopt, 0u}), "tensor 'w': 0 dimensions (ggml tensors have 1 to 4)");
    expectRefused(one({"w", {8, 1, 1, 1, 1}, 0, f32x8, std::nullopt, std::nullopt}), "tensor 'w': 5 dimensions");
    expectRefused(one({"w", {8}, 0, f32x8, std::nullopt, 0xFFFFFFFFu}), "4294967295 dimensions");
    expectRefused(one({"w", {8}, 99, f32x8, std::nullopt, std::nullopt}), "tensor 'w': unknown ggml type 99");
    expectRefused(one({"w", {32}, 4, std::string(18, '\0'), std::nullopt, std::nullopt}), "unknown ggml type 4");  // Q4_2, removed
    expectRefused(one({"w", {48}, 2, std::string(27, '\0'), std::nullopt, std::nullopt}),
                  "row length 48 is not a multiple of the Q4_0 block size 32");
    expectRefused(one({"w", {1ull << 32, 1ull << 32}, 0, "", std::nullopt, std::nullopt}), "element count of its dimensions overflows");
    expectRefused(one({"w", {1ull << 63}, 0, "", std::nullopt, std::nullopt}), "dimension 0 is 9223372036854775808, beyond int64");
    expectRefused(one({"w", {1ull << 62}, 0, "", std::nullopt, std::nullopt}), "its byte size overflows 64 bits");
    expectRefused(one({"w", {1ull << 61}, 28, "", std::nullopt, std::nullopt}), "its byte size overflows 64 bits");  // F64
    expectRefused(one({"w", {256, 1ull << 56}, 12, "", std::nullopt, std::nullopt}), "element count of its dimensions overflows");
    expectRefused(one({"w", {1ull << 40}, 0, "", std::nullopt, std::nullopt}), "lies outside the file");
    expectRefused(one({"w", {8}, 0, f32x8, 4, std::nullopt}), "data offset 4 is not a multiple of the alignment 32");
    expectRefused(one({"w", {8}, 0, f32x8, 1ull << 63, std::nullopt}), "tensor 'w': data at offset 9223372036854775808");
    expectRefused(one({"w", {8}, 0, f32x8, ~0ull - 31, std::nullopt}), "lies outside the file");  // offset + data start overflows
    expectRefused(one({"", {8}, 0, f32x8, std::nullopt, std::nullopt}), "tensor info 0 has an empty name");
    expectRefused(one({std::string(64, 'n'), {8}, 0, f32x8, std::nullopt, std::nullopt}),
                  "tensor info 0 (name): string length 64 exceeds the limit of 63 bytes");
    // A name length pointing far past the end of the file.
    gw::Builder b;
    b.tensorCount = 1;
    std::string bytes = b.build() + gw::le<std::uint64_t>(1ull << 50) + std::string(40, 'x');
    expectRefused(bytes, "tensor info 0 (name): string length 1125899906842624 exceeds the limit of 63");

    // Two tensors: duplicate names, overlaps.
    gw::Builder dup = smallFile();
    dup.tensor({"a.weight", {8}, 0, f32x8, std::nullopt, std::nullopt});
    expectRefused(dup.build(), "duplicate tensor name 'a.weight'");
    gw::Builder nl = smallFile();
    nl.tensor({"x\ny", {8}, 0, f32x8, std::nullopt, std::nullopt});
    nl.tensor({"x\ny", {8}, 0, f32x8, std::nullopt, std::nullopt});
    expectRefused(nl.build(), "duplicate tensor name 'x\\x0ay'");
    gw::Builder overlap = smallFile();
    overlap.tensors()[1].offset = 32;  // b.weight inside a.weight's 48 bytes
    expectRefused(overlap.build(), "tensors 'a.weight' and 'b.weight' overlap in the data section");
    gw::Builder same = smallFile();
    same.tensors()[1].offset = 0;
    expectRefused(same.build(), "overlap in the data section");
    // A zero-size tensor between two overlapping ones does not hide the overlap.
    gw::Builder hidden = smallFile();
    hidden.tensor({"z", {0}, 0, "", 32, std::nullopt});
    hidden.tensors()[1].offset = 32;
    expectRefused(hidden.build(), "overlap");
}

TEST(GgufReader, NotARegularFile) {
    auto dir = GgufFile::open(fs::temp_directory_path());
    ASSERT_FALSE(dir.ok());
    EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos) << dir.error().message;
    auto missing = GgufFile::open(fs::temp_directory_path() / "superlens-no-such-file.gguf");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
    // A named pipe called model.gguf is refused at once, not waited on.
    const fs::path fifo = fs::temp_directory_path() / ("superlens-gguf-fifo-" + std::to_string(::getpid()) + ".gguf");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto pipe = GgufFile::open(fifo);
    fs::remove(fifo);
    ASSERT_FALSE(pipe.ok());
    EXPECT_EQ(pipe.error().message, fifo.string() + ": not a regular file");
}

TEST(GgufReader, QkPermutationHelpersAreInverse) {
    for (std::int64_t heads : {1, 4, 8, 32}) {
        for (std::int64_t hd : {2, 8, 64, 128}) {
            const std::int64_t rows = heads * hd;
            std::vector<bool> seen(static_cast<std::size_t>(rows), false);
            for (std::int64_t r = 0; r < rows; ++r) {
                const std::int64_t hf = ggufQkRowToHuggingFace(r, rows, heads);
                ASSERT_GE(hf, 0);
                ASSERT_LT(hf, rows);
                EXPECT_FALSE(seen[static_cast<std::size_t>(hf)]);
                seen[static_cast<std::size_t>(hf)] = true;
                EXPECT_EQ(huggingFaceQkRowToGguf(hf, rows, heads), r);
                EXPECT_EQ(hf / hd, r / hd);  // rows stay inside their head
            }
        }
    }
    // Head dimension 8: GGUF rows 0..7 hold HF rows 0,4,1,5,2,6,3,7.
    std::vector<std::int64_t> firstHead;
    for (int r = 0; r < 8; ++r) firstHead.push_back(ggufQkRowToHuggingFace(r, 64, 8));
    EXPECT_EQ(firstHead, (std::vector<std::int64_t>{0, 4, 1, 5, 2, 6, 3, 7}));
}

// ---- the real files in tests/data ----

TEST(GgufRealFiles, Stories260KHeaderAndMetadata) {
    const fs::path path = superlens::test::testData() / "stories260K" / "stories260K.gguf";
    auto opened = GgufFile::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    const GgufFile& f = **opened;
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.fileSize(), 1185376u);
    EXPECT_EQ(f.metadata().size(), 19u);
    EXPECT_EQ(f.tensors().size(), 48u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.dataOffset(), 14176u);  // tensor infos end at 14152
    EXPECT_EQ(*f.architecture(), "llama");
    EXPECT_EQ(*f.getString("general.name"), "llama");
    EXPECT_EQ(*f.getUInt("llama.context_length"), 2048u);
    EXPECT_EQ(*f.getUInt("llama.embedding_length"), 64u);
    EXPECT_EQ(*f.getUInt("llama.feed_forward_length"), 172u);
    EXPECT_EQ(*f.getUInt("llama.attention.head_count"), 8u);
    EXPECT_EQ(*f.getUInt("llama.attention.head_count_kv"), 4u);
    EXPECT_EQ(*f.getUInt("llama.block_count"), 5u);
    EXPECT_EQ(*f.getUInt("llama.rope.dimension_count"), 8u);
    EXPECT_EQ(*f.getFloat("llama.attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
    EXPECT_EQ(*f.getString("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(*f.getUInt("tokenizer.ggml.bos_token_id"), 1u);
    EXPECT_EQ(*f.getUInt("tokenizer.ggml.eos_token_id"), 2u);
    EXPECT_EQ(*f.getUInt("tokenizer.ggml.unknown_token_id"), 0u);
    EXPECT_EQ(*f.getUInt("tokenizer.ggml.seperator_token_id"), 4294967295u);  // llama.cpp's spelling; "none"
    const auto tokens = *f.getStringArray("tokenizer.ggml.tokens");
    ASSERT_EQ(tokens.size(), 512u);
    EXPECT_EQ(tokens[0], "<unk>");
    EXPECT_EQ(tokens[1], "<s>");
    EXPECT_EQ(tokens[2], "</s>");
    EXPECT_EQ(tokens[3], "<0x00>");
    EXPECT_EQ(tokens[258], "<0xFF>");
    const auto scores = *f.getFloatArray("tokenizer.ggml.scores");
    ASSERT_EQ(scores.size(), 512u);
    const auto types = *f.getIntArray("tokenizer.ggml.token_type");
    ASSERT_EQ(types.size(), 512u);
    EXPECT_EQ(types[0], 2);  // unknown
    EXPECT_EQ(types[1], 3);  // control
    EXPECT_EQ(types[3], 6);  // byte
    EXPECT_EQ(types[300], 1);  // normal
    // Every tensor is F32, rows of the model's widths.
    for (const GgufTensor& t : f.tensors()) EXPECT_EQ(t.type, GgmlType::F32) << t.name;
    EXPECT_EQ(f.findTensor("token_embd.weight")->ne, (std::vector<std::int64_t>{64, 512}));
    EXPECT_EQ(f.findTensor("blk.0.ffn_down.weight")->ne, (std::vector<std::int64_t>{172, 64}));
    EXPECT_EQ(f.findTensor("blk.4.attn_k.weight")->shape(), (std::vector<std::int64_t>{32, 64}));
    EXPECT_EQ(f.findTensor("blk.4.ffn_norm.weight")->offset, 1170944u);
}

// The llama.cpp names of a llama block and their Hugging Face counterparts.
const std::pair<const char*, const char*> kLlamaBlockNames[] = {
    {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"},    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"}, {"attn_norm", "input_layernorm"}, {"ffn_gate", "mlp.gate_proj"},
    {"ffn_down", "mlp.down_proj"},   {"ffn_up", "mlp.up_proj"},           {"ffn_norm", "post_attention_layernorm"},
};

TEST(GgufRealFiles, Stories260KTensorsEqualTheSafetensorsCopy) {
    const fs::path dir = superlens::test::testData() / "stories260K";
    auto gguf = GgufFile::open(dir / "stories260K.gguf");
    ASSERT_TRUE(gguf.ok()) << gguf.error().message;
    auto st = SafetensorsFile::open(dir / "model.safetensors");
    ASSERT_TRUE(st.ok()) << st.error().message;
    const std::int64_t heads = static_cast<std::int64_t>(*(*gguf)->getUInt("llama.attention.head_count"));
    const std::int64_t kvHeads = static_cast<std::int64_t>(*(*gguf)->getUInt("llama.attention.head_count_kv"));

    std::vector<std::pair<std::string, std::string>> names = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                             {"output_norm.weight", "model.norm.weight"},
                                                             // Tied in config.json; llama.cpp's file stores the head anyway.
                                                             {"output.weight", "model.embed_tokens.weight"}};
    for (int l = 0; l < 5; ++l) {
        for (const auto& [g, h] : kLlamaBlockNames) {
            names.emplace_back("blk." + std::to_string(l) + "." + g + ".weight", "model.layers." + std::to_string(l) + "." + h + ".weight");
        }
    }
    EXPECT_EQ(names.size(), (*gguf)->tensors().size());
    int permuted = 0;
    for (const auto& [g, h] : names) {
        SCOPED_TRACE(g);
        const GgufTensor* t = (*gguf)->findTensor(g);
        const TensorInfo* s = (*st)->find(h);
        ASSERT_NE(t, nullptr);
        ASSERT_NE(s, nullptr);
        ASSERT_EQ(t->shape(), s->shape);
        std::vector<float> rows(static_cast<std::size_t>(t->elementCount));
        t->dequantizeRows(0, t->rowCount(), rows.data());
        std::vector<float> ref(static_cast<std::size_t>(s->elementCount()));
        std::memcpy(ref.data(), (*st)->data(*s), ref.size() * sizeof(float));
        const bool isQ = g.find("attn_q") != std::string::npos, isK = g.find("attn_k") != std::string::npos;
        const std::int64_t cols = t->rowLength();
        for (std::int64_t r = 0; r < t->rowCount(); ++r) {
            // llama.cpp's converter permutes q and k rows per head; every other tensor is stored as is.
            const std::int64_t hfRow = isQ ? ggufQkRowToHuggingFace(r, t->rowCount(), heads)
                                     : isK ? ggufQkRowToHuggingFace(r, t->rowCount(), kvHeads)
                                           : r;
            ASSERT_EQ(0, std::memcmp(rows.data() + r * cols, ref.data() + hfRow * cols, static_cast<std::size_t>(cols) * sizeof(float)))
                << "row " << r << " vs Hugging Face row " << hfRow;
        }
        if (isQ || isK) {
            ++permuted;
            // ... and the permutation is not the identity: the raw rows differ.
            EXPECT_NE(0, std::memcmp(rows.data(), ref.data(), rows.size() * sizeof(float)));
        }
    }
    EXPECT_EQ(permuted, 10);
}

TEST(GgufRealFiles, LlamaCppVocabularyFiles) {
    const fs::path base = superlens::test::testData() / "tokenizers";
    auto spm = GgufFile::open(base / "llama-spm-ggml-vocab" / "ggml-vocab-llama-spm.gguf");
    ASSERT_TRUE(spm.ok()) << spm.error().message;
    const GgufFile& a = **spm;
    EXPECT_EQ(a.version(), 3u);
    EXPECT_EQ(a.tensors().size(), 0u);
    EXPECT_EQ(a.metadata().size(), 22u);
    EXPECT_EQ(a.fileSize(), 723869u);
    EXPECT_GT(a.dataOffset(), a.fileSize());  // vocabulary-only: no data section, no padding
    EXPECT_EQ(*a.architecture(), "llama");
    EXPECT_EQ(*a.getString("general.name"), "llama-spm");
    EXPECT_EQ(*a.getUInt("llama.vocab_size"), 32000u);
    EXPECT_EQ(*a.getUInt("llama.block_count"), 32u);
    EXPECT_EQ(*a.getUInt("llama.embedding_length"), 4096u);
    EXPECT_EQ(*a.getUInt("general.file_type"), 1u);
    EXPECT_EQ(*a.getString("tokenizer.ggml.pre"), "default");
    EXPECT_TRUE(*a.getBool("tokenizer.ggml.add_bos_token"));
    EXPECT_FALSE(*a.getBool("tokenizer.ggml.add_eos_token"));
    const auto tokens = *a.getStringArray("tokenizer.ggml.tokens");
    ASSERT_EQ(tokens.size(), 32000u);
    EXPECT_EQ(tokens[1], "<s>");
    EXPECT_EQ(tokens[29871], "\xe2\x96\x81");  // SentencePiece's word boundary, alone
    EXPECT_EQ(a.getFloatArray("tokenizer.ggml.scores")->size(), 32000u);
    EXPECT_EQ(a.getIntArray("tokenizer.ggml.token_type")->size(), 32000u);

    auto phi = GgufFile::open(base / "phi-3-ggml-vocab" / "ggml-vocab-phi-3.gguf");
    ASSERT_TRUE(phi.ok()) << phi.error().message;
    const GgufFile& p = **phi;
    EXPECT_EQ(p.metadata().size(), 26u);
    EXPECT_EQ(*p.architecture(), "phi3");
    EXPECT_EQ(*p.getUInt("phi3.rope.scaling.original_context_length"), 4096u);
    EXPECT_EQ(*p.getUInt("phi3.rope.dimension_count"), 96u);
    EXPECT_EQ(*p.getFloat("phi3.rope.freq_base"), 10000.0);
    EXPECT_EQ(*p.getUInt("tokenizer.ggml.eos_token_id"), 32000u);
    EXPECT_EQ(*p.getUInt("tokenizer.ggml.padding_token_id"), 32000u);
    EXPECT_EQ(*p.getUInt("general.quantization_version"), 2u);
    EXPECT_EQ(p.getStringArray("tokenizer.ggml.tokens")->size(), 32064u);
    EXPECT_EQ((*p.getFloatArray("tokenizer.ggml.scores"))[0], -1000.0f);
    const auto tmpl = *p.getString("tokenizer.chat_template");
    EXPECT_EQ(tmpl.rfind("{{ bos_token }}", 0), 0u);
    EXPECT_EQ(tmpl.size(), 269u);
}

}  // namespace
