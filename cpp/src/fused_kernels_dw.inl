// Part of fused_kernels.inl (included there, inside its anonymous namespace, after the
// vector helpers): the depthwise 3x3 kernels (dw3x3, dw3x3_pool, dw3x3_flat).

// ------------------------------------------------------------------ depthwise 3x3

// 2x2 max pooling of two output rows (full-width vectors a, b) into 4 floats at d.
inline void pool4(v8 a, v8 b, float* d) {
    const v8 m = a > b ? a : b;
    const v8 e = __builtin_shufflevector(m, m, 0, 2, 4, 6, 0, 2, 4, 6);
    const v8 o = __builtin_shufflevector(m, m, 1, 3, 5, 7, 1, 3, 5, 7);
    const v8 r = e > o ? e : o;
    std::memcpy(d, &r, 4 * sizeof(float));
}
// Stride 1, one column of vectors at a time, sliding down the rows: each bordered input row is
// loaded once (three shifted vectors) and feeds the three output rows it belongs to, so an
// output vector costs 3 loads and 9 FMAs with three independent accumulators in flight, and
// the nine taps stay in registers. (Two columns at once, as before, left no registers for the
// taps: their loads, 18 per row, then bound it at ~2/3 of the FMA rate.) Each kernel row's three
// products are summed on their own and added to the accumulator once, so an accumulator waits
// on one add per input row, not on three chained FMAs (64-channel planes: +2-8% alone).
// Where POOL, each pair of output rows is also max-pooled 2x2 into pl (row stride pw); where
// not OUT, only the pooled output is written. Compiled once per (ACT, OUT, POOL) and inlined
// into the loop over a call's columns: with the switches tested and the column called per
// vector, as before, a band's short columns (8-20 rows) ran ~30% slower.
template <bool ACT, bool OUT, bool POOL>
__attribute__((always_inline)) inline void dw3x3_s1_column(const float* p, int rs, int ho, int wo,
                                                           int x, const v8* kvp, v8 b, float* o,
                                                           float* pl, int pw) {
    // the taps in registers: read through kvp, the compiler would load them again after every
    // store (a float store may alias them)
    const v8 kv[9] = {kvp[0], kvp[1], kvp[2], kvp[3], kvp[4], kvp[5], kvp[6], kvp[7], kvp[8]};
    // outputs y and y + 1 in progress (a0 is the oldest): the first two input rows feed only
    // outputs 0 and 1
    const float* q0 = p + x;
    v8 a1 = b + kv[0] * load(q0) + kv[1] * load(q0 + 1) + kv[2] * load(q0 + 2);
    const float* q1 = q0 + rs;
    const v8 l1 = load(q1), m1 = load(q1 + 1), r1 = load(q1 + 2);
    v8 a0 = a1 + (kv[3] * l1 + kv[4] * m1 + kv[5] * r1);
    a1 = b + kv[0] * l1 + kv[1] * m1 + kv[2] * r1;
    v8 prev = b;  // the even output row, for pooling
    for (int r = 2; r < ho + 2; ++r) {
        const float* q = p + r * rs + x;
        const v8 l = load(q), m = load(q + 1), rr = load(q + 2);
        // input row r is kernel row 2 of output r - 2, row 1 of r - 1, row 0 of r
        v8 done = a0 + (kv[6] * l + kv[7] * m + kv[8] * rr);
        a0 = a1 + (kv[3] * l + kv[4] * m + kv[5] * rr);
        a1 = b + kv[0] * l + kv[1] * m + kv[2] * rr;
        if (ACT) done = relu(done);
        if (OUT) store(o + (r - 2) * wo + x, done);
        if (POOL) {
            if (r % 2 == 0)
                prev = done;
            else
                pool4(prev, done, pl + (r - 3) / 2 * pw + x / 2);
        }
    }
}

