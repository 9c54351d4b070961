// Scorer: tinyFQnet through ncnn. One ncnn::Net shared by all threads (ncnn nets are safe for
// concurrent extractors); every score takes a light-mode, one-thread extractor of its own, with
// pools for its blobs, from a list of idle ones (Impl::Worker).
#include "internal.h"
#include "fused.h"
#include "parallel.h"
#include "pool_allocator.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <sstream>
#include <utility>
#include <thread>

#include <cstdlib>

#include <allocator.h>
#include <datareader.h>
#include <net.h>
#include <cpu.h>
#include <platform.h>

namespace tinyfq {

struct Scorer::Impl {
    ncnn::Net net;
    ModelInfo info;
    Options opt;
    std::vector<unsigned char>
        bin;  // the weights of a model from files or memory (ncnn references them)
    // What one forward pass at a time needs: an extractor, and pools for its blob and
    // workspace memory (ncnn's default pools are shared by the net and take a lock on every
    // allocation, which the workers of a batch contend for). Idle ones are kept for the next
    // call: making an extractor costs ~9k instructions (ncnn's Option constructor counts the
    // CPU's cores every time), ~5% of a forward pass. (Not thread_local: a batch's threads are
    // new each time, and a thread's first use of a thread_local takes memory that, when the
    // C library cannot get it, ends the process.)
    struct Worker {
        detail::PoolAllocator blob, work;
        std::unique_ptr<ncnn::Extractor> ex;  // after its pools: destroyed first
    };
    detail::IdleList<Worker> idle;  // after the net: goes first
};

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw FileNotFound("no such file: " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void configure(ncnn::Net& net, const Options& opt) {
    fused::prepare_net(net, opt.fp16);  // the fused layers serve the exporter's fused format
}

bool file_exists(const std::string& p) {
    std::ifstream f(p);
    return bool(f);
}

// Weights from memory with a bound: ncnn's own memory reader reads as far as the graph asks,
// past the end of a short buffer. This one stops there and remembers it, and the caller checks
// that the graph used every byte (a .bin of another graph or a damaged one fails to load).
//
// Every block of weights starts with a 4-byte tag saying how it is stored, and the tag is the
// only thing ncnn read()s (it takes the data itself by reference()). Float32, float16,
// bfloat16 and table-quantized blocks load as float32; an int8 block (tag 0x000D4B38) loads as
// 1-byte values that a float layer reads as floats, four times past their end. It is refused.
class BoundedReader : public ncnn::DataReader {
public:
    static constexpr std::uint32_t kInt8Tag = 0x000D4B38;
    BoundedReader(const unsigned char* p, std::size_t n) : p_(p), left_(n) {}
    std::size_t read(void* buf, std::size_t size) const override {
        if (size > left_) return short_ = true, 0;
        if (size == sizeof(std::uint32_t)) {
            const std::uint32_t tag = std::uint32_t(p_[0]) | std::uint32_t(p_[1]) << 8 |
                                      std::uint32_t(p_[2]) << 16 | std::uint32_t(p_[3]) << 24;
            if (tag == kInt8Tag) return int8_ = true, 0;
        }
        std::memcpy(buf, p_, size);
        p_ += size, left_ -= size;
        return size;
    }
    std::size_t reference(std::size_t size, const void** buf) const override {
        if (size > left_) return short_ = true, 0;
        *buf = p_;
        p_ += size, left_ -= size;
        return size;
    }
    bool exhausted_early() const { return short_; }
    bool int8_block() const { return int8_; }
    std::size_t left() const { return left_; }

private:
    mutable const unsigned char* p_;
    mutable std::size_t left_;
    mutable bool short_ = false, int8_ = false;
};

// The weights are the ones the sidecar was written for (when it records them).
void check_weights(const ModelInfo& info, const unsigned char* bin, std::size_t size,
                   const std::string& what) {
    if (info.weights_bytes >= 0 && std::int64_t(size) != info.weights_bytes)
        throw Error(what + ": the weights have " + std::to_string(size) +
                    " bytes; the sidecar records " + std::to_string(info.weights_bytes) +
                    " (the .bin of another model or graph?)");
    if (!info.weights_sha256.empty() && detail::sha256_hex(bin, size) != info.weights_sha256)
        throw Error(what +
                    ": the weights' SHA-256 differs from the sidecar's (damaged, or "
                    "another model's)");
}

// Load `bin` (kept alive by the caller: ncnn references it) into `net`, or say why not.
void load_weights(ncnn::Net& net, const std::vector<unsigned char>& bin, const std::string& what) {
    BoundedReader dr(bin.data(), bin.size());
    const int rc = net.load_model(dr);
    if (dr.int8_block())
        throw Error(what +
                    ": a block of int8 weights (tag 0x000D4B38); this build's layers take "
                    "float32, float16 or bfloat16 weights");
    if (rc != 0 || dr.exhausted_early())
        throw Error(what + ": the weights end before the graph's layers do (" +
                    std::to_string(bin.size()) + " bytes; truncated, or not this graph's .bin)");
    if (dr.left() != 0)
        throw Error(what + ": " + std::to_string(dr.left()) + " of " + std::to_string(bin.size()) +
                    " bytes of weights are left over after the graph's layers (not this "
                    "graph's .bin)");
}

std::vector<unsigned char> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw FileNotFound("no such file: " + path);
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)), {});
}

}  // namespace

