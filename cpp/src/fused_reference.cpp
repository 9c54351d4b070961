// Scalar reference twins of the fused kernels (fused.h): direct loops, no tiling, no SIMD.
#include "fused.h"

#include <algorithm>
#include <vector>

namespace tinyfq {
namespace fused {
namespace {

inline float relu(float v) { return v > 0.f ? v : 0.f; }

void conv3x3(const float* in, int cin, std::size_t in_cs, int h, int w, int stride, const float* wt,
             const float* bias, int cout, float* out, std::size_t out_cs, float* /*work*/, int y0,
             int y1) {
    const int wo = out_size(w, stride);
    for (int co = 0; co < cout; ++co)
        for (int y = y0; y < y1; ++y)
            for (int x = 0; x < wo; ++x) {
                float s = bias[co];
                for (int ci = 0; ci < cin; ++ci)
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            const int iy = y * stride + ky - 1, ix = x * stride + kx - 1;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            s += wt[((co * cin + ci) * 3 + ky) * 3 + kx] *
                                 in[ci * in_cs + iy * w + ix];
                        }
                out[co * out_cs + (y - y0) * wo + x] = relu(s);
            }
}

void conv1x1(const float* in, int cin, std::size_t in_cs, int h, int w, const float* wt,
             const float* bias, int cout, float* out, std::size_t out_cs, int out_rs,
             const float* res, std::size_t res_cs, bool act) {
    for (int co = 0; co < cout; ++co)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                float s = bias[co];
                for (int ci = 0; ci < cin; ++ci)
                    s += wt[co * cin + ci] * in[ci * in_cs + y * w + x];
                if (act) s = relu(s);
                if (res) s += res[co * res_cs + y * w + x];
                out[co * out_cs + y * out_rs + x] = s;
            }
}

void dw3x3(const float* in, std::size_t in_cs, int h, int w, int stride, const float* wt,
           const float* bias, int c, float* out, std::size_t out_cs, bool act) {
    const int ho = out_size(h, stride), wo = out_size(w, stride), rs = w + 2;
    for (int ch = 0; ch < c; ++ch)
        for (int y = 0; y < ho; ++y)
            for (int x = 0; x < wo; ++x) {
                float s = bias[ch];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx)
                        s += wt[ch * 9 + ky * 3 + kx] *
                             in[ch * in_cs + (y * stride + ky) * rs + x * stride + kx];
                out[ch * out_cs + y * wo + x] = act ? relu(s) : s;
            }
}

void dw3x3_pool(const float* in, std::size_t in_cs, int h, int w, const float* wt,
                const float* bias, int c, float* out, std::size_t out_cs, float* pooled,
                std::size_t pool_cs, bool act) {
    std::vector<float> full(std::size_t(h) * w);
    for (int ch = 0; ch < c; ++ch) {
        dw3x3(in + ch * in_cs, 0, h, w, 1, wt + ch * 9, bias + ch, 1, full.data(), 0, act);
        if (out) std::copy(full.begin(), full.end(), out + ch * out_cs);
        for (int y = 0; y < h / 2; ++y)
            for (int x = 0; x < w / 2; ++x) {
                const float* r0 = full.data() + 2 * y * w + 2 * x;
                pooled[ch * pool_cs + y * (w / 2) + x] =
                    std::max(std::max(r0[0], r0[1]), std::max(r0[w], r0[w + 1]));
            }
    }
}

void dw3x3_flat(const float* in, std::size_t in_cs, int h, int w, const float* wt,
                const float* bias, int c, float* out, std::size_t out_cs, bool act, int* /*work*/) {
    for (int ch = 0; ch < c; ++ch)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                float s = bias[ch];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const int iy = y + ky - 1, ix = x + kx - 1;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        s += wt[ch * 9 + ky * 3 + kx] * in[ch * in_cs + iy * w + ix];
                    }
                out[ch * out_cs + y * w + x] = act ? relu(s) : s;
            }
}

float head(const float* in, int cin, std::size_t in_cs, int n, const float* wt, const float* bias,
           int mid, const float* fc_w, float fc_b) {
    float logit = fc_b;
    for (int co = 0; co < mid; ++co) {
        float sum = 0.f;
        for (int p = 0; p < n; ++p) {
            float s = bias[co];
            for (int ci = 0; ci < cin; ++ci) s += wt[co * cin + ci] * in[ci * in_cs + p];
            sum += relu(s);
        }
        logit += fc_w[co] * (sum / float(n));
    }
    return logit;
}

}  // namespace

const Kernels& reference_kernels() {
    static const Kernels k{"reference", conv3x3, conv1x1, dw3x3, dw3x3_pool, dw3x3_flat, head};
    return k;
}

}  // namespace fused
}  // namespace tinyfq
