// The one place the library chooses an implementation at run time: the reference twins when
// TINYFQ_REFERENCE is set, else the fastest kernels the CPU runs. Used by the preprocessing
// (preprocess_fast.cpp) and by the fused network layers (fused_layers.cpp).
#include "internal.h"

#include <cstdlib>

namespace tinyfq {
namespace detail {

bool force_reference() {
    static const bool force = [] {
        const char* v = std::getenv("TINYFQ_REFERENCE");
        return v && *v && *v != '0';
    }();
    return force;
}

bool cpu_has_avx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
#else
    return false;
#endif
}

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
#else
    return false;
#endif
}

}  // namespace detail
}  // namespace tinyfq
