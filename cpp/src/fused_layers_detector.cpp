// The detector's fused layers (YuNet, converted by scripts/convert_yunet.py): TinyfqPwDw (runs
// of 1x1 -> depthwise 3x3 units, band by band, with the stem and the 2x2 pooling folded in),
// TinyfqUpAdd (the pyramid merge) and TinyfqMaxPool2. Their parameters and weights:
// fused_layers.cpp.
#include "fused_layers.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tinyfq {
namespace fused {
namespace layers {
namespace {

// 2 x 2 max pooling, stride 2, of c planar h x w maps (h, w even) into c planar maps.
void max_pool2(const float* in, std::size_t in_cs, int h, int w, int c, float* out,
               std::size_t out_cs) {
    const int wo = w / 2, ho = h / 2;
    for (int ch = 0; ch < c; ++ch) {
        const float* p = in + ch * in_cs;
        float* o = out + ch * out_cs;
        for (int y = 0; y < ho; ++y) {
            const float* r0 = p + 2 * y * w;
            const float* r1 = r0 + w;
            float* d = o + y * wo;
            for (int x = 0; x < wo; ++x)
                d[x] = std::max(std::max(r0[2 * x], r0[2 * x + 1]),
                                std::max(r1[2 * x], r1[2 * x + 1]));
        }
    }
}

class PwDw : public ncnn::Layer {
public:
    PwDw() { one_blob_only = true; }

    int load_param(const ncnn::ParamDict& pd) override {
        Unit first;
        first.cin = pd.get(0, 0), first.cout = pd.get(1, 0), first.relu = pd.get(2, 1) != 0;
        units_.assign(1, first);
        // 6: the units after the first, (cin, cout, relu) each, run as one chain
        const ncnn::Mat more = pd.get(6, ncnn::Mat());
        if (!more.empty()) {
            if (pd.type(6) != 5 || more.w % 3 || more.w / 3 > kMaxUnits) return -1;
            const int* v = static_cast<const int*>(more.data);
            for (int i = 0; i < more.w; i += 3) {
                Unit u;
                u.cin = v[i], u.cout = v[i + 1], u.relu = v[i + 2] != 0;
                if (u.cin != units_.back().cout) return -1;
                units_.push_back(u);
            }
        }
        pool_ = pd.get(3, 0);
        stem_cin_ = pd.get(4, 0), stem_stride_ = pd.get(5, 1);
        one_blob_only = pool_ != 2;  // 2: two outputs, the map and its pooled map
        for (const Unit& u : units_)
            if (!channels_ok(u.cin) || !channels_ok(u.cout)) return -1;
        return pool_ >= 0 && pool_ <= 2 && (stem_cin_ == 0 || channels_ok(stem_cin_)) &&
                       (stem_stride_ == 1 || stem_stride_ == 2)
                   ? 0
                   : -1;
    }
    int load_model(const ncnn::ModelBin& mb) override {
        const int cin = units_[0].cin;
        if (stem_cin_) {
            ws_ = mb.load(cin * stem_cin_ * 9, 0);
            bs_ = mb.load(cin, 1);
            if (ws_.empty() || bs_.empty()) return -100;
        }
        for (Unit& u : units_) {
            u.wp = mb.load(u.cout * u.cin, 0);
            u.bp = mb.load(u.cout, 1);
            u.wd = mb.load(u.cout * 9, 0);
            u.bd = mb.load(u.cout, 1);
            for (const ncnn::Mat* m : {&u.wp, &u.bp, &u.wd, &u.bd})
                if (m->empty()) return -100;
        }
        return 0;
    }
    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        ncnn::Mat none;
        return pool_ == 1 ? run(in, none, &out, opt) : run(in, out, nullptr, opt);
    }
    int forward(const std::vector<ncnn::Mat>& in, std::vector<ncnn::Mat>& out,
                const ncnn::Option& opt) const override {
        if (in.size() != 1 || out.size() != 2) return -1;
        return run(in[0], out[0], &out[1], opt);
    }

private:
    struct Unit {
        int cin = 0, cout = 0;
        bool relu = true;
        ncnn::Mat wp, bp, wd, bd;
    };
    static constexpr int kMaxUnits = 64;
    // The budget for a band of 1x1 output (the depthwise's input): well inside a core's L2.
    static constexpr std::size_t kBandBytes = 192 * 1024;

