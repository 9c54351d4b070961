// tinyfq-profile: where one forward pass of the embedded model spends its time, stage by stage,
// against this core's measured FMA peak (the floor for the network's arithmetic).
//
//   tinyfq-profile [--reps N]
//   tinyfq-profile --detector SIZE [--reps N]
//
// Each stage is one of the fused kernels (fused.h) timed alone on the shapes the embedded
// model's layers use (read from its .param), best of 25 runs of N calls (default 400);
// "glue" is the rest of Scorer::score_tensor (ncnn's extractor, blob allocation, borders of
// the workspace). The preprocessing kernels are timed the same way.
//
// --detector SIZE times the embedded face detector's graph layer by layer on a SIZE x SIZE
// input (a multiple of 32): each layer runs alone in an extractor whose inputs are the blobs a
// full pass made, best of 25 runs of N calls, less an extractor that runs nothing; then the
// whole Detector::detect_prepared (forward, decoding, NMS) on the same input.
#include "fused.h"
#include "internal.h"
#include "pool_allocator.h"
#include "tinyfq/tinyfq.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <net.h>

namespace fz = tinyfq::fused;

namespace {

// Best of 25 short runs: on a shared machine a burst of load elsewhere spoils a few runs,
// rarely all of them.
template <class F>
double best_us(F f, int reps) {
    double best = 1e30;
    for (int r = 0; r < 25; ++r) {
        const auto t = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) f();
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count();
        best = std::min(best, us / reps);
    }
    return best;
}

// Ten independent multiply-add chains, one vector register each (named, so they stay in
// registers): the most floating-point work this core does per second.
#define TINYFQ_PEAK_LOOP(V, FMA, CONSTRAINT, LANES)                                               \
    const long n = 20000000;                                                                      \
    V a0 = m, a1 = c, a2 = m, a3 = c, a4 = m, a5 = c, a6 = m, a7 = c, a8 = m, a9 = c;             \
    const auto t = std::chrono::steady_clock::now();                                              \
    for (long k = 0; k < n; ++k) {                                                                \
        a0 = FMA(a0), a1 = FMA(a1), a2 = FMA(a2), a3 = FMA(a3), a4 = FMA(a4);                     \
        a5 = FMA(a5), a6 = FMA(a6), a7 = FMA(a7), a8 = FMA(a8), a9 = FMA(a9);                     \
        __asm__ volatile(""                                                                       \
                         : CONSTRAINT(a0), CONSTRAINT(a1), CONSTRAINT(a2), CONSTRAINT(a3),        \
                           CONSTRAINT(a4), CONSTRAINT(a5), CONSTRAINT(a6), CONSTRAINT(a7),        \
                           CONSTRAINT(a8), CONSTRAINT(a9));                                       \
    }                                                                                             \
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); \
    return double(n) * 10 * LANES * 2 / s / 1e9;

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) double fma_peak_gflops() {
    const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
#define TINYFQ_FMA(x) _mm256_fmadd_ps(x, m, c)
#define TINYFQ_REG(x) "+x"(x)
    TINYFQ_PEAK_LOOP(__m256, TINYFQ_FMA, TINYFQ_REG, 8)
}
#else
double fma_peak_gflops() {  // NEON: 4 floats per register
    typedef float v4 __attribute__((vector_size(16)));
    const v4 m = v4{} + 0.9999f, c = v4{} + 1e-4f;
#define TINYFQ_FMA(x) (x * m + c)
#define TINYFQ_REG(x) "+w"(x)
    TINYFQ_PEAK_LOOP(v4, TINYFQ_FMA, TINYFQ_REG, 4)
}
#endif

// One line of an ncnn .param: the layer, its blobs and its parameters 0-4.
struct GraphLayer {
    std::string type, name;
    std::vector<std::string> in, out;
    int p[5] = {0, 0, 0, 0, 0};
};

std::vector<GraphLayer> parse_graph(const char* text) {
    std::vector<GraphLayer> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        GraphLayer l;
        int nin = 0, nout = 0;
        if (!(ls >> l.type >> l.name >> nin >> nout)) continue;
        l.in.resize(nin), l.out.resize(nout);
        for (auto& b : l.in) ls >> b;
        for (auto& b : l.out) ls >> b;
        std::string tok;
        while (ls >> tok) {
            const auto eq = tok.find('=');
            const int k = std::atoi(tok.substr(0, eq).c_str());
            if (eq != std::string::npos && k >= 0 && k < 5)
                l.p[k] = std::atoi(tok.c_str() + eq + 1);
        }
        out.push_back(l);
    }
    return out;
}

