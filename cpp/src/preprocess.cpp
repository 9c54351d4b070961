// Fused preprocessing: 8-bit pixels -> normalised planar float input, in one pass.
//
// Geometry convention: pixel centres at integer coordinates; resizing maps output pixel o to
// source (o + 0.5) * scale - 0.5 (as cv2.resize does). Crops clamp to the edge; warps read
// black outside the image (as cv2.warpAffine's default border does).
//
// Each fast kernel has a reference twin written the obvious way in double precision; the tests
// compare them over odd sizes, strides and formats.
#include "internal.h"

#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cstdlib>
#include <vector>

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

// Which source byte feeds each network channel, and the per-channel affine normalisation.
struct ChannelMap {
    int src[3];
    float scale[3];
    float bias[3];
};

static ChannelMap channel_map(PixelFormat f, const ModelInfo& info) {
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

bool force_reference() {
    static const bool force = [] {
        const char* v = std::getenv("TINYFQ_REFERENCE");
        return v && *v && *v != '0';
    }();
    return force;
}

}  // namespace detail

using detail::channel_map;
using detail::ChannelMap;

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

namespace detail {

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

// ---------------------------------------------------------------- reference kernels

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

// ---------------------------------------------------------------- fast kernels

namespace {

// Per-output-column tables shared by every row of a crop resize.
struct Axis {
    std::vector<int> i0, i1;
    std::vector<float> w;
    Axis(int src, int dst) : i0(dst), i1(dst), w(dst) {
        const double f = double(src) / dst;
        for (int o = 0; o < dst; ++o) {
            double s = (o + 0.5) * f - 0.5;
            s = std::min(std::max(s, 0.0), double(src - 1));
            i0[o] = int(s);
            i1[o] = std::min(i0[o] + 1, src - 1);
            w[o] = float(s - i0[o]);
        }
    }
};

// Separable bilinear resize: blend the two source rows of an output row into a float row
// (contiguous, vectorised by the compiler), then sample that row at the output columns.
// Inlined into crop_kernel (baseline) and crop_kernel_avx2 (the same operations, 8 lanes;
// no fused multiply-add, so both give the same numbers).
template <int CH>
__attribute__((always_inline)) inline void crop_body(const ImageView& img, const ModelInfo& info,
                                                     const ChannelMap& cm, float* out) {
    const int S = info.input_size, W = img.width;
    const Axis ax(W, S), ay(img.height, S);
    std::vector<float> row(static_cast<std::size_t>(W) * CH + CH);
    // per network channel: float offsets of both neighbours within the blended row
    std::vector<int> off0(3 * S), off1(3 * S);
    for (int c = 0; c < 3; ++c)
        for (int ox = 0; ox < S; ++ox) {
            off0[c * S + ox] = ax.i0[ox] * CH + cm.src[c];
            off1[c * S + ox] = ax.i1[ox] * CH + cm.src[c];
        }
    const float* wx = ax.w.data();
    float* r = row.data();
    const int n = W * CH;
    for (int oy = 0; oy < S; ++oy) {
        const std::uint8_t* r0 = img.data + ay.i0[oy] * img.stride;
        const std::uint8_t* r1 = img.data + ay.i1[oy] * img.stride;
        const float wy = ay.w[oy], wy0 = 1.f - wy;
        for (int i = 0; i < n; ++i) r[i] = wy0 * float(r0[i]) + wy * float(r1[i]);
        for (int c = 0; c < 3; ++c) {
            const int* o0 = &off0[c * S];
            const int* o1 = &off1[c * S];
            const float sc = cm.scale[c], bi = cm.bias[c];
            float* dst = out + (c * S + oy) * S;
            for (int ox = 0; ox < S; ++ox) {
                const float a = r[o0[ox]], b = r[o1[ox]];
                dst[ox] = (a + wx[ox] * (b - a)) * sc + bi;
            }
        }
    }
}

template <int CH>
void crop_kernel(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out) {
    crop_body<CH>(img, info, cm, out);
}

// One output pixel of the warp: bilinear, neighbours outside the image read as black.
template <int CH>
inline void warp_pixel(const ImageView& img, const ChannelMap& cm, float sx, float sy, float* dst0,
                       float* dst1, float* dst2) {
    const int W = img.width, H = img.height;
    const std::ptrdiff_t stride = img.stride;
    const float fx = std::floor(sx), fy = std::floor(sy);
    // Far outside the image (or NaN): black, before any float -> int conversion (which would
    // overflow, undefined behaviour, for coordinates beyond the int range).
    if (!(fx >= -2.f && fy >= -2.f && fx <= float(W) && fy <= float(H))) {
        *dst0 = cm.bias[0], *dst1 = cm.bias[1], *dst2 = cm.bias[2];  // black, normalised
        return;
    }
    const int x0 = int(fx), y0 = int(fy);
    const float wx = sx - fx, wy = sy - fy;
    float v[3];
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const std::uint8_t* p0 = img.data + y0 * stride + x0 * CH;
        const std::uint8_t* p1 = p0 + stride;
        for (int c = 0; c < 3; ++c) {
            const int s = cm.src[c];
            const float top = p0[s] + wx * float(p0[s + CH] - p0[s]);
            const float bot = p1[s] + wx * float(p1[s + CH] - p1[s]);
            v[c] = top + wy * (bot - top);
        }
    } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
        v[0] = v[1] = v[2] = 0.f;
    } else {  // on the border: each neighbour outside the image reads as black
        for (int c = 0; c < 3; ++c) {
            const int s = cm.src[c];
            auto px = [&](int x, int y) -> float {
                if (x < 0 || y < 0 || x >= W || y >= H) return 0.f;
                return img.data[y * stride + x * CH + s];
            };
            const float top = px(x0, y0) + wx * (px(x0 + 1, y0) - px(x0, y0));
            const float bot = px(x0, y0 + 1) + wx * (px(x0 + 1, y0 + 1) - px(x0, y0 + 1));
            v[c] = top + wy * (bot - top);
        }
    }
    *dst0 = v[0] * cm.scale[0] + cm.bias[0];
    *dst1 = v[1] * cm.scale[1] + cm.bias[1];
    *dst2 = v[2] * cm.scale[2] + cm.bias[2];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TINYFQ_HAVE_AVX2_WARP 1
bool cpu_has_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
}

