# Shared part of cmake/zig-*.toolchain.cmake: compile and link with `zig cc` / `zig c++` for one
# target triple with a pinned glibc (TINYFQ_ZIG_TARGET, set by the including file), the way the
# manylinux wheels are built (scripts/build-wheels.sh). zig brings its own glibc stubs and
# headers for that version and links libc++ statically, so the result needs nothing from the
# build machine. CMake wants a compiler path without arguments, so the compilers are small shell
# wrappers, written here next to the build (or taken from $TINYFQ_ZIG_WRAPPERS).
#
# The zig executable: $TINYFQ_ZIG, else `zig` on PATH, else the one of the `ziglang` package
# (pip install ziglang) of the python3 on PATH.
if(NOT TINYFQ_ZIG_TARGET)
  message(FATAL_ERROR "include zig-common.cmake from a zig-<arch>.toolchain.cmake")
endif()
if(DEFINED ENV{TINYFQ_ZIG_WRAPPERS} AND NOT "$ENV{TINYFQ_ZIG_WRAPPERS}" STREQUAL "")
  set(_zw "$ENV{TINYFQ_ZIG_WRAPPERS}")
else()
  # One folder per target under the user's cache; try_compile projects see the same one.
  if(DEFINED ENV{XDG_CACHE_HOME})
    set(_zw "$ENV{XDG_CACHE_HOME}/tinyfq-native/zig-${TINYFQ_ZIG_TARGET}")
  else()
    set(_zw "$ENV{HOME}/.cache/tinyfq-native/zig-${TINYFQ_ZIG_TARGET}")
  endif()
endif()
set(_zw_version "tinyfq-zig-wrappers 3")   # bump when the wrappers below change
set(_zw_old "")
if(EXISTS "${_zw}/VERSION")
  file(READ "${_zw}/VERSION" _zw_old)
endif()
if(NOT _zw_old STREQUAL _zw_version OR NOT EXISTS "${_zw}/c++")
  set(_zig "$ENV{TINYFQ_ZIG}")
  if(NOT _zig)
    find_program(_zig_on_path zig NO_CACHE)
    set(_zig "${_zig_on_path}")
  endif()
  if(NOT _zig)
    execute_process(COMMAND python3 -c
      "import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))"
      OUTPUT_VARIABLE _zig OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(NOT _zig OR NOT EXISTS "${_zig}")
    message(FATAL_ERROR "zig not found: set TINYFQ_ZIG=/path/to/zig or pip install ziglang")
  endif()
  file(MAKE_DIRECTORY "${_zw}")
  # -g0 first: zig cc emits DWARF unless told not to (a later -g, as in Debug builds, wins).
  # On aarch64 zig reads -march=X as a CPU name, so GCC's -march=armv8.2-a+fp16+dotprod (ncnn's
  # per-file flags for its fp16/dot-product/bf16/i8mm/SVE variants) becomes
  # -mcpu=generic+v8_2a+fullfp16+dotprod, which zig understands.
  set(_compiler [=[#!/usr/bin/env bash
args=()
for a in "$@"; do
  case $a in
    -march=armv8*)
      v=${a#-march=armv}; base=${v%%+*}; feats=${v#"$base"}; base=${base%-a}
      feats=${feats//+fp16fml/+FP16FML}; feats=${feats//+fp16/+fullfp16}
      a=-mcpu=generic+v${base/./_}a${feats//+FP16FML/+fp16fml} ;;
  esac
  args+=("$a")
done
exec "@ZIG@" @MODE@ -target @TARGET@ -g0 "${args[@]}"
]=])
  string(REPLACE "@ZIG@" "${_zig}" _compiler "${_compiler}")
  string(REPLACE "@TARGET@" "${TINYFQ_ZIG_TARGET}" _compiler "${_compiler}")
  foreach(_pair "cc;cc" "c++;c++" "ar;ar" "ranlib;ranlib")
    list(GET _pair 0 _name)
    list(GET _pair 1 _args)
    if(_name MATCHES "^c")
      string(REPLACE "@MODE@" "${_args}" _text "${_compiler}")
    else()
      set(_text "#!/bin/sh\nexec \"${_zig}\" ${_args} \"$@\"\n")
    endif()
    file(WRITE "${_zw}/${_name}.tmp" "${_text}")
    file(CHMOD "${_zw}/${_name}.tmp" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
         GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    file(RENAME "${_zw}/${_name}.tmp" "${_zw}/${_name}")
  endforeach()
  file(WRITE "${_zw}/VERSION" "${_zw_version}")
endif()
set(CMAKE_C_COMPILER "${_zw}/cc")
set(CMAKE_CXX_COMPILER "${_zw}/c++")
set(CMAKE_AR "${_zw}/ar" CACHE FILEPATH "zig ar" FORCE)
set(CMAKE_RANLIB "${_zw}/ranlib" CACHE FILEPATH "zig ranlib" FORCE)
set(CMAKE_C_COMPILER_AR "${_zw}/ar" CACHE FILEPATH "zig ar" FORCE)
set(CMAKE_CXX_COMPILER_AR "${_zw}/ar" CACHE FILEPATH "zig ar" FORCE)
set(CMAKE_C_COMPILER_RANLIB "${_zw}/ranlib" CACHE FILEPATH "zig ranlib" FORCE)
set(CMAKE_CXX_COMPILER_RANLIB "${_zw}/ranlib" CACHE FILEPATH "zig ranlib" FORCE)
# zig's target has no system include or library folders; host ones (/usr/include) must never be
# searched for target headers: libraries such as libjpeg are given by their paths.
