// C++ tests, run by ctest (natively, or under qemu-aarch64 through TINYFQ_TEST_LAUNCHER).
//   tinyfq_tests kernels | scorer | decode [DATA_ROOT] | fused MODELS_DIR |
//                golden GOLDEN_CSV DATA_ROOT | detect DETECT_CSV DATA_ROOT
#include "tinyfq/tinyfq.h"

#include "fused.h"
#include "internal.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                                   \
        }                                                                                 \
    } while (0)

template <class E, class F>
bool throws(F f) {
    try {
        f();
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

tinyfq::ModelInfo info64() { return tinyfq::Scorer().info(); }

// Fast kernels vs their reference twins over odd sizes, strides, formats and ROIs.
void test_kernels() {
    const tinyfq::ModelInfo info = info64();
    const int S = info.input_size;
    std::mt19937 rng(1);
    const tinyfq::PixelFormat formats[] = {tinyfq::PixelFormat::BGR, tinyfq::PixelFormat::RGB,
                                           tinyfq::PixelFormat::GRAY, tinyfq::PixelFormat::BGRA,
                                           tinyfq::PixelFormat::RGBA};
    const int sizes[][2] = {{1, 1},     {7, 3},    {63, 65},   {64, 64},
                            {112, 112}, {113, 97}, {250, 250}, {31, 200}};
    float worst = 0;
    for (auto f : formats) {
        for (auto& wh : sizes) {
            const int w = wh[0], h = wh[1], ch = tinyfq::channels(f);
            const int pad = int(rng() % 13);  // odd row padding
            std::vector<std::uint8_t> buf(std::size_t(w * ch + pad) * h + 5);
            for (auto& b : buf) b = std::uint8_t(rng());
            tinyfq::ImageView v;
            v.data = buf.data() + 5 * (pad % 2);  // unaligned start for odd pads
            v.width = w, v.height = h, v.stride = w * ch + pad, v.format = f;
            std::vector<float> a(3 * S * S), b(3 * S * S);
            tinyfq::preprocess_crop(v, info, a.data());
            tinyfq::preprocess_crop_reference(v, info, b.data());
            worst = std::max(worst, max_abs_diff(a, b));
            // a face somewhere in (or partly out of) the image
            tinyfq::Landmarks lm;
            const float cx = w * (0.2f + 0.6f * (rng() % 100) / 100.f);
            const float cy = h * (0.2f + 0.6f * (rng() % 100) / 100.f);
            const float sc = std::max(w, h) / 150.f * (0.5f + (rng() % 100) / 100.f);
            const float ang = ((rng() % 100) / 100.f - 0.5f);
            const float base[10] = {-18, -10, 18, -10, 0, 8, -14, 22, 14, 22};
            for (int k = 0; k < 5; ++k) {
                const float x = base[2 * k] * sc, y = base[2 * k + 1] * sc;
                lm.xy[2 * k] = cx + std::cos(ang) * x - std::sin(ang) * y;
                lm.xy[2 * k + 1] = cy + std::sin(ang) * x + std::cos(ang) * y;
            }
            if (w < 8 || h < 8) {  // tiny images: coincident landmarks are rejected
                continue;
            }
            tinyfq::preprocess_warp(v, lm, info, a.data());
            tinyfq::preprocess_warp_reference(v, lm, info, b.data());
            worst = std::max(worst, max_abs_diff(a, b));
        }
    }
    std::printf("kernels: max |fast - reference| = %.3g (normalised units)\n", worst);
    CHECK(worst <= 1e-4f);

    // The similarity fit recovers a known transform exactly.
    float src[10], dst[10], m[6];
    const float a = 1.7f * std::cos(0.3f), b = 1.7f * std::sin(0.3f);
    for (int k = 0; k < 5; ++k) {
        src[2 * k] = float(rng() % 200), src[2 * k + 1] = float(rng() % 200);
        dst[2 * k] = a * src[2 * k] - b * src[2 * k + 1] + 11.f;
        dst[2 * k + 1] = b * src[2 * k] + a * src[2 * k + 1] - 4.f;
    }
    tinyfq::estimate_similarity(src, dst, 5, m);
    CHECK(std::fabs(m[0] - a) < 1e-4f && std::fabs(m[3] - b) < 1e-4f);
    CHECK(std::fabs(m[2] - 11.f) < 1e-2f && std::fabs(m[5] + 4.f) < 1e-2f);

    // An image already aligned to the template warps exactly like a crop resize.
    std::vector<std::uint8_t> img(S * S * 3);
    for (auto& p : img) p = std::uint8_t(rng());
    tinyfq::ImageView v{img.data(), S, S, S * 3, tinyfq::PixelFormat::BGR};
    tinyfq::Landmarks lm;
    std::memcpy(lm.xy, info.alignment_template, sizeof lm.xy);
    std::vector<float> c1(3 * S * S), c2(3 * S * S);
    tinyfq::preprocess_crop(v, info, c1.data());
    tinyfq::preprocess_warp(v, lm, info, c2.data());
    CHECK(max_abs_diff(c1, c2) < 1e-3f);

    // Bad input is rejected with InvalidInput.
    tinyfq::ImageView bad = v;
    bad.stride = 10;
    CHECK(throws<tinyfq::InvalidInput>([&] { tinyfq::preprocess_crop(bad, info, c1.data()); }));
    bad = v;
    bad.data = nullptr;
    CHECK(throws<tinyfq::InvalidInput>([&] { tinyfq::preprocess_crop(bad, info, c1.data()); }));
    tinyfq::Landmarks same;
    for (float& x : same.xy) x = 5.f;
    CHECK(throws<tinyfq::InvalidInput>([&] { tinyfq::preprocess_warp(v, same, info, c1.data()); }));
}

void test_scorer() {
    // SHA-256 (model integrity): FIPS 180-2 test vectors, one and two padding blocks.
    auto sha = [](const std::string& m) {
        return tinyfq::detail::sha256_hex(reinterpret_cast<const unsigned char*>(m.data()),
                                          m.size());
    };
    CHECK(sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    tinyfq::Scorer s;
    const int S = s.info().input_size;
    CHECK(S == 64);
    std::mt19937 rng(2);
    const int n = 48;
    std::vector<std::vector<std::uint8_t>> bufs(n);
    std::vector<tinyfq::ImageView> views(n);
    for (int i = 0; i < n; ++i) {
        const int w = 60 + i * 3, h = 64 + i;
        bufs[i].resize(std::size_t(w) * h * 3);
        for (auto& b : bufs[i]) b = std::uint8_t(rng() % (64 + 4 * i));
        views[i] = {bufs[i].data(), w, h, w * 3, tinyfq::PixelFormat::BGR};
    }
    std::vector<float> serial(n), par(n);
    for (int i = 0; i < n; ++i) serial[i] = s.score(views[i]);
    bool in_range = true, varied = false;
    for (float q : serial) in_range &= q >= 0.f && q <= 1.f, varied |= q != serial[0];
    CHECK(in_range);
    CHECK(varied);
    s.score_batch(views.data(), nullptr, n, par.data(), 4);
    CHECK(max_abs_diff(serial, par) == 0.f);
    // many threads sharing one scorer
    std::vector<std::thread> ts;
    std::vector<std::vector<float>> got(6, std::vector<float>(n));
    for (int t = 0; t < 6; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < n; ++i) got[t][i] = s.score(views[(i + t) % n]);
        });
    for (auto& t : ts) t.join();
    for (int t = 0; t < 6; ++t)
        for (int i = 0; i < n; ++i) CHECK(got[t][i] == serial[(i + t) % n]);
    // the first failing item's exception comes back from a batch
    views[17].stride = 1;
    CHECK(throws<tinyfq::InvalidInput>(
        [&] { s.score_batch(views.data(), nullptr, n, par.data(), 3); }));
    // models from missing files
    CHECK(throws<tinyfq::FileNotFound>([] { tinyfq::Scorer("/nonexistent.param", "b", "j"); }));
    CHECK(throws<tinyfq::Error>([] { tinyfq::parse_model_info("{\"input\": 3}"); }));
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

bool uses_libjpeg() { return tinyfq::jpeg_decoder().rfind("libjpeg", 0) == 0; }

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

// The fused network kernels (fused.h) against their scalar reference twins, over odd sizes,
// strides, channel counts and row strides; then the fused default model against the same
// weights as a plain graph of stock ncnn layers (MODELS_DIR/plain.*).
namespace fz = tinyfq::fused;

std::vector<float> randv(std::mt19937& rng, std::size_t n, float lo = -1.f, float hi = 1.f) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

float compare_sets(const fz::Kernels& fast, const fz::Kernels& ref, std::mt19937& rng) {
    float worst = 0;
    auto upd = [&](const std::vector<float>& a, const std::vector<float>& b) {
        worst = std::max(worst, max_abs_diff(a, b));
    };
    const int sizes[][2] = {{1, 1},   {2, 3},   {5, 7},   {8, 8},   {9, 17}, {16, 16},
                            {15, 33}, {32, 32}, {33, 31}, {64, 64}, {40, 70}};
    for (auto& hw : sizes) {
        const int h = hw[0], w = hw[1];
        for (int stride = 1; stride <= 2; ++stride) {
            const int ho = fz::out_size(h, stride), wo = fz::out_size(w, stride);
            // dense 3x3
            for (int cin : {1, 3}) {
                const int cout = int(1 + rng() % 13);
                const std::size_t ics = std::size_t(h) * w + rng() % 5,
                                  ocs = std::size_t(ho) * wo + 3;
                auto in = randv(rng, ics * cin), wt = randv(rng, std::size_t(cout) * cin * 9),
                     b = randv(rng, cout);
                std::vector<float> o1(ocs * cout, 7.f), o2 = o1;
                std::vector<float> work(fz::conv3x3_work(cin, ho, wo), 9.f);
                fast.conv3x3(in.data(), cin, ics, h, w, stride, wt.data(), b.data(), cout,
                             o1.data(), ocs, work.data());
                ref.conv3x3(in.data(), cin, ics, h, w, stride, wt.data(), b.data(), cout, o2.data(),
                            ocs, work.data());
                upd(o1, o2);
            }
            // depthwise on a zero-bordered input (+ slack after the last plane)
            const int c = int(1 + rng() % 45);
            const std::size_t pcs = std::size_t(h + 2) * (w + 2) + rng() % 3;
            std::vector<float> pad(pcs * c + 16, 0.f);
            for (int ch = 0; ch < c; ++ch)
                for (int y = 1; y <= h; ++y)
                    for (int x = 1; x <= w; ++x) pad[ch * pcs + y * (w + 2) + x] = randv(rng, 1)[0];
            auto wd = randv(rng, std::size_t(c) * 9), bd = randv(rng, c);
            const std::size_t dcs = std::size_t(ho) * wo + 1;
            for (bool act : {true, false}) {  // with ReLU (tinyFQnet), linear (YuNet's heads)
                std::vector<float> d1(dcs * c, 7.f), d2 = d1;
                fast.dw3x3(pad.data(), pcs, h, w, stride, wd.data(), bd.data(), c, d1.data(), dcs,
                           act);
                ref.dw3x3(pad.data(), pcs, h, w, stride, wd.data(), bd.data(), c, d2.data(), dcs,
                          act);
                upd(d1, d2);
            }
        }
        // 1x1 into a wider row stride, with and without the residual
        const int cin = int(1 + rng() % 45), cout = int(1 + rng() % 45), rs = w + int(rng() % 3);
        const std::size_t ics = std::size_t(h) * w + rng() % 4, ocs = std::size_t(h) * rs + 5;
        auto in = randv(rng, ics * cin), wt = randv(rng, std::size_t(cout) * cin, -0.3f, 0.3f),
             b = randv(rng, cout), res = randv(rng, ics * cout);
        for (const float* r :
             {static_cast<const float*>(nullptr), static_cast<const float*>(res.data())})
            for (bool act : {true, false}) {
                std::vector<float> o1(ocs * cout, 7.f), o2 = o1;
                fast.conv1x1(in.data(), cin, ics, h, w, wt.data(), b.data(), cout, o1.data(), ocs,
                             rs, r, ics, act);
                ref.conv1x1(in.data(), cin, ics, h, w, wt.data(), b.data(), cout, o2.data(), ocs,
                            rs, r, ics, act);
                upd(o1, o2);
            }
        // head
        const int mid = int(1 + rng() % 260);
        auto wh = randv(rng, std::size_t(mid) * cin, -0.3f, 0.3f), bh = randv(rng, mid),
             fw = randv(rng, mid);
        const float l1 =
            fast.head(in.data(), cin, ics, h * w, wh.data(), bh.data(), mid, fw.data(), 0.25f);
        const float l2 =
            ref.head(in.data(), cin, ics, h * w, wh.data(), bh.data(), mid, fw.data(), 0.25f);
        worst = std::max(worst, std::fabs(l1 - l2) / (1.f + std::fabs(l2)));
    }
    return worst;
}

void test_fused(const std::string& models) {
    std::mt19937 rng(3);
    std::vector<const fz::Kernels*> sets = {&fz::generic_kernels()};
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        sets.push_back(&fz::avx2_kernels());
#endif
    for (const fz::Kernels* k : sets) {
        const float worst = compare_sets(*k, fz::reference_kernels(), rng);
        std::printf("fused: %s vs reference, max |diff| = %.3g\n", k->name, worst);
        CHECK(worst <= 2e-5f);
    }
    std::printf("fused: this CPU runs the %s kernels\n", fz::best_kernels().name);

    // The fused default model against the same weights as stock ncnn layers.
    tinyfq::Scorer fused;
    tinyfq::Scorer plain(models + "/plain.ncnn.param", models + "/plain.ncnn.bin",
                         models + "/plain.json");
    const int S = fused.info().input_size;
    float worst = 0, lo = 1, hi = 0;
    for (int i = 0; i < 32; ++i) {
        // smooth random images (a few cosines) rather than white noise, so scores vary
        std::vector<float> x(3 * S * S);
        const float fx = 0.02f * (rng() % 20), fy = 0.02f * (rng() % 20), ph = 0.1f * (rng() % 60);
        for (int c = 0; c < 3; ++c)
            for (int p = 0; p < S * S; ++p)
                x[c * S * S + p] = 0.9f * std::cos(fx * (p % S) + fy * (p / S) + ph + c) +
                                   0.05f * randv(rng, 1)[0];
        const float a = fused.score_tensor(x.data()), b = plain.score_tensor(x.data());
        worst = std::max(worst, std::fabs(a - b));
        lo = std::min(lo, a), hi = std::max(hi, a);
    }
    std::printf(
        "fused: default (fused layers) vs plain ncnn graph, max |score diff| = %.3g "
        "(scores %.3f..%.3f)\n",
        worst, lo, hi);
    CHECK(worst <= 1e-5f);
    CHECK(hi - lo > 0.01f);
}

// The data rows of a golden CSV file (plain fields, no quoting), split at the commas.
std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
    std::ifstream f(path);
    CHECK(bool(f));
    std::vector<std::vector<std::string>> rows;
    std::string line, cell;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
        std::stringstream ss(line);
        rows.emplace_back();
        while (std::getline(ss, cell, ',')) rows.back().push_back(cell);
    }
    return rows;
}

