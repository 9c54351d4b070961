// C++ test suite "golden" (ctest golden). Shared harness: check.h.
#include "check.h"

namespace {
using namespace tinyfq_test;

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

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("golden", argc, argv, 2, "GOLDEN_CSV DATA_ROOT",
                                  [](char** a) { test_golden(a[0], a[1]); });
}
