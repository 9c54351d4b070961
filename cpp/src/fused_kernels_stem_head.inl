// Part of fused_kernels.inl (included there, inside its anonymous namespace, after the
// vector helpers): the dense 3x3 stem (conv3x3, on the 1x1 tiles) and the head.

// ------------------------------------------------------------------ dense 3x3 (the stem)

// The stem as the 1x1 tiles over its 9 * cin taps. Stride 2: for a chunk of output rows, each
// input row they read is deinterleaved once into its three taps per channel (the columns 2x - 1,
// 2x and 2x + 1 of every output vector x, each a row of the chunk's block), and each tile reads
// the taps of its vectors from the block through per-tap offsets. The n rows of a chunk read
// 2n + 1 input rows, each deinterleaved once; building the taps per tile, as before, did each
// odd row twice (once per output row that reads it): 1-2% of the detector's forward at 256.
void conv3x3(const float* in, int cin, std::size_t in_cs, int h, int w, int stride, const float* wt,
             const float* bias, int cout, float* out, std::size_t out_cs, float* work, int y0,
             int y1) {
    const int wo = (w - 1) / stride + 1, taps = cin * 9;
    // A stride-2 vector at output column x reads input columns 2x - 1 .. 2x + 15.
    const int nvx = stride == 2 && w >= 16 ? std::min(wo / 8, (w - 16) / 16 + 1) : 0;
    if (nvx > 0) {
        // 1. vector columns. The block holds one row per (input row, channel, kx), nvx * 8
        //    floats each; tap (ci, ky, kx) of the vectors of output row y is block row
        //    (2 (y - chunk start) + ky, ci, kx).
        const int wv = nvx * 8;
        const std::size_t in_row = std::size_t(cin) * 3 * wv;  // one input row's block rows
        int* toff = reinterpret_cast<int*>(work);
        float* blk = work + conv3x3_toff_room(cin);
        for (int ci = 0; ci < cin; ++ci)
            for (int ky = 0; ky < 3; ++ky)
                for (int kx = 0; kx < 3; ++kx)
                    toff[(ci * 3 + ky) * 3 + kx] = int(ky * in_row + std::size_t(ci * 3 + kx) * wv);
        for (int ya = y0; ya < y1; ya += kConv3x3Chunk) {
            const int yb = std::min(y1, ya + kConv3x3Chunk);
            for (int rr = 0; rr <= 2 * (yb - ya); ++rr) {
                const int iy = 2 * ya - 1 + rr;
                for (int ci = 0; ci < cin; ++ci) {
                    float* d = blk + rr * in_row + std::size_t(ci) * 3 * wv;
                    if (iy < 0 || iy >= h) {  // the zero row above or below the image
                        std::memset(d, 0, sizeof(float) * 3 * wv);
                        continue;
                    }
                    const float* r = in + ci * in_cs + std::size_t(iy) * w;
                    for (int x = 0; x < wv; x += 8) {
                        const v8 lo = load(r + 2 * x), hi = load(r + 2 * x + 8);
                        const v8 right = odds(lo, hi);
                        store(d + x, shift_in(x > 0 ? r[2 * x - 1] : 0.f, right));
                        store(d + wv + x, evens(lo, hi));
                        store(d + 2 * wv + x, right);
                    }
                }
            }
            // the tiles of up to three vectors, in row order (the weights [cout][cin][3][3]
            // are [cout][taps] in toff's order)
            const int nvec = (yb - ya) * nvx;
            int ioff[3], ooff[3], k = 0;
            for (int i = 0; i < nvec; ++i) {
                const int y = ya + i / nvx, x = i % nvx * 8;
                ioff[k] = int(2 * (y - ya) * in_row) + x, ooff[k] = (y - y0) * wo + x;
                if (++k < 3) continue;
                tile1x1_all<3, true>(blk, taps, 0, ioff, wt, bias, cout, out, out_cs, ooff, nullptr,
                                     0, true, toff);
                k = 0;
            }
            if (k == 2)
                tile1x1_all<2, true>(blk, taps, 0, ioff, wt, bias, cout, out, out_cs, ooff, nullptr,
                                     0, true, toff);
            if (k == 1)
                tile1x1_all<1, true>(blk, taps, 0, ioff, wt, bias, cout, out, out_cs, ooff, nullptr,
                                     0, true, toff);
        }
    }
    // 2. the columns that do not fill a vector, and stride 1: the reference arithmetic
    for (int y = y0; y < y1; ++y)
        for (int x = nvx * 8; x < wo; ++x)
            for (int co = 0; co < cout; ++co) {
                float s = bias[co];
                for (int ci = 0; ci < cin; ++ci)
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            const int iy = y * stride + ky - 1, ix = x * stride + kx - 1;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            s += wt[co * taps + (ci * 3 + ky) * 3 + kx] *
                                 in[ci * in_cs + iy * w + ix];
                        }
                out[co * out_cs + (y - y0) * wo + x] = relu1(s);
            }
}

