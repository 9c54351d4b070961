// Custom ncnn layers for the exporter's "fused" model format. ncnn stays the runtime (graph,
// blob memory, extractors, threads); each layer runs a whole stage of tinyFQnet in one call:
//
//   TinyfqConv3x3  0=cout 1=cin 2=stride        dense 3x3 conv, pad 1, + bias + ReLU (the stem)
//   TinyfqBlock    0=cin 1=hidden 2=cout 3=stride 4=residual
//                  1x1 expand + ReLU -> depthwise 3x3 (stride) + ReLU -> 1x1 project + ReLU
//                  (+ the block input when residual); the expanded and depthwise tensors live
//                  in a small workspace that stays in cache instead of two ncnn blobs
//   TinyfqHead     0=cin 1=mid                  1x1 conv + ReLU, global average, linear unit,
//                                               sigmoid: one score
//   TinyfqPwDw     0=cin 1=cout 2=relu          1x1 conv (linear) -> depthwise 3x3, stride 1
//                                               (+ ReLU when relu): the YuNet detector's unit
//                                               (scripts/convert_yunet.py), the 1x1 output in
//                                               the workspace instead of an ncnn blob
//   TinyfqUpAdd    (two inputs: fine, coarse)   fine + the coarse map upsampled x2 (nearest):
//                                               YuNet's feature pyramid merge, one pass
//   TinyfqMaxPool2                              2x2 max pooling, stride 2 (even sizes)
//
// Weights follow ncnn's convention: each weight array with a 4-byte type tag (fp32 written by
// the exporter), each bias raw. Inputs and outputs are fp32 with elempack 1 (the layers leave
// support_packing off, so ncnn unpacks for them).
#include "fused.h"
#include "internal.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <layer.h>
#include <net.h>

namespace tinyfq {
namespace fused {

const Kernels& best_kernels() {
    if (detail::force_reference()) return reference_kernels();
#if defined(__x86_64__) || defined(_M_X64)
    if (detail::cpu_has_avx2_fma()) return avx2_kernels();
#endif
    return generic_kernels();
}

namespace {

bool is_planar_fp32(const ncnn::Mat& m, int c) {
    return m.dims == 3 && m.c == c && m.elempack == 1 && m.elemsize == 4u && m.w > 0 && m.h > 0;
}

// Planes whose size is a multiple of 4 KB put the same pixel of every plane in one L1 set
// (8 ways: 11 planes thrash): give such planes 64 bytes of slack. Multiples of 16 floats keep
// every plane 64-byte aligned.
std::size_t plane_stride(std::size_t n) {
    n = (n + 15) / 16 * 16;
    return n % 1024 == 0 ? n + 16 : n;
}

// Channel counts a graph may give a fused layer: positive and small enough that every weight
// count (at most cout * cin * 9) fits an int, so a hostile .param cannot overflow it.
constexpr int kMaxChannels = 4096;
bool channels_ok(int c) { return c > 0 && c <= kMaxChannels; }

// A w x h x c fp32 blob with channel stride plane_stride(w * h) (ncnn keeps cstep as created).
void create_planar(ncnn::Mat& m, int w, int h, int c, ncnn::Allocator* a) {
    m.create(int(plane_stride(std::size_t(w) * h)), 1, c, 4u, a);
    if (!m.empty()) m.w = w, m.h = h;
}

class Conv3x3 : public ncnn::Layer {
public:
    Conv3x3() { one_blob_only = true; }

    int load_param(const ncnn::ParamDict& pd) override {
        cout_ = pd.get(0, 0), cin_ = pd.get(1, 0), stride_ = pd.get(2, 1);
        return channels_ok(cout_) && channels_ok(cin_) && (stride_ == 1 || stride_ == 2) ? 0 : -1;
    }
    int load_model(const ncnn::ModelBin& mb) override {
        w_ = mb.load(cout_ * cin_ * 9, 0);
        b_ = mb.load(cout_, 1);
        return w_.empty() || b_.empty() ? -100 : 0;
    }
    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        if (!is_planar_fp32(in, cin_)) return -1;
        const int wo = out_size(in.w, stride_), ho = out_size(in.h, stride_);
        create_planar(out, wo, ho, cout_, opt.blob_allocator);
        ncnn::Mat work(int(conv3x3_work(cin_, ho, wo)), 4u, opt.workspace_allocator);
        if (out.empty() || work.empty()) return -100;
        best_kernels().conv3x3(in, cin_, in.cstep, in.h, in.w, stride_, w_, b_, cout_, out,
                               out.cstep, work);
        return 0;
    }

private:
    int cout_ = 0, cin_ = 0, stride_ = 1;
    ncnn::Mat w_, b_;
};

class Block : public ncnn::Layer {
public:
    Block() { one_blob_only = true; }