Scorer::Scorer(Empty) : impl_(new Impl) {}
Scorer::~Scorer() = default;
Scorer::Scorer(Scorer&&) noexcept = default;
Scorer& Scorer::operator=(Scorer&&) noexcept = default;

static void validate(Scorer& s, const ModelInfo& info) {
    // One forward pass on a grey image proves the graph runs and has a scalar output.
    std::vector<float> x(3 * info.input_size * info.input_size, 0.f);
    const float v = s.score_tensor(x.data());
    if (!(v >= 0.f && v <= 1.f))
        throw Error("model output on a test input is " + std::to_string(v) +
                    ", not a score in [0, 1] (is the sigmoid missing?)");
}

Scorer::Scorer(const Options& opt) : Scorer(Empty{}) {
    const detail::EmbeddedModel m = detail::embedded_model();
    impl_->opt = opt;
    impl_->info = parse_model_info(m.json);
    configure(impl_->net, opt);
    detail::check_graph(m.param, impl_->info);
    check_weights(impl_->info, m.bin, m.bin_size, "embedded model");
    if (impl_->net.load_param_mem(m.param) != 0) throw Error("embedded model: bad .param");
    if (impl_->net.load_model(m.bin) != m.bin_size) throw Error("embedded model: bad .bin");
    validate(*this, impl_->info);
}

Scorer::Scorer(const std::string& param_path, const std::string& bin_path,
               const std::string& json_path, const Options& opt)
    : Scorer(Empty{}) {
    for (const std::string* p : {&param_path, &bin_path, &json_path})
        if (!file_exists(*p)) throw FileNotFound("no such file: " + *p);
    impl_->opt = opt;
    impl_->info = parse_model_info(read_text(json_path));
    configure(impl_->net, opt);
    const std::string param_text = read_text(param_path);
    detail::check_graph(param_text, impl_->info);
    if (impl_->net.load_param_mem(param_text.c_str()) != 0)
        throw Error("cannot load ncnn param file (not a valid .param?): " + param_path);
    impl_->bin = read_bytes(bin_path);
    check_weights(impl_->info, impl_->bin.data(), impl_->bin.size(), bin_path);
    load_weights(impl_->net, impl_->bin, bin_path);
    validate(*this, impl_->info);
}

Scorer Scorer::from_memory(const std::string& param_text, const std::uint8_t* bin,
                           std::size_t bin_size, const std::string& json_text, const Options& opt) {
    Scorer s{Empty{}};
    s.impl_->opt = opt;
    s.impl_->info = parse_model_info(json_text);
    configure(s.impl_->net, opt);
    // ncnn references the weight memory instead of copying it: keep our own aligned copy.
    s.impl_->bin.assign(bin, bin + bin_size);
    detail::check_graph(param_text, s.impl_->info);
    if (s.impl_->net.load_param_mem(param_text.c_str()) != 0)
        throw Error("cannot parse ncnn param text");
    check_weights(s.impl_->info, s.impl_->bin.data(), s.impl_->bin.size(), "model weights");
    load_weights(s.impl_->net, s.impl_->bin, "model weights");
    validate(s, s.impl_->info);
    return s;
}

const ModelInfo& Scorer::info() const { return impl_->info; }
const Options& Scorer::options() const { return impl_->opt; }

