#pragma once
// Memory read bandwidth for the benchmarks (bench_machine's table of read
// kernels and page sizes, bench_forward --read-pairs' reads between decode
// steps, the GEMV alone between reads): one home for the read kernels, the
// buffer they read, and the rule for a rate measured between two reads.

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <immintrin.h>

#include "bench_common.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/system/cpu_features.h"

namespace superlens::bench {

// Read kernels: sums of floats with AVX2 or AVX-512 loads (4 accumulators),
// with software prefetch kPrefetch bytes ahead when it is not 0. ReadBuffer:
// an anonymous buffer on a 2 MiB boundary in 4 KiB pages or in transparent
// huge pages, filled by the pool's workers (each touching first the share it
// will read). readRate: GB/s of one kernel over the whole buffer, on one
// thread or on every worker of the pool, the best of `reps` passes.

using ReadKernel = float (*)(const float* b, const float* e);

template <int kPrefetch>
inline float sumAvx2(const float* p, const float* e) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; p + 32 <= e; p += 32) {
        if constexpr (kPrefetch > 0) {
            _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetch, _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetch + 64, _MM_HINT_T0);
        }
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + 24));
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    return _mm256_cvtss_f32(s);
}

// GCC 12's AVX-512 headers start _mm512_setzero_ps from an undefined value,
// which -Wuninitialized reports inside them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <int kPrefetch>
__attribute__((target("avx512f"))) inline float sumAvx512(const float* p, const float* e) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; p + 64 <= e; p += 64) {
        if constexpr (kPrefetch > 0)
            for (int i = 0; i < 4; ++i) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetch + 64 * i, _MM_HINT_T0);
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
#pragma GCC diagnostic pop

struct ReadBuffer {
    float* data = nullptr;
    std::size_t bytes = 0;
    bool hugePages = false;
    ReadBuffer(std::size_t n, bool huge, core::ThreadPool* pool) : bytes(n), hugePages(huge) {
        const std::size_t align = std::size_t{2} << 20;
        void* p = mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return;
        m_map = p;
        data = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(p) + align - 1) & ~(align - 1));
        madvise(data, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        const std::int64_t n4 = static_cast<std::int64_t>(bytes / sizeof(float));
        auto fill = [&](std::int64_t b, std::int64_t e, int) {
            for (std::int64_t i = b; i < e; ++i) data[i] = static_cast<float>(i & 7);
        };
        if (pool) pool->parallelFor(n4, 1 << 16, fill);
        else fill(0, n4, 0);
    }
    ~ReadBuffer() {
        if (m_map) munmap(m_map, bytes + (std::size_t{2} << 20));
    }
    ReadBuffer(const ReadBuffer&) = delete;
    ReadBuffer& operator=(const ReadBuffer&) = delete;

private:
    void* m_map = nullptr;
};

// GB/s of one kernel over the buffer, best of `reps`, on one thread or the pool.
inline double readRate(const ReadBuffer& buf, ReadKernel kernel, core::ThreadPool* pool, int reps) {
    const std::int64_t n = static_cast<std::int64_t>(buf.bytes / sizeof(float));
    std::vector<double> sums(64, 0.0);
    auto sum = [&](std::int64_t b, std::int64_t e, int worker) { sums[static_cast<std::size_t>(worker) % sums.size()] += kernel(buf.data + b, buf.data + e); };
    double best = 0;
    for (int r = 0; r < reps; ++r) {
        const double t0 = now();
        if (pool) pool->parallelFor(n, 1 << 16, sum);
        else sum(0, n, 0);
        best = std::max(best, static_cast<double>(buf.bytes) / (now() - t0) / 1e9);
    }
    double check = 0;
    for (double s : sums) check += s;
    if (check < 0) std::printf("impossible\n");  // keeps the sums alive
    return best;
}

// The memory's read bandwidth right now, on every worker: one AVX2 pass over
// the whole buffer and, where the CPU has AVX-512, one AVX-512 pass; the faster.
inline double readNow(const ReadBuffer& buf, core::ThreadPool& pool) {
    double gbs = readRate(buf, sumAvx2<0>, &pool, 1);
    if (core::cpuFeatures().avx512f) gbs = std::max(gbs, readRate(buf, sumAvx512<0>, &pool, 1));
    return gbs;
}

// A rate measured between two reads of memory (readNow before and after). On
// a shared VM the read bandwidth flips between two speeds about 2x apart
// within seconds, so a rate and a read made apart compare the memory's moods.
// The rate counts only when the two reads agree within 10 % (memory kept its
// speed around it), as a share of their mean.
struct BetweenReads {
    double before = 0, after = 0;
    bool sameMode() const { return std::abs(before - after) <= 0.10 * std::max(before, after); }
    double share(double gbs) const { return gbs / ((before + after) / 2); }
};

}  // namespace superlens::bench
