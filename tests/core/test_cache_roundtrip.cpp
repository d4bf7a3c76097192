// Activation cache round trips: values bit-exact (NaN payloads, -0,
// subnormals) for every compression, metadata, appends, slices, reuse keys,
// engine results, and the guards around the target (model folders, other
// models, uncommitted writers).

#include <gtest/gtest.h>

#include "superlens/core/cache/activation_cache.h"
#include "superlens/core/model/npy.h"
#include "test_cache_support.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

void expectRunEqual(const ActivationCache& cache, int index, const CaptureRun& want) {
    const CachedRunInfo* info = cache.run(index);
    ASSERT_NE(info, nullptr) << "run " << index;
    EXPECT_EQ(info->prompt, want.prompt);
    EXPECT_EQ(info->tokens, want.tokens);
    EXPECT_EQ(info->edits, want.edits);
    EXPECT_EQ(info->hookPatterns, want.hookPatterns);
    EXPECT_EQ(info->tokenStrings, want.tokenStrings);
    EXPECT_EQ(info->tokenTexts, want.tokenTexts);
    EXPECT_EQ(info->hooks.size(), want.hooks.size());
    for (const auto& [name, tensor] : want.hooks) {
        auto got = cache.readHook(index, name);
        ASSERT_TRUE(got.ok()) << got.error().message;
        EXPECT_EQ(got->shape, tensor->shape) << name;
        EXPECT_TRUE(bitEqual(got->values, tensor->values)) << name;
        const CachedHook* h = info->hook(name);
        ASSERT_NE(h, nullptr) << name;
        EXPECT_EQ(h->shape, tensor->shape);
    }
    if (want.logits) {
        auto logits = cache.readLogits(index);
        ASSERT_TRUE(logits.ok()) << logits.error().message;
        EXPECT_EQ(logits->shape, want.logits->shape);
        EXPECT_TRUE(bitEqual(logits->values, want.logits->values));
    }
}

Result<ActivationCacheWriter::CommitInfo> writeRuns(const fs::path& file, const std::vector<CaptureRun>& runs,
                                                    const CacheModelInfo& model = syntheticModel(), CacheWriteOptions options = {}) {
    auto w = ActivationCacheWriter::open(file, model, options);
    if (!w) return w.error();
    for (const auto& r : runs) {
        auto n = (*w)->appendRun(r);
        if (!n) return n.error();
    }
    return (*w)->commit();
}

class CompressionTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CompressionTest, ValuesAndMetadataRoundTripBitExact) {
    ScratchDir dir;
    const fs::path file = dir / "acts.h5";
    CacheWriteOptions opts;
    opts.compression = CacheCompression::parse(GetParam()).value();
    CaptureRun a = syntheticRun(5, 1, {}, "Ünïcode ▁prompt\nwith a newline", {"model.layers.1.mlp.down_proj.weight[3,7]=0"});
    a.tokenStrings = {"<s>", "▁the", "Ġx", "<0x0A>", "\xe2\x96\x81"};
    a.tokenTexts = {"<s>", " the", " x", "\n", " "};
    a.metadataJson = R"({"note": "from a test"})";
    a.allPositionLogits = false;
    CaptureRun b = syntheticRun(9, 2);
    b.logits = tensor({9, 50}, 77);
    b.allPositionLogits = true;
    auto committed = writeRuns(file, {a, b}, syntheticModel(), opts);
    ASSERT_TRUE(committed.ok()) << committed.error().message;
    EXPECT_EQ(committed->appendedRuns, (std::vector<int>{0, 1}));
    EXPECT_TRUE(committed->wroteFile);
    EXPECT_GT(committed->rawBytes, 0u);

    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_EQ((*cache)->version(), 1);
    EXPECT_EQ((*cache)->modelFingerprint(), "00112233aabbccdd");
    EXPECT_EQ((*cache)->modelConfigJson(), syntheticModel().configJson);
    EXPECT_EQ((*cache)->modelName(), "synthetic");
    EXPECT_EQ((*cache)->modelParameters(), 1234);
    ASSERT_EQ((*cache)->runs().size(), 2u);
    expectRunEqual(**cache, 0, a);
    expectRunEqual(**cache, 1, b);
    EXPECT_EQ((*cache)->run(0)->metadataJson, a.metadataJson);
    EXPECT_FALSE((*cache)->run(0)->allPositionLogits);
    EXPECT_TRUE((*cache)->run(1)->allPositionLogits);
    EXPECT_EQ((*cache)->run(1)->logitsShape, (std::vector<std::int64_t>{9, 50}));
    // Hooks are listed in execution order, not name order.
    const auto& hooks = (*cache)->run(0)->hooks;
    for (std::size_t i = 1; i < hooks.size(); ++i) EXPECT_TRUE(hooks[i - 1].point < hooks[i].point);
    // No temporaries are left behind.
    EXPECT_TRUE(filesStartingWith(dir.path(), ".acts.h5.tmp-").empty());
}

