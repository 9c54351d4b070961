// Image decoding without a heavy dependency.
//
// JPEG goes through libjpeg(-turbo) when the build found it (TINYFQ_HAVE_LIBJPEG): faster than
// stb, and able to decode at 1/2, 1/4 or 1/8 of the size straight from the DCT coefficients
// (DecodeOptions). PNG, BMP, PNM, and JPEG in builds without libjpeg (the aarch64 cross build),
// go through the stb_image decoder that ncnn compiles into its library with NCNN_SIMPLEOCV.
#include "internal.h"

#include <algorithm>
#include <climits>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <sys/stat.h>
#include <utility>
#include <vector>

#if TINYFQ_HAVE_DECODER
extern "C" {
int stbi_info_from_memory(const unsigned char* buffer, int len, int* x, int* y, int* comp);
unsigned char* stbi_load_from_memory(const unsigned char* buffer, int len, int* x, int* y,
                                     int* channels_in_file, int desired_channels);
void stbi_image_free(void* retval_from_stbi_load);
const char* stbi_failure_reason(void);
int stbi_zlib_decode_buffer(char* obuffer, int olen, const char* ibuffer, int ilen);
}
#endif

#if TINYFQ_HAVE_LIBJPEG
#include <jpeglib.h>  // after <cstdio>: it uses FILE and size_t
#include <jerror.h>
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

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20); }

// Refuse a decode whose buffers, as the header describes the image, would take more than the
// budget: before any of them is allocated.
void check_budget(std::uint64_t need, std::int64_t w, std::int64_t h, const DecodeOptions& opt) {
    if (need > opt.max_decode_bytes)
        throw Error("decoding this " + std::to_string(w) + "x" + std::to_string(h) +
                    " image would take about " + mib(need) + " MiB, more than the budget of " +
                    mib(opt.max_decode_bytes) + " MiB per decode");
}

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
    check_pixels(w, h, opt.max_pixels);
    const int want = comp == 1 || comp == 2 ? 1 : 3;
    // stb's image in its own channels, its conversion to `want`, and our copy of that; JPEG
    // and PNG estimates come from their checks (component planes, inflated rows).
    const std::uint64_t pixels = std::uint64_t(w) * std::uint64_t(h);
    const std::uint64_t per_pixel =
        peak_per_pixel ? peak_per_pixel : std::uint64_t(comp) + 2 * std::uint64_t(want);
    check_budget(pixels * per_pixel, w, h, opt);
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
    auto fail = [&]() -> Error {
        if (s.err.pub.msg_code == JERR_OUT_OF_MEMORY)  // the C library refused, or the budget
            return OutOfMemory(std::string("out of memory decoding the JPEG: ") + s.err.message);
        return Error(std::string("corrupt or unsupported JPEG: ") + s.err.message);
    };
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
    // The output, and for a progressive (or other multi-scan) file libjpeg's coefficient
    // arrays of the whole image (2 bytes a coefficient). libjpeg's own allocations are capped by
    // the same budget (it has no backing store, so going over is an error, not a swap to disk).
    const std::uint64_t out_bytes = std::uint64_t(w) * c->output_height * ch;
    bool multi_scan = false;
    if (!jpeg_call(s, [&] { multi_scan = jpeg_has_multiple_scans(c); })) throw fail();
    const std::uint64_t coef_bytes = multi_scan ? std::uint64_t(c->image_width) * c->image_height *
                                                      unsigned(c->num_components) * 2
                                                : 0;
    check_budget(out_bytes + coef_bytes, c->image_width, c->image_height, opt);
    c->mem->max_memory_to_use = long(std::min<std::uint64_t>(
        opt.max_decode_bytes - out_bytes, std::uint64_t(std::numeric_limits<long>::max())));
    img.width = int(c->output_width);
    img.height = int(c->output_height);
    img.pixels.resize(out_bytes);
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

std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[1]) << 8 | p[0];
}
std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t(p[1]) << 8 | p[0]; }

