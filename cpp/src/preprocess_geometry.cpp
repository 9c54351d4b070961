// Preprocessing geometry: pixel layouts, view checks, the similarity fit and its inverse.
//
// Geometry convention: pixel centres at integer coordinates; resizing maps output pixel o to
// source (o + 0.5) * scale - 0.5 (as cv2.resize does). Crops clamp to the edge; warps read
// black outside the image (as cv2.warpAffine's default border does).
//
// Each fast kernel has a reference twin written the obvious way in double precision; the tests
// compare them over odd sizes, strides and formats.
#include "preprocess.h"

#include <cctype>
#include <cmath>
#include <string>

namespace tinyfq {

int channels(PixelFormat f) {
    switch (f) {
        case PixelFormat::GRAY:
            return 1;
        case PixelFormat::BGR:
        case PixelFormat::RGB:
            return 3;
        case PixelFormat::BGRA:
        case PixelFormat::RGBA:
            return 4;
    }
    return 0;
}

PixelFormat parse_pixel_format(const std::string& name, int n) {
    std::string f;
    for (char c : name) f += char(std::tolower(static_cast<unsigned char>(c)));
    const bool bgr = f == "bgr" || f == "bgra", rgb = f == "rgb" || f == "rgba";
    if (n == 0) {
        if (f == "gray" || f == "grey") return PixelFormat::GRAY;
        if (bgr) return f.size() == 4 ? PixelFormat::BGRA : PixelFormat::BGR;
        if (rgb) return f.size() == 4 ? PixelFormat::RGBA : PixelFormat::RGB;
    } else if (bgr || rgb || f == "gray" || f == "grey") {
        if (n == 1) return PixelFormat::GRAY;
        if (n == 3 && (bgr || rgb)) return bgr ? PixelFormat::BGR : PixelFormat::RGB;
        if (n == 4 && (bgr || rgb)) return bgr ? PixelFormat::BGRA : PixelFormat::RGBA;
    }
    throw InvalidInput("unknown pixel format '" + name + "'" +
                       (n ? " for " + std::to_string(n) + " channels" : std::string()) +
                       " (use 'bgr' or 'rgb')");
}

namespace detail {

void check_view(const ImageView& img) {
    if (!img.data) throw InvalidInput("image has no pixel data");
    if (img.width < 1 || img.height < 1)
        throw InvalidInput("image is empty: " + std::to_string(img.width) + "x" +
                           std::to_string(img.height));
    const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(img.width) * channels(img.format);
    if (img.stride < row)
        throw InvalidInput("row stride " + std::to_string(img.stride) +
                           " is smaller than width x " + "channels = " + std::to_string(row));
}

ChannelMap channel_map(PixelFormat f, const ModelInfo& info) {
    ChannelMap m;
    // index of R, G, B within a pixel
    int r = 0, g = 0, b = 0;
    switch (f) {
        case PixelFormat::GRAY:
            r = g = b = 0;
            break;
        case PixelFormat::BGR:
        case PixelFormat::BGRA:
            b = 0, g = 1, r = 2;
            break;
        case PixelFormat::RGB:
        case PixelFormat::RGBA:
            r = 0, g = 1, b = 2;
            break;
    }
    const int order_rgb[3] = {r, g, b}, order_bgr[3] = {b, g, r};
    for (int c = 0; c < 3; ++c) {
        m.src[c] = info.rgb ? order_rgb[c] : order_bgr[c];
        m.scale[c] = 1.0f / info.std[c];
        m.bias[c] = -info.mean[c] / info.std[c];
    }
    return m;
}

// Inverse of the image->template similarity, in double: template pixel -> image pixel.
void warp_inverse(const Landmarks& lm, const ModelInfo& info, double inv[6]) {
    float m[6];
    estimate_similarity(lm.xy, info.alignment_template, 5, m);
    const double a = m[0], b = m[3];
    const double d = a * a + b * b;
    if (!(d > 1e-12)) throw InvalidInput("landmarks give a zero-scale alignment");
    // [a -b; b a]^-1 = [a b; -b a] / d
    inv[0] = a / d, inv[1] = b / d;
    inv[3] = -b / d, inv[4] = a / d;
    inv[2] = -(inv[0] * m[2] + inv[1] * m[5]);
    inv[5] = -(inv[3] * m[2] + inv[4] * m[5]);
}

}  // namespace detail

// ---------------------------------------------------------------- similarity transform

void estimate_similarity(const float* src, const float* dst, int n, float m[6]) {
    if (n < 2) throw InvalidInput("a similarity transform needs at least 2 point pairs");
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < n; ++i) {
        if (!std::isfinite(src[2 * i]) || !std::isfinite(src[2 * i + 1]))
            throw InvalidInput("landmark " + std::to_string(i) + " is not finite");
        sx += src[2 * i], sy += src[2 * i + 1], dx += dst[2 * i], dy += dst[2 * i + 1];
    }
    sx /= n, sy /= n, dx /= n, dy /= n;
    double num_a = 0, num_b = 0, den = 0;
    for (int i = 0; i < n; ++i) {
        const double px = src[2 * i] - sx, py = src[2 * i + 1] - sy;
        const double qx = dst[2 * i] - dx, qy = dst[2 * i + 1] - dy;
        num_a += px * qx + py * qy;
        num_b += px * qy - py * qx;
        den += px * px + py * py;
    }
    if (den < 1e-6) throw InvalidInput("landmarks are degenerate (all points coincide)");
    const double a = num_a / den, b = num_b / den;
    m[0] = static_cast<float>(a), m[1] = static_cast<float>(-b);
    m[2] = static_cast<float>(dx - (a * sx - b * sy));
    m[3] = static_cast<float>(b), m[4] = static_cast<float>(a);
    m[5] = static_cast<float>(dy - (b * sx + a * sy));
}

}  // namespace tinyfq
