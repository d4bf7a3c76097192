// Image files to pixel_values (see image_input.h). The resampling follows
// Pillow's libImaging/Resample.c (the filters, the weights of
// precompute_coeffs, the 22-bit fixed point of the 8-bit passes), because
// Hugging Face's image processors resize through PIL. Compiled with
// -ffp-contract=off (core/src/model/sources.cmake) so no fused multiply-add
// changes a weight by an ulp and a fixed-point coefficient with it.

#include "superlens/core/model/image_input.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>
#include <stb_image.h>

#include "superlens/core/model/mapped_file.h"

namespace superlens::core {
namespace {

constexpr std::size_t kMaxImageFileBytes = std::size_t{1} << 30;

double boxFilter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }
double bilinearFilter(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}
double hammingFilter(double x) {
    x = std::fabs(x);
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x *= M_PI;
    // Pillow's constants are float literals.
    return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}
double bicubicFilter(double x) {
    constexpr double a = -0.5;  // Pillow's (and torch's antialiased) bicubic
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}
double sincFilter(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return std::sin(x) / x;
}
double lanczosFilter(double x) { return (-3.0 <= x && x < 3.0) ? sincFilter(x) * sincFilter(x / 3) : 0.0; }

struct Filter {
    double (*f)(double);
    double support;
};
Filter filterOf(ResampleFilter f) {
    switch (f) {
        case ResampleFilter::Box: return {boxFilter, 0.5};
        case ResampleFilter::Bilinear: return {bilinearFilter, 1.0};
        case ResampleFilter::Hamming: return {hammingFilter, 1.0};
        case ResampleFilter::Bicubic: return {bicubicFilter, 2.0};
        case ResampleFilter::Lanczos: return {lanczosFilter, 3.0};
        case ResampleFilter::Nearest: break;
    }
    return {bilinearFilter, 1.0};
}

constexpr int kPrecisionBits = 32 - 8 - 2;

std::vector<std::int32_t> fixedPoint(const AxisWeights& a) {
    std::vector<std::int32_t> k(a.w.size());
    for (std::size_t i = 0; i < k.size(); ++i) {
        const double v = a.w[i] * (1 << kPrecisionBits);
        k[i] = static_cast<std::int32_t>(a.w[i] < 0 ? -0.5 + v : 0.5 + v);
    }
    return k;
}

std::uint8_t clip8(std::int64_t sum) {
    const std::int64_t v = sum >> kPrecisionBits;
    return static_cast<std::uint8_t>(std::clamp<std::int64_t>(v, 0, 255));
}

// Python's a // b for b > 0.
int floorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

Result<int> sizeField(const nlohmann::json& v, const std::string& where, const char* what) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > kMaxImageSide) {
        return Error{where + what + " must be an integer in 1.." + std::to_string(kMaxImageSide)};
    }
    return static_cast<int>(v.get<std::int64_t>());
}

// "size"/"crop_size" as {"height", "width"}; false when the object has neither.
Status heightWidth(const nlohmann::json& v, const std::string& where, const char* field, int& h, int& w) {
    if (!v.contains("height") || !v.contains("width")) {
        return Error{where + "'" + field + "' needs \"height\" and \"width\"" + (std::string(field) == "size" ? " or \"shortest_edge\"" : "")};
    }
    auto hh = sizeField(v["height"], where, (std::string(field) + ".height").c_str());
    if (!hh) return hh.error();
    auto ww = sizeField(v["width"], where, (std::string(field) + ".width").c_str());
    if (!ww) return ww.error();
    h = *hh;
    w = *ww;
    return {};
}

Result<bool> boolField(const nlohmann::json& j, const char* key, bool fallback, const std::string& where) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return Error{where + "'" + key + "' must be true or false"};
    return it->get<bool>();
}

