// What the two decode suites (test_decode.cpp: formats and limits; test_decode_orientation.cpp:
// EXIF orientation and trailers) share over check.h: byte writers and the decode helpers.
#pragma once

#include "check.h"

#include "decode.h"

namespace tinyfq_test {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, unsigned v, bool big) {
    b.push_back(std::uint8_t(big ? v >> 8 : v));
    b.push_back(std::uint8_t(big ? v : v >> 8));
}
inline void put32(Bytes& b, std::uint32_t v, bool big) {
    put16(b, big ? v >> 16 : v & 0xFFFF, big);
    put16(b, big ? v & 0xFFFF : v >> 16, big);
}

inline bool same(const tinyfq::Image& a, const tinyfq::Image& b) {
    return a.width == b.width && a.height == b.height && a.format == b.format &&
           a.pixels == b.pixels;
}

inline std::string error_of(const Bytes& b, const tinyfq::DecodeOptions& opt = {}) {
    try {
        tinyfq::decode_image(b.data(), b.size(), opt);
    } catch (const tinyfq::Error& e) {
        return e.what();
    }
    return "";
}

inline bool unsupported(const Bytes& b) {
    return throws<tinyfq::Unsupported>([&] { tinyfq::decode_image(b.data(), b.size()); });
}

inline tinyfq::Image decode(const Bytes& b, const tinyfq::DecodeOptions& opt = {}) {
    return tinyfq::decode_image(b.data(), b.size(), opt);
}

}  // namespace tinyfq_test
