// Crash and disk-full safety of the activation cache writer:
//  - a writer process SIGKILLed while copying, while writing runs, or at any
//    moment of its life leaves the old file byte for byte (or the complete
//    new one once renamed); its temporary is swept by the next writer;
//  - a write that hits a full disk (a real tmpfs when we may mount one, and
//    a file-size limit otherwise) reports it and leaves the old file intact.

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "superlens/core/cache/activation_cache.h"
#include "test_cache_support.h"

using namespace superlens::core;
using namespace superlens::test;

namespace {

SyntheticShape bigShape() {
    SyntheticShape s;
    s.layers = 4;
    s.hidden = 512;
    s.intermediate = 1024;
    s.heads = 4;
    return s;
}

// fsync only proves durability against power loss; kills do not need it,
// and skipping it keeps these tests fast on busy disks.
CacheWriteOptions fastOptions() {
    CacheWriteOptions o;
    o.sync = CacheSync::Never;
    return o;
}

fs::path makeBase(const ScratchDir& dir, const std::string& name, int runs, std::int64_t tokens) {
    const fs::path file = dir / name;
    auto w = ActivationCacheWriter::open(file, syntheticModel(), fastOptions());
    EXPECT_TRUE(w.ok());
    for (int i = 0; i < runs; ++i) EXPECT_TRUE((*w)->appendRun(syntheticRun(tokens, 100 + static_cast<unsigned>(i), bigShape())).ok());
    EXPECT_TRUE((*w)->commit().ok());
    return file;
}

std::uint64_t tempBytes(const fs::path& target) {
    std::uint64_t total = 0;
    for (const auto& n : filesStartingWith(target.parent_path(), "." + target.filename().string() + ".tmp-")) {
        std::error_code ec;
        total += fs::file_size(target.parent_path() / n, ec);
    }
    return total;
}

// The child: append `runs` runs to `target` and commit; exit 0 on success.
[[noreturn]] void appendInChild(const fs::path& target, int runs) {
    auto w = ActivationCacheWriter::open(target, syntheticModel(), fastOptions());
    if (!w) _exit(3);
    for (int i = 0; i < runs; ++i) {
        if (!(*w)->appendRun(syntheticRun(64, 500 + static_cast<unsigned>(i), bigShape()))) _exit(4);
    }
    _exit((*w)->commit().ok() ? 0 : 5);
}

enum class KillWhen { DuringCopy, DuringRuns, AtRandomTime };

// Kills an appending child at a phase chosen by watching its temporary file.
// Returns true when the child was killed (false when it finished first).
bool killAppender(const fs::path& target, std::uint64_t baseBytes, KillWhen when, int delayMs) {
    const pid_t pid = fork();
    if (pid == 0) appendInChild(target, 20);
    const auto start = std::chrono::steady_clock::now();
    bool killed = false;
    for (;;) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return false;  // finished before the kill
        const std::uint64_t t = tempBytes(target);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        const bool now = (when == KillWhen::DuringCopy && t > 0) || (when == KillWhen::DuringRuns && t > baseBytes + (4u << 20)) ||
                         (when == KillWhen::AtRandomTime && ms >= delayMs);
        if (now) {
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return killed && WIFSIGNALED(status);
}

TEST(CacheSafety, KillWhileAppendingNeverLosesExistingRuns) {
    ScratchDir dir;
    // ~16 MB base file so the copy phase lasts long enough to be hit.
    const fs::path target = makeBase(dir, "runs.h5", 3, 128);
    const std::string original = readBytes(target);
    int midWriteKills = 0;
    const struct {
        KillWhen when;
        int delayMs;
    } plan[] = {{KillWhen::DuringCopy, 0}, {KillWhen::DuringRuns, 0}, {KillWhen::AtRandomTime, 0}, {KillWhen::AtRandomTime, 3},
                {KillWhen::AtRandomTime, 15}, {KillWhen::AtRandomTime, 40}, {KillWhen::AtRandomTime, 120}, {KillWhen::AtRandomTime, 300},
                {KillWhen::AtRandomTime, 800}, {KillWhen::AtRandomTime, 100000}};
    for (const auto& step : plan) {
        SCOPED_TRACE(step.delayMs);
        const bool killed = killAppender(target, original.size(), step.when, step.delayMs);
        const std::string now = readBytes(target);
        auto cache = ActivationCache::open(target);
        ASSERT_TRUE(cache.ok()) << cache.error().message;
        if (now == original) {
            ASSERT_EQ((*cache)->runs().size(), 3u);
            if (killed && step.when != KillWhen::AtRandomTime) ++midWriteKills;
        } else {
            // The child committed: every old run is still there, plus the new ones.
            ASSERT_EQ((*cache)->runs().size(), 23u);
            auto r0 = (*cache)->readHook(0, "blocks.3.hook_resid_post");
            ASSERT_TRUE(r0.ok());
            EXPECT_TRUE(bitEqual(r0->values, syntheticRun(128, 100, bigShape()).hooks.at("blocks.3.hook_resid_post")->values));
            writeBytes(target, original);  // back to the base for the next kill
        }
        // The next writer sweeps what the killed one left behind.
        auto w = ActivationCacheWriter::open(target, syntheticModel());
        ASSERT_TRUE(w.ok()) << w.error().message;
        EXPECT_EQ(tempBytes(target), 0u);
        EXPECT_TRUE(filesStartingWith(dir.path(), ".runs.h5.tmp-").empty());
    }
    EXPECT_EQ(midWriteKills, 2) << "the copy and run phases were not both interrupted";
}

struct ChildReport {
    int exitCode = -1;
    std::string message;
};

// Runs `body` in a child with a file-size limit; the child sends its error message back.
template <class Body>
ChildReport runWithFileSizeLimit(rlim_t limit, Body body) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        ::close(fds[0]);
        // Writes beyond the limit fail with EFBIG instead of killing us.
        signal(SIGXFSZ, SIG_IGN);
        rlimit rl{limit, limit};
        setrlimit(RLIMIT_FSIZE, &rl);
        const std::string m = body();
        (void)!write(fds[1], m.data(), m.size());
        _exit(m.empty() ? 0 : 1);
    }
    ::close(fds[1]);
    ChildReport r;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.message.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::string appendAndCommit(const fs::path& target, int runs) {
    auto w = ActivationCacheWriter::open(target, syntheticModel());
    if (!w) return w.error().message;
    for (int i = 0; i < runs; ++i) {
        auto n = (*w)->appendRun(syntheticRun(64, 900 + static_cast<unsigned>(i), bigShape()));
        if (!n) return n.error().message;
    }
    auto c = (*w)->commit();
    return c ? std::string() : c.error().message;
}

TEST(CacheSafety, FileSizeLimitMidAppendLeavesOldFileIntact) {
    ScratchDir dir;
    const fs::path target = makeBase(dir, "limit.h5", 1, 64);
    const std::string original = readBytes(target);
    const auto report = runWithFileSizeLimit(original.size() + (3u << 20), [&] { return appendAndCommit(target, 10); });
    EXPECT_EQ(report.exitCode, 1);
    EXPECT_EQ(report.message.rfind(target.string() + ": ", 0), 0u) << report.message;
    EXPECT_NE(report.message.find("file too large"), std::string::npos) << report.message;
    EXPECT_NE(report.message.find("the existing file is unchanged"), std::string::npos) << report.message;
    EXPECT_EQ(report.message.find('\n'), std::string::npos);
    EXPECT_EQ(readBytes(target), original);
    EXPECT_EQ(tempBytes(target), 0u);

    // A new file: nothing is created.
    const fs::path fresh = dir / "fresh.h5";
    const auto r2 = runWithFileSizeLimit(1u << 20, [&] { return appendAndCommit(fresh, 10); });
    EXPECT_EQ(r2.exitCode, 1);
    EXPECT_NE(r2.message.find("nothing was written"), std::string::npos) << r2.message;
    EXPECT_FALSE(fs::exists(fresh));
    EXPECT_EQ(tempBytes(fresh), 0u);
}

// A real full disk: a 4 MiB tmpfs (needs root / CAP_SYS_ADMIN; skipped otherwise).
class TmpfsMount {
public:
    TmpfsMount(const fs::path& at, const char* size) : m_at(at) {
        fs::create_directory(at);
        const std::string opts = std::string("size=") + size;
        m_ok = ::mount("tmpfs", at.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0;
    }
    ~TmpfsMount() {
        if (m_ok) ::umount2(m_at.c_str(), MNT_DETACH);
    }
    bool ok() const { return m_ok; }

private:
    fs::path m_at;
    bool m_ok = false;
};

TEST(CacheSafety, RealDiskFullLeavesOldFileIntact) {
    ScratchDir dir;
    TmpfsMount mnt(dir / "small", "4m");
    if (!mnt.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root); the file-size-limit test covers the logic";
    const fs::path target = dir / "small" / "full.h5";
    {
        auto w = ActivationCacheWriter::open(target, syntheticModel());
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE((*w)->appendRun(syntheticRun(16, 1, bigShape())).ok());
        ASSERT_TRUE((*w)->commit().ok());
    }
    const std::string original = readBytes(target);
    ASSERT_LT(original.size(), 1u << 20);
    // Each run is ~2.5 MB: the second cannot fit beside the copy.
    const std::string message = appendAndCommit(target, 3);
    EXPECT_EQ(message.rfind(target.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find("no space left on device"), std::string::npos) << message;
    EXPECT_NE(message.find("the existing file is unchanged"), std::string::npos) << message;
    EXPECT_EQ(readBytes(target), original);
    EXPECT_EQ(tempBytes(target), 0u);
    auto cache = ActivationCache::open(target);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_EQ((*cache)->runs().size(), 1u);
    // The failed temporary gave its space back (no half-closed file holds it).
    const auto free = freeDiskBytes(dir / "small");
    ASSERT_TRUE(free.has_value());
    EXPECT_GT(*free + original.size(), 3u << 20);

    // Full already during the copy of the old file.
    std::string filler(3300u << 10, 'x');
    writeBytes(dir / "small" / "filler", filler);
    const std::string m2 = appendAndCommit(target, 1);
    EXPECT_NE(m2.find("no space left on device"), std::string::npos) << m2;
    EXPECT_EQ(readBytes(target), original);
    EXPECT_EQ(tempBytes(target), 0u);
}

}  // namespace
