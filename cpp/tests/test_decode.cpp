// C++ test suite "decode" (ctest decode). Shared harness: check.h.
#include "check.h"

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

    auto error_of = [](const std::vector<std::uint8_t>& b) -> std::string {
        try {
            tinyfq::decode_image(b.data(), b.size());
        } catch (const tinyfq::Error& e) {
            return e.what();
        }
        return "";
    };
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

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("decode", argc, argv, 0, "[DATA_ROOT]",
                                  [&](char**) { test_decode(argc > 1 ? argv[1] : ""); });
}
