// Fuzz target: llama.cpp importance matrix files (core/src/model/imatrix.cpp),
// legacy imatrix.dat and GGUF. Every input either parses or gives one error
// line starting "fuzz.imatrix: "; a parsed file's entries are consistent
// (importance has columns x matrices values, one count per matrix) and every
// column's rank and ratio can be asked for.

#include <cmath>
#include <vector>

#include "fuzz_common.h"
#include "superlens/core/model/imatrix.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto parsed = Imatrix::fromBytes(reinterpret_cast<const std::byte*>(data), size, "fuzz.imatrix");
    if (!parsed) {
        fz::checkMessage(parsed.error().message, "fuzz.imatrix: ");
        return 0;
    }
    fz::require(parsed->format() == "legacy" || parsed->format() == "gguf", "format");
    fz::require(!parsed->entries().empty(), "entries");
    std::int64_t budget = 1 << 14;  // rank() is linear per column: bound the work per input
    for (const ImatrixEntry& e : parsed->entries()) {
        fz::require(parsed->find(e.name) != nullptr, "lookup");
        fz::require(e.columns >= 1 && e.matrices >= 1, "shape");
        fz::require(e.importance.size() == static_cast<std::size_t>(e.columns * e.matrices), "importance size");
        fz::require(e.counts.size() == static_cast<std::size_t>(e.matrices), "counts size");
        for (double v : e.importance) fz::require(std::isnan(v) || v >= 0, "importance >= 0");
        for (std::int64_t c = 0; c < e.columns && budget > 0; ++c, budget -= e.columns) {
            const std::int64_t r = e.rank(c);
            fz::require(r >= 1 && r <= e.columns, "rank");
            (void)e.ratioToMedian(c);
        }
    }
    return 0;
}
