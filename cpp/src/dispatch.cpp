// The one place the library chooses an instruction set: the reference twins when
// TINYFQ_REFERENCE is set, else the fastest kernels the CPU runs. It hands out kernel tables
// (detail::PreprocessKernels for the preprocessing and the detector's resize, fused::Kernels for
// the fused network layers); the units that use them call through the table and test nothing
// about the CPU themselves.
#include "fused.h"
#include "internal.h"
#include "preprocess.h"

#include <cstdlib>
#include <vector>

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
namespace {

// What this process runs, decided once: the reference switch and the CPU's features.
struct Choice {
    bool reference = false;  // TINYFQ_REFERENCE is set (and not 0): the reference twins
    bool avx2 = false;       // the preprocessing's AVX2 set (no FMA: the baseline's numbers)
    bool avx2_fma = false;   // the fused layers' AVX2 + FMA set
};

const Choice& choice() {
    static const Choice chosen = [] {
        Choice c;
        const char* v = std::getenv("TINYFQ_REFERENCE");
        c.reference = v && *v && *v != '0';
#if defined(TINYFQ_X86_CPUID)
        const X86Features f = x86_features();
        c.avx2 = f.avx2;
        c.avx2_fma = f.avx2 && f.fma;
#endif
        return c;
    }();
    return chosen;
}

}  // namespace

namespace detail {

namespace {

const PreprocessKernels kReferencePreprocess = {"reference", true, nullptr, nullptr, nullptr};
const PreprocessKernels kBaselinePreprocess = {"baseline", false, crop_baseline, nullptr, nullptr};
#if TINYFQ_HAVE_AVX2_PREPROCESS
const PreprocessKernels kAvx2Preprocess = {"avx2", false, crop_avx2, warp_row_avx2,
                                           resize_row_avx2};
#endif

}  // namespace

const PreprocessKernels& preprocess_kernels() {
    if (choice().reference) return kReferencePreprocess;
#if TINYFQ_HAVE_AVX2_PREPROCESS
    if (choice().avx2) return kAvx2Preprocess;
#endif
    return kBaselinePreprocess;
}

std::vector<const PreprocessKernels*> fast_preprocess_kernel_sets() {
    std::vector<const PreprocessKernels*> sets = {&kBaselinePreprocess};
#if TINYFQ_HAVE_AVX2_PREPROCESS
    if (choice().avx2) sets.push_back(&kAvx2Preprocess);
#endif
    return sets;
}

}  // namespace detail

namespace fused {

const Kernels& best_kernels() {
    if (choice().reference) return reference_kernels();
#if defined(__x86_64__) || defined(_M_X64)
    if (choice().avx2_fma) return avx2_kernels();
#endif
    return generic_kernels();
}

std::vector<const Kernels*> fast_kernel_sets() {
    std::vector<const Kernels*> sets = {&generic_kernels()};
#if defined(__x86_64__) || defined(_M_X64)
    if (choice().avx2_fma) sets.push_back(&avx2_kernels());
#endif
    return sets;
}

}  // namespace fused
}  // namespace tinyfq
