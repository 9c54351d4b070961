// C++ test suite "kernels" (ctest kernels). Shared harness: check.h.
#include "check.h"
#include "preprocess.h"

namespace {
using namespace tinyfq_test;

// Every fast preprocessing set this CPU runs gives the baseline's numbers exactly (the AVX2 set
// does the baseline's arithmetic, operation for operation), crops and warps alike.
void test_kernel_sets(const tinyfq::ModelInfo& info, std::mt19937& rng) {
    namespace td = tinyfq::detail;
    const std::vector<const td::PreprocessKernels*> sets = td::fast_preprocess_kernel_sets();
    CHECK(!sets.empty() && std::string(sets[0]->name) == "baseline");
    const int S = info.input_size;
    const tinyfq::PixelFormat formats[] = {tinyfq::PixelFormat::BGR, tinyfq::PixelFormat::GRAY,
                                           tinyfq::PixelFormat::RGBA};
    bool same = true;
    for (auto f : formats)
        for (int w : {9, 64, 131}) {
            const int h = w + 5, ch = tinyfq::channels(f), stride = w * ch + 3;
            std::vector<std::uint8_t> buf(std::size_t(stride) * h);
            for (auto& b : buf) b = std::uint8_t(rng());
            const tinyfq::ImageView v{buf.data(), w, h, stride, f};
            tinyfq::Landmarks lm;
            const float base[10] = {-18, -10, 18, -10, 0, 8, -14, 22, 14, 22};
            for (int k = 0; k < 10; ++k)  // a face larger than the image: some pixels outside
                lm.xy[k] = (k % 2 ? h : w) * 0.5f + base[k] * w / 60.f + 0.3f * k;
            std::vector<float> want(3 * S * S), got(3 * S * S);
            for (int warp = 0; warp < 2; ++warp)
                for (const td::PreprocessKernels* k : sets) {
                    std::vector<float>& dst = k == sets[0] ? want : got;
                    if (warp)
                        td::warp_with(*k, v, lm, info, dst.data());
                    else
                        td::crop_with(*k, v, info, dst.data());
                    if (k != sets[0]) same &= got == want;
                }
        }
    for (const td::PreprocessKernels* k : sets) std::printf("kernels: set %s\n", k->name);
    CHECK(same);
    CHECK(std::string(td::preprocess_kernels().name) == sets.back()->name ||
          std::string(td::preprocess_kernels().name) == "reference");
}

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
    test_kernel_sets(info, rng);

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

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("kernels", argc, argv, 0, "", [](char**) { test_kernels(); });
}
