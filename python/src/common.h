// Shared helpers of the extension's binding files: numpy -> ImageView checks.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "tinyfq/tinyfq.h"

namespace py = pybind11;

namespace tinyfq_py {

// Checks dtype/shape while the GIL is held; returns a view into `arr`, which may be replaced
// by a packed copy when its strides cannot be honoured as they are (the caller keeps `arr`
// alive for as long as the view is used).
tinyfq::ImageView image_view(py::array& arr, const std::string& fmt, const char* what);
// Views of every image of a sequence (checked as image_view does, named images[i]); `keep`
// holds the arrays, or their packed copies, for as long as the views are used.
std::vector<tinyfq::ImageView> image_views(const py::sequence& images, const std::string& fmt,
                                           std::vector<py::array>& keep);
tinyfq::Landmarks landmarks_from(const py::handle& obj, const char* what);
std::string shape_of(const py::array& a);
// The normalised (3, S, S) input of `image` (a crop, or a photo with landmarks) for `info`.
py::array_t<float> preprocess_into(const tinyfq::ModelInfo& info, py::array image,
                                   py::object landmarks, const std::string& format, bool reference);

}  // namespace tinyfq_py