// Golden scores: path,kind,landmarks,score,score_stb rows (paths relative to the data root);
// within 1e-4 of the column for this build's JPEG decoder (libjpeg: score, stb: score_stb).
void test_golden(const std::string& csv, const std::string& root) {
    tinyfq::Scorer s;
    const bool stb = !uses_libjpeg();
    std::printf("golden: JPEG through %s\n", tinyfq::jpeg_decoder().c_str());
    int n = 0;
    float worst = 0;
    for (const auto& row : csv_rows(csv)) {
        CHECK(row.size() == 5);
        if (row.size() != 5) continue;
        const std::string &path = row[0], &kind = row[1], &lmtext = row[2];
        const std::string& expect = stb ? row[4] : row[3];
        const tinyfq::Image img = tinyfq::read_image(root + "/" + path);
        float q;
        if (kind == "warp") {
            tinyfq::Landmarks lm;
            std::stringstream ls(lmtext);
            for (float& x : lm.xy) ls >> x;
            q = s.score(img.view(), lm);
        } else {
            q = s.score(img.view());
        }
        worst = std::max(worst, std::fabs(q - std::stof(expect)));
        ++n;
    }
    std::printf("golden: %d images, max |score - expected| = %.3g\n", n, worst);
    CHECK(n > 0);
    CHECK(worst <= 1e-4f);
}

