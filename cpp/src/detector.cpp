// Detector: YuNet through ncnn. Like the Scorer, one ncnn::Net is shared by all threads and
// every call runs a light-mode, one-thread extractor; its memory comes from a pair of pools the
// detector leases to the call (Impl::Lease).
//
// The embedded graph (scripts/convert_yunet.py) runs on the library's own layers: TinyfqPwDw
// for its convolutions (runs of 1x1 -> depthwise 3x3 units, with the stem and the 2x2 pooling
// folded in) and TinyfqUpAdd for its pyramid merges, and ends at one 16-channel map per
// stride s in {8, 16, 32}, `head_<s>`: the model's four heads merged (the same arithmetic) into
// channel 0 cls and 1 obj (logits), 2-5 bbox (centre offsets in stride units from the cell's
// corner, log width, log height) and 6-15 kps (five (x, y) offsets in stride units).
// Decoding follows the model's own reference (YUNET in libfacedetection.train's
// tools/compare_inference.py) with OpenCV's confidence, sqrt(sigmoid(cls) * sigmoid(obj)).
#include "internal.h"
#include "fused.h"
#include "pool_allocator.h"
#include "preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>

#include <allocator.h>
#include <mat.h>
#include <net.h>

namespace tinyfq {

struct Detector::Impl {
    // Blob and workspace memory for one call at a time, the network input included. Idle
    // pools are kept by the detector, not by threads (batch calls start new threads), and every
    // large buffer of a call comes from them: allocated from the C library's heap instead, the
    // ~MB-sized input of each photo left holes that the small results kept alive between
    // calls, and a 2-worker run over LFW at the default size grew to 250 MB.
    struct Pools {
        detail::PoolAllocator blob, work;
    };
    mutable detail::IdleList<Pools> idle;

    ncnn::Net net;  // after the pools: destroyed first
    DetectOptions opt;

    // A pool pair for the duration of one call.
    class Lease {
    public:
        explicit Lease(const Impl& impl) : impl_(impl), p_(impl.idle.take()) {}
        ~Lease() { impl_.idle.give(std::move(p_)); }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Pools& pools() {
            if (!p_) p_.reset(new Pools);
            return *p_;
        }

    private:
        const Impl& impl_;
        std::unique_ptr<Pools> p_;
    };

    // The network on a prepared input tensor, decoded, suppressed, mapped back to the image.
    // Every ncnn object of the call is gone when it returns, before the lease ends.
    std::vector<Face> run(const ncnn::Mat& x, float scale_x, float scale_y, Pools& pools) const;
};

namespace {

constexpr int kStrides[3] = {8, 16, 32};
const char* const kHeads[3] = {"head_8", "head_16", "head_32"};
enum { kCls = 0, kObj = 1, kBox = 2, kKps = 6, kHeadChannels = 16 };

float sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

float iou(const Face& a, const Face& b) {
    const float iw = std::max(0.f, std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x));
    const float ih = std::max(0.f, std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y));
    const float inter = iw * ih, uni = a.w * a.h + b.w * b.h - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

// The four bytes of a pixel that feed B, G, R (grey feeds all three).
void bgr_offsets(PixelFormat f, int off[3]) {
    switch (f) {
        case PixelFormat::GRAY:
            off[0] = off[1] = off[2] = 0;
            break;
        case PixelFormat::BGR:
        case PixelFormat::BGRA:
            off[0] = 0, off[1] = 1, off[2] = 2;
            break;
        case PixelFormat::RGB:
        case PixelFormat::RGBA:
            off[0] = 2, off[1] = 1, off[2] = 0;
            break;
    }
}

}  // namespace

