// Outputs (figures, tables, study files, experiments, caches) go through one
// rule: never into a model folder, never a torn file under the final name.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "superlens/core/system/output_file.h"

using namespace superlens::core;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir() {
        static int s_counter = 0;
        m_dir = fs::temp_directory_path() / ("superlens-output-test-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++));
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    ~TempDir() { fs::remove_all(m_dir); }
    const fs::path& path() const { return m_dir; }

private:
    fs::path m_dir;
};

void touch(const fs::path& p, const std::string& bytes = "x") { std::ofstream(p, std::ios::binary) << bytes; }
std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
int countTemporaries(const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".tmp-") != std::string::npos ? 1 : 0;
    return n;
}
bool mentions(const Status& s, const std::string& fragment) { return !s.ok() && s.error().message.find(fragment) != std::string::npos; }

}  // namespace

TEST(OutputFile, ModelFoldersAreRecognised) {
    TempDir d;
    EXPECT_FALSE(isModelFolder(d.path()));
    touch(d.path() / "config.json", "{}");
    EXPECT_FALSE(isModelFolder(d.path())) << "config.json alone is not a checkpoint";
    touch(d.path() / "model-00001-of-00002.safetensors");
    EXPECT_TRUE(isModelFolder(d.path()));
    TempDir g;
    touch(g.path() / "notes.txt");
    EXPECT_FALSE(isModelFolder(g.path()));
    touch(g.path() / "tinyllama-Q4_K_M.gguf");
    EXPECT_TRUE(isModelFolder(g.path())) << "a folder of GGUF files holds models";
}

TEST(OutputFile, RefusesModelFoldersMissingFoldersFoldersAndDevices) {
    TempDir d;
    touch(d.path() / "config.json", "{}");
    touch(d.path() / "model.safetensors");
    const Status inModel = checkOutputFile(d.path() / "fig.pdf", "the figure");
    EXPECT_TRUE(mentions(inModel, "refusing to write into the model folder")) << inModel.error().message;
    EXPECT_TRUE(mentions(inModel, "put the figure elsewhere"));
    EXPECT_EQ(inModel.error().message.rfind((d.path() / "fig.pdf").string() + ": ", 0), 0u) << "the message starts with the file";

    // Nor into a folder inside a checkpoint (issue 15: capture --out MODEL/sub/acts.h5).
    fs::create_directories(d.path() / "sub" / "deeper");
    const Status inSub = checkOutputFile(d.path() / "sub" / "deeper" / "acts.h5", "the cache");
    EXPECT_TRUE(mentions(inSub, "refusing to write into the model folder " + fs::weakly_canonical(d.path()).string() + " ")) << inSub.error().message;
    // A .gguf file makes only its own folder a model folder.
    TempDir downloads;
    touch(downloads.path() / "tinyllama-Q4_K_M.gguf");
    fs::create_directories(downloads.path() / "figures");
    EXPECT_TRUE(mentions(checkOutputFile(downloads.path() / "fig.pdf", "the figure"), "refusing to write into the model folder"));
    EXPECT_TRUE(checkOutputFile(downloads.path() / "figures" / "fig.pdf", "the figure").ok());
    EXPECT_EQ(enclosingModelFolder(d.path() / "sub"), d.path());  // as given, not resolved
    EXPECT_EQ(enclosingModelFolder(downloads.path() / "figures"), fs::path());

    TempDir out;
    EXPECT_TRUE(checkOutputFile(out.path() / "fig.pdf", "the figure").ok());
    EXPECT_TRUE(mentions(checkOutputFile(out.path() / "nope" / "fig.pdf", "the figure"), "does not exist"));
    fs::create_directories(out.path() / "adir");
    EXPECT_TRUE(mentions(checkOutputFile(out.path() / "adir", "the figure"), "is a folder"));
    ASSERT_EQ(::mkfifo((out.path() / "pipe.csv").c_str(), 0600), 0);
    EXPECT_TRUE(mentions(checkOutputFile(out.path() / "pipe.csv", "the table"), "not a regular file"));
    // A symbolic link into a model folder is refused like the folder itself.
    fs::create_symlink(d.path() / "fig.pdf", out.path() / "link.pdf");
    EXPECT_TRUE(mentions(checkOutputFile(out.path() / "link.pdf", "the figure"), "refusing to write into the model folder"));
    fs::create_symlink(fs::relative(d.path(), out.path()) / "table.csv", out.path() / "relative.csv");
    EXPECT_TRUE(mentions(checkOutputFile(out.path() / "relative.csv", "the table"), "refusing to write into the model folder"));
    EXPECT_EQ(resolveOutputPath(out.path() / "relative.csv"), fs::weakly_canonical(d.path()) / "table.csv");
    // A loop of links is refused, not followed forever.
    fs::create_symlink(out.path() / "b.csv", out.path() / "a.csv");
    fs::create_symlink(out.path() / "a.csv", out.path() / "b.csv");
    EXPECT_TRUE(mentions(checkOutputFile(out.path() / "a.csv", "the table"), "cannot resolve"));
}

