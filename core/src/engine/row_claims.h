#pragma once
// The rows of one single-token GEMV, shared out among the pool's workers.
// Internal to core.
//
// Each worker p starts on its own static slice (ThreadPool::splitPoints,
// so its rows stream from one place as with a static split) and claims it
// from the front, `chunk` rows at a time. A worker whose slice is done takes
// chunks from the back of the slice with the most rows left. On a VM the two
// halves of a decode GEMV did not finish together: a late wake-up or a
// slower share of the memory left one worker waiting about 4 % of the decode
// time for the other (docs/PERFORMANCE.md). Which worker computes a row
// never changes its bits (the GEMV reduces every row in one fixed order).
//
// Lock-free: a slice's front and back are one 64-bit atomic (32 bits each),
// claimed by compare-and-swap, so every row goes to exactly one claim.

#include <atomic>
#include <cstdint>
#include <memory>

namespace superlens::core {

class RowClaims {
public:
    // Rows [0, n) (n < 2^32) split into at most `parts` slices on multiples
    // of `grain`; claims of `chunk` rows.
    RowClaims(std::int64_t n, std::int64_t grain, int parts, std::int64_t chunk);

    int parts() const { return m_parts; }

    // Worker `part`'s next rows [r0, r1): its own slice's front first, then
    // the back of another's. prefetchEnd: the rows up to there are still to
    // be read by someone (the slice's back when claimed), so prefetching up
    // to it is not wasted. False when no row is left anywhere.
    bool next(int part, std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd);

    // Largest n the 32-bit halves hold.
    static constexpr std::int64_t kMaxRows = 0xFFFFFFFFll;

private:
    struct alignas(64) Slice {
        std::atomic<std::uint64_t> frontBack{0};  // front in the low 32 bits, back in the high
    };
    bool claimFront(Slice& s, std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) const;
    bool claimBack(Slice& s, std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) const;

    int m_parts = 0;
    std::int64_t m_chunk = 1;
    std::unique_ptr<Slice[]> m_slices;
};

}  // namespace superlens::core
