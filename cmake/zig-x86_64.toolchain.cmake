# x86-64 Linux, glibc 2.28 (manylinux_2_28), baseline x86-64 ISA (the AVX2/FMA kernels are
# per-file and picked at run time), libc++ linked statically: zig c++ as the compiler.
#   cmake -S . -B build/zig-x86_64 -DCMAKE_TOOLCHAIN_FILE=cmake/zig-x86_64.toolchain.cmake
# CMAKE_SYSTEM_NAME stays unset: the build machine is x86-64 Linux too, so this is not a cross
# build for CMake (FindPython and pybind11 ask the running interpreter, as they do natively).
set(TINYFQ_ZIG_TARGET x86_64-linux-gnu.2.28)
include(${CMAKE_CURRENT_LIST_DIR}/zig-common.cmake)
