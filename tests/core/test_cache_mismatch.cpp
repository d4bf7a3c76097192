// Caches whose datasets do not fit the model they claim (issue 15): a hook of
// the wrong width, a float64 or integer dataset where float32 belongs, a hook
// of a layer or expert the model does not have, token ids outside the
// vocabulary, logits of the wrong width. Each such file is refused by the
// reader and by a writer asked to reuse or append to it, with one line naming
// the file and the dataset; the file stays unchanged. Files are made by the
// core writer and then altered with libhdf5.

#include <hdf5.h>

#include <gtest/gtest.h>

#include "superlens/core/cache/activation_cache.h"
#include "test_cache_support.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

// The SyntheticShape defaults as a complete Llama config.
const char* kConfig = R"({"model_type": "llama", "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
  "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 50, "max_position_embeddings": 64, "rms_norm_eps": 1e-5})";

CacheModelInfo modelInfo(bool withParsedConfig) {
    CacheModelInfo m = syntheticModel();
    m.configJson = kConfig;
    if (withParsedConfig) {
        auto c = ModelConfig::parse(kConfig, "config.json");
        EXPECT_TRUE(c.ok()) << c.error().message;
        m.config = *c;
    }
    return m;
}

fs::path makeCache(const ScratchDir& dir, const std::string& name) {
    const fs::path file = dir / name;
    auto w = ActivationCacheWriter::open(file, modelInfo(true));
    EXPECT_TRUE(w.ok()) << w.error().message;
    EXPECT_TRUE((*w)->appendRun(syntheticRun(6, 1)).ok());
    EXPECT_TRUE((*w)->appendRun(syntheticRun(9, 2)).ok());
    EXPECT_TRUE((*w)->commit().ok());
    return file;
}

// Replaces dataset `path` by one of `type` and `dims` (values 0; ids 1).
void replaceDataset(const fs::path& file, const std::string& path, hid_t type, std::vector<hsize_t> dims) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, path.c_str(), H5P_DEFAULT), 0) << path;
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t ds = H5Dcreate2(f, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    hsize_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<double> values(n, 1.0);
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(f);
}

void writeTokenIds(const fs::path& file, const std::string& path, const std::vector<std::int32_t>& ids) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t ds = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids.data()), 0);
    H5Dclose(ds);
    H5Fclose(f);
}

void renameLink(const fs::path& file, const std::string& from, const std::string& to) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Lmove(f, from.c_str(), f, to.c_str(), H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(f);
}

