// Damaged and foreign files: every one gives one clear error line naming the
// file (from the reader and from a writer asked to append), HDF5 prints
// nothing of its own, and the file is never modified.

#include <hdf5.h>

#include <malloc.h>

#include <random>

#include <gtest/gtest.h>

#include "superlens/core/cache/activation_cache.h"
#include "test_cache_support.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

fs::path makeValidCache(const ScratchDir& dir, const std::string& name, const CacheWriteOptions& options = {}) {
    const fs::path file = dir / name;
    auto w = ActivationCacheWriter::open(file, syntheticModel(), options);
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->appendRun(syntheticRun(20, 1)).ok());
    EXPECT_TRUE((*w)->appendRun(syntheticRun(30, 2)).ok());
    EXPECT_TRUE((*w)->commit().ok());
    return file;
}

// What the sanitizer build's runtime adds to stderr on its own: AddressSanitizer
// notes each allocation it refuses (allocator_may_return_null=1, as libc's
// malloc refuses it), here libhdf5's 2 TB request for a damaged header
// (regressions/cache/libhdf5-allocates-2tb-for-a-damaged-header.h5,
// docs/RELIABILITY.md). Any other line is HDF5's (or anyone's) noise.
std::string withoutSanitizerNotes(const std::string& text) {
    std::string kept;
    std::size_t begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        end = end == std::string::npos ? text.size() : end + 1;
        const std::string line = text.substr(begin, end - begin);
        if (line.find("WARNING: AddressSanitizer failed to allocate 0x") == std::string::npos) kept += line;
        begin = end;
    }
    return kept;
}

