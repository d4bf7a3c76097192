// bench/page_state.h: the share of a model's mapped files that the process
// reads through 2 MiB pages, from /proc/self/smaps (bench_forward reports it
// beside its decode rates).
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>
#include <unistd.h>

#include "page_state.h"

namespace {

using superlens::bench::MappedPages;
using superlens::bench::mappedPages;

// The fields of /proc/PID/smaps that matter, in its layout (Linux 6.x).
const char* kSmaps =
    "7f0000000000-7f0040000000 r--p 00000000 fd:01 1001                       /m/model/model-00001-of-00002.safetensors\n"
    "Size:            1048576 kB\n"
    "Rss:                1000 kB\n"
    "Pss:                1000 kB\n"
    "FilePmdMapped:       512 kB\n"
    "AnonHugePages:         0 kB\n"
    "VmFlags: rd mr mw me sd\n"
    "7f0040000000-7f0040100000 r--p 00000000 fd:01 1002                       /m/model/with space.safetensors\n"
    "Rss:                  24 kB\n"
    "FilePmdMapped:         0 kB\n"
    "7f0050000000-7f0050200000 r--p 00000000 fd:01 1003                       /m/model2/model.safetensors\n"
    "Rss:                2048 kB\n"
    "FilePmdMapped:      2048 kB\n"
    "7f0060000000-7f0060400000 rw-p 00000000 00:00 0 \n"
    "Rss:                4096 kB\n"
    "AnonHugePages:      4096 kB\n"
    "7f0070000000-7f0070200000 r--p 00000000 fd:01 1004                       /m/model.gguf\n"
    "Rss:                 300 kB\n"
    "FilePmdMapped:       200 kB\n"
    "7f0080000000-7f0080200000 r--p 00000000 fd:01 1005                       /m/model.gguf.bak\n"
    "Rss:                 700 kB\n"
    "FilePmdMapped:       700 kB\n"
    "7f0090000000-7f0090200000 r--p 00000000 fd:01 1006                       /m/my model/model.safetensors\n"
    "Rss:                2048 kB\n"
    "FilePmdMapped:      2048 kB\n";

// The fixture's totals for `model`, as {mappings, Rss kB, FilePmdMapped kB}.
std::tuple<int, std::uint64_t, std::uint64_t> parse(const std::string& model) {
    std::istringstream in(kSmaps);
    const MappedPages p = mappedPages(in, model);
    return {p.mappings, p.residentKb, p.pmdKb};
}

using Totals = std::tuple<int, std::uint64_t, std::uint64_t>;

}  // namespace

TEST(PageState, SumsTheMappingsOfTheFolderOnly) {
    // Both shards, one with a space in its name; not /m/model2 (which only
    // shares the prefix), not the anonymous region (its AnonHugePages).
    EXPECT_EQ(parse("/m/model"), Totals(2, 1024, 512));
}

TEST(PageState, AFileModelIsMatchedWhole) { EXPECT_EQ(parse("/m/model.gguf"), Totals(1, 300, 200)); }

TEST(PageState, AFolderWithASpaceInItsName) { EXPECT_EQ(parse("/m/my model"), Totals(1, 2048, 2048)); }

TEST(PageState, NothingMappedGivesZero) {
    EXPECT_EQ(parse("/elsewhere"), Totals(0, 0, 0));
    EXPECT_EQ(parse(""), Totals(0, 0, 0));
}

TEST(PageState, ThisProcessMappingAFile) {
    char dir[] = "/tmp/superlens_page_state_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string file = std::string(dir) + "/weights.bin";
    constexpr std::size_t kBytes = 256 * 1024;
    {
        std::ofstream out(file, std::ios::binary);
        const std::string block(kBytes, 'x');
        out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    std::FILE* f = std::fopen(file.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    void* p = mmap(nullptr, kBytes, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    std::fclose(f);
    ASSERT_NE(p, MAP_FAILED);
    unsigned sum = 0;
    for (std::size_t i = 0; i < kBytes; i += 4096) sum += static_cast<const unsigned char*>(p)[i];  // every page resident
    EXPECT_EQ(sum, 64u * 'x');
    const MappedPages mapped = mappedPages(std::filesystem::path(dir));
    EXPECT_EQ(mapped.mappings, 1);
    EXPECT_EQ(mapped.residentKb, kBytes / 1024);
    EXPECT_LE(mapped.pmdKb, mapped.residentKb);
    // The same asked of this process by its number (as bench_forward --pages-of asks of another).
    const MappedPages byPid = mappedPages(std::filesystem::path(dir), static_cast<long>(getpid()));
    EXPECT_EQ(byPid.mappings, 1);
    EXPECT_EQ(byPid.residentKb, kBytes / 1024);
    munmap(p, kBytes);
    EXPECT_EQ(mappedPages(std::filesystem::path(dir)).mappings, 0);
    EXPECT_EQ(mappedPages(std::filesystem::path(dir) / "missing").mappings, 0);
    std::filesystem::remove_all(dir);
}