    // The last unit's map into `full` unless pooled is set and full is not wanted (pool_ == 1),
    // its 2 x 2 max pooling into *pooled when set.
    int run(const ncnn::Mat& in, ncnn::Mat& full, ncnn::Mat* pooled,
            const ncnn::Option& opt) const {
        if (!is_planar_fp32(in, stem_cin_ ? stem_cin_ : units_[0].cin)) return -1;
        // with a stem, the first 1x1's input is the stem's output
        const int h = stem_cin_ ? out_size(in.h, stem_stride_) : in.h;
        const int w = stem_cin_ ? out_size(in.w, stem_stride_) : in.w;
        const int cout = units_.back().cout;
        if (pooled) {
            if (h % 2 || w % 2) return -1;
            create_planar(*pooled, w / 2, h / 2, cout, opt.blob_allocator);
            if (pooled->empty()) return -100;
        }
        if (pool_ != 1) {
            create_planar(full, w, h, cout, opt.blob_allocator);
            if (full.empty()) return -100;
        }
        return w % 8 ? run_flat(in, h, w, full, pooled, opt)
                     : run_bands(in, h, w, full, pooled, opt);
    }

    // Widths that are not a multiple of 8 (the coarse levels of most input sizes): unit by
    // unit on whole maps; each 1x1 runs on flat planes, whole vectors across rows, with a zero
    // row's worth before and after each, and its depthwise reads them as they are.
    int run_flat(const ncnn::Mat& in, int h, int w, ncnn::Mat& full, ncnn::Mat* pooled,
                 const ncnn::Option& opt) const {
        const Kernels& k = best_kernels();
        ncnn::Mat src = in;
        if (stem_cin_) {  // the whole stem output first
            ncnn::Mat stem, cw = workspace(conv3x3_work(stem_cin_, h, w), opt);
            create_planar(stem, w, h, units_[0].cin, opt.workspace_allocator);
            if (stem.empty() || cw.empty()) return -100;
            k.conv3x3(in, stem_cin_, in.cstep, in.h, in.w, stem_stride_, ws_, bs_, units_[0].cin,
                      stem, stem.cstep, cw, 0, h);
            src = stem;
        }
        const std::size_t n = std::size_t(h) * w, lead = (std::size_t(w) + 1 + 15) / 16 * 16;
        const std::size_t ps = plane_stride(lead + n + w + 1);
        const std::size_t masks = (dw3x3_flat_work(w) + 15) / 16 * 16;  // ints in floats' room
        for (std::size_t i = 0; i < units_.size(); ++i) {
            const Unit& u = units_[i];
            ncnn::Mat work = workspace(ps * u.cout + masks, opt);
            if (work.empty()) return -100;
            float* planes = work;
            for (int c = 0; c < u.cout; ++c) {
                float* p = planes + c * ps;
                std::memset(p, 0, sizeof(float) * lead);
                std::memset(p + lead + n, 0, sizeof(float) * (w + 1));
            }
            k.conv1x1(src, u.cin, src.cstep, h, w, u.wp, u.bp, u.cout, planes + lead, ps, w,
                      nullptr, 0, false);
            ncnn::Mat dst = i + 1 == units_.size() && pool_ != 1 ? full : ncnn::Mat();
            if (dst.empty()) {
                create_planar(dst, w, h, u.cout, opt.workspace_allocator);
                if (dst.empty()) return -100;
            }
            k.dw3x3_flat(planes + lead, ps, h, w, u.wd, u.bd, u.cout, dst, dst.cstep, u.relu,
                         reinterpret_cast<int*>(planes + ps * u.cout));
            src = dst;
        }
        if (pooled) max_pool2(src, src.cstep, h, w, units_.back().cout, *pooled, pooled->cstep);
        return 0;
    }