Result<std::vector<double>> channelValues(const nlohmann::json& j, const char* key, const std::string& where, bool positive) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Error{where + "missing '" + key + "' (do_normalize is true)"};
    std::vector<double> out;
    if (it->is_number()) {
        out.assign(3, it->get<double>());
    } else if (it->is_array() && it->size() == 3) {
        for (const auto& x : *it) {
            if (!x.is_number()) return Error{where + "'" + key + "' must hold numbers"};
            out.push_back(x.get<double>());
        }
    } else {
        return Error{where + "'" + key + "' must be a number or a list of 3 (one per RGB channel)"};
    }
    for (double v : out) {
        if (!std::isfinite(v) || (positive && !(v > 0))) return Error{where + "'" + key + "' values must be finite" + (positive ? " and > 0" : "")};
    }
    return out;
}

// stb_image 2.27 (Debian 12's libstb) trusts the 16 code counts of a DHT
// (Huffman table) segment: a sum above 256 writes past the decoder's 256-entry
// tables (found by fuzz_image; tests/fuzz/regressions/image). Walk the JPEG's
// marker segments, as stb reads them, and refuse such a table first.
Status checkJpegHuffmanTables(std::span<const std::byte> b, const std::string& where) {
    auto at = [&](std::size_t k) { return static_cast<unsigned>(b[k]); };
    std::size_t i = 2;  // after SOI
    while (i + 1 < b.size()) {
        if (at(i) != 0xFF) {  // entropy-coded data of a scan
            ++i;
            continue;
        }
        const unsigned m = at(i + 1);
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // stuffed byte, TEM, SOI, RSTn: no length
            i += 2;
            continue;
        }
        if (m == 0xD9 || i + 3 >= b.size()) break;  // EOI, or truncated (stb reports it)
        const std::size_t len = (static_cast<std::size_t>(at(i + 2)) << 8) | at(i + 3);
        if (m == 0xC4) {
            // As stb reads it: tables while the declared length lasts, each
            // read whole even past the segment (or the file: zeros).
            auto byteOrZero = [&](std::size_t k) { return k < b.size() ? at(k) : 0u; };
            std::int64_t left = static_cast<std::int64_t>(len) - 2;
            for (std::size_t k = i + 4; left > 0;) {
                std::size_t codes = 0;
                for (std::size_t j = 1; j <= 16; ++j) codes += byteOrZero(k + j);
                if (codes > 256) {
                    return Error{where + "damaged JPEG: a Huffman table declares " + std::to_string(codes) + " codes (at most 256)"};
                }
                left -= static_cast<std::int64_t>(17 + codes);
                k += 17 + codes;
            }
        }
        i += 2 + std::max<std::size_t>(len, 2);
    }
    return {};
}

// stb_image reserves an IDAT chunk's declared length before reading it: a
// 400-byte PNG declaring a 1 GiB chunk made it allocate 2 GiB (found by
// fuzz_image). Every chunk must fit in what is left of the file.
Status checkPngChunks(std::span<const std::byte> b, const std::string& where) {
    auto be32 = [&](std::size_t k) {
        return (static_cast<std::uint32_t>(b[k]) << 24) | (static_cast<std::uint32_t>(b[k + 1]) << 16) | (static_cast<std::uint32_t>(b[k + 2]) << 8) |
               static_cast<std::uint32_t>(b[k + 3]);
    };
    for (std::size_t i = 8; i + 8 <= b.size();) {
        const std::uint64_t len = be32(i);
        const std::size_t left = b.size() - (i + 8);
        std::string type(reinterpret_cast<const char*>(b.data() + i + 4), 4);
        for (char& c : type) if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '?';
        if (len > left) {
            return Error{where + "damaged PNG: chunk " + type + " declares " + std::to_string(len) + " bytes, the file has " + std::to_string(left) +
                         " left"};
        }
        if (type == "IEND") break;
        i += 12 + static_cast<std::size_t>(len);  // length, type, data, CRC
    }
    return {};
}

}  // namespace

const char* resampleFilterName(ResampleFilter f) {
    switch (f) {
        case ResampleFilter::Nearest: return "nearest";
        case ResampleFilter::Lanczos: return "lanczos";
        case ResampleFilter::Bilinear: return "bilinear";
        case ResampleFilter::Bicubic: return "bicubic";
        case ResampleFilter::Box: return "box";
        case ResampleFilter::Hamming: return "hamming";
    }
    return "?";
}

