// The fast fused kernels (contract in fused.h), written once with GCC vector extensions and
// compiled per instruction set: fused_generic.cpp (the build's baseline: SSE2 on x86-64, NEON
// on aarch64) and fused_avx2.cpp (-mavx2 -mfma). Everything here has internal linkage, so the
// two compilations never share an inline function compiled for the wrong CPU.
//
// Layout choices: planar tensors, 8 pixels per vector. 1x1 convolutions keep a 4-channel x
// 24-pixel tile of accumulators in registers (12 vectors; with the 3 inputs and a broadcast
// weight, all 16 AVX registers) and stream the input channels through it, so each weight is
// broadcast once per 24 pixels and each input vector is loaded once per 4 output channels.
// A tile's three vectors may come from different rows, so narrow planes fill tiles too.
// Columns that do not fill a vector take the scalar path, which is the reference arithmetic.
// (The including file includes <algorithm>, <cstddef> and <cstring> before its namespace.)

namespace {

typedef float v8 __attribute__((vector_size(32)));

inline v8 load(const float* p) {
    v8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }
inline v8 splat(float f) { return v8{f, f, f, f, f, f, f, f}; }
inline v8 relu(v8 v) {
#if defined(__AVX__)
    return __builtin_ia32_maxps256(v, splat(0.f));  // one instruction instead of compare + and
#else
    const v8 z = splat(0.f);
    return v > z ? v : z;
#endif
}
inline float hsum(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
inline float relu1(float v) { return v > 0.f ? v : 0.f; }
// Even / odd elements of the 16 floats (a, b).
inline v8 evens(v8 a, v8 b) { return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14); }
inline v8 odds(v8 a, v8 b) { return __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15); }
// The same elements in the order (e0 e1 e4 e5 e2 e3 e6 e7) of the true result e: one in-lane
// shuffle (vshufps on AVX, uzp on NEON) instead of lane-crossing permutes. Vectors combined
// only with each other may stay in this order; unperm() (its own inverse) restores e.
inline v8 evens_p(v8 a, v8 b) { return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14); }
inline v8 odds_p(v8 a, v8 b) { return __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15); }
inline v8 unperm(v8 v) { return __builtin_shufflevector(v, v, 0, 1, 4, 5, 2, 3, 6, 7); }
// (first, v[0], ..., v[6]): v shifted up one lane.
inline v8 shift_in(float first, v8 v) {
    return __builtin_shufflevector(v, splat(first), 8, 0, 1, 2, 3, 4, 5, 6);
}

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
        if (S == 2) {
            v8 kv[9];
            for (int i = 0; i < 9; ++i) kv[i] = splat(k[i]);
            const v8 b = splat(bias[ch]);
            for (int v = 0; v < nvx; ++v) dw3x3_s2_column(p, rs, ho, wo, v * 8, kv, b, o, act);
        }
        // columns that do not fill a vector (pooled: in 2 x 2 blocks)
        const int by = pl ? 2 : 1, bx = pl ? 2 : 1;
        for (int y = 0; y < ho; y += by)
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

}  // namespace