Detector::Detector(const DetectOptions& opt) : impl_(new Impl) {
    if (opt.max_side < 32)
        throw InvalidInput("detector max_side must be at least 32, got " +
                           std::to_string(opt.max_side));
    if (!(opt.score_threshold >= 0.f && opt.score_threshold <= 1.f))
        throw InvalidInput("detector score_threshold must be in [0, 1], got " +
                           std::to_string(opt.score_threshold));
    if (!(opt.nms_threshold > 0.f && opt.nms_threshold <= 1.f))
        throw InvalidInput("detector nms_threshold must be in (0, 1], got " +
                           std::to_string(opt.nms_threshold));
    if (!(opt.min_face >= 0.f) || opt.top_k < 1)
        throw InvalidInput("detector min_face must be >= 0 and top_k >= 1");
    impl_->opt = opt;
    ncnn::Net& net = impl_->net;
    fused::prepare_net(net, false);
    // The graph's convolutions are the library's own layers (planar, elempack 1); the stock
    // layers between them (pooling, upsampling, addition) then run unpacked too, instead of
    // converting every blob to ncnn's packed layout and back.
    net.opt.use_packing_layout = false;
    const detail::EmbeddedModel m = detail::embedded_detector();
    if (net.load_param_mem(m.param) != 0) throw Error("embedded detector: bad .param");
    if (net.load_model(m.bin) != m.bin_size) throw Error("embedded detector: bad .bin");
}

Detector::~Detector() = default;
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;

const DetectOptions& Detector::options() const { return impl_->opt; }

namespace {

// Where an image goes in the detector input: resized to nw x nh, padded to pw x ph.
struct Geometry {
    int nw, nh, pw, ph;
    float sx, sy;
};

Geometry geometry(const ImageView& img, int max_side) {
    detail::check_view(img);
    const int W = img.width, H = img.height;
    const double s = std::min(1.0, double(max_side) / std::max(W, H));
    Geometry g;
    g.nw = std::max(1, int(std::lround(W * s)));
    g.nh = std::max(1, int(std::lround(H * s)));
    g.pw = (g.nw + 31) / 32 * 32;
    g.ph = (g.nh + 31) / 32 * 32;
    g.sx = float(g.nw) / W;
    g.sy = float(g.nh) / H;
    return g;
}

// The BGR planes of the detector input (each pw x ph floats, rows pw apart), padding zeroed.
void fill(const ImageView& img, const Geometry& g, float* const dst[3]) {
    const int W = img.width, H = img.height, ch = channels(img.format);
    int off[3];
    bgr_offsets(img.format, off);
    for (int c = 0; c < 3; ++c) {
        for (int y = 0; y < g.nh; ++y)
            std::fill(dst[c] + std::size_t(y) * g.pw + g.nw, dst[c] + std::size_t(y + 1) * g.pw,
                      0.f);
        std::fill(dst[c] + std::size_t(g.nh) * g.pw, dst[c] + std::size_t(g.ph) * g.pw, 0.f);
    }
    if (g.nw == W && g.nh == H) {
        for (int y = 0; y < H; ++y) {
            const std::uint8_t* row = img.data + y * img.stride;
            for (int c = 0; c < 3; ++c) {
                float* d = dst[c] + std::size_t(y) * g.pw;
                for (int x = 0; x < W; ++x) d[x] = row[x * ch + off[c]];
            }
        }
        return;
    }
    // Bilinear with pixel centres aligned (cv2.resize INTER_LINEAR), separable: the horizontal
    // taps are computed once, and each source row is interpolated horizontally once (into the
    // slot of its row's parity: an output row reads rows y0 and y0 + 1, and y0 never goes
    // back), then each output row is one vertical pass over two such rows.
    const int nw = g.nw;
    const double fx = double(W) / nw, fy = double(H) / g.nh;
    std::vector<int> x0(nw), x1(nw);
    std::vector<float> wx(nw), rows(std::size_t(2) * 3 * nw);
    for (int x = 0; x < nw; ++x) {
        const double sx = std::min(std::max((x + 0.5) * fx - 0.5, 0.0), double(W - 1));
        x0[x] = int(sx) * ch, x1[x] = std::min(int(sx) + 1, W - 1) * ch;
        wx[x] = float(sx - int(sx));
    }
    int held[2] = {-1, -1};
    // the kernel set's row pass for 3- and 4-channel images (the scalar arithmetic, operation
    // for operation), while each pixel's 4-byte load stays inside the image's buffer
    const auto fast_row = ch >= 3 ? detail::preprocess_kernels().resize_row : nullptr;
    auto horizontal = [&](int sy) {
        float* h = rows.data() + std::size_t(sy % 2) * 3 * nw;
        if (held[sy % 2] == sy) return h;
        held[sy % 2] = sy;
        const std::uint8_t* r = img.data + std::size_t(sy) * img.stride;
        int x = 0;
        if (fast_row)
            x = fast_row(r, (long long)(H - 1 - sy) * img.stride + (long long)W * ch, off,
                         x0.data(), x1.data(), wx.data(), nw, h);
        for (; x < nw; ++x) {
            const std::uint8_t* p0 = r + x0[x];
            const std::uint8_t* p1 = r + x1[x];
            for (int c = 0; c < 3; ++c)
                h[c * nw + x] = p0[off[c]] + wx[x] * (p1[off[c]] - p0[off[c]]);
        }
        return h;
    };
    for (int y = 0; y < g.nh; ++y) {
        const double sy = std::min(std::max((y + 0.5) * fy - 0.5, 0.0), double(H - 1));
        const int y0 = int(sy), y1 = std::min(y0 + 1, H - 1);
        const float wy = float(sy - y0);
        const float* a = horizontal(y0);
        const float* b = horizontal(y1);
        for (int c = 0; c < 3; ++c) {
            float* d = dst[c] + std::size_t(y) * g.pw;
            const float* ac = a + c * nw;
            const float* bc = b + c * nw;
            for (int x = 0; x < nw; ++x) d[x] = ac[x] + wy * (bc[x] - ac[x]);
        }
    }
}

}  // namespace

