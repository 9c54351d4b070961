// Kernel bodies shared by preprocess_fast.cpp and preprocess_avx2.cpp. Each includes this file
// inside an anonymous namespace, so every unit gets its own copy compiled for its own
// instruction set (one shared copy could be the AVX2 one, and run on a CPU without AVX2).
// Per-output-column tables shared by every row of a crop resize.
struct Axis {
    std::vector<int> i0, i1;
    std::vector<float> w;
    Axis(int src, int dst) : i0(dst), i1(dst), w(dst) {
        const double f = double(src) / dst;
        for (int o = 0; o < dst; ++o) {
            double s = (o + 0.5) * f - 0.5;
            s = std::min(std::max(s, 0.0), double(src - 1));
            i0[o] = int(s);
            i1[o] = std::min(i0[o] + 1, src - 1);
            w[o] = float(s - i0[o]);
        }
    }
};

// Separable bilinear resize: blend the two source rows of an output row into a float row
// (contiguous, vectorised by the compiler), then sample that row at the output columns.
// Inlined into crop_kernel (baseline) and crop_avx2 (the same operations, 8 lanes;
// no fused multiply-add, so both give the same numbers).
template <int CH>
__attribute__((always_inline)) inline void crop_body(const ImageView& img, const ModelInfo& info,
                                                     const ChannelMap& cm, float* out) {
    const int S = info.input_size, W = img.width;
    const Axis ax(W, S), ay(img.height, S);
    std::vector<float> row(static_cast<std::size_t>(W) * CH + CH);
    // per network channel: float offsets of both neighbours within the blended row
    std::vector<std::ptrdiff_t> off0(3 * S), off1(3 * S);  // W * CH may pass INT_MAX
    for (int c = 0; c < 3; ++c)
        for (int ox = 0; ox < S; ++ox) {
            off0[c * S + ox] = std::ptrdiff_t(ax.i0[ox]) * CH + cm.src[c];
            off1[c * S + ox] = std::ptrdiff_t(ax.i1[ox]) * CH + cm.src[c];
        }
    const float* wx = ax.w.data();
    float* r = row.data();
    const std::ptrdiff_t n = std::ptrdiff_t(W) * CH;
    for (int oy = 0; oy < S; ++oy) {
        const std::uint8_t* r0 = img.data + ay.i0[oy] * img.stride;
        const std::uint8_t* r1 = img.data + ay.i1[oy] * img.stride;
        const float wy = ay.w[oy], wy0 = 1.f - wy;
        for (std::ptrdiff_t i = 0; i < n; ++i) r[i] = wy0 * float(r0[i]) + wy * float(r1[i]);
        for (int c = 0; c < 3; ++c) {
            const std::ptrdiff_t* o0 = &off0[c * S];
            const std::ptrdiff_t* o1 = &off1[c * S];
            const float sc = cm.scale[c], bi = cm.bias[c];
            float* dst = out + (c * S + oy) * S;
            for (int ox = 0; ox < S; ++ox) {
                const float a = r[o0[ox]], b = r[o1[ox]];
                dst[ox] = (a + wx[ox] * (b - a)) * sc + bi;
            }
        }
    }
}

template <int CH>
void crop_kernel(const ImageView& img, const ModelInfo& info, const ChannelMap& cm, float* out) {
    crop_body<CH>(img, info, cm, out);
}

// One output pixel of the warp: bilinear, neighbours outside the image read as black.
template <int CH>
inline void warp_pixel(const ImageView& img, const ChannelMap& cm, float sx, float sy, float* dst0,
                       float* dst1, float* dst2) {
    const int W = img.width, H = img.height;
    const std::ptrdiff_t stride = img.stride;
    const float fx = std::floor(sx), fy = std::floor(sy);
    // Far outside the image (or NaN): black, before any float -> int conversion (which would
    // overflow, undefined behaviour, for coordinates beyond the int range).
    if (!(fx >= -2.f && fy >= -2.f && fx <= float(W) && fy <= float(H))) {
        *dst0 = cm.bias[0], *dst1 = cm.bias[1], *dst2 = cm.bias[2];  // black, normalised
        return;
    }
    const int x0 = int(fx), y0 = int(fy);
    const float wx = sx - fx, wy = sy - fy;
    float v[3];
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const std::uint8_t* p0 = img.data + y0 * stride + x0 * CH;
        const std::uint8_t* p1 = p0 + stride;
        for (int c = 0; c < 3; ++c) {
            const int s = cm.src[c];
            const float top = p0[s] + wx * float(p0[s + CH] - p0[s]);
            const float bot = p1[s] + wx * float(p1[s + CH] - p1[s]);
            v[c] = top + wy * (bot - top);
        }
    } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
        v[0] = v[1] = v[2] = 0.f;
    } else {  // on the border: each neighbour outside the image reads as black
        for (int c = 0; c < 3; ++c) {
            const int s = cm.src[c];
            auto px = [&](int x, int y) -> float {
                if (x < 0 || y < 0 || x >= W || y >= H) return 0.f;
                return img.data[y * stride + x * CH + s];
            };
            const float top = px(x0, y0) + wx * (px(x0 + 1, y0) - px(x0, y0));
            const float bot = px(x0, y0 + 1) + wx * (px(x0 + 1, y0 + 1) - px(x0, y0 + 1));
            v[c] = top + wy * (bot - top);
        }
    }
    *dst0 = v[0] * cm.scale[0] + cm.bias[0];
    *dst1 = v[1] * cm.scale[1] + cm.bias[1];
    *dst2 = v[2] * cm.scale[2] + cm.bias[2];
}