// Detection golden file (tests/data/detect.csv, made by onnxruntime on the original ONNX
// graph): decoder,max_side,path,face,x,y,w,h,confidence,l0x..l4y. For this build's JPEG
// decoder, the native detector finds the same faces: confidence within 1e-4, box and landmarks
// within 0.5 px.
void test_detect(const std::string& csv, const std::string& root) {
    const std::string decoder = uses_libjpeg() ? "libjpeg" : "stb";
    // (max_side, path) -> its faces in order, each x y w h confidence l0x..l4y
    std::vector<std::pair<std::pair<int, std::string>, std::vector<std::vector<float>>>> groups;
    for (const auto& row : csv_rows(csv)) {
        CHECK(row.size() == 19);
        if (row.size() != 19 || row[0] != decoder) continue;
        std::vector<float> e;
        for (std::size_t k = 4; k < row.size(); ++k) e.push_back(std::stof(row[k]));
        const std::pair<int, std::string> key{std::stoi(row[1]), row[2]};
        if (groups.empty() || groups.back().first != key) groups.push_back({key, {}});
        groups.back().second.push_back(e);
    }
    float worst_conf = 0, worst_px = 0;
    int faces = 0;
    for (const auto& g : groups) {
        tinyfq::DetectOptions o;
        o.max_side = g.first.first;
        const tinyfq::Detector det(o);
        const tinyfq::Image img = tinyfq::read_image(root + "/" + g.first.second);
        const std::vector<tinyfq::Face> found = det.detect(img.view());
        CHECK(found.size() == g.second.size());
        for (std::size_t i = 0; i < std::min(found.size(), g.second.size()); ++i) {
            const tinyfq::Face& a = found[i];
            const std::vector<float>& e = g.second[i];
            const float got[4] = {a.x, a.y, a.w, a.h};
            for (int k = 0; k < 4; ++k) worst_px = std::max(worst_px, std::fabs(got[k] - e[k]));
            for (int k = 0; k < 10; ++k)
                worst_px = std::max(worst_px, std::fabs(a.landmarks.xy[k] - e[5 + k]));
            worst_conf = std::max(worst_conf, std::fabs(a.confidence - e[4]));
            ++faces;
        }
    }
    std::printf(
        "detect: JPEG through %s, %zu photos x sizes, %d faces, max |confidence diff| = "
        "%.3g, max |px diff| = %.3g\n",
        tinyfq::jpeg_decoder().c_str(), groups.size(), faces, worst_conf, worst_px);
    CHECK(faces >= 7);
    CHECK(worst_conf <= 1e-4f);
    CHECK(worst_px <= 0.5f);

    // Thread safety: one detector, many threads, the serial answers.
    const tinyfq::Detector det;
    const tinyfq::Image img = tinyfq::read_image(root + "/" + groups.front().first.second);
    const std::vector<tinyfq::Face> serial = det.detect(img.view());
    std::vector<std::thread> pool;
    std::vector<int> same(4, 0);
    for (int t = 0; t < 4; ++t)
        pool.emplace_back([&, t] {
            for (int k = 0; k < 5; ++k) {
                const auto got = det.detect(img.view());
                same[t] += got.size() == serial.size() &&
                           std::memcmp(&got[0], &serial[0], sizeof(tinyfq::Face)) == 0;
            }
        });
    for (auto& t : pool) t.join();
    for (int t = 0; t < 4; ++t) CHECK(same[t] == 5);

    // No face in a uniform image; options are checked.
    std::vector<std::uint8_t> grey(200 * 150 * 3, 128);
    tinyfq::ImageView v;
    v.data = grey.data(), v.width = 200, v.height = 150, v.stride = 600;
    CHECK(det.detect(v).empty());
    tinyfq::DetectOptions bad;
    bad.max_side = 8;
    CHECK(throws<tinyfq::InvalidInput>([&] { tinyfq::Detector d(bad); }));

    // Detect then score: the largest face, warped by its landmarks.
    const tinyfq::Scorer scorer;
    const auto scored = scorer.score_faces(det, img.view());
    CHECK(scored.size() == 1);
    if (!scored.empty())
        CHECK(std::fabs(scored[0].score - scorer.score(img.view(), serial[0].landmarks)) < 1e-6f);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string what = argc > 1 ? argv[1] : "all";
    try {
        if (what == "kernels" || what == "all") test_kernels();
        if (what == "scorer" || what == "all") test_scorer();
        if (what == "decode" || what == "all") test_decode(argc > 2 ? argv[2] : "");
        if (what == "fused") {
            if (argc < 3) return std::fprintf(stderr, "fused needs MODELS_DIR\n"), 2;
            test_fused(argv[2]);
        }
        if (what == "detect") {
            if (argc < 4) return std::fprintf(stderr, "detect needs CSV and DATA_ROOT\n"), 2;
            test_detect(argv[2], argv[3]);
        }
        if (what == "golden") {
            if (argc < 4) return std::fprintf(stderr, "golden needs CSV and DATA_ROOT\n"), 2;
            test_golden(argv[2], argv[3]);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        return 1;
    }
    std::printf("%s: %s\n", what.c_str(), failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
