// Private helpers shared by the library's translation units.
#pragma once

#include "tinyfq/tinyfq.h"

namespace tinyfq {
namespace detail {

void check_view(const ImageView& img);
void warp_inverse(const Landmarks& lm, const ModelInfo& info, double inv[6]);

// The reduction k (1, 2, 4 or 8) that DecodeOptions asks for on a W x H JPEG: the largest
// k <= opt.max_scale with ceil(W/k) >= opt.min_width and ceil(H/k) >= opt.min_height, or 1
// when no minimum is set. (The libjpeg decoder confirms it with jpeg_calc_output_dimensions.)
int reduced_scale(int width, int height, const DecodeOptions& opt);

// The blob shapes of an ncnn .param graph followed from its one Input layer (which must write
// info.input_blob and declare no other size than info.input_size): every stock layer with weights
// has exactly the weights its input needs, and some layer writes info.output_blob
// (graph_check.cpp). Throws Error naming the layer.
void check_graph(const std::string& param_text, const ModelInfo& info);

// SHA-256 of n bytes, as 64 lowercase hex digits (sha256.cpp).
std::string sha256_hex(const unsigned char* data, std::size_t n);

// The model compiled into the library (generated at build time from cpp/models/).
struct EmbeddedModel {
    const char* param;
    const unsigned char* bin;
    std::size_t bin_size;
    const char* json;
};
EmbeddedModel embedded_model();
// The YuNet face detector compiled into the library (cpp/models/yunet.*).
EmbeddedModel embedded_detector();

}  // namespace detail
}  // namespace tinyfq
