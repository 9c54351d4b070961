// Quality factors: measurable properties of a face that explain a score, computed from the
// photo and the face's five landmarks (and its detection, when there is one). Definitions, and
// the OFIQ (ISO/IEC 29794-5) measures each follows, are in docs/actionable.md.
//
// Everything that looks at pixels reads one small grey image: the face region of the aligned
// crop at 64x64 (the ArcFace 112 template scaled to 64, the resolution the default model
// sees), sampled bilinearly straight from the photo. The region is the inner face, brows to
// chin and outer eye corner to outer eye corner: template pixels x in [14, 50), y in [20, 60),
// 1,440 samples, read with a one-pixel border for the Laplacian. Samples that fall outside the
// photo are left out of every statistic.
#include "internal.h"
#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

namespace tinyfq {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;

// The ArcFace/insightface five-point template on its 112x112 crop (pixel centres at integers).
constexpr float kTemplate112[10] = {38.2946f, 51.6963f, 73.5318f, 51.5014f, 56.0252f,
                                    71.7366f, 41.5493f, 92.3655f, 70.7299f, 92.2041f};
constexpr int kCrop = 64;                       // the aligned crop the pixel factors read
constexpr int kX0 = 14, kX1 = 50;               // face region in its pixels: x in [kX0, kX1)
constexpr int kY0 = 20, kY1 = 60;               //                            y in [kY0, kY1)
constexpr int kW = kX1 - kX0 + 2;               // samples per row, with a one-pixel border
constexpr int kH = kY1 - kY0 + 2;               // rows, with the border
constexpr float kShadow = 5.f, kLight = 250.f;  // clipped: luminance <= 5 or >= 250
// The geometric head model of the pose angles: the nose tip stands this many (frontal)
// inter-eye distances in front of the plane of the eyes and mouth corners (about 25 mm for a
// 63 mm inter-pupillary distance; the OpenCV generic head model puts its nose tip 25-27 mm in
// front of its eye and mouth corners).
constexpr double kNoseDepth = 0.4;

// A template landmark on a crop of size w x h (the resize convention: o -> (o + 0.5) * s - 0.5).
float template_at(int i, int size) { return (kTemplate112[i] + 0.5f) * float(size) / 112.f - 0.5f; }

// Roll, yaw and pitch measures of five points, before calibration: the eye line's angle
// (radians), and in the frame turned so that the eye line is level, with its origin at the eye
// midpoint, (a) the nose's horizontal offset from the line joining the eye and mouth midpoints,
// over the eye distance, and (b) the nose's height between the eye line (0) and the mouth
// line (1).
struct PoseMeasures {
    double roll, offset, height;
};

PoseMeasures pose_measures(const float* p) {
    const double lx = p[0], ly = p[1], rx = p[2], ry = p[3];
    const double ex = 0.5 * (lx + rx), ey = 0.5 * (ly + ry);
    const double roll = std::atan2(ry - ly, rx - lx);
    const double c = std::cos(roll), s = std::sin(roll);
    auto level = [&](double x, double y) {  // rotate by -roll about the eye midpoint
        const double dx = x - ex, dy = y - ey;
        return std::make_pair(c * dx + s * dy, -s * dx + c * dy);
    };
    const auto nose = level(p[4], p[5]);
    const auto mouth = level(0.5 * (p[6] + p[8]), 0.5 * (p[7] + p[9]));
    const double eyes = std::hypot(rx - lx, ry - ly);
    PoseMeasures m{roll, std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::quiet_NaN()};
    if (!(eyes > 0) || !(mouth.second > 0)) return m;  // no face geometry: no yaw or pitch
    const double midline = mouth.first * nose.second / mouth.second;  // midline x at the nose
    m.offset = (nose.first - midline) / eyes;
    m.height = nose.second / mouth.second;
    return m;
}

// The template's own measures: what a frontal, level face gives (calibration to 0/0/0).
const PoseMeasures& template_measures() {
    static const PoseMeasures m = pose_measures(kTemplate112);
    return m;
}

double degrees(double radians) { return radians * 180.0 / kPi; }

// Yaw, pitch and roll (degrees) from five landmarks under a weak-perspective view of the head
// model: turning the head by yaw y moves the nose sideways by depth * sin(y) while the eye
// distance shrinks by cos(y), so the offset grows by (depth / eye distance) * tan(y); tilting it
// by pitch p moves the nose up by depth * sin(p) while the eye-to-mouth height shrinks by
// cos(p), so the height falls by (depth / eye-to-mouth height) * tan(p). Eyes and mouth corners
// are taken to lie in one plane.
void pose(const float* p, Factors& f) {
    const PoseMeasures& t = template_measures();
    const PoseMeasures m = pose_measures(p);
    // the template's eye-to-mouth height in eye distances
    const double h =
        std::hypot(
            0.5 * (kTemplate112[6] + kTemplate112[8]) - 0.5 * (kTemplate112[0] + kTemplate112[2]),
            0.5 * (kTemplate112[7] + kTemplate112[9]) - 0.5 * (kTemplate112[1] + kTemplate112[3])) /
        std::hypot(kTemplate112[2] - kTemplate112[0], kTemplate112[3] - kTemplate112[1]);
    double roll = degrees(m.roll - t.roll);
    if (roll > 180) roll -= 360;
    if (roll <= -180) roll += 360;
    f.roll = float(roll);
    f.yaw = float(degrees(std::atan((m.offset - t.offset) / kNoseDepth)));
    f.pitch = float(degrees(std::atan((t.height - m.height) * h / kNoseDepth)));
}

// Luminance (BT.601 luma, 0-255) of the bilinear sample at (x, y), or NaN outside the photo.
// Each pixel's luma in 8.8 fixed point (77 R + 150 G + 29 B, weights summing to 256), the
// four interpolated in float.
struct Sampler {
    const ImageView& img;
    int ch, ri, gi, bi;

