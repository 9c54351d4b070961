// Private declarations shared by the preprocessing units:
//   preprocess_geometry.cpp  channel layout, view checks, the similarity fit and its inverse;
//   preprocess_reference.cpp the reference twins, written the obvious way in double precision;
//   preprocess_fast.cpp      the baseline kernels and the dispatch (detail::force_reference,
//                            detail::cpu_has_avx2 from dispatch.cpp);
//   preprocess_avx2.cpp      the same kernels compiled for AVX2 (x86-64 only, per-file flags).
// The kernel bodies common to the fast and AVX2 units are in preprocess_kernels.inl.
#pragma once

#include "internal.h"

namespace tinyfq {
namespace detail {

// Which source byte feeds each network channel, and the per-channel affine normalisation.
struct ChannelMap {
    int src[3];
    float scale[3];
    float bias[3];
};

ChannelMap channel_map(PixelFormat f, const ModelInfo& info);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TINYFQ_HAVE_AVX2_PREPROCESS 1
// preprocess_avx2.cpp (compiled with -mavx2 and no FMA, so it gives the baseline's numbers)
void crop_avx2(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out);
// One output row of the warp for 3- or 4-channel images (ch).
void warp_row_avx2(int ch, const ImageView& img, const ChannelMap& cm, float bx, float by, float a,
                   float d, int S, float* dst0, float* dst1, float* dst2);
// The horizontal pass of the detector's bilinear resize over one source row of a 3- or
// 4-channel image: h[c * n + x] = p0 + wx[x] * (p1 - p0), p0 and p1 the bytes at
// row[x0[x] + off[c]] and row[x1[x] + off[c]] (x0, x1 non-decreasing). Groups of 8 while each
// pixel's 4-byte load ends within `avail` bytes of row; returns how many x it did (the caller
// does the rest the same way).
int resize_row_avx2(const std::uint8_t* row, long long avail, const int off[3], const int* x0,
                    const int* x1, const float* wx, int n, float* h);
#endif

}  // namespace detail
}  // namespace tinyfq
