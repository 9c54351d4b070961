// Detector bindings, and the Scorer's detect-then-score calls. Faces cross the boundary as
// float32 rows: x, y, w, h, confidence, ten landmark coordinates (and the score).
#include "common.h"

namespace tinyfq_py {

namespace {

constexpr py::ssize_t kFaceCols = 15;

void put_face(float* row, const tinyfq::Face& f) {
    row[0] = f.x, row[1] = f.y, row[2] = f.w, row[3] = f.h, row[4] = f.confidence;
    std::copy(f.landmarks.xy, f.landmarks.xy + 10, row + 5);
}

py::array_t<float> face_rows(const std::vector<tinyfq::Face>& faces) {
    py::array_t<float> out({py::ssize_t(faces.size()), kFaceCols});
    for (std::size_t i = 0; i < faces.size(); ++i) put_face(out.mutable_data(i, 0), faces[i]);
    return out;
}

py::array_t<float> scored_rows(const std::vector<tinyfq::ScoredFace>& faces) {
    py::array_t<float> out({py::ssize_t(faces.size()), kFaceCols + 1});
    for (std::size_t i = 0; i < faces.size(); ++i) {
        put_face(out.mutable_data(i, 0), faces[i].face);
        *out.mutable_data(i, kFaceCols) = faces[i].score;
    }
    return out;
}

}  // namespace

void bind_detect(py::module_& m) {
    py::class_<tinyfq::Detector>(m, "Detector", "YuNet face detector (see tinyfq_native.Detector).")
        .def(py::init([](int max_side, float score_threshold, float nms_threshold, float min_face,
                         int top_k) {
                 tinyfq::DetectOptions o;
                 o.max_side = max_side;
                 o.score_threshold = score_threshold;
                 o.nms_threshold = nms_threshold;
                 o.min_face = min_face;
                 o.top_k = top_k;
                 return tinyfq::Detector(o);
             }),
             py::arg("max_side") = tinyfq::DetectOptions().max_side,
             py::arg("score_threshold") = tinyfq::DetectOptions().score_threshold,
             py::arg("nms_threshold") = tinyfq::DetectOptions().nms_threshold,
             py::arg("min_face") = tinyfq::DetectOptions().min_face,
             py::arg("top_k") = tinyfq::DetectOptions().top_k)
        .def_property_readonly("max_side",
                               [](const tinyfq::Detector& d) { return d.options().max_side; })
        .def_property_readonly(
            "score_threshold",
            [](const tinyfq::Detector& d) { return d.options().score_threshold; })
        .def_property_readonly("nms_threshold",
                               [](const tinyfq::Detector& d) { return d.options().nms_threshold; })
        .def_property_readonly("min_face",
                               [](const tinyfq::Detector& d) { return d.options().min_face; })
        .def_property_readonly("top_k", [](const tinyfq::Detector& d) { return d.options().top_k; })
        .def(
            "detect",
            [](const tinyfq::Detector& d, py::array image, const std::string& format) {
                const tinyfq::ImageView v = image_view(image, format, "image");
                std::vector<tinyfq::Face> faces;
                {
                    py::gil_scoped_release nogil;
                    faces = d.detect(v);
                }
                return face_rows(faces);
            },
            py::arg("image"), py::arg("format") = "bgr",
            "Faces as rows (x, y, w, h, confidence, 10 landmark coordinates), largest first.")
        .def(
            "prepare",
            [](const tinyfq::Detector& d, py::array image, const std::string& format) {
                const tinyfq::ImageView v = image_view(image, format, "image");
                tinyfq::DetectorInput in;
                {
                    py::gil_scoped_release nogil;
                    in = d.prepare(v);
                }
                py::array_t<float> t(
                    {py::ssize_t(3), py::ssize_t(in.height), py::ssize_t(in.width)});
                std::copy(in.chw.begin(), in.chw.end(), t.mutable_data());
                return py::make_tuple(t, in.scale_x, in.scale_y);
            },
            py::arg("image"), py::arg("format") = "bgr",
            "(network input (3, H, W) float32 BGR 0-255, scale_x, scale_y).")
        .def(
            "detect_prepared",
            [](const tinyfq::Detector& d,
               py::array_t<float, py::array::c_style | py::array::forcecast> t, float sx,
               float sy) {
                if (t.ndim() != 3 || t.shape(0) != 3)
                    throw py::value_error("input must have shape (3, H, W), got " + shape_of(t));
                const float* chw = t.data();
                const int h = int(t.shape(1)), w = int(t.shape(2));
                std::vector<tinyfq::Face> faces;
                {
                    py::gil_scoped_release nogil;  // t (held by the caller) is read in place
                    faces = d.detect_prepared(chw, w, h, sx, sy);
                }
                return face_rows(faces);
            },
            py::arg("tensor"), py::arg("scale_x") = 1.f, py::arg("scale_y") = 1.f);
}

// Scorer methods that take a Detector (registered on the Scorer class by bind_scorer).
void bind_scorer_faces(py::class_<tinyfq::Scorer>& cls) {
    cls.def(
           "score_faces",
           [](const tinyfq::Scorer& s, const tinyfq::Detector& d, py::sequence images,
              bool all_faces, int workers, const std::string& format) {
               const std::size_t n = images.size();
               std::vector<py::array> keep;
               const std::vector<tinyfq::ImageView> views = image_views(images, format, keep);
               std::vector<std::vector<tinyfq::ScoredFace>> out(n);
               {
                   py::gil_scoped_release nogil;
                   s.score_batch_faces(d, views.data(), n, out.data(), all_faces, workers);
               }
               py::list rows;
               for (const auto& f : out) rows.append(scored_rows(f));
               return rows;
           },
           py::arg("detector"), py::arg("images"), py::arg("all_faces") = false,
           py::arg("workers") = 0, py::arg("format") = "bgr",
           "Detect and score: per image an (k, 16) float32 array of face rows + score.")
        .def(
            "score_files_faces",
            [](const tinyfq::Scorer& s, const tinyfq::Detector& d, std::vector<std::string> paths,
               bool all_faces, int workers, std::int64_t max_pixels) {
                const std::size_t n = paths.size();
                std::vector<std::vector<tinyfq::ScoredFace>> faces(n);
                std::vector<std::string> errors(n);
                std::vector<tinyfq::Status> status(n);
                {
                    py::gil_scoped_release nogil;
                    s.score_files_faces(d, paths.data(), n, faces.data(), errors.data(),
                                        status.data(), all_faces, workers, max_pixels);
                }
                py::list rows, messages;  // messages as bytes: they may quote a non-UTF-8 path
                for (const auto& f : faces) rows.append(scored_rows(f));
                for (const std::string& e : errors) messages.append(py::bytes(e));
                return py::make_tuple(rows, messages, status);
            },
            py::arg("detector"), py::arg("paths"), py::arg("all_faces") = false,
            py::arg("workers") = 0, py::arg("max_pixels") = tinyfq::kDefaultMaxPixels,
            "Decode, detect and score files (paths as str or file-system bytes); returns "
            "(per-file (k, 16) face rows, error messages as bytes, statuses). Never raises "
            "for a bad file.");
}

}  // namespace tinyfq_py
