# 64-bit ARM Linux, glibc 2.28 (manylinux_2_28), libc++ linked statically: zig c++ as the
# cross compiler; runs under qemu-aarch64 on x86 (CMAKE_CROSSCOMPILING_EMULATOR below).
#   cmake -S . -B build/zig-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/zig-aarch64.toolchain.cmake
# Target libraries (libjpeg) are given by path (JPEG_INCLUDE_DIR, JPEG_LIBRARY_RELEASE); Python
# extension builds also need PYTHON_MODULE_EXTENSION=.cpython-3XY-aarch64-linux-gnu.so, since
# the interpreter that runs the build is the x86 one (scripts/build-wheels.sh passes it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(TINYFQ_ZIG_TARGET aarch64-linux-gnu.2.28)
include(${CMAKE_CURRENT_LIST_DIR}/zig-common.cmake)
set(TINYFQ_AARCH64_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "target libraries for qemu")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${TINYFQ_AARCH64_SYSROOT})
# Programs, packages (pybind11, an installed ncnn) and headers come from the build machine's
# paths; the zig target itself never looks there.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
