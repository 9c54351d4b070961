// EXIF orientation: the tag a camera writes when it stores a photo as the sensor read it and
// records how to turn it upright (a phone held in portrait: Orientation 6). Viewers, OpenCV's
// imread and Pillow's ImageOps.exif_transpose show the upright image; so does the decoder,
// unless DecodeOptions::exif_orientation is off.
#include "decode.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace tinyfq {
namespace detail {

int tiff_orientation(const std::uint8_t* p, std::size_t n) {
    if (n < 8) return 1;
    bool little;
    if (p[0] == 'I' && p[1] == 'I' && p[2] == 42 && p[3] == 0)
        little = true;
    else if (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && p[3] == 42)
        little = false;
    else
        return 1;
    auto u16 = [&](std::size_t i) { return little ? le16(p + i) : be16(p + i); };
    auto u32 = [&](std::size_t i) { return little ? le32(p + i) : be32(p + i); };
    const std::uint32_t ifd = u32(4);
    if (ifd < 8 || ifd > n - 2) return 1;
    const std::uint32_t count = u16(ifd);
    for (std::uint32_t k = 0; k < count; ++k) {
        const std::size_t e = ifd + 2 + std::size_t(12) * k;
        if (e + 12 > n) return 1;
        if (u16(e) != 0x0112) continue;
        // SHORT, as the standard has it; a LONG is read too (the value is in the entry either
        // way). Count 1.
        const std::uint32_t type = u16(e + 2), values = u32(e + 4);
        if (values != 1) return 1;
        const std::uint32_t v = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : 0;
        return v >= 1 && v <= 8 ? int(v) : 1;
    }
    return 1;
}

// Upright pixel (x', y') of a stored W x H image is stored pixel (x, y):
//   2: (W-1-x', y')    mirrored           6: (y', H-1-x')    rotated 90 degrees clockwise
//   3: (W-1-x', H-1-y') rotated 180       7: (W-1-y', H-1-x') transverse
//   4: (x', H-1-y')    flipped            8: (W-1-y', x')    rotated 90 counter-clockwise
//   5: (y', x')        transposed
// 5 to 8 swap the sides: the upright image is H x W.
bool orientation_flips_x(int o) { return o == 2 || o == 3 || o == 7 || o == 8; }
bool orientation_flips_y(int o) { return o == 3 || o == 4 || o == 6 || o == 7; }

Image orient_upright(Image img, int o) {
    if (o < 2 || o > 8) return img;
    const std::ptrdiff_t ch = channels(img.format), w = img.width, h = img.height;
    const bool swap = o >= 5;
    const std::ptrdiff_t uw = swap ? h : w, uh = swap ? w : h;  // upright size
    // Stored (x, y) of upright (0, y') is at origin + y' * dy; each step in x' adds dx.
    const bool fx = orientation_flips_x(o), fy = orientation_flips_y(o);
    const std::ptrdiff_t row = w * ch;
    std::ptrdiff_t origin = (fx ? (w - 1) * ch : 0) + (fy ? (h - 1) * row : 0), dx, dy;
    if (!swap) {
        dx = fx ? -ch : ch;
        dy = fy ? -row : row;
    } else {  // x' walks the stored y axis, y' the stored x axis
        dx = fy ? -row : row;
        dy = fx ? -ch : ch;
    }
    std::vector<std::uint8_t> out(img.pixels.size());
    const std::uint8_t* src = img.pixels.data();
    // In tiles, so that a transposition reads whole cache lines of the source.
    constexpr std::ptrdiff_t kTile = 32;
    for (std::ptrdiff_t y0 = 0; y0 < uh; y0 += kTile)
        for (std::ptrdiff_t x0 = 0; x0 < uw; x0 += kTile)
            for (std::ptrdiff_t y = y0; y < std::min(y0 + kTile, uh); ++y) {
                std::uint8_t* d = out.data() + (y * uw + x0) * ch;
                const std::uint8_t* s = src + origin + y * dy + x0 * dx;
                for (std::ptrdiff_t x = x0; x < std::min(x0 + kTile, uw); ++x, s += dx)
                    for (std::ptrdiff_t c = 0; c < ch; ++c) *d++ = s[c];
            }
    img.pixels = std::move(out);
    img.width = int(uw);
    img.height = int(uh);
    return img;
}

}  // namespace detail
}  // namespace tinyfq
