// The claims of a single-token GEMV's rows (core/src/engine/row_claims.h):
// each worker's own slice from the front, then the back of the fullest
// slice; every row exactly once, whether one thread claims everything (a
// worker that never started) or four race for them.

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../../core/src/engine/row_claims.h"
#include "superlens/core/engine/thread_pool.h"

using namespace superlens::core;

namespace {

struct Claim {
    std::int64_t r0, r1, prefetchEnd;
    bool operator==(const Claim&) const = default;
};

std::vector<Claim> drain(RowClaims& claims, int part) {
    std::vector<Claim> out;
    Claim c{};
    while (claims.next(part, c.r0, c.r1, c.prefetchEnd)) out.push_back(c);
    return out;
}

TEST(RowClaims, OwnSliceFromTheFrontThenTheOthersFromTheBack) {
    // 200 rows, grain 64, 2 parts: slices [0, 128) and [128, 200); chunks of 48.
    RowClaims claims(200, 64, 2, 48);
    ASSERT_EQ(claims.parts(), 2);
    Claim c{};
    // Worker 1 takes one chunk of its own, then stalls.
    ASSERT_TRUE(claims.next(1, c.r0, c.r1, c.prefetchEnd));
    EXPECT_EQ(c, (Claim{128, 176, 200}));
    // Worker 0: its slice front to back (prefetch up to the slice's back),
    // then what worker 1 left, from the back.
    const std::vector<Claim> zero = drain(claims, 0);
    const std::vector<Claim> want = {{0, 48, 128}, {48, 96, 128}, {96, 128, 128}, {176, 200, 200}};
    EXPECT_EQ(zero, want);
    EXPECT_TRUE(drain(claims, 1).empty());
}

TEST(RowClaims, StealsFromTheFullestSliceInChunksDownToItsFront) {
    // 3 parts over 300 rows, grain 1: [0, 100), [100, 200), [200, 300); chunks of 30.
    RowClaims claims(300, 1, 3, 30);
    ASSERT_EQ(claims.parts(), 3);
    Claim c{};
    ASSERT_TRUE(claims.next(2, c.r0, c.r1, c.prefetchEnd));  // slice 2 has 70 rows left
    const std::vector<Claim> got = drain(claims, 0);
    // Its own slice, then 30 rows at a time from whichever other slice has
    // more left (slice 1 on a tie, the first): 1 (100 left), 1 (70 = 70),
    // 2 (70), 1 (40 = 40), 2, 1, 2.
    const std::vector<Claim> want = {{0, 30, 100},    {30, 60, 100},   {60, 90, 100},   {90, 100, 100},  {170, 200, 200}, {140, 170, 170},
                                     {270, 300, 300}, {110, 140, 140}, {240, 270, 270}, {100, 110, 110}, {230, 240, 240}};
    EXPECT_EQ(got, want);
    std::vector<int> hits(300, 0);
    for (std::int64_t r = 200; r < 230; ++r) ++hits[r];
    for (const Claim& g : got) {
        EXPECT_LE(g.r1 - g.r0, 30);
        for (std::int64_t r = g.r0; r < g.r1; ++r) ++hits[r];
    }
    for (int r = 0; r < 300; ++r) ASSERT_EQ(hits[r], 1) << "row " << r;
}

TEST(RowClaims, EmptyAndSmallProblems) {
    RowClaims none(0, 64, 2, 16);
    EXPECT_EQ(none.parts(), 1);
    EXPECT_TRUE(drain(none, 0).empty());
    // Fewer grains than workers: fewer slices, as ThreadPool::splitPoints gives.
    RowClaims small(100, 64, 4, 16);
    EXPECT_EQ(small.parts(), 2);
    const std::vector<Claim> got = drain(small, 1);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front(), (Claim{64, 80, 100}));
}

// Threads racing for the rows: every row is claimed once, never twice.
TEST(RowClaims, EveryRowExactlyOnceUnderARace) {
    std::mt19937 rng(7);
    for (int round = 0; round < 300; ++round) {
        const std::int64_t n = std::uniform_int_distribution<std::int64_t>(0, 5000)(rng);
        const int parts = 1 + round % 4;
        const std::int64_t chunk = 1 + round % 37;
        RowClaims claims(n, 16, parts, chunk);
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
        std::vector<std::thread> threads;
        for (int p = 0; p < claims.parts(); ++p) {
            threads.emplace_back([&, p] {
                std::int64_t r0 = 0, r1 = 0, pf = 0;
                while (claims.next(p, r0, r1, pf)) {
                    ASSERT_LT(r0, r1);
                    ASSERT_LE(r1, pf);
                    ASSERT_LE(pf, n);
                    for (std::int64_t r = r0; r < r1; ++r) hits[static_cast<std::size_t>(r)].fetch_add(1);
                }
            });
        }
        for (auto& t : threads) t.join();
        for (std::int64_t r = 0; r < n; ++r) ASSERT_EQ(hits[static_cast<std::size_t>(r)].load(), 1) << "n " << n << " row " << r;
    }
}

}  // namespace
