#pragma once
// Shared by bench_laser and bench_quant: timing and memory readings.

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

namespace superlens::bench {

inline double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU seconds (user + system) of the whole process: robust when other
// processes share the cores (wall time is not: load averages of 10+ on two
// cores are common on the shared build machines).
inline double cpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// A field of /proc/self/status in MiB (VmHWM, VmRSS, RssAnon, RssFile), or -1.
inline double statusMiB(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;  // kB
    }
    return -1;
}

// Resets VmHWM (the peak resident set) so each phase reports its own peak.
inline void resetPeakRss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
}

// Samples anonymous RSS (heap, not the checkpoint's mmap pages) every 5 ms
// and keeps the maximum: VmHWM alone mixes in page-cache pages of the
// memory-mapped checkpoint, which are not copies.
class AnonPeakSampler {
public:
    AnonPeakSampler() : m_thread([this] {
        while (!m_stop.load()) {
            const double v = statusMiB("RssAnon");
            double cur = m_peak.load();
            while (v > cur && !m_peak.compare_exchange_weak(cur, v)) {}
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }) {}
    ~AnonPeakSampler() { stop(); }
    double stop() {
        if (!m_stop.exchange(true)) m_thread.join();
        return m_peak.load();
    }
    void reset() { m_peak.store(statusMiB("RssAnon")); }

private:
    std::atomic<bool> m_stop{false};
    std::atomic<double> m_peak{0};
    std::thread m_thread;
};

}  // namespace superlens::bench
