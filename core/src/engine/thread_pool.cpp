#include "superlens/core/engine/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <immintrin.h>

namespace superlens::core {
namespace {
thread_local bool t_insideWorker = false;

double spinSecondsFromEnvironment() {
    if (const char* env = std::getenv("SUPERLENS_POOL_SPIN_US")) {
        const double us = std::atof(env);
        return us > 0 ? std::min(us, 1e6) * 1e-6 : 0.0;
    }
    return 50e-6;
}

// Spins until done() or `seconds` have passed; true when done() became true.
template <class Done>
bool spinFor(double seconds, Done done) {
    if (seconds <= 0) return done();
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (int i = 0;; ++i) {
        if (done()) return true;
        _mm_pause();
        if ((i & 63) == 63 && Clock::now() >= until) return done();
    }
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    m_threadCount = threads;
    m_spinSeconds = spinSecondsFromEnvironment();
    // Worker 0 is the calling thread; spawn the others.
    for (int i = 1; i < threads; ++i) m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    for (auto& t : m_workers) t.join();
}

std::vector<std::int64_t> ThreadPool::splitPoints(std::int64_t n, std::int64_t grain, int parts) {
    grain = std::max<std::int64_t>(1, grain);
    const std::int64_t units = (n + grain - 1) / grain;
    parts = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(parts, units)));
    std::vector<std::int64_t> bounds(parts + 1);
    for (int p = 0; p <= parts; ++p) bounds[p] = std::min(n, (units * p / parts) * grain);
    bounds[parts] = n;
    return bounds;
}

void ThreadPool::parallelFor(std::int64_t n, std::int64_t grain,
                             const std::function<void(std::int64_t, std::int64_t, int)>& fn) {
    if (n <= 0) return;
    const std::vector<std::int64_t> bounds = splitPoints(n, grain, m_threadCount);
    const int parts = static_cast<int>(bounds.size()) - 1;
    if (parts == 1 || t_insideWorker || m_workers.empty()) {
        // Nested or tiny: run the same slices inline, in order, so the
        // arithmetic is identical to the parallel case.
        for (int p = 0; p < parts; ++p) fn(bounds[p], bounds[p + 1], p);
        return;
    }
    std::lock_guard submit(m_submitMutex);
    {
        std::lock_guard lock(m_mutex);
        m_task = &fn;
        m_bounds = bounds;
        m_pending = parts - 1;
        ++m_generation;
    }
    m_wake.notify_all();
    t_insideWorker = true;
    fn(bounds[0], bounds[1], 0);
    t_insideWorker = false;
    spinFor(m_spinSeconds, [this] { return m_pending.load(std::memory_order_acquire) == 0; });
    std::unique_lock lock(m_mutex);
    m_done.wait(lock, [this] { return m_pending == 0; });
    m_task = nullptr;
}

void ThreadPool::workerLoop(int index) {
    t_insideWorker = true;
    std::uint64_t seen = 0;
    for (;;) {
        const std::function<void(std::int64_t, std::int64_t, int)>* task = nullptr;
        std::int64_t begin = 0, end = 0;
        spinFor(m_spinSeconds, [&] { return m_generation.load(std::memory_order_acquire) != seen; });
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stop || m_generation != seen; });
            if (m_stop) return;
            seen = m_generation;
            const int parts = static_cast<int>(m_bounds.size()) - 1;
            if (index >= parts) continue;  // fewer slices than workers this time
            task = m_task;
            begin = m_bounds[index];
            end = m_bounds[index + 1];
        }
        (*task)(begin, end, index);
        {
            std::lock_guard lock(m_mutex);
            if (--m_pending == 0) m_done.notify_one();
        }
    }
}

ThreadPool& defaultThreadPool() {
    // SUPERLENS_THREADS overrides the hardware thread count (benchmarks, tests).
    static ThreadPool s_pool([] {
        if (const char* env = std::getenv("SUPERLENS_THREADS")) {
            const int n = std::atoi(env);
            if (n > 0) return n;
        }
        return 0;
    }());
    return s_pool;
}

}  // namespace superlens::core