// Adler-32 (the zlib stream's checksum) of n bytes.
std::uint32_t adler32(const std::uint8_t* p, std::size_t n) {
    std::uint32_t a = 1, b = 0;
    while (n) {
        std::size_t k = std::min<std::size_t>(n, 5552);  // no overflow before the modulo
        n -= k;
        while (k--) b += a += *p++;
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

// stb_image checks no PNG checksum, so a flipped bit in the compressed data decodes to a damaged
// picture and a score. Here, before stb sees the file, as libpng and Pillow do:
//  - every chunk's CRC, and the chunks run to IEND;
//  - the memory the decode will take, from IHDR and the chunk sizes, against the budget;
//  - the image data: inflated (without a copy of the picture) to exactly the size IHDR gives,
//    and its zlib Adler-32 checked, which the CRCs do not cover when the file was written
//    damaged.
// Returns stb's peak bytes per pixel for decode_stb.
std::uint64_t check_png(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    std::uint32_t w = 0, h = 0;
    int depth = 0, colour = -1, interlace = 0;
    std::vector<std::pair<std::size_t, std::uint32_t>> idat_chunks;  // (offset, length)
    std::uint64_t idat_bytes = 0;
    for (std::size_t i = 8;;) {  // after the signature
        if (i + 12 > size) throw Error("truncated PNG (no IEND chunk)");
        const std::uint32_t len = be32(data + i);
        if (len > size - i - 12) throw Error("truncated PNG (a chunk runs past the end)");
        const std::uint8_t* type = data + i + 4;
        if (crc32(type, std::size_t(len) + 4) != be32(type + 4 + len))
            throw Error("corrupt PNG (CRC mismatch in chunk " +
                        std::string(reinterpret_cast<const char*>(type), 4) + ")");
        if (i == 8) {
            if (std::memcmp(type, "IHDR", 4) != 0 || len != 13)
                throw Error("corrupt PNG (the first chunk is not a 13-byte IHDR)");
            w = be32(type + 4);
            h = be32(type + 8);
            depth = type[12];
            colour = type[13];
            interlace = type[16];
        } else if (std::memcmp(type, "IDAT", 4) == 0) {
            idat_chunks.emplace_back(i + 8, len);
            idat_bytes += len;
        } else if (std::memcmp(type, "IEND", 4) == 0) {
            break;
        }
        i += std::size_t(len) + 12;
    }
    static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};  // by colour type
    const int ch = colour >= 0 && colour <= 6 ? kChannels[colour] : 0;
    if (!ch || (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16) ||
        interlace > 1)
        throw Error("corrupt or unsupported PNG (colour type " + std::to_string(colour) +
                    ", bit depth " + std::to_string(depth) + ")");
    if (w == 0 || h == 0 || w > 0x7FFFFFFFu || h > 0x7FFFFFFFu)
        throw Error("corrupt PNG (image is " + std::to_string(w) + "x" + std::to_string(h) + ")");
    check_pixels(w, h, opt.max_pixels);

    // The inflated rows: a filter byte and the packed samples each, per Adam7 pass if
    // interlaced.
    auto rows = [&](std::uint64_t pw, std::uint64_t ph) {
        return pw && ph ? ph * (1 + (pw * unsigned(ch) * unsigned(depth) + 7) / 8) : 0;
    };
    std::uint64_t raw = 0;
    if (interlace) {
        static const int kX0[7] = {0, 4, 0, 2, 0, 1, 0}, kY0[7] = {0, 0, 4, 0, 2, 0, 1};
        static const int kDx[7] = {8, 8, 4, 4, 2, 2, 1}, kDy[7] = {8, 8, 8, 4, 4, 2, 2};
        for (int p = 0; p < 7; ++p)
            raw += rows((std::uint64_t(w) - kX0[p] + kDx[p] - 1) / kDx[p],
                        (std::uint64_t(h) - kY0[p] + kDy[p] - 1) / kDy[p]);
    } else {
        raw = rows(w, h);
    }
    // stb's image in its own channels (a palette becomes RGBA at worst, 16 bits stay 16 until
    // converted), the 8-bit conversion, our copy: peak is the largest pair alive at once.
    const std::uint64_t px = std::uint64_t(w) * h;
    const std::uint64_t full_n = colour == 3 ? 4 : unsigned(ch);
    const std::uint64_t full = px * full_n * (depth == 16 ? 2 : 1);
    const std::uint64_t want = colour == 0 || colour == 4 ? 1 : 3;
    // Before that, the compressed data gathered from its chunks and inflated (here, then in
    // stb) are alive together.
    const std::uint64_t peak = std::max(
        {idat_bytes + raw, raw + full, depth == 16 ? full + px * full_n : 0, 2 * px * want});
    check_budget(peak, w, h, opt);
    // Deflate expands at most ~1032:1: data too short for the rows IHDR promises is damaged,
    // and is refused before a buffer of the promised size is made.
    if (idat_bytes < 6 || raw > idat_bytes * 1032 + 1024 || raw > 0x7FFFFFFF)
        throw Error("corrupt PNG (" + std::to_string(idat_bytes) +
                    " bytes of image data cannot hold a " + std::to_string(w) + "x" +
                    std::to_string(h) + " image)");
#if TINYFQ_HAVE_DECODER
    std::vector<std::uint8_t> idat;
    idat.reserve(idat_bytes);
    for (const auto& c : idat_chunks)
        idat.insert(idat.end(), data + c.first, data + c.first + c.second);
    std::unique_ptr<char[]> out(new char[raw]);
    const int n =
        stbi_zlib_decode_buffer(out.get(), int(raw), reinterpret_cast<const char*>(idat.data()),
                                int(std::min<std::size_t>(idat.size(), 0x7FFFFFFF)));
    if (n < 0 || std::uint64_t(n) != raw)
        throw Error("corrupt PNG (the image data does not inflate to the " + std::to_string(raw) +
                    " bytes a " + std::to_string(w) + "x" + std::to_string(h) + " image needs)");
    if (adler32(reinterpret_cast<const std::uint8_t*>(out.get()), raw) !=
        be32(idat.data() + idat.size() - 4))
        throw Error("corrupt PNG (zlib checksum mismatch in the image data)");
#endif
    return (peak + px - 1) / px;
}

// stb_image reads past the end of a BMP's pixel data as zeros: a cut-off file decodes. The
// uncompressed layouts (BI_RGB, BI_BITFIELDS) have a known size; the file must hold it.
void check_bmp(const std::uint8_t* data, std::size_t size) {
    if (size < 26) return;  // stb reports it
    const std::uint32_t offset = le32(data + 10), header = le32(data + 14);
    std::int64_t w, h;
    std::uint32_t bpp, compression = 0;
    if (header == 12) {
        w = le16(data + 18);
        h = le16(data + 20);
        bpp = le16(data + 24);
    } else {
        if (size < 34) return;
        w = std::int32_t(le32(data + 18));
        h = std::int32_t(le32(data + 22));
        bpp = le16(data + 28);
        compression = le32(data + 30);
    }
    if (compression != 0 && compression != 3 && compression != 6) return;  // stb decides
    if (bpp == 0 || bpp > 32 || w <= 0 || h == 0 || h == INT32_MIN) return;
    const std::uint64_t stride = (std::uint64_t(w) * bpp + 31) / 32 * 4;
    const std::uint64_t need = offset + stride * std::uint64_t(h < 0 ? -h : h);
    if (need > size)
        throw Error("truncated BMP (its pixel data needs " + std::to_string(need) +
                    " bytes, the file has " + std::to_string(size) + ")");
}

// Binary PNM (P5, P6) holds width x height x channels samples after its header: a file
// shorter than that is cut off, and is refused before stb allocates the picture.
void check_pnm(const std::uint8_t* data, std::size_t size) {
    int w = 0, h = 0, comp = 0;
#if TINYFQ_HAVE_DECODER
    if (!stbi_info_from_memory(data, int(std::min<std::size_t>(size, 0x7FFFFFFF)), &w, &h, &comp))
        return;
#endif
    if (std::uint64_t(w) * std::uint64_t(h) * std::uint64_t(comp) > size)
        throw Error("truncated PNM (a " + std::to_string(w) + "x" + std::to_string(h) +
                    " image needs more than the file's " + std::to_string(size) + " bytes)");
}

// A JPEG's frame marker: 0xC0 (baseline) ... 0xCF, or 0 when there is none before the scan.
int jpeg_frame(const std::uint8_t* data, std::size_t size, std::uint32_t& w, std::uint32_t& h) {
    for (std::size_t i = 2; i + 9 < size;) {
        if (data[i] != 0xFF) return 0;
        const int m = data[i + 1];
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            h = std::uint32_t(data[i + 5]) << 8 | data[i + 6];
            w = std::uint32_t(data[i + 7]) << 8 | data[i + 8];
            return m;
        }
        if (m == 0xDA) return 0;
        i += 2 + (std::size_t(data[i + 2]) << 8 | data[i + 3]);
    }
    return 0;
}

