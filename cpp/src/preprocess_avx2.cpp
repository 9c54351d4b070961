// The preprocessing kernels for AVX2 (this file is compiled with -mavx2, and without FMA so
// that it gives the baseline's numbers operation for operation; see cpp/CMakeLists.txt).
// Chosen at run time by dispatch.cpp (the avx2 PreprocessKernels) on CPUs that have AVX2.
#include "preprocess.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace tinyfq {
namespace detail {
namespace {

#include "preprocess_kernels.inl"

// Byte `sh / 8` of each 32-bit lane, as floats.
inline __m256 channel_of(__m256i g, __m128i sh, __m256i ff) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srl_epi32(g, sh), ff));
}

// Eight output pixels at a time with AVX2 gathers (3- and 4-channel images): each neighbour is
// one 32-bit load holding all channels of a pixel. Groups with any neighbour outside the image
// (or whose 4-byte load would pass the buffer's end) go through warp_pixel. The arithmetic is
// the scalar path's, operation for operation (no fused multiply-add), so both give the same
// numbers.
template <int CH>
void warp_row(const ImageView& img, const ChannelMap& cm, float bx, float by, float a, float d,
              int S, float* dst0, float* dst1, float* dst2) {
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

}  // namespace

int resize_row_avx2(const std::uint8_t* row, long long avail, const int off[3], const int* x0,
                    const int* x1, const float* wx, int n, float* h) {
    const __m256i ff = _mm256_set1_epi32(0xFF);
    const int* base = reinterpret_cast<const int*>(row);
    int x = 0;
    for (; x + 8 <= n && x1[x + 7] + 4LL <= avail; x += 8) {
        const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x0 + x));
        const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x1 + x));
        const __m256i g0 = _mm256_i32gather_epi32(base, i0, 1);
        const __m256i g1 = _mm256_i32gather_epi32(base, i1, 1);
        const __m256 w = _mm256_loadu_ps(wx + x);
        for (int c = 0; c < 3; ++c) {
            const __m128i sh = _mm_cvtsi32_si128(8 * off[c]);
            const __m256 p0 = channel_of(g0, sh, ff), p1 = channel_of(g1, sh, ff);
            _mm256_storeu_ps(h + c * n + x,
                             _mm256_add_ps(p0, _mm256_mul_ps(w, _mm256_sub_ps(p1, p0))));
        }
    }
    return x;
}

void crop_avx2(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out) {
    switch (channels(img.format)) {
        case 1:
            return crop_body<1>(img, info, cm, out);
        case 3:
            return crop_body<3>(img, info, cm, out);
        default:
            return crop_body<4>(img, info, cm, out);
    }
}

void warp_row_avx2(int ch, const ImageView& img, const ChannelMap& cm, float bx, float by, float a,
                   float d, int S, float* dst0, float* dst1, float* dst2) {
    if (ch == 3) return warp_row<3>(img, cm, bx, by, a, d, S, dst0, dst1, dst2);
    return warp_row<4>(img, cm, bx, by, a, d, S, dst0, dst1, dst2);
}

}  // namespace detail
}  // namespace tinyfq
