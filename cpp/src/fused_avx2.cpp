// The fused kernels compiled for AVX2 + FMA (this file only; see cpp/CMakeLists.txt). Chosen at
// run time by dispatch.cpp (best_kernels) on CPUs that have both.
#include "fused.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace tinyfq {
namespace fused {
namespace avx2 {
#include "fused_kernels.inl"
}  // namespace avx2

const Kernels& avx2_kernels() {
    static const Kernels k{"avx2",           avx2::conv3x3,    avx2::conv1x1, avx2::dw3x3,
                           avx2::dw3x3_pool, avx2::dw3x3_flat, avx2::head};
    return k;
}

}  // namespace fused
}  // namespace tinyfq
