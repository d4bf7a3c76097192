#pragma once
// Image files as vision-model input (`--image FILE`): a PNG or JPEG decoded
// to 8-bit RGB (stb_image), then turned into the pixel_values the
// checkpoint's Hugging Face image processor makes, as its
// preprocessor_config.json says: resize (Pillow's resampling, exactly: the
// processors hand the 8-bit image to PIL), centre crop (zero padding when the
// image is smaller), rescale (x rescale_factor in float64, stored float32),
// normalise ((x - mean) / std in float32). docs/VISION.md says where the result
// can differ from Hugging Face's.
//
// Every size read from a file is checked before anything is allocated: the
// image's sides (at most kMaxImageSide) and pixel count (at most
// kMaxImagePixels) from its header, and every size of the processor config.
// A bad file gives one error naming the file and the problem.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "superlens/core/model/model_config.h"
#include "superlens/core/model/npy.h"
#include "superlens/core/result.h"

namespace superlens::core {

// Largest pixel count an image file may declare (header checked before decoding).
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 25;  // 33.5 million (8192 x 4096)

// An 8-bit image: rows top to bottom, channels interleaved (height x width x channels).
struct Image8 {
    int width = 0;
    int height = 0;
    int channels = 0;
    std::vector<std::uint8_t> data;
    std::uint8_t at(int y, int x, int c) const {
        return data[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * static_cast<std::size_t>(channels) +
                    static_cast<std::size_t>(c)];
    }
    bool operator==(const Image8&) const = default;
};

// Decodes a PNG or JPEG (recognised by its signature) to 8-bit RGB: grey is
// repeated in the three channels, alpha dropped, palettes expanded (what PIL's
// convert("RGB") does). 16-bit PNGs and every other format are refused by
// name. `name` is the file name used in errors.
Result<Image8> decodeImage(std::span<const std::byte> bytes, const std::string& name);
Result<Image8> loadImage(const std::filesystem::path& path);

// PIL's resampling filters, by PIL's numbers (the processors' "resample" field).
enum class ResampleFilter { Nearest = 0, Lanczos = 1, Bilinear = 2, Bicubic = 3, Box = 4, Hamming = 5 };
const char* resampleFilterName(ResampleFilter f);

// Separable resampling weights of one axis, as Pillow computes them
// (precompute_coeffs in libImaging/Resample.c) and as torch's antialiased
// interpolate does: output i reads inputs start[i] .. start[i] + count[i] - 1
// with weights w[i * ksize + j], which sum to 1. The filter's support grows
// with the reduction factor (antialiasing when shrinking).
struct AxisWeights {
    int ksize = 0;
    std::vector<int> start;
    std::vector<int> count;
    std::vector<double> w;
};
AxisWeights resampleWeights(int inSize, int outSize, ResampleFilter filter);

// Pillow's Image.resize(size, filter) of an 8-bit image (Nearest is refused):
// horizontal pass, then vertical, each in Pillow's 22-bit fixed point with
// its rounding and clipping, so the bytes equal Pillow's.
Result<Image8> resizeLikePillow(const Image8& image, int width, int height, ResampleFilter filter);

// Position embeddings of a trained side x side patch grid, resized to an
// gh x gw grid as Hugging Face's interpolate_pos_encoding does
// (torch.nn.functional.interpolate, align_corners=False): Bicubic is torch's
// bicubic convolution (a = -0.75, borders replicated; ViT, DINOv2, CLIP);
// BicubicAntialias is torch's antialias=True form (Pillow's a = -0.5 filter,
// support widened when shrinking; DINOv2 with registers). `grid` holds
// side * side rows of d values (row-major patches); the result gh * gw rows.
// Computed in float64. (PosInterpolation: model_config.h.)
std::vector<double> interpolatePositionGrid(const std::vector<double>& grid, int side, int d, int gh, int gw, PosInterpolation mode);

// Hugging Face's center_crop: the centred height x width window; where the
// image is smaller, zeros pad it (as transformers' image_transforms.center_crop).
Image8 centerCrop(const Image8& image, int height, int width);

// A preprocessor_config.json of a ViT, DINOv2 (BitImageProcessor) or CLIP
// checkpoint. Sizes: "size" {"shortest_edge": n}, {"height": h, "width": w}
// or an int (a square for ViT processors, the shortest edge for CLIP and Bit,
// as their get_size_dict calls); "crop_size" {"height", "width"} or an int.
struct ImageProcessorConfig {
    std::string type;  // image_processor_type or feature_extractor_type
    bool doResize = true;
    int shortestEdge = 0;  // > 0: the shorter side becomes this, the aspect ratio kept
    int resizeHeight = 0;  // else: exactly this size
    int resizeWidth = 0;
    ResampleFilter resample = ResampleFilter::Bicubic;
    bool doCenterCrop = false;
    int cropHeight = 0;
    int cropWidth = 0;
    bool doRescale = true;
    double rescaleFactor = 1.0 / 255.0;
    bool doNormalize = true;
    std::vector<double> mean;
    std::vector<double> std;
};
Result<ImageProcessorConfig> parseImageProcessorConfig(const std::string& text, const std::string& name);
// <folder>/preprocessor_config.json; its absence is an error that says to give --pixels.
Result<ImageProcessorConfig> loadImageProcessorConfig(const std::filesystem::path& folder);

// The (height, width) a resize gives an image of h x w (get_resize_output_image_size).
std::pair<int, int> resizedSize(const ImageProcessorConfig& config, int height, int width);

// The pixel_values [3, H, W] of an 8-bit RGB image: resize, crop, rescale, normalise.
Result<PixelTensor> preprocessImage(const Image8& image, const ImageProcessorConfig& config);
// loadImage + loadImageProcessorConfig(modelFolder) + preprocessImage.
Result<PixelTensor> loadImageForModel(const std::filesystem::path& imagePath, const std::filesystem::path& modelFolder);

}  // namespace superlens::core
