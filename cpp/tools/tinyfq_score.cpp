// tinyfq-score: score image files with the embedded default model, no Python needed.
//
//   tinyfq-score [--landmarks x1 y1 ... x5 y5] FILE...
//   tinyfq-score --detect [--detect-size N] PHOTO...
//   tinyfq-score --raw WIDTH HEIGHT FORMAT FILE...     (FORMAT: bgr rgb gray bgra rgba)
//
// Files are taken as aligned face crops (the ArcFace 112x112 template scaled to the crop),
// unless --landmarks gives the five landmarks of a full photo or --detect finds the largest
// face with the embedded YuNet detector. One CSV row per input on stdout:
// path,score,status,message, the status named as every output of the project names it (ok,
// missing, invalid, unsupported, no_face; tinyfq::status_name). Exit status 1 if any input
// failed (a photo without a face is not a failure).
#include "tinyfq/tinyfq.h"

#include <algorithm>
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
    auto row = [&](const std::string& path, float q, tinyfq::Status st, const std::string& msg) {
        if (st == tinyfq::Status::ok)
            std::printf("%s,%.6f,ok,\n", csv_field(path).c_str(), q);
        else
            std::printf("%s,,%s,%s\n", csv_field(path).c_str(), tinyfq::status_name(st),
                        csv_field(msg).c_str());
        failed += st != tinyfq::Status::ok && st != tinyfq::Status::no_face;
    };
    if (raw) {
        for (; i < args.size(); ++i) {
            const std::string& path = args[i];
            try {
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
                row(path, scorer.score(v), tinyfq::Status::ok, "");
            } catch (const tinyfq::FileNotFound& e) {
                row(path, 0.f, tinyfq::Status::missing, e.what());
            } catch (const std::exception& e) {
                row(path, 0.f, tinyfq::Status::invalid, e.what());
            }
            std::fflush(stdout);
        }
        return failed ? 1 : 0;
    }
    // Files: the scorer's batch calls (in parallel), a chunk at a time so that rows come out
    // as they are done.
    constexpr std::size_t kChunk = 64;
    for (; i < args.size(); i += std::min(kChunk, args.size() - i)) {
        const std::size_t n = std::min(kChunk, args.size() - i);
        const std::string* paths = args.data() + i;
        std::vector<std::string> errors(n);
        std::vector<tinyfq::Status> status(n);
        std::vector<float> q(n);
        try {  // (a bad file is a row; only running out of memory alone throws)
            if (detector) {
                std::vector<std::vector<tinyfq::ScoredFace>> faces(n);
                scorer.score_files_faces(*detector, paths, n, faces.data(), errors.data(),
                                         status.data());
                for (std::size_t k = 0; k < n; ++k)
                    if (!faces[k].empty()) q[k] = faces[k][0].score;
            } else {
                const std::vector<tinyfq::Landmarks> lms(have_lm ? n : 0, lm);
                scorer.score_files(paths, have_lm ? lms.data() : nullptr, n, q.data(),
                                   errors.data(), status.data());
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tinyfq-score: %s\n", e.what());
            return 2;
        }
        for (std::size_t k = 0; k < n; ++k) row(paths[k], q[k], status[k], errors[k]);
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}