INSTANTIATE_TEST_SUITE_P(Cache, CompressionTest, ::testing::Values("none", "gzip1", "shuffle-gzip1", "gzip9"));

TEST(CacheCompression, ParsesAndRejects) {
    EXPECT_EQ(CacheCompression::parse("none")->text(), "none");
    EXPECT_EQ(CacheCompression::parse("gzip1")->gzipLevel, 1);
    EXPECT_TRUE(CacheCompression::parse("shuffle-gzip4")->shuffle);
    EXPECT_FALSE(CacheCompression::parse("gzip0").ok());
    EXPECT_FALSE(CacheCompression::parse("lzf").ok());
    EXPECT_FALSE(CacheCompression::parse("gzip10").ok());
    EXPECT_EQ(*parseCacheSync("always"), CacheSync::Always);
    EXPECT_EQ(*parseCacheSync("replace"), CacheSync::WhenReplacing);
    EXPECT_EQ(*parseCacheSync("never"), CacheSync::Never);
    EXPECT_FALSE(parseCacheSync("sometimes").ok());
    EXPECT_EQ(cacheSyncName(CacheWriteOptions{}.sync), "replace");
}

// Every sync mode writes the same readable file; fsync paths must not fail.
TEST(CacheRoundTrip, EverySyncModeCommits) {
    ScratchDir dir;
    for (const CacheSync mode : {CacheSync::Always, CacheSync::WhenReplacing, CacheSync::Never}) {
        const fs::path file = dir / ("sync-" + std::string(cacheSyncName(mode)) + ".h5");
        CacheWriteOptions opts;
        opts.sync = mode;
        ASSERT_TRUE(writeRuns(file, {syntheticRun(3, 1)}, syntheticModel(), opts).ok());
        ASSERT_TRUE(writeRuns(file, {syntheticRun(4, 2)}, syntheticModel(), opts).ok());  // replaces
        auto cache = ActivationCache::open(file);
        ASSERT_TRUE(cache.ok()) << cache.error().message;
        EXPECT_EQ((*cache)->runs().size(), 2u);
    }
}

TEST(CacheRoundTrip, SlicesMatricesAndRunsReadBack) {
    ScratchDir dir;
    const fs::path file = dir / "s.h5";
    SyntheticShape shape;
    shape.heads = 3;
    CaptureRun run = syntheticRun(40, 3, shape, "p", {"blocks.0.hook_mlp_out[0,3]=-1234.5"});
    ASSERT_TRUE(writeRuns(file, {run}).ok());
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;

    const auto& full = *run.hooks.at("blocks.1.hook_resid_post");
    auto slice = (*cache)->readHookSlice(0, "blocks.1.hook_resid_post", 17, 5);
    ASSERT_TRUE(slice.ok()) << slice.error().message;
    EXPECT_EQ(slice->shape, (std::vector<std::int64_t>{5, 16}));
    EXPECT_TRUE(bitEqual(slice->values, std::vector<float>(full.values.begin() + 17 * 16, full.values.begin() + 22 * 16)));

    // One head of an attention pattern.
    const auto& pat = *run.hooks.at("blocks.0.attn.hook_pattern");
    auto head = (*cache)->readHookSlice(0, "blocks.0.attn.hook_pattern", 2, 1);
    ASSERT_TRUE(head.ok()) << head.error().message;
    EXPECT_EQ(head->shape, (std::vector<std::int64_t>{1, 40, 40}));
    EXPECT_TRUE(bitEqual(head->values, std::vector<float>(pat.values.begin() + 2 * 1600, pat.values.end())));

    auto matrix = (*cache)->readHookMatrix(0, "blocks.0.mlp.hook_post");
    ASSERT_TRUE(matrix.ok());
    EXPECT_EQ(matrix->rows(), 40);
    EXPECT_EQ(matrix->cols(), 40);
    EXPECT_EQ(std::memcmp(matrix->data(), run.hooks.at("blocks.0.mlp.hook_post")->values.data(), 1600 * 4), 0);

    EXPECT_FALSE((*cache)->readHookSlice(0, "blocks.1.hook_resid_post", 38, 5).ok());
    auto missing = (*cache)->readHook(0, "blocks.7.hook_resid_post");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find(file.string()), std::string::npos);
    EXPECT_FALSE((*cache)->readHook(3, "blocks.0.hook_resid_post").ok());

    auto result = (*cache)->readRun(0, HookSelection::patterns({"blocks.1.*"}));
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ((*result)->tokens, run.tokens);
    ASSERT_EQ((*result)->edits.size(), 1u);
    EXPECT_EQ((*result)->edits[0].text(), "blocks.0.hook_mlp_out[0,3]=-1234.5");
    EXPECT_EQ((*result)->activations.size(), 4u);
    ASSERT_NE((*result)->activation("blocks.1.hook_mlp_out"), nullptr);
    EXPECT_EQ((*result)->activation("blocks.0.hook_mlp_out"), nullptr);
    EXPECT_TRUE(bitEqual((*result)->logits.values, run.logits->values));
}

