// Fuzz target: one PNG or JPEG image file (core/src/model/image_input.cpp,
// decodeImage over stb_image) from memory, then the preprocessing of a CLIP
// processor (shortest edge 20, bicubic, centre crop 16x16) on what decoded.
// Every input either decodes to an RGB image within the size limits, whose
// pixel_values are finite and of the crop's shape, or gives one error line
// naming the file.

#include <cmath>
#include <span>

#include "fuzz_common.h"
#include "superlens/core/model/image_input.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    auto decoded = decodeImage(bytes, "fuzz.png");
    if (!decoded) {
        fz::checkMessage(decoded.error().message, "fuzz.png: ");
        return 0;
    }
    const Image8& img = *decoded;
    fz::require(img.channels == 3, "RGB");
    fz::require(img.width >= 1 && img.height >= 1 && img.width <= kMaxImageSide && img.height <= kMaxImageSide, "sides in range");
    fz::require(static_cast<std::int64_t>(img.width) * img.height <= kMaxImagePixels, "pixel count in range");
    fz::require(img.data.size() == static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * 3, "data matches the size");
    if (static_cast<std::int64_t>(img.width) * img.height > 4096) return 0;  // keep executions fast
    ImageProcessorConfig c;
    c.type = "CLIPImageProcessor";
    c.shortestEdge = 20;
    c.resample = ResampleFilter::Bicubic;
    c.doCenterCrop = true;
    c.cropHeight = c.cropWidth = 16;
    c.mean = {0.5, 0.4, 0.3};
    c.std = {0.2, 0.25, 0.3};
    auto px = preprocessImage(img, c);
    if (!px) {
        // Only a resize past the limits (a very long, thin image) is refused.
        fz::checkMessage(px.error().message, "");
        return 0;
    }
    fz::require(px->channels == 3 && px->height == 16 && px->width == 16, "crop shape");
    for (float v : px->values) fz::require(std::isfinite(v) && std::fabs(v) <= 5.0f, "values in the normalised range");
    return 0;
}
