// C++ test suite "scorer" (ctest scorer). Shared harness: check.h.
#include "check.h"
#include "parallel.h"
#include "pool_allocator.h"

#include <atomic>
#include <filesystem>
#include <limits>
#include <mutex>

#include <mat.h>

namespace {
using namespace tinyfq_test;

void test_scorer() {
    // one parser of pixel-format names for the bindings and tinyfq-score
    using PF = tinyfq::PixelFormat;
    CHECK(tinyfq::parse_pixel_format("BGR") == PF::BGR);
    CHECK(tinyfq::parse_pixel_format("rgba") == PF::RGBA);
    CHECK(tinyfq::parse_pixel_format("gray") == PF::GRAY);
    CHECK(tinyfq::parse_pixel_format("bgr", 4) == PF::BGRA);
    CHECK(tinyfq::parse_pixel_format("rgba", 3) == PF::RGB);
    CHECK(tinyfq::parse_pixel_format("rgb", 1) == PF::GRAY);
    CHECK(throws<tinyfq::InvalidInput>([] { tinyfq::parse_pixel_format("yuv"); }));
    CHECK(throws<tinyfq::InvalidInput>([] { tinyfq::parse_pixel_format("gray", 3); }));
    CHECK(throws<tinyfq::InvalidInput>([] { tinyfq::parse_pixel_format("bgr", 2); }));
    // SHA-256 (model integrity): FIPS 180-2 test vectors, one and two padding blocks.
    auto sha = [](const std::string& m) {
        return tinyfq::detail::sha256_hex(reinterpret_cast<const unsigned char*>(m.data()),
                                          m.size());
    };
    CHECK(sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    tinyfq::Scorer s;
    const int S = s.info().input_size;
    CHECK(S == 64);
    std::mt19937 rng(2);
    const int n = 48;
    std::vector<std::vector<std::uint8_t>> bufs(n);
    std::vector<tinyfq::ImageView> views(n);
    for (int i = 0; i < n; ++i) {
        const int w = 60 + i * 3, h = 64 + i;
        bufs[i].resize(std::size_t(w) * h * 3);
        for (auto& b : bufs[i]) b = std::uint8_t(rng() % (64 + 4 * i));
        views[i] = {bufs[i].data(), w, h, w * 3, tinyfq::PixelFormat::BGR};
    }
    std::vector<float> serial(n), par(n);
    for (int i = 0; i < n; ++i) serial[i] = s.score(views[i]);
    bool in_range = true, varied = false;
    for (float q : serial) in_range &= q >= 0.f && q <= 1.f, varied |= q != serial[0];
    CHECK(in_range);
    CHECK(varied);
    s.score_batch(views.data(), nullptr, n, par.data(), 4);
    CHECK(max_abs_diff(serial, par) == 0.f);
    // many threads sharing one scorer
    std::vector<std::thread> ts;
    std::vector<std::vector<float>> got(6, std::vector<float>(n));
    for (int t = 0; t < 6; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < n; ++i) got[t][i] = s.score(views[(i + t) % n]);
        });
    for (auto& t : ts) t.join();
    for (int t = 0; t < 6; ++t)
        for (int i = 0; i < n; ++i) CHECK(got[t][i] == serial[(i + t) % n]);
    // the first failing item's exception comes back from a batch
    views[17].stride = 1;
    CHECK(throws<tinyfq::InvalidInput>(
        [&] { s.score_batch(views.data(), nullptr, n, par.data(), 3); }));
    // models from missing files
    CHECK(throws<tinyfq::FileNotFound>([] { tinyfq::Scorer("/nonexistent.param", "b", "j"); }));
    CHECK(throws<tinyfq::Error>([] { tinyfq::parse_model_info("{\"input\": 3}"); }));
}

