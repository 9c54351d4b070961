# JPEG decoding for tinyfq: libjpeg(-turbo) when it is found (faster than stb_image, and it
# decodes at 1/2, 1/4 or 1/8 of the size straight from the DCT coefficients), else the
# stb_image decoder inside ncnn. Sets TINYFQ_HAVE_LIBJPEG (0/1) and, when 1, the interface
# target tinyfq_libjpeg to link.
#
# The static archive is preferred when it can go into a shared object (the Python module):
# the extension then carries no libjpeg dependency and cannot pick up another copy loaded in
# the same process (OpenCV, Pillow). A non-PIC archive falls back to the shared library.
option(TINYFQ_WITH_LIBJPEG "Decode JPEG with libjpeg(-turbo) when it is found (else stb_image)" ON)
option(TINYFQ_LIBJPEG_STATIC "Prefer libjpeg's static archive when it is position-independent" ON)

set(TINYFQ_HAVE_LIBJPEG 0)
if(NOT TINYFQ_WITH_LIBJPEG)
  message(STATUS "tinyfq: JPEG decoder: stb_image (TINYFQ_WITH_LIBJPEG is OFF)")
  return()
endif()
find_package(JPEG QUIET)
if(NOT JPEG_FOUND)
  message(STATUS "tinyfq: JPEG decoder: stb_image (libjpeg not found)")
  return()
endif()

add_library(tinyfq_libjpeg INTERFACE)
target_include_directories(tinyfq_libjpeg SYSTEM INTERFACE ${JPEG_INCLUDE_DIRS})
set(_jpeg_kind shared)
set(_jpeg_lib JPEG::JPEG)
if(TINYFQ_LIBJPEG_STATIC AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" AND NOT APPLE AND NOT WIN32)
  list(GET JPEG_LIBRARIES 0 _jpeg_first)
  get_filename_component(_jpeg_dir "${_jpeg_first}" DIRECTORY)
  find_library(TINYFQ_LIBJPEG_ARCHIVE NAMES libjpeg.a HINTS "${_jpeg_dir}")
  if(TINYFQ_LIBJPEG_ARCHIVE)
    # Link the decoding calls into a shared object: fails when the archive is not PIC.
    include(CheckCSourceCompiles)
    set(CMAKE_REQUIRED_INCLUDES ${JPEG_INCLUDE_DIRS})
    set(CMAKE_REQUIRED_FLAGS -fPIC)
    set(CMAKE_REQUIRED_LINK_OPTIONS -shared)
    set(CMAKE_REQUIRED_LIBRARIES ${TINYFQ_LIBJPEG_ARCHIVE})
    set(CMAKE_REQUIRED_QUIET ON)
    check_c_source_compiles([=[
#include <stdio.h>
#include <jpeglib.h>
int tinyfq_probe(const unsigned char* p, unsigned long n) {
  struct jpeg_decompress_struct c;
  struct jpeg_error_mgr e;
  JSAMPROW row = 0;
  c.err = jpeg_std_error(&e);
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, (unsigned char*)p, n);
  jpeg_read_header(&c, TRUE);
  jpeg_calc_output_dimensions(&c);
  jpeg_start_decompress(&c);
  jpeg_read_scanlines(&c, &row, 1);
  jpeg_finish_decompress(&c);
  jpeg_destroy_decompress(&c);
  return 0;
}
int main(void) { return 0; }
]=] TINYFQ_LIBJPEG_ARCHIVE_IS_PIC)
    unset(CMAKE_REQUIRED_INCLUDES)
    unset(CMAKE_REQUIRED_FLAGS)
    unset(CMAKE_REQUIRED_LINK_OPTIONS)
    unset(CMAKE_REQUIRED_LIBRARIES)
    unset(CMAKE_REQUIRED_QUIET)
    if(TINYFQ_LIBJPEG_ARCHIVE_IS_PIC)
      set(_jpeg_kind static)
      set(_jpeg_lib ${TINYFQ_LIBJPEG_ARCHIVE})
      # Keep its symbols out of what the module exports.
      target_link_options(tinyfq_libjpeg INTERFACE "LINKER:--exclude-libs,libjpeg.a")
    endif()
  endif()
endif()
target_link_libraries(tinyfq_libjpeg INTERFACE ${_jpeg_lib})
set(TINYFQ_HAVE_LIBJPEG 1)
if(_jpeg_kind STREQUAL "shared")
  set(_jpeg_lib ${JPEG_LIBRARIES})
endif()
message(STATUS "tinyfq: JPEG decoder: libjpeg ${JPEG_VERSION}, ${_jpeg_kind}: ${_jpeg_lib}")
