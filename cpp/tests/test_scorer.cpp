// C++ test suite "scorer" (ctest scorer). Shared harness: check.h.
#include "check.h"

namespace {
using namespace tinyfq_test;

void test_scorer() {
    // one parser of pixel-format names for the bindings and tinyfq-score
    using PF = tinyfq::PixelFormat;
    CHECK(tinyfq::parse_pixel_format("BGR") == PF::BGR);
    CHECK(tinyfq::parse_pixel_format("rgba") == PF::RGBA);
    CHECK(tinyfq::parse_pixel_format("gray") == PF::GRAY);
    CHECK(tinyfq::parse_pixel_format("bgr", 4) == PF::BGRA);
    CHECK(tinyfq::parse_pixel_format("rgba", 3) == PF::RGB);
    CHECK(tinyfq::parse_pixel_format("rgb", 1) == PF::GRAY);
    CHECK(throws<tinyfq::InvalidInput>([] { tinyfq::parse_pixel_format("yuv"); }));
    CHECK(throws<tinyfq::InvalidInput>([] { tinyfq::parse_pixel_format("gray", 3); }));
    CHECK(throws<tinyfq::InvalidInput>([] { tinyfq::parse_pixel_format("bgr", 2); }));
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

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("scorer", argc, argv, 0, "", [](char**) { test_scorer(); });
}
