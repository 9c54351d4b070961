// Private helpers shared by the library's translation units.
#pragma once

#include "tinyfq/tinyfq.h"

namespace tinyfq {
namespace detail {

void check_view(const ImageView& img);
bool force_reference();
void warp_inverse(const Landmarks& lm, const ModelInfo& info, double inv[6]);

// The model compiled into the library (generated at build time from cpp/models/).
struct EmbeddedModel {
    const char* param;
    const unsigned char* bin;
    std::size_t bin_size;
    const char* json;
};
EmbeddedModel embedded_model();

}  // namespace detail
}  // namespace tinyfq
