#pragma once
// How the process maps a model's files: how much of them is resident, and
// how much of that through 2 MiB pages (one TLB entry and one hardware
// prefetch stream per 2 MiB instead of per 4 KiB). Decode streams every
// weight once per token, and on Linux 6.18 it ran 5-10 % of the memory read
// slower from a file the page cache holds in small folios (a file written or
// first read through page faults on the machine) than from one it holds in
// 2 MiB folios (docs/PERFORMANCE.md). bench_forward reports it beside its
// decode rates, so that a rate is read with the page state it ran on, and
// bench/paired_decode.py for both programs it compares.
//
// From /proc/self/smaps (or another process's): for every mapping whose file is `model` itself (a
// GGUF file) or lies under it (a checkpoint folder), the sum of its Rss and
// FilePmdMapped lines (kB). A model read into anonymous memory
// (SUPERLENS_HUGE_PAGES=1) maps no file: mappings is then 0.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>
#include <string>

namespace superlens::bench {

struct MappedPages {
    int mappings = 0;
    std::uint64_t residentKb = 0;  // Rss
    std::uint64_t pmdKb = 0;       // FilePmdMapped: resident through 2 MiB pages
};

namespace page_state_detail {

// "55d0c0a00000-55d0c0a21000 r--p 00000000 fd:01 1234   /path/with spaces"
// -> the path ("" for an anonymous mapping); false when the line is not a
// mapping's header (a "Key: value" line).
inline bool headerPath(const std::string& line, std::string& path) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode;
    if (!(in >> range >> perms >> offset >> dev >> inode)) return false;
    const auto dash = range.find('-');
    if (dash == std::string::npos || dash == 0 || range.find_first_not_of("0123456789abcdef-") != std::string::npos) return false;
    std::getline(in, path);
    const auto first = path.find_first_not_of(' ');
    path = first == std::string::npos ? std::string() : path.substr(first);
    return true;
}

// "FilePmdMapped:      4096 kB" -> 4096 when the key matches.
inline bool kbField(const std::string& line, const char* key, std::uint64_t& kb) {
    const std::string k = std::string(key) + ":";
    if (line.compare(0, k.size(), k) != 0) return false;
    std::istringstream in(line.substr(k.size()));
    std::uint64_t v = 0;
    if (!(in >> v)) return false;
    kb = v;
    return true;
}

inline bool under(const std::string& path, const std::string& model) {
    if (model.empty() || path.compare(0, model.size(), model) != 0) return false;
    return path.size() == model.size() || path[model.size()] == '/' || model.back() == '/';
}

}  // namespace page_state_detail

// The mappings of `model` (an absolute, canonical path) in an smaps text.
inline MappedPages mappedPages(std::istream& smaps, const std::string& model) {
    MappedPages out;
    bool counting = false;
    std::string line, path;
    while (std::getline(smaps, line)) {
        if (page_state_detail::headerPath(line, path)) {
            counting = page_state_detail::under(path, model);
            if (counting) ++out.mappings;
            continue;
        }
        if (!counting) continue;
        std::uint64_t kb = 0;
        if (page_state_detail::kbField(line, "Rss", kb)) out.residentKb += kb;
        else if (page_state_detail::kbField(line, "FilePmdMapped", kb)) out.pmdKb += kb;
    }
    return out;
}

// The mappings of the model at `model` (a file or a folder) in this process,
// or in process `pid` when it is given (bench/paired_decode.py asks for
// llama.cpp's server: `bench_forward MODEL --pages-of PID`). A process that
// is gone, or whose smaps this user may not read, maps nothing.
inline MappedPages mappedPages(const std::filesystem::path& model, long pid = 0) {
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(model, ec);
    std::ifstream smaps(pid > 0 ? "/proc/" + std::to_string(pid) + "/smaps" : std::string("/proc/self/smaps"));
    if (ec || !smaps) return {};
    return mappedPages(smaps, canonical.string());
}

}  // namespace superlens::bench
