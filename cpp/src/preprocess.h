// Private declarations shared by the preprocessing units:
//   preprocess_geometry.cpp  channel layout, view checks, the similarity fit and its inverse;
//   preprocess_reference.cpp the reference twins, written the obvious way in double precision;
//   preprocess_fast.cpp      the baseline kernels, and the crop and warp drivers that run a
//                            kernel set (PreprocessKernels, picked by dispatch.cpp);
//   preprocess_avx2.cpp      the same kernels compiled for AVX2 (x86-64 only, per-file flags).
// The kernel bodies common to the fast and AVX2 units are in preprocess_kernels.inl.
#pragma once

#include "internal.h"

#include <cstdint>
#include <vector>

namespace tinyfq {
namespace detail {

// Which source byte feeds each network channel, and the per-channel affine normalisation.
struct ChannelMap {
    int src[3];
    float scale[3];
    float bias[3];
};

ChannelMap channel_map(PixelFormat f, const ModelInfo& info);

// The preprocessing kernels of one instruction set. dispatch.cpp picks the set a process uses;
// the crop and warp drivers (preprocess_fast.cpp) and the detector's resize (detector.cpp) call
// through it and test nothing about the CPU themselves.
struct PreprocessKernels {
    const char* name;  // "reference", "baseline" or "avx2"
    // preprocess_crop and preprocess_warp are their reference twins (TINYFQ_REFERENCE=1); the
    // kernels below are then unused
    bool reference;
    // A whole crop, any channel count (the view already checked).
    void (*crop)(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out);
    // One output row of the warp of a 3- or 4-channel image (ch) whose buffer is under 2 GiB
    // (32-bit gather offsets); null: pixel by pixel.
    void (*warp_row)(int ch, const ImageView& img, const ChannelMap& cm, float bx, float by,
                     float a, float d, int S, float* dst0, float* dst1, float* dst2);
    // The horizontal pass of the detector's bilinear resize over one source row of a 3- or
    // 4-channel image: h[c * n + x] = p0 + wx[x] * (p1 - p0), p0 and p1 the bytes at
    // row[x0[x] + off[c]] and row[x1[x] + off[c]] (x0, x1 non-decreasing), for a leading run
    // of x whose loads end within `avail` bytes of row; returns how many x it did (the caller
    // does the rest the same way). Null: the caller's loop does them all.
    int (*resize_row)(const std::uint8_t* row, long long avail, const int off[3], const int* x0,
                      const int* x1, const float* wx, int n, float* h);
};

// dispatch.cpp: the set this process uses (the reference set under TINYFQ_REFERENCE=1, else
// the fastest this CPU runs), and every fast set this CPU runs, baseline first (for tests).
const PreprocessKernels& preprocess_kernels();
std::vector<const PreprocessKernels*> fast_preprocess_kernel_sets();

// preprocess_fast.cpp: preprocess_crop and preprocess_warp on a given set, and the baseline's
// whole crop.
void crop_with(const PreprocessKernels& k, const ImageView& img, const ModelInfo& info, float* out);
void warp_with(const PreprocessKernels& k, const ImageView& img, const Landmarks& lm,
               const ModelInfo& info, float* out);
void crop_baseline(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TINYFQ_HAVE_AVX2_PREPROCESS 1
// preprocess_avx2.cpp (compiled with -mavx2 and no FMA, so it gives the baseline's numbers):
// the AVX2 set's kernels (contracts in PreprocessKernels; the resize in groups of 8 pixels).
void crop_avx2(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out);
void warp_row_avx2(int ch, const ImageView& img, const ChannelMap& cm, float bx, float by, float a,
                   float d, int S, float* dst0, float* dst1, float* dst2);
int resize_row_avx2(const std::uint8_t* row, long long avail, const int off[3], const int* x0,
                    const int* x1, const float* wx, int n, float* h);
#endif

}  // namespace detail
}  // namespace tinyfq