    int load_param(const ncnn::ParamDict& pd) override {
        cin_ = pd.get(0, 0), hidden_ = pd.get(1, 0), cout_ = pd.get(2, 0);
        stride_ = pd.get(3, 1), residual_ = pd.get(4, 0) != 0;
        if (!channels_ok(cin_) || !channels_ok(hidden_) || !channels_ok(cout_) ||
            (stride_ != 1 && stride_ != 2))
            return -1;
        if (residual_ && (stride_ != 1 || cin_ != cout_)) return -1;  // shapes must match
        return 0;
    }
    int load_model(const ncnn::ModelBin& mb) override {
        we_ = mb.load(hidden_ * cin_, 0);
        be_ = mb.load(hidden_, 1);
        wd_ = mb.load(hidden_ * 9, 0);
        bd_ = mb.load(hidden_, 1);
        wp_ = mb.load(cout_ * hidden_, 0);
        bp_ = mb.load(cout_, 1);
        for (const ncnn::Mat* m : {&we_, &be_, &wd_, &bd_, &wp_, &bp_})
            if (m->empty()) return -100;
        return 0;
    }
    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        if (!is_planar_fp32(in, cin_)) return -1;
        const Kernels& k = best_kernels();
        const int h = in.h, w = in.w, ho = out_size(h, stride_), wo = out_size(w, stride_);
        // expand -> the inside of a zero-bordered (h + 2) x (w + 2) plane per hidden channel
        const int rs = w + 2;
        const std::size_t ps = plane_stride(std::size_t(rs) * (h + 2));
        const std::size_t ms = plane_stride(std::size_t(ho) * wo);
        ncnn::Mat work(int(ps * hidden_ + ms * hidden_), 4u, opt.workspace_allocator);
        if (work.empty()) return -100;
        float* pad = work;
        float* mid = pad + ps * hidden_;
        for (int c = 0; c < hidden_; ++c) {
            float* p = pad + c * ps;
            std::memset(p, 0, sizeof(float) * rs);
            std::memset(p + (h + 1) * rs, 0, sizeof(float) * rs);
            for (int y = 1; y <= h; ++y) p[y * rs] = p[y * rs + w + 1] = 0.f;
        }
        k.conv1x1(in, cin_, in.cstep, h, w, we_, be_, hidden_, pad + rs + 1, ps, rs, nullptr, 0,
                  true);
        k.dw3x3(pad, ps, h, w, stride_, wd_, bd_, hidden_, mid, ms, true);
        create_planar(out, wo, ho, cout_, opt.blob_allocator);
        if (out.empty()) return -100;
        k.conv1x1(mid, hidden_, ms, ho, wo, wp_, bp_, cout_, out, out.cstep, wo,
                  residual_ ? static_cast<const float*>(in) : nullptr, in.cstep, true);
        return 0;
    }

private:
    int cin_ = 0, hidden_ = 0, cout_ = 0, stride_ = 1;
    bool residual_ = false;
    ncnn::Mat we_, be_, wd_, bd_, wp_, bp_;
};

class Head : public ncnn::Layer {
public:
    Head() { one_blob_only = true; }

    int load_param(const ncnn::ParamDict& pd) override {
        cin_ = pd.get(0, 0), mid_ = pd.get(1, 0);
        return channels_ok(cin_) && channels_ok(mid_) ? 0 : -1;
    }
    int load_model(const ncnn::ModelBin& mb) override {
        wc_ = mb.load(mid_ * cin_, 0);
        bc_ = mb.load(mid_, 1);
        wf_ = mb.load(mid_, 0);
        bf_ = mb.load(1, 1);
        for (const ncnn::Mat* m : {&wc_, &bc_, &wf_, &bf_})
            if (m->empty()) return -100;
        return 0;
    }
    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        if (!is_planar_fp32(in, cin_)) return -1;
        const float logit =
            best_kernels().head(in, cin_, in.cstep, in.w * in.h, wc_, bc_, mid_, wf_, bf_[0]);
        out.create(1, 4u, opt.blob_allocator);
        if (out.empty()) return -100;
        out[0] = 1.f / (1.f + std::exp(-logit));
        return 0;
    }

private:
    int cin_ = 0, mid_ = 0;
    ncnn::Mat wc_, bc_, wf_, bf_;
};

class PwDw : public ncnn::Layer {
public:
    PwDw() { one_blob_only = true; }