// score_files: one Status per file (ok, missing, invalid), the scores of the files that
// decode equal to scoring their pixels, NaN for the others.
void test_score_files() {
    if (!tinyfq::have_decoder()) return;
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() /
                         ("tinyfq_test_scorer_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    const int W = 70, H = 64;
    std::vector<std::uint8_t> rgb(std::size_t(W) * H * 3);
    std::mt19937 rng(5);
    for (auto& b : rgb) b = std::uint8_t(rng() % 200);
    const std::string good = (dir / "crop.ppm").string(), junk = (dir / "junk.jpg").string();
    {
        std::ofstream f(good, std::ios::binary);
        f << "P6\n" << W << " " << H << "\n255\n";
        f.write(reinterpret_cast<const char*>(rgb.data()), std::streamsize(rgb.size()));
        std::ofstream(junk, std::ios::binary) << "not an image at all";
    }
    const std::vector<std::string> paths = {good, (dir / "nope.png").string(), junk, good};
    const std::size_t n = paths.size();
    tinyfq::Scorer s;
    std::vector<float> out(n);
    std::vector<std::string> errors(n, "stale");
    std::vector<tinyfq::Status> status(n, tinyfq::Status::no_face);
    s.score_files(paths.data(), nullptr, n, out.data(), errors.data(), status.data(), 2);
    const float want = s.score({rgb.data(), W, H, W * 3, tinyfq::PixelFormat::RGB});
    using St = tinyfq::Status;
    CHECK(status[0] == St::ok && status[3] == St::ok);
    CHECK(out[0] == want && out[3] == want);
    CHECK(errors[0].empty() && errors[3].empty());
    CHECK(status[1] == St::missing && std::isnan(out[1]) && !errors[1].empty());
    CHECK(status[2] == St::invalid && std::isnan(out[2]) && !errors[2].empty());
    CHECK(std::string(tinyfq::status_name(St::ok)) == "ok");
    CHECK(std::string(tinyfq::status_name(St::missing)) == "missing");
    CHECK(std::string(tinyfq::status_name(St::invalid)) == "invalid");
    CHECK(std::string(tinyfq::status_name(St::no_face)) == "no_face");
    CHECK(std::string(tinyfq::status_name(St::unsupported)) == "unsupported");
    // Unsupported is an InvalidInput (the bindings' ValueError)
    CHECK(throws<tinyfq::InvalidInput>([] { throw tinyfq::Unsupported("a variant"); }));
    std::error_code ec;
    fs::remove_all(dir, ec);
}

// detail::parallel_for: an allocation that fails beside other workers is tried again alone;
// any other failure, or one alone, is the batch's exception.
void test_parallel_for() {
    using tinyfq::detail::parallel_for;
    const std::size_t n = 40;
    std::vector<std::atomic<int>> done(n), tries(n);
    std::vector<std::atomic<bool>> done_alone(n);
    auto reset = [&] {
        for (std::size_t i = 0; i < n; ++i) done[i] = 0, tries[i] = 0, done_alone[i] = false;
    };
    // every fifth item fails to allocate while others run (both kinds of memory error)
    reset();
    parallel_for(n, 4, [&](std::size_t i, bool alone) {
        ++tries[i];
        if (i % 5 == 0 && !alone) {
            if (i % 10) throw tinyfq::OutOfMemory("no memory");
            throw std::bad_alloc();
        }
        ++done[i];
        done_alone[i] = alone;
    });
    // A worker that hits one stops, so these run alone: left for later (a second try) or
    // reached by the calling thread once the others are gone.
    int retried = 0;
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(done[i] == 1);
        if (i % 5) CHECK(tries[i] == 1);
        if (i % 5 == 0) CHECK(done_alone[i] && (tries[i] == 1 || tries[i] == 2));
        retried += tries[i] == 2;
    }
    CHECK(retried >= 1 && retried <= 4);
    // an item that cannot be allocated even alone: its error comes back, after one retry
    reset();
    CHECK(throws<tinyfq::OutOfMemory>([&] {
        parallel_for(n, 4, [&](std::size_t i, bool alone) {
            ++tries[i];
            if (i == 7) throw tinyfq::OutOfMemory("no memory");
            done_alone[i] = alone;
        });
    }));
    CHECK(tries[7] >= 1 && tries[7] <= 2);
    // other errors are not retried
    reset();
    CHECK(throws<tinyfq::InvalidInput>([&] {
        parallel_for(n, 4, [&](std::size_t i, bool) {
            ++tries[i];
            if (i == 3) throw tinyfq::InvalidInput("bad");
        });
    }));
    CHECK(tries[3] == 1);
    // one worker is alone from the start: no retry
    reset();
    CHECK(throws<std::bad_alloc>([&] {
        parallel_for(n, 1, [&](std::size_t i, bool alone) {
            ++tries[i];
            CHECK(alone);
            if (i == 2) throw std::bad_alloc();
        });
    }));
    CHECK(tries[2] == 1 && tries[3] == 0);
}

