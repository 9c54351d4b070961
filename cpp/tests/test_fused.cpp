// C++ test suite "fused" (ctest fused). Shared harness: check.h.
#include "check.h"

#include <net.h>

namespace {
using namespace tinyfq_test;

// The fused network kernels (fused.h) against their scalar reference twins, over odd sizes,
// strides, channel counts and row strides; then the fused default model against the same
// weights as a plain graph of stock ncnn layers (MODELS_DIR/plain.*).
namespace fz = tinyfq::fused;

std::vector<float> randv(std::mt19937& rng, std::size_t n, float lo = -1.f, float hi = 1.f) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

// c random h x w planes inside a zero border (+ slack after the last plane); pcs: the plane
// stride.
std::vector<float> bordered(std::mt19937& rng, int c, int h, int w, std::size_t& pcs) {
    pcs = std::size_t(h + 2) * (w + 2) + rng() % 3;
    std::vector<float> pad(pcs * c + 16, 0.f);
    for (int ch = 0; ch < c; ++ch)
        for (int y = 1; y <= h; ++y)
            for (int x = 1; x <= w; ++x) pad[ch * pcs + y * (w + 2) + x] = randv(rng, 1)[0];
    return pad;
}

float compare_sets(const fz::Kernels& fast, const fz::Kernels& ref, std::mt19937& rng) {
    float worst = 0;
    auto upd = [&](const std::vector<float>& a, const std::vector<float>& b) {
        worst = std::max(worst, max_abs_diff(a, b));
    };
    const int sizes[][2] = {{1, 1},   {2, 3},   {5, 7},   {8, 8},   {9, 17}, {16, 16}, {15, 33},
                            {32, 32}, {33, 31}, {64, 64}, {40, 70}, {5, 5},  {7, 8},   {9, 8},
                            {10, 10}, {20, 20}, {3, 12},  {7, 1},   {2, 6},  {2, 2},   {4, 24},
                            {6, 10},  {80, 80}, {12, 40}, {8, 16}};
    for (auto& hw : sizes) {
        const int h = hw[0], w = hw[1];
        for (int stride = 1; stride <= 2; ++stride) {
            const int ho = fz::out_size(h, stride), wo = fz::out_size(w, stride);
            // dense 3x3
            for (int cin : {1, 3}) {
                const int cout = int(1 + rng() % 13);
                const std::size_t ics = std::size_t(h) * w + rng() % 5,
                                  ocs = std::size_t(ho) * wo + 3;
                auto in = randv(rng, ics * cin), wt = randv(rng, std::size_t(cout) * cin * 9),
                     b = randv(rng, cout);
                std::vector<float> o1(ocs * cout, 7.f), o2 = o1;
                std::vector<float> work(fz::conv3x3_work(cin, ho, wo), 9.f);
                fast.conv3x3(in.data(), cin, ics, h, w, stride, wt.data(), b.data(), cout,
                             o1.data(), ocs, work.data(), 0, ho);
                ref.conv3x3(in.data(), cin, ics, h, w, stride, wt.data(), b.data(), cout, o2.data(),
                            ocs, work.data(), 0, ho);
                upd(o1, o2);
                // a band of output rows, written from the band's first row
                const int y0 = int(rng() % ho), y1 = y0 + 1 + int(rng() % (ho - y0));
                std::vector<float> b1(ocs * cout, 7.f), b2 = b1;
                fast.conv3x3(in.data(), cin, ics, h, w, stride, wt.data(), b.data(), cout,
                             b1.data(), ocs, work.data(), y0, y1);
                ref.conv3x3(in.data(), cin, ics, h, w, stride, wt.data(), b.data(), cout, b2.data(),
                            ocs, work.data(), y0, y1);
                upd(b1, b2);
                for (int co = 0; co < cout; ++co)  // the band's rows are the full output's
                    for (int i = 0; i < (y1 - y0) * wo; ++i)
                        CHECK(b1[co * ocs + i] == o1[co * ocs + y0 * wo + i]);
                upd(o1, o2);
            }
            // depthwise on a zero-bordered input
            const int c = int(1 + rng() % 45);
            std::size_t pcs = 0;
            const std::vector<float> pad = bordered(rng, c, h, w, pcs);
            auto wd = randv(rng, std::size_t(c) * 9), bd = randv(rng, c);
            const std::size_t dcs = std::size_t(ho) * wo + 1;
            for (bool act : {true, false}) {  // with ReLU (tinyFQnet), linear (YuNet's heads)
                std::vector<float> d1(dcs * c, 7.f), d2 = d1;
                fast.dw3x3(pad.data(), pcs, h, w, stride, wd.data(), bd.data(), c, d1.data(), dcs,
                           act);
                ref.dw3x3(pad.data(), pcs, h, w, stride, wd.data(), bd.data(), c, d2.data(), dcs,
                          act);
                upd(d1, d2);
            }
        }
        // depthwise + 2x2 max pooling (even sizes), with and without the full output
        if (h % 2 == 0 && w % 2 == 0) {
            const int c = int(1 + rng() % 45);
            std::size_t pcs = 0;
            const std::vector<float> pad = bordered(rng, c, h, w, pcs);
            auto wd = randv(rng, std::size_t(c) * 9), bd = randv(rng, c);
            const std::size_t dcs = std::size_t(h) * w + 1, qcs = std::size_t(h / 2) * (w / 2) + 3;
            for (bool act : {true, false})
                for (bool full : {true, false}) {
                    std::vector<float> d1(dcs * c, 7.f), d2 = d1, q1(qcs * c, 7.f), q2 = q1;
                    fast.dw3x3_pool(pad.data(), pcs, h, w, wd.data(), bd.data(), c,
                                    full ? d1.data() : nullptr, dcs, q1.data(), qcs, act);
                    ref.dw3x3_pool(pad.data(), pcs, h, w, wd.data(), bd.data(), c,
                                   full ? d2.data() : nullptr, dcs, q2.data(), qcs, act);
                    upd(d1, d2);
                    upd(q1, q2);
                    CHECK(full || d1 == std::vector<float>(dcs * c, 7.f));  // untouched
                }
        }
        // depthwise on flat planes with a zero row's worth (w + 1) before and after each
        {
            const int c = int(1 + rng() % 45);
            const std::size_t lead = std::size_t(w) + 1 + rng() % 5,
                              pcs = lead + std::size_t(h) * w + w + 1 + rng() % 3;
            std::vector<float> flat(pcs * c, 0.f);
            for (int ch = 0; ch < c; ++ch)
                for (int i = 0; i < h * w; ++i) flat[ch * pcs + lead + i] = randv(rng, 1)[0];
            auto wd = randv(rng, std::size_t(c) * 9), bd = randv(rng, c);
            const std::size_t dcs = std::size_t(h) * w + 2;
            std::vector<int> masks(fz::dw3x3_flat_work(w), 5);
            for (bool act : {true, false}) {
                std::vector<float> d1(dcs * c, 7.f), d2 = d1;
                fast.dw3x3_flat(flat.data() + lead, pcs, h, w, wd.data(), bd.data(), c, d1.data(),
                                dcs, act, masks.data());
                ref.dw3x3_flat(flat.data() + lead, pcs, h, w, wd.data(), bd.data(), c, d2.data(),
                               dcs, act, masks.data());
                upd(d1, d2);
            }
        }
        // 1x1 into a wider row stride, with and without the residual; one case in four with an
        // input channel count the kernels unroll
        const int unrolled[] = {16, 27, 64};
        const int cin = rng() % 4 ? int(1 + rng() % 45) : unrolled[rng() % 3];
        const int cout = int(1 + rng() % 45), rs = w + int(rng() % 3);
        const std::size_t ics = std::size_t(h) * w + rng() % 4, ocs = std::size_t(h) * rs + 5;
        auto in = randv(rng, ics * cin), wt = randv(rng, std::size_t(cout) * cin, -0.3f, 0.3f),
             b = randv(rng, cout), res = randv(rng, ics * cout);
        for (const float* r :
             {static_cast<const float*>(nullptr), static_cast<const float*>(res.data())})
            for (bool act : {true, false}) {
                std::vector<float> o1(ocs * cout, 7.f), o2 = o1;
                fast.conv1x1(in.data(), cin, ics, h, w, wt.data(), b.data(), cout, o1.data(), ocs,
                             rs, r, ics, act);
                ref.conv1x1(in.data(), cin, ics, h, w, wt.data(), b.data(), cout, o2.data(), ocs,
                            rs, r, ics, act);
                upd(o1, o2);
            }
        // head
        const int mid = int(1 + rng() % 260);
        auto wh = randv(rng, std::size_t(mid) * cin, -0.3f, 0.3f), bh = randv(rng, mid),
             fw = randv(rng, mid);
        const float l1 =
            fast.head(in.data(), cin, ics, h * w, wh.data(), bh.data(), mid, fw.data(), 0.25f);
        const float l2 =
            ref.head(in.data(), cin, ics, h * w, wh.data(), bh.data(), mid, fw.data(), 0.25f);
        worst = std::max(worst, std::fabs(l1 - l2) / (1.f + std::fabs(l2)));
    }
    return worst;
}

// A chain of TinyfqPwDw units in one layer (6=...) against the same units as one layer each
// (and the stem and pooling folded in against their own layers): the same weights, the same
// input, the same numbers. The chain runs its units band by band of rows, each a row behind
// the one before; one layer a unit runs whole maps.
float chain_vs_layers(std::mt19937& rng, int h, int w, int stem_stride, int pool,
                      const std::vector<int>& chans) {
    const int nu = int(chans.size()) - 1, stem_cin = stem_stride ? 3 : 0;
    const int ih = stem_stride ? h * stem_stride : h, iw = stem_stride ? w * stem_stride : w;
    std::vector<unsigned char> bin;
    auto put = [&](std::size_t n, bool tag) {
        const std::vector<float> v = randv(rng, n, -0.4f, 0.4f);
        const std::size_t at = bin.size();
        bin.resize(at + (tag ? 4 : 0) + 4 * n, 0);
        std::memcpy(bin.data() + at + (tag ? 4 : 0), v.data(), 4 * n);
    };
    if (stem_cin) put(std::size_t(chans[0]) * stem_cin * 9, true), put(chans[0], false);
    for (int i = 0; i < nu; ++i) {
        put(std::size_t(chans[i + 1]) * chans[i], true), put(chans[i + 1], false);
        put(std::size_t(chans[i + 1]) * 9, true), put(chans[i + 1], false);
    }
    const int cin0 = stem_cin ? stem_cin : chans[0];
    auto relu = [&](int i) { return i == nu - 1 ? 0 : 1; };  // the last one linear, as a head
    auto pool_tops = [&](const std::string& from) {
        return pool == 2 ? " 1 2 " + from + " full pooled" : " 1 1 " + from + " out";
    };
    // one layer
    std::ostringstream one;
    one << "7767517\n2 " << (pool == 2 ? 3 : 2) << "\nInput in 0 1 in 0=" << iw << " 1=" << ih
        << " 2=" << cin0 << "\nTinyfqPwDw chain" << pool_tops("in") << " 0=" << chans[0]
        << " 1=" << chans[1] << " 2=" << relu(0) << " 3=" << pool;
    if (stem_cin) one << " 4=" << stem_cin << " 5=" << stem_stride;
    if (nu > 1) {
        one << " -23306=" << 3 * (nu - 1);
        for (int i = 1; i < nu; ++i)
            one << "," << chans[i] << "," << chans[i + 1] << "," << relu(i);
    }
    one << "\n";
    // layer by layer
    std::ostringstream many;
    const int layers = 1 + (stem_cin ? 1 : 0) + nu + (pool ? 1 : 0) + (pool == 2 ? 1 : 0);
    many << "7767517\n"
         << layers << " " << layers + (pool == 2 ? 1 : 0) << "\nInput in 0 1 in 0=" << iw
         << " 1=" << ih << " 2=" << cin0 << "\n";
    std::string src = "in";
    if (stem_cin) {
        many << "TinyfqConv3x3 stem 1 1 in s 0=" << chans[0] << " 1=" << stem_cin
             << " 2=" << stem_stride << "\n";
        src = "s";
    }
    for (int i = 0; i < nu; ++i) {
        const std::string dst = i + 1 == nu ? (pool ? "m" : "out") : "u" + std::to_string(i);
        many << "TinyfqPwDw u" << i << " 1 1 " << src << " " << dst << " 0=" << chans[i]
             << " 1=" << chans[i + 1] << " 2=" << relu(i) << "\n";
        src = dst;
    }
    if (pool == 1) many << "TinyfqMaxPool2 p 1 1 m out\n";
    if (pool == 2) many << "Split sp 1 2 m full m2\nTinyfqMaxPool2 p 1 1 m2 pooled\n";
    std::vector<float> x = randv(rng, std::size_t(cin0) * ih * iw, 0.f, 2.f);
    std::vector<std::vector<float>> outs[2];
    const std::string texts[2] = {one.str(), many.str()};
    for (int g = 0; g < 2; ++g) {
        ncnn::Net net;
        fz::prepare_net(net, false);
        net.opt.use_packing_layout = false;
        CHECK(net.load_param_mem(texts[g].c_str()) == 0);
        CHECK(net.load_model(bin.data()) == bin.size());
        ncnn::Extractor ex = net.create_extractor();
        ncnn::Mat in(iw, ih, cin0);
        for (int c = 0; c < cin0; ++c)
            std::memcpy(in.channel(c), x.data() + std::size_t(c) * ih * iw, 4 * ih * iw);
        ex.input("in", in);
        for (const char* name : {"out", "full", "pooled"}) {
            if ((pool == 2) == (std::strcmp(name, "out") == 0)) continue;
            ncnn::Mat m;
            CHECK(ex.extract(name, m) == 0);
            std::vector<float> v;
            for (int c = 0; c < m.c; ++c)
                v.insert(v.end(), static_cast<const float*>(m.channel(c)),
                         static_cast<const float*>(m.channel(c)) + m.w * m.h);
            outs[g].push_back(v);
        }
    }
    float worst = 0;
    CHECK(outs[0].size() == outs[1].size());
    for (std::size_t i = 0; i < outs[0].size() && i < outs[1].size(); ++i) {
        CHECK(outs[0][i].size() == outs[1][i].size() && !outs[0][i].empty());
        worst = std::max(worst, max_abs_diff(outs[0][i], outs[1][i]));
    }
    return worst;
}

void test_fused(const std::string& models) {
    std::mt19937 rng(3);
    for (const fz::Kernels* k : fz::fast_kernel_sets()) {
        const float worst = compare_sets(*k, fz::reference_kernels(), rng);
        std::printf("fused: %s vs reference, max |diff| = %.3g\n", k->name, worst);
        CHECK(worst <= 2e-5f);
    }
    std::printf("fused: this CPU runs the %s kernels\n", fz::best_kernels().name);

    // chains of units in one layer (widths a multiple of 8 run in bands, others unit by unit)
    float chain = 0;
    const std::vector<int> deep = {16, 64, 64, 16}, thin = {8, 8};
    for (int pool : {0, 1, 2}) {
        chain = std::max(chain, chain_vs_layers(rng, 40, 40, 0, pool, deep));
        chain = std::max(chain, chain_vs_layers(rng, 64, 64, 0, pool, deep));
        chain = std::max(chain, chain_vs_layers(rng, 20, 20, 0, pool, deep));
        chain = std::max(chain, chain_vs_layers(rng, 6, 16, 0, pool, thin));
        chain = std::max(chain, chain_vs_layers(rng, 80, 48, 2, pool, {16, 16}));
        chain = std::max(chain, chain_vs_layers(rng, 30, 20, 2, pool, deep));
        chain = std::max(chain, chain_vs_layers(rng, 2, 8, 0, pool, deep));
    }
    std::printf("fused: chains of units in one layer vs one layer each, max |diff| = %.3g\n",
                chain);
    CHECK(chain == 0.f);

    // The fused default model against the same weights as stock ncnn layers.
    tinyfq::Scorer fused;
    tinyfq::Scorer plain(models + "/plain.ncnn.param", models + "/plain.ncnn.bin",
                         models + "/plain.json");
    const int S = fused.info().input_size;
    float worst = 0, lo = 1, hi = 0;
    for (int i = 0; i < 32; ++i) {
        // smooth random images (a few cosines) rather than white noise, so scores vary
        std::vector<float> x(3 * S * S);
        const float fx = 0.02f * (rng() % 20), fy = 0.02f * (rng() % 20), ph = 0.1f * (rng() % 60);
        for (int c = 0; c < 3; ++c)
            for (int p = 0; p < S * S; ++p)
                x[c * S * S + p] = 0.9f * std::cos(fx * (p % S) + fy * (p / S) + ph + c) +
                                   0.05f * randv(rng, 1)[0];
        const float a = fused.score_tensor(x.data()), b = plain.score_tensor(x.data());
        worst = std::max(worst, std::fabs(a - b));
        lo = std::min(lo, a), hi = std::max(hi, a);
    }
    std::printf(
        "fused: default (fused layers) vs plain ncnn graph, max |score diff| = %.3g "
        "(scores %.3f..%.3f)\n",
        worst, lo, hi);
    CHECK(worst <= 1e-5f);
    CHECK(hi - lo > 0.01f);
}

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("fused", argc, argv, 1, "MODELS_DIR",
                                  [](char** a) { test_fused(a[0]); });
}