float Scorer::score_tensor(const float* chw) const {
    const int S = impl_->info.input_size;
    // The layers only read their input: wrap the caller's tensor when its planes already sit
    // where an ncnn Mat puts them (16-byte aligned, channel stride S * S); copy otherwise.
    ncnn::Mat in;
    if ((S * S) % 4 == 0 && reinterpret_cast<std::uintptr_t>(chw) % 16 == 0) {
        in = ncnn::Mat(S, S, 3, const_cast<float*>(chw));
    } else {
        in.create(S, S, 3);
        if (in.empty()) throw OutOfMemory("out of memory for the model input");
        for (int c = 0; c < 3; ++c)
            std::memcpy(in.channel(c), chw + c * S * S, sizeof(float) * S * S);
    }
    std::unique_ptr<Impl::Worker> w = impl_->idle.take();
    if (!w) {
        w.reset(new Impl::Worker);
        w->ex.reset(new ncnn::Extractor(impl_->net.create_extractor()));
        w->ex->set_blob_allocator(&w->blob);
        w->ex->set_workspace_allocator(&w->work);
    }
    ncnn::Extractor* const ex = w->ex.get();
    const char* in_name = impl_->info.input_blob.c_str();
    const char* out_name = impl_->info.output_blob.c_str();
    if (ex->input(in_name, in) != 0)
        throw Error("model has no input blob \"" + impl_->info.input_blob + "\"");
    ncnn::Mat out;  // from w's pools: released before w is given back
    const int rc = ex->extract(out_name, out);
    if (rc == -100) throw OutOfMemory("out of memory while running the model");
    if (rc != 0 || out.empty())  // (w, perhaps holding stale blobs, is dropped)
        throw Error("model has no output blob \"" + impl_->info.output_blob + "\"");
    if (out.w * out.h * out.d * out.c * out.elempack != 1)
        throw Error("model output has shape " + std::to_string(out.c) + "x" +
                    std::to_string(out.h) + "x" + std::to_string(out.w) + " (pack " +
                    std::to_string(out.elempack) + "), expected a single value");
    const float q = out[0];
    // Forget this call's input and output (light mode has dropped everything in between), so
    // the next user of this extractor computes afresh, then give it back.
    out.release();
    ex->input(in_name, ncnn::Mat());
    ex->input(out_name, ncnn::Mat());
    impl_->idle.give(std::move(w));
    return q;
}

float Scorer::score(const ImageView& crop) const {
    const int S = impl_->info.input_size;
    std::vector<float> x(3 * S * S);
    preprocess_crop(crop, impl_->info, x.data());
    return score_tensor(x.data());
}

float Scorer::score(const ImageView& image, const Landmarks& lm) const {
    const int S = impl_->info.input_size;
    std::vector<float> x(3 * S * S);
    preprocess_warp(image, lm, impl_->info, x.data());
    return score_tensor(x.data());
}

int hardware_workers() {
    const unsigned n = std::thread::hardware_concurrency();
    return n ? int(n) : 1;
}

void Scorer::score_batch(const ImageView* images, const Landmarks* landmarks, std::size_t n,
                         float* out, int workers) const {
    detail::parallel_for(n, detail::resolve_workers(workers, impl_->opt), [&](std::size_t i, bool) {
        out[i] = landmarks ? score(images[i], landmarks[i]) : score(images[i]);
    });
}

namespace {

// How far a face with these landmarks may be reduced at decoding: the largest k of 1, 2, 4, 8
// with s / k >= 1, where s is the face's size in source pixels per template pixel (the scale
// of the warp's own inverse transform). The warp then still reads at least one decoded pixel
// per input pixel, as it did at full resolution for any s >= 1.
int face_reduction(const Landmarks& lm, const ModelInfo& info) {
    double inv[6];  // template -> image
    try {
        detail::warp_inverse(lm, info, inv);
    } catch (const InvalidInput&) {
        return 1;  // the warp reports bad landmarks after the file has been read
    }
    const double s = std::hypot(inv[0], inv[3]);
    int k = 1;
    while (k < 8 && s >= 2.0 * k) k *= 2;
    return k;
}

}  // namespace

const char* status_name(Status s) {
    switch (s) {
        case Status::ok:
            return "ok";
        case Status::missing:
            return "missing";
        case Status::invalid:
            return "invalid";
        case Status::no_face:
            return "no_face";
        case Status::unsupported:
            return "unsupported";
    }
    return "invalid";  // not a Status value
}

