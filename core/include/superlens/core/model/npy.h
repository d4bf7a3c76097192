#pragma once
// NumPy .npy files holding one image tensor (`--pixels FILE.npy`): the exact
// pixel_values a vision model reads, as a Hugging Face image processor makes
// them ([C, H, W] or [1, C, H, W], little-endian float32 or float64, C order).
// Everything in the file is checked before use (magic, version, header
// length, dtype, order, shape, total size with overflow-safe products, data
// length); a bad file gives one error naming the file and the problem.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

// An image tensor [channels, height, width], row-major, float32 values.
struct PixelTensor {
    int channels = 0;
    int height = 0;
    int width = 0;
    std::vector<float> values;
    float at(int c, int y, int x) const {
        return values[(static_cast<std::size_t>(c) * static_cast<std::size_t>(height) + static_cast<std::size_t>(y)) *
                          static_cast<std::size_t>(width) + static_cast<std::size_t>(x)];
    }
    bool operator==(const PixelTensor&) const = default;
};

// Largest image side and channel count accepted (far above any vision
// checkpoint's input: 518 for DINOv2 at full resolution).
inline constexpr std::int64_t kMaxImageSide = 16384;
inline constexpr std::int64_t kMaxImageChannels = 16;
// Most patches one image may give (its grid may differ from the trained one:
// position embeddings are interpolated); DINOv2 at 1024 pixels gives 5329.
inline constexpr std::int64_t kMaxImagePatches = 16384;

// Parses the bytes of a .npy file; `name` is the file name used in errors.
Result<PixelTensor> parseNpy(std::span<const std::byte> bytes, const std::string& name);
Result<PixelTensor> loadNpy(const std::filesystem::path& path);
// An image held in memory as a C-order float32 array of shape `dims` (the
// Python module's pixels=): the checks of a .npy file's shape and values
// (one image, channel and side limits, finite values); `name` names the
// input in errors.
Result<PixelTensor> pixelTensor(std::span<const std::int64_t> dims, std::span<const float> values, const std::string& name);

}  // namespace superlens::core
