// Part of fused_kernels.inl (included there, inside its anonymous namespace, after the
// vector helpers): the 1x1 convolution tiles and conv1x1.

// ------------------------------------------------------------------ 1x1 convolution

// CO output channels x K vectors of pixels (at input offsets ioff[k], output offsets ooff[k]).
// CIN, where not 0, is cin known at compile time (the loop unrolled; the same arithmetic).
// Input channel ci is at in + ci * in_cs, or where TOFF at in + toff[ci] (the stem's taps).
template <int CO, int K, int CIN = 0, bool TOFF = false>
__attribute__((always_inline)) inline void tile1x1(const float* in, int cin_, std::size_t in_cs,
                                                   const int* ioff, const float* wt,
                                                   const float* bias, float* out,
                                                   std::size_t out_cs, const int* ooff,
                                                   const float* res, std::size_t res_cs, bool act,
                                                   const int* toff = nullptr) {
    const int cin = CIN ? CIN : cin_;
    v8 acc[CO][K];
    for (int j = 0; j < CO; ++j)
        for (int k = 0; k < K; ++k) acc[j][k] = splat(bias[j]);
#pragma GCC unroll 16
    for (int ci = 0; ci < cin; ++ci) {
        const float* p = TOFF ? in + toff[ci] : in + ci * in_cs;
        v8 x[K];
        for (int k = 0; k < K; ++k) x[k] = load(p + ioff[k]);
        for (int j = 0; j < CO; ++j) {
            const v8 w = splat(wt[j * cin + ci]);
            for (int k = 0; k < K; ++k) acc[j][k] += w * x[k];
        }
    }
    for (int j = 0; j < CO; ++j)
        for (int k = 0; k < K; ++k) {
            v8 r = act ? relu(acc[j][k]) : acc[j][k];
            if (res) r += load(res + j * res_cs + ioff[k]);
            store(out + j * out_cs + ooff[k], r);
        }
}

// The groups of 4 output channels; returns the first channel left.
template <int K, int CIN, bool TOFF>
int tile1x1_fours(const float* in, int cin, std::size_t in_cs, const int* ioff, const float* wt,
                  const float* bias, int cout, float* out, std::size_t out_cs, const int* ooff,
                  const float* res, std::size_t res_cs, bool act, const int* toff) {
    int co = 0;
    for (; co + 4 <= cout; co += 4)
        tile1x1<4, K, CIN, TOFF>(in, cin, in_cs, ioff, wt + co * cin, bias + co, out + co * out_cs,
                                 out_cs, ooff, res ? res + co * res_cs : nullptr, res_cs, act,
                                 toff);
    return co;
}

template <int K, bool TOFF = false>
void tile1x1_all(const float* in, int cin, std::size_t in_cs, const int* ioff, const float* wt,
                 const float* bias, int cout, float* out, std::size_t out_cs, const int* ooff,
                 const float* res, std::size_t res_cs, bool act, const int* toff = nullptr) {
    // The input channel counts of the embedded graphs, unrolled: their loops' own overhead is
    // a few % of a tile (16 channels: 1-12% faster alone, 64: 2-9%). 27 is the stem's taps.
    int co;
    if constexpr (TOFF) {  // the stem's taps
        co = cin == 27 ? tile1x1_fours<K, 27, true>(in, cin, in_cs, ioff, wt, bias, cout, out,
                                                    out_cs, ooff, res, res_cs, act, toff)
                       : tile1x1_fours<K, 0, true>(in, cin, in_cs, ioff, wt, bias, cout, out,
                                                   out_cs, ooff, res, res_cs, act, toff);
    } else {
        switch (cin) {
            case 16:
                co = tile1x1_fours<K, 16, false>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs,
                                                 ooff, res, res_cs, act, toff);
                break;
            case 27:
                co = tile1x1_fours<K, 27, false>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs,
                                                 ooff, res, res_cs, act, toff);
                break;
            case 64:
                co = tile1x1_fours<K, 64, false>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs,
                                                 ooff, res, res_cs, act, toff);
                break;
            default:
                co = tile1x1_fours<K, 0, false>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs,
                                                ooff, res, res_cs, act, toff);
        }
    }
    const float* w = wt + co * cin;
    float* o = out + co * out_cs;
    const float* r = res ? res + co * res_cs : nullptr;
    switch (cout - co) {
        case 3:
            tile1x1<3, K, 0, TOFF>(in, cin, in_cs, ioff, w, bias + co, o, out_cs, ooff, r, res_cs,
                                   act, toff);
            break;
        case 2:
            tile1x1<2, K, 0, TOFF>(in, cin, in_cs, ioff, w, bias + co, o, out_cs, ooff, r, res_cs,
                                   act, toff);
            break;
        case 1:
            tile1x1<1, K, 0, TOFF>(in, cin, in_cs, ioff, w, bias + co, o, out_cs, ooff, r, res_cs,
                                   act, toff);
            break;
        default:
            break;
    }
}

void conv1x1(const float* in, int cin, std::size_t in_cs, int h, int w, const float* wt,
             const float* bias, int cout, float* out, std::size_t out_cs, int out_rs,
             const float* res, std::size_t res_cs, bool act) {
    if (out_rs == w && h > 1 && w % 8) {
        // Rows that do not fill whole vectors, but the output is as contiguous as the input:
        // one row of h * w pixels fills them (only the last vector's worth is left over).
        conv1x1(in, cin, in_cs, 1, h * w, wt, bias, cout, out, out_cs, h * w, res, res_cs, act);
        return;
    }
    // Vectors per row: the whole ones, and where the row is wider than a vector but not a
    // multiple of it, one more ending at the row's end (it recomputes a few pixels of the last
    // whole vector, with the same arithmetic: same values).
    const int nvx = w / 8, nv = nvx + (w % 8 && w > 8 ? 1 : 0);
    int ioff[3], ooff[3], n = 0;
    for (int y = 0; y < h; ++y)
        for (int v = 0; v < nv; ++v) {
            const int x = v < nvx ? v * 8 : w - 8;
            ioff[n] = y * w + x, ooff[n] = y * out_rs + x;
            if (++n == 3) {
                tile1x1_all<3>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs, ooff, res, res_cs,
                               act);
                n = 0;
            }
        }
    if (n == 2)
        tile1x1_all<2>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs, ooff, res, res_cs, act);
    if (n == 1)
        tile1x1_all<1>(in, cin, in_cs, ioff, wt, bias, cout, out, out_cs, ooff, res, res_cs, act);
    if (nvx * 8 == w || nv > nvx) return;
    for (int co = 0; co < cout; ++co)  // rows narrower than a vector
        for (int y = 0; y < h; ++y)
            for (int x = nvx * 8; x < w; ++x) {
                float s = bias[co];
                for (int ci = 0; ci < cin; ++ci)
                    s += wt[co * cin + ci] * in[ci * in_cs + y * w + x];
                if (act) s = relu1(s);
                if (res) s += res[co * res_cs + y * w + x];
                out[co * out_cs + y * out_rs + x] = s;
            }
}
