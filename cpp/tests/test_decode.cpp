// C++ test suite "decode" (ctest decode): the formats and the limits. EXIF orientation and
// trailers: test_decode_orientation.cpp. Shared harness: check.h, decode_helpers.h.
#include "decode_helpers.h"

#if TINYFQ_HAVE_LIBJPEG
#include <cstdio>
#include <jpeglib.h>
#endif

namespace {
using namespace tinyfq_test;

void test_decode(const std::string& root) {
    // The reduction asked for: the largest k of 1, 2, 4, 8 (<= max_scale) with
    // ceil(W/k) x ceil(H/k) >= the minimum; no minimum means full resolution.
    auto scale = [](int w, int h, int min_w, int min_h, int max_scale = 8) {
        tinyfq::DecodeOptions o;
        o.min_width = min_w, o.min_height = min_h, o.max_scale = max_scale;
        return tinyfq::detail::reduced_scale(w, h, o);
    };
    CHECK(scale(250, 250, 64, 64) == 2);  // 125 >= 64; 1/4 would give 63
    CHECK(scale(250, 250, 0, 0) == 1);
    CHECK(scale(250, 250, 64, 0) == 2);
    CHECK(scale(250, 250, 300, 300) == 1);  // more than the image: full size
    CHECK(scale(127, 127, 64, 64) == 2);    // ceil(127 / 2) = 64
    CHECK(scale(126, 126, 64, 64) == 1);
    CHECK(scale(512, 505, 64, 64) == 8);  // ceil(505 / 8) = 64
    CHECK(scale(512, 504, 64, 64) == 4);
    CHECK(scale(1000, 200, 64, 64) == 2);      // the short side decides
    CHECK(scale(4000, 3000, 64, 64, 2) == 2);  // capped by max_scale
    CHECK(scale(4000, 3000, 1, 1, 1) == 1);

    if (!tinyfq::have_decoder()) {
        std::printf("decode: skipped, no decoder in this build\n");
        return;
    }
    std::printf("decode: JPEG through %s\n", tinyfq::jpeg_decoder().c_str());
    CHECK(throws<tinyfq::FileNotFound>([] { tinyfq::read_image("/nonexistent/x.jpg"); }));
    const std::uint8_t junk[] = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
    CHECK(throws<tinyfq::Error>([&] { tinyfq::decode_image(junk, sizeof junk); }));
    CHECK(throws<tinyfq::Error>([&] { tinyfq::decode_image(junk, 0); }));
    // a 2x2 binary PPM (stb_image; never reduced)
    const char ppm[] = "P6\n2 2\n255\n\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0";
    const auto* ppm_data = reinterpret_cast<const std::uint8_t*>(ppm);
    const tinyfq::Image img = tinyfq::decode_image(ppm_data, sizeof ppm - 1);
    CHECK(img.width == 2 && img.height == 2 && img.format == tinyfq::PixelFormat::RGB);
    CHECK(img.pixels.size() == 12 && img.pixels[0] == 0x10 && img.pixels[11] == 0xc0);
    CHECK(throws<tinyfq::Error>([&] { tinyfq::decode_image(ppm_data, sizeof ppm - 1, 3); }));
    tinyfq::DecodeOptions any;
    any.min_width = any.min_height = 1;
    CHECK(tinyfq::decode_image(ppm_data, sizeof ppm - 1, any).scale == 1);

    // A real 250x250 JPEG: full, reduced for a 64x64 input, and damaged copies.
    const std::string path = root + "/lfw/images/George_W_Bush/George_W_Bush_0001.jpg";
    const std::vector<std::uint8_t> jpg =
        root.empty() ? std::vector<std::uint8_t>() : read_bytes(path);
    if (jpg.empty()) {
        std::printf("decode: no LFW data at %s, real-JPEG checks skipped\n", path.c_str());
        return;
    }
    const tinyfq::Image full = tinyfq::decode_image(jpg.data(), jpg.size());
    CHECK(full.width == 250 && full.height == 250 && full.scale == 1);
    tinyfq::DecodeOptions opt;
    opt.min_width = opt.min_height = 64;
    const tinyfq::Image half = tinyfq::decode_image(jpg.data(), jpg.size(), opt);
    if (uses_libjpeg()) {
        CHECK(half.width == 125 && half.height == 125 && half.scale == 2);
        // DCT scaling is close to a 2x2 box filter of the full decode
        double diff = 0;
        for (int y = 0; y < 125; ++y)
            for (int x = 0; x < 125; ++x)
                for (int c = 0; c < 3; ++c) {
                    auto at = [&](int yy, int xx) { return full.pixels[(yy * 250 + xx) * 3 + c]; };
                    const double box = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) +
                                        at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) /
                                       4.0;
                    diff += std::fabs(half.pixels[(y * 125 + x) * 3 + c] - box);
                }
        diff /= 125.0 * 125 * 3;
        std::printf("decode: mean |1/2 DCT-scaled - 2x2 box of full| = %.2f levels\n", diff);
        CHECK(diff < 3.0);
    } else {
        CHECK(half.width == 250 && half.height == 250 && half.scale == 1);
    }
    opt.min_width = opt.min_height = 300;
    CHECK(tinyfq::decode_image(jpg.data(), jpg.size(), opt).scale == 1);
    opt.max_pixels = 250 * 250 - 1;  // checked from the header, before decoding
    CHECK(throws<tinyfq::Error>([&] { tinyfq::decode_image(jpg.data(), jpg.size(), opt); }));

    const std::vector<std::uint8_t> cut(jpg.begin(), jpg.begin() + jpg.size() / 2);
    CHECK(error_of(cut).find("truncated") != std::string::npos);
    std::vector<std::uint8_t> header = jpg;  // garbage in the header segments
    for (std::size_t i = 2; i < 514; ++i) header[i] = std::uint8_t(i);
    CHECK(!error_of(header).empty());
    if (uses_libjpeg()) {
        // garbage inside the entropy-coded data: libjpeg's warning becomes the error
        std::vector<std::uint8_t> scan = jpg;
        std::mt19937 rng(7);
        for (std::size_t i = scan.size() / 2; i < scan.size() / 2 + 200; ++i)
            scan[i] = std::uint8_t(rng());
        const std::string why = error_of(scan);
        std::printf("decode: damaged scan data -> \"%s\"\n", why.c_str());
        CHECK(why.find("corrupt") != std::string::npos);
    }
}