// Opens the file as reader and as appending writer; both must fail with one
// line that names the file and contains `expected`; the bytes stay the same.
void expectRefused(const fs::path& file, const std::string& expected) {
    const std::string before = readBytes(file);
    ::testing::internal::CaptureStderr();
    auto cache = ActivationCache::open(file);
    auto writer = ActivationCacheWriter::open(file, syntheticModel());
    const std::string hdf5Noise = withoutSanitizerNotes(::testing::internal::GetCapturedStderr());
    EXPECT_EQ(hdf5Noise, "") << "HDF5 printed its error stack";
    ASSERT_FALSE(cache.ok()) << file;
    ASSERT_FALSE(writer.ok()) << file;
    for (const std::string& m : {cache.error().message, writer.error().message}) {
        EXPECT_EQ(m.rfind(file.string() + ": ", 0), 0u) << m;
        EXPECT_NE(m.find(expected), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_LT(m.size(), 400u) << m;
    }
    EXPECT_EQ(readBytes(file), before);
    EXPECT_TRUE(filesStartingWith(file.parent_path(), "." + file.filename().string() + ".tmp-").empty());
}

// checksummed: HDF5's 1.8 formats as SuperLens writes them (superblock 2);
// otherwise libhdf5's default, the earliest format (superblock 0, no checksums).
void writeForeignHdf5(const fs::path& file, const char* formatAttr, int version, bool withFingerprint, bool checksummed = true) {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (checksummed) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110);
    const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    ASSERT_GE(f, 0);
    const hsize_t n = 4;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t ds = H5Dcreate2(f, "data", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const float v[4] = {1, 2, 3, 4};
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(space);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const auto strAttr = [&](const char* name, const char* value) {
        const hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        const hid_t a = H5Acreate2(f, name, t, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, &value);
        H5Aclose(a);
        H5Tclose(t);
    };
    if (formatAttr) {
        strAttr("format", formatAttr);
        const hid_t a = H5Acreate2(f, "version", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &version);
        H5Aclose(a);
        strAttr("model_config", "{}");
        if (withFingerprint) strAttr("model_fingerprint", "00112233aabbccdd");
        const hid_t g = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
    }
    H5Sclose(scalar);
    H5Fclose(f);
}

TEST(CacheDamaged, RandomBytesEmptyAndTextFilesAreNotCaches) {
    ScratchDir dir;
    std::mt19937 rng(7);
    std::string noise(1 << 20, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    writeBytes(dir / "noise.h5", noise);
    expectRefused(dir / "noise.h5", "not an HDF5 file");
    writeBytes(dir / "empty.h5", "");
    expectRefused(dir / "empty.h5", "empty file");
    writeBytes(dir / "notes.h5", "these are my notes, not activations\n");
    expectRefused(dir / "notes.h5", "not an HDF5 file");
}

TEST(CacheDamaged, TruncatedCachesAreRefusedAtEveryLength) {
    ScratchDir dir;
    const fs::path good = makeValidCache(dir, "good.h5");
    const std::string bytes = readBytes(good);
    ASSERT_GT(bytes.size(), 10000u);
    for (const std::size_t keep : {std::size_t{4}, std::size_t{8}, std::size_t{100}, std::size_t{2000}, bytes.size() / 4, bytes.size() / 2,
                                   bytes.size() * 9 / 10, bytes.size() - 1}) {
        const fs::path cut = dir / ("cut" + std::to_string(keep) + ".h5");
        writeBytes(cut, bytes.substr(0, keep));
        SCOPED_TRACE(keep);
        // Below the signature it is "not an HDF5 file"; a signature without
        // its superblock, or beyond it the end-of-file address of the
        // superblock, is reported as damaged or truncated.
        expectRefused(cut, keep < 8 ? "not an HDF5 file" : (keep < 48 ? "damaged or truncated HDF5 file" : "truncated"));
    }
}

TEST(CacheDamaged, ForeignHdf5FilesAreNotOverwritten) {
    ScratchDir dir;
    writeForeignHdf5(dir / "foreign.h5", nullptr, 0, false);
    expectRefused(dir / "foreign.h5", "not a SuperLens activation cache");
    writeForeignHdf5(dir / "other-format.h5", "some-other-tool", 1, true);
    expectRefused(dir / "other-format.h5", "'some-other-tool'");
    writeForeignHdf5(dir / "newer.h5", kCacheFormat, 2, true);
    expectRefused(dir / "newer.h5", "newer SuperLens");
    writeForeignHdf5(dir / "half.h5", kCacheFormat, 1, false);
    expectRefused(dir / "half.h5", "damaged SuperLens activation cache: missing attribute 'model_fingerprint'");
}

// SuperLens writes superblock version 2 (checksummed metadata); a file in
// HDF5's earliest format, whatever it holds, is refused before libhdf5 parses
// it: libhdf5 1.10 reads freed and out-of-bounds memory on damaged ones.
TEST(CacheDamaged, FilesWithoutChecksumsAreRefused) {
    ScratchDir dir;
    writeForeignHdf5(dir / "earliest.h5", kCacheFormat, 1, true, false);
    const std::string bytes = readBytes(dir / "earliest.h5");
    ASSERT_GT(bytes.size(), 9u);
    EXPECT_EQ(bytes[8], 0) << "libhdf5's default format has superblock version 0";
    expectRefused(dir / "earliest.h5", "not a SuperLens activation cache (an HDF5 file with superblock version 0, a format without checksums");
    // The same file after a 512-byte user block (libhdf5 looks at 0, 512, 1024, ...).
    writeBytes(dir / "userblock.h5", std::string(512, ' ') + bytes);
    expectRefused(dir / "userblock.h5", "superblock version 0");
    // What SuperLens writes opens.
    const fs::path good = makeValidCache(dir, "good.h5");
    EXPECT_EQ(readBytes(good)[8], 2);
    EXPECT_TRUE(ActivationCache::open(good).ok());
}

TEST(CacheDamaged, RunWithBrokenMetadataIsReportedAsDamaged) {
    ScratchDir dir;
    const fs::path file = makeValidCache(dir, "meta.h5");
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t g = H5Gopen2(f, "/runs/1", H5P_DEFAULT);
    H5Adelete(g, "edits");
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    const char* text = "[not json";
    const hid_t a = H5Acreate2(g, "edits", t, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &text);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(scalar);
    H5Gclose(g);
    H5Fclose(f);
    expectRefused(file, "damaged SuperLens activation cache: /runs/1 attribute 'edits' is not valid JSON");
}

// A damaged file either opens, and then every hook reads or fails naming the
// file, or is refused in one line naming it; HDF5 prints nothing either way.
// True when it opened.
bool readsOrRefusesCleanly(const fs::path& file, const std::string& label) {
    ::testing::internal::CaptureStderr();
    auto cache = ActivationCache::open(file);
    if (cache.ok()) {
        for (const auto& run : (*cache)->runs()) {
            for (const auto& h : run.hooks) {
                auto t = (*cache)->readHook(run.index, h.name);
                if (!t.ok()) {
                    EXPECT_EQ(t.error().message.rfind(file.string(), 0), 0u) << label;
                }
            }
        }
    } else {
        EXPECT_EQ(cache.error().message.rfind(file.string() + ": ", 0), 0u) << label;
        EXPECT_EQ(cache.error().message.find('\n'), std::string::npos) << label;
    }
    EXPECT_EQ(withoutSanitizerNotes(::testing::internal::GetCapturedStderr()), "") << label;
    return cache.ok();
}

// Overwriting bytes anywhere must end in a clean error or a readable file,
// never in a crash, a hang or HDF5 output on stderr.
TEST(CacheDamaged, OverwrittenBytesNeverCrashTheReader) {
    ScratchDir dir;
    const fs::path good = makeValidCache(dir, "good.h5");
    const std::string bytes = readBytes(good);
    // --gtest_random_seed=N explores other damage patterns.
    std::mt19937 rng(11u + static_cast<unsigned>(::testing::UnitTest::GetInstance()->random_seed()));
    int refused = 0;
    for (int trial = 0; trial < 60; ++trial) {
        std::string damaged = bytes;
        // Half the trials hit the first 4 KiB, where the superblock and the
        // root object headers live (checksummed in the 1.8 format).
        const std::size_t span = trial % 2 == 0 ? std::min<std::size_t>(4096, bytes.size()) : bytes.size();
        const std::size_t at = rng() % (span - 16);
        for (int i = 0; i < 16; ++i) damaged[at + static_cast<std::size_t>(i)] = static_cast<char>(rng());
        const fs::path file = dir / ("d" + std::to_string(trial) + ".h5");
        writeBytes(file, damaged);
        if (!readsOrRefusesCleanly(file, "trial " + std::to_string(trial))) ++refused;
    }
    EXPECT_GT(refused, 5);
}

// One flipped bit anywhere in a run group's links. A run holds more than
// eight links, so HDF5 keeps them in dense storage (a fractal heap and a
// B-tree); listing such a group with H5Literate crashed libhdf5 1.10 when a
// damaged entry stopped its table halfway (it frees the unfilled entries),
// in about a quarter of these flips (the issue's "one flipped byte in a run
// group's link storage"). Every flip must end in a clean refusal or a
// readable file, with nothing from HDF5 on stderr.
TEST(CacheDamaged, FlippedBitsInARunsLinksNeverCrashTheReader) {
    ScratchDir dir;
    const fs::path good = dir / "good.h5";
    {
        // As many links as a small model's run (the demo's has 48).
        SyntheticShape shape;
        shape.layers = 10;
        auto w = ActivationCacheWriter::open(good, syntheticModel());
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE((*w)->appendRun(syntheticRun(6, 1, shape)).ok());
        ASSERT_TRUE((*w)->commit().ok());
    }
    const std::string bytes = readBytes(good);
    // The link names live in the heap's direct blocks; the B-tree and the
    // heap's header sit around them.
    const std::string name = "hook_resid_post";
    const std::size_t first = bytes.find(name), last = bytes.rfind(name);
    ASSERT_NE(first, std::string::npos);
    const std::size_t begin = first > 1024 ? first - 1024 : 0;
    const std::size_t end = std::min(bytes.size(), last + 1024);
    int refused = 0, read = 0;
    const fs::path file = dir / "flipped.h5";
    // The entries libhdf5 freed were never written: in a fresh process they
    // are often zero (a harmless free(NULL)). Filling every allocation with
    // a pattern, as glibc's M_PERTURB does, makes the crash certain.
    mallopt(M_PERTURB, 0xa5);
    for (std::size_t at = begin; at < end; at += 3) {
        std::string damaged = bytes;
        damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
        writeBytes(file, damaged);
        if (readsOrRefusesCleanly(file, "byte " + std::to_string(at))) ++read;
        else ++refused;
    }
    mallopt(M_PERTURB, 0);
    EXPECT_GT(refused, 100);
    EXPECT_GT(read, 0);
}

// Where the first (only) chunk of a dataset lies in the file.
std::pair<std::size_t, std::size_t> chunkBytes(const fs::path& file, const char* dataset) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(f, dataset, H5P_DEFAULT);
    hsize_t offset[3] = {0, 0, 0};
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    const herr_t rc = H5Dget_chunk_info_by_coord(ds, offset, &mask, &addr, &size);
    H5Dclose(ds);
    H5Fclose(f);
    EXPECT_GE(rc, 0) << dataset;
    return {static_cast<std::size_t>(addr), static_cast<std::size_t>(size)};
}

// Token ids and strings always carry a Fletcher-32 checksum, and so do the
// values of a compressed cache: one flipped byte there is reported by the
// read that meets it (a hook, when it is read; the token ids, when the cache
// is opened), never returned as data. (Uncompressed values are not
// checksummed: docs/CACHE.md, "Safety".)
TEST(CacheDamaged, AFlippedByteInStoredValuesIsReported) {
    ScratchDir dir;
    CacheWriteOptions gzip;
    gzip.compression.gzipLevel = 1;
    const fs::path good = makeValidCache(dir, "good.h5", gzip);
    const std::string bytes = readBytes(good);
    auto flipped = [&](const fs::path& from, const char* dataset, const std::string& name) {
        const auto [at, size] = chunkBytes(from, dataset);
        EXPECT_GT(size, 8u);
        std::string damaged = readBytes(from);
        damaged[at + size / 2] = static_cast<char>(damaged[at + size / 2] ^ 0x01);
        const fs::path file = dir / name;
        writeBytes(file, damaged);
        return file;
    };
    {
        const fs::path file = flipped(good, "/runs/1/blocks.0.hook_resid_post", "value.h5");
        ::testing::internal::CaptureStderr();
        auto cache = ActivationCache::open(file);
        ASSERT_TRUE(cache.ok()) << cache.error().message;
        EXPECT_TRUE((*cache)->readHook(1, "blocks.1.hook_resid_post").ok());
        auto t = (*cache)->readHook(1, "blocks.0.hook_resid_post");
        EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
        ASSERT_FALSE(t.ok());
        EXPECT_EQ(t.error().message.rfind(file.string() + ": ", 0), 0u) << t.error().message;
        EXPECT_NE(t.error().message.find("blocks.0.hook_resid_post"), std::string::npos) << t.error().message;
        EXPECT_NE(t.error().message.find("Fletcher32 checksum"), std::string::npos) << t.error().message;
        EXPECT_EQ(t.error().message.find('\n'), std::string::npos);
    }
    expectRefused(flipped(good, "/runs/1/token_ids", "ids.h5"), "Fletcher32 checksum");
    // Uncompressed (the default): the token ids are still checked.
    expectRefused(flipped(makeValidCache(dir, "plain.h5"), "/runs/1/token_ids", "plain-ids.h5"), "Fletcher32 checksum");
    // The same bytes, unflipped, read back as written.
    auto cache = ActivationCache::open(good);
    ASSERT_TRUE(cache.ok());
    EXPECT_TRUE((*cache)->readHook(1, "blocks.0.hook_resid_post").ok());
    EXPECT_EQ(readBytes(good), bytes);
}

}  // namespace

