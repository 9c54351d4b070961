// C++ test suite "decode_orientation" (ctest decode_orientation): the EXIF Orientation tag
// (parsed, applied, with reduced decoding) and bytes after a JPEG's end. The formats and the
// limits: test_decode.cpp. Shared harness: check.h, decode_helpers.h.
#include "decode_helpers.h"

namespace {
using namespace tinyfq_test;

// A TIFF structure whose IFD0 holds a Make tag and Orientation = o.
Bytes tiff(int o, bool big) {
    Bytes b = big ? Bytes{'M', 'M', 0, 42} : Bytes{'I', 'I', 42, 0};
    put32(b, 8, big);
    put16(b, 2, big);
    for (unsigned v : {0x010Fu, 2u}) put16(b, v, big);
    put32(b, 4, big);
    b.insert(b.end(), {'c', 'a', 'm', 0});
    for (unsigned v : {0x0112u, 3u}) put16(b, v, big);
    put32(b, 1, big);
    put16(b, unsigned(o), big);
    put16(b, 0, big);
    put32(b, 0, big);
    return b;
}

// The JPEG with an APP1 Exif segment saying orientation o, after its SOI.
Bytes with_exif(const Bytes& jpg, int o, bool big) {
    const Bytes t = tiff(o, big);
    Bytes out;
    out.reserve(jpg.size() + t.size() + 10);
    for (int b : {0xFF, 0xD8, 0xFF, 0xE1}) out.push_back(std::uint8_t(b));
    put16(out, unsigned(t.size() + 8), true);
    for (char b : {'E', 'x', 'i', 'f', '\0', '\0'}) out.push_back(std::uint8_t(b));
    for (std::uint8_t b : t) out.push_back(b);
    for (std::size_t i = 2; i < jpg.size(); ++i) out.push_back(jpg[i]);
    return out;
}

std::uint32_t crc(const std::uint8_t* p, std::size_t n) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

// An 8-bit grey PNG of w x h samples, its zlib stream one stored block, with an eXIf chunk
// when `exif` is not empty.
Bytes grey_png(const Bytes& samples, int w, int h, const Bytes& exif) {
    Bytes out = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    auto chunk = [&](const char* type, const Bytes& body) {
        put32(out, std::uint32_t(body.size()), true);
        const std::size_t at = out.size();
        out.insert(out.end(), type, type + 4);
        out.insert(out.end(), body.begin(), body.end());
        put32(out, crc(out.data() + at, body.size() + 4), true);
    };
    Bytes ihdr;
    put32(ihdr, std::uint32_t(w), true);
    put32(ihdr, std::uint32_t(h), true);
    ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});
    chunk("IHDR", ihdr);
    if (!exif.empty()) chunk("eXIf", exif);
    Bytes raw;
    for (int y = 0; y < h; ++y) {
        raw.push_back(0);  // filter: none
        raw.insert(raw.end(), samples.begin() + y * w, samples.begin() + (y + 1) * w);
    }
    std::uint32_t a = 1, b = 0;
    for (std::uint8_t v : raw) a = (a + v) % 65521, b = (b + a) % 65521;
    Bytes z = {0x78, 0x01, 1};  // zlib header; a final stored block
    put16(z, unsigned(raw.size()), false);
    put16(z, unsigned(~raw.size() & 0xFFFF), false);
    z.insert(z.end(), raw.begin(), raw.end());
    put32(z, b << 16 | a, true);
    chunk("IDAT", z);
    chunk("IEND", {});
    return out;
}

// Stored pixel of upright (u, v) for each orientation: the tag's definition, pixel by pixel.
tinyfq::Image upright(const tinyfq::Image& s, int o) {
    tinyfq::Image u = s;
    const int W = s.width, H = s.height, ch = tinyfq::channels(s.format);
    if (o >= 5) std::swap(u.width, u.height);
    for (int v = 0; v < u.height; ++v)
        for (int x = 0; x < u.width; ++x) {
            int sx = x, sy = v;
            switch (o) {
                case 2:
                    sx = W - 1 - x;
                    break;
                case 3:
                    sx = W - 1 - x, sy = H - 1 - v;
                    break;
                case 4:
                    sy = H - 1 - v;
                    break;
                case 5:
                    sx = v, sy = x;
                    break;
                case 6:
                    sx = v, sy = H - 1 - x;
                    break;
                case 7:
                    sx = W - 1 - v, sy = H - 1 - x;
                    break;
                case 8:
                    sx = W - 1 - v, sy = x;
                    break;
                default:
                    break;
            }
            for (int c = 0; c < ch; ++c)
                u.pixels[(std::size_t(v) * u.width + x) * ch + c] =
                    s.pixels[(std::size_t(sy) * W + sx) * ch + c];
        }
    return u;
}

