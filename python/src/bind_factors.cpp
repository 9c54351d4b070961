// Quality factor bindings (tinyfq/tinyfq.h: Factors). Arguments are checked with the GIL
// held; the work runs without it.
#include "common.h"

#include <cmath>
#include <limits>

namespace tinyfq_py {

namespace {

// The factors in the order every output lists them (tinyfq_native.factors.NAMES).
constexpr const char* kNames[] = {"face_width", "face_height", "eye_distance", "yaw",
                                  "pitch",      "roll",        "sharpness",    "exposure",
                                  "shadows",    "highlights",  "contrast",     "confidence"};
constexpr int kCount = int(sizeof(kNames) / sizeof(kNames[0]));

void put(float* row, const tinyfq::Factors& f) {
    const float v[kCount] = {f.face_width, f.face_height, f.eye_distance, f.yaw,
                             f.pitch,      f.roll,        f.sharpness,    f.exposure,
                             f.shadows,    f.highlights,  f.contrast,     f.confidence};
    std::copy(v, v + kCount, row);
}

py::dict as_dict(const tinyfq::Factors& f) {
    float v[kCount];
    put(v, f);
    py::dict d;
    for (int i = 0; i < kCount; ++i) d[kNames[i]] = double(v[i]);
    return d;
}

// One file's faces: (k, 16 + 12) float32 rows: x, y, w, h, confidence, ten landmark
// coordinates, the score, then the factors in kNames' order.
py::array_t<float> rows_of(const std::vector<tinyfq::ScoredFace>& faces,
                           const std::vector<tinyfq::Factors>& factors) {
    const py::ssize_t k = py::ssize_t(faces.size()), w = 16 + kCount;
    py::array_t<float> out({k, w});
    float* p = out.mutable_data();
    for (py::ssize_t i = 0; i < k; ++i, p += w) {
        const tinyfq::Face& f = faces[i].face;
        p[0] = f.x, p[1] = f.y, p[2] = f.w, p[3] = f.h, p[4] = f.confidence;
        std::copy(f.landmarks.xy, f.landmarks.xy + 10, p + 5);
        p[15] = faces[i].score;
        put(p + 16, factors[i]);
    }
    return out;
}

}  // namespace

void bind_factors(py::module_& m) {
    m.def(
        "factor_names",
        []() {
            py::list names;
            for (const char* n : kNames) names.append(n);
            return names;
        },
        "The factors' names, in the order of score_files_factors' columns.");
    m.def(
        "factors",
        [](py::array image, py::object landmarks, const std::string& format, py::object box,
           float confidence) {
            const tinyfq::ImageView v = image_view(image, format, "image");
            const bool warp = !landmarks.is_none();
            tinyfq::Landmarks lm{};
            if (warp) lm = landmarks_from(landmarks, "landmarks");
            if (!box.is_none() && !warp) throw py::value_error("a box needs the face's landmarks");
            tinyfq::Face face;
            const bool have_face = !box.is_none();
            if (have_face) {
                const auto b = box.cast<std::vector<float>>();
                if (b.size() != 4)
                    throw py::value_error("box must be (x, y, w, h), got " +
                                          std::to_string(b.size()) + " numbers");
                face.x = b[0], face.y = b[1], face.w = b[2], face.h = b[3];
                face.confidence = confidence;
                face.landmarks = lm;
            }
            tinyfq::Factors f;
            {
                py::gil_scoped_release nogil;
                f = warp ? tinyfq::face_factors(v, lm, have_face ? &face : nullptr)
                         : tinyfq::crop_factors(v);
            }
            return as_dict(f);
        },
        py::arg("image"), py::arg("landmarks") = py::none(), py::arg("format") = "bgr",
        py::arg("box") = py::none(), py::arg("confidence") = std::nanf(""),
        "The quality factors of an aligned crop (no landmarks) or of the face with these "
        "landmarks in a photo (box and confidence: its detection, when it has one), as a "
        "dict name -> float (NaN where the input does not give one).");
    m.def(
        "score_files_factors",
        [](const tinyfq::Scorer& s, std::vector<std::string> paths, py::object landmarks,
           const tinyfq::Detector* detector, bool all_faces, int workers, std::int64_t max_pixels) {
            const std::size_t n = paths.size();
            std::vector<tinyfq::Landmarks> lms;
            if (!landmarks.is_none()) {
                if (detector) throw py::value_error("pass landmarks or a detector, not both");
                auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(
                    landmarks);
                if (!a || a.ndim() != 3 || a.shape(0) != py::ssize_t(n) || a.shape(1) != 5 ||
                    a.shape(2) != 2)
                    throw py::value_error("landmarks must have shape (" + std::to_string(n) +
                                          ", 5, 2), got " + shape_of(py::array(landmarks)));
                lms.resize(n);
                for (std::size_t i = 0; i < n; ++i)
                    std::copy(a.data(i, 0, 0), a.data(i, 0, 0) + 10, lms[i].xy);
            }
            std::vector<std::vector<tinyfq::ScoredFace>> faces(n);
            std::vector<std::vector<tinyfq::Factors>> factors(n);
            std::vector<std::string> errors(n);
            std::vector<tinyfq::Status> status(n);
            {
                py::gil_scoped_release nogil;
                tinyfq::score_files_factors(
                    s, detector, paths.data(), lms.empty() ? nullptr : lms.data(), n, faces.data(),
                    factors.data(), errors.data(), status.data(), all_faces, workers, max_pixels);
            }
            py::list rows, messages;  // messages as bytes: they may quote a non-UTF-8 path
            for (std::size_t i = 0; i < n; ++i) rows.append(rows_of(faces[i], factors[i]));
            for (const std::string& e : errors) messages.append(py::bytes(e));
            return py::make_tuple(rows, messages, status);
        },
        py::arg("scorer"), py::arg("paths"), py::arg("landmarks") = py::none(),
        py::arg("detector") = py::none(), py::arg("all_faces") = false, py::arg("workers") = 0,
        py::arg("max_pixels") = tinyfq::kDefaultMaxPixels,
        "Decode files once and score them (crops, photos with (N, 5, 2) landmarks, or with a "
        "detector its faces), each face with its factors: per file a (k, 28) float32 array "
        "(x, y, w, h, confidence, 10 landmark coordinates, score, then factor_names()' "
        "factors), error messages as bytes, statuses. Never raises for a bad file.");
}

}  // namespace tinyfq_py
