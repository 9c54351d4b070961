// Private interface of the image decoders: decode.cpp dispatches on the file's signature to
// the checks and decoders of one format each (decode_jpeg.cpp, decode_png.cpp, decode_bmp.cpp,
// decode_pnm.cpp) and turns the result upright (exif.cpp).
#pragma once

#include "internal.h"

#include <cstddef>
#include <cstdint>

namespace tinyfq {
namespace detail {

inline std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t(p[0]) << 8 | p[1]; }
inline std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
inline std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t(p[1]) << 8 | p[0]; }
inline std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[1]) << 8 | p[0];
}

// Throw Error when a w x h image has more than max_pixels pixels.
void check_pixels(std::int64_t w, std::int64_t h, std::int64_t max_pixels);
// Throw Error when a decode that takes `need` bytes (as the header describes a w x h image) is
// over opt.max_decode_bytes: before anything is allocated.
void check_budget(std::uint64_t need, std::int64_t w, std::int64_t h, const DecodeOptions& opt);

// ---- EXIF orientation (exif.cpp)
//
// The Orientation tag (0x0112) of IFD0 of a TIFF structure (an Exif block after its
// "Exif\0\0" header, or a PNG eXIf chunk), either byte order: 1 to 8, and 1 when the tag is
// absent, out of range or the structure damaged (viewers then show the image as stored).
int tiff_orientation(const std::uint8_t* tiff, std::size_t size);
// Whether the orientation reverses the stored image's x or y axis (transposes aside).
bool orientation_flips_x(int orientation);
bool orientation_flips_y(int orientation);
// The image turned upright from EXIF orientation o (2 to 8; 1 returns it unchanged): upright
// pixel (x', y') is the stored pixel the tag names (TIFF 6.0 / Exif 2.3, tag 274).
Image orient_upright(Image img, int orientation);

// ---- JPEG (decode_jpeg.cpp)
struct JpegLayout {
    std::size_t end = 0;  // one past the end-of-image marker: what follows is not the JPEG's
    int frame = 0;        // the frame marker (0xC0 baseline ... 0xCF), 0 when none
    int precision = 0;    // bits per sample
    int components = 0;
    std::uint32_t width = 0, height = 0;
    int orientation = 1;  // EXIF, from the first APP1 Exif segment
};
// Walk the markers and the entropy-coded data to the end-of-image marker (Error "truncated"
// without one, whatever follows it: phones append videos and maker data); refuse a file far too
// small for the size its header claims, and throw Unsupported for a process or precision the
// decoder of this build does not handle.
JpegLayout check_jpeg(const std::uint8_t* data, std::size_t size);
// The JPEG through libjpeg (builds with TINYFQ_HAVE_LIBJPEG, unless TINYFQ_DECODER=stb),
// possibly reduced (DecodeOptions), and upright when opt.exif_orientation says so.
bool jpeg_uses_libjpeg();
Image decode_jpeg_libjpeg(const std::uint8_t* data, const JpegLayout& jpeg,
                          const DecodeOptions& opt);
std::string libjpeg_name();
// The reduction to use for a JPEG of this layout: detail::reduced_scale on the stored size
// (the minimum sides swapped for a transposing orientation), capped, when the orientation
// reverses an axis, by the largest power of two that divides the stored size along it, so that
// upright decoded pixel i still covers upright source pixels [k*i, k*i + k).
DecodeOptions stored_reduction(const JpegLayout& jpeg, const DecodeOptions& opt);

// ---- PNG (decode_png.cpp)
struct PngLayout {
    std::uint64_t peak_per_pixel = 0;  // stb's peak bytes per pixel, for the budget
    int orientation = 1;               // EXIF, from the eXIf chunk
};
// Every chunk's CRC, the zlib stream's Adler-32 and its inflated size, the budget (stb_image
// checks none of them).
PngLayout check_png(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt);

// ---- BMP (decode_bmp.cpp) and PNM (decode_pnm.cpp): decoders of their own
// Every valid variant but RLE24/Huffman (OS/2), embedded JPEG/PNG and 64 bits a pixel, which
// are Unsupported; see decode_bmp.cpp. Colours are RGB, alpha dropped; a bit field narrower
// than 8 bits is scaled to 0-255 by rounding v * 255 / max, halves up.
Image decode_bmp(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt);
// Whether the bytes start like a PNM (P1 to P6) file, and its decoder: every variant (ASCII
// and binary, maxval 1 to 65535), samples scaled to 0-255 by rounding v * 255 / maxval, halves
// up.
bool is_pnm(const std::uint8_t* data, std::size_t size);
Image decode_pnm(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt);

}  // namespace detail
}  // namespace tinyfq