    explicit Sampler(const ImageView& v) : img(v), ch(channels(v.format)) {
        ri = gi = bi = 0;
        if (v.format == PixelFormat::BGR || v.format == PixelFormat::BGRA) bi = 0, gi = 1, ri = 2;
        if (v.format == PixelFormat::RGB || v.format == PixelFormat::RGBA) ri = 0, gi = 1, bi = 2;
    }
    int luma(const std::uint8_t* px) const { return 77 * px[ri] + 150 * px[gi] + 29 * px[bi]; }
    float operator()(double x, double y) const {
        if (!(x >= 0 && y >= 0 && x <= img.width - 1 && y <= img.height - 1)) return kNaN;
        const int x0 = std::min(int(x), img.width - 1), y0 = std::min(int(y), img.height - 1);
        const int x1 = std::min(x0 + 1, img.width - 1), y1 = std::min(y0 + 1, img.height - 1);
        const float fx = float(x - x0), fy = float(y - y0);
        const std::uint8_t* r0 = img.data + std::ptrdiff_t(y0) * img.stride;
        const std::uint8_t* r1 = img.data + std::ptrdiff_t(y1) * img.stride;
        const float a = float(luma(r0 + x0 * ch)), b = float(luma(r0 + x1 * ch));
        const float c = float(luma(r1 + x0 * ch)), d = float(luma(r1 + x1 * ch));
        const float top = a + fx * (b - a), bottom = c + fx * (d - c);
        return (top + fy * (bottom - top)) * (1.f / 256.f);
    }
};

// The pixel factors of the face region, the crop's pixel (u, v) read at photo pixel
// (m[0] u + m[1] v + m[2], m[3] u + m[4] v + m[5]).
void pixel_factors(const ImageView& img, const double m[6], Factors& f) {
    const Sampler sample(img);
    float g[kH][kW];
    for (int r = 0; r < kH; ++r) {
        const double v = kY0 - 1 + r;
        for (int c = 0; c < kW; ++c) {
            const double u = kX0 - 1 + c;
            g[r][c] = sample(m[0] * u + m[1] * v + m[2], m[3] * u + m[4] * v + m[5]);
        }
    }
    double sum = 0, sum2 = 0, lsum = 0, lsum2 = 0;
    int n = 0, nl = 0, dark = 0, light = 0;
    for (int r = 1; r < kH - 1; ++r) {
        for (int c = 1; c < kW - 1; ++c) {
            const float y = g[r][c];
            if (std::isnan(y)) continue;
            ++n, sum += y, sum2 += double(y) * y;
            dark += y <= kShadow, light += y >= kLight;
            const float lap = g[r - 1][c] + g[r + 1][c] + g[r][c - 1] + g[r][c + 1] - 4.f * y;
            if (std::isnan(lap)) continue;
            ++nl, lsum += lap, lsum2 += double(lap) * lap;
        }
    }
    constexpr int kRegion = (kX1 - kX0) * (kY1 - kY0);
    if (4 * n < kRegion) return;  // under a quarter of the region in the photo: NaN
    const double mean = sum / n, var = std::max(0.0, sum2 / n - mean * mean);
    f.exposure = float(mean);
    f.shadows = float(dark) / float(n);
    f.highlights = float(light) / float(n);
    f.contrast = float(std::sqrt(var) / 255.0);
    if (4 * nl >= kRegion) {
        const double lmean = lsum / nl, lvar = std::max(0.0, lsum2 / nl - lmean * lmean);
        // over the luminance variance (+1 grey level squared: a flat region is not sharp), so
        // that a gain (darker, brighter, flatter light) leaves it as it was
        f.sharpness = float(lvar / (var + 1.0));
    }
}

Factors empty_factors() {
    Factors f;
    f.face_width = f.face_height = f.eye_distance = kNaN;
    f.yaw = f.pitch = f.roll = kNaN;
    f.sharpness = f.exposure = f.shadows = f.highlights = f.contrast = kNaN;
    f.confidence = kNaN;
    return f;
}

}  // namespace

