// The .npy reader behind --pixels: accepted forms give the exact values;
// every malformed or oversized file is one error naming the file, before any
// allocation the file cannot back.

#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "superlens/core/model/npy.h"
#include "test_paths.h"

using namespace superlens::core;

namespace {

std::vector<std::byte> npyBytes(const std::string& descr, const std::string& shape, std::size_t payloadBytes, int version = 1,
                                const std::string& fortran = "False") {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    const std::size_t lenBytes = version == 1 ? 2 : 4;
    while ((8 + lenBytes + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::vector<std::byte> out;
    const unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(version), 0};
    for (unsigned char c : magic) out.push_back(static_cast<std::byte>(c));
    for (std::size_t i = 0; i < lenBytes; ++i) out.push_back(static_cast<std::byte>((header.size() >> (8 * i)) & 0xFF));
    for (char c : header) out.push_back(static_cast<std::byte>(c));
    out.resize(out.size() + payloadBytes);
    return out;
}

std::string errorOf(const std::vector<std::byte>& bytes) {
    auto r = parseNpy(bytes, "img.npy");
    return r.ok() ? std::string() : r.error().message;
}

TEST(Npy, Float32AndFloat64ValuesAreExact) {
    auto f4 = npyBytes("<f4", "(1, 2, 1, 3)", 24);
    const float values[6] = {0.5f, -1.25f, 3.0f, 1e-8f, -7.0f, 2.5f};
    std::memcpy(f4.data() + f4.size() - 24, values, 24);
    auto a = parseNpy(f4, "img.npy");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->channels, 2);
    EXPECT_EQ(a->height, 1);
    EXPECT_EQ(a->width, 3);
    EXPECT_EQ(a->at(1, 0, 2), 2.5f);
    EXPECT_EQ(a->at(0, 0, 1), -1.25f);

    auto f8 = npyBytes("<f8", "(1, 2, 2)", 32, 2);
    const double dv[4] = {0.1, 0.2, -0.3, 4.0};
    std::memcpy(f8.data() + f8.size() - 32, dv, 32);
    auto b = parseNpy(f8, "img.npy");
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(b->values[0], static_cast<float>(0.1));
    EXPECT_EQ(b->values[2], static_cast<float>(-0.3));
}

TEST(Npy, TheVisionFixturesParse) {
    auto px = loadNpy(superlens::test::testData() / "vision" / "dinov2-f32" / "pixels.npy");
    ASSERT_TRUE(px.ok()) << px.error().message;
    EXPECT_EQ(px->channels, 3);
    EXPECT_EQ(px->height, 13);
    EXPECT_EQ(px->width, 13);
}

TEST(Npy, MalformedFilesAreOneErrorNamingTheFile) {
    const std::vector<std::pair<std::vector<std::byte>, std::string>> cases = {
        {std::vector<std::byte>(4), "bad magic"},
        {npyBytes("|u1", "(1, 2, 2)", 4), "not supported"},
        {npyBytes(">f4", "(1, 2, 2)", 16), "not supported"},
        {npyBytes("<f4", "(1, 1, 2)", 8, 1, "True"), "Fortran"},
        {npyBytes("<f4", "(2, 3, 4, 4)", 2 * 3 * 16 * 4), "batch of 2"},
        {npyBytes("<f4", "(4, 4)", 64), "is not [C, H, W]"},
        {npyBytes("<f4", "(3, 4, 4)", 10), "needs 192"},
        {npyBytes("<f4", "(3, 4, 4)", 200), "needs 192"},
        {npyBytes("<f4", "(3, 0, 4)", 0), "outside"},
        {npyBytes("<f4", "(17, 4, 4)", 17 * 64), "channels"},
        {npyBytes("<f4", "(3, -4, 4)", 0), "malformed"},
        // No allocation the file cannot back: a huge shape with a tiny file.
        {npyBytes("<f8", "(16, 16384, 16384)", 8), "needs 34359738368"},
        {npyBytes("<f8", "(3, 99999999999, 4)", 8), "malformed"},
    };
    for (const auto& [bytes, want] : cases) {
        const std::string e = errorOf(bytes);
        EXPECT_EQ(e.rfind("img.npy: ", 0), 0u) << e;
        EXPECT_NE(e.find(want), std::string::npos) << "want '" << want << "' in: " << e;
        EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    }
    // A header length past the end of the file.
    auto cut = npyBytes("<f4", "(1, 1, 1)", 4);
    cut.resize(20);
    EXPECT_NE(errorOf(cut).find("truncated"), std::string::npos) << errorOf(cut);
    // A non-finite value.
    auto nan = npyBytes("<f4", "(1, 1, 1)", 4);
    const float q = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(nan.data() + nan.size() - 4, &q, 4);
    EXPECT_NE(errorOf(nan).find("not finite"), std::string::npos);
}

TEST(Npy, MissingFileIsAnError) {
    auto r = loadNpy("/nonexistent/pixels.npy");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("/nonexistent/pixels.npy"), std::string::npos);
}

TEST(Npy, InMemoryArraysGetTheFileChecks) {
    // The Python module's pixels=: the same shape and value rules as a file.
    const std::vector<float> six = {0.5f, -1.25f, 3.0f, 1e-8f, -7.0f, 2.5f};
    const std::int64_t batched[] = {1, 2, 1, 3};
    auto a = pixelTensor(batched, six, "pixels");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->channels, 2);
    EXPECT_EQ(a->height, 1);
    EXPECT_EQ(a->width, 3);
    EXPECT_EQ(a->values, six);
    auto errorFor = [&](std::vector<std::int64_t> dims, std::vector<float> values) {
        auto r = pixelTensor(dims, values, "pixels");
        return r.ok() ? std::string() : r.error().message;
    };
    EXPECT_EQ(errorFor({2, 2, 1, 3}, six), "pixels: a batch of 2 images; one image ([1, C, H, W] or [C, H, W]) is expected");
    EXPECT_EQ(errorFor({6}, six), "pixels: shape (6,) is not [C, H, W] or [1, C, H, W]");
    EXPECT_EQ(errorFor({17, 1, 1}, std::vector<float>(17)), "pixels: 17 channels (1..16 accepted)");
    EXPECT_EQ(errorFor({1, 0, 3}, {}), "pixels: image side 0 outside 1..16384");
    EXPECT_EQ(errorFor({2, 1, 2}, six), "pixels: 6 values but shape (2, 1, 2) needs 4");
    std::vector<float> inf = six;
    inf[4] = std::numeric_limits<float>::infinity();
    EXPECT_EQ(errorFor({2, 1, 3}, inf), "pixels: value 4 is not finite");
}

}  // namespace
