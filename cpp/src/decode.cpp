// Image decoding without a heavy dependency: the dispatcher. The file's signature picks the
// format; each format's checks and decoders are in decode_<format>.cpp (decode.h), the EXIF
// orientation in exif.cpp.
//
// JPEG goes through libjpeg(-turbo) when the build found it (TINYFQ_HAVE_LIBJPEG). PNG, and
// JPEG in builds without libjpeg, go through the stb_image decoder that ncnn compiles into its
// library with NCNN_SIMPLEOCV, after checks of our own; BMP and PNM through our own decoders.
#include "decode.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/stat.h>
#include <vector>

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

namespace detail {

int reduced_scale(int width, int height, const DecodeOptions& opt) {
    if (opt.min_width <= 0 && opt.min_height <= 0) return 1;
    for (int k = 8; k > 1; k /= 2)
        if (k <= opt.max_scale && (width + k - 1) / k >= opt.min_width &&
            (height + k - 1) / k >= opt.min_height)
            return k;
    return 1;
}

void check_pixels(std::int64_t w, std::int64_t h, std::int64_t max_pixels) {
    if (w * h > max_pixels)
        throw Error("image is " + std::to_string(w) + "x" + std::to_string(h) +
                    ", more than the limit of " + std::to_string(max_pixels) + " pixels");
}

namespace {
std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20); }
}  // namespace

void check_budget(std::uint64_t need, std::int64_t w, std::int64_t h, const DecodeOptions& opt) {
    if (need > opt.max_decode_bytes)
        throw Error("decoding this " + std::to_string(w) + "x" + std::to_string(h) +
                    " image would take about " + mib(need) + " MiB, more than the budget of " +
                    mib(opt.max_decode_bytes) + " MiB per decode");
}

}  // namespace detail

namespace {

#if TINYFQ_HAVE_DECODER
// peak_per_pixel: stb's peak bytes per pixel as a format check estimated it (0: the generic
// estimate below).
Image decode_stb(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt,
                 std::uint64_t peak_per_pixel) {
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, int(size), &w, &h, &comp)) {
        const char* why = stbi_failure_reason();
        throw Error(std::string("not a decodable image (JPEG, PNG, BMP or PNM expected)") +
                    (why ? std::string(": ") + why : std::string()));
    }
    // stb_image takes a BMP of height 0 (and returns no pixels): never an image to score.
    if (w <= 0 || h <= 0)
        throw Error("corrupt image (" + std::to_string(w) + "x" + std::to_string(h) + " pixels)");
    detail::check_pixels(w, h, opt.max_pixels);
    const int want = comp == 1 || comp == 2 ? 1 : 3;
    // stb's image in its own channels, its conversion to `want`, and our copy of that; JPEG
    // and PNG estimates come from their checks (component planes, inflated rows).
    const std::uint64_t pixels = std::uint64_t(w) * std::uint64_t(h);
    const std::uint64_t per_pixel =
        peak_per_pixel ? peak_per_pixel : std::uint64_t(comp) + 2 * std::uint64_t(want);
    detail::check_budget(pixels * per_pixel, w, h, opt);
    unsigned char* px = stbi_load_from_memory(data, int(size), &w, &h, &comp, want);
    if (!px) {
        const char* why = stbi_failure_reason();
        if (why && std::strcmp(why, "outofmem") == 0)
            throw OutOfMemory("out of memory decoding the image");
        throw Error(std::string("cannot decode image: ") + (why ? why : "corrupt data"));
    }
    Image img;
    img.width = w;
    img.height = h;
    img.format = want == 1 ? PixelFormat::GRAY : PixelFormat::RGB;
    img.pixels.assign(px, px + static_cast<std::size_t>(w) * h * want);
    stbi_image_free(px);
    return img;
}
#endif