void Scorer::score_files(const std::string* paths, const Landmarks* landmarks, std::size_t n,
                         float* out, std::string* errors, Status* status, int workers,
                         std::int64_t max_pixels) const {
    const ModelInfo& info = impl_->info;
    const bool reduce = impl_->opt.reduced_decode;
    detail::for_each_file(
        n, detail::resolve_workers(workers, impl_->opt), errors, status,
        [&](std::size_t i) { out[i] = std::numeric_limits<float>::quiet_NaN(); },
        [&](std::size_t i) {
            DecodeOptions dopt = detail::file_decode(max_pixels, impl_->opt);
            if (reduce && !landmarks) {
                // A crop is resized whole to the input size: any reduction that leaves at least
                // that many pixels on both sides.
                dopt.min_width = dopt.min_height = info.input_size;
            } else if (reduce) {
                dopt.max_scale = face_reduction(landmarks[i], info);
                dopt.min_width = dopt.min_height = dopt.max_scale > 1 ? 1 : 0;
            }
            const Image img = read_image(paths[i], dopt);
            if (!landmarks) {
                out[i] = score(img.view());
            } else {
                // Decoded pixel j covers source pixels [k*j, k*j + k): x -> (x - (k-1)/2) / k.
                Landmarks lm = landmarks[i];
                const float k = float(img.scale), shift = 0.5f * (k - 1.f);
                for (float& v : lm.xy) v = (v - shift) / k;
                out[i] = score(img.view(), lm);
            }
        });
}

std::vector<ScoredFace> Scorer::score_faces(const Detector& detector, const ImageView& image,
                                            bool all_faces) const {
    std::vector<Face> faces = detector.detect(image);
    if (!all_faces && faces.size() > 1) faces.resize(1);
    std::vector<ScoredFace> out;
    out.reserve(faces.size());
    for (const Face& f : faces) out.push_back({f, score(image, f.landmarks)});
    return out;
}

void Scorer::score_batch_faces(const Detector& detector, const ImageView* images, std::size_t n,
                               std::vector<ScoredFace>* out, bool all_faces, int workers) const {
    detail::parallel_for(n, detail::resolve_workers(workers, impl_->opt), [&](std::size_t i, bool) {
        out[i] = score_faces(detector, images[i], all_faces);
    });
}

void Scorer::score_files_faces(const Detector& detector, const std::string* paths, std::size_t n,
                               std::vector<ScoredFace>* faces, std::string* errors, Status* status,
                               bool all_faces, int workers, std::int64_t max_pixels) const {
    detail::for_each_file(
        n, detail::resolve_workers(workers, impl_->opt), errors, status,
        [&](std::size_t i) { faces[i].clear(); },
        [&](std::size_t i) {
            const Image img = read_image(paths[i], detail::file_decode(max_pixels, impl_->opt));
            faces[i] = score_faces(detector, img.view(), all_faces);
            if (faces[i].empty()) status[i] = Status::no_face, errors[i] = "no face found";
        });
}

std::string ncnn_version() {
#ifdef NCNN_VERSION_STRING
    return NCNN_VERSION_STRING;
#else
    return "unknown";
#endif
}

std::string cpu_features() {
    std::string s;
    auto add = [&](const char* name, int on) {
        if (on) s += s.empty() ? name : std::string(" ") + name;
    };
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
    add("avx", ncnn::cpu_support_x86_avx());
    add("fma", ncnn::cpu_support_x86_fma());
    add("f16c", ncnn::cpu_support_x86_f16c());
    add("avx2", ncnn::cpu_support_x86_avx2());
    add("avx512", ncnn::cpu_support_x86_avx512());
#elif defined(__aarch64__) || defined(__arm__)
    add("neon", ncnn::cpu_support_arm_neon());
    add("asimdhp", ncnn::cpu_support_arm_asimdhp());
    add("asimddp", ncnn::cpu_support_arm_asimddp());
#endif
    return s.empty() ? "baseline" : s;
}

std::string network_kernels() { return fused::best_kernels().name; }

std::string embedded_model_json() { return detail::embedded_model().json; }

std::string embedded_detector_json() { return detail::embedded_detector().json; }

}  // namespace tinyfq