TEST(OutputFile, WritesReplaceAtomicallyAndLeaveNoTemporaries) {
    TempDir d;
    const fs::path target = d.path() / "table.csv";
    ASSERT_TRUE(writeFileAtomically(target, "a,b\n1,2\n", "the table").ok());
    EXPECT_EQ(slurp(target), "a,b\n1,2\n");
    ASSERT_TRUE(writeFileAtomically(target, "new", "the table").ok());
    EXPECT_EQ(slurp(target), "new");
    ASSERT_TRUE(writeFileAtomically(target, "", "the table").ok());
    EXPECT_EQ(slurp(target), "");
    EXPECT_EQ(countTemporaries(d.path()), 0);
    // Through a link, the file it points to is replaced and the link stays.
    const fs::path real = d.path() / "real.md";
    touch(real, "old");
    fs::create_symlink(real, d.path() / "link.md");
    ASSERT_TRUE(writeFileAtomically(d.path() / "link.md", "via link", "the table").ok());
    EXPECT_TRUE(fs::is_symlink(d.path() / "link.md"));
    EXPECT_EQ(slurp(real), "via link");
    // The temporary keeps the extension (writers that pick a format by it).
    auto tmp = makeTemporaryBeside(d.path() / "fig.pdf");
    ASSERT_TRUE(tmp.ok());
    EXPECT_EQ(tmp->extension(), ".pdf");
    EXPECT_EQ(tmp->parent_path(), d.path());
    ASSERT_TRUE(commitTemporary(*tmp, d.path() / "fig.pdf").ok());
    EXPECT_TRUE(fs::exists(d.path() / "fig.pdf"));
    EXPECT_FALSE(fs::exists(*tmp));
    // Refused writes create nothing.
    TempDir model;
    touch(model.path() / "config.json", "{}");
    touch(model.path() / "model.safetensors");
    EXPECT_FALSE(writeFileAtomically(model.path() / "out.md", "x", "the table").ok());
    EXPECT_EQ(std::distance(fs::directory_iterator(model.path()), fs::directory_iterator()), 2);
}

TEST(OutputFile, AWriterKilledMidWriteLeavesTheOldFileOrTheNewOne) {
    TempDir d;
    const fs::path target = d.path() / "big.csv";
    const std::string oldBytes(1 << 20, 'o');
    ASSERT_TRUE(writeFileAtomically(target, oldBytes, "the table").ok());
    const std::string newBytes(48 << 20, 'n');
    std::mt19937 rng(7);
    int killedMidWrite = 0, finished = 0;
    for (int attempt = 0; attempt < 12; ++attempt) {
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            const bool ok = writeFileAtomically(target, newBytes, "the table").ok();
            ::_exit(ok ? 0 : 3);
        }
        ::usleep(std::uniform_int_distribution<int>(0, 60000)(rng));
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        if (WIFSIGNALED(status)) ++killedMidWrite;
        else ++finished;
        const std::string now = slurp(target);
        ASSERT_TRUE(now == oldBytes || now == newBytes) << "a torn file of " << now.size() << " bytes";
        if (now == newBytes) ASSERT_TRUE(writeFileAtomically(target, oldBytes, "the table").ok());
        // Temporaries of killed writers may stay (they are hidden and named so); clean them.
        for (const auto& e : fs::directory_iterator(d.path())) {
            if (e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(e.path());
        }
    }
    EXPECT_GE(killedMidWrite, 1) << "no writer was killed before it finished (" << finished << " finished)";
}
