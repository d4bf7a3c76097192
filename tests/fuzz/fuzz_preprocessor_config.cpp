// Fuzz target: preprocessor_config.json of a vision checkpoint
// (parseImageProcessorConfig, core/src/model/image_input.cpp), then, when it
// parses, the preprocessing it describes applied to a small fixed image. Every
// input either gives a config whose sizes are within the image limits and
// whose pixel_values (when their size is small enough to compute quickly) are
// finite with the shape the config gives, or one error line naming the file.

#include <cmath>
#include <string>

#include "fuzz_common.h"
#include "superlens/core/model/image_input.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string name = "preprocessor_config.json";
    auto parsed = parseImageProcessorConfig(text, name);
    if (!parsed) {
        fz::checkMessage(parsed.error().message, name + ": ");
        return 0;
    }
    const ImageProcessorConfig& c = *parsed;
    fz::require(c.shortestEdge >= 0 && c.shortestEdge <= kMaxImageSide, "shortest edge within the side limit");
    fz::require(c.resizeHeight >= 0 && c.resizeHeight <= kMaxImageSide && c.resizeWidth >= 0 && c.resizeWidth <= kMaxImageSide,
                "resize within the side limit");
    fz::require(c.cropHeight >= 0 && c.cropHeight <= kMaxImageSide && c.cropWidth >= 0 && c.cropWidth <= kMaxImageSide, "crop within the side limit");
    if (c.doNormalize) {
        fz::require(c.mean.size() == 3 && c.std.size() == 3, "three means and standard deviations");
        for (int i = 0; i < 3; ++i) fz::require(std::isfinite(c.mean[i]) && std::isfinite(c.std[i]) && c.std[i] != 0.0, "finite mean, non-zero std");
    }
    fz::require(std::isfinite(c.rescaleFactor), "finite rescale factor");

    // A 7 x 5 RGB gradient, preprocessed when the result stays small.
    Image8 img;
    img.width = 7;
    img.height = 5;
    img.channels = 3;
    for (int i = 0; i < 7 * 5 * 3; ++i) img.data.push_back(static_cast<std::uint8_t>((i * 37) & 0xFF));
    const auto [rh, rw] = c.doResize ? resizedSize(c, img.height, img.width) : std::pair<int, int>{img.height, img.width};
    const int oh = c.doCenterCrop ? c.cropHeight : rh, ow = c.doCenterCrop ? c.cropWidth : rw;
    if (static_cast<std::int64_t>(rh) * rw > 65536 || static_cast<std::int64_t>(oh) * ow > 65536) return 0;
    auto px = preprocessImage(img, c);
    if (!px) {
        fz::checkMessage(px.error().message, "");
        return 0;
    }
    fz::require(px->channels == 3 && px->height == oh && px->width == ow, "pixel_values shaped as the config says");
    fz::require(px->values.size() == static_cast<std::size_t>(3) * static_cast<std::size_t>(oh) * static_cast<std::size_t>(ow), "values fill the shape");
    for (float v : px->values) fz::require(std::isfinite(v), "finite pixel values");
    return 0;
}
