// Image decoding without a heavy dependency.
//
// JPEG goes through libjpeg(-turbo) when the build found it (TINYFQ_HAVE_LIBJPEG): faster than
// stb, and able to decode at 1/2, 1/4 or 1/8 of the size straight from the DCT coefficients
// (DecodeOptions). PNG, BMP, PNM, and JPEG in builds without libjpeg (the aarch64 cross build),
// go through the stb_image decoder that ncnn compiles into its library with NCNN_SIMPLEOCV.
#include "internal.h"

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
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

#if TINYFQ_HAVE_LIBJPEG
#include <jpeglib.h>  // after <cstdio>: it uses FILE and size_t
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

}  // namespace detail

namespace {

void check_pixels(std::int64_t w, std::int64_t h, std::int64_t max_pixels) {
    if (w * h > max_pixels)
        throw Error("image is " + std::to_string(w) + "x" + std::to_string(h) +
                    ", more than the limit of " + std::to_string(max_pixels) + " pixels");
}

#if TINYFQ_HAVE_DECODER
Image decode_stb(const std::uint8_t* data, std::size_t size, std::int64_t max_pixels) {
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, int(size), &w, &h, &comp)) {
        const char* why = stbi_failure_reason();
        throw Error(std::string("not a decodable image (JPEG, PNG, BMP or PNM expected)") +
                    (why ? std::string(": ") + why : std::string()));
    }
    check_pixels(w, h, max_pixels);
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
}
#endif

#if TINYFQ_HAVE_LIBJPEG
// TINYFQ_DECODER=stb: decode JPEG with stb_image even when libjpeg is linked, to compare with
// builds that lack libjpeg (golden scores, the aarch64 check).
bool force_stb() {
    static const bool force = [] {
        const char* v = std::getenv("TINYFQ_DECODER");
        return v && std::strcmp(v, "stb") == 0;
    }();
    return force;
}

// libjpeg reports a fatal error through a callback that must not return; the default one calls
// exit(). Ours formats the message and longjmps back to jpeg_call, which returns false. The
// steps run under jpeg_call create no C++ object with a destructor, so the jump skips only
// plain frames (libjpeg's and the step's), and every libjpeg call is made inside a jpeg_call.
struct JpegErrorManager {
    jpeg_error_mgr pub;  // first member: libjpeg passes back a pointer to it
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

// Warnings (level -1) are damaged data that libjpeg decodes anyway (premature end of data,
// corrupt entropy-coded data, bytes before a marker): take them as errors, so that a damaged
// file gets an error row rather than the score of a damaged picture. Levels >= 0 are traces.
void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_fail(cinfo);
}

// A progressive JPEG may hold thousands of scans, each a pass over the whole image: a small
// file that takes minutes. Encoders write about ten; stop at kMaxScans.
constexpr int kMaxScans = 500;

void jpeg_progress(j_common_ptr cinfo) {
    auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (cinfo->is_decompressor && d->input_scan_number > kMaxScans) {
        auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
        std::snprintf(err->message, sizeof err->message, "more than %d progressive scans",
                      kMaxScans);
        std::longjmp(err->jump, 1);
    }
}

struct JpegState {
    jpeg_decompress_struct cinfo{};
    JpegErrorManager err{};
    jpeg_progress_mgr progress{};
    bool created = false;
    ~JpegState() {
        if (created) jpeg_destroy_decompress(&cinfo);
    }
};

// Run `step` (libjpeg calls on s.cinfo) under the error handler; false when libjpeg failed,
// with its message in s.err.message. The function holding the setjmp modifies no local.
template <class F>
bool jpeg_call(JpegState& s, const F& step) {
    if (setjmp(s.err.jump)) return false;
    step();
    return true;
}

// Adobe CMYK as Photoshop writes it (stored inverted; libjpeg gives YCCK the same way):
// R = C * K / 255, with the rounding stb_image uses, so that both decoders agree.
inline std::uint8_t mul255(unsigned x, unsigned y) {
    const unsigned t = x * y + 128;
    return std::uint8_t((t + (t >> 8)) >> 8);
}

