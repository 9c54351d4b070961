// tinyfq_native._core: the extension module. Bindings are split by area (bind_*.cpp).
#include "common.h"

namespace tinyfq_py {
void bind_scorer(py::module_& m);
void bind_preprocess(py::module_& m);
void bind_detect(py::module_& m);
void bind_factors(py::module_& m);

std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

tinyfq::ImageView image_view(py::array& arr, const std::string& fmt, const char* what) {
    if (!py::isinstance<py::array_t<std::uint8_t>>(arr) || arr.dtype().kind() != 'u' ||
        arr.itemsize() != 1)
        throw py::value_error(std::string(what) + " must be a uint8 array, got dtype " +
                              std::string(py::str(arr.dtype())) + " with shape " + shape_of(arr));
    const bool ok_shape =
        arr.ndim() == 2 ||
        (arr.ndim() == 3 && (arr.shape(2) == 1 || arr.shape(2) == 3 || arr.shape(2) == 4));
    if (!ok_shape)
        throw py::value_error(std::string(what) +
                              " must have shape (H, W), (H, W, 3) or (H, W, 4), got " +
                              shape_of(arr));
    if (arr.shape(0) < 1 || arr.shape(1) < 1)
        throw py::value_error(std::string(what) + " is empty: shape " + shape_of(arr));
    const int ch = arr.ndim() == 2 ? 1 : int(arr.shape(2));
    // Packed pixels within a row are required; any positive row stride is honoured as is.
    const bool packed =
        arr.strides(0) > 0 && arr.strides(1) == ch && (arr.ndim() == 2 || arr.strides(2) == 1);
    if (!packed) {
        // A packed copy; numpy's failure (a huge broadcast view needs a huge copy) comes back
        // as an empty handle with the error cleared: say what happened instead of reading it.
        py::array copy = py::array::ensure(arr, py::array::c_style | py::array::forcecast);
        if (!copy) {
            PyErr_SetString(PyExc_MemoryError,
                            (std::string(what) + " of shape " + shape_of(arr) +
                             " has strides that need a packed copy, and the copy could not be "
                             "made (out of memory)")
                                .c_str());
            throw py::error_already_set();
        }
        arr = copy;
    }
    tinyfq::ImageView v;
    v.data = static_cast<const std::uint8_t*>(arr.data());
    v.height = int(arr.shape(0));
    v.width = int(arr.shape(1));
    v.stride = arr.strides(0);
    v.format = tinyfq::parse_pixel_format(fmt, ch);
    return v;
}

std::vector<tinyfq::ImageView> image_views(const py::sequence& images, const std::string& fmt,
                                           std::vector<py::array>& keep) {
    const std::size_t n = images.size();
    std::vector<tinyfq::ImageView> views;
    keep.clear();
    keep.reserve(n);  // image_view may swap an element for a packed copy: no reallocation
    views.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        py::object item = images[i];
        if (!py::isinstance<py::array>(item))
            throw py::value_error("images[" + std::to_string(i) + "] is not a numpy array but " +
                                  std::string(py::str(py::type::of(item))));
        keep.push_back(py::reinterpret_borrow<py::array>(item));
        views.push_back(
            image_view(keep.back(), fmt, ("images[" + std::to_string(i) + "]").c_str()));
    }
    return views;
}

tinyfq::Landmarks landmarks_from(const py::handle& obj, const char* what) {
    // Exactly (5, 2) real numbers: a transposed (2, 5) or flat (10,) array would be read in
    // the wrong order, a complex one would lose its imaginary part.
    const py::array raw = py::array::ensure(obj);
    if (!raw || raw.ndim() != 2 || raw.shape(0) != 5 || raw.shape(1) != 2)
        throw py::value_error(std::string(what) + " must be 5 (x, y) points, shape (5, 2), got " +
                              (raw ? shape_of(raw) : std::string(py::str(py::type::of(obj)))));
    const char kind = raw.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
        throw py::value_error(std::string(what) + " must hold real numbers, got dtype " +
                              std::string(py::str(raw.dtype())));
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(raw);
    if (!a) throw py::value_error(std::string(what) + ": cannot convert to float32");
    tinyfq::Landmarks lm;
    std::copy(a.data(), a.data() + 10, lm.xy);
    return lm;
}

}  // namespace tinyfq_py

PYBIND11_MODULE(_core, m) {
    m.doc() = "tinyFQnet face image quality through ncnn (native core of tinyfq_native)";
    // A valid file of a variant the decoders do not handle: a ValueError, so that callers
    // catching bad input catch it too, told apart as Status.unsupported.
    // (Stored the way pybind11 recommends: no static Python object outlives the interpreter.)
    PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> unsupported;
    unsupported.call_once_and_store_result([&]() {
        return py::exception<tinyfq::Unsupported>(m, "UnsupportedError", PyExc_ValueError);
    });
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const tinyfq::Unsupported& e) {
            py::set_error(unsupported.get_stored(), e.what());
        } catch (const tinyfq::InvalidInput& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const tinyfq::FileNotFound& e) {
            PyErr_SetString(PyExc_FileNotFoundError, e.what());
        } catch (const tinyfq::OutOfMemory& e) {
            PyErr_SetString(PyExc_MemoryError, e.what());
        } catch (const tinyfq::Error& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
    });
    // The one outcome vocabulary of the batch calls (score_files, score_files_faces), the C++
    // enum's values under its names (tinyfq::status_name).
    py::enum_<tinyfq::Status>(m, "Status", "What became of one input of a batch.")
        .value("ok", tinyfq::Status::ok)
        .value("missing", tinyfq::Status::missing)
        .value("invalid", tinyfq::Status::invalid)
        .value("no_face", tinyfq::Status::no_face)
        .value("unsupported", tinyfq::Status::unsupported);
    tinyfq_py::bind_detect(m);
    tinyfq_py::bind_scorer(m);
    tinyfq_py::bind_preprocess(m);
    tinyfq_py::bind_factors(m);
    m.def("ncnn_version", &tinyfq::ncnn_version, "Version of the ncnn library compiled in.");
    m.def("cpu_features", &tinyfq::cpu_features, "CPU features ncnn detected at run time.");
    m.def("network_kernels", &tinyfq::network_kernels,
          "The build of the fused network kernels this CPU runs: avx2, generic or reference.");
    m.def("hardware_workers", &tinyfq::hardware_workers, "Number of hardware threads.");
    m.def("embedded_model_json", &tinyfq::embedded_model_json,
          "JSON sidecar of the default model compiled into the library.");
    m.def("embedded_detector_json", &tinyfq::embedded_detector_json,
          "Provenance of the face detector compiled into the library (source, sha256, licence).");
    m.def("have_decoder", &tinyfq::have_decoder, "Whether this build can decode image files.");
    m.def("jpeg_decoder", &tinyfq::jpeg_decoder,
          "What decodes JPEG files: 'libjpeg-turbo X.Y.Z' (reduced-resolution decoding "
          "available), 'stb_image' or 'none'.");
}