// Reader, and writers with and without the parsed config (the CLI's, and one
// that has only the config text), each refuse with one line naming the file
// and containing `expected`; the bytes stay the same.
void expectRefused(const fs::path& file, const std::string& expected) {
    const std::string before = readBytes(file);
    ::testing::internal::CaptureStderr();
    auto cache = ActivationCache::open(file);
    auto writer = ActivationCacheWriter::open(file, modelInfo(true));
    auto textOnly = ActivationCacheWriter::open(file, modelInfo(false));
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    ASSERT_FALSE(cache.ok()) << file;
    ASSERT_FALSE(writer.ok()) << file;
    ASSERT_FALSE(textOnly.ok()) << file;
    for (const std::string& m : {cache.error().message, writer.error().message, textOnly.error().message}) {
        EXPECT_EQ(m.rfind(file.string() + ": damaged SuperLens activation cache: ", 0), 0u) << m;
        EXPECT_NE(m.find(expected), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
    EXPECT_EQ(readBytes(file), before);
}

TEST(CacheMismatch, AMatchingFileIsReadReusedAndAppendedTo) {
    ScratchDir dir;
    const fs::path file = makeCache(dir, "ok.h5");
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_EQ((*cache)->runs().size(), 2u);
    auto w = ActivationCacheWriter::open(file, modelInfo(true));
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_TRUE((*w)->appendRun(syntheticRun(4, 3)).ok());
    ASSERT_TRUE((*w)->commit().ok());
    auto again = ActivationCache::open(file);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ((*again)->runs().size(), 3u);
}

TEST(CacheMismatch, HookOfTheWrongWidth) {
    ScratchDir dir;
    const fs::path file = makeCache(dir, "width.h5");
    replaceDataset(file, "/runs/1/blocks.0.hook_resid_post", H5T_IEEE_F32LE, {9, 17});
    expectRefused(file, "/runs/1/blocks.0.hook_resid_post has shape [9, 17]; this Llama model gives [T, 16]");
    const fs::path mlp = makeCache(dir, "mlp.h5");
    replaceDataset(mlp, "/runs/0/blocks.1.mlp.hook_post", H5T_IEEE_F32LE, {6, 16});
    expectRefused(mlp, "/runs/0/blocks.1.mlp.hook_post has shape [6, 16]; this Llama model gives [T, 40]");
    const fs::path heads = makeCache(dir, "heads.h5");
    replaceDataset(heads, "/runs/0/blocks.0.attn.hook_pattern", H5T_IEEE_F32LE, {3, 6, 6});
    expectRefused(heads, "/runs/0/blocks.0.attn.hook_pattern has shape [3, 6, 6]; this Llama model gives [2, T, T] (heads)");
}

TEST(CacheMismatch, DatasetsOfTheWrongType) {
    ScratchDir dir;
    const fs::path f64 = makeCache(dir, "f64.h5");
    replaceDataset(f64, "/runs/0/blocks.0.hook_mlp_out", H5T_IEEE_F64LE, {6, 16});
    expectRefused(f64, "/runs/0/blocks.0.hook_mlp_out holds float64, not float32");
    const fs::path ints = makeCache(dir, "ints.h5");
    replaceDataset(ints, "/runs/1/logits", H5T_STD_I32LE, {1, 50});
    expectRefused(ints, "/runs/1/logits holds int32, not float32");
    const fs::path ids64 = makeCache(dir, "ids64.h5");
    replaceDataset(ids64, "/runs/0/token_ids", H5T_STD_I64LE, {6});
    expectRefused(ids64, "/runs/0/token_ids holds int64, not int32");
    const fs::path idsFloat = makeCache(dir, "idsf.h5");
    replaceDataset(idsFloat, "/runs/0/token_ids", H5T_IEEE_F32LE, {6});
    expectRefused(idsFloat, "/runs/0/token_ids holds float32, not int32");
}

TEST(CacheMismatch, HookOfALayerTheModelDoesNotHave) {
    ScratchDir dir;
    const fs::path file = makeCache(dir, "layer.h5");
    renameLink(file, "/runs/0/blocks.1.hook_mlp_out", "/runs/0/blocks.7.hook_mlp_out");
    expectRefused(file, "/runs/0/blocks.7.hook_mlp_out: this Llama model has no such hook (layer 7 is out of range (model has 2 layers))");
    const fs::path expert = makeCache(dir, "expert.h5");
    renameLink(expert, "/runs/1/blocks.0.hook_mlp_out", "/runs/1/blocks.0.mlp.experts.3.hook_out");
    expectRefused(expert, "/runs/1/blocks.0.mlp.experts.3.hook_out: this Llama model has no such hook");
}

TEST(CacheMismatch, TokenIdsOutsideTheVocabulary) {
    ScratchDir dir;
    const fs::path file = makeCache(dir, "ids.h5");
    writeTokenIds(file, "/runs/0/token_ids", {1, 2, 3, 50, 4, 5});
    expectRefused(file, "/runs/0/token_ids[3] is 50, outside this Llama model's vocabulary of 50 tokens");
    const fs::path negative = makeCache(dir, "neg.h5");
    writeTokenIds(negative, "/runs/0/token_ids", {1, 2, 3, 4, 5, -1});
    expectRefused(negative, "/runs/0/token_ids[5] is -1, outside");
}

TEST(CacheMismatch, LogitsOfTheWrongShape) {
    ScratchDir dir;
    const fs::path wide = makeCache(dir, "wide.h5");
    replaceDataset(wide, "/runs/0/logits", H5T_IEEE_F32LE, {1, 51});
    expectRefused(wide, "/runs/0/logits has 51 columns; this Llama model's vocab_size is 50");
    const fs::path rows = makeCache(dir, "rows.h5");
    replaceDataset(rows, "/runs/0/logits", H5T_IEEE_F32LE, {6, 50});
    expectRefused(rows, "/runs/0/logits has shape [6, 50], not [1, vocabulary] for 6 tokens (logits_positions 'last')");
}

}  // namespace
