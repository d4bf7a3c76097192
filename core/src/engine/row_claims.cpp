#include "row_claims.h"

#include <algorithm>
#include <vector>

#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/result.h"

namespace superlens::core {
namespace {

std::uint64_t pack(std::int64_t front, std::int64_t back) {
    return static_cast<std::uint64_t>(front) | (static_cast<std::uint64_t>(back) << 32);
}
std::int64_t frontOf(std::uint64_t v) { return static_cast<std::int64_t>(v & 0xFFFFFFFFu); }
std::int64_t backOf(std::uint64_t v) { return static_cast<std::int64_t>(v >> 32); }

}  // namespace

RowClaims::RowClaims(std::int64_t n, std::int64_t grain, int parts, std::int64_t chunk) : m_chunk(std::max<std::int64_t>(1, chunk)) {
    SL_ASSERT(n >= 0 && n <= kMaxRows);
    const std::vector<std::int64_t> bounds = ThreadPool::splitPoints(n, grain, std::max(1, parts));
    m_parts = static_cast<int>(bounds.size()) - 1;
    m_slices = std::make_unique<Slice[]>(static_cast<std::size_t>(m_parts));
    for (int p = 0; p < m_parts; ++p) m_slices[p].frontBack.store(pack(bounds[p], bounds[p + 1]), std::memory_order_relaxed);
}

bool RowClaims::claimFront(Slice& s, std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) const {
    std::uint64_t v = s.frontBack.load(std::memory_order_relaxed);
    for (;;) {
        const std::int64_t front = frontOf(v), back = backOf(v);
        if (front >= back) return false;
        const std::int64_t end = std::min(back, front + m_chunk);
        if (s.frontBack.compare_exchange_weak(v, pack(end, back), std::memory_order_relaxed)) {
            r0 = front, r1 = end, prefetchEnd = back;
            return true;
        }
    }
}

bool RowClaims::claimBack(Slice& s, std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) const {
    std::uint64_t v = s.frontBack.load(std::memory_order_relaxed);
    for (;;) {
        const std::int64_t front = frontOf(v), back = backOf(v);
        if (front >= back) return false;
        const std::int64_t begin = std::max(front, back - m_chunk);
        if (s.frontBack.compare_exchange_weak(v, pack(front, begin), std::memory_order_relaxed)) {
            r0 = begin, r1 = prefetchEnd = back;
            return true;
        }
    }
}

bool RowClaims::next(int part, std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) {
    SL_ASSERT(part >= 0 && part < m_parts);
    if (claimFront(m_slices[part], r0, r1, prefetchEnd)) return true;
    for (;;) {
        // The slice with the most rows left; none left: done.
        int victim = -1;
        std::int64_t most = 0;
        for (int p = 0; p < m_parts; ++p) {
            const std::uint64_t v = m_slices[p].frontBack.load(std::memory_order_relaxed);
            if (backOf(v) - frontOf(v) > most) most = backOf(v) - frontOf(v), victim = p;
        }
        if (victim < 0) return false;
        if (claimBack(m_slices[victim], r0, r1, prefetchEnd)) return true;
    }
}

}  // namespace superlens::core
