// --image: PNG/JPEG decoding and the Hugging Face image processors'
// preprocessing against tests/data/vision/images/refs.json
// (scripts/fixtures/make_image_inputs.py: PIL's decoding and resampling,
// transformers' center_crop / rescale / normalize written out in numpy).
// PNG cases must match bit for bit (the no-resize cases' answers are also
// computed from the generated array by numpy alone); the JPEG case is held to
// the decoder difference documented in docs/VISION.md. Every bad file is one
// error naming the file, refused before the decoder allocates.

#include <cstdio>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "superlens/core/model/image_input.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::readJson;
using superlens::test::testData;

namespace {

const std::filesystem::path kImages = testData() / "vision" / "images";

const nlohmann::json& imageAnswers() {
    static const nlohmann::json s_refs = readJson(kImages / "refs.json");
    return s_refs;
}

std::string fileText(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::byte> fileBytes(const std::filesystem::path& p) {
    const std::string s = fileText(p);
    std::vector<std::byte> out(s.size());
    std::memcpy(out.data(), s.data(), s.size());
    return out;
}

// Largest decoded-byte difference between stb_image's JPEG decoder and PIL's
// (libjpeg-turbo) on the 4:4:4 quality-95 fixture (docs/VISION.md).
constexpr int kJpegDecodeLevels = 2;

class ImageCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ImageCase, PixelValuesMatchTheHuggingFaceProcessor) {
    const std::string name = GetParam();
    const auto& ref = imageAnswers()["cases"][name];
    const bool jpeg = ref["file"].get<std::string>().ends_with(".jpg");
    auto image = loadImage(kImages / ref["file"].get<std::string>());
    ASSERT_TRUE(image.ok()) << image.error().message;
    ASSERT_EQ(image->channels, 3);
    const auto rgb = ref["decoded_rgb"].get<std::vector<int>>();
    ASSERT_EQ(image->data.size(), rgb.size());
    int worst = 0;
    for (std::size_t i = 0; i < rgb.size(); ++i) worst = std::max(worst, std::abs(static_cast<int>(image->data[i]) - rgb[i]));
    std::printf("%s: decoded bytes differ from PIL's by at most %d levels\n", name.c_str(), worst);
    EXPECT_LE(worst, jpeg ? kJpegDecodeLevels : 0) << name << ": decoded bytes differ from PIL's by " << worst << " levels";

