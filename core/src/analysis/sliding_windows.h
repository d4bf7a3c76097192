#pragma once
// Hugging Face's perplexity windows (docs "Perplexity of fixed-length
// models"), internal to core: shared by core::perplexity and the
// compression studies so both score exactly the same tokens.

#include <algorithm>
#include <cstdint>
#include <vector>

namespace superlens::core {

struct TextWindow {
    std::int64_t begin = 0;
    std::int64_t end = 0;          // exclusive
    std::int64_t firstScored = 0;  // tokens [firstScored, end) are predicted by this window
};

// Windows start every `stride` tokens; each scores the tokens after the
// previous window's end. A window cannot predict its own first token.
inline std::vector<TextWindow> slidingWindows(std::int64_t n, std::int64_t context, std::int64_t stride) {
    std::vector<TextWindow> out;
    std::int64_t prevEnd = 0;
    for (std::int64_t begin = 0; begin < n; begin += stride) {
        const std::int64_t end = std::min(begin + context, n);
        const std::int64_t first = std::max(prevEnd, begin + 1);
        if (first < end) out.push_back({begin, end, first});
        prevEnd = end;
        if (end == n) break;
    }
    return out;
}

}  // namespace superlens::core