DetectorInput Detector::prepare(const ImageView& img) const {
    const Geometry g = geometry(img, impl_->opt.max_side);
    DetectorInput in;
    in.width = g.pw, in.height = g.ph, in.scale_x = g.sx, in.scale_y = g.sy;
    const std::size_t plane = std::size_t(g.pw) * g.ph;
    in.chw.resize(3 * plane);
    float* const dst[3] = {in.chw.data(), in.chw.data() + plane, in.chw.data() + 2 * plane};
    fill(img, g, dst);
    return in;
}

std::vector<Face> Detector::detect(const ImageView& image) const {
    // Straight into the network's input tensor (no intermediate copy).
    const Geometry g = geometry(image, impl_->opt.max_side);
    Impl::Lease lease(*impl_);
    Impl::Pools& pools = lease.pools();
    std::vector<Face> faces;
    {
        ncnn::Mat x(g.pw, g.ph, 3, 4u, &pools.blob);
        if (x.empty()) throw OutOfMemory("out of memory for the detector input");
        float* const dst[3] = {x.channel(0), x.channel(1), x.channel(2)};
        fill(image, g, dst);
        faces = impl_->run(x, g.sx, g.sy, pools);
    }  // x goes back to the pool before the lease ends
    return faces;
}

std::vector<Face> Detector::detect_prepared(const DetectorInput& in) const {
    if (in.chw.size() != std::size_t(3) * in.width * in.height)
        throw InvalidInput("detector input holds " + std::to_string(in.chw.size()) +
                           " values, not 3 x " + std::to_string(in.height) + " x " +
                           std::to_string(in.width));
    return detect_prepared(in.chw.data(), in.width, in.height, in.scale_x, in.scale_y);
}

std::vector<Face> Detector::detect_prepared(const float* chw, int width, int height, float scale_x,
                                            float scale_y) const {
    if (!chw || width % 32 || height % 32 || width < 32 || height < 32)
        throw InvalidInput("detector input must be 3 x H x W with H, W multiples of 32, got " +
                           std::to_string(width) + "x" + std::to_string(height));
    if (!(scale_x > 0.f && scale_y > 0.f))
        throw InvalidInput("detector input scales must be positive");
    // The layers only read their input: wrap the caller's planes where they sit as an ncnn Mat
    // would put them (16-byte aligned; planes of a multiple of 32 x 32 pixels need no padding).
    const std::size_t plane = std::size_t(width) * height;
    Impl::Lease lease(*impl_);
    Impl::Pools& pools = lease.pools();
    std::vector<Face> faces;
    if (reinterpret_cast<std::uintptr_t>(chw) % 16 == 0) {
        const ncnn::Mat x(width, height, 3, const_cast<float*>(chw));
        faces = impl_->run(x, scale_x, scale_y, pools);
    } else {
        ncnn::Mat x(width, height, 3, 4u, &pools.blob);
        if (x.empty()) throw OutOfMemory("out of memory for the detector input");
        for (int c = 0; c < 3; ++c)
            std::memcpy(x.channel(c), chw + c * plane, sizeof(float) * plane);
        faces = impl_->run(x, scale_x, scale_y, pools);
    }
    return faces;
}