Result<Image8> decodeImage(std::span<const std::byte> bytes, const std::string& name) {
    const std::string where = name + ": ";
    static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    static const unsigned char kJpeg[3] = {0xFF, 0xD8, 0xFF};
    const bool png = bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0;
    const bool jpeg = bytes.size() >= 3 && std::memcmp(bytes.data(), kJpeg, 3) == 0;
    if (!png && !jpeg) return Error{where + "not a PNG or JPEG file (give a .npy tensor with --pixels for other inputs)"};
    if (bytes.size() > kMaxImageFileBytes || bytes.size() > static_cast<std::size_t>(INT_MAX)) {
        return Error{where + "the file is larger than " + std::to_string(kMaxImageFileBytes >> 20) + " MiB"};
    }
    if (jpeg) SL_TRY(checkJpegHuffmanTables(bytes, where));
    if (png) SL_TRY(checkPngChunks(bytes, where));
    const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    const char* kind = png ? "PNG" : "JPEG";
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
        return Error{where + "damaged " + kind + " header (" + (stbi_failure_reason() ? stbi_failure_reason() : "unreadable") + ")"};
    }
    if (w < 1 || h < 1 || w > kMaxImageSide || h > kMaxImageSide) {
        return Error{where + kind + " image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels: each side must be 1.." + std::to_string(kMaxImageSide)};
    }
    if (static_cast<std::int64_t>(w) * h > kMaxImagePixels) {
        return Error{where + kind + " image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels exceeds the limit of " +
                     std::to_string(kMaxImagePixels) + " pixels"};
    }
    if (png && stbi_is_16_bit_from_memory(data, len)) return Error{where + "16-bit PNG images are not supported (save it with 8 bits per channel)"};
    int w2 = 0, h2 = 0, comp2 = 0;
    stbi_uc* pixels = stbi_load_from_memory(data, len, &w2, &h2, &comp2, 3);
    if (!pixels) return Error{where + "damaged " + kind + " data (" + (stbi_failure_reason() ? stbi_failure_reason() : "undecodable") + ")"};
    if (w2 != w || h2 != h) {
        stbi_image_free(pixels);
        return Error{where + kind + " header and data disagree on the image size"};
    }
    Image8 img;
    img.width = w;
    img.height = h;
    img.channels = 3;
    img.data.assign(pixels, pixels + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
    stbi_image_free(pixels);
    return img;
}

Result<Image8> loadImage(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return Error{path.string() + ": not a readable image file"};
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    return decodeImage(std::span<const std::byte>((*mapped)->data(), (*mapped)->size()), path.string());
}

