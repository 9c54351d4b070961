// The quality net's fused layers (tinyFQnet): TinyfqConv3x3 (the stem), TinyfqBlock (an
// inverted residual block in one call) and TinyfqHead (the score). Their parameters and weights:
// fused_layers.cpp.
#include "fused_layers.h"

#include <cmath>
#include <cstring>

namespace tinyfq {
namespace fused {
namespace layers {
namespace {

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
        ncnn::Mat work = workspace(conv3x3_work(cin_, ho, wo), opt);
        if (out.empty() || work.empty()) return -100;
        best_kernels().conv3x3(in, cin_, in.cstep, in.h, in.w, stride_, w_, b_, cout_, out,
                               out.cstep, work, 0, ho);
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
        ncnn::Mat work = workspace(ps * hidden_ + ms * hidden_, opt);
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

}  // namespace

void register_net_layers(ncnn::Net& net) {
    net.register_custom_layer("TinyfqConv3x3", create<Conv3x3>);
    net.register_custom_layer("TinyfqBlock", create<Block>);
    net.register_custom_layer("TinyfqHead", create<Head>);
}

}  // namespace layers
}  // namespace fused
}  // namespace tinyfq