// The vector columns of c stride-1 planes (in, out, pooled as dw3x3_s's): the whole ones, and
// where the row is wider than a vector but not a multiple of it, one more ending at the row's
// end (recomputing a few outputs of the last one: same values).
template <bool ACT, bool OUT, bool POOL>
void dw3x3_s1_columns(const float* in, std::size_t in_cs, int ho, int wo, const float* wt,
                      const float* bias, int c, float* out, std::size_t out_cs, float* pooled,
                      std::size_t pool_cs) {
    const int rs = wo + 2, pw = wo / 2, nvx = wo / 8;
    const bool overlap = wo % 8 && wo > 8;
    for (int ch = 0; ch < c; ++ch) {
        const float* p = in + ch * in_cs;
        float* o = OUT ? out + ch * out_cs : nullptr;
        float* pl = POOL ? pooled + ch * pool_cs : nullptr;
        v8 kv[9];
        for (int i = 0; i < 9; ++i) kv[i] = splat(wt[ch * 9 + i]);
        const v8 b = splat(bias[ch]);
        for (int v = 0; v < nvx; ++v)
            dw3x3_s1_column<ACT, OUT, POOL>(p, rs, ho, wo, v * 8, kv, b, o, pl, pw);
        if (overlap) dw3x3_s1_column<ACT, OUT, POOL>(p, rs, ho, wo, wo - 8, kv, b, o, pl, pw);
    }
}

template <bool ACT>
void dw3x3_s1_columns(const float* in, std::size_t in_cs, int ho, int wo, const float* wt,
                      const float* bias, int c, float* out, std::size_t out_cs, float* pooled,
                      std::size_t pool_cs) {
    if (!pooled)
        dw3x3_s1_columns<ACT, true, false>(in, in_cs, ho, wo, wt, bias, c, out, out_cs, pooled,
                                           pool_cs);
    else if (out)
        dw3x3_s1_columns<ACT, true, true>(in, in_cs, ho, wo, wt, bias, c, out, out_cs, pooled,
                                          pool_cs);
    else
        dw3x3_s1_columns<ACT, false, true>(in, in_cs, ho, wo, wt, bias, c, out, out_cs, pooled,
                                           pool_cs);
}

// Stride 2, likewise: input row 2y + 2 is kernel row 2 of output y and row 0 of output y + 1,
// so its deinterleaved taps are built once.
void dw3x3_s2_column(const float* p, int rs, int ho, int wo, int x, const v8* kvp, v8 b, float* o,
                     bool act) {
    const v8 kv[9] = {kvp[0], kvp[1], kvp[2], kvp[3], kvp[4], kvp[5], kvp[6], kvp[7], kvp[8]};
    auto taps = [&](int r, v8& t0, v8& t1, v8& t2) {
        const float* q = p + r * rs + 2 * x;
        const v8 lo = load(q), hi = load(q + 8);
        t0 = evens_p(lo, hi), t1 = odds_p(lo, hi), t2 = evens_p(load(q + 2), load(q + 10));
    };  // all in the evens_p lane order: the sums are, too, until unperm() at the store
    v8 t0, t1, t2;
    taps(0, t0, t1, t2);
    v8 acc = b + kv[0] * t0 + kv[1] * t1 + kv[2] * t2;
    for (int y = 0; y < ho; ++y) {
        taps(2 * y + 1, t0, t1, t2);
        acc += kv[3] * t0 + kv[4] * t1 + kv[5] * t2;
        taps(2 * y + 2, t0, t1, t2);
        const v8 sum = acc + kv[6] * t0 + kv[7] * t1 + kv[8] * t2;
        store(o + y * wo + x, unperm(act ? relu(sum) : sum));
        acc = b + kv[0] * t0 + kv[1] * t1 + kv[2] * t2;
    }
}