TEST(CacheRoundTrip, AppendKeepsExistingRunsAndNumbersOnward) {
    ScratchDir dir;
    const fs::path file = dir / "a.h5";
    const CaptureRun r0 = syntheticRun(4, 10), r1 = syntheticRun(6, 11), r2 = syntheticRun(3, 12);
    ASSERT_TRUE(writeRuns(file, {r0}).ok());
    auto second = writeRuns(file, {r1, r2});
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(second->appendedRuns, (std::vector<int>{1, 2}));
    EXPECT_FALSE(second->rebased);
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok());
    ASSERT_EQ((*cache)->runs().size(), 3u);
    expectRunEqual(**cache, 0, r0);
    expectRunEqual(**cache, 1, r1);
    expectRunEqual(**cache, 2, r2);
}

TEST(CacheRoundTrip, WriterThatDoesNotCommitLeavesNothing) {
    ScratchDir dir;
    const fs::path file = dir / "u.h5";
    ASSERT_TRUE(writeRuns(file, {syntheticRun(4, 1)}).ok());
    const std::string before = readBytes(file);
    {
        auto w = ActivationCacheWriter::open(file, syntheticModel());
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE((*w)->appendRun(syntheticRun(5, 2)).ok());
        EXPECT_EQ(filesStartingWith(dir.path(), ".u.h5.tmp-").size(), 1u);
    }
    EXPECT_EQ(readBytes(file), before);
    EXPECT_TRUE(filesStartingWith(dir.path(), ".u.h5.tmp-").empty());
    {
        auto w = ActivationCacheWriter::open(dir / "new.h5", syntheticModel());
        ASSERT_TRUE((*w)->appendRun(syntheticRun(5, 2)).ok());
    }
    EXPECT_FALSE(fs::exists(dir / "new.h5"));
}

TEST(CacheRoundTrip, VocabularyRoundTripsAndIsKeptOnAppend) {
    ScratchDir dir;
    const fs::path file = dir / "v.h5";
    CacheModelInfo model = syntheticModel();
    for (int i = 0; i < 20000; ++i) {
        model.vocabPieces.push_back(i == 7 ? std::string(300, '=') : "\xe2\x96\x81tok" + std::to_string(i));
        model.vocabTexts.push_back(i == 3 ? "" : " tok" + std::to_string(i));
    }
    ASSERT_TRUE(writeRuns(file, {syntheticRun(3, 1)}, model).ok());
    ASSERT_TRUE(writeRuns(file, {syntheticRun(3, 2)}, syntheticModel()).ok());  // an append without a vocabulary
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_TRUE((*cache)->hasVocab());
    EXPECT_EQ((*cache)->vocabPieces(), model.vocabPieces);
    EXPECT_EQ((*cache)->vocabTexts(), model.vocabTexts);
    auto none = ActivationCacheWriter::open(dir / "nov.h5", syntheticModel());
    ASSERT_TRUE((*none)->commit().ok());
    auto plain = ActivationCache::open(dir / "nov.h5");
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE((*plain)->hasVocab());
    EXPECT_TRUE((*plain)->vocabPieces().empty());
}