// The EXIF Orientation tag: parsed in both byte orders, applied by its definition (a 3 x 2
// picture turned by hand), and left alone when the option is off.
void test_orientation() {
    for (bool big : {false, true})
        for (int o = 0; o <= 9; ++o) {
            const Bytes t = tiff(o, big);
            CHECK(tinyfq::detail::tiff_orientation(t.data(), t.size()) ==
                  (o >= 1 && o <= 8 ? o : 1));
            CHECK(tinyfq::detail::tiff_orientation(t.data(), 20) == 1);  // cut short: as stored
        }
    const Bytes stored = {1, 2, 3, 4, 5, 6};  // 3 x 2: rows 1 2 3 / 4 5 6
    static const std::uint8_t kUpright[9][6] = {
        {},
        {1, 2, 3, 4, 5, 6},
        {3, 2, 1, 6, 5, 4},
        {6, 5, 4, 3, 2, 1},
        {4, 5, 6, 1, 2, 3},
        {1, 4, 2, 5, 3, 6},  // transposed: 2 x 3
        {4, 1, 5, 2, 6, 3},  // 90 degrees clockwise: the stored first row is the right side
        {6, 3, 5, 2, 4, 1},
        {3, 6, 2, 5, 1, 4}};
    for (int o = 1; o <= 8; ++o) {
        const Bytes png = grey_png(stored, 3, 2, tiff(o, o % 2 == 1));
        const tinyfq::Image img = decode(png);
        CHECK(img.orientation == o && img.format == tinyfq::PixelFormat::GRAY);
        CHECK(img.width == (o >= 5 ? 2 : 3) && img.height == (o >= 5 ? 3 : 2));
        CHECK(std::equal(img.pixels.begin(), img.pixels.end(), kUpright[o]));
        tinyfq::DecodeOptions off;
        off.exif_orientation = false;
        const tinyfq::Image as_stored = decode(png, off);
        CHECK(as_stored.width == 3 && as_stored.pixels == stored && as_stored.orientation == o);
    }
}

// A JPEG with an Orientation tag: the stored decode turned upright, also when reduced (where
// the reduction is capped so that decoded pixel i covers upright pixels [k*i, k*i + k)).
void test_jpeg_orientation(const Bytes& jpg) {
    tinyfq::DecodeOptions off;
    off.exif_orientation = false;
    const tinyfq::Image stored = decode(jpg);
    for (int o = 1; o <= 8; ++o) {
        const Bytes tagged = with_exif(jpg, o, o % 2 == 0);
        const tinyfq::Image img = decode(tagged);
        CHECK(img.orientation == o && same(img, upright(stored, o)));
        CHECK(same(decode(tagged, off), stored));
    }
    if (!uses_libjpeg()) return;
    tinyfq::DecodeOptions r;  // 250 x 250: 1/8 without a tag, but 250 = 2 * 125
    r.min_width = r.min_height = 32;
    const tinyfq::Image eighth = decode(jpg, r);
    CHECK(eighth.scale == 8);
    for (int o = 2; o <= 8; ++o) {
        const tinyfq::Image img = decode(with_exif(jpg, o, false), r);
        const bool flips =
            tinyfq::detail::orientation_flips_x(o) || tinyfq::detail::orientation_flips_y(o);
        CHECK(img.scale == (flips ? 2 : 8));
        tinyfq::DecodeOptions s = r;
        s.max_scale = img.scale;
        CHECK(same(img, upright(decode(jpg, s), o)));
    }
    // the minimum sides are the upright ones
    r.min_width = 32, r.min_height = 100;
    CHECK(decode(with_exif(jpg, 5, false), r).scale == 2);
    r.min_width = 100, r.min_height = 32;
    CHECK(decode(with_exif(jpg, 5, false), r).scale == 2);
}

// Bytes after the end-of-image marker (a phone's motion-photo video, maker data) are not the
// JPEG's; a JPEG cut short is still refused, trailer or not.
void test_trailer(const Bytes& jpg) {
    std::mt19937 rng(26);
    Bytes trailer(1024);
    for (auto& b : trailer) b = std::uint8_t(rng());
    for (std::size_t k = 0; k + 1 < trailer.size(); k += 97) trailer[k] = 0xFF;  // markers
    Bytes longer = jpg;
    longer.insert(longer.end(), trailer.begin(), trailer.end());
    CHECK(same(decode(longer), decode(jpg)));
    longer = jpg;  // a second JPEG after the first (MPO)
    longer.insert(longer.end(), jpg.begin(), jpg.end());
    CHECK(same(decode(longer), decode(jpg)));
    Bytes cut(jpg.begin(), jpg.end() - 2);  // no end-of-image marker
    CHECK(error_of(cut).find("truncated") != std::string::npos);
    cut.insert(cut.end(), 100, 0);  // padding instead
    CHECK(error_of(cut).find("truncated") != std::string::npos);
}
}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("decode_orientation", argc, argv, 0, "[DATA_ROOT]", [&](char**) {
        if (!tinyfq::have_decoder()) {
            std::printf("decode_orientation: skipped, no decoder in this build\n");
            return;
        }
        test_orientation();
        const std::string root = argc > 1 ? argv[1] : "";
        const std::string path = root + "/lfw/images/George_W_Bush/George_W_Bush_0001.jpg";
        const Bytes jpg = root.empty() ? Bytes() : read_bytes(path);
        if (jpg.empty()) {
            std::printf("decode_orientation: no LFW data at %s, JPEG checks skipped\n",
                        path.c_str());
            return;
        }
        test_jpeg_orientation(jpg);
        test_trailer(jpg);
    });
}
