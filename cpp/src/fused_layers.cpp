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
//
// Weights follow ncnn's convention: each weight array with a 4-byte type tag (fp32 written by
// the exporter), each bias raw. Inputs and outputs are fp32 with elempack 1 (the layers leave
// support_packing off, so ncnn unpacks for them).
#include "fused.h"
#include "internal.h"

#include <cmath>
#include <cstring>

#include <layer.h>
#include <net.h>

namespace tinyfq {
namespace fused {

const Kernels& best_kernels() {
    if (detail::force_reference()) return reference_kernels();
#if defined(__x86_64__) || defined(_M_X64)
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2) return avx2_kernels();
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
        return cout_ > 0 && cin_ > 0 && (stride_ == 1 || stride_ == 2) ? 0 : -1;
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
        if (cin_ <= 0 || hidden_ <= 0 || cout_ <= 0 || (stride_ != 1 && stride_ != 2)) return -1;
        if (residual_ && (stride_ != 1 || cin_ != cout_)) return -1;   // shapes must match
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
        k.conv1x1(in, cin_, in.cstep, h, w, we_, be_, hidden_, pad + rs + 1, ps, rs, nullptr, 0);
        k.dw3x3(pad, ps, h, w, stride_, wd_, bd_, hidden_, mid, ms);
        create_planar(out, wo, ho, cout_, opt.blob_allocator);
        if (out.empty()) return -100;
        k.conv1x1(mid, hidden_, ms, ho, wo, wp_, bp_, cout_, out, out.cstep, wo,
                  residual_ ? static_cast<const float*>(in) : nullptr, in.cstep);
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
        return cin_ > 0 && mid_ > 0 ? 0 : -1;
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
        const float logit = best_kernels().head(in, cin_, in.cstep, in.w * in.h, wc_, bc_, mid_,
                                                wf_, bf_[0]);
        out.create(1, 4u, opt.blob_allocator);
        if (out.empty()) return -100;
        out[0] = 1.f / (1.f + std::exp(-logit));
        return 0;
    }

private:
    int cin_ = 0, mid_ = 0;
    ncnn::Mat wc_, bc_, wf_, bf_;
};

template <class L>
ncnn::Layer* create(void*) {
    return new L;
}

}  // namespace

void register_layers(ncnn::Net& net) {
    net.register_custom_layer("TinyfqConv3x3", create<Conv3x3>);
    net.register_custom_layer("TinyfqBlock", create<Block>);
    net.register_custom_layer("TinyfqHead", create<Head>);
}

}  // namespace fused
}  // namespace tinyfq