TEST(CacheRoundTrip, CancelledAppendLeavesFileUnchanged) {
    ScratchDir dir;
    const fs::path file = dir / "c.h5";
    ASSERT_TRUE(writeRuns(file, {syntheticRun(4, 1)}).ok());
    const std::string before = readBytes(file);
    auto w = ActivationCacheWriter::open(file, syntheticModel());
    ASSERT_TRUE(w.ok());
    std::int64_t reported = 0;
    RunControl control([&](std::int64_t done, std::int64_t, const char*) { reported = done; });
    ASSERT_TRUE((*w)->appendRun(syntheticRun(5, 2), control).ok());
    EXPECT_EQ(reported, 8);  // progress per hook dataset
    control.cancel();
    auto r = (*w)->appendRun(syntheticRun(6, 3), control);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, kCancelledMessage);
    EXPECT_FALSE((*w)->commit().ok());
    EXPECT_EQ(readBytes(file), before);
    EXPECT_TRUE(filesStartingWith(dir.path(), ".c.h5.tmp-").empty());
}

TEST(CacheRoundTrip, CommitWithoutNewRunsLeavesFileUntouched) {
    ScratchDir dir;
    const fs::path file = dir / "same.h5";
    ASSERT_TRUE(writeRuns(file, {syntheticRun(4, 1)}).ok());
    const auto before = fs::last_write_time(file);
    const std::string bytes = readBytes(file);
    auto w = ActivationCacheWriter::open(file, syntheticModel());
    ASSERT_TRUE(w.ok());
    auto c = (*w)->commit();
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c->wroteFile);
    EXPECT_EQ(fs::last_write_time(file), before);
    EXPECT_EQ(readBytes(file), bytes);
    // A new target with no runs still becomes a valid, empty cache.
    auto e = ActivationCacheWriter::open(dir / "empty.h5", syntheticModel());
    ASSERT_TRUE((*e)->commit().ok());
    auto cache = ActivationCache::open(dir / "empty.h5");
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_TRUE((*cache)->runs().empty());
}

TEST(CacheRoundTrip, AnotherModelsCacheIsRefusedAndUnchanged) {
    ScratchDir dir;
    const fs::path file = dir / "m.h5";
    ASSERT_TRUE(writeRuns(file, {syntheticRun(4, 1)}).ok());
    const std::string before = readBytes(file);
    auto w = ActivationCacheWriter::open(file, syntheticModel("ffffffffffffffff"));
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().message.find(file.string()), std::string::npos);
    EXPECT_NE(w.error().message.find("another model"), std::string::npos);
    EXPECT_EQ(readBytes(file), before);
}

TEST(CacheRoundTrip, RefusesModelFoldersFoldersAndMissingFolders) {
    const fs::path modelDir = referenceModel("llama-planted");
    auto w = ActivationCacheWriter::open(modelDir / "acts.h5", syntheticModel());
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().message.find("model folder"), std::string::npos) << w.error().message;
    EXPECT_FALSE(fs::exists(modelDir / "acts.h5"));

    ScratchDir dir;
    fs::create_directory(dir / "sub");
    auto d = ActivationCacheWriter::open(dir / "sub", syntheticModel());
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("folder"), std::string::npos);
    auto m = ActivationCacheWriter::open(dir / "nope" / "x.h5", syntheticModel());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find("does not exist"), std::string::npos);
}

TEST(CacheRoundTrip, SymlinkedTargetUpdatesTheLinkedFile) {
    ScratchDir dir;
    fs::create_directory(dir / "real");
    const fs::path real = dir / "real" / "acts.h5";
    ASSERT_TRUE(writeRuns(real, {syntheticRun(3, 1)}).ok());
    fs::create_symlink(real, dir / "link.h5");
    ASSERT_TRUE(writeRuns(dir / "link.h5", {syntheticRun(4, 2)}).ok());
    EXPECT_TRUE(fs::is_symlink(dir / "link.h5"));
    auto cache = ActivationCache::open(real);
    ASSERT_TRUE(cache.ok());
    EXPECT_EQ((*cache)->runs().size(), 2u);
}

TEST(CacheRoundTrip, InvalidRunsAreRejectedBeforeWriting) {
    ScratchDir dir;
    auto w = ActivationCacheWriter::open(dir / "bad.h5", syntheticModel());
    ASSERT_TRUE(w.ok());
    CaptureRun run = syntheticRun(4, 1);
    run.hooks["blocks.0.hook_nonsense"] = tensor({4, 16}, 1);
    EXPECT_FALSE((*w)->appendRun(run).ok());
    run = syntheticRun(4, 1);
    run.hooks["blocks.0.hook_resid_post"] = tensor({5, 16}, 1);  // 5 rows for 4 tokens
    EXPECT_FALSE((*w)->appendRun(run).ok());
    run = syntheticRun(4, 1);
    run.tokens.clear();
    EXPECT_FALSE((*w)->appendRun(run).ok());
    // Validation errors leave the writer usable.
    EXPECT_TRUE((*w)->appendRun(syntheticRun(4, 1)).ok());
    EXPECT_TRUE((*w)->commit().ok());
}

