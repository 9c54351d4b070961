// Fused preprocessing: 8-bit pixels -> normalised planar float input, in one pass.
//
// Geometry convention: pixel centres at integer coordinates; resizing maps output pixel o to
// source (o + 0.5) * scale - 0.5 (as cv2.resize does). Crops clamp to the edge; warps read
// black outside the image (as cv2.warpAffine's default border does).
//
// This unit holds the baseline kernels and the drivers that run a kernel set; which set runs is
// chosen in one place, dispatch.cpp (detail::preprocess_kernels). Each fast kernel has a
// reference twin (preprocess_reference.cpp) written the obvious way in double precision; the
// tests compare them over odd sizes, strides and formats.
#include "preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tinyfq {

using detail::channel_map;
using detail::ChannelMap;

namespace {

#include "preprocess_kernels.inl"

template <int CH>
void warp_kernel(const detail::PreprocessKernels& k, const ImageView& img, const double inv[6],
                 const ModelInfo& info, const ChannelMap& cm, float* out) {
    const int S = info.input_size;
    const float a = float(inv[0]), d = float(inv[3]);
    // the set's row kernel (32-bit gather offsets: only for buffers under 2 GiB)
    const auto row =
        CH >= 3 && (long long)img.height * img.stride < (1LL << 31) - 64 ? k.warp_row : nullptr;
    for (int oy = 0; oy < S; ++oy) {
        const float bx = float(inv[1] * oy + inv[2]), by = float(inv[4] * oy + inv[5]);
        float* dst0 = out + (0 * S + oy) * S;
        float* dst1 = out + (1 * S + oy) * S;
        float* dst2 = out + (2 * S + oy) * S;
        if (row) {
            row(CH, img, cm, bx, by, a, d, S, dst0, dst1, dst2);
            continue;
        }
        for (int ox = 0; ox < S; ++ox)
            warp_pixel<CH>(img, cm, bx + a * ox, by + d * ox, dst0 + ox, dst1 + ox, dst2 + ox);
    }
}

}  // namespace

namespace detail {

void crop_baseline(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out) {
    switch (channels(img.format)) {
        case 1:
            return crop_kernel<1>(img, info, cm, out);
        case 3:
            return crop_kernel<3>(img, info, cm, out);
        default:
            return crop_kernel<4>(img, info, cm, out);
    }
}

void crop_with(const PreprocessKernels& k, const ImageView& img, const ModelInfo& info,
               float* out) {
    if (k.reference) return preprocess_crop_reference(img, info, out);
    check_view(img);
    k.crop(img, info, channel_map(img.format, info), out);
}

void warp_with(const PreprocessKernels& k, const ImageView& img, const Landmarks& lm,
               const ModelInfo& info, float* out) {
    if (k.reference) return preprocess_warp_reference(img, lm, info, out);
    check_view(img);
    double inv[6];
    warp_inverse(lm, info, inv);
    const ChannelMap cm = channel_map(img.format, info);
    switch (channels(img.format)) {
        case 1:
            return warp_kernel<1>(k, img, inv, info, cm, out);
        case 3:
            return warp_kernel<3>(k, img, inv, info, cm, out);
        default:
            return warp_kernel<4>(k, img, inv, info, cm, out);
    }
}

}  // namespace detail

void preprocess_crop(const ImageView& img, const ModelInfo& info, float* out) {
    detail::crop_with(detail::preprocess_kernels(), img, info, out);
}

void preprocess_warp(const ImageView& img, const Landmarks& lm, const ModelInfo& info, float* out) {
    detail::warp_with(detail::preprocess_kernels(), img, lm, info, out);
}

}  // namespace tinyfq