    // Widths that are a multiple of 8: all units at once, band by band of rows. Each unit's
    // 1x1 writes a window of zero-bordered rows that its depthwise reads, and the depthwise's
    // rows go straight into the next unit's 1x1 (or out), so no whole map of the chain leaves
    // the core's cache. A unit's output row y needs its 1x1 rows y - 1 .. y + 1, so each unit
    // runs a row behind the one before; the two rows a window shares with its next band move
    // to its top instead of being computed again.
    int run_bands(const ncnn::Mat& in, int h, int w, ncnn::Mat& full, ncnn::Mat* pooled,
                  const ncnn::Option& opt) const {
        const Kernels& k = best_kernels();
        const int nu = int(units_.size()), rs = w + 2;
        int cmax = 0;  // planes a window or queue may hold
        for (const Unit& u : units_) cmax = std::max({cmax, u.cin, u.cout});
        const std::size_t row_bytes = sizeof(float) * rs * cmax;
        // R new rows a band; the window holds them and the two rows above
        const int R = std::min(
            h,
            std::max(2, (int(std::min<std::size_t>(kBandBytes / row_bytes, 1 << 16)) - 2) / 2 * 2));
        // window rows (the row above, R new ones, one more, the zero row below the image);
        // rows a unit's output queue holds
        const int cap = R + 3, tcap = R + 4;
        const std::size_t ps = plane_stride(std::size_t(rs) * cap);
        const std::size_t ts = plane_stride(std::size_t(tcap) * w);
        std::size_t floats = ps * cmax * nu + ts * cmax * nu;
        if (stem_cin_) floats += conv3x3_work(stem_cin_, h, w);
        ncnn::Mat work = workspace(floats, opt);
        if (work.empty()) return -100;
        // unit i: window at win[i] (rows from image row top[i]: -1 is the zero row above), 1x1
        // rows computed [0, have[i]), output rows made [0, made[i]); for i < last, its output
        // queue at q[i] holds rows [qtop[i], made[i]). The last unit writes out, so its queue's
        // room holds the stem's rows instead, as the first unit takes them.
        std::vector<float*> win(nu), q(nu);
        std::vector<int> top(nu, -1), have(nu, 0), made(nu, 0), qtop(nu, 0);
        float* p = work;
        for (int i = 0; i < nu; ++i) win[i] = p, p += ps * cmax;
        for (int i = 0; i < nu; ++i) q[i] = p, p += ts * cmax;
        float* const stem_rows = q[nu - 1];
        float* stem_work = p;
        for (int i = 0; i < nu; ++i)
            for (int c = 0; c < units_[i].cout; ++c) {  // the zero border: the top row, both sides
                float* b = win[i] + c * ps;
                std::memset(b, 0, sizeof(float) * rs);
                for (int y = 1; y < cap; ++y) b[y * rs] = b[y * rs + w + 1] = 0.f;
            }
        const int last = nu - 1;
        while (made[last] < h) {
            bool moved = false;  // some unit took input rows or made output rows this sweep
            for (int i = 0; i < nu; ++i) {
                const Unit& u = units_[i];
                // 1. the 1x1 of the input rows this unit has room for
                const int avail = i == 0 ? h : made[i - 1];
                const int n_in = std::min(avail - have[i], cap - 1 - (have[i] - top[i]));
                if (n_in > 0) {
                    const float* src;
                    std::size_t src_cs;
                    if (i > 0) {
                        src = q[i - 1] + std::size_t(have[i] - qtop[i - 1]) * w, src_cs = ts;
                    } else if (stem_cin_) {
                        k.conv3x3(in, stem_cin_, in.cstep, in.h, in.w, stem_stride_, ws_, bs_,
                                  u.cin, stem_rows, ts, stem_work, have[0], have[0] + n_in);
                        src = stem_rows, src_cs = ts;
                    } else {
                        src = static_cast<const float*>(in) + std::size_t(have[0]) * w;
                        src_cs = in.cstep;
                    }
                    k.conv1x1(src, u.cin, src_cs, n_in, w, u.wp, u.bp, u.cout,
                              win[i] + (have[i] - top[i]) * rs + 1, ps, rs, nullptr, 0, false);
                    have[i] += n_in;
                    moved = true;
                    if (i > 0) {  // the rows taken leave the queue before it
                        const int keep = made[i - 1] - have[i];
                        for (int c = 0; c < u.cin && keep > 0; ++c)
                            std::memmove(q[i - 1] + c * ts,
                                         q[i - 1] + c * ts + (have[i] - qtop[i - 1]) * w,
                                         sizeof(float) * keep * w);
                        qtop[i - 1] = have[i];
                    }
                    if (have[i] == h)  // below the image: zeros
                        for (int c = 0; c < u.cout; ++c)
                            std::memset(win[i] + c * ps + (h - top[i]) * rs, 0, sizeof(float) * rs);
                }
                // 2. the depthwise of every row whose 1x1 neighbours are there, within the
                //    room of the output queue; pooled: pairs of rows
                int lim = have[i] == h ? h : have[i] - 1;
                if (i < last) lim = std::min(lim, qtop[i] + tcap);
                if (i == last && pooled && lim < h) lim = made[i] + (lim - made[i]) / 2 * 2;
                const int n_out = lim - made[i];
                if (n_out <= 0) continue;
                moved = true;
                const float* wrow = win[i] + (made[i] - 1 - top[i]) * rs;
                if (i < last) {
                    k.dw3x3(wrow, ps, n_out, w, 1, u.wd, u.bd, u.cout,
                            q[i] + std::size_t(made[i] - qtop[i]) * w, ts, u.relu);
                } else {
                    float* f =
                        pool_ != 1 ? static_cast<float*>(full) + std::size_t(made[i]) * w : nullptr;
                    if (pooled)
                        k.dw3x3_pool(
                            wrow, ps, n_out, w, u.wd, u.bd, u.cout, f, pool_ != 1 ? full.cstep : 0,
                            static_cast<float*>(*pooled) + std::size_t(made[i] / 2) * (w / 2),
                            pooled->cstep, u.relu);
                    else
                        k.dw3x3(wrow, ps, n_out, w, 1, u.wd, u.bd, u.cout, f, full.cstep, u.relu);
                }
                made[i] = lim;
                // 3. the window keeps the rows from made - 1 on (the next output row's top)
                const int drop = made[i] - 1 - top[i];
                if (drop > 0) {
                    const int rows = have[i] - top[i] - drop + (have[i] == h ? 1 : 0);
                    for (int c = 0; c < u.cout; ++c)
                        std::memmove(win[i] + c * ps, win[i] + c * ps + drop * rs,
                                     sizeof(float) * rows * rs);
                    top[i] += drop;
                }
            }
            // no unit moved on: never so for a valid shape, but never loop for one that is not
            if (!moved) return -1;
        }
        return 0;
    }