Factors crop_factors(const ImageView& crop) {
    detail::check_view(crop);
    Factors f = empty_factors();
    f.face_width = float(crop.width), f.face_height = float(crop.height);
    const float ex = template_at(2, crop.width) - template_at(0, crop.width);
    const float ey = template_at(3, crop.height) - template_at(1, crop.height);
    f.eye_distance = std::hypot(ex, ey);
    // crop pixel (u, v) of the 64 crop -> the crop's pixel, as preprocess_crop resizes
    const double sx = double(crop.width) / kCrop, sy = double(crop.height) / kCrop;
    const double m[6] = {sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5};
    pixel_factors(crop, m, f);
    return f;
}

Factors face_factors(const ImageView& image, const Landmarks& lm, const Face* face) {
    detail::check_view(image);
    Factors f = empty_factors();
    float tpl[10];
    for (int i = 0; i < 10; ++i) tpl[i] = template_at(i, kCrop);
    float fwd[6];  // image -> 64 crop
    estimate_similarity(lm.xy, tpl, 5, fwd);
    const double a = fwd[0], b = fwd[3], d = a * a + b * b;
    if (!(d > 1e-12)) throw InvalidInput("landmarks give a zero-scale alignment");
    double m[6];  // 64 crop -> image: [a -b; b a]^-1 = [a b; -b a] / d
    m[0] = a / d, m[1] = b / d, m[3] = -b / d, m[4] = a / d;
    m[2] = -(m[0] * fwd[2] + m[1] * fwd[5]);
    m[5] = -(m[3] * fwd[2] + m[4] * fwd[5]);
    if (face) {
        f.face_width = face->w, f.face_height = face->h, f.confidence = face->confidence;
    } else {  // the square the aligned 112 crop covers: 112 template pixels at this scale
        f.face_width = f.face_height = float(kCrop / std::sqrt(d));  // 64 crop px = 112 tpl px
    }
    f.eye_distance = std::hypot(lm.xy[2] - lm.xy[0], lm.xy[3] - lm.xy[1]);
    pose(lm.xy, f);
    pixel_factors(image, m, f);
    return f;
}

void score_files_factors(const Scorer& scorer, const Detector* detector, const std::string* paths,
                         const Landmarks* landmarks, std::size_t n, std::vector<ScoredFace>* faces,
                         std::vector<Factors>* factors, std::string* errors, Status* status,
                         bool all_faces, int workers, std::int64_t max_pixels) {
    detail::for_each_file(
        n, detail::resolve_workers(workers, scorer.options()), errors, status,
        [&](std::size_t i) { faces[i].clear(), factors[i].clear(); },
        [&](std::size_t i) {
            const Image img =
                read_image(paths[i], detail::file_decode(max_pixels, scorer.options()));
            const ImageView v = img.view();
            if (detector) {
                faces[i] = scorer.score_faces(*detector, v, all_faces);
                if (faces[i].empty()) status[i] = Status::no_face, errors[i] = "no face found";
                for (const ScoredFace& s : faces[i])
                    factors[i].push_back(face_factors(v, s.face.landmarks, &s.face));
            } else {
                ScoredFace s;
                s.face.x = s.face.y = s.face.w = s.face.h = s.face.confidence = kNaN;
                if (landmarks) {
                    s.face.landmarks = landmarks[i];
                    s.score = scorer.score(v, landmarks[i]);
                    factors[i].push_back(face_factors(v, landmarks[i]));
                } else {
                    for (int k = 0; k < 10; ++k)
                        s.face.landmarks.xy[k] = template_at(k, k % 2 ? v.height : v.width);
                    s.score = scorer.score(v);
                    factors[i].push_back(crop_factors(v));
                }
                faces[i].push_back(s);
            }
        });
}

}  // namespace tinyfq