    auto config = parseImageProcessorConfig(fileText(kImages / (name + ".json")), name + ".json");
    ASSERT_TRUE(config.ok()) << config.error().message;
    auto px = preprocessImage(*image, *config);
    ASSERT_TRUE(px.ok()) << px.error().message;
    const auto shape = ref["shape"].get<std::vector<int>>();
    ASSERT_EQ(px->channels, shape[0]);
    ASSERT_EQ(px->height, shape[1]);
    ASSERT_EQ(px->width, shape[2]);
    const auto want = ref["pixel_values"].get<std::vector<double>>();
    ASSERT_EQ(px->values.size(), want.size());
    if (!jpeg) {
        std::size_t differing = 0;
        for (std::size_t i = 0; i < want.size(); ++i) differing += px->values[i] != static_cast<float>(want[i]);
        EXPECT_EQ(differing, 0u) << name << ": pixel_values not bit-identical";
    } else {
        // The decoder difference, carried through resize (weights sum to 1) and normalisation.
        double maxStd = 0;
        for (double s : config->std) maxStd = std::max(maxStd, 1.0 / s);
        const double tol = (kJpegDecodeLevels + 1) * config->rescaleFactor * maxStd;
        for (std::size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(px->values[i], want[i], tol) << name << " value " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, ImageCase,
                         ::testing::Values("vit-noresize", "crop-noresize", "clip-shortest-edge", "bit-grey", "vit-upsample-grey-alpha",
                                           "vit-palette-lanczos", "clip-jpeg"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (char& c : s) if (c == '-') c = '_';
                             return s;
                         });

TEST(ImageResize, EveryPillowFilterGivesPillowsBytes) {
    const auto& filters = imageAnswers()["filters"];
    Image8 in;
    const auto shape = filters["input"]["shape"].get<std::vector<int>>();
    in.height = shape[0];
    in.width = shape[1];
    in.channels = shape[2];
    for (int v : filters["input"]["rgb"].get<std::vector<int>>()) in.data.push_back(static_cast<std::uint8_t>(v));
    int cases = 0;
    for (const auto& [key, f] : filters.items()) {
        if (key == "input") continue;
        auto out = resizeLikePillow(in, f["width"].get<int>(), f["height"].get<int>(), static_cast<ResampleFilter>(f["filter"].get<int>()));
        ASSERT_TRUE(out.ok()) << key << ": " << out.error().message;
        const auto want = f["rgb"].get<std::vector<int>>();
        ASSERT_EQ(out->data.size(), want.size()) << key;
        std::size_t differing = 0;
        for (std::size_t i = 0; i < want.size(); ++i) differing += out->data[i] != want[i];
        EXPECT_EQ(differing, 0u) << key << ": bytes differ from Pillow's";
        ++cases;
    }
    EXPECT_EQ(cases, 10);
    // Same size: no resampling at all (PIL returns a copy).
    auto same = resizeLikePillow(in, in.width, in.height, ResampleFilter::Bicubic);
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(*same, in);
    EXPECT_FALSE(resizeLikePillow(in, 4, 4, ResampleFilter::Nearest).ok());
}

TEST(ImageResize, ShortestEdgeSizesFollowTransformers) {
    ImageProcessorConfig c;
    c.shortestEdge = 224;
    // int(224 * 500 / 375) = 298 on the long side.
    EXPECT_EQ(resizedSize(c, 375, 500), (std::pair<int, int>{224, 298}));
    EXPECT_EQ(resizedSize(c, 500, 375), (std::pair<int, int>{298, 224}));
    EXPECT_EQ(resizedSize(c, 300, 300), (std::pair<int, int>{224, 224}));
    c.shortestEdge = 0;
    c.resizeHeight = 10;
    c.resizeWidth = 20;
    EXPECT_EQ(resizedSize(c, 375, 500), (std::pair<int, int>{10, 20}));
    c.doResize = false;
    EXPECT_EQ(resizedSize(c, 375, 500), (std::pair<int, int>{375, 500}));
}

// A PNG header (signature + IHDR) declaring w x h, 8-bit RGB, with no data.
std::vector<std::byte> pngHeader(std::uint32_t w, std::uint32_t h, int bitDepth = 8) {
    std::vector<unsigned char> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (std::uint32_t v : {w, h}) for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
    for (int v : {bitDepth, 2, 0, 0, 0}) b.push_back(static_cast<unsigned char>(v));
    for (int i = 0; i < 4; ++i) b.push_back(0);  // CRC (stb_image does not check it)
    std::vector<std::byte> out(b.size());
    std::memcpy(out.data(), b.data(), b.size());
    return out;
}

std::string decodeError(const std::vector<std::byte>& bytes) {
    auto r = decodeImage(bytes, "pic.png");
    return r.ok() ? std::string() : r.error().message;
}

TEST(ImageDecode, BadFilesAreOneErrorNamingTheFile) {
    const auto good = fileBytes(kImages / "clip-shortest-edge.png");
    ASSERT_TRUE(decodeImage(good, "pic.png").ok());
    for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{20}, std::size_t{40}, good.size() / 2, good.size() - 13}) {
        const std::vector<std::byte> truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
        const std::string e = decodeError(truncated);
        EXPECT_EQ(e.rfind("pic.png: ", 0), 0u) << cut << ": " << e;
        EXPECT_EQ(e.find('\n'), std::string::npos);
    }
    auto corrupt = good;
    for (std::size_t i = 60; i < corrupt.size() - 20; i += 7) corrupt[i] = std::byte{0x5A};
    EXPECT_NE(decodeError(corrupt).find("pic.png: damaged PNG"), std::string::npos) << decodeError(corrupt);

    const std::string text = "GIF89a and some bytes";
    std::vector<std::byte> gif(text.size());
    std::memcpy(gif.data(), text.data(), text.size());
    EXPECT_NE(decodeError(gif).find("not a PNG or JPEG"), std::string::npos);

