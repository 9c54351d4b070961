// The reference twins of the preprocessing kernels, written the obvious way in double
// precision; the tests compare the fast kernels with them (TINYFQ_REFERENCE=1 makes the library
// use them everywhere). Geometry convention: see preprocess_geometry.cpp.
#include "preprocess.h"

#include <cmath>

namespace tinyfq {

using detail::channel_map;
using detail::ChannelMap;

void preprocess_crop_reference(const ImageView& img, const ModelInfo& info, float* out) {
    detail::check_view(img);
    const int S = info.input_size, ch = channels(img.format);
    const ChannelMap cm = channel_map(img.format, info);
    const double fx = double(img.width) / S, fy = double(img.height) / S;
    for (int oy = 0; oy < S; ++oy) {
        double sy = (oy + 0.5) * fy - 0.5;
        sy = std::min(std::max(sy, 0.0), double(img.height - 1));
        const int y0 = int(sy), y1 = std::min(y0 + 1, img.height - 1);
        const double wy = sy - y0;
        for (int ox = 0; ox < S; ++ox) {
            double sx = (ox + 0.5) * fx - 0.5;
            sx = std::min(std::max(sx, 0.0), double(img.width - 1));
            const int x0 = int(sx), x1 = std::min(x0 + 1, img.width - 1);
            const double wx = sx - x0;
            for (int c = 0; c < 3; ++c) {
                auto px = [&](int x, int y) {
                    return double(img.data[y * img.stride + x * ch + cm.src[c]]);
                };
                const double v = (1 - wy) * ((1 - wx) * px(x0, y0) + wx * px(x1, y0)) +
                                 wy * ((1 - wx) * px(x0, y1) + wx * px(x1, y1));
                out[(c * S + oy) * S + ox] = float((v - info.mean[c]) / info.std[c]);
            }
        }
    }
}

void preprocess_warp_reference(const ImageView& img, const Landmarks& lm, const ModelInfo& info,
                               float* out) {
    detail::check_view(img);
    double inv[6];
    detail::warp_inverse(lm, info, inv);
    const int S = info.input_size, ch = channels(img.format);
    const ChannelMap cm = channel_map(img.format, info);
    for (int oy = 0; oy < S; ++oy) {
        for (int ox = 0; ox < S; ++ox) {
            const double sx = inv[0] * ox + inv[1] * oy + inv[2];
            const double sy = inv[3] * ox + inv[4] * oy + inv[5];
            const double fx0 = std::floor(sx), fy0 = std::floor(sy);
            const double wx = sx - fx0, wy = sy - fy0;
            for (int c = 0; c < 3; ++c) {
                auto px = [&](double x, double y) {
                    if (x < 0 || y < 0 || x > img.width - 1 || y > img.height - 1) return 0.0;
                    return double(
                        img.data[std::ptrdiff_t(y) * img.stride + int(x) * ch + cm.src[c]]);
                };
                const double v = (1 - wy) * ((1 - wx) * px(fx0, fy0) + wx * px(fx0 + 1, fy0)) +
                                 wy * ((1 - wx) * px(fx0, fy0 + 1) + wx * px(fx0 + 1, fy0 + 1));
                out[(c * S + oy) * S + ox] = float((v - info.mean[c]) / info.std[c]);
            }
        }
    }
}

}  // namespace tinyfq
