// libFuzzer target: image decoding (JPEG, PNG, BMP, PNM) from untrusted bytes.
//
// Every input must end in a decoded image or a tinyfq::Error; anything else (a crash, a
// sanitizer report, another exception, a hang, an allocation over the limit) is a finding.
// The input's length picks the options, so that one corpus covers full and reduced JPEG
// decoding. JPEG goes to libjpeg; run with TINYFQ_DECODER=stb (fuzz/run.py's "decode-stb")
// for stb_image's JPEG decoder, the one of builds without libjpeg.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tinyfq/tinyfq.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    tinyfq::DecodeOptions opt;
    opt.max_pixels = 4 << 20;          // small limits keep each run fast
    opt.max_decode_bytes = 64u << 20;  // and within libFuzzer's -rss_limit_mb
    if (size % 3 == 1) {
        opt.min_width = 64;  // reduced decoding (libjpeg's DCT scaling)
        opt.min_height = 64;
    }
    try {
        const tinyfq::Image img = tinyfq::decode_image(data, size, opt);
        const tinyfq::ImageView v = img.view();
        // The promise callers rely on: the pixels are exactly width x height x channels.
        if (v.width <= 0 || v.height <= 0 ||
            img.pixels.size() != std::size_t(v.width) * std::size_t(v.height) *
                                     std::size_t(tinyfq::channels(v.format)))
            std::abort();
    } catch (const tinyfq::Error&) {
    }
    return 0;
}