// Stride 2 into rows of exactly 4 (an 8-wide input: a net's last 8x8 -> 4x4 step), which no
// 8-wide column fits: two output rows per vector instead, row y in lanes 0-3 and y + 1 in 4-7
// (contiguous in the output plane, whose row stride is 4). Each input row is read as its
// columns 0-7 and 2-9, inside the bordered row of 10. Returns the rows done (an even count).
int dw3x3_s2_rowpairs(const float* p, int rs, int ho, const v8* kv, v8 b, float* o, bool act) {
    auto taps = [&](int ra, int rb, v8& t0, v8& t1, v8& t2) {
        const float *qa = p + ra * rs, *qb = p + rb * rs;
        const v8 a = load(qa), c = load(qb);
        t0 = evens_p(a, c), t1 = odds_p(a, c), t2 = evens_p(load(qa + 2), load(qb + 2));
    };  // in the evens_p lane order, as dw3x3_s2_column's
    int y = 0;
    for (; y + 2 <= ho; y += 2) {
        v8 t0, t1, t2;
        taps(2 * y, 2 * y + 2, t0, t1, t2);
        v8 acc = b + kv[0] * t0 + kv[1] * t1 + kv[2] * t2;
        taps(2 * y + 1, 2 * y + 3, t0, t1, t2);
        acc += kv[3] * t0 + kv[4] * t1 + kv[5] * t2;
        taps(2 * y + 2, 2 * y + 4, t0, t1, t2);
        const v8 sum = acc + kv[6] * t0 + kv[7] * t1 + kv[8] * t2;
        store(o + y * 4, unperm(act ? relu(sum) : sum));
    }
    return y;
}

template <int S>
void dw3x3_s(const float* in, std::size_t in_cs, int h, int w, const float* wt, const float* bias,
             int c, float* out, std::size_t out_cs, bool act, float* pooled = nullptr,
             std::size_t pool_cs = 0) {
    const int ho = (h - 1) / S + 1, wo = (w - 1) / S + 1, rs = w + 2, pw = wo / 2;
    // Stride 2 reads 18 floats from column 2x of the bordered row: keep that inside the row.
    const int nvx = S == 1 ? wo / 8 : (w >= 16 ? std::min(wo / 8, (w - 16) / 16 + 1) : 0);
    // Stride 1, rows wider than a vector: the vector columns cover the whole row.
    const bool overlap = S == 1 && wo % 8 && wo > 8;
    if (S == 1 && act)
        dw3x3_s1_columns<true>(in, in_cs, ho, wo, wt, bias, c, out, out_cs, pooled, pool_cs);
    else if (S == 1)
        dw3x3_s1_columns<false>(in, in_cs, ho, wo, wt, bias, c, out, out_cs, pooled, pool_cs);
    if (S == 1 && (overlap || nvx * 8 == wo)) return;
    for (int ch = 0; ch < c; ++ch) {
        const float* p = in + ch * in_cs;
        const float* k = wt + ch * 9;
        float* o = out ? out + ch * out_cs : nullptr;
        float* pl = pooled ? pooled + ch * pool_cs : nullptr;
        int y0 = 0;  // rows of the narrow columns below already done
        if (S == 2) {
            v8 kv[9];
            for (int i = 0; i < 9; ++i) kv[i] = splat(k[i]);
            const v8 b = splat(bias[ch]);
            for (int v = 0; v < nvx; ++v) dw3x3_s2_column(p, rs, ho, wo, v * 8, kv, b, o, act);
            if (nvx == 0 && wo == 4 && w >= 8 && o)
                y0 = dw3x3_s2_rowpairs(p, rs, ho, kv, b, o, act);
        }
        // columns that do not fill a vector (pooled: in 2 x 2 blocks)
        const int by = pl ? 2 : 1, bx = pl ? 2 : 1;
        for (int y = y0; y < ho; y += by)
            for (int x = nvx * 8; x < wo; x += bx) {
                float mx = 0.f;
                for (int j = 0; j < by * bx; ++j) {
                    const int yy = y + j / bx, xx = x + j % bx;
                    const float* r0 = p + yy * S * rs;
                    float sum = bias[ch];
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx)
                            sum += k[ky * 3 + kx] * r0[ky * rs + xx * S + kx];
                    if (act) sum = relu1(sum);
                    if (o) o[yy * wo + xx] = sum;
                    mx = j == 0 || sum > mx ? sum : mx;
                }
                if (pl) pl[y / 2 * pw + x / 2] = mx;
            }
    }
}

