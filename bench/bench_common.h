#pragma once
// Small helpers shared by the benchmark programs: wall time, peak RSS, CPU facts.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/resource.h>

namespace superlens::bench {

inline double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Peak resident set size of this process in MB (includes touched mmap pages).
inline double peakRssMb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Current CPU clock in GHz from /proc/cpuinfo (first core), 0 if unknown.
inline double cpuGhz() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("cpu MHz", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return std::stod(line.substr(colon + 1)) / 1000.0;
        }
    }
    return 0.0;
}

}  // namespace superlens::bench
