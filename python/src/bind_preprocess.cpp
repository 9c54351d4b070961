// Preprocessing and decoding bindings (used by training, so its crops equal the scorer's).
#include "common.h"

namespace tinyfq_py {

py::array_t<float> preprocess_into(const tinyfq::ModelInfo& info, py::array image,
                                   py::object landmarks, const std::string& format,
                                   bool reference) {
    const tinyfq::ImageView v = image_view(image, format, "image");
    const bool warp = !landmarks.is_none();
    tinyfq::Landmarks lm{};
    if (warp) lm = landmarks_from(landmarks, "landmarks");
    const int S = info.input_size;
    py::array_t<float> out({3, S, S});
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        if (warp)
            (reference ? tinyfq::preprocess_warp_reference : tinyfq::preprocess_warp)(v, lm, info,
                                                                                      dst);
        else
            (reference ? tinyfq::preprocess_crop_reference : tinyfq::preprocess_crop)(v, info, dst);
    }
    return out;
}

static py::array_t<float> preprocess(py::array image, py::object landmarks,
                                     const std::string& model_json, const std::string& format,
                                     bool reference) {
    return preprocess_into(tinyfq::parse_model_info(model_json), image, landmarks, format,
                           reference);
}

static py::array decoded_array(tinyfq::Image&& img) {
    const int ch = tinyfq::channels(img.format);
    auto* owner = new tinyfq::Image(std::move(img));
    py::capsule free_when_done(owner, [](void* p) { delete static_cast<tinyfq::Image*>(p); });
    std::vector<py::ssize_t> shape = {owner->height, owner->width};
    if (ch > 1) shape.push_back(ch);
    return py::array(py::dtype::of<std::uint8_t>(), shape, owner->pixels.data(), free_when_done);
}

static tinyfq::DecodeOptions decode_options(std::int64_t max_pixels, int min_width, int min_height,
                                            int max_scale, bool exif_orientation) {
    if (min_width < 0 || min_height < 0)
        throw py::value_error("min_width and min_height must be >= 0, got " +
                              std::to_string(min_width) + " and " + std::to_string(min_height));
    if (max_scale != 1 && max_scale != 2 && max_scale != 4 && max_scale != 8)
        throw py::value_error("max_scale must be 1, 2, 4 or 8, got " + std::to_string(max_scale));
    tinyfq::DecodeOptions opt;
    opt.max_pixels = max_pixels;
    opt.min_width = min_width;
    opt.min_height = min_height;
    opt.max_scale = max_scale;
    opt.exif_orientation = exif_orientation;
    return opt;
}

static py::object decoded(tinyfq::Image&& img, bool return_scale) {
    const int k = img.scale;
    py::array a = decoded_array(std::move(img));
    if (return_scale) return py::make_tuple(a, k);
    return std::move(a);
}

void bind_preprocess(py::module_& m) {
    m.def("preprocess", &preprocess, py::arg("image"), py::arg("landmarks") = py::none(),
          py::arg("model_json"), py::arg("format") = "bgr", py::arg("reference") = false,
          "Normalised 3xSxS float32 network input of a uint8 image: a resized aligned crop, or "
          "(with 5x2 landmarks) the similarity warp to the model's template. `reference` runs "
          "the scalar reference kernel instead of the fast one.");
    m.def(
        "estimate_similarity",
        [](py::object src, py::object dst) {
            const tinyfq::Landmarks s = landmarks_from(src, "src"), d = landmarks_from(dst, "dst");
            float mat[6];
            tinyfq::estimate_similarity(s.xy, d.xy, 5, mat);
            py::array_t<float> out({2, 3});
            std::copy(mat, mat + 6, out.mutable_data());
            return out;
        },
        py::arg("src"), py::arg("dst"),
        "2x3 least-squares similarity transform mapping 5 src points onto 5 dst points.");
    m.def(
        "decode_image",
        [](py::bytes data, std::int64_t max_pixels, int min_width, int min_height, int max_scale,
           bool return_scale, bool exif_orientation) {
            std::string buf = data;
            const tinyfq::DecodeOptions opt =
                decode_options(max_pixels, min_width, min_height, max_scale, exif_orientation);
            tinyfq::Image img;
            {
                py::gil_scoped_release nogil;
                img = tinyfq::decode_image(reinterpret_cast<const std::uint8_t*>(buf.data()),
                                           buf.size(), opt);
            }
            return decoded(std::move(img), return_scale);
        },
        py::arg("data"), py::arg("max_pixels") = tinyfq::kDefaultMaxPixels,
        py::arg("min_width") = 0, py::arg("min_height") = 0, py::arg("max_scale") = 8,
        py::arg("return_scale") = false, py::arg("exif_orientation") = true,
        "Decode JPEG/PNG/BMP/PNM bytes to an RGB (H, W, 3) or grey (H, W) uint8 array. "
        "min_width/min_height > 0: decode a JPEG at 1/k of its size, k the largest of 1, 2, "
        "4, 8 (<= max_scale) that keeps ceil(W/k) x ceil(H/k) >= them (libjpeg builds). "
        "return_scale: return (array, k). exif_orientation: turn a JPEG or PNG upright as "
        "its EXIF Orientation tag says (False: the pixels as stored).");
    m.def(
        "read_image",
        [](const std::string& path, std::int64_t max_pixels, int min_width, int min_height,
           int max_scale, bool return_scale, bool exif_orientation) {
            const tinyfq::DecodeOptions opt =
                decode_options(max_pixels, min_width, min_height, max_scale, exif_orientation);
            tinyfq::Image img;
            {
                py::gil_scoped_release nogil;
                img = tinyfq::read_image(path, opt);
            }
            return decoded(std::move(img), return_scale);
        },
        py::arg("path"), py::arg("max_pixels") = tinyfq::kDefaultMaxPixels,
        py::arg("min_width") = 0, py::arg("min_height") = 0, py::arg("max_scale") = 8,
        py::arg("return_scale") = false, py::arg("exif_orientation") = true,
        "Read an image file to an RGB (H, W, 3) or grey (H, W) uint8 array; the reduced "
        "decoding and orientation arguments as in decode_image.");
}

}  // namespace tinyfq_py
