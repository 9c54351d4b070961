# ncnn for tinyfq: find_package(ncnn CONFIG) when one is installed (and TINYFQ_USE_SYSTEM_NCNN is
# ON), otherwise build the pinned release's source distribution, minimal and static.
#
# The source archive is not in this repository. It is taken, in order, from
#   -DTINYFQ_NCNN_ARCHIVE=/path/to/ncnn-<version>.tar.gz      (checked against the sha256; the
#     environment variable TINYFQ_NCNN_ARCHIVE gives the default, so that `pip install` and
#     `pip wheel` of the sdist build offline with it)
#   the download cache ${TINYFQ_NCNN_CACHE_DIR}
#   the package index pip is configured with (PIP_INDEX_URL, `pip config`, else pip's default),
#   through its JSON simple API, verified against the pinned sha256.
set(TINYFQ_NCNN_VERSION 20261020)
set(TINYFQ_NCNN_SDIST ncnn-1.0.${TINYFQ_NCNN_VERSION}.tar.gz)
set(TINYFQ_NCNN_SHA256 ad8cdd63e9755cfa8e23b9b6d9ce46156077d80298a89e7c3ba325ffccfca200)
option(TINYFQ_USE_SYSTEM_NCNN "Use an installed ncnn (find_package) when there is one" ON)
# ON: build the pinned ncnn (with the options below) as part of `all` and install it with
# `cmake --install`, for later builds to use through -Dncnn_DIR=<prefix>/lib/cmake/ncnn
# (scripts/build-wheels.sh builds it once per architecture that way).
option(TINYFQ_NCNN_INSTALL "Build the pinned ncnn and install it with cmake --install" OFF)
set(TINYFQ_NCNN_ARCHIVE "$ENV{TINYFQ_NCNN_ARCHIVE}" CACHE FILEPATH
    "ncnn source archive (sdist) to build from (default: $TINYFQ_NCNN_ARCHIVE)")
if(DEFINED ENV{XDG_CACHE_HOME})
  set(_cache_default "$ENV{XDG_CACHE_HOME}/tinyfq-native")
elseif(DEFINED ENV{HOME})
  set(_cache_default "$ENV{HOME}/.cache/tinyfq-native")
else()
  set(_cache_default "${CMAKE_BINARY_DIR}/_downloads")
endif()
set(TINYFQ_NCNN_CACHE_DIR "${_cache_default}" CACHE PATH "where the ncnn source archive is cached")
set(TINYFQ_PACKAGE_INDEX "" CACHE STRING "package index URL (default: pip's configuration)")

# Layers tinyFQnet needs (see README): what the exporter writes plus what they create inside.
# The embedded YuNet detector (scripts/convert_yunet.py) runs on the library's own layers and
# ncnn's input and split, so it needs none more.
set(TINYFQ_NCNN_LAYERS input convolution convolutiondepthwise split binaryop pooling
    innerproduct relu sigmoid flatten packing padding cast)

if(TINYFQ_USE_SYSTEM_NCNN AND NOT TINYFQ_NCNN_INSTALL)
  find_package(ncnn CONFIG QUIET)
endif()
if(TARGET ncnn)
  message(STATUS "tinyfq: using installed ncnn from ${ncnn_DIR}")
  get_target_property(_inc ncnn INTERFACE_INCLUDE_DIRECTORIES)
  set(TINYFQ_HAVE_DECODER 0)
  foreach(_d ${_inc})
    if(EXISTS "${_d}/platform.h")
      file(READ "${_d}/platform.h" _platform)
      if(_platform MATCHES "#define NCNN_SIMPLEOCV 1")
        set(TINYFQ_HAVE_DECODER 1)
      endif()
    endif()
  endforeach()
  return()
endif()

