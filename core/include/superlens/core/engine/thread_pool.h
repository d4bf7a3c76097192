#pragma once
// A fixed pool of worker threads with static work partitioning.
//
// Static partitioning (range i always goes to the same worker, split points
// depend only on the problem size and thread count) keeps every reduction
// order fixed, so two runs of the same computation are bit-identical; the
// incremental recompute relies on that.
//
// Between tasks a worker spins for a short while (SUPERLENS_POOL_SPIN_US,
// default 50 µs; 0 sleeps at once) before it sleeps on the condition
// variable, and so does the caller waiting for the workers: a decode step
// runs ~150 short parallel GEMVs, and waking a sleeping thread costs tens of
// microseconds each time. Beyond that window nobody spins, so on a busy
// machine the workers give their time slices back.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace superlens::core {

class ThreadPool {
public:
    // threads <= 0: one per hardware thread.
    explicit ThreadPool(int threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return m_threadCount; }

    // Runs fn(begin, end, worker) on contiguous, static slices of [0, n),
    // one slice per worker (fewer when n is small), and waits. Slice
    // boundaries are multiples of `grain` (except the last). Calls from a
    // worker thread (nested) run inline on the calling thread.
    void parallelFor(std::int64_t n, std::int64_t grain,
                     const std::function<void(std::int64_t begin, std::int64_t end, int worker)>& fn);

    // Split points used by parallelFor, exposed so callers can size buffers.
    static std::vector<std::int64_t> splitPoints(std::int64_t n, std::int64_t grain, int parts);

private:
    void workerLoop(int index);

    int m_threadCount = 1;
    std::vector<std::thread> m_workers;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::condition_variable m_done;
    const std::function<void(std::int64_t, std::int64_t, int)>* m_task = nullptr;
    std::vector<std::int64_t> m_bounds;
    std::atomic<std::uint64_t> m_generation{0};  // written under m_mutex; read while spinning
    std::atomic<int> m_pending{0};
    double m_spinSeconds = 0;
    bool m_stop = false;
    std::mutex m_submitMutex;  // one parallelFor at a time per pool
};

// The process-wide pool used by the engine kernels.
ThreadPool& defaultThreadPool();

}  // namespace superlens::core
