// libFuzzer target: loading a model (ncnn .param text, .bin weights, JSON sidecar) from
// untrusted bytes, then scoring with it.
//
// Input: param text, a NUL, the sidecar JSON, a NUL, then the weights. The sidecar's digest of
// the weights is set to the fuzzed weights' own before loading (where the sidecar has one), so
// that mutated weights get past the SHA-256 check to the graph and layer loaders behind it; a
// load must end in a Scorer or a tinyfq::Error, and a loaded Scorer must score a crop.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "internal.h"
#include "tinyfq/tinyfq.h"

namespace {

// Replace the value after `"key"` and its colon: a quoted 64-hex-digit string (sha256) or a
// number (bytes), with `value`. Leaves the text alone when it has no such value.
void set_field(std::string& json, const char* key, const std::string& value, bool quoted) {
    const std::size_t w = json.find("\"weights\"");
    if (w == std::string::npos) return;
    std::size_t i = json.find(std::string("\"") + key + "\"", w);
    if (i == std::string::npos) return;
    i += std::strlen(key) + 2;
    while (i < json.size() && (std::isspace(static_cast<unsigned char>(json[i])) || json[i] == ':'))
        ++i;
    std::size_t j = i;
    if (quoted) {
        if (j >= json.size() || json[j] != '"') return;
        j = json.find('"', j + 1);
        if (j == std::string::npos) return;
        json.replace(i, j + 1 - i, "\"" + value + "\"");
    } else {
        while (j < json.size() && std::isdigit(static_cast<unsigned char>(json[j]))) ++j;
        if (j == i) return;
        json.replace(i, j - i, value);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto* end = data + size;
    const auto* z1 = static_cast<const std::uint8_t*>(std::memchr(data, 0, size));
    if (!z1) return 0;
    const auto* z2 = static_cast<const std::uint8_t*>(std::memchr(z1 + 1, 0, end - z1 - 1));
    if (!z2) return 0;
    const std::string param(data, z1);
    std::string json(z1 + 1, z2);
    const std::uint8_t* bin = z2 + 1;
    const std::size_t bin_size = end - bin;
    set_field(json, "sha256", tinyfq::detail::sha256_hex(bin, bin_size), true);
    set_field(json, "bytes", std::to_string(bin_size), false);

    tinyfq::Options opt;
    opt.workers = 1;
    try {
        const tinyfq::Scorer scorer =
            tinyfq::Scorer::from_memory(param, bin_size ? bin : nullptr, bin_size, json, opt);
        std::vector<std::uint8_t> crop(48 * 48 * 3);
        for (std::size_t i = 0; i < crop.size(); ++i) crop[i] = std::uint8_t(i * 7);
        tinyfq::ImageView v;
        v.data = crop.data();
        v.width = v.height = 48;
        v.stride = 48 * 3;
        v.format = tinyfq::PixelFormat::BGR;
        (void)scorer.score(v);
    } catch (const tinyfq::Error&) {
    }
    return 0;
}
