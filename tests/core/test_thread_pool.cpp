// The engine's thread pool (core/engine/thread_pool.h): every index of a
// parallelFor runs exactly once, on the static slices splitPoints gives,
// whether the workers were asleep or still spinning from the previous task
// (SUPERLENS_POOL_SPIN_US: 0 = sleep at once, the default 50 us, a long
// spin); a pool destroyed right after a task (its workers spinning) joins.

#include <atomic>
#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>

#include "superlens/core/engine/thread_pool.h"

using namespace superlens::core;

namespace {

// Runs many short tasks back to back (workers mostly spinning between them)
// and a few after a pause longer than the spin (workers asleep).
void exercise(ThreadPool& pool) {
    const std::int64_t n = 1000;
    std::vector<std::atomic<int>> hits(n);
    std::vector<std::atomic<int>> owner(n);
    for (int round = 0; round < 500; ++round) {
        for (auto& h : hits) h = 0;
        pool.parallelFor(n, 64, [&](std::int64_t b, std::int64_t e, int worker) {
            for (std::int64_t i = b; i < e; ++i) {
                ++hits[i];
                owner[i] = worker;
            }
        });
        for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " round " << round;
        const std::vector<std::int64_t> bounds = ThreadPool::splitPoints(n, 64, pool.size());
        for (std::size_t p = 0; p + 1 < bounds.size(); ++p)
            for (std::int64_t i = bounds[p]; i < bounds[p + 1]; ++i) ASSERT_EQ(owner[i].load(), static_cast<int>(p)) << "index " << i;
    }
}

class PoolSpin : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override { setenv("SUPERLENS_POOL_SPIN_US", GetParam(), 1); }
    void TearDown() override { unsetenv("SUPERLENS_POOL_SPIN_US"); }
};

TEST_P(PoolSpin, EveryIndexOnceOnItsStaticSlice) {
    ThreadPool pool(2);
    exercise(pool);
    ThreadPool three(3);
    exercise(three);
}

TEST_P(PoolSpin, NestedCallsRunInline) {
    ThreadPool pool(2);
    std::atomic<int> total{0};
    pool.parallelFor(4, 1, [&](std::int64_t b, std::int64_t e, int) {
        pool.parallelFor(10, 1, [&](std::int64_t b2, std::int64_t e2, int) { total += static_cast<int>((e - b) * (e2 - b2)); });
    });
    EXPECT_EQ(total.load(), 40);
}

TEST_P(PoolSpin, DestroyedRightAfterATaskJoins) {
    for (int i = 0; i < 50; ++i) {
        ThreadPool pool(2);
        std::atomic<int> count{0};
        pool.parallelFor(128, 64, [&](std::int64_t b, std::int64_t e, int) { count += static_cast<int>(e - b); });
        EXPECT_EQ(count.load(), 128);
    }
}

INSTANTIATE_TEST_SUITE_P(SpinMicroseconds, PoolSpin, ::testing::Values("0", "50", "5000"));

}  // namespace