// detail::PoolAllocator: keeps freed buffers for reuse; a refused allocation is null and is
// not booked.
void test_pool_allocator() {
    tinyfq::detail::PoolAllocator pool;
    void* a = pool.fastMalloc(1000);
    CHECK(a != nullptr);
    pool.fastFree(a);
    void* b = pool.fastMalloc(900);  // fits the kept 1000 bytes
    CHECK(b == a);
    void* c = pool.fastMalloc(100);  // would waste 90% of a kept buffer: a new one
    CHECK(c != nullptr && c != b);
    pool.fastFree(b);
    void* d = pool.fastMalloc(400);  // less than 3/4 of the kept 1000: not that one
    CHECK(d != b);
    // more than any machine has (the sanitizer build runs with allocator_may_return_null=1)
    CHECK(pool.fastMalloc(std::numeric_limits<std::size_t>::max() / 4) == nullptr);
    void* e = pool.fastMalloc(950);  // still served: the failure was not booked
    CHECK(e != nullptr);
    std::memset(e, 1, 950);
    for (void* p : {c, d, e}) pool.fastFree(p);
    // an ncnn Mat from the pool: empty when refused, usable otherwise
    ncnn::Mat huge(1 << 30, 1 << 20, 3, 4u, &pool);
    CHECK(huge.empty());
    ncnn::Mat m(64, 64, 3, 4u, &pool);
    CHECK(!m.empty());
}

// detail::thread_room: the threads an address-space limit leaves room for.
void test_thread_room() {
#if defined(__linux__)
    rlimit saved{};
    CHECK(getrlimit(RLIMIT_AS, &saved) == 0);
    if (saved.rlim_cur != RLIM_INFINITY) return;  // run under a limit already: nothing to set
    CHECK(tinyfq::detail::thread_room() == INT_MAX);
    unsigned long long pages = 0;
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    CHECK(f && std::fscanf(f, "%llu", &pages) == 1);
    if (f) std::fclose(f);
    pthread_attr_t attr;
    std::size_t stack = 0;
    pthread_attr_init(&attr);
    pthread_attr_getstacksize(&attr, &stack);
    pthread_attr_destroy(&attr);
    const std::uint64_t used = pages * std::uint64_t(sysconf(_SC_PAGESIZE));
    const std::uint64_t per = stack + tinyfq::detail::kWorkerBytes;
    rlimit lim = saved;
    lim.rlim_cur = rlim_t(used + tinyfq::detail::kReserveBytes + 3 * per + per / 2);  // 3.5 threads
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
    rlimit now{};
    if (getrlimit(RLIMIT_AS, &now) != 0 || now.rlim_cur != lim.rlim_cur) {
        // qemu-user accepts a guest's RLIMIT_AS and ignores it (the limit would bound qemu)
        std::printf("thread_room: RLIMIT_AS cannot be set here (an emulator?); not tested\n");
        setrlimit(RLIMIT_AS, &saved);
        return;
    }
    const int room = tinyfq::detail::thread_room();
    lim.rlim_cur = rlim_t(used + tinyfq::detail::kReserveBytes / 2);  // not even the reserve
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
    const int none = tinyfq::detail::thread_room();
    CHECK(setrlimit(RLIMIT_AS, &saved) == 0);
    CHECK(room == 3);
    CHECK(none == 0);
#endif
}

}  // namespace

int main(int argc, char** argv) {
    return tinyfq_test::run_suite("scorer", argc, argv, 0, "", [](char**) {
        test_scorer();
        test_score_files();
        test_parallel_for();
        test_pool_allocator();
        test_thread_room();
    });
}