// The format's own decoder, or stb_image after the format's checks. The image as stored, with
// img.orientation set from the file's EXIF.
Image decode_stored(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    std::uint64_t peak_per_pixel = 0;  // for decode_stb
    int orientation = 1;
    if (size >= 8 && std::memcmp(data, kPng, 8) == 0) {
        const detail::PngLayout png = detail::check_png(data, size, opt);
        peak_per_pixel = png.peak_per_pixel;
        orientation = png.orientation;
    } else if (size >= 4 && data[0] == 0xFF && data[1] == 0xD8) {
        const detail::JpegLayout jpeg = detail::check_jpeg(data, size);
        if (detail::jpeg_uses_libjpeg()) return detail::decode_jpeg_libjpeg(data, jpeg, opt);
        size = jpeg.end;  // stb_image sees no trailer either
        orientation = jpeg.orientation;
        // stb's JPEG: a plane per component (three for progressive coefficients) and output.
        peak_per_pixel = 3 * 3 + 2 * 3;
    } else if (size >= 2 && data[0] == 'B' && data[1] == 'M') {
        return detail::decode_bmp(data, size, opt);
    } else if (detail::is_pnm(data, size)) {
        return detail::decode_pnm(data, size, opt);
    } else if (size >= 3 && data[0] == 'P' &&
               (data[1] == '7' || data[1] == 'F' || data[1] == 'f') &&
               (data[2] == '\n' || data[2] == ' ' || data[2] == '\r')) {
        throw Unsupported(data[1] == '7' ? "unsupported PNM variant (PAM, P7)"
                                         : "unsupported PNM variant (floating point, PF)");
    }
#if TINYFQ_HAVE_DECODER
    Image img = decode_stb(data, size, opt, peak_per_pixel);
    img.orientation = orientation;
    return img;
#else
    (void)opt;
    (void)peak_per_pixel;
    (void)orientation;
    throw Error(TINYFQ_HAVE_LIBJPEG
                    ? "not a JPEG (this build decodes JPEG only: ncnn was built without "
                      "NCNN_SIMPLEOCV)"
                    : "this build has no image decoder (ncnn was built without NCNN_SIMPLEOCV)");
#endif
}

}  // namespace

bool have_decoder() { return TINYFQ_HAVE_DECODER || TINYFQ_HAVE_LIBJPEG; }

std::string jpeg_decoder() {
    if (detail::jpeg_uses_libjpeg()) return detail::libjpeg_name();
    return TINYFQ_HAVE_DECODER ? "stb_image" : "none";
}

Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    if (size == 0) throw Error("empty file (0 bytes)");
    if (size > kMaxFileBytes)
        throw Error("file too large to decode (" + std::to_string(size) + " bytes)");
    Image img = decode_stored(data, size, opt);
    if (!opt.exif_orientation || img.orientation < 2) return img;
    // the stored pixels and the upright copy
    detail::check_budget(2 * std::uint64_t(img.pixels.size()), img.width, img.height, opt);
    const int orientation = img.orientation;
    return detail::orient_upright(std::move(img), orientation);
}

Image decode_image(const std::uint8_t* data, std::size_t size, std::int64_t max_pixels) {
    DecodeOptions opt;
    opt.max_pixels = max_pixels;
    return decode_image(data, size, opt);
}

Image read_image(const std::string& path, const DecodeOptions& opt) {
    if (path.find('\0') != std::string::npos)
        throw InvalidInput("path contains a NUL character: " + path.substr(0, path.find('\0')));
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT || e == ENOTDIR) throw FileNotFound("no such file: " + path);
        throw Error(std::string("cannot access (") + std::strerror(e) + "): " + path);
    }
    if (S_ISDIR(st.st_mode)) throw Error("is a directory: " + path);
    // Never open a FIFO, socket or device: reading one can block forever or never end.
    if (!S_ISREG(st.st_mode))
        throw Error(std::string("not a regular file (") +
                    (S_ISFIFO(st.st_mode)                         ? "a FIFO"
                     : S_ISSOCK(st.st_mode)                       ? "a socket"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                  : "a special file") +
                    "): " + path);
    if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes)
        throw Error("file too large to decode (" + std::to_string(st.st_size) + " bytes): " + path);
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot open (permission denied?): " + path);
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(st.st_size));
    if (!buf.empty() && !f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(buf.size())))
        throw Error("cannot read: " + path);
    return decode_image(buf.data(), buf.size(), opt);
}

Image read_image(const std::string& path, std::int64_t max_pixels) {
    DecodeOptions opt;
    opt.max_pixels = max_pixels;
    return read_image(path, opt);
}

}  // namespace tinyfq