int profile_detector(int size, int reps) {
    if (size < 32 || size % 32) {
        std::fprintf(stderr, "--detector: the size must be a positive multiple of 32\n");
        return 2;
    }
    const tinyfq::detail::EmbeddedModel m = tinyfq::detail::embedded_detector();
    ncnn::Net net;
    fz::prepare_net(net, false);
    net.opt.use_packing_layout = false;  // as the Detector runs it
    if (net.load_param_mem(m.param) != 0 || net.load_model(m.bin) != m.bin_size) {
        std::fprintf(stderr, "the embedded detector does not load\n");
        return 1;
    }
    const std::vector<GraphLayer> graph = parse_graph(m.param);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.f, 255.f);
    ncnn::Mat x(size, size, 3);
    for (int i = 0; i < size * size * 3; ++i) static_cast<float*>(x.data)[i] = u(rng);
    // every blob of one full pass (a non-light extractor keeps them all)
    std::map<std::string, ncnn::Mat> blobs;
    {
        ncnn::Extractor ex = net.create_extractor();
        ex.set_light_mode(false);
        ex.input("in0", x);
        blobs["in0"] = x;
        for (const GraphLayer& l : graph)
            for (const std::string& b : l.out)
                if (l.type != "Input" && ex.extract(b.c_str(), blobs[b]) != 0) {
                    std::fprintf(stderr, "blob %s does not extract\n", b.c_str());
                    return 1;
                }
    }
    // the Detector's memory: blob and workspace pools kept from call to call
    tinyfq::detail::PoolAllocator blob_pool, work_pool;
    auto extractor = [&] {
        ncnn::Extractor ex = net.create_extractor();
        ex.set_blob_allocator(&blob_pool);
        ex.set_workspace_allocator(&work_pool);
        return ex;
    };
    const double empty = best_us(
        [&] {
            ncnn::Extractor ex = extractor();
            ncnn::Mat o;
            ex.input("in0", x);
            ex.extract("in0", o);
        },
        reps);
    std::printf("detector input %dx%d; an extractor that runs nothing: %.2f us (subtracted)\n",
                size, size, empty);
    std::printf("%-26s %-14s %-16s %9s\n", "layer", "type", "output", "us");
    double total = 0;
    for (const GraphLayer& l : graph) {
        if (l.type == "Input") continue;
        const double us = best_us(
                              [&] {
                                  ncnn::Extractor ex = extractor();
                                  for (const std::string& b : l.in) ex.input(b.c_str(), blobs[b]);
                                  ncnn::Mat o;
                                  ex.extract(l.out[0].c_str(), o);
                              },
                              reps) -
                          empty;
        const ncnn::Mat& o = blobs[l.out[0]];
        char shape[32];
        std::snprintf(shape, sizeof shape, "%dx%dx%d", o.c, o.h, o.w);
        std::printf("%-26s %-14s %-16s %9.2f\n", l.name.c_str(), l.type.c_str(), shape, us);
        total += us;
    }
    std::printf("%-57s %9.2f\n", "sum of layers", total);
    const double forward = best_us(
        [&] {
            ncnn::Extractor ex = extractor();
            ex.input("in0", x);
            for (const char* head : {"head_8", "head_16", "head_32"}) {
                ncnn::Mat o;
                ex.extract(head, o);
            }
        },
        reps);
    std::printf("%-57s %9.2f\n", "the whole graph (the three heads, no decoding)", forward);
    tinyfq::DetectOptions opt;
    opt.max_side = size;
    const tinyfq::Detector det(opt);
    std::vector<float> chw(static_cast<float*>(x.data),
                           static_cast<float*>(x.data) + 3 * size * size);
    std::size_t found = 0;
    const double whole = best_us(
        [&] { found += det.detect_prepared(chw.data(), size, size, 1.f, 1.f).size(); }, reps);
    std::printf("%-57s %9.2f\n", "Detector::detect_prepared (forward, decoding, NMS)", whole);
    return found == std::size_t(-1);
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 400, detector = 0;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--detector") && i + 1 < argc) {
            detector = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: tinyfq-profile [--detector SIZE] [--reps N]\n");
            return 2;
        }
    }
    if (detector) return profile_detector(detector, reps);
    const fz::Kernels& k = fz::best_kernels();
    const tinyfq::detail::EmbeddedModel m = tinyfq::detail::embedded_model();
    std::vector<GraphLayer> layers = parse_graph(m.param);
    layers.erase(std::remove_if(layers.begin(), layers.end(),
                                [](const GraphLayer& l) { return l.type.rfind("Tinyfq", 0) != 0; }),
                 layers.end());
    if (layers.empty()) {
        std::fprintf(stderr, "the embedded model is not a fused graph\n");
        return 1;
    }
    tinyfq::Scorer scorer;
    const int S = scorer.info().input_size;

    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(3 * S * S), a(1 << 18), b(1 << 18), w(1 << 16), work(1 << 18);
    for (auto* v : {&x, &a, &b, &w, &work})
        for (float& f : *v) f = u(rng) * 0.5f;
    volatile float sink = 0;
    const double forward = best_us([&] { sink = scorer.score_tensor(x.data()); }, reps);
    const double peak = fma_peak_gflops();

    std::printf("kernels: %s; FMA peak on this core: %.1f GFLOP/s\n", k.name, peak);
    std::printf("%-34s %9s %9s %9s %7s\n", "stage", "MFLOP", "us", "floor us", "% peak");
    double total_flop = 0, total_us = 0;
    auto row = [&](const std::string& what, double flop, double us) {
        total_flop += flop, total_us += us;
        const double floor = flop / (peak * 1e3);
        std::printf("%-34s %9.3f %9.2f %9.2f %6.0f%%\n", what.c_str(), flop / 1e6, us, floor,
                    100 * floor / us);
    };
    auto stride_of = [](int s) { return s > 0 ? s : 1; };
    int h = S, wd = S, c = 3;
    char buf[128];
    for (const GraphLayer& l : layers) {
        if (l.type == "TinyfqConv3x3") {
            const int cout = l.p[0], s = stride_of(l.p[2]);
            const int ho = fz::out_size(h, s), wo = fz::out_size(wd, s);
            std::snprintf(buf, sizeof buf, "stem 3x3 %d->%d s%d (%dx%d)", c, cout, s, h, wd);
            row(buf, 2.0 * ho * wo * cout * c * 9,
                best_us(
                    [&] {
                        k.conv3x3(x.data(), c, std::size_t(h) * wd, h, wd, s, w.data(), w.data(),
                                  cout, a.data(), std::size_t(ho) * wo + 16, work.data(), 0, ho);
                    },
                    reps));
            h = ho, wd = wo, c = cout;
        } else if (l.type == "TinyfqBlock") {
            const int hid = l.p[1], cout = l.p[2], s = stride_of(l.p[3]);
            const int ho = fz::out_size(h, s), wo = fz::out_size(wd, s), rs = wd + 2;
            const std::size_t ics = std::size_t(h) * wd + 16, ps = std::size_t(rs) * (h + 2) + 4,
                              ms = std::size_t(ho) * wo + 16;
            std::snprintf(buf, sizeof buf, "block %d->%d->%d s%d (%dx%d)", c, hid, cout, s, h, wd);
            const std::string name = buf;
            row(name + " expand", 2.0 * h * wd * hid * c,
                best_us(
                    [&] {
                        k.conv1x1(a.data(), c, ics, h, wd, w.data(), w.data(), hid,
                                  work.data() + rs + 1, ps, rs, nullptr, 0, true);
                    },
                    reps));
            row(name + " depthwise", 2.0 * ho * wo * hid * 9,
                best_us(
                    [&] {
                        k.dw3x3(work.data(), ps, h, wd, s, w.data(), w.data(), hid, b.data(), ms,
                                true);
                    },
                    reps));
            row(name + " project", 2.0 * ho * wo * cout * hid,
                best_us(
                    [&] {
                        k.conv1x1(b.data(), hid, ms, ho, wo, w.data(), w.data(), cout, a.data(), ms,
                                  wo, l.p[4] ? a.data() : nullptr, ms, true);
                    },
                    reps));
            h = ho, wd = wo, c = cout;
        } else if (l.type == "TinyfqHead") {
            const int mid = l.p[1];
            std::snprintf(buf, sizeof buf, "head 1x1 %d->%d + avg + fc (%dx%d)", c, mid, h, wd);
            row(buf, 2.0 * h * wd * mid * c + 2.0 * mid,
                best_us(
                    [&] {
                        sink = k.head(a.data(), c, std::size_t(h) * wd, h * wd, w.data(), w.data(),
                                      mid, w.data(), 0.f);
                    },
                    reps));
        }
    }
    std::printf("%-34s %9.3f %9.2f %9.2f %6.0f%%\n", "sum of stages", total_flop / 1e6, total_us,
                total_flop / (peak * 1e3), 100 * total_flop / (peak * 1e3) / total_us);
    std::printf("%-34s %9s %9.2f\n", "glue (ncnn extractor, blobs)", "", forward - total_us);
    std::printf("%-34s %9.3f %9.2f %9.2f %6.0f%%\n", "forward (Scorer::score_tensor)",
                total_flop / 1e6, forward, total_flop / (peak * 1e3),
                100 * total_flop / (peak * 1e3) / forward);
    // Preprocessing to the normalised input (the fused kernels; C++ calls, no Python).
    std::vector<std::uint8_t> crop(112 * 112 * 3), photo(250 * 250 * 3);
    for (auto& p : crop) p = std::uint8_t(rng());
    for (auto& p : photo) p = std::uint8_t(rng());
    const tinyfq::ImageView cv{crop.data(), 112, 112, 112 * 3, tinyfq::PixelFormat::BGR};
    const tinyfq::ImageView pv{photo.data(), 250, 250, 250 * 3, tinyfq::PixelFormat::BGR};
    tinyfq::Landmarks lm;
    const float pts[10] = {100, 115, 150, 115, 125, 140, 105, 165, 145, 165};
    std::copy(pts, pts + 10, lm.xy);
    std::printf("%-34s %9s %9.2f\n", "preprocess: crop 112x112 -> 64", "",
                best_us([&] { tinyfq::preprocess_crop(cv, scorer.info(), x.data()); }, reps));
    std::printf("%-34s %9s %9.2f\n", "preprocess: warp 250x250 + 5 pts", "",
                best_us([&] { tinyfq::preprocess_warp(pv, lm, scorer.info(), x.data()); }, reps));
    return sink == 12345.f;  // keep the results alive
}