// Found by fuzz_cache under libFuzzer: a cache whose root group's object
// header is damaged. libhdf5 1.10 fails inside H5Fopen and leaks a
// metadata-cache entry (tests/lsan.supp); SuperLens must still refuse the
// file in one line, from the reader and from a writer asked to append, and
// leave it unchanged. (The copy keeps the stored regression input intact.)
TEST(CacheDamaged, DamagedHeadersFoundByTheFuzzer) {
    ScratchDir dir;
    // fuzz_cache's findings in files of HDF5's earliest format (superblock 0,
    // no checksums), all in libhdf5 1.10: a damaged root group whose failed
    // open leaks a metadata-cache entry; a damaged header for which libhdf5
    // asks malloc for 2 TB; attribute messages that H5Aexists decodes from
    // freed or out-of-bounds memory (three inputs, two found in session 7);
    // and the seed of a SuperLens over-allocation (below). Such files are now
    // refused before libhdf5 parses them, in one line, unchanged.
    const fs::path regressions = fs::path(SUPERLENS_SOURCE_DIR) / "tests" / "fuzz" / "regressions" / "cache";
    for (const char* name : {"libhdf5-leaks-on-a-damaged-root-group.h5", "libhdf5-allocates-2tb-for-a-damaged-header.h5",
                             "libhdf5-heap-use-after-free-in-H5Aexists.h5", "libhdf5-heap-overflow-in-H5Aexists.h5",
                             "libhdf5-heap-overflow-in-H5Aexists-2.h5", "token-ids-declaring-3-tera-values.h5"}) {
        SCOPED_TRACE(name);
        const fs::path copy = dir / name;
        writeBytes(copy, readBytes(regressions / name));
        ASSERT_GT(readBytes(copy).size(), 9u);
        expectRefused(copy, "superblock version 0");
    }
    // A run's token_ids whose shape declares 3 x 2^40 values: the reader
    // allocated them (std::bad_alloc, or the whole memory for a smaller
    // count) before HDF5 found the data missing. Now every dataset read whole
    // must have storage in the file for what its shape declares. (The
    // fuzzer's file was of the earliest format; this one is SuperLens's own.)
    const fs::path ids = makeValidCache(dir, "ids.h5");
    {
        const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110);
        const hid_t f = H5Fopen(ids.c_str(), H5F_ACC_RDWR, fapl);
        H5Pclose(fapl);
        ASSERT_GE(f, 0);
        ASSERT_GE(H5Ldelete(f, "/runs/0/token_ids", H5P_DEFAULT), 0);
        const hsize_t n = 3 * (hsize_t{1} << 40) + 3, chunk = 1024;
        const hid_t space = H5Screate_simple(1, &n, nullptr);
        const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 1, &chunk);
        const hid_t ds = H5Dcreate2(f, "/runs/0/token_ids", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        ASSERT_GE(ds, 0);
        H5Dclose(ds);
        H5Pclose(dcpl);
        H5Sclose(space);
        H5Fclose(f);
    }
    EXPECT_EQ(readBytes(ids)[8], 2);
    const std::string before = readBytes(ids);
    auto cache = ActivationCache::open(ids);
    ASSERT_FALSE(cache.ok());
    EXPECT_EQ(cache.error().message, ids.string() +
                                         ": damaged SuperLens activation cache: /runs/0: dataset 'token_ids' declares 3298534883331 values but "
                                         "the file stores 0 bytes of it (damaged shape)");
    EXPECT_FALSE(ActivationCacheWriter::open(ids, syntheticModel()).ok());
    EXPECT_EQ(readBytes(ids), before);
}
