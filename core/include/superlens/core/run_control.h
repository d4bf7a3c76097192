#pragma once
// Progress and cancellation for long core calls (forward passes, scans,
// studies, captures). Core calls are synchronous; the GUI runs them on a
// worker thread and passes a RunControl whose callbacks are thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>

namespace superlens::core {

class RunControl {
public:
    using ProgressFn = std::function<void(std::int64_t done, std::int64_t total, const char* stage)>;

    RunControl() = default;
    explicit RunControl(ProgressFn onProgress) : m_onProgress(std::move(onProgress)) {}

    void setProgressCallback(ProgressFn fn) { m_onProgress = std::move(fn); }
    void progress(std::int64_t done, std::int64_t total, const char* stage = "") const {
        if (m_onProgress) m_onProgress(done, total, stage);
    }

    // Cancellation is cooperative: long loops poll isCancelled() between units
    // of work (a layer, a window, a study cell) and return a "cancelled" error.
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    bool isCancelled() const { return m_cancelled.load(std::memory_order_relaxed); }

    // A shared no-op instance for callers that need neither progress nor cancel.
    static const RunControl& none() {
        static const RunControl s_none;
        return s_none;
    }

private:
    ProgressFn m_onProgress;
    std::atomic<bool> m_cancelled{false};
};

inline constexpr const char* kCancelledMessage = "cancelled";

}  // namespace superlens::core