AxisWeights resampleWeights(int inSize, int outSize, ResampleFilter filter) {
    const Filter f = filterOf(filter);
    const double scale = static_cast<double>(inSize) / outSize;
    const double filterscale = std::max(scale, 1.0);
    const double support = f.support * filterscale;
    AxisWeights a;
    a.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    a.start.resize(static_cast<std::size_t>(outSize));
    a.count.resize(static_cast<std::size_t>(outSize));
    a.w.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(a.ksize), 0.0);
    for (int xx = 0; xx < outSize; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
        const int xmax = std::min(static_cast<int>(center + support + 0.5), inSize) - xmin;
        double* k = &a.w[static_cast<std::size_t>(xx) * static_cast<std::size_t>(a.ksize)];
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            k[x] = f.f((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        if (ww != 0.0) {
            for (int x = 0; x < xmax; ++x) k[x] /= ww;
        }
        a.start[static_cast<std::size_t>(xx)] = xmin;
        a.count[static_cast<std::size_t>(xx)] = std::max(xmax, 0);
    }
    return a;
}

Result<Image8> resizeLikePillow(const Image8& in, int width, int height, ResampleFilter filter) {
    if (filter == ResampleFilter::Nearest) return Error{"resample 0 (nearest) is not supported; the ViT, DINOv2 and CLIP processors use 2 (bilinear) or 3 (bicubic)"};
    if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide ||
        static_cast<std::int64_t>(width) * height > kMaxImagePixels) {
        return Error{"resize to " + std::to_string(width) + "x" + std::to_string(height) + " is outside the image limits"};
    }
    const int C = in.channels;
    const bool horizontal = width != in.width, vertical = height != in.height;
    if (!horizontal && !vertical) return in;
    const AxisWeights ay = resampleWeights(in.height, height, filter);
    const std::vector<std::int32_t> ky = fixedPoint(ay);
    // Rows of the source the vertical pass reads.
    const int first = ay.start.front();
    const int last = ay.start.back() + ay.count.back();

    Image8 tmp;
    const Image8* src = &in;
    int rowOffset = 0;
    if (horizontal) {
        const AxisWeights ax = resampleWeights(in.width, width, filter);
        const std::vector<std::int32_t> kx = fixedPoint(ax);
        tmp.width = width;
        tmp.height = last - first;
        tmp.channels = C;
        tmp.data.resize(static_cast<std::size_t>(tmp.width) * static_cast<std::size_t>(tmp.height) * static_cast<std::size_t>(C));
        for (int y = 0; y < tmp.height; ++y) {
            for (int xx = 0; xx < width; ++xx) {
                const std::int32_t* k = &kx[static_cast<std::size_t>(xx) * static_cast<std::size_t>(ax.ksize)];
                const int x0 = ax.start[static_cast<std::size_t>(xx)], n = ax.count[static_cast<std::size_t>(xx)];
                for (int c = 0; c < C; ++c) {
                    std::int64_t ss = std::int64_t{1} << (kPrecisionBits - 1);
                    for (int x = 0; x < n; ++x) ss += static_cast<std::int64_t>(in.at(y + first, x0 + x, c)) * k[x];
                    tmp.data[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(xx)) * static_cast<std::size_t>(C) +
                             static_cast<std::size_t>(c)] = clip8(ss);
                }
            }
        }
        src = &tmp;
        rowOffset = first;
    }
    if (!vertical) return tmp;
    Image8 out;
    out.width = src->width;
    out.height = height;
    out.channels = C;
    out.data.resize(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(height) * static_cast<std::size_t>(C));
    for (int yy = 0; yy < height; ++yy) {
        const std::int32_t* k = &ky[static_cast<std::size_t>(yy) * static_cast<std::size_t>(ay.ksize)];
        const int y0 = ay.start[static_cast<std::size_t>(yy)] - rowOffset, n = ay.count[static_cast<std::size_t>(yy)];
        for (int x = 0; x < out.width; ++x) {
            for (int c = 0; c < C; ++c) {
                std::int64_t ss = std::int64_t{1} << (kPrecisionBits - 1);
                for (int y = 0; y < n; ++y) ss += static_cast<std::int64_t>(src->at(y0 + y, x, c)) * k[y];
                out.data[(static_cast<std::size_t>(yy) * static_cast<std::size_t>(out.width) + static_cast<std::size_t>(x)) * static_cast<std::size_t>(C) +
                         static_cast<std::size_t>(c)] = clip8(ss);
            }
        }
    }
    return out;
}

namespace {
// torch's upsample_bicubic2d weights of one axis (align_corners=False):
// source x = (i + 0.5) * in / out - 0.5, four taps at floor(x) - 1 .. + 2
// clamped to the edge, cubic convolution with A = -0.75.
AxisWeights torchBicubicWeights(int inSize, int outSize) {
    constexpr double A = -0.75;
    auto near = [](double t) { return ((A + 2) * t - (A + 3)) * t * t + 1; };     // |t| <= 1
    auto far = [](double t) { return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A; };  // 1 < |t| < 2
    AxisWeights a;
    a.start.assign(static_cast<std::size_t>(outSize), 0);
    a.count.assign(static_cast<std::size_t>(outSize), inSize);
    // Taps are clamped indices, so keep one weight per input index.
    a.ksize = inSize;
    a.w.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(inSize), 0.0);
    const double scale = static_cast<double>(inSize) / outSize;
    for (int i = 0; i < outSize; ++i) {
        const double real = scale * (i + 0.5) - 0.5;
        const double fl = std::floor(real);
        const double t = real - fl;
        const double w[4] = {far(t + 1), near(t), near(1 - t), far(2 - t)};
        for (int k = 0; k < 4; ++k) {
            const int idx = std::clamp(static_cast<int>(fl) - 1 + k, 0, inSize - 1);
            a.w[static_cast<std::size_t>(i) * static_cast<std::size_t>(inSize) + static_cast<std::size_t>(idx)] += w[k];
        }
    }
    return a;
}

