// Fused tinyFQnet layers: the kernels behind the custom ncnn layers that the exporter's
// "fused" format uses (TinyfqConv3x3, TinyfqBlock, TinyfqHead; see fused_layers.cpp).
//
// All tensors are planar fp32 (channel c, row y, column x at p[c * cs + y * rs + x]); every
// convolution adds its bias and, where `act` is set, applies ReLU: tinyFQnet has BN + ReLU after
// every convolution (Table 1, folded by the exporter); the YuNet detector (TinyfqPwDw) has
// linear 1x1 convolutions and linear heads.
//
// Each kernel set has the same contract:
//   reference  plain scalar loops, the twin every fast path is tested against
//   generic    register-tiled with GCC vector extensions (8 floats; SSE2 pairs on baseline
//              x86-64, NEON pairs on aarch64)
//   avx2       the same source compiled for AVX2 + FMA, chosen at run time (dispatch.cpp) on
//              CPUs that have it
#pragma once

#include <cstddef>
#include <vector>

namespace ncnn {
class Net;
}

namespace tinyfq {
namespace fused {

struct Kernels {
    const char* name;
    // Dense 3x3 convolution, zero padding 1, stride 1 or 2, + bias + ReLU.
    // in: cin planes of h x w (channel stride in_cs, row stride w). out: output rows [y0, y1)
    // of the cout planes of ho x wo, ho = (h - 1) / stride + 1, wo likewise (channel stride
    // out_cs, row stride wo; row y0 first). w: [cout][cin][3][3]. work: scratch of
    // conv3x3_work(cin, ho, wo) floats.
    void (*conv3x3)(const float* in, int cin, std::size_t in_cs, int h, int w, int stride,
                    const float* wt, const float* bias, int cout, float* out, std::size_t out_cs,
                    float* work, int y0, int y1);
    // 1x1 convolution + bias (+ ReLU when act) (+ residual added after it when res is not null).
    // in: cin planes of h x w, contiguous rows (channel stride in_cs). out: channel co, row y,
    // column x at out[co * out_cs + y * out_rs + x] (out_rs >= w lets it write into the inside
    // of a zero-bordered buffer). res: like in, with cout planes and channel stride res_cs.
    // w: [cout][cin].
    void (*conv1x1)(const float* in, int cin, std::size_t in_cs, int h, int w, const float* wt,
                    const float* bias, int cout, float* out, std::size_t out_cs, int out_rs,
                    const float* res, std::size_t res_cs, bool act);
    // Depthwise 3x3, stride 1 or 2, + bias (+ ReLU when act), reading a zero-bordered input:
    // channel c's (h + 2) x (w + 2) plane starts at in + c * in_cs (the image itself at row 1,
    // column 1). out: ho x wo planes, contiguous, channel stride out_cs. w: [c][3][3].
    void (*dw3x3)(const float* in, std::size_t in_cs, int h, int w, int stride, const float* wt,
                  const float* bias, int c, float* out, std::size_t out_cs, bool act);
    // dw3x3 at stride 1 followed by 2x2 max pooling (h and w even): writes the pooled planes
    // (h/2 x w/2, contiguous, channel stride pool_cs), and the full output too unless out is
    // null.
    void (*dw3x3_pool)(const float* in, std::size_t in_cs, int h, int w, const float* wt,
                       const float* bias, int c, float* out, std::size_t out_cs, float* pooled,
                       std::size_t pool_cs, bool act);
    // Depthwise 3x3, stride 1, + bias (+ ReLU when act), on planes without a side border, for
    // widths that are not a multiple of 8: channel c's h x w pixels are contiguous from
    // in + c * in_cs, with w + 1 zeros before and after them (the rows above and below). out
    // like dw3x3's. work: dw3x3_flat_work(w) ints (the column masks).
    void (*dw3x3_flat)(const float* in, std::size_t in_cs, int h, int w, const float* wt,
                       const float* bias, int c, float* out, std::size_t out_cs, bool act,
                       int* work);
    // Head: 1x1 convolution cin -> mid + bias + ReLU, global average over n pixels, then the
    // linear unit fc_w . avg + fc_b. Returns the logit (the layer applies the sigmoid).
    float (*head)(const float* in, int cin, std::size_t in_cs, int n, const float* wt,
                  const float* bias, int mid, const float* fc_w, float fc_b);
};

const Kernels& reference_kernels();
const Kernels& generic_kernels();
#if defined(__x86_64__) || defined(_M_X64)
const Kernels& avx2_kernels();  // only call where the CPU has AVX2 and FMA
#endif
// dispatch.cpp: the set this process uses, the fastest this CPU runs (reference when
// TINYFQ_REFERENCE=1 is set), and every fast set this CPU runs, generic first (for tests).
const Kernels& best_kernels();
std::vector<const Kernels*> fast_kernel_sets();

// Register TinyfqConv3x3, TinyfqBlock, TinyfqHead, TinyfqPwDw, TinyfqUpAdd and TinyfqMaxPool2
// with a net (before load_param).
void register_layers(ncnn::Net& net);
// The options both of the library's nets run with (before load_param): one ncnn thread per
// call, light mode, no Vulkan, no bf16 or int8, fp16 only when asked; the layers registered.
void prepare_net(ncnn::Net& net, bool fp16);

inline int out_size(int n, int stride) { return (n - 1) / stride + 1; }
// dw3x3_flat's scratch: left and right column masks for each phase of a vector along a row.
inline std::size_t dw3x3_flat_work(int w) { return std::size_t(w + 1) * 16; }
// conv3x3 at stride 2 deinterleaves the input rows of this many output rows at a time.
constexpr int kConv3x3Chunk = 4;
// conv3x3's scratch: the taps' offsets (cin * 9 ints in floats' room, whole cache lines), then
// the deinterleaved input rows of one chunk (2 * chunk + 1 rows, 3 taps a channel, each as wide
// as the output's vector columns; ho unused).
inline std::size_t conv3x3_toff_room(int cin) { return (std::size_t(cin) * 9 + 15) / 16 * 16; }
inline std::size_t conv3x3_work(int cin, int /*ho*/, int wo) {
    return conv3x3_toff_room(cin) +
           std::size_t(2 * kConv3x3Chunk + 1) * cin * 3 * ((std::size_t(wo) + 7) / 8 * 8);
}

}  // namespace fused
}  // namespace tinyfq
