#pragma once
// Round-to-nearest weight quantization (a whole-matrix edit): returns a new
// WeightMatrix and never modifies its input; the engine's
// overlay caches the result per (tensor, edit texts) and drops it when the
// edit is removed, so the stored checkpoint values come back untouched.
//
// Thread-safety: the functions are reentrant; they parallelise internally on
// a ThreadPool (defaultThreadPool() unless given) with static partitioning,
// so a given input, option set and thread count always gives the same bits.

#include <cstdint>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/engine/thread_pool.h"
#include "superlens/core/engine/weight_matrix.h"

namespace superlens::core {

// ---------------------------------------------------------------------------
// Round-to-nearest weight quantization (the super-weight paper, Sec. 4.3)
// ---------------------------------------------------------------------------

// Storage for codes: one byte per weight, left uninitialised on allocation
// (every byte is written by the quantizer, so zero-filling would only cost a
// pass over ~1 GB for a 1B model) and, for large buffers, backed by
// transparent huge pages where the kernel offers them (fewer page faults).
struct CodeAllocator {
    using value_type = std::uint8_t;
    template <class U> struct rebind { using other = CodeAllocator; };  // bytes only
    CodeAllocator() = default;
    template <class U> CodeAllocator(const U&) {}
    std::uint8_t* allocate(std::size_t n);
    void deallocate(std::uint8_t* p, std::size_t n) noexcept;
    template <class U, class... Args> void construct(U* p, Args&&... args) {
        if constexpr (sizeof...(Args) == 0) ::new (static_cast<void*>(p)) U;  // default-init: no zeroing
        else ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    bool operator==(const CodeAllocator&) const { return true; }
};
using CodeVector = std::vector<std::uint8_t, CodeAllocator>;

// Blockwise asymmetric min-max RTN kept as codes (1 byte per weight) with a
// minimum, maximum and scale per block of `blockSize` consecutive row-major
// elements, plus exact overrides (kept super weights) applied on top.
//
// Decoding is two-sided so that both ends of every block's range are exactly
// representable (bit-identical), whatever the rounding of the scale:
//   value = c <= L/2 ? min + c * scale : max - (L - c) * scale,   L = 2^bits - 1
// (in exact arithmetic both branches are min + c*(max-min)/L).
class BlockQuantizedWeight final : public WeightMatrix {
public:
    struct Override {
        std::int64_t index;  // row-major element index
        float value;
    };
    BlockQuantizedWeight(std::int64_t rows, std::int64_t cols, int bits, std::int64_t blockSize, CodeVector codes,
                         std::vector<float> minimums, std::vector<float> maximums, std::vector<float> scales,
                         std::vector<Override> overrides);
    std::int64_t rows() const override { return m_rows; }
    std::int64_t cols() const override { return m_cols; }
    void decodeRows(std::int64_t r0, std::int64_t r1, float* dst) const override;
    void decodeRows(std::int64_t r0, std::int64_t r1, double* dst) const override;
    std::size_t ownedBytes() const override;

    int bits() const { return m_bits; }
    std::int64_t blockSize() const { return m_blockSize; }
    std::int64_t blockCount() const { return static_cast<std::int64_t>(m_scales.size()); }
    // Range and step of block b (after clipping; kept elements excluded).
    float blockMin(std::int64_t b) const { return m_min[static_cast<std::size_t>(b)]; }
    float blockMax(std::int64_t b) const { return m_max[static_cast<std::size_t>(b)]; }
    float blockScale(std::int64_t b) const { return m_scales[static_cast<std::size_t>(b)]; }
    std::uint8_t code(std::int64_t index) const { return m_codes[static_cast<std::size_t>(index)]; }
    const std::vector<Override>& overrides() const { return m_overrides; }  // sorted by index

private:
    template <class S> void decode(std::int64_t r0, std::int64_t r1, S* dst) const;
    std::int64_t m_rows, m_cols;
    int m_bits;
    std::int64_t m_blockSize;
    CodeVector m_codes;
    std::vector<float> m_min, m_max, m_scales;
    std::vector<Override> m_overrides;
};

// `keep` are (row, col) elements excluded from the block statistics and
// restored exactly afterwards (the super-weight paper's "ours").
// Clipping (applied per block to the statistics of the non-kept elements):
//   zclip = Z: range = [max(min, mean - Z sd), min(max, mean + Z sd)], population sd;
//   pclip = P: range = [x_(round((1-P/100)(n-1))), x_(round(P/100 (n-1)))], order statistics;
// both given: the intersection. Values outside the range are clamped to it.
// Guarantees (tested, tests/core/test_rtn.cpp): every unclipped element x of
// block b decodes within scale_b/2 (+ fp32 rounding of the grid, < 1e-5 scale_b + 2 ulp)
// of x; the block's min and max decode bit-exactly; kept elements decode
// bit-exactly and are not part of any block's min/max.
// Memory: streams the input in chunks of whole blocks (or 256K-element slices
// of a large block), so besides the 1-byte codes it holds O(threads * chunk)
// fp32 scratch, never a full fp32 copy of the matrix.
struct RtnOptions {
    int bits = 4;
    std::int64_t block = 0;  // elements per block (row-major), 0 = whole tensor
    std::optional<double> zclip;
    std::optional<double> pclip;
    std::vector<std::pair<std::int64_t, std::int64_t>> keep;
    ThreadPool* pool = nullptr;  // nullptr = defaultThreadPool()
};
WeightPtr quantizeRtn(const WeightMatrix& w, const RtnOptions& options);

}  // namespace superlens::core