// The antialiased form: Pillow's weights (bicubic a = -0.5) over the taps
// they name, spread to one weight per input index.
AxisWeights denseAntialiasWeights(int inSize, int outSize) {
    const AxisWeights sparse = resampleWeights(inSize, outSize, ResampleFilter::Bicubic);
    AxisWeights a;
    a.ksize = inSize;
    a.start.assign(static_cast<std::size_t>(outSize), 0);
    a.count.assign(static_cast<std::size_t>(outSize), inSize);
    a.w.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(inSize), 0.0);
    for (int i = 0; i < outSize; ++i) {
        for (int j = 0; j < sparse.count[static_cast<std::size_t>(i)]; ++j) {
            a.w[static_cast<std::size_t>(i) * static_cast<std::size_t>(inSize) + static_cast<std::size_t>(sparse.start[static_cast<std::size_t>(i)] + j)] =
                sparse.w[static_cast<std::size_t>(i) * static_cast<std::size_t>(sparse.ksize) + static_cast<std::size_t>(j)];
        }
    }
    return a;
}
}  // namespace

std::vector<double> interpolatePositionGrid(const std::vector<double>& grid, int side, int d, int gh, int gw, PosInterpolation mode) {
    const AxisWeights wy = mode == PosInterpolation::Bicubic ? torchBicubicWeights(side, gh) : denseAntialiasWeights(side, gh);
    const AxisWeights wx = mode == PosInterpolation::Bicubic ? torchBicubicWeights(side, gw) : denseAntialiasWeights(side, gw);
    const auto D = static_cast<std::size_t>(d), S = static_cast<std::size_t>(side);
    // Along x first (side rows -> gw columns), then along y.
    std::vector<double> rows(S * static_cast<std::size_t>(gw) * D, 0.0);
    for (std::size_t r = 0; r < S; ++r) {
        for (std::size_t x = 0; x < static_cast<std::size_t>(gw); ++x) {
            double* out = &rows[(r * static_cast<std::size_t>(gw) + x) * D];
            for (std::size_t j = 0; j < S; ++j) {
                const double w = wx.w[x * S + j];
                if (w == 0.0) continue;
                const double* in = &grid[(r * S + j) * D];
                for (std::size_t c = 0; c < D; ++c) out[c] += w * in[c];
            }
        }
    }
    std::vector<double> out(static_cast<std::size_t>(gh) * static_cast<std::size_t>(gw) * D, 0.0);
    for (std::size_t y = 0; y < static_cast<std::size_t>(gh); ++y) {
        for (std::size_t r = 0; r < S; ++r) {
            const double w = wy.w[y * S + r];
            if (w == 0.0) continue;
            for (std::size_t x = 0; x < static_cast<std::size_t>(gw); ++x) {
                const double* in = &rows[(r * static_cast<std::size_t>(gw) + x) * D];
                double* o = &out[(y * static_cast<std::size_t>(gw) + x) * D];
                for (std::size_t c = 0; c < D; ++c) o[c] += w * in[c];
            }
        }
    }
    return out;
}

Image8 centerCrop(const Image8& in, int height, int width) {
    // Per axis: a window inside the image starts at (orig - crop) // 2; a crop
    // larger than the image puts the image at ceil((crop - orig) / 2) in zeros.
    auto origin = [](int orig, int crop) { return crop <= orig ? floorDiv(orig - crop, 2) : -((crop - orig + 1) / 2); };
    const int top = origin(in.height, height), left = origin(in.width, width);
    Image8 out;
    out.width = width;
    out.height = height;
    out.channels = in.channels;
    out.data.assign(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * static_cast<std::size_t>(in.channels), 0);
    for (int y = 0; y < height; ++y) {
        const int sy = y + top;
        if (sy < 0 || sy >= in.height) continue;
        for (int x = 0; x < width; ++x) {
            const int sx = x + left;
            if (sx < 0 || sx >= in.width) continue;
            for (int c = 0; c < in.channels; ++c) {
                out.data[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * static_cast<std::size_t>(in.channels) +
                         static_cast<std::size_t>(c)] = in.at(sy, sx, c);
            }
        }
    }
    return out;
}