function(_tinyfq_index_url out)
  if(TINYFQ_PACKAGE_INDEX)
    set(${out} "${TINYFQ_PACKAGE_INDEX}" PARENT_SCOPE)
    return()
  endif()
  if(DEFINED ENV{PIP_INDEX_URL} AND NOT "$ENV{PIP_INDEX_URL}" STREQUAL "")
    set(${out} "$ENV{PIP_INDEX_URL}" PARENT_SCOPE)
    return()
  endif()
  find_program(_py NAMES python3 python)
  if(_py)
    # -I: inside pip's isolated build environment (PYTHONPATH points at its own site) the
    # interpreter cannot import pip; isolated mode sees the interpreter's own packages again.
    execute_process(COMMAND ${_py} -I -m pip config get global.index-url
      OUTPUT_VARIABLE _u OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    if(_rc EQUAL 0 AND _u)
      set(${out} "${_u}" PARENT_SCOPE)
      return()
    endif()
    execute_process(COMMAND ${_py} -I -c
      "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"
      OUTPUT_VARIABLE _u OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    if(_rc EQUAL 0 AND _u)
      set(${out} "${_u}" PARENT_SCOPE)
      return()
    endif()
  endif()
  message(FATAL_ERROR "tinyfq: no package index known to fetch ncnn from. Pass "
    "-DTINYFQ_NCNN_ARCHIVE=/path/to/${TINYFQ_NCNN_SDIST}, -DTINYFQ_PACKAGE_INDEX=<url>, "
    "or install ncnn and configure with -Dncnn_DIR=...")
endfunction()

function(_tinyfq_fetch_ncnn dest)
  _tinyfq_index_url(index)
  string(REGEX REPLACE "/+$" "" index "${index}")
  set(listing "${CMAKE_BINARY_DIR}/_deps/ncnn-index.json")
  message(STATUS "tinyfq: looking up ${TINYFQ_NCNN_SDIST} in the configured package index")
  file(DOWNLOAD "${index}/ncnn/" "${listing}" STATUS st
    HTTPHEADER "Accept: application/vnd.pypi.simple.v1+json")
  list(GET st 0 code)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "tinyfq: cannot read the ncnn listing from the package index: ${st}")
  endif()
  file(READ "${listing}" json)
  # The listing holds every ncnn release; find our file's link without parsing it all.
  string(REPLACE "." "\\." _re_name "${TINYFQ_NCNN_SDIST}")
  string(REGEX MATCH "\"url\" *: *\"([^\"]*/${_re_name}[^\"]*)\"" _m "${json}")
  set(url "${CMAKE_MATCH_1}")
  if(NOT url)
    message(FATAL_ERROR "tinyfq: ${TINYFQ_NCNN_SDIST} is not in the package index listing")
  endif()
  if(NOT url MATCHES "^[a-z]+://")
    set(url "${index}/ncnn/${url}")   # relative link
  endif()
  file(DOWNLOAD "${url}" "${dest}" EXPECTED_HASH SHA256=${TINYFQ_NCNN_SHA256} STATUS st)
  list(GET st 0 code)
  if(NOT code EQUAL 0)
    file(REMOVE "${dest}")
    message(FATAL_ERROR "tinyfq: downloading ${TINYFQ_NCNN_SDIST} failed: ${st}")
  endif()
endfunction()

set(_archive "${TINYFQ_NCNN_ARCHIVE}")
if(NOT _archive)
  set(_archive "${TINYFQ_NCNN_CACHE_DIR}/${TINYFQ_NCNN_SDIST}")
  if(EXISTS "${_archive}")
    file(SHA256 "${_archive}" _sum)
    if(NOT _sum STREQUAL TINYFQ_NCNN_SHA256)
      message(STATUS "tinyfq: cached ${_archive} has the wrong sha256; fetching again")
      file(REMOVE "${_archive}")
    endif()
  endif()
  if(NOT EXISTS "${_archive}")
    file(MAKE_DIRECTORY "${TINYFQ_NCNN_CACHE_DIR}")
    _tinyfq_fetch_ncnn("${_archive}")
  endif()
endif()
file(SHA256 "${_archive}" _sum)
if(NOT _sum STREQUAL TINYFQ_NCNN_SHA256)
  message(FATAL_ERROR "tinyfq: ${_archive} has sha256 ${_sum}, expected ${TINYFQ_NCNN_SHA256}")
endif()

set(_src "${CMAKE_BINARY_DIR}/_deps/ncnn-1.0.${TINYFQ_NCNN_VERSION}")
if(NOT EXISTS "${_src}/CMakeLists.txt")
  file(ARCHIVE_EXTRACT INPUT "${_archive}" DESTINATION "${CMAKE_BINARY_DIR}/_deps")
endif()

macro(_tinyfq_force var value)
  set(${var} ${value} CACHE BOOL "" FORCE)
endmacro()
foreach(v NCNN_VULKAN NCNN_BUILD_TOOLS NCNN_BUILD_EXAMPLES NCNN_BUILD_BENCHMARK NCNN_BUILD_TESTS
          NCNN_PYTHON NCNN_SHARED_LIB NCNN_INT8 NCNN_BF16 NCNN_OPENMP
          NCNN_PIXEL_DRAWING NCNN_PIXEL_ROTATE NCNN_AVX512 NCNN_AVXVNNI NCNN_AVXNECONVERT
          NCNN_AVX512VNNI NCNN_AVX512BF16 NCNN_AVX512FP16 NCNN_XOP NCNN_FMA4)
  _tinyfq_force(${v} OFF)
endforeach()
foreach(v NCNN_SIMPLEOCV NCNN_STDIO NCNN_STRING NCNN_PIXEL NCNN_RUNTIME_CPU)
  _tinyfq_force(${v} ON)
endforeach()
_tinyfq_force(NCNN_INSTALL_SDK ${TINYFQ_NCNN_INSTALL})
set(NCNN_VERSION ${TINYFQ_NCNN_VERSION} CACHE STRING "" FORCE)
# Every layer off except the ones the model needs. Layer switches are lowercase.
file(STRINGS "${_src}/src/CMakeLists.txt" _layer_lines REGEX "^ncnn_add_layer\\(")
foreach(_l ${_layer_lines})
  string(REGEX REPLACE "^ncnn_add_layer\\(([A-Za-z0-9_]+).*" "\\1" _name "${_l}")
  string(TOLOWER "${_name}" _name)
  if(_name IN_LIST TINYFQ_NCNN_LAYERS)
    _tinyfq_force(WITH_LAYER_${_name} ON)
  else()
    _tinyfq_force(WITH_LAYER_${_name} OFF)
  endif()
endforeach()
message(STATUS "tinyfq: building ncnn ${TINYFQ_NCNN_VERSION} from source with layers: ${TINYFQ_NCNN_LAYERS}")
if(TINYFQ_NCNN_INSTALL)
  add_subdirectory("${_src}" "${CMAKE_BINARY_DIR}/_deps/ncnn-build" SYSTEM)
else()
  add_subdirectory("${_src}" "${CMAKE_BINARY_DIR}/_deps/ncnn-build" EXCLUDE_FROM_ALL SYSTEM)
endif()
set(TINYFQ_HAVE_DECODER 1)