template <int CH>
__attribute__((target("avx2"))) void crop_kernel_avx2(const ImageView& img, const ModelInfo& info,
                                                      const ChannelMap& cm, float* out) {
    crop_body<CH>(img, info, cm, out);
}

// Byte `sh / 8` of each 32-bit lane, as floats.
__attribute__((target("avx2"))) inline __m256 channel_of(__m256i g, __m128i sh, __m256i ff) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srl_epi32(g, sh), ff));
}

// Eight output pixels at a time with AVX2 gathers (3- and 4-channel images): each neighbour is
// one 32-bit load holding all channels of a pixel. Groups with any neighbour outside the image
// (or whose 4-byte load would pass the buffer's end) go through warp_pixel. The arithmetic is
// the scalar path's, operation for operation (no fused multiply-add), so both give the same
// numbers.
template <int CH>
__attribute__((target("avx2"))) void warp_row_avx2(const ImageView& img, const ChannelMap& cm,
                                                   float bx, float by, float a, float d, int S,
                                                   float* dst0, float* dst1, float* dst2) {
    const int W = img.width, H = img.height;
    const int stride = int(img.stride);
    const long long last = (long long)(H - 1) * img.stride + (long long)W * CH;  // bytes
    const __m256 va = _mm256_set1_ps(a), vd = _mm256_set1_ps(d);
    const __m256 vbx = _mm256_set1_ps(bx), vby = _mm256_set1_ps(by);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i ff = _mm256_set1_epi32(0xFF);
    const int* base = reinterpret_cast<const int*>(img.data);
    float* dst[3] = {dst0, dst1, dst2};
    int ox = 0;
    for (; ox + 8 <= S; ox += 8) {
        const __m256 vox = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(ox), lanes));
        const __m256 sx = _mm256_add_ps(vbx, _mm256_mul_ps(va, vox));
        const __m256 sy = _mm256_add_ps(vby, _mm256_mul_ps(vd, vox));
        const __m256 fx = _mm256_floor_ps(sx), fy = _mm256_floor_ps(sy);
        const __m256i x0 = _mm256_cvttps_epi32(fx), y0 = _mm256_cvttps_epi32(fy);
        // all lanes inside: 0 <= x0, x0 + 1 < W, 0 <= y0, y0 + 1 < H, and the last 4-byte load
        // ends inside the buffer
        const __m256i inside =
            _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(x0, _mm256_set1_epi32(-1)),
                                              _mm256_cmpgt_epi32(_mm256_set1_epi32(W - 1), x0)),
                             _mm256_and_si256(_mm256_cmpgt_epi32(y0, _mm256_set1_epi32(-1)),
                                              _mm256_cmpgt_epi32(_mm256_set1_epi32(H - 1), y0)));
        bool ok = _mm256_movemask_epi8(inside) == -1;
        __m256i i00 = _mm256_setzero_si256();
        if (ok) {
            i00 = _mm256_add_epi32(_mm256_mullo_epi32(y0, _mm256_set1_epi32(stride)),
                                   _mm256_mullo_epi32(x0, _mm256_set1_epi32(CH)));
            alignas(32) int idx[8];
            _mm256_store_si256(reinterpret_cast<__m256i*>(idx), i00);
            for (int k = 0; k < 8 && ok; ++k) ok = idx[k] + stride + CH + 4LL <= last;
        }
        if (!ok) {
            alignas(32) float xs[8], ys[8];
            _mm256_store_ps(xs, sx);
            _mm256_store_ps(ys, sy);
            for (int k = 0; k < 8; ++k)
                warp_pixel<CH>(img, cm, xs[k], ys[k], dst0 + ox + k, dst1 + ox + k, dst2 + ox + k);
            continue;
        }
        const __m256i i01 = _mm256_add_epi32(i00, _mm256_set1_epi32(CH));
        const __m256i i10 = _mm256_add_epi32(i00, _mm256_set1_epi32(stride));
        const __m256i i11 = _mm256_add_epi32(i10, _mm256_set1_epi32(CH));
        const __m256i g00 = _mm256_i32gather_epi32(base, i00, 1);
        const __m256i g01 = _mm256_i32gather_epi32(base, i01, 1);
        const __m256i g10 = _mm256_i32gather_epi32(base, i10, 1);
        const __m256i g11 = _mm256_i32gather_epi32(base, i11, 1);
        const __m256 wx = _mm256_sub_ps(sx, fx), wy = _mm256_sub_ps(sy, fy);
        for (int c = 0; c < 3; ++c) {
            const __m128i sh = _mm_cvtsi32_si128(8 * cm.src[c]);
            const __m256 p00 = channel_of(g00, sh, ff), p01 = channel_of(g01, sh, ff);
            const __m256 p10 = channel_of(g10, sh, ff), p11 = channel_of(g11, sh, ff);
            const __m256 top = _mm256_add_ps(p00, _mm256_mul_ps(wx, _mm256_sub_ps(p01, p00)));
            const __m256 bot = _mm256_add_ps(p10, _mm256_mul_ps(wx, _mm256_sub_ps(p11, p10)));
            const __m256 v = _mm256_add_ps(top, _mm256_mul_ps(wy, _mm256_sub_ps(bot, top)));
            _mm256_storeu_ps(dst[c] + ox,
                             _mm256_add_ps(_mm256_mul_ps(v, _mm256_set1_ps(cm.scale[c])),
                                           _mm256_set1_ps(cm.bias[c])));
        }
    }
    for (; ox < S; ++ox)
        warp_pixel<CH>(img, cm, bx + a * ox, by + d * ox, dst0 + ox, dst1 + ox, dst2 + ox);
}
#endif