Result<ImageProcessorConfig> parseImageProcessorConfig(const std::string& text, const std::string& name) {
    const std::string where = name + ": ";
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        return Error{where + "not valid JSON (" + std::string(e.what()) + ")"};
    }
    if (!j.is_object()) return Error{where + "not a JSON object"};
    ImageProcessorConfig c;
    for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
        if (c.type.empty() && j.contains(key) && j[key].is_string()) c.type = j[key].get<std::string>();
    }
    // The processors this reader knows, with what an int "size" means and their
    // default filter (ViTImageProcessor: a square, bilinear; CLIP and Bit: the
    // shortest edge, bicubic, centre crop).
    struct Known {
        const char* prefix;
        bool squareSize;
        ResampleFilter resample;
        bool crop;
    };
    static const Known kKnown[] = {{"ViT", true, ResampleFilter::Bilinear, false},
                                   {"CLIP", false, ResampleFilter::Bicubic, true},
                                   {"Bit", false, ResampleFilter::Bicubic, true}};
    const Known* known = nullptr;
    for (const Known& k : kKnown) {
        if (c.type.rfind(k.prefix, 0) == 0) known = &k;
    }
    if (!known) {
        return Error{where + "image processor '" + (c.type.empty() ? std::string("(no image_processor_type)") : c.type) +
                     "' is not one SuperLens reads (ViTImageProcessor, BitImageProcessor, CLIPImageProcessor); give the pixels with --pixels FILE.npy"};
    }
    auto flag = [&](const char* key, bool fallback, bool& out) -> Status {
        auto v = boolField(j, key, fallback, where);
        if (!v) return v.error();
        out = *v;
        return {};
    };
    SL_TRY(flag("do_resize", true, c.doResize));
    SL_TRY(flag("do_center_crop", known->crop, c.doCenterCrop));
    SL_TRY(flag("do_rescale", true, c.doRescale));
    SL_TRY(flag("do_normalize", true, c.doNormalize));
    if (c.doResize) {
        if (!j.contains("size")) return Error{where + "missing 'size' (do_resize is true)"};
        const auto& s = j["size"];
        if (s.is_object() && s.contains("shortest_edge")) {
            if (s.contains("longest_edge")) return Error{where + "'size' with longest_edge is not supported"};
            auto e = sizeField(s["shortest_edge"], where, "size.shortest_edge");
            if (!e) return e.error();
            c.shortestEdge = *e;
        } else if (s.is_object()) {
            SL_TRY(heightWidth(s, where, "size", c.resizeHeight, c.resizeWidth));
        } else {
            auto n = sizeField(s, where, "size");
            if (!n) return n.error();
            if (known->squareSize) c.resizeHeight = c.resizeWidth = *n;
            else c.shortestEdge = *n;
        }
        c.resample = known->resample;
        if (j.contains("resample") && !j["resample"].is_null()) {
            const auto& r = j["resample"];
            if (!r.is_number_integer() || r.get<std::int64_t>() < 0 || r.get<std::int64_t>() > 5) {
                return Error{where + "'resample' must be a PIL filter number 0..5"};
            }
            c.resample = static_cast<ResampleFilter>(r.get<int>());
            if (c.resample == ResampleFilter::Nearest) return Error{where + "resample 0 (nearest) is not supported"};
        }
    }
    if (c.doCenterCrop) {
        if (!j.contains("crop_size")) return Error{where + "missing 'crop_size' (do_center_crop is true)"};
        const auto& s = j["crop_size"];
        if (s.is_object()) {
            SL_TRY(heightWidth(s, where, "crop_size", c.cropHeight, c.cropWidth));
        } else {
            auto n = sizeField(s, where, "crop_size");
            if (!n) return n.error();
            c.cropHeight = c.cropWidth = *n;
        }
    }
    if (c.doRescale) {
        if (j.contains("rescale_factor") && !j["rescale_factor"].is_null()) {
            const auto& r = j["rescale_factor"];
            if (!r.is_number() || !std::isfinite(r.get<double>()) || !(r.get<double>() > 0)) return Error{where + "'rescale_factor' must be a number > 0"};
            c.rescaleFactor = r.get<double>();
        }
    }
    if (c.doNormalize) {
        auto mean = channelValues(j, "image_mean", where, false);
        if (!mean) return mean.error();
        auto sd = channelValues(j, "image_std", where, true);
        if (!sd) return sd.error();
        c.mean = *mean;
        c.std = *sd;
    }
    return c;
}