#if TINYFQ_HAVE_LIBJPEG
// The JPEG's coefficients re-encoded with arithmetic coding (libjpeg's transcoder): the same
// picture, or Unsupported where stb_image decodes JPEG.
Bytes arithmetic(const Bytes& jpg, bool progressive) {
    jpeg_decompress_struct in{};
    jpeg_compress_struct out{};
    jpeg_error_mgr e1{}, e2{};
    in.err = jpeg_std_error(&e1);
    out.err = jpeg_std_error(&e2);
    jpeg_create_decompress(&in);
    jpeg_create_compress(&out);
    jpeg_mem_src(&in, jpg.data(), static_cast<unsigned long>(jpg.size()));
    jpeg_read_header(&in, TRUE);
    jvirt_barray_ptr* coefs = jpeg_read_coefficients(&in);
    jpeg_copy_critical_parameters(&in, &out);
    out.arith_code = TRUE;
    if (progressive) jpeg_simple_progression(&out);
    unsigned char* buf = nullptr;
    unsigned long n = 0;
    jpeg_mem_dest(&out, &buf, &n);
    jpeg_write_coefficients(&out, coefs);
    jpeg_finish_compress(&out);
    jpeg_finish_decompress(&in);
    Bytes result(buf, buf + n);
    std::free(buf);
    jpeg_destroy_compress(&out);
    jpeg_destroy_decompress(&in);
    return result;
}

void test_arithmetic(const Bytes& jpg) {
    for (bool progressive : {false, true}) {
        const Bytes a = arithmetic(jpg, progressive);
        CHECK(a.size() > 1000 && a[a.size() - 1] == 0xD9);
        if (uses_libjpeg())
            CHECK(same(decode(a), decode(jpg)));
        else
            CHECK(unsupported(a) && error_of(a).find("arithmetic") != std::string::npos);
    }
}
#endif

