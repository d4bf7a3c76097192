// MappedFile (core/model/mapped_file.h): the page-cache mapping, and the copy
// into anonymous 2 MiB-aligned huge pages that SUPERLENS_HUGE_PAGES=1 asks
// for (docs/PERFORMANCE.md, issue 22): the same bytes, aligned, the same
// errors, and a model opened either way computes the same logits bit for bit.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "superlens/core/engine/engine.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/model/model.h"
#include "test_paths.h"

using namespace superlens::core;
using superlens::test::referenceModel;

namespace {

// Sets SUPERLENS_HUGE_PAGES for one scope.
struct HugePages {
    explicit HugePages(bool on) {
        if (on) ::setenv("SUPERLENS_HUGE_PAGES", "1", 1);
        else ::unsetenv("SUPERLENS_HUGE_PAGES");
    }
    ~HugePages() { ::unsetenv("SUPERLENS_HUGE_PAGES"); }
};

std::filesystem::path writeFile(const std::string& name, std::size_t size) {
    const auto path = std::filesystem::temp_directory_path() / ("superlens_test_mapped_" + std::to_string(::getpid()) + "_" + name);
    std::vector<char> bytes(size);
    std::uint32_t x = 12345;
    for (char& b : bytes) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<char>(x >> 24);
    }
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

TEST(MappedFile, HugePageCopyHoldsTheSameBytesOnA2MiBBoundary) {
    // Whole huge pages, a ragged tail, one byte.
    for (std::size_t size : {std::size_t{5} << 20, (std::size_t{5} << 20) + 1234, std::size_t{1}}) {
        const auto path = writeFile(std::to_string(size), size);
        std::shared_ptr<const MappedFile> mapped, copied;
        {
            HugePages off(false);
            auto m = MappedFile::open(path);
            ASSERT_TRUE(m) << m.error().message;
            mapped = *m;
        }
        {
            HugePages on(true);
            auto c = MappedFile::open(path);
            ASSERT_TRUE(c) << c.error().message;
            copied = *c;
        }
        ASSERT_EQ(copied->size(), size);
        ASSERT_EQ(mapped->size(), size);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(copied->data()) % (std::uintptr_t{2} << 20), 0u) << size;
        EXPECT_EQ(std::memcmp(copied->data(), mapped->data(), size), 0) << size;
        copied.reset();  // unmapped like a file mapping
        mapped.reset();
        std::filesystem::remove(path);
    }
}

TEST(MappedFile, HugePageCopyOfEmptyAndMissingFiles) {
    HugePages on(true);
    const auto empty = writeFile("empty", 0);
    auto e = MappedFile::open(empty);
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ((*e)->size(), 0u);
    std::filesystem::remove(empty);
    const auto missing = std::filesystem::temp_directory_path() / "superlens_test_mapped_no_such_file";
    auto m = MappedFile::open(missing);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find(missing.string()), std::string::npos) << m.error().message;
}

TEST(MappedFile, ModelFromHugePagesGivesTheSameLogits) {
    for (const char* name : {"llama-planted", "qwen2-f16-tied"}) {
        std::vector<float> logits[2];
        for (int on = 0; on < 2; ++on) {
            HugePages env(on == 1);
            auto model = Model::open(referenceModel(name));
            ASSERT_TRUE(model) << model.error().message;
            Engine engine(*model);
            ForwardRequest req;
            req.tokens = {1, 5, 77, 130, 12, 200, 99, 31};
            auto run = engine.run(req);
            ASSERT_TRUE(run) << run.error().message;
            logits[on] = (*run)->logits.values;
        }
        ASSERT_FALSE(logits[0].empty());
        EXPECT_EQ(logits[0], logits[1]) << name;
    }
}

}  // namespace