Result<ImageProcessorConfig> loadImageProcessorConfig(const std::filesystem::path& folder) {
    const auto path = folder / "preprocessor_config.json";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        return Error{path.string() + ": missing: the model folder has no image processor config, so --image cannot preprocess; give --pixels FILE.npy"};
    }
    auto text = readRegularFile(path, kMaxConfigBytes);
    if (!text) return text.error();
    return parseImageProcessorConfig(*text, path.string());
}

std::pair<int, int> resizedSize(const ImageProcessorConfig& c, int height, int width) {
    if (!c.doResize) return {height, width};
    if (c.shortestEdge <= 0) return {c.resizeHeight, c.resizeWidth};
    // get_resize_output_image_size(default_to_square=False): int(size * long / short).
    const int shortSide = std::min(height, width), longSide = std::max(height, width);
    const int newLong = static_cast<int>(static_cast<double>(c.shortestEdge) * longSide / shortSide);
    return width <= height ? std::pair{newLong, c.shortestEdge} : std::pair{c.shortestEdge, newLong};
}

Result<PixelTensor> preprocessImage(const Image8& image, const ImageProcessorConfig& c) {
    if (image.channels != 3) return Error{"the image has " + std::to_string(image.channels) + " channels; --image gives RGB (3)"};
    Image8 img = image;
    if (c.doResize) {
        const auto [h, w] = resizedSize(c, image.height, image.width);
        if (h < 1 || w < 1 || h > kMaxImageSide || w > kMaxImageSide || static_cast<std::int64_t>(h) * w > kMaxImagePixels) {
            return Error{"resizing the " + std::to_string(image.width) + "x" + std::to_string(image.height) + " image gives " + std::to_string(w) + "x" +
                         std::to_string(h) + " pixels, outside the image limits"};
        }
        auto resized = resizeLikePillow(img, w, h, c.resample);
        if (!resized) return resized.error();
        img = std::move(resized).value();
    }
    if (c.doCenterCrop) img = centerCrop(img, c.cropHeight, c.cropWidth);
    PixelTensor t;
    t.channels = 3;
    t.height = img.height;
    t.width = img.width;
    t.values.resize(static_cast<std::size_t>(3) * static_cast<std::size_t>(img.height) * static_cast<std::size_t>(img.width));
    for (int ch = 0; ch < 3; ++ch) {
        const float mean = c.doNormalize ? static_cast<float>(c.mean[static_cast<std::size_t>(ch)]) : 0.0f;
        const float sd = c.doNormalize ? static_cast<float>(c.std[static_cast<std::size_t>(ch)]) : 1.0f;
        for (int y = 0; y < img.height; ++y) {
            for (int x = 0; x < img.width; ++x) {
                const std::uint8_t u = img.at(y, x, ch);
                // rescale: float64 product stored as float32; normalise: float32.
                float v = c.doRescale ? static_cast<float>(static_cast<double>(u) * c.rescaleFactor) : static_cast<float>(u);
                if (c.doNormalize) v = (v - mean) / sd;
                t.values[(static_cast<std::size_t>(ch) * static_cast<std::size_t>(img.height) + static_cast<std::size_t>(y)) * static_cast<std::size_t>(img.width) +
                         static_cast<std::size_t>(x)] = v;
            }
        }
    }
    return t;
}

Result<PixelTensor> loadImageForModel(const std::filesystem::path& imagePath, const std::filesystem::path& modelFolder) {
    auto config = loadImageProcessorConfig(modelFolder);
    if (!config) return config.error();
    auto image = loadImage(imagePath);
    if (!image) return image.error();
    auto px = preprocessImage(*image, *config);
    if (!px) return Error{imagePath.string() + ": " + px.error().message};
    return px;
}

}  // namespace superlens::core
