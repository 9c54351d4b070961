// BMP: a decoder of its own. stb_image misreads the palette of a 12-byte (OS/2 1.x, core)
// header, reports top-down files as corrupt and reads the bit fields of a 56-byte header from
// the wrong place; it knows no RLE. Here: the header versions of 12, 16 and 64 (OS/2), 40, 52,
// 56, 108 (V4) and 124 bytes (V5); 1, 2, 4 and 8 bits a pixel with a palette (RLE8, RLE4), 16,
// 24 and 32 bits with or without bit fields; bottom-up and top-down rows. Alpha is dropped.
#include "decode.h"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

namespace tinyfq {
namespace detail {

namespace {

enum Compression : std::uint32_t {
    kRgb = 0,
    kRle8 = 1,
    kRle4 = 2,
    kBitFields = 3,
    kAlphaBitFields = 6
};

// One colour's bit field: where the sample is in the pixel, and its scale to 8 bits (v * 255 /
// max rounded, halves up; 8-bit fields as they are).
struct Field {
    std::uint32_t mask = 0, max = 0;
    int shift = 0;

    explicit Field(std::uint32_t m) : mask(m) {
        if (!m) return;
        while (!((m >> shift) & 1)) ++shift;
        max = m >> shift;
        if (max & (max + 1)) throw Error("corrupt BMP (a bit field of scattered bits)");
    }
    std::uint8_t operator()(std::uint32_t px) const {
        if (!max) return 0;
        const std::uint64_t v = (px & mask) >> shift;
        return max == 255 ? std::uint8_t(v)
                          : std::uint8_t((v * 510 + max) / (2 * std::uint64_t(max)));
    }
};

std::string size_of(std::int64_t w, std::int64_t h) {
    return std::to_string(w) + "x" + std::to_string(h);
}

}  // namespace

Image decode_bmp(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    if (size < 26) throw Error("truncated BMP (" + std::to_string(size) + " bytes)");
    const std::uint32_t offset = le32(data + 10), hs = le32(data + 14);
    const bool os2 = hs == 16 || hs == 64;
    if (hs != 12 && !os2 && hs != 40 && hs != 52 && hs != 56 && hs != 108 && hs != 124)
        throw Error("corrupt BMP (a header of " + std::to_string(hs) + " bytes)");
    if (size < 14 + std::size_t(hs)) throw Error("truncated BMP (in its header)");
    std::int64_t w, h;
    std::uint32_t bpp, comp = kRgb, colours = 0;
    if (hs == 12) {
        w = le16(data + 18);
        h = le16(data + 20);
        bpp = le16(data + 24);
    } else {
        w = std::int32_t(le32(data + 18));
        h = std::int32_t(le32(data + 22));
        bpp = le16(data + 28);
        if (hs >= 20) comp = le32(data + 30);
        if (hs >= 36) colours = le32(data + 46);
    }
    const bool top_down = h < 0;
    h = top_down ? -h : h;
    if (w <= 0 || h <= 0 || w > INT_MAX || h > INT_MAX)
        throw Error("corrupt BMP (image is " + size_of(w, top_down ? -h : h) + ")");
    if (os2 && comp >= 3)
        throw Unsupported(std::string("unsupported BMP (OS/2 ") +
                          (comp == 3   ? "Huffman"
                           : comp == 4 ? "RLE24"
                                       : "unknown") +
                          " compression)");
    if (comp == 4 || comp == 5)
        throw Unsupported(std::string("unsupported BMP (an embedded ") +
                          (comp == 4 ? "JPEG" : "PNG") + ")");
    if (comp > kAlphaBitFields)
        throw Error("corrupt BMP (compression " + std::to_string(comp) + ")");
    if (bpp == 64) throw Unsupported("unsupported BMP (64 bits a pixel)");
    const bool paletted = bpp == 1 || bpp == 2 || bpp == 4 || bpp == 8;
    const bool fields = comp == kBitFields || comp == kAlphaBitFields;
    if (!paletted && bpp != 16 && bpp != 24 && bpp != 32)
        throw Error("corrupt BMP (" + std::to_string(bpp) + " bits a pixel)");
    if ((comp == kRle8 && bpp != 8) || (comp == kRle4 && bpp != 4) || (fields && paletted))
        throw Error("corrupt BMP (compression " + std::to_string(comp) + " with " +
                    std::to_string(bpp) + " bits a pixel)");
    check_pixels(w, h, opt.max_pixels);
    const std::uint64_t out_bytes = std::uint64_t(w) * std::uint64_t(h) * 3;
    check_budget(out_bytes, w, h, opt);
    if (offset < 14 + hs || offset > size)
        throw Error("corrupt BMP (pixel data at byte " + std::to_string(offset) + ")");

    // The colours: bit fields (after a 40-byte header, else in it), or the palette after the
    // header (3 bytes an entry after a 12-byte header, else 4), as many as the header says
    // and the room before the pixels holds; an index past them is black.
    std::uint32_t mr = bpp == 16 ? 0x7C00 : 0xFF0000, mg = bpp == 16 ? 0x3E0 : 0xFF00,
                  mb = bpp == 16 ? 0x1F : 0xFF;
    if (fields) {
        if (size < 66) throw Error("truncated BMP (in its bit fields)");
        if (le32(data + 54) | le32(data + 58) | le32(data + 62))  // all 0: the defaults
            mr = le32(data + 54), mg = le32(data + 58), mb = le32(data + 62);
        const std::uint64_t room = bpp == 32 ? 0xFFFFFFFFull : (1ull << bpp) - 1;
        if ((mr | mg | mb) > room)
            throw Error("corrupt BMP (bit fields wider than its " + std::to_string(bpp) +
                        " bits a pixel)");
    }
    const Field r(mr), g(mg), b(mb);
    std::vector<std::uint8_t> pal;
    if (paletted) {
        const std::size_t entry = hs == 12 ? 3 : 4, at = 14 + hs;
        std::size_t n = colours && colours < (1u << bpp) ? colours : (1u << bpp);
        n = std::min(n, (offset - at) / entry);
        pal.assign(std::size_t(3) << bpp, 0);
        for (std::size_t k = 0; k < n; ++k)
            for (int c = 0; c < 3; ++c) pal[3 * k + c] = data[at + entry * k + 2 - c];
    }

    Image img;
    img.width = int(w);
    img.height = int(h);
    img.format = PixelFormat::RGB;
    img.pixels.resize(out_bytes);
    std::uint8_t* out = img.pixels.data();
    // stored row s (the file's order) is image row y
    auto row_of = [&](std::int64_t s) { return top_down ? s : h - 1 - s; };

    if (comp == kRle8 || comp == kRle4) {
        // Runs of one index (RLE4: two alternating), absolute runs padded to 16 bits, end of
        // line, delta, end of bitmap. Pixels the runs skip keep palette entry 0, as Pillow has it.
        for (std::size_t k = 0; k < out_bytes; k += 3) std::copy(&pal[0], &pal[3], out + k);
        const bool rle8 = comp == kRle8;
        std::int64_t x = 0, s = 0;
        auto put = [&](unsigned idx) {
            if (x < w && s < h)
                std::copy(&pal[3 * idx], &pal[3 * idx + 3], out + (row_of(s) * w + x) * 3);
            ++x;
        };
        for (std::size_t i = offset;;) {
            if (i + 2 > size) {
                if (s >= h) break;  // every row written, the end of bitmap missing
                throw Error("truncated BMP (its RLE data ends on row " + std::to_string(s) + ")");
            }
            const unsigned n = data[i], c = data[i + 1];
            i += 2;
            if (n) {
                for (unsigned k = 0; k < n; ++k) put(rle8 ? c : k & 1 ? c & 15 : c >> 4);
            } else if (c == 0) {
                x = 0, ++s;
            } else if (c == 1) {
                break;
            } else if (c == 2) {
                if (i + 2 > size) throw Error("truncated BMP (in its RLE data)");
                x += data[i], s += data[i + 1];
                i += 2;
            } else {
                const std::size_t bytes = rle8 ? c : (c + 1) / 2;
                if (i + bytes > size) throw Error("truncated BMP (in its RLE data)");
                for (unsigned k = 0; k < c; ++k)
                    put(rle8 ? data[i + k] : k & 1 ? data[i + k / 2] & 15 : data[i + k / 2] >> 4);
                i += bytes + (bytes & 1);
            }
        }
        return img;
    }

    const std::uint64_t stride = (std::uint64_t(w) * bpp + 31) / 32 * 4;
    const std::uint64_t need = offset + stride * std::uint64_t(h);
    if (need > size)
        throw Error("truncated BMP (its pixel data needs " + std::to_string(need) +
                    " bytes, the file has " + std::to_string(size) + ")");
    const unsigned index_mask = paletted ? (1u << bpp) - 1 : 0;
    for (std::int64_t s = 0; s < h; ++s) {
        const std::uint8_t* p = data + offset + std::uint64_t(s) * stride;
        std::uint8_t* o = out + std::uint64_t(row_of(s)) * std::uint64_t(w) * 3;
        for (std::int64_t x = 0; x < w; ++x, o += 3) {
            if (paletted) {
                const std::uint64_t bit = std::uint64_t(x) * bpp;
                const unsigned idx = (p[bit >> 3] >> (8 - bpp - (bit & 7))) & index_mask;
                std::copy(&pal[3 * idx], &pal[3 * idx + 3], o);
                continue;
            }
            const std::uint8_t* q = p + x * (bpp / 8);
            if (bpp == 24 && !fields) {
                o[0] = q[2], o[1] = q[1], o[2] = q[0];
                continue;
            }
            const std::uint32_t v = bpp == 16   ? le16(q)
                                    : bpp == 24 ? le16(q) | std::uint32_t(q[2]) << 16
                                                : le32(q);
            o[0] = r(v), o[1] = g(v), o[2] = b(v);
        }
    }
    return img;
}

}  // namespace detail
}  // namespace tinyfq
