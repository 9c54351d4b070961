// The fast fused kernels (contract in fused.h), written once with GCC vector extensions and
// compiled per instruction set: fused_generic.cpp (the build's baseline: SSE2 on x86-64, NEON
// on aarch64) and fused_avx2.cpp (-mavx2 -mfma). Everything here has internal linkage, so the
// two compilations never share an inline function compiled for the wrong CPU.
//
// Layout choices: planar tensors, 8 pixels per vector. 1x1 convolutions keep a 4-channel x
// 24-pixel tile of accumulators in registers (12 vectors; with the 3 inputs and a broadcast
// weight, all 16 AVX registers) and stream the input channels through it, so each weight is
// broadcast once per 24 pixels and each input vector is loaded once per 4 output channels.
// A tile's three vectors may come from different rows, so narrow planes fill tiles too.
// Columns that do not fill a vector take the scalar path, which is the reference arithmetic.
// (The including file includes <algorithm>, <cstddef> and <cstring> before its namespace.)

namespace {

typedef float v8 __attribute__((vector_size(32)));

inline v8 load(const float* p) {
    v8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }
inline v8 splat(float f) { return v8{f, f, f, f, f, f, f, f}; }
inline v8 relu(v8 v) {
#if defined(__AVX__)
    return __builtin_ia32_maxps256(v, splat(0.f));  // one instruction instead of compare + and
#else
    const v8 z = splat(0.f);
    return v > z ? v : z;
#endif
}
inline float hsum(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
inline float relu1(float v) { return v > 0.f ? v : 0.f; }
// Even / odd elements of the 16 floats (a, b).
inline v8 evens(v8 a, v8 b) { return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14); }
inline v8 odds(v8 a, v8 b) { return __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15); }
// The same elements in the order (e0 e1 e4 e5 e2 e3 e6 e7) of the true result e: one in-lane
// shuffle (vshufps on AVX, uzp on NEON) instead of lane-crossing permutes. Vectors combined
// only with each other may stay in this order; unperm() (its own inverse) restores e.
inline v8 evens_p(v8 a, v8 b) { return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14); }
inline v8 odds_p(v8 a, v8 b) { return __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15); }
inline v8 unperm(v8 v) { return __builtin_shufflevector(v, v, 0, 1, 4, 5, 2, 3, 6, 7); }
// (first, v[0], ..., v[6]): v shifted up one lane.
inline v8 shift_in(float first, v8 v) {
    return __builtin_shufflevector(v, splat(first), 8, 0, 1, 2, 3, 4, 5, 6);
}

// The kernels, in three parts (in this order: the stem uses the 1x1 tiles).
#include "fused_kernels_1x1.inl"
#include "fused_kernels_dw.inl"
#include "fused_kernels_stem_head.inl"

}  // namespace
