// tinyfq-score: score image files with the embedded default model, no Python needed.
//
//   tinyfq-score [--landmarks x1 y1 ... x5 y5] FILE...
//   tinyfq-score --detect [--detect-size N] PHOTO...
//   tinyfq-score --raw WIDTH HEIGHT FORMAT FILE...     (FORMAT: bgr rgb gray bgra rgba)
//
// Files are taken as aligned face crops (the ArcFace 112x112 template scaled to the crop),
// unless --landmarks gives the five landmarks of a full photo or --detect finds the largest
// face with the embedded YuNet detector. One CSV row per input on stdout:
// path,score,status,message (status ok, no_face or error). Exit status 1 if any input failed.
#include "tinyfq/tinyfq.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: tinyfq-score [--landmarks X1 Y1 ... X5 Y5] FILE...\n"
                 "       tinyfq-score --raw WIDTH HEIGHT FORMAT FILE...  (bgr|rgb|gray|bgra|rgba)\n"
                 "Scores aligned face crops (or a photo with --landmarks) with the embedded\n"
                 "tinyFQnet; prints path,score,status,message per input.\n");
    return 2;
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "-h" || args[0] == "--help") return usage();
    bool have_lm = false, raw = false, detect = false;
    tinyfq::DetectOptions dopt;
    tinyfq::Landmarks lm{};
    int rw = 0, rh = 0;
    tinyfq::PixelFormat rf = tinyfq::PixelFormat::BGR;
    std::size_t i = 0;
    try {
        if (args[0] == "--landmarks") {
            if (args.size() < 12) return usage();
            for (int k = 0; k < 10; ++k) lm.xy[k] = std::stof(args[1 + k]);
            have_lm = true;
            i = 11;
        } else if (args[0] == "--detect") {
            detect = true;
            i = 1;
            if (args.size() > 2 && args[1] == "--detect-size") {
                dopt.max_side = std::stoi(args[2]);
                i = 3;
            }
            if (i >= args.size()) return usage();
        } else if (args[0] == "--raw") {
            if (args.size() < 5) return usage();
            rw = std::stoi(args[1]), rh = std::stoi(args[2]),
            rf = tinyfq::parse_pixel_format(args[3]);
            raw = true;
            i = 4;
        } else if (args[0] == "--version") {
            tinyfq::Scorer s;
            std::printf("tinyfq-score: model %s, ncnn %s, cpu %s\n", s.info().version.c_str(),
                        tinyfq::ncnn_version().c_str(), tinyfq::cpu_features().c_str());
            return 0;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tinyfq-score: %s\n", e.what());
        return 2;
    }
    tinyfq::Scorer scorer;
    std::unique_ptr<tinyfq::Detector> detector;
    try {
        if (detect) detector.reset(new tinyfq::Detector(dopt));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tinyfq-score: %s\n", e.what());
        return 2;
    }
    int failed = 0;
    std::printf("path,score,status,message\n");
    for (; i < args.size(); ++i) {
        const std::string& path = args[i];
        try {
            float q;
            if (raw) {
                std::ifstream f(path, std::ios::binary);
                if (!f) throw tinyfq::FileNotFound("no such file: " + path);
                std::vector<std::uint8_t> px((std::istreambuf_iterator<char>(f)), {});
                tinyfq::ImageView v;
                v.width = rw, v.height = rh, v.format = rf;
                v.stride = std::ptrdiff_t(rw) * tinyfq::channels(rf);
                if (px.size() < std::size_t(v.stride) * rh)
                    throw tinyfq::InvalidInput("raw file has " + std::to_string(px.size()) +
                                               " bytes, expected " + std::to_string(v.stride * rh));
                v.data = px.data();
                q = scorer.score(v);
            } else if (detector) {
                const tinyfq::Image img = tinyfq::read_image(path);
                const auto faces = scorer.score_faces(*detector, img.view());
                if (faces.empty()) {
                    std::printf("%s,,no_face,no face found\n", csv_field(path).c_str());
                    std::fflush(stdout);
                    continue;
                }
                q = faces[0].score;
            } else {
                const tinyfq::Image img = tinyfq::read_image(path);
                q = have_lm ? scorer.score(img.view(), lm) : scorer.score(img.view());
            }
            std::printf("%s,%.6f,ok,\n", csv_field(path).c_str(), q);
        } catch (const std::exception& e) {
            ++failed;
            std::printf("%s,,error,%s\n", csv_field(path).c_str(), csv_field(e.what()).c_str());
        }
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}
