// Scorer bindings. Every argument is checked with the GIL held; the work runs without it and
// touches no Python object.
#include "common.h"

#include <fstream>
#include <sstream>

namespace tinyfq_py {

namespace {

tinyfq::Options make_options(bool fp16, int workers, bool reduced_decode, bool exif_orientation) {
    tinyfq::Options o;
    o.fp16 = fp16;
    o.workers = workers;
    o.reduced_decode = reduced_decode;
    o.exif_orientation = exif_orientation;
    return o;
}

std::vector<tinyfq::Landmarks> landmark_list(const py::object& obj, std::size_t n) {
    std::vector<tinyfq::Landmarks> out;
    if (obj.is_none()) return out;
    if (py::isinstance<py::array>(obj)) {
        const char kind = py::reinterpret_borrow<py::array>(obj).dtype().kind();
        if (kind != 'f' && kind != 'i' && kind != 'u')
            throw py::value_error(
                "landmarks must hold real numbers, got dtype " +
                std::string(py::str(py::reinterpret_borrow<py::array>(obj).dtype())));
        auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(obj);
        if (!a || a.ndim() != 3 || a.shape(0) != py::ssize_t(n) || a.shape(1) != 5 ||
            a.shape(2) != 2)
            throw py::value_error("landmarks must have shape (" + std::to_string(n) +
                                  ", 5, 2), got " + shape_of(py::array(obj)));
        out.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            std::copy(a.data(i, 0, 0), a.data(i, 0, 0) + 10, out[i].xy);
        return out;
    }
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    if (seq.size() != n)
        throw py::value_error("got " + std::to_string(seq.size()) + " landmark sets for " +
                              std::to_string(n) + " images");
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(landmarks_from(seq[i], ("landmarks[" + std::to_string(i) + "]").c_str()));
    return out;
}

}  // namespace

void bind_scorer_faces(py::class_<tinyfq::Scorer>& cls);

void bind_scorer(py::module_& m) {
    py::class_<tinyfq::Scorer> cls(m, "Scorer", "tinyFQnet scorer (see tinyfq_native.Scorer).");
    bind_scorer_faces(cls);
    cls.def(
           py::init([](bool fp16, int workers, bool reduced_decode, bool exif_orientation) {
               return tinyfq::Scorer(make_options(fp16, workers, reduced_decode, exif_orientation));
           }),
           py::arg("fp16") = false, py::arg("workers") = 0, py::arg("reduced_decode") = false,
           py::arg("exif_orientation") = true, "The default model embedded in the library.")
        .def(py::init([](const std::string& param, const std::string& bin, const std::string& json,
                         bool fp16, int workers, bool reduced_decode, bool exif_orientation) {
                 return tinyfq::Scorer(
                     param, bin, json,
                     make_options(fp16, workers, reduced_decode, exif_orientation));
             }),
             py::arg("param"), py::arg("bin"), py::arg("json"), py::arg("fp16") = false,
             py::arg("workers") = 0, py::arg("reduced_decode") = false,
             py::arg("exif_orientation") = true,
             "A model from .ncnn.param, .ncnn.bin and .json files.")
        .def_static(
            "from_memory",
            [](const std::string& param, py::bytes bin, const std::string& json, bool fp16,
               int workers, bool reduced_decode, bool exif_orientation) {
                const std::string b = bin;
                return tinyfq::Scorer::from_memory(
                    param, reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), json,
                    make_options(fp16, workers, reduced_decode, exif_orientation));
            },
            py::arg("param"), py::arg("bin"), py::arg("json"), py::arg("fp16") = false,
            py::arg("workers") = 0, py::arg("reduced_decode") = false,
            py::arg("exif_orientation") = true)
        .def_property_readonly("model_json", [](const tinyfq::Scorer& s) { return s.info().json; })
        .def_property_readonly("input_size",
                               [](const tinyfq::Scorer& s) { return s.info().input_size; })
        .def_property_readonly(
            "reduced_decode", [](const tinyfq::Scorer& s) { return s.options().reduced_decode; },
            "Whether score_files decodes JPEGs at reduced resolution.")
        .def_property_readonly(
            "exif_orientation",
            [](const tinyfq::Scorer& s) { return s.options().exif_orientation; },
            "Whether the file methods decode photos upright as their EXIF Orientation says.")
        .def(
            "score",
            [](const tinyfq::Scorer& s, py::array image, py::object landmarks,
               const std::string& format) {
                const tinyfq::ImageView v = image_view(image, format, "image");
                const bool warp = !landmarks.is_none();
                tinyfq::Landmarks lm{};
                if (warp) lm = landmarks_from(landmarks, "landmarks");
                py::gil_scoped_release nogil;
                return warp ? s.score(v, lm) : s.score(v);
            },
            py::arg("image"), py::arg("landmarks") = py::none(), py::arg("format") = "bgr")
        .def(
            "preprocess",
            [](const tinyfq::Scorer& s, py::array image, py::object landmarks,
               const std::string& format, bool reference) {
                return preprocess_into(s.info(), image, landmarks, format, reference);
            },
            py::arg("image"), py::arg("landmarks") = py::none(), py::arg("format") = "bgr",
            py::arg("reference") = false,
            "The normalised (3, S, S) float32 input this scorer feeds its model.")
        .def(
            "score_batch",
            [](const tinyfq::Scorer& s, py::sequence images, py::object landmarks, int workers,
               const std::string& format) {
                const std::size_t n = images.size();
                std::vector<py::array> keep;
                const std::vector<tinyfq::ImageView> views = image_views(images, format, keep);
                const std::vector<tinyfq::Landmarks> lms = landmark_list(landmarks, n);
                py::array_t<float> out{py::ssize_t(n)};
                float* dst = out.mutable_data();
                {
                    py::gil_scoped_release nogil;
                    s.score_batch(views.data(), lms.empty() ? nullptr : lms.data(), n, dst,
                                  workers);
                }
                return out;
            },
            py::arg("images"), py::arg("landmarks") = py::none(), py::arg("workers") = 0,
            py::arg("format") = "bgr")
        .def(
            "score_files",
            [](const tinyfq::Scorer& s, std::vector<std::string> paths, py::object landmarks,
               int workers, std::int64_t max_pixels) {
                const std::size_t n = paths.size();
                const std::vector<tinyfq::Landmarks> lms = landmark_list(landmarks, n);
                py::array_t<float> out{py::ssize_t(n)};
                float* dst = out.mutable_data();
                std::vector<std::string> errors(n);
                std::vector<tinyfq::Status> status(n);
                {
                    py::gil_scoped_release nogil;
                    s.score_files(paths.data(), lms.empty() ? nullptr : lms.data(), n, dst,
                                  errors.data(), status.data(), workers, max_pixels);
                }
                py::list messages;  // bytes: a message may quote a path that is not UTF-8
                for (const std::string& e : errors) messages.append(py::bytes(e));
                return py::make_tuple(out, messages, status);
            },
            py::arg("paths"), py::arg("landmarks") = py::none(), py::arg("workers") = 0,
            py::arg("max_pixels") = tinyfq::kDefaultMaxPixels,
            "Decode and score files (paths as str or file-system bytes); returns (scores with "
            "NaN for failures, error messages as bytes, statuses: ok, missing, invalid or "
            "unsupported). Never raises for a bad file.")
        .def(
            "score_tensor",
            [](const tinyfq::Scorer& s,
               py::array_t<float, py::array::c_style | py::array::forcecast> x) {
                const int S = s.info().input_size;
                const bool single = x.ndim() == 3;
                if (!((x.ndim() == 3 || x.ndim() == 4) && x.shape(x.ndim() - 3) == 3 &&
                      x.shape(x.ndim() - 2) == S && x.shape(x.ndim() - 1) == S))
                    throw py::value_error("tensor must have shape (3, " + std::to_string(S) + ", " +
                                          std::to_string(S) + ") or (N, 3, " + std::to_string(S) +
                                          ", " + std::to_string(S) + "), got " + shape_of(x));
                const py::ssize_t n = single ? 1 : x.shape(0);
                py::array_t<float> out(n);
                const float* src = x.data();
                float* dst = out.mutable_data();
                {
                    py::gil_scoped_release nogil;
                    for (py::ssize_t i = 0; i < n; ++i)
                        dst[i] = s.score_tensor(src + i * 3 * S * S);
                }
                if (single) return py::object(py::float_(dst[0]));
                return py::object(out);
            },
            py::arg("tensor"), "Score preprocessed (3,S,S) or (N,3,S,S) float32 input.");
}

}  // namespace tinyfq_py