TEST(CacheRoundTrip, LongPromptsAndManyRunsStayReadable) {
    ScratchDir dir;
    const fs::path file = dir / "long.h5";
    std::string prompt(200000, 'x');  // beyond HDF5's 64 KiB compact attribute limit
    std::vector<CaptureRun> runs;
    for (int i = 0; i < 12; ++i) runs.push_back(syntheticRun(2 + i, 100 + i, {}, i == 0 ? prompt : "p" + std::to_string(i)));
    ASSERT_TRUE(writeRuns(file, runs).ok());
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    ASSERT_EQ((*cache)->runs().size(), 12u);
    // Numeric order (10 after 9), not name order.
    for (int i = 0; i < 12; ++i) EXPECT_EQ((*cache)->runs()[static_cast<std::size_t>(i)].index, i);
    EXPECT_EQ((*cache)->run(0)->prompt, prompt);
    expectRunEqual(**cache, 11, runs[11]);
}

TEST(CacheReuse, FindRunMatchesTokensEditsHooksPrecisionAndModel) {
    ScratchDir dir;
    const fs::path file = dir / "k.h5";
    CaptureRun run = syntheticRun(4, 1, {}, "p", {"e1", "e2"});
    ASSERT_TRUE(writeRuns(file, {run}).ok());
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok());
    CacheRunKey key;
    key.tokens = run.tokens;
    key.edits = {"e1", "e2"};
    key.hooks = {"blocks.0.hook_resid_post", "blocks.1.attn.hook_pattern"};
    const std::string fp = syntheticModel().fingerprint;
    EXPECT_EQ((*cache)->findRun(fp, key), 0);
    EXPECT_EQ((*cache)->findRun("0000000000000000", key), std::nullopt);
    CacheRunKey k = key;
    k.edits = {"e2", "e1"};  // edits apply in order
    EXPECT_EQ((*cache)->findRun(fp, k), std::nullopt);
    k = key;
    k.hooks.push_back("blocks.0.hook_resid_pre");
    EXPECT_EQ((*cache)->findRun(fp, k), std::nullopt);
    k = key;
    k.tokens.push_back(1);
    EXPECT_EQ((*cache)->findRun(fp, k), std::nullopt);
    k = key;
    k.precision = "float64";
    EXPECT_EQ((*cache)->findRun(fp, k), std::nullopt);
    k = key;
    k.allPositionLogits = true;
    EXPECT_EQ((*cache)->findRun(fp, k), std::nullopt);
}

TEST(CacheReuse, TwoWritersOnOneTargetKeepBothRuns) {
    ScratchDir dir;
    const fs::path file = dir / "two.h5";
    ASSERT_TRUE(writeRuns(file, {syntheticRun(3, 1)}).ok());
    auto a = ActivationCacheWriter::open(file, syntheticModel());
    auto b = ActivationCacheWriter::open(file, syntheticModel());
    ASSERT_TRUE(a.ok() && b.ok());
    const CaptureRun ra = syntheticRun(4, 2), rb = syntheticRun(5, 3);
    ASSERT_EQ(*(*a)->appendRun(ra), 1);
    ASSERT_EQ(*(*b)->appendRun(rb), 1);
    auto ca = (*a)->commit();
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    EXPECT_FALSE(ca->rebased);
    auto cb = (*b)->commit();
    ASSERT_TRUE(cb.ok()) << cb.error().message;
    EXPECT_TRUE(cb->rebased);
    EXPECT_EQ(cb->appendedRuns, (std::vector<int>{2}));
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok());
    ASSERT_EQ((*cache)->runs().size(), 3u);
    expectRunEqual(**cache, 1, ra);
    expectRunEqual(**cache, 2, rb);
    EXPECT_TRUE(filesStartingWith(dir.path(), ".two.h5.tmp-").empty());
}