    const auto jpeg = fileBytes(kImages / "clip-jpeg.jpg");
    const std::vector<std::byte> halfJpeg(jpeg.begin(), jpeg.begin() + 200);
    auto r = decodeImage(halfJpeg, "pic.jpg");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("pic.jpg: ", 0), 0u) << r.error().message;
}

// stb_image 2.27 writes past its Huffman tables when a DHT segment declares
// more than 256 codes (found by fuzz_image): refused before stb reads the file.
TEST(ImageDecode, OversizedJpegHuffmanTablesAreRefused) {
    std::vector<unsigned char> b = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00};  // SOI, an APP0 segment
    const std::size_t codes = 16 * 20;                                               // 320 > 256
    const std::size_t len = 2 + 17 + codes;
    for (unsigned char c : {0xFF, 0xC4, static_cast<int>(len >> 8), static_cast<int>(len & 0xFF), 0x00}) b.push_back(c);
    for (int i = 0; i < 16; ++i) b.push_back(20);
    b.resize(b.size() + codes, 0x01);
    for (unsigned char c : {0xFF, 0xD9}) b.push_back(c);
    std::vector<std::byte> bytes(b.size());
    std::memcpy(bytes.data(), b.data(), b.size());
    auto r = decodeImage(bytes, "pic.jpg");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "pic.jpg: damaged JPEG: a Huffman table declares 320 codes (at most 256)");
    // 256 codes is legal: stb goes on and reports the missing frame itself.
    for (std::size_t i = 0; i < 16; ++i) b[8 + 4 + 1 + i] = 16;  // 16 x 16 = 256
    std::memcpy(bytes.data(), b.data(), b.size());
    auto legal = decodeImage(bytes, "pic.jpg");
    ASSERT_FALSE(legal.ok());
    EXPECT_EQ(legal.error().message.find("Huffman table declares"), std::string::npos) << legal.error().message;
    // A segment declaring 1 byte: stb still reads a whole table past it.
    std::vector<unsigned char> past = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x03, 0x10};
    for (int i = 0; i < 16; ++i) past.push_back(17);  // 272 codes
    past.resize(past.size() + 300, 0x02);
    std::vector<std::byte> pastBytes(past.size());
    std::memcpy(pastBytes.data(), past.data(), past.size());
    auto p = decodeImage(pastBytes, "pic.jpg");
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().message, "pic.jpg: damaged JPEG: a Huffman table declares 272 codes (at most 256)");
    // The fuzzer's reproducers (also replayed by fuzz_replay_image).
    const auto found = fileBytes(std::filesystem::path(SUPERLENS_TEST_DATA) / ".." / "fuzz" / "regressions" / "image" / "jpeg-dht-over-256-codes.jpg");
    ASSERT_FALSE(found.empty());
    EXPECT_FALSE(decodeImage(found, "pic.jpg").ok());
}

// A chunk declaring more bytes than the file holds (stb reserved them first:
// 2 GiB for a 400-byte file, found by fuzz_image) is refused before stb runs.
TEST(ImageDecode, PngChunksMustFitInTheFile) {
    auto b = pngHeader(4, 4);
    for (unsigned char c : {0x40, 0x00, 0x00, 0x00, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C}) b.push_back(static_cast<std::byte>(c));
    EXPECT_EQ(decodeError(b), "pic.png: damaged PNG: chunk IDAT declares 1073741824 bytes, the file has 2 left");
    const auto found = fileBytes(std::filesystem::path(SUPERLENS_TEST_DATA) / ".." / "fuzz" / "regressions" / "image" / "png-idat-larger-than-the-file.png");
    ASSERT_FALSE(found.empty());
    EXPECT_NE(decodeError(found).find("damaged PNG: chunk IDAT declares"), std::string::npos) << decodeError(found);
    // Every fixture PNG passes the check and decodes.
    for (const char* name : {"vit-noresize.png", "crop-noresize.png", "bit-grey.png", "vit-palette-lanczos.png"}) {
        EXPECT_TRUE(decodeImage(fileBytes(kImages / name), name).ok()) << name;
    }
}