// A cut-off JPEG: stb_image decodes it without complaint (libjpeg warns), so demand the
// end-of-image marker (allowing trailing padding, as cameras write). A sequential
// Huffman-coded JPEG spends at least two bits on every 8x8 block (a DC code and an end of
// block): a file far too small for the size its header claims is refused before the picture
// is allocated.
void check_jpeg(const std::uint8_t* data, std::size_t size) {
    std::size_t end = size;
    while (end > 2 && (data[end - 1] == 0 || data[end - 1] == 0xFF)) --end;
    bool eoi = false;
    for (std::size_t i = end >= 64 ? end - 64 : 0; i + 1 < size && !eoi; ++i)
        eoi = data[i] == 0xFF && data[i + 1] == 0xD9;
    if (!eoi) throw Error("truncated JPEG (no end-of-image marker)");
    std::uint32_t w = 0, h = 0;
    const int frame = jpeg_frame(data, size, w, h);
    const std::uint64_t blocks = (std::uint64_t(w) + 7) / 8 * ((std::uint64_t(h) + 7) / 8);
    if ((frame == 0xC0 || frame == 0xC1) && blocks / 4 > size)
        throw Error("truncated JPEG (" + std::to_string(size) + " bytes cannot hold a " +
                    std::to_string(w) + "x" + std::to_string(h) + " image)");
}

}  // namespace

Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt) {
    if (size == 0) throw Error("empty file (0 bytes)");
    if (size > kMaxFileBytes)
        throw Error("file too large to decode (" + std::to_string(size) + " bytes)");
    static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    std::uint64_t peak_per_pixel = 0;  // for decode_stb
    const bool jpeg = size >= 4 && data[0] == 0xFF && data[1] == 0xD8;
    if (size >= 8 && std::memcmp(data, kPng, 8) == 0) {
        peak_per_pixel = check_png(data, size, opt);
    } else if (jpeg) {
        check_jpeg(data, size);
        // stb's JPEG: a plane per component (three for progressive coefficients) and output.
        peak_per_pixel = 3 * 3 + 2 * 3;
    } else if (size >= 2 && data[0] == 'B' && data[1] == 'M') {
        check_bmp(data, size);
    } else if (size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6')) {
        check_pnm(data, size);
    }
#if TINYFQ_HAVE_LIBJPEG
    if (jpeg && !force_stb()) return decode_jpeg(data, size, opt);
#endif
#if TINYFQ_HAVE_DECODER
    return decode_stb(data, size, opt, peak_per_pixel);
#else
    (void)opt;
    (void)peak_per_pixel;
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
