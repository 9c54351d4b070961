// What the fused layers share (private): their blob and workspace helpers, and the two
// families' registration. The layers themselves:
//   fused_layers_net.cpp       tinyFQnet's TinyfqConv3x3, TinyfqBlock, TinyfqHead
//   fused_layers_detector.cpp  YuNet's TinyfqPwDw, TinyfqUpAdd, TinyfqMaxPool2
// (the format they read: fused_layers.cpp; their kernels: fused.h).
#pragma once

#include "fused.h"

#include <climits>
#include <cstddef>

#include <layer.h>
#include <net.h>

namespace tinyfq {
namespace fused {
namespace layers {

inline bool is_planar_fp32(const ncnn::Mat& m, int c) {
    return m.dims == 3 && m.c == c && m.elempack == 1 && m.elemsize == 4u && m.w > 0 && m.h > 0;
}

// The same pixel of consecutive planes lands in L1 set (c * stride / 64 bytes) mod 64: a stride
// of 4 KB puts every plane in one set (8 ways: 9 planes thrash), 3 KB in 4 sets, any even
// number of cache lines in at most 32. An odd number of cache lines spreads any 64 consecutive
// planes over all 64 sets (L1 and L2 alike): round up to whole lines (which also keeps each
// plane 64-byte aligned) and add one where the count is even.
inline std::size_t plane_stride(std::size_t n) {
    n = (n + 15) / 16 * 16;
    return n / 16 % 2 == 0 ? n + 16 : n;
}

// Channel counts a graph may give a fused layer: positive and small enough that every weight
// count (at most cout * cin * 9) fits an int, so a hostile .param cannot overflow it.
constexpr int kMaxChannels = 4096;
inline bool channels_ok(int c) { return c > 0 && c <= kMaxChannels; }

// A workspace of n floats, or an empty Mat (ncnn's -100, out of memory) where n does not fit
// the int ncnn sizes it with: a hostile graph's channel counts times its map size can exceed it.
inline ncnn::Mat workspace(std::size_t n, const ncnn::Option& opt) {
    if (n == 0 || n > std::size_t(INT_MAX)) return ncnn::Mat();
    return ncnn::Mat(int(n), 4u, opt.workspace_allocator);
}

// A w x h x c fp32 blob with channel stride plane_stride(w * h) (ncnn keeps cstep as created).
inline void create_planar(ncnn::Mat& m, int w, int h, int c, ncnn::Allocator* a) {
    m.create(int(plane_stride(std::size_t(w) * h)), 1, c, 4u, a);
    if (!m.empty()) m.w = w, m.h = h;
}

// Register each family's layers with a net (register_layers does both).
void register_net_layers(ncnn::Net& net);
void register_detector_layers(ncnn::Net& net);

template <class L>
ncnn::Layer* create(void*) {
    return new L;
}

}  // namespace layers
}  // namespace fused
}  // namespace tinyfq
