#pragma once
// Shared checks of the fuzz targets (tests/fuzz/fuzz_<target>.cpp). Each
// target defines LLVMFuzzerTestOneInput; libFuzzer drives it in a fuzz build
// (-DSUPERLENS_BUILD_FUZZ=ON, clang), replay_main.cpp drives it over the
// stored corpus and regressions in every build (CTest fuzz_replay_<target>).
//
// Beyond "no crash, no sanitizer report", targets check the error contract:
// a refused input gives exactly one non-empty line (no '\n' or '\r') that
// starts with the file name where the parser has one. Set
// SUPERLENS_FUZZ_MESSAGES=off to fuzz for crashes only while a message
// finding in code outside the target's reach is still open.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <unistd.h>

namespace superlens::fuzz {

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", what.c_str());
    std::abort();
}

inline void require(bool condition, const char* what) {
    if (!condition) fail(what);
}

inline bool strictMessages() {
    static const bool s_strict = [] {
        const char* e = std::getenv("SUPERLENS_FUZZ_MESSAGES");
        return !(e && std::string_view(e) == "off");
    }();
    return s_strict;
}

// Control bytes shown as \xNN so the report itself stays on one line.
inline std::string visible(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 300)) {
        if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

inline void checkMessage(const std::string& message, std::string_view prefix) {
    if (!strictMessages()) return;
    if (message.empty()) fail("empty error message");
    if (message.find('\n') != std::string::npos || message.find('\r') != std::string::npos) {
        fail("error message is not one line: " + visible(message));
    }
    if (!prefix.empty() && message.rfind(prefix, 0) != 0) {
        fail("error message does not start with '" + std::string(prefix) + "': " + visible(message));
    }
}

// A scratch file for parsers that only open paths: one per process, on tmpfs
// when there is one, rewritten for every input.
class ScratchFile {
public:
    explicit ScratchFile(const std::string& suffix) {
        const std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                               : std::filesystem::temp_directory_path();
        m_path = dir / ("superlens-fuzz-" + std::to_string(::getpid()) + suffix);
    }
    ~ScratchFile() {
        std::error_code ec;
        std::filesystem::remove(m_path, ec);
    }
    const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
        std::FILE* f = std::fopen(m_path.c_str(), "wb");
        require(f != nullptr, "cannot create the scratch file");
        require(size == 0 || std::fwrite(data, 1, size, f) == size, "cannot write the scratch file");
        std::fclose(f);
        return m_path;
    }
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

}  // namespace superlens::fuzz