    std::vector<Unit> units_;
    int pool_ = 0, stem_cin_ = 0, stem_stride_ = 1;
    ncnn::Mat ws_, bs_;
};

class UpAdd : public ncnn::Layer {
public:
    UpAdd() { one_blob_only = false; }

    int forward(const std::vector<ncnn::Mat>& in, std::vector<ncnn::Mat>& out,
                const ncnn::Option& opt) const override {
        if (in.size() != 2 || out.size() != 1) return -1;
        const ncnn::Mat& fine = in[0];
        const ncnn::Mat& coarse = in[1];
        if (!is_planar_fp32(fine, fine.c) || !is_planar_fp32(coarse, fine.c) ||
            coarse.w * 2 != fine.w || coarse.h * 2 != fine.h)
            return -1;
        ncnn::Mat& o = out[0];
        create_planar(o, fine.w, fine.h, fine.c, opt.blob_allocator);
        if (o.empty()) return -100;
        const int w = fine.w, h = fine.h;
        for (int c = 0; c < fine.c; ++c) {
            const float* f = fine.channel(c);
            const float* q = coarse.channel(c);
            float* d = o.channel(c);
            for (int y = 0; y < h; ++y) {
                const float* fr = f + y * w;
                const float* qr = q + (y / 2) * (w / 2);
                float* dr = d + y * w;
                for (int x = 0; x < w / 2; ++x) {
                    dr[2 * x] = fr[2 * x] + qr[x];
                    dr[2 * x + 1] = fr[2 * x + 1] + qr[x];
                }
            }
        }
        return 0;
    }
};

class MaxPool2 : public ncnn::Layer {
public:
    MaxPool2() { one_blob_only = true; }

    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        if (!is_planar_fp32(in, in.c) || in.w % 2 || in.h % 2) return -1;
        const int wo = in.w / 2, ho = in.h / 2;
        create_planar(out, wo, ho, in.c, opt.blob_allocator);
        if (out.empty()) return -100;
        max_pool2(in, in.cstep, in.h, in.w, in.c, out, out.cstep);
        return 0;
    }
};

}  // namespace

void register_detector_layers(ncnn::Net& net) {
    net.register_custom_layer("TinyfqPwDw", create<PwDw>);
    net.register_custom_layer("TinyfqUpAdd", create<UpAdd>);
    net.register_custom_layer("TinyfqMaxPool2", create<MaxPool2>);
}

}  // namespace layers
}  // namespace fused
}  // namespace tinyfq