TEST(ImageDecode, SizesAreCheckedBeforeDecoding) {
    // Sides past the limit, and a pixel count past the ceiling with legal sides:
    // refused from the header alone (the file holds no image data).
    EXPECT_NE(decodeError(pngHeader(20000, 10)).find("each side must be 1..16384"), std::string::npos) << decodeError(pngHeader(20000, 10));
    EXPECT_NE(decodeError(pngHeader(16000, 16000)).find("exceeds the limit of 33554432 pixels"), std::string::npos)
        << decodeError(pngHeader(16000, 16000));
    EXPECT_NE(decodeError(pngHeader(4, 4, 16)).find("16-bit PNG"), std::string::npos) << decodeError(pngHeader(4, 4, 16));
    // Legal header, no data: a damaged-data error, not a crash.
    EXPECT_NE(decodeError(pngHeader(64, 64)).find("pic.png: "), std::string::npos);
}

TEST(ImageProcessorConfigs, FieldsAreCheckedByName) {
    auto err = [](const std::string& json) {
        auto r = parseImageProcessorConfig(json, "pp.json");
        return r.ok() ? std::string() : r.error().message;
    };
    const std::string clip = R"("image_processor_type": "CLIPImageProcessor", "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5])";
    EXPECT_EQ(err("{" + clip + R"(, "size": {"shortest_edge": 224}, "crop_size": 224})"), "");
    EXPECT_NE(err("{" + clip + R"(, "size": {"shortest_edge": 0}, "crop_size": 224})").find("size.shortest_edge must be an integer"), std::string::npos);
    EXPECT_NE(err("{" + clip + R"(, "size": {"shortest_edge": 224}, "crop_size": 99999})").find("crop_size must be"), std::string::npos);
    EXPECT_NE(err("{" + clip + R"(, "size": {"width": 3}, "crop_size": 4})").find("needs \"height\" and \"width\""), std::string::npos);
    EXPECT_NE(err("{" + clip + R"(, "size": 224})").find("missing 'crop_size'"), std::string::npos);
    EXPECT_NE(err("{" + clip + R"(, "size": 224, "crop_size": 224, "resample": 0})").find("nearest"), std::string::npos);
    EXPECT_NE(err("{" + clip + R"(, "size": 224, "crop_size": 224, "resample": 9})").find("PIL filter number"), std::string::npos);
    EXPECT_NE(err(R"({"image_processor_type": "CLIPImageProcessor", "size": 224, "crop_size": 224, "image_mean": [0.5, 0.5], "image_std": 0.5})")
                  .find("'image_mean' must be a number or a list of 3"),
              std::string::npos);
    EXPECT_NE(err(R"({"image_processor_type": "CLIPImageProcessor", "size": 224, "crop_size": 224, "image_mean": 0.5, "image_std": 0})").find("> 0"),
              std::string::npos);
    EXPECT_NE(err(R"({"image_processor_type": "SiglipImageProcessor"})").find("'SiglipImageProcessor' is not one SuperLens reads"), std::string::npos);
    EXPECT_NE(err("[1, 2]").find("not a JSON object"), std::string::npos);
    EXPECT_NE(err("{").find("pp.json: not valid JSON"), std::string::npos);
    // An int size: a square for ViT, the shortest edge for CLIP and Bit.
    auto vit = parseImageProcessorConfig(R"({"feature_extractor_type": "ViTFeatureExtractor", "size": 224, "image_mean": 0.5, "image_std": 0.5})", "v");
    ASSERT_TRUE(vit.ok()) << vit.error().message;
    EXPECT_EQ(vit->resizeHeight, 224);
    EXPECT_EQ(vit->shortestEdge, 0);
    EXPECT_EQ(vit->resample, ResampleFilter::Bilinear);
    EXPECT_FALSE(vit->doCenterCrop);
    auto bit = parseImageProcessorConfig(R"({"image_processor_type": "BitImageProcessor", "size": 256, "crop_size": 224, "image_mean": 0.5, "image_std": 0.5})", "b");
    ASSERT_TRUE(bit.ok()) << bit.error().message;
    EXPECT_EQ(bit->shortestEdge, 256);
    EXPECT_EQ(bit->resample, ResampleFilter::Bicubic);
    EXPECT_TRUE(bit->doCenterCrop);

    auto missing = loadImageProcessorConfig(testData() / "encoders");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("preprocessor_config.json: missing"), std::string::npos) << missing.error().message;
    EXPECT_NE(missing.error().message.find("--pixels"), std::string::npos);
}

}  // namespace