Image decode_jpeg(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    JpegState s;
    j_decompress_ptr c = &s.cinfo;
    auto fail = [&] { return Error(std::string("corrupt or unsupported JPEG: ") + s.err.message); };
    c->err = jpeg_std_error(&s.err.pub);
    s.err.pub.error_exit = jpeg_fail;
    s.err.pub.emit_message = jpeg_message;
    s.progress.progress_monitor = jpeg_progress;
    if (!jpeg_call(s, [&] {
            jpeg_create_decompress(c);
            s.created = true;
            c->progress = &s.progress;
            jpeg_mem_src(c, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
            jpeg_read_header(c, TRUE);
        }))
        throw fail();
    check_pixels(c->image_width, c->image_height, opt.max_pixels);

    Image img;
    switch (c->jpeg_color_space) {
        case JCS_GRAYSCALE:
            c->out_color_space = JCS_GRAYSCALE;
            img.format = PixelFormat::GRAY;
            break;
        case JCS_CMYK:
        case JCS_YCCK:
            c->out_color_space = JCS_CMYK;  // converted to RGB below
            break;
        case JCS_YCbCr:
        case JCS_RGB:
            c->out_color_space = JCS_RGB;
            break;
        default:
            throw Error("unsupported JPEG: " + std::to_string(c->num_components) +
                        " colour components of unknown meaning");
    }

    // The largest reduction whose output, as libjpeg computes it, still has the size asked for.
    c->scale_num = 1;
    for (int k = detail::reduced_scale(int(c->image_width), int(c->image_height), opt);; k /= 2) {
        c->scale_denom = unsigned(k);
        if (!jpeg_call(s, [&] { jpeg_calc_output_dimensions(c); })) throw fail();
        img.scale = k;
        if (k == 1 ||
            (int(c->output_width) >= opt.min_width && int(c->output_height) >= opt.min_height))
            break;
    }

    const std::size_t w = c->output_width;
    const std::size_t ch = img.format == PixelFormat::GRAY ? 1 : 3;
    img.width = int(c->output_width);
    img.height = int(c->output_height);
    img.pixels.resize(w * c->output_height * ch);
    std::vector<std::uint8_t> cmyk(c->out_color_space == JCS_CMYK ? w * 4 : 0);
    std::uint8_t* out = img.pixels.data();
    std::uint8_t* row4 = cmyk.data();
    if (!jpeg_call(s, [&] {
            jpeg_start_decompress(c);
            while (c->output_scanline < c->output_height) {
                std::uint8_t* dst = out + std::size_t(c->output_scanline) * w * ch;
                if (row4) {
                    jpeg_read_scanlines(c, &row4, 1);
                    for (std::size_t x = 0; x < w; ++x)
                        for (int i = 0; i < 3; ++i)
                            dst[3 * x + i] = mul255(row4[4 * x + i], row4[4 * x + 3]);
                } else {
                    // several rows a call: libjpeg makes up to rec_outbuf_height at once
                    JSAMPROW rows[16];
                    const JDIMENSION n =
                        std::min<JDIMENSION>(16, c->output_height - c->output_scanline);
                    for (JDIMENSION i = 0; i < n; ++i) rows[i] = dst + i * w * ch;
                    jpeg_read_scanlines(c, rows, n);
                }
            }
            jpeg_finish_decompress(c);
        }))
        throw fail();
    return img;
}

std::string libjpeg_name() {
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
    const int v = LIBJPEG_TURBO_VERSION_NUMBER;  // e.g. 2001005 for 2.1.5
    return "libjpeg-turbo " + std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) +
           "." + std::to_string(v % 1000);
#else
    return "libjpeg " + std::to_string(JPEG_LIB_VERSION);
#endif
}
#endif

}  // namespace

bool have_decoder() { return TINYFQ_HAVE_DECODER || TINYFQ_HAVE_LIBJPEG; }

std::string jpeg_decoder() {
#if TINYFQ_HAVE_LIBJPEG
    if (!force_stb()) return libjpeg_name();
#endif
    return TINYFQ_HAVE_DECODER ? "stb_image" : "none";
}

namespace {

// CRC-32 (ISO-HDLC, as PNG uses it) of n bytes.
std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {
    static const auto table = [] {
        std::vector<std::uint32_t> t(256);
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

// stb_image checks no PNG checksum, so a flipped bit in the compressed data decodes to a damaged
// picture and a score. Every chunk's CRC is checked here first (as libpng and Pillow do), and
// the chunks must run to IEND.
void check_png_chunks(const std::uint8_t* data, std::size_t size) {
    std::size_t i = 8;  // after the signature
    while (true) {
        if (i + 12 > size) throw Error("truncated PNG (no IEND chunk)");
        const std::uint32_t len = be32(data + i);
        if (len > size - i - 12) throw Error("truncated PNG (a chunk runs past the end)");
        const std::uint8_t* type = data + i + 4;
        if (crc32(type, std::size_t(len) + 4) != be32(type + 4 + len))
            throw Error("corrupt PNG (CRC mismatch in chunk " +
                        std::string(reinterpret_cast<const char*>(type), 4) + ")");
        if (std::memcmp(type, "IEND", 4) == 0) return;
        i += std::size_t(len) + 12;
    }
}

}  // namespace

Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    if (size == 0) throw Error("empty file (0 bytes)");
    if (size > kMaxFileBytes)
        throw Error("file too large to decode (" + std::to_string(size) + " bytes)");
    static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (size >= 8 && std::memcmp(data, kPng, 8) == 0) check_png_chunks(data, size);
    const bool jpeg = size >= 4 && data[0] == 0xFF && data[1] == 0xD8;
    if (jpeg) {
        // stb_image decodes a cut-off JPEG without complaint (libjpeg warns); demand the
        // end-of-image marker (allowing trailing padding, as cameras write).
        std::size_t end = size;
        while (end > 2 && (data[end - 1] == 0 || data[end - 1] == 0xFF)) --end;
        bool eoi = false;
        for (std::size_t i = end >= 64 ? end - 64 : 0; i + 1 < size && !eoi; ++i)
            eoi = data[i] == 0xFF && data[i + 1] == 0xD9;
        if (!eoi) throw Error("truncated JPEG (no end-of-image marker)");
    }
#if TINYFQ_HAVE_LIBJPEG
    if (jpeg && !force_stb()) return decode_jpeg(data, size, opt);
#endif
#if TINYFQ_HAVE_DECODER
    return decode_stb(data, size, opt.max_pixels);
#else
    (void)opt;
    throw Error(TINYFQ_HAVE_LIBJPEG
                    ? "not a JPEG (this build decodes JPEG only: ncnn was built without "
                      "NCNN_SIMPLEOCV)"
                    : "this build has no image decoder (ncnn was built without NCNN_SIMPLEOCV)");
#endif
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
