# Cross-compile for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu; tests and tools run
# under qemu-aarch64 (Debian qemu-user) with the cross sysroot.
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.toolchain.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(TINYFQ_AARCH64_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "target libraries for qemu")
set(CMAKE_FIND_ROOT_PATH ${TINYFQ_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${TINYFQ_AARCH64_SYSROOT})