std::vector<Face> Detector::Impl::run(const ncnn::Mat& x, float scale_x, float scale_y,
                                      Pools& pools) const {
    ncnn::Extractor ex = net.create_extractor();
    ex.set_blob_allocator(&pools.blob);
    ex.set_workspace_allocator(&pools.work);
    if (ex.input("in0", x) != 0) throw Error("detector graph has no input blob");

    // A cell passes only if sigmoid(cls) and sigmoid(obj) both reach threshold^2 (each is at
    // most 1): cells whose logits fall short of that, less a margin for float rounding, are
    // skipped before any exp. The exact test below decides for the rest.
    const float t2 = opt.score_threshold * opt.score_threshold;
    const float min_logit = t2 > 0.f && t2 < 1.f ? std::log(t2 / (1.f - t2)) - 1e-3f : -HUGE_VALF;
    std::vector<Face> cand;
    for (int k = 0; k < 3; ++k) {
        ncnn::Mat packed, m;
        const int rc = ex.extract(kHeads[k], packed);
        if (rc == -100) throw OutOfMemory("out of memory while running the detector");
        if (rc != 0 || packed.empty())
            throw Error(std::string("detector graph has no output ") + kHeads[k]);
        if (packed.elempack != 1) {
            ncnn::Option o = net.opt;
            o.blob_allocator = &pools.blob;
            ncnn::convert_packing(packed, m, 1, o);
            if (m.empty()) throw OutOfMemory("out of memory while running the detector");
        } else {
            m = packed;
        }
        const int s = kStrides[k], rows = x.h / s, cols = x.w / s;
        if (m.w != cols || m.h != rows || m.c != kHeadChannels)
            throw Error("detector output " + std::string(kHeads[k]) + " has an unexpected shape");
        auto at = [&](int channel, int r, int c) { return m.channel(channel).row(r)[c]; };
        for (int r = 0; r < rows; ++r) {
            const float* cls_row = m.channel(kCls).row(r);
            const float* obj_row = m.channel(kObj).row(r);
            for (int c = 0; c < cols; ++c) {
                if (cls_row[c] < min_logit || obj_row[c] < min_logit) continue;
                const float cls = std::min(std::max(sigmoid(cls_row[c]), 0.f), 1.f);
                const float obj = std::min(std::max(sigmoid(obj_row[c]), 0.f), 1.f);
                const float score = std::sqrt(cls * obj);
                if (!(score >= opt.score_threshold)) continue;
                const float ax = float(c * s), ay = float(r * s);
                const float cx = at(kBox, r, c) * s + ax;
                const float cy = at(kBox + 1, r, c) * s + ay;
                const float w = std::exp(at(kBox + 2, r, c)) * s;
                const float h = std::exp(at(kBox + 3, r, c)) * s;
                Face f;
                f.confidence = score;
                f.x = (cx - 0.5f * w) / scale_x;
                f.y = (cy - 0.5f * h) / scale_y;
                f.w = w / scale_x;
                f.h = h / scale_y;
                for (int p = 0; p < 5; ++p) {
                    f.landmarks.xy[2 * p] = (at(kKps + 2 * p, r, c) * s + ax) / scale_x;
                    f.landmarks.xy[2 * p + 1] = (at(kKps + 2 * p + 1, r, c) * s + ay) / scale_y;
                }
                if (!(std::max(f.w, f.h) >= opt.min_face)) continue;
                cand.push_back(f);
            }
        }
    }
    // Greedy NMS: strongest first (ties: the order found), at most top_k candidates.
    std::vector<std::size_t> order(cand.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return cand[a].confidence > cand[b].confidence;
    });
    if (order.size() > std::size_t(opt.top_k)) order.resize(opt.top_k);
    std::vector<Face> kept;
    for (std::size_t i : order) {
        bool ok = true;
        for (const Face& f : kept)
            if (iou(cand[i], f) > opt.nms_threshold) {
                ok = false;
                break;
            }
        if (ok) kept.push_back(cand[i]);
    }
    std::stable_sort(kept.begin(), kept.end(),
                     [](const Face& a, const Face& b) { return a.w * a.h > b.w * b.h; });
    return kept;
}

}  // namespace tinyfq