// ------------------------------------------------------------------ head

// CO channels: sum over pixels [0, n8) of relu(conv), in vectors (K = 2, then 1).
template <int CO>
inline void head_tile(const float* in, int cin, std::size_t in_cs, int n8, const float* wt,
                      const float* bias, v8* sums) {
    int p = 0;
    for (; p + 16 <= n8; p += 16) {
        const int off[2] = {p, p + 8};
        v8 acc[CO][2];
        for (int j = 0; j < CO; ++j) acc[j][0] = acc[j][1] = splat(bias[j]);
        for (int ci = 0; ci < cin; ++ci) {
            const float* q = in + ci * in_cs;
            const v8 x0 = load(q + off[0]), x1 = load(q + off[1]);
            for (int j = 0; j < CO; ++j) {
                const v8 wv = splat(wt[j * cin + ci]);
                acc[j][0] += wv * x0;
                acc[j][1] += wv * x1;
            }
        }
        for (int j = 0; j < CO; ++j) sums[j] += relu(acc[j][0]) + relu(acc[j][1]);
    }
    for (; p < n8; p += 8) {
        v8 acc[CO];
        for (int j = 0; j < CO; ++j) acc[j] = splat(bias[j]);
        for (int ci = 0; ci < cin; ++ci) {
            const v8 x0 = load(in + ci * in_cs + p);
            for (int j = 0; j < CO; ++j) acc[j] += splat(wt[j * cin + ci]) * x0;
        }
        for (int j = 0; j < CO; ++j) sums[j] += relu(acc[j]);
    }
}

float head(const float* in, int cin, std::size_t in_cs, int n, const float* wt, const float* bias,
           int mid, const float* fc_w, float fc_b) {
    const int n8 = n / 8 * 8;
    float logit = fc_b;
    for (int co = 0; co < mid; co += 4) {
        const int m = std::min(4, mid - co);
        v8 sums[4] = {splat(0.f), splat(0.f), splat(0.f), splat(0.f)};
        const float* w = wt + co * cin;
        switch (m) {
            case 4:
                head_tile<4>(in, cin, in_cs, n8, w, bias + co, sums);
                break;
            case 3:
                head_tile<3>(in, cin, in_cs, n8, w, bias + co, sums);
                break;
            case 2:
                head_tile<2>(in, cin, in_cs, n8, w, bias + co, sums);
                break;
            default:
                head_tile<1>(in, cin, in_cs, n8, w, bias + co, sums);
                break;
        }
        for (int j = 0; j < m; ++j) {
            float s = hsum(sums[j]);
            for (int p = n8; p < n; ++p) {  // pixels that do not fill a vector
                float a = bias[co + j];
                for (int ci = 0; ci < cin; ++ci) a += w[j * cin + ci] * in[ci * in_cs + p];
                s += relu1(a);
            }
            logit += fc_w[co + j] * (s / float(n));
        }
    }
    return logit;
}
