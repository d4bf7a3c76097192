// Replays stored fuzz inputs through a target's LLVMFuzzerTestOneInput with
// the normal compiler, so every build (and CI, without clang) checks the
// corpus and the crash regressions: `fuzz_replay_<target> DIR_OR_FILE...`.
//
// Each input runs in a child process (fork) with a 30 s alarm, so a crash,
// abort or hang is reported with the input's name and the others still run.
// Inputs named open-* are known findings in code outside the fuzzed module
// that are not fixed yet: they are run and reported but do not fail the test
// (rename one when its fix lands, so it guards the fix from then on).
//
// In an AddressSanitizer build (scripts/sanitize.sh) each child also asks
// LeakSanitizer for a leak check before it exits: `_exit` skips the check
// LeakSanitizer makes at a normal exit, so without it a parser's leak would
// go unseen here (the libFuzzer builds check leaks themselves).

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <signal.h>
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SUPERLENS_REPLAY_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SUPERLENS_REPLAY_LSAN 1
#endif
#ifdef SUPERLENS_REPLAY_LSAN
#include <sanitizer/lsan_interface.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Optional, as libFuzzer has it: called once before the first input (here in
// the parent, so every child inherits what it loads).
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

namespace {

std::string describe(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        return sig == SIGALRM ? std::string("timeout (30 s)") : std::string("signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
    }
    return "status " + std::to_string(status);
}

int runOne(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("fork");
        return -1;
    }
    if (pid == 0) {
        ::alarm(30);
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        std::fflush(nullptr);
#ifdef SUPERLENS_REPLAY_LSAN
        // Non-zero when LeakSanitizer found (and printed) an unsuppressed leak.
        if (__lsan_do_recoverable_leak_check() != 0) ::_exit(23);
#endif
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const fs::path p = argv[i];
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            for (const auto& e : fs::recursive_directory_iterator(p)) {
                if (e.is_regular_file() && e.path().filename().string()[0] != '.' && e.path().filename() != "README.md") inputs.push_back(e.path());
            }
        } else if (fs::is_regular_file(p, ec)) {
            inputs.push_back(p);
        }
    }
    std::sort(inputs.begin(), inputs.end());
    int failed = 0, openStill = 0, openFixed = 0;
    for (const fs::path& file : inputs) {
        const bool open = file.filename().string().rfind("open-", 0) == 0;
        const int status = runOne(file);
        const bool ok = status == 0;
        if (open) {
            if (ok) {
                ++openFixed;
                std::printf("note: %s no longer fails: rename it without 'open-' so it guards the fix\n", file.c_str());
            } else {
                ++openStill;
                std::printf("known open finding still reproduces: %s (%s)\n", file.c_str(), describe(status).c_str());
            }
        } else if (!ok) {
            ++failed;
            std::printf("FAILED: %s (%s)\n", file.c_str(), describe(status).c_str());
        }
    }
    std::printf("%zu inputs replayed: %zu passed, %d failed; %d known open findings, %d of them now pass\n", inputs.size(),
                inputs.size() - static_cast<std::size_t>(failed) - static_cast<std::size_t>(openStill), failed, openStill + openFixed, openFixed);
    return failed == 0 && !inputs.empty() ? 0 : 1;
}