// The engine path: a real forward pass written, read back bit-exact, and
// recognised as reusable by captureRun without a second forward pass.
TEST(CacheEngine, ForwardResultRoundTripsAndIsReused) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok()) << model.error().message;
    Engine engine(*model);
    ScratchDir dir;
    const fs::path file = dir / "engine.h5";

    ForwardRequest req;
    req.tokens = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    req.record = HookSelection::captureDefault();
    const CacheModelInfo info = CacheModelInfo::fromModel(**model);
    EXPECT_EQ(info.fingerprint, (*model)->fingerprint());

    std::shared_ptr<const ForwardResult> computed;
    {
        auto w = ActivationCacheWriter::open(file, info);
        ASSERT_TRUE(w.ok()) << w.error().message;
        auto out = captureRun(**w, engine, req, "", nullptr);
        ASSERT_TRUE(out.ok()) << out.error().message;
        EXPECT_FALSE(out->reused);
        ASSERT_NE(out->result, nullptr);
        // The hooks went to the file as they were produced, not into the result.
        EXPECT_TRUE(out->result->activations.empty());
        // What the file must hold: the same request run without streaming.
        auto whole = engine.run(req);
        ASSERT_TRUE(whole.ok()) << whole.error().message;
        computed = *whole;
        EXPECT_TRUE(bitEqual(out->result->logits.values, computed->logits.values));
        // The same request again within one writer: reused.
        auto again = captureRun(**w, engine, req, "", nullptr);
        ASSERT_TRUE(again.ok());
        EXPECT_TRUE(again->reused);
        EXPECT_EQ(again->run, out->run);
        ASSERT_TRUE((*w)->commit().ok());
    }
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    const auto expected = req.record.resolve(hookLayoutOf((*model)->config()));
    ASSERT_EQ((*cache)->run(0)->hooks.size(), expected.size());
    for (const HookPoint& p : expected) {
        auto got = (*cache)->readHook(0, hookName(p));
        ASSERT_TRUE(got.ok()) << got.error().message;
        const ActivationTensor* want = computed->activation(p);
        ASSERT_NE(want, nullptr);
        EXPECT_EQ(got->shape, want->shape);
        EXPECT_TRUE(bitEqual(got->values, want->values)) << hookName(p);
    }
    auto logits = (*cache)->readLogits(0);
    ASSERT_TRUE(logits.ok());
    EXPECT_TRUE(bitEqual(logits->values, computed->logits.values));
    auto cfg = (*cache)->modelConfig();
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    EXPECT_EQ(cfg->numLayers, (*model)->config().numLayers);

    // A second process (writer) finds it; a subset of hooks is enough; an edit is not.
    auto w = ActivationCacheWriter::open(file, info);
    ASSERT_TRUE(w.ok());
    ForwardRequest subset = req;
    subset.record = HookSelection::patterns({"blocks.*.hook_mlp_out"});
    auto hit = captureRun(**w, engine, subset, "", nullptr);
    ASSERT_TRUE(hit.ok());
    EXPECT_TRUE(hit->reused);
    EXPECT_EQ(hit->result, nullptr);
    ForwardRequest edited = subset;
    edited.edits = parseEdits({"model.layers.1.mlp.down_proj.weight[13,57]=0"}, **model).value();
    auto miss = captureRun(**w, engine, edited, "", nullptr);
    ASSERT_TRUE(miss.ok()) << miss.error().message;
    EXPECT_FALSE(miss->reused);
    EXPECT_EQ(miss->run, 1);
    ASSERT_TRUE((*w)->commit().ok());
    auto reread = ActivationCache::open(file);
    ASSERT_TRUE(reread.ok());
    EXPECT_EQ((*reread)->run(1)->edits, (std::vector<std::string>{"model.layers.1.mlp.down_proj.weight[13,57]=0"}));
    EXPECT_EQ((*reread)->run(1)->hookPatterns, (std::vector<std::string>{"blocks.*.hook_mlp_out"}));
}

TEST(CacheEngine, EstimateCoversTheWrittenBytes) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok());
    Engine engine(*model);
    ForwardRequest req;
    req.tokens = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    req.record = HookSelection::captureDefault();
    auto result = engine.run(req);
    ASSERT_TRUE(result.ok());
    const CaptureRun run = CaptureRun::fromResult(**result, "", nullptr, req.record.patternList());
    std::uint64_t raw = run.logits->values.size() * 4;
    for (const auto& [n, t] : run.hooks) raw += t->values.size() * 4;
    const auto estimate = estimateRunBytes((*model)->config(), static_cast<std::int64_t>(req.tokens.size()),
                                           req.record.resolve(hookLayoutOf((*model)->config())), false);
    EXPECT_GE(estimate, raw);
    EXPECT_LE(estimate, raw + 1024 * 1024);
}

