// The fused kernels for the build's baseline instruction set (SSE2 on x86-64, NEON on aarch64).
#include "fused.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace tinyfq {
namespace fused {
namespace generic {
#include "fused_kernels.inl"
}  // namespace generic

const Kernels& generic_kernels() {
    static const Kernels k{"generic",      generic::conv3x3,    generic::conv1x1,
                           generic::dw3x3, generic::dw3x3_pool, generic::dw3x3_flat,
                           generic::head};
    return k;
}

}  // namespace fused
}  // namespace tinyfq
