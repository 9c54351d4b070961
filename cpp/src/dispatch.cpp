// The one place the library chooses an implementation at run time: the reference twins when
// TINYFQ_REFERENCE is set, else the fastest kernels the CPU runs. Used by the preprocessing
// (preprocess_fast.cpp) and by the fused network layers (fused_layers.cpp).
#include "internal.h"

#include <cstdlib>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define TINYFQ_X86_CPUID 1

namespace {

// AVX2 and FMA usable here: CPUID says the CPU has them and XGETBV that the OS saves the YMM
// registers. Asked directly rather than through __builtin_cpu_supports, which reads the compiler
// runtime's __cpu_model: zig cc (the manylinux wheels' compiler) links a runtime that never
// fills it in, so the builtin said "no AVX2" on every CPU.
struct X86Features {
    bool avx2 = false;
    bool fma = false;
};

X86Features x86_features() {
    X86Features f;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!osxsave || !avx) return f;
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6u) != 6u) return f;  // XMM and YMM state
    if (__get_cpuid_max(0, nullptr) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.fma = fma;
    return f;
}

}  // namespace
#endif

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
#if defined(TINYFQ_X86_CPUID)
    static const bool yes = x86_features().avx2;
    return yes;
#else
    return false;
#endif
}

bool cpu_has_avx2_fma() {
#if defined(TINYFQ_X86_CPUID)
    static const X86Features f = x86_features();
    static const bool yes = f.avx2 && f.fma;
    return yes;
#else
    return false;
#endif
}

}  // namespace detail
}  // namespace tinyfq