// HookSink: every recorded hook reaches the sink once, in execution order,
// with the values a run that keeps them has (bit for bit); the result keeps
// none. With incremental recompute the reused blocks' hooks are sent too.
struct Collect final : HookSink {
    std::vector<std::pair<HookPoint, ActivationTensor>> got;
    int failAt = -1;  // return an error at this call
    Status consume(HookPoint p, const ActivationTensor& t) override {
        if (static_cast<int>(got.size()) == failAt) return Error{"sink refused " + hookName(p)};
        got.emplace_back(p, t);
        return {};
    }
};

void expectSameAsKept(const Collect& sink, const ForwardResult& kept) {
    ASSERT_EQ(sink.got.size(), kept.activations.size());
    auto it = kept.activations.begin();
    for (std::size_t i = 0; i < sink.got.size(); ++i, ++it) {
        EXPECT_EQ(sink.got[i].first, it->first) << i;  // the map's order is execution order
        EXPECT_EQ(sink.got[i].second.shape, it->second->shape) << hookName(it->first);
        EXPECT_TRUE(bitEqual(sink.got[i].second.values, it->second->values)) << hookName(it->first);
    }
}

TEST(HookSink, StreamsEveryHookInExecutionOrder) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok()) << model.error().message;
    Engine engine(*model);
    ForwardRequest req;
    req.tokens = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    req.record = HookSelection::all();
    auto kept = engine.run(req);
    ASSERT_TRUE(kept.ok()) << kept.error().message;
    ASSERT_GT((*kept)->activations.size(), 20u);

    Collect sink;
    ForwardRequest streamed = req;
    streamed.sink = &sink;
    auto run = engine.run(streamed);
    ASSERT_TRUE(run.ok()) << run.error().message;
    EXPECT_TRUE((*run)->activations.empty());
    EXPECT_TRUE(bitEqual((*run)->logits.values, (*kept)->logits.values));
    expectSameAsKept(sink, **kept);

    // Incremental: an edit in block 1 recomputes from there; block 0's hooks
    // come from the previous run and are streamed as well.
    ForwardRequest edited = req;
    edited.edits = parseEdits({"model.layers.1.mlp.down_proj.weight[13,57]=0"}, **model).value();
    auto keptEdited = engine.run(edited);
    ASSERT_TRUE(keptEdited.ok());
    Collect incremental;
    ForwardRequest again = edited;
    again.previous = *kept;
    again.sink = &incremental;
    auto inc = engine.run(again);
    ASSERT_TRUE(inc.ok()) << inc.error().message;
    EXPECT_GT((*inc)->recomputedFromStage, 1);
    expectSameAsKept(incremental, **keptEdited);
}

TEST(HookSink, AnErrorStopsTheRun) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok());
    Engine engine(*model);
    ForwardRequest req;
    req.tokens = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    req.record = HookSelection::all();
    Collect sink;
    sink.failAt = 5;
    req.sink = &sink;
    auto run = engine.run(req);
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().message.rfind("sink refused ", 0), 0u) << run.error().message;
    EXPECT_EQ(sink.got.size(), 5u);
}

// A capture cancelled in the middle of its forward pass leaves no partial run:
// the writer stays usable and the committed file holds only finished runs.
TEST(CacheEngine, CancelledStreamedCaptureLeavesNoPartialRun) {
    auto model = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(model.ok());
    Engine engine(*model);
    ScratchDir dir;
    const fs::path file = dir / "cancel.h5";
    ForwardRequest req;
    req.tokens = referenceAnswers()["llama-planted"]["ids"].get<std::vector<TokenId>>();
    req.record = HookSelection::captureDefault();
    auto w = ActivationCacheWriter::open(file, CacheModelInfo::fromModel(**model));
    ASSERT_TRUE(w.ok());
    RunControl control;
    control.setProgressCallback([&control](std::int64_t done, std::int64_t, const char* stage) {
        if (std::string(stage) == "forward" && done == 1) control.cancel();  // after block 0's hooks were written
    });
    auto cancelled = captureRun(**w, engine, req, "", nullptr, control);
    ASSERT_FALSE(cancelled.ok());
    EXPECT_EQ(cancelled.error().message, kCancelledMessage);
    auto done = captureRun(**w, engine, req, "", nullptr);
    ASSERT_TRUE(done.ok()) << done.error().message;
    EXPECT_EQ(done->run, 0);
    ASSERT_TRUE((*w)->commit().ok());
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    ASSERT_EQ((*cache)->runs().size(), 1u);
    auto whole = engine.run(req);
    ASSERT_TRUE(whole.ok());
    for (const auto& [p, t] : (*whole)->activations) {
        auto got = (*cache)->readHook(0, hookName(p));
        ASSERT_TRUE(got.ok()) << got.error().message;
        EXPECT_TRUE(bitEqual(got->values, t->values)) << hookName(p);
    }
}

