// Image decoding without a heavy dependency: the stb_image decoder that ncnn compiles into
// its library when built with NCNN_SIMPLEOCV (JPEG, PNG, BMP, PNM).
#include "internal.h"

#include <fstream>
#include <sys/stat.h>

#if TINYFQ_HAVE_DECODER
extern "C" {
int stbi_info_from_memory(const unsigned char* buffer, int len, int* x, int* y, int* comp);
unsigned char* stbi_load_from_memory(const unsigned char* buffer, int len, int* x, int* y,
                                     int* channels_in_file, int desired_channels);
void stbi_image_free(void* retval_from_stbi_load);
const char* stbi_failure_reason(void);
}
#endif

namespace tinyfq {

static constexpr std::size_t kMaxFileBytes = 256u << 20;

ImageView Image::view() const {
    ImageView v;
    v.data = pixels.data();
    v.width = width;
    v.height = height;
    v.stride = static_cast<std::ptrdiff_t>(width) * channels(format);
    v.format = format;
    return v;
}

bool have_decoder() { return TINYFQ_HAVE_DECODER != 0; }

Image decode_image(const std::uint8_t* data, std::size_t size, std::int64_t max_pixels) {
    if (size == 0) throw Error("empty file (0 bytes)");
    if (size > kMaxFileBytes)
        throw Error("file too large to decode (" + std::to_string(size) + " bytes)");
    if (size >= 4 && data[0] == 0xFF && data[1] == 0xD8) {
        // stb_image decodes a cut-off JPEG without complaint; demand the end-of-image marker
        // (allowing trailing padding, as cameras write).
        std::size_t end = size;
        while (end > 2 && (data[end - 1] == 0 || data[end - 1] == 0xFF)) --end;
        bool eoi = false;
        for (std::size_t i = end >= 64 ? end - 64 : 0; i + 1 < size && !eoi; ++i)
            eoi = data[i] == 0xFF && data[i + 1] == 0xD9;
        if (!eoi) throw Error("truncated JPEG (no end-of-image marker)");
    }
#if TINYFQ_HAVE_DECODER
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, int(size), &w, &h, &comp)) {
        const char* why = stbi_failure_reason();
        throw Error(std::string("not a decodable image (JPEG, PNG, BMP or PNM expected)") +
                    (why ? std::string(": ") + why : std::string()));
    }
    if (static_cast<std::int64_t>(w) * h > max_pixels)
        throw Error("image is " + std::to_string(w) + "x" + std::to_string(h) +
                    ", more than the limit of " + std::to_string(max_pixels) + " pixels");
    const int want = comp == 1 || comp == 2 ? 1 : 3;
    unsigned char* px = stbi_load_from_memory(data, int(size), &w, &h, &comp, want);
    if (!px) {
        const char* why = stbi_failure_reason();
        throw Error(std::string("cannot decode image: ") + (why ? why : "corrupt data"));
    }
    Image img;
    img.width = w;
    img.height = h;
    img.format = want == 1 ? PixelFormat::GRAY : PixelFormat::RGB;
    img.pixels.assign(px, px + static_cast<std::size_t>(w) * h * want);
    stbi_image_free(px);
    return img;
#else
    (void)data, (void)max_pixels;
    throw Error("this build has no image decoder (ncnn was built without NCNN_SIMPLEOCV)");
#endif
}

Image read_image(const std::string& path, std::int64_t max_pixels) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw FileNotFound("no such file: " + path);
    if (S_ISDIR(st.st_mode)) throw Error("is a directory: " + path);
    if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes)
        throw Error("file too large to decode (" + std::to_string(st.st_size) + " bytes): " + path);
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot open (permission denied?): " + path);
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(st.st_size));
    if (!buf.empty() && !f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(buf.size())))
        throw Error("cannot read: " + path);
    return decode_image(buf.data(), buf.size(), max_pixels);
}

}  // namespace tinyfq