template <int CH>
void warp_kernel(const ImageView& img, const double inv[6], const ModelInfo& info,
                 const ChannelMap& cm, float* out) {
    const int S = info.input_size;
    const float a = float(inv[0]), d = float(inv[3]);
#if TINYFQ_HAVE_AVX2_WARP
    // 32-bit gather offsets: only for buffers under 2 GiB
    const bool simd =
        CH >= 3 && cpu_has_avx2() && (long long)img.height * img.stride < (1LL << 31) - 64;
#endif
    for (int oy = 0; oy < S; ++oy) {
        const float bx = float(inv[1] * oy + inv[2]), by = float(inv[4] * oy + inv[5]);
        float* dst0 = out + (0 * S + oy) * S;
        float* dst1 = out + (1 * S + oy) * S;
        float* dst2 = out + (2 * S + oy) * S;
#if TINYFQ_HAVE_AVX2_WARP
        if (simd) {
            warp_row_avx2<CH>(img, cm, bx, by, a, d, S, dst0, dst1, dst2);
            continue;
        }
#endif
        for (int ox = 0; ox < S; ++ox)
            warp_pixel<CH>(img, cm, bx + a * ox, by + d * ox, dst0 + ox, dst1 + ox, dst2 + ox);
    }
}

}  // namespace

void preprocess_crop(const ImageView& img, const ModelInfo& info, float* out) {
    if (detail::force_reference()) return preprocess_crop_reference(img, info, out);
    detail::check_view(img);
    const ChannelMap cm = channel_map(img.format, info);
#if TINYFQ_HAVE_AVX2_WARP
    if (cpu_has_avx2()) {
        switch (channels(img.format)) {
            case 1:
                return crop_kernel_avx2<1>(img, info, cm, out);
            case 3:
                return crop_kernel_avx2<3>(img, info, cm, out);
            default:
                return crop_kernel_avx2<4>(img, info, cm, out);
        }
    }
#endif
    switch (channels(img.format)) {
        case 1:
            return crop_kernel<1>(img, info, cm, out);
        case 3:
            return crop_kernel<3>(img, info, cm, out);
        default:
            return crop_kernel<4>(img, info, cm, out);
    }
}

void preprocess_warp(const ImageView& img, const Landmarks& lm, const ModelInfo& info, float* out) {
    if (detail::force_reference()) return preprocess_warp_reference(img, lm, info, out);
    detail::check_view(img);
    double inv[6];
    detail::warp_inverse(lm, info, inv);
    const ChannelMap cm = channel_map(img.format, info);
    switch (channels(img.format)) {
        case 1:
            return warp_kernel<1>(img, inv, info, cm, out);
        case 3:
            return warp_kernel<3>(img, inv, info, cm, out);
        default:
            return warp_kernel<4>(img, inv, info, cm, out);
    }
}

}  // namespace tinyfq