// Image runs (vision models): the pixel values are stored instead of token
// ids, read back bit for bit with the positions' layout, and the same image
// is recognised as the same run.
TEST(CacheEngine, ImageRunsRoundTripAndAreReused) {
    const fs::path folder = testData() / "vision" / "dinov2-registers-bf16";
    auto model = Model::open(folder);
    ASSERT_TRUE(model.ok()) << model.error().message;
    Engine engine(*model);
    auto px = loadNpy(folder / "pixels.npy");
    ASSERT_TRUE(px.ok()) << px.error().message;
    ForwardRequest req;
    req.pixels = std::make_shared<const PixelTensor>(std::move(px).value());
    req.record = HookSelection::all();
    ScratchDir dir;
    const fs::path file = dir / "image.h5";
    {
        auto w = ActivationCacheWriter::open(file, CacheModelInfo::fromModel(**model));
        ASSERT_TRUE(w.ok()) << w.error().message;
        auto out = captureRun(**w, engine, req, "", nullptr);
        ASSERT_TRUE(out.ok()) << out.error().message;
        EXPECT_FALSE(out->reused);
        auto again = captureRun(**w, engine, req, "", nullptr);
        ASSERT_TRUE(again.ok());
        EXPECT_TRUE(again->reused);
        // Another image (one value changed): a new run.
        auto other = std::make_shared<PixelTensor>(*req.pixels);
        other->values[5] += 0.25f;
        ForwardRequest changed = req;
        changed.pixels = other;
        auto miss = captureRun(**w, engine, changed, "", nullptr);
        ASSERT_TRUE(miss.ok()) << miss.error().message;
        EXPECT_FALSE(miss->reused);
        EXPECT_EQ(miss->run, 1);
        ASSERT_TRUE((*w)->commit().ok());
    }
    auto cache = ActivationCache::open(file);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    const CachedRunInfo* info = (*cache)->run(0);
    ASSERT_NE(info, nullptr);
    EXPECT_TRUE(info->tokens.empty());
    const auto& c = (*model)->config();
    EXPECT_EQ(info->pixelShape, (std::vector<std::int64_t>{req.pixels->channels, req.pixels->height, req.pixels->width}));
    EXPECT_EQ(info->positions(), c.imageTokenCount(req.pixels->height, req.pixels->width));
    ASSERT_EQ(info->tokenTexts.size(), static_cast<std::size_t>(info->positions()));
    EXPECT_EQ(info->tokenTexts[0], "CLS");
    EXPECT_EQ(info->tokenTexts[1], "register 0");
    EXPECT_EQ(info->tokenTexts.back().rfind("patch (", 0), 0u);
    auto back = (*cache)->readRun(0, HookSelection::all());
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_NE((*back)->pixels, nullptr);
    EXPECT_TRUE(bitEqual((*back)->pixels->values, req.pixels->values));
    EXPECT_EQ((*back)->registers, c.numRegisters);
    EXPECT_EQ((*back)->positions, info->positions());
    auto whole = engine.run(req);
    ASSERT_TRUE(whole.ok());
    ASSERT_EQ((*back)->activations.size(), (*whole)->activations.size());
    for (const auto& [p, t] : (*whole)->activations) {
        const ActivationTensor* got = (*back)->activation(p);
        ASSERT_NE(got, nullptr) << hookName(p);
        EXPECT_TRUE(bitEqual(got->values, t->values)) << hookName(p);
    }
    // The reader finds the image run by its pixels.
    EXPECT_EQ((*cache)->findRun((*model)->fingerprint(), CacheRunKey::forRequest(req, engine)), std::optional<int>(0));
    auto px1 = (*cache)->readPixels(1);
    ASSERT_TRUE(px1.ok());
    EXPECT_EQ(px1->values[5], req.pixels->values[5] + 0.25f);
}

}  // namespace