// BMP variants that stb_image got wrong, and our own RLE decoding.
void test_bmp() {
    // 2 x 2, 24 bits, with a 40- (or 56-) byte header; rows padded to 8 bytes
    auto bmp = [](std::uint32_t header, std::int32_t h, std::uint16_t bpp, std::uint32_t comp,
                  const Bytes& extra, const Bytes& rows) {
        Bytes b = {'B', 'M'};
        const std::uint32_t offset = 14 + header + std::uint32_t(extra.size());
        put32(b, offset + std::uint32_t(rows.size()), false);
        put32(b, 0, false);
        put32(b, offset, false);
        put32(b, header, false);
        if (header == 12) {
            put16(b, 2, false), put16(b, std::uint16_t(h), false);
        } else {
            put32(b, 2, false), put32(b, std::uint32_t(h), false);
        }
        put16(b, 1, false), put16(b, bpp, false);
        if (header > 12) {
            put32(b, comp, false);
            b.resize(14 + header, 0);
        }
        b.insert(b.end(), extra.begin(), extra.end());
        b.insert(b.end(), rows.begin(), rows.end());
        return b;
    };
    const Bytes bgr = {3, 2, 1, 6, 5, 4, 0, 0, 9, 8, 7, 12, 11, 10, 0, 0};  // file's rows
    const tinyfq::Image bottom_up = decode(bmp(40, 2, 24, 0, {}, bgr));
    CHECK(bottom_up.pixels == Bytes({7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6}));
    const tinyfq::Image top_down = decode(bmp(40, -2, 24, 0, {}, bgr));  // stb: "corrupt"
    CHECK(top_down.pixels == Bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    // 12-byte header, 8 bits: a palette of 256 3-byte entries (stb read 252), index 255
    Bytes pal(256 * 3, 0);
    pal[255 * 3] = 30, pal[255 * 3 + 1] = 20, pal[255 * 3 + 2] = 10;  // BGR
    const tinyfq::Image core = decode(bmp(12, 2, 8, 0, pal, {255, 0, 0, 0, 0, 255, 0, 0}));
    CHECK(core.pixels == Bytes({0, 0, 0, 10, 20, 30, 10, 20, 30, 0, 0, 0}));
    // 56-byte header, 16 bits, bit fields 5-6-5 inside the header (stb read them after it)
    Bytes v3(56 - 40);
    for (int k = 0; k < 3; ++k)
        v3[4 * k] = Bytes({0x00, 0xE0, 0x1F})[k], v3[4 * k + 1] = Bytes({0xF8, 0x07, 0x00})[k];
    Bytes b = bmp(56, 1, 16, 3, {}, {0xFF, 0xFF, 0x1F, 0x00});  // white, blue
    std::copy(v3.begin(), v3.end(), b.begin() + 54);
    CHECK(decode(b).pixels == Bytes({255, 255, 255, 0, 0, 255}));
    // RLE8: a run of 2, then an absolute run of 3 (padded), end of line, end of bitmap
    Bytes p8(256 * 4, 0);
    for (int k = 0; k < 256; ++k) p8[4 * k] = std::uint8_t(k);  // blue = index
    b = bmp(40, 1, 8, 1, p8, {2, 7, 0, 3, 1, 2, 3, 0, 0, 0, 0, 1});
    std::copy_n(Bytes({5, 0, 0, 0}).begin(), 4, b.begin() + 18);  // 5 wide
    CHECK(decode(b).pixels == Bytes({0, 0, 7, 0, 0, 7, 0, 0, 1, 0, 0, 2, 0, 0, 3}));
    CHECK(unsupported(bmp(40, 2, 24, 4, {}, bgr)));  // an embedded JPEG
    CHECK(error_of(Bytes(b.begin(), b.end() - 4)).find("truncated") != std::string::npos);
}

// PNM, our own decoder: every variant, maxval scaled by rounding.
void test_pnm() {
    auto pnm = [](const std::string& s) { return decode(Bytes(s.begin(), s.end())); };
    CHECK(pnm("P1\n# bits\n3 2\n101\n0 1 0").pixels == Bytes({0, 255, 0, 255, 0, 255}));
    CHECK(pnm("P4 3 2\n\xA0\x40").pixels == Bytes({0, 255, 0, 255, 0, 255}));
    CHECK(pnm("P2 3 1 1000 0 500 1000").pixels == Bytes({0, 128, 255}));  // 127.5 -> 128
    const tinyfq::Image p3 = pnm("P3 1 1 15 15 1 0\n");
    CHECK(p3.format == tinyfq::PixelFormat::RGB && p3.pixels == Bytes({255, 17, 0}));
    CHECK(pnm(std::string("P5 2 1 65535\n\x80\x00\xFF\xFF", 17)).pixels == Bytes({128, 255}));
    CHECK(pnm(std::string("P6 1 1 3\n\x01\x02\x03", 12)).pixels == Bytes({85, 170, 255}));
    auto err = [](const std::string& s) { return error_of(Bytes(s.begin(), s.end())); };
    CHECK(err("P5 2 2 255\n\x01\x02\x03").find("truncated") != std::string::npos);
    CHECK(err("P2 2 1 10 3 11").find("above maxval") != std::string::npos);
    CHECK(err("P3 2 1 255 1 2 3 4").find("truncated") != std::string::npos);
    const std::string pam = "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nENDHDR\n\x01";
    CHECK(unsupported(Bytes(pam.begin(), pam.end())));
}

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("decode", argc, argv, 0, "[DATA_ROOT]", [&](char**) {
        const std::string root = argc > 1 ? argv[1] : "";
        test_decode(root);
        if (!tinyfq::have_decoder()) return;
        test_bmp();
        test_pnm();
#if TINYFQ_HAVE_LIBJPEG
        const Bytes jpg =
            root.empty() ? Bytes()
                         : read_bytes(root + "/lfw/images/George_W_Bush/George_W_Bush_0001.jpg");
        if (jpg.empty()) return;
        test_arithmetic(jpg);
#endif
    });
}
