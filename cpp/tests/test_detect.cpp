// C++ test suite "detect" (ctest detect). Shared harness: check.h.
#include "check.h"

namespace {
using namespace tinyfq_test;

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
    return tinyfq_test::run_suite("detect", argc, argv, 2, "DETECT_CSV DATA_ROOT",
                                  [](char** a) { test_detect(a[0], a[1]); });
}