void dw3x3(const float* in, std::size_t in_cs, int h, int w, int stride, const float* wt,
           const float* bias, int c, float* out, std::size_t out_cs, bool act) {
    if (stride == 1)
        dw3x3_s<1>(in, in_cs, h, w, wt, bias, c, out, out_cs, act);
    else
        dw3x3_s<2>(in, in_cs, h, w, wt, bias, c, out, out_cs, act);
}

void dw3x3_pool(const float* in, std::size_t in_cs, int h, int w, const float* wt,
                const float* bias, int c, float* out, std::size_t out_cs, float* pooled,
                std::size_t pool_cs, bool act) {
    dw3x3_s<1>(in, in_cs, h, w, wt, bias, c, out, out_cs, act, pooled, pool_cs);
}

// Widths that are not a multiple of 8 (the coarse levels of most detector inputs): the planes
// are flat, every output vector runs along the flattened rows (so it may span two), and the
// taps of the columns to its left and right are masked where a pixel is the first or last of
// its row; the rows above and below are w apart, zeros beyond the plane. The masks repeat with
// the vector's phase along a row, period w / gcd(w, 8) vectors, and are built once per call.
typedef int v8i __attribute__((vector_size(32)));

inline v8 masked(v8 v, const int* m) {
    v8i mi;
    std::memcpy(&mi, m, sizeof mi);
    return (v8)((v8i)v & mi);
}

// One output vector at flat offset o: three partial sums (one per kernel row) in flight.
inline v8 dw3x3_flat_vec(const float* p, int o, int w, const v8* kv, v8 b, const int* m) {
    v8 s[3];
    for (int r = 0; r < 3; ++r) {
        const float* q = p + o + (r - 1) * w;
        s[r] = kv[3 * r] * masked(load(q - 1), m) + kv[3 * r + 1] * load(q) +
               kv[3 * r + 2] * masked(load(q + 1), m + 8);
    }
    return (s[0] + b) + (s[1] + s[2]);
}

void dw3x3_flat(const float* in, std::size_t in_cs, int h, int w, const float* wt,
                const float* bias, int c, float* out, std::size_t out_cs, bool act, int* work) {
    const int n = h * w;
    const int period = w / (w % 8 == 0 ? 8 : w % 4 == 0 ? 4 : w % 2 == 0 ? 2 : 1);
    const int nvx = n >= 8 ? n / 8 : 0, last = n >= 8 && n % 8 ? n - 8 : -1;
    auto masks = [&](int o, int* m) {
        for (int j = 0; j < 8; ++j) {
            const int x = (o + j) % w;
            m[j] = x != 0 ? -1 : 0;
            m[8 + j] = x != w - 1 ? -1 : 0;
        }
    };
    for (int k = 0; k < std::min(period, nvx); ++k) masks(8 * k, work + 16 * k);
    if (last >= 0) masks(last, work + 16 * period);
    for (int ch = 0; ch < c; ++ch) {
        const float* p = in + ch * in_cs;
        const float* k = wt + ch * 9;
        float* o = out + ch * out_cs;
        v8 kv[9];
        for (int i = 0; i < 9; ++i) kv[i] = splat(k[i]);
        const v8 b = splat(bias[ch]);
        for (int v = 0, phase = 0; v < nvx; ++v) {
            const v8 sum = dw3x3_flat_vec(p, 8 * v, w, kv, b, work + 16 * phase);
            store(o + 8 * v, act ? relu(sum) : sum);
            if (++phase == period) phase = 0;
        }
        if (last >= 0) {  // the rest: one more vector ending at the plane's end (same values)
            const v8 sum = dw3x3_flat_vec(p, last, w, kv, b, work + 16 * period);
            store(o + last, act ? relu(sum) : sum);
        }
        if (nvx) continue;
        for (int y = 0; y < h; ++y)  // planes smaller than a vector: the reference arithmetic
            for (int x = 0; x < w; ++x) {
                float sum = bias[ch];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const int iy = y + ky - 1, ix = x + kx - 1;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        sum += k[ky * 3 + kx] * p[iy * w + ix];
                    }
                o[y * w + x] = act ? relu1(sum) : sum;
            }
    }
}
