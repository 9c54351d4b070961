// PNM: a decoder of its own for every variant, plain (ASCII) and binary, maxval 1 to 65535
// (stb_image reads only binary P5/P6 and leaves a maxval other than 255 unscaled).
#include "decode.h"

#include <algorithm>
#include <climits>
#include <string>

namespace tinyfq {
namespace detail {

namespace {

bool pnm_space(std::uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Reads the header's and the plain formats' tokens: whitespace and comments (# to the end of
// the line) between them.
struct PnmReader {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t i = 2;

    void skip() {
        while (i < size) {
            if (pnm_space(data[i])) {
                ++i;
            } else if (data[i] == '#') {
                while (i < size && data[i] != '\n' && data[i] != '\r') ++i;
            } else {
                break;
            }
        }
    }
    // An unsigned decimal number of at most 10 digits, or -1 (none here, or too long).
    std::int64_t number() {
        skip();
        std::int64_t v = 0;
        int digits = 0;
        while (i < size && data[i] >= '0' && data[i] <= '9' && digits <= 10)
            v = v * 10 + (data[i++] - '0'), ++digits;
        if (digits == 0 || digits > 10 || (i < size && !pnm_space(data[i]) && data[i] != '#'))
            return -1;
        return v;
    }
};

}  // namespace

bool is_pnm(const std::uint8_t* data, std::size_t size) {
    return size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' &&
           (pnm_space(data[2]) || data[2] == '#');
}

Image decode_pnm(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    const int kind = data[1] - '0';
    const bool bits = kind == 1 || kind == 4, plain = kind <= 3;
    const int ch = kind == 3 || kind == 6 ? 3 : 1;
    PnmReader r{data, size};
    const std::int64_t w = r.number(), h = r.number();
    const std::int64_t maxval = bits ? 1 : r.number();
    if (w < 1 || h < 1 || w > INT_MAX || h > INT_MAX)
        throw Error("corrupt PNM (no valid width and height in the header)");
    if (maxval < 1 || maxval > 65535)
        throw Error("corrupt PNM (maxval " + std::to_string(maxval) + ", not 1 to 65535)");
    check_pixels(w, h, opt.max_pixels);
    const std::uint64_t samples = std::uint64_t(w) * std::uint64_t(h) * unsigned(ch);
    check_budget(samples, w, h, opt);

    Image img;
    img.width = int(w);
    img.height = int(h);
    img.format = ch == 3 ? PixelFormat::RGB : PixelFormat::GRAY;
    // v in 0..maxval to 0..255, to the nearest (halves up); a bitmap's 1 is black.
    const std::uint32_t m = std::uint32_t(maxval);
    auto scale = [m](std::uint32_t v) { return std::uint8_t((v * 255u * 2 + m) / (2 * m)); };
    auto too_large = [&](std::uint32_t v) {
        return Error("corrupt PNM (a sample of " + std::to_string(v) + " above maxval " +
                     std::to_string(m) + ")");
    };
    if (plain) {
        img.pixels.resize(samples);
        for (std::uint64_t k = 0; k < samples; ++k) {
            if (bits) {  // one digit a sample, whitespace optional
                r.skip();
                if (r.i >= size) throw Error("truncated PNM (fewer samples than the header says)");
                const std::uint8_t c = data[r.i++];
                if (c != '0' && c != '1')
                    throw Error("corrupt PNM (a character that is not 0 or 1 in a P1 bitmap)");
                img.pixels[k] = c == '1' ? 0 : 255;
                continue;
            }
            const std::size_t at = r.i;
            const std::int64_t n = r.number();
            if (n < 0) {
                r.skip();
                throw Error(r.i >= size
                                ? "truncated PNM (fewer samples than the header says)"
                                : "corrupt PNM (not a number at byte " + std::to_string(at) + ")");
            }
            const auto v = std::uint32_t(std::min<std::int64_t>(n, 0xFFFFFFFF));
            if (n > maxval) throw too_large(v);
            img.pixels[k] = scale(v);
        }
        return img;
    }
    // Binary: exactly one whitespace character after the header, then rows of packed bits
    // (P4, rows padded to a byte) or big-endian samples of 1 or 2 bytes.
    if (r.i >= size || !pnm_space(data[r.i])) throw Error("corrupt PNM (header)");
    const std::size_t start = r.i + 1;
    const int bytes = maxval > 255 ? 2 : 1;
    const std::uint64_t row = bits ? (std::uint64_t(w) + 7) / 8 : std::uint64_t(w) * ch * bytes;
    if (row * std::uint64_t(h) > size - start)
        throw Error("truncated PNM (a " + std::to_string(w) + "x" + std::to_string(h) +
                    " image needs " + std::to_string(row * std::uint64_t(h)) +
                    " bytes of samples, the file has " + std::to_string(size - start) + ")");
    img.pixels.resize(samples);
    std::uint8_t* out = img.pixels.data();
    for (std::int64_t y = 0; y < h; ++y) {
        const std::uint8_t* p = data + start + std::uint64_t(y) * row;
        if (bits) {
            for (std::int64_t x = 0; x < w; ++x)
                *out++ = (p[x >> 3] >> (7 - (x & 7))) & 1 ? 0 : 255;
            continue;
        }
        for (std::int64_t k = 0; k < w * ch; ++k) {
            const std::uint32_t v = bytes == 2 ? be16(p + 2 * k) : p[k];
            if (v > m) throw too_large(v);
            *out++ = maxval == 255 ? std::uint8_t(v) : scale(v);
        }
    }
    return img;
}

}  // namespace detail
}  // namespace tinyfq