    int load_param(const ncnn::ParamDict& pd) override {
        cin_ = pd.get(0, 0), cout_ = pd.get(1, 0), relu_ = pd.get(2, 1) != 0;
        return channels_ok(cin_) && channels_ok(cout_) ? 0 : -1;
    }
    int load_model(const ncnn::ModelBin& mb) override {
        wp_ = mb.load(cout_ * cin_, 0);
        bp_ = mb.load(cout_, 1);
        wd_ = mb.load(cout_ * 9, 0);
        bd_ = mb.load(cout_, 1);
        for (const ncnn::Mat* m : {&wp_, &bp_, &wd_, &bd_})
            if (m->empty()) return -100;
        return 0;
    }
    int forward(const ncnn::Mat& in, ncnn::Mat& out, const ncnn::Option& opt) const override {
        if (!is_planar_fp32(in, cin_)) return -1;
        const Kernels& k = best_kernels();
        const int h = in.h, w = in.w, rs = w + 2;
        const std::size_t ps = plane_stride(std::size_t(rs) * (h + 2));
        // Widths that are not a multiple of 8 (the coarse levels of most input sizes): the 1x1
        // runs on contiguous planes, whole vectors across rows, and its rows are copied into
        // the bordered planes; otherwise it writes into them directly.
        const bool flat = w % 8 != 0 && h > 1;
        const std::size_t fs = flat ? plane_stride(std::size_t(h) * w) : 0;
        ncnn::Mat work(int(ps * cout_ + fs * cout_), 4u, opt.workspace_allocator);
        if (work.empty()) return -100;
        float* pad = work;
        for (int c = 0; c < cout_; ++c) {  // the zero border around each 1x1 output plane
            float* p = pad + c * ps;
            std::memset(p, 0, sizeof(float) * rs);
            std::memset(p + (h + 1) * rs, 0, sizeof(float) * rs);
            for (int y = 1; y <= h; ++y) p[y * rs] = p[y * rs + w + 1] = 0.f;
        }
        if (flat) {
            float* tmp = pad + ps * cout_;
            k.conv1x1(in, cin_, in.cstep, h, w, wp_, bp_, cout_, tmp, fs, w, nullptr, 0, false);
            for (int c = 0; c < cout_; ++c)
                for (int y = 0; y < h; ++y)
                    std::memcpy(pad + c * ps + (y + 1) * rs + 1, tmp + c * fs + y * w,
                                sizeof(float) * w);
        } else {
            k.conv1x1(in, cin_, in.cstep, h, w, wp_, bp_, cout_, pad + rs + 1, ps, rs, nullptr, 0,
                      false);
        }
        create_planar(out, w, h, cout_, opt.blob_allocator);
        if (out.empty()) return -100;
        k.dw3x3(pad, ps, h, w, 1, wd_, bd_, cout_, out, out.cstep, relu_);
        return 0;
    }

private:
    int cin_ = 0, cout_ = 0;
    bool relu_ = true;
    ncnn::Mat wp_, bp_, wd_, bd_;
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
        const int w = in.w, wo = in.w / 2, ho = in.h / 2;
        create_planar(out, wo, ho, in.c, opt.blob_allocator);
        if (out.empty()) return -100;
        for (int c = 0; c < in.c; ++c) {
            const float* p = in.channel(c);
            float* o = out.channel(c);
            for (int y = 0; y < ho; ++y) {
                const float* r0 = p + 2 * y * w;
                const float* r1 = r0 + w;
                float* d = o + y * wo;
                for (int x = 0; x < wo; ++x)
                    d[x] = std::max(std::max(r0[2 * x], r0[2 * x + 1]),
                                    std::max(r1[2 * x], r1[2 * x + 1]));
            }
        }
        return 0;
    }
};

template <class L>
ncnn::Layer* create(void*) {
    return new L;
}

}  // namespace

void prepare_net(ncnn::Net& net, bool fp16) {
    net.opt.use_vulkan_compute = false;
    net.opt.num_threads = 1;
    net.opt.lightmode = true;
    net.opt.use_fp16_storage = fp16;
    net.opt.use_fp16_packed = fp16;
    net.opt.use_fp16_arithmetic = fp16;
    net.opt.use_bf16_storage = false;
    net.opt.use_int8_inference = false;
    register_layers(net);
}

void register_layers(ncnn::Net& net) {
    net.register_custom_layer("TinyfqConv3x3", create<Conv3x3>);
    net.register_custom_layer("TinyfqBlock", create<Block>);
    net.register_custom_layer("TinyfqHead", create<Head>);
    net.register_custom_layer("TinyfqPwDw", create<PwDw>);
    net.register_custom_layer("TinyfqUpAdd", create<UpAdd>);
    net.register_custom_layer("TinyfqMaxPool2", create<MaxPool2>);
}

}  // namespace fused
}  // namespace tinyfq
