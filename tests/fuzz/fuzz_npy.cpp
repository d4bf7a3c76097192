// Fuzz target: one .npy image tensor (core/src/model/npy.cpp, parseNpy) from
// memory. Every input either parses into a tensor whose values match its
// shape, within the accepted limits, or gives one error line naming the file.

#include <cmath>
#include <span>

#include "fuzz_common.h"
#include "superlens/core/model/npy.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    auto parsed = parseNpy(bytes, "fuzz.npy");
    if (!parsed) {
        fz::checkMessage(parsed.error().message, "fuzz.npy: ");
        return 0;
    }
    const PixelTensor& t = *parsed;
    fz::require(t.channels >= 1 && t.channels <= kMaxImageChannels, "channels in range");
    fz::require(t.height >= 1 && t.height <= kMaxImageSide && t.width >= 1 && t.width <= kMaxImageSide, "sides in range");
    fz::require(t.values.size() == static_cast<std::size_t>(t.channels) * static_cast<std::size_t>(t.height) * static_cast<std::size_t>(t.width),
                "values match the shape");
    fz::require(t.values.size() * 4 <= size, "no more values than the file holds");
    for (float v : t.values) fz::require(std::isfinite(v), "finite values");
    return 0;
}
