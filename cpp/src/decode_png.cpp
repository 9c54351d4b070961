// PNG: checks made before stb_image decodes the file, which verifies no checksum (a flipped bit
// in the compressed data would decode to a damaged picture and a score), and the EXIF
// orientation of an eXIf chunk.
#include "decode.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if TINYFQ_HAVE_DECODER
extern "C" int stbi_zlib_decode_buffer(char* obuffer, int olen, const char* ibuffer, int ilen);
#endif

namespace tinyfq {
namespace detail {

namespace {

// CRC-32 (ISO-HDLC, as PNG uses it) of n bytes.
std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {
    static const auto table = [] {
        std::vector<std::uint32_t> t(256);
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

// Adler-32 (the zlib stream's checksum) of n bytes.
std::uint32_t adler32(const std::uint8_t* p, std::size_t n) {
    std::uint32_t a = 1, b = 0;
    while (n) {
        std::size_t k = std::min<std::size_t>(n, 5552);  // no overflow before the modulo
        n -= k;
        while (k--) b += a += *p++;
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

}  // namespace

// As libpng and Pillow do:
//  - every chunk's CRC, and the chunks run to IEND;
//  - the memory the decode will take, from IHDR and the chunk sizes, against the budget;
//  - the image data: inflated (without a copy of the picture) to exactly the size IHDR gives,
//    and its zlib Adler-32 checked, which the CRCs do not cover when the file was written
//    damaged.
PngLayout check_png(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    PngLayout layout;
    bool exif = false;
    std::uint32_t w = 0, h = 0;
    int depth = 0, colour = -1, interlace = 0;
    std::vector<std::pair<std::size_t, std::uint32_t>> idat_chunks;  // (offset, length)
    std::uint64_t idat_bytes = 0;
    for (std::size_t i = 8;;) {  // after the signature
        if (i + 12 > size) throw Error("truncated PNG (no IEND chunk)");
        const std::uint32_t len = be32(data + i);
        if (len > size - i - 12) throw Error("truncated PNG (a chunk runs past the end)");
        const std::uint8_t* type = data + i + 4;
        if (crc32(type, std::size_t(len) + 4) != be32(type + 4 + len))
            throw Error("corrupt PNG (CRC mismatch in chunk " +
                        std::string(reinterpret_cast<const char*>(type), 4) + ")");
        if (i == 8) {
            if (std::memcmp(type, "IHDR", 4) != 0 || len != 13)
                throw Error("corrupt PNG (the first chunk is not a 13-byte IHDR)");
            w = be32(type + 4);
            h = be32(type + 8);
            depth = type[12];
            colour = type[13];
            interlace = type[16];
        } else if (std::memcmp(type, "IDAT", 4) == 0) {
            idat_chunks.emplace_back(i + 8, len);
            idat_bytes += len;
        } else if (std::memcmp(type, "eXIf", 4) == 0 && !exif) {
            // the TIFF structure itself; some writers keep JPEG's "Exif\0\0" before it
            exif = true;
            const std::uint8_t* tiff = type + 4;
            std::size_t n = len;
            if (n >= 6 && std::memcmp(tiff, "Exif\0\0", 6) == 0) tiff += 6, n -= 6;
            layout.orientation = tiff_orientation(tiff, n);
        } else if (std::memcmp(type, "IEND", 4) == 0) {
            break;
        }
        i += std::size_t(len) + 12;
    }
    static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};  // by colour type
    const int ch = colour >= 0 && colour <= 6 ? kChannels[colour] : 0;
    static const char* kDepths[7] = {"1 2 4 8 16", "", "8 16", "1 2 4 8", "8 16", "", "8 16"};
    const std::string d = " " + std::to_string(depth) + " ";
    if (!ch || (" " + std::string(kDepths[colour]) + " ").find(d) == std::string::npos ||
        interlace > 1)
        throw Error("corrupt PNG (colour type " + std::to_string(colour) + ", bit depth " +
                    std::to_string(depth) + ", interlace method " + std::to_string(interlace) +
                    ")");
    if (w == 0 || h == 0 || w > 0x7FFFFFFFu || h > 0x7FFFFFFFu)
        throw Error("corrupt PNG (image is " + std::to_string(w) + "x" + std::to_string(h) + ")");
    check_pixels(w, h, opt.max_pixels);

    // The inflated rows: a filter byte and the packed samples each, per Adam7 pass if
    // interlaced.
    auto rows = [&](std::uint64_t pw, std::uint64_t ph) {
        return pw && ph ? ph * (1 + (pw * unsigned(ch) * unsigned(depth) + 7) / 8) : 0;
    };
    std::uint64_t raw = 0;
    if (interlace) {
        static const int kX0[7] = {0, 4, 0, 2, 0, 1, 0}, kY0[7] = {0, 0, 4, 0, 2, 0, 1};
        static const int kDx[7] = {8, 8, 4, 4, 2, 2, 1}, kDy[7] = {8, 8, 8, 4, 4, 2, 2};
        for (int p = 0; p < 7; ++p)
            raw += rows((std::uint64_t(w) - kX0[p] + kDx[p] - 1) / kDx[p],
                        (std::uint64_t(h) - kY0[p] + kDy[p] - 1) / kDy[p]);
    } else {
        raw = rows(w, h);
    }
    // stb's image in its own channels (a palette becomes RGBA at worst, 16 bits stay 16 until
    // converted), the 8-bit conversion, our copy: peak is the largest pair alive at once.
    const std::uint64_t px = std::uint64_t(w) * h;
    const std::uint64_t full_n = colour == 3 ? 4 : unsigned(ch);
    const std::uint64_t full = px * full_n * (depth == 16 ? 2 : 1);
    const std::uint64_t want = colour == 0 || colour == 4 ? 1 : 3;
    // Before that, the compressed data gathered from its chunks and inflated (here, then in
    // stb) are alive together.
    const std::uint64_t peak = std::max(
        {idat_bytes + raw, raw + full, depth == 16 ? full + px * full_n : 0, 2 * px * want});
    check_budget(peak, w, h, opt);
    // Deflate expands at most ~1032:1: data too short for the rows IHDR promises is damaged,
    // and is refused before a buffer of the promised size is made.
    if (idat_bytes < 6 || raw > idat_bytes * 1032 + 1024 || raw > 0x7FFFFFFF)
        throw Error("corrupt PNG (" + std::to_string(idat_bytes) +
                    " bytes of image data cannot hold a " + std::to_string(w) + "x" +
                    std::to_string(h) + " image)");
#if TINYFQ_HAVE_DECODER
    std::vector<std::uint8_t> idat;
    idat.reserve(idat_bytes);
    for (const auto& c : idat_chunks)
        idat.insert(idat.end(), data + c.first, data + c.first + c.second);
    std::unique_ptr<char[]> out(new char[raw]);
    const int n =
        stbi_zlib_decode_buffer(out.get(), int(raw), reinterpret_cast<const char*>(idat.data()),
                                int(std::min<std::size_t>(idat.size(), 0x7FFFFFFF)));
    if (n < 0 || std::uint64_t(n) != raw)
        throw Error("corrupt PNG (the image data does not inflate to the " + std::to_string(raw) +
                    " bytes a " + std::to_string(w) + "x" + std::to_string(h) + " image needs)");
    if (adler32(reinterpret_cast<const std::uint8_t*>(out.get()), raw) !=
        be32(idat.data() + idat.size() - 4))
        throw Error("corrupt PNG (zlib checksum mismatch in the image data)");
#endif
    layout.peak_per_pixel = (peak + px - 1) / px;
    return layout;
}

}  // namespace detail
}  // namespace tinyfq
