// JPEG: the structural check every build makes (the file's extent up to its end-of-image
// marker, the frame, the EXIF orientation), and the libjpeg(-turbo) decoder of the builds that
// found it (TINYFQ_HAVE_LIBJPEG): faster than stb_image, and able to decode at 1/2, 1/4 or 1/8
// of the size straight from the DCT coefficients (DecodeOptions).
#include "decode.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if TINYFQ_HAVE_LIBJPEG
#include <jpeglib.h>  // after <cstdio>: it uses FILE and size_t
#include <jerror.h>
#endif

namespace tinyfq {
namespace detail {

namespace {

std::string hex(int m) {
    const char* digits = "0123456789ABCDEF";
    return std::string("0x") + digits[(m >> 4) & 15] + digits[m & 15];
}

// The offset just past the entropy-coded data that starts at i: the next marker other than a
// restart (0xFF followed by 0x00 is a stuffed 0xFF byte, 0xFF 0xFF a fill byte). size when the
// data runs to the end of the file.
std::size_t skip_entropy_coded(const std::uint8_t* data, std::size_t size, std::size_t i) {
    while (i < size) {
        const void* ff = std::memchr(data + i, 0xFF, size - i);
        if (!ff) return size;
        i = std::size_t(static_cast<const std::uint8_t*>(ff) - data);
        while (i + 1 < size && data[i + 1] == 0xFF) ++i;  // fill bytes
        if (i + 1 >= size) return size;
        const int m = data[i + 1];
        if (m != 0x00 && (m < 0xD0 || m > 0xD7)) return i;
        i += 2;
    }
    return size;
}

}  // namespace

JpegLayout check_jpeg(const std::uint8_t* data, std::size_t size) {
    JpegLayout j;
    bool exif = false;
    for (std::size_t i = 2;;) {  // after SOI
        if (i >= size) throw Error("truncated JPEG (no end-of-image marker)");
        if (data[i] != 0xFF)
            throw Error("corrupt JPEG (no marker at byte " + std::to_string(i) + ")");
        if (i + 1 >= size) throw Error("truncated JPEG (no end-of-image marker)");
        const int m = data[i + 1];
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (m == 0xD9) {
            j.end = i + 2;
            break;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {  // markers without a segment
            i += 2;
            continue;
        }
        // The markers libjpeg reads (frames, tables, scans, APPn, COM, DNL, DHP, EXP); it
        // refuses the others, as here: in damaged scan data they are what a stray 0xFF makes.
        if (m < 0xC0 || m == 0xD8 || (m >= 0xF0 && m != 0xFE))
            throw Error("corrupt JPEG (marker " + hex(m) + " at byte " + std::to_string(i) + ")");
        if (i + 4 > size) throw Error("truncated JPEG (no end-of-image marker)");
        const std::size_t len = be16(data + i + 2);
        if (len < 2) throw Error("corrupt JPEG (segment " + hex(m) + " of length < 2)");
        if (i + 2 + len > size) throw Error("truncated JPEG (no end-of-image marker)");
        const std::uint8_t* seg = data + i + 4;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && !j.frame) {
            if (len < 8)
                throw Error("corrupt JPEG (a frame header of " + std::to_string(len) + " bytes)");
            j.frame = m;
            j.precision = seg[0];
            j.height = be16(seg + 1);
            j.width = be16(seg + 3);
            j.components = seg[5];
        } else if (m == 0xE1 && !exif && len >= 8 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
            exif = true;  // the first Exif segment, as Pillow takes it
            j.orientation = tiff_orientation(seg + 6, len - 8);
        }
        i += 2 + len;
        if (m == 0xDA) i = skip_entropy_coded(data, size, i);
    }
    if (!j.frame) throw Error("corrupt JPEG (no frame header before the end of the image)");
    // Lossless and hierarchical processes: encoders of photos do not write them; neither
    // libjpeg-turbo 2 nor stb_image decodes them.
    const int m = j.frame;
    if (m == 0xC3 || (m >= 0xC5 && m <= 0xC7) || m == 0xCB || m >= 0xCD)
        throw Unsupported("unsupported JPEG (" +
                          std::string(m == 0xC3 || m == 0xCB ? "lossless" : "hierarchical") +
                          " process, frame marker " + hex(m) + ")");
    if (j.precision != 8)
        throw Unsupported("unsupported JPEG (" + std::to_string(j.precision) +
                          "-bit samples; this decoder reads 8-bit JPEG)");
    if (j.height == 0)  // libjpeg-turbo and stb_image read no DNL marker
        throw Unsupported("unsupported JPEG (its height given by a DNL marker after the scan)");
    if (j.components != 1 && j.components != 3 && j.components != 4)
        throw Unsupported("unsupported JPEG (" + std::to_string(j.components) +
                          " colour components)");
    // stb_image reads Huffman-coded JPEG only.
    if ((m == 0xC9 || m == 0xCA) && !jpeg_uses_libjpeg())
        throw Unsupported("unsupported JPEG (arithmetic coding; this build decodes JPEG with " +
                          jpeg_decoder() + ")");
    // A sequential Huffman-coded JPEG spends at least two bits on every 8x8 block (a DC code
    // and an end of block): a file far too small for the size its header claims is refused
    // before the picture is allocated.
    const std::uint64_t blocks =
        (std::uint64_t(j.width) + 7) / 8 * ((std::uint64_t(j.height) + 7) / 8);
    if ((m == 0xC0 || m == 0xC1) && blocks / 4 > j.end)
        throw Error("truncated JPEG (" + std::to_string(j.end) + " bytes cannot hold a " +
                    std::to_string(j.width) + "x" + std::to_string(j.height) + " image)");
    return j;
}

DecodeOptions stored_reduction(const JpegLayout& j, const DecodeOptions& opt) {
    DecodeOptions o = opt;
    if (!opt.exif_orientation || j.orientation < 2) return o;
    if (j.orientation >= 5) std::swap(o.min_width, o.min_height);
    auto cap = [&](std::uint32_t side) {
        while (o.max_scale > 1 && side % unsigned(o.max_scale)) o.max_scale /= 2;
    };
    if (orientation_flips_x(j.orientation)) cap(j.width);
    if (orientation_flips_y(j.orientation)) cap(j.height);
    return o;
}

#if TINYFQ_HAVE_LIBJPEG
// TINYFQ_DECODER=stb: decode JPEG with stb_image even when libjpeg is linked, to compare with
// builds that lack libjpeg (golden scores, the fuzz target "decode-stb").
bool jpeg_uses_libjpeg() {
    static const bool stb = [] {
        const char* v = std::getenv("TINYFQ_DECODER");
        return v && std::strcmp(v, "stb") == 0;
    }();
    return !stb;
}

namespace {

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

}  // namespace

Image decode_jpeg_libjpeg(const std::uint8_t* data, const JpegLayout& layout,
                          const DecodeOptions& options) {
    const DecodeOptions opt = stored_reduction(layout, options);
    JpegState s;
    j_decompress_ptr c = &s.cinfo;
    auto fail = [&]() -> Error {
        const int code = s.err.pub.msg_code;
        if (code == JERR_OUT_OF_MEMORY)  // the C library refused, or the budget
            return OutOfMemory(std::string("out of memory decoding the JPEG: ") + s.err.message);
        if (code == JERR_NOT_COMPILED || code == JERR_NOTIMPL || code == JERR_ARITH_NOTIMPL ||
            code == JERR_SOF_UNSUPPORTED || code == JERR_BAD_PRECISION ||
            code == JERR_CONVERSION_NOTIMPL)
            return Unsupported(std::string("unsupported JPEG: ") + s.err.message);
        return Error(std::string("corrupt JPEG: ") + s.err.message);
    };
    c->err = jpeg_std_error(&s.err.pub);
    s.err.pub.error_exit = jpeg_fail;
    s.err.pub.emit_message = jpeg_message;
    s.progress.progress_monitor = jpeg_progress;
    if (!jpeg_call(s, [&] {
            jpeg_create_decompress(c);
            s.created = true;
            c->progress = &s.progress;
            // the JPEG's own bytes: libjpeg never sees a trailer
            jpeg_mem_src(c, const_cast<unsigned char*>(data),
                         static_cast<unsigned long>(layout.end));
            jpeg_read_header(c, TRUE);
        }))
        throw fail();
    check_pixels(c->image_width, c->image_height, opt.max_pixels);

    Image img;
    img.orientation = layout.orientation;
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
            throw Unsupported("unsupported JPEG: " + std::to_string(c->num_components) +
                              " colour components of unknown meaning");
    }

    // The largest reduction whose output, as libjpeg computes it, still has the size asked for.
    c->scale_num = 1;
    for (int k = reduced_scale(int(c->image_width), int(c->image_height), opt);; k /= 2) {
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
#else
bool jpeg_uses_libjpeg() { return false; }
Image decode_jpeg_libjpeg(const std::uint8_t*, const JpegLayout&, const DecodeOptions&) {
    throw Error("this build has no libjpeg");
}
std::string libjpeg_name() { return ""; }
#endif

}  // namespace detail
}  // namespace tinyfq
