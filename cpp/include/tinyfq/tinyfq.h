// tinyfq: face image quality (tinyFQnet) scored through ncnn.
//
// Public C++ API. Plain structs and one Scorer class; no Python, no ncnn types.
// Errors are reported with exceptions:
//   tinyfq::InvalidInput  - the caller passed something unusable (shape, stride, landmarks)
//   tinyfq::Unsupported   - a valid image file of a variant the decoders do not handle (an
//                           InvalidInput, so code that catches that catches it too)
//   tinyfq::FileNotFound  - a path that does not exist
//   tinyfq::OutOfMemory   - an allocation failed (std::bad_alloc may also come through)
//   tinyfq::Error         - anything else (a model that fails to load, an undecodable image)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tinyfq {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct InvalidInput : Error {
    using Error::Error;
};
// A well-formed image file of a variant the decoders do not handle: not damaged, but not
// decodable by this build. Batch calls report it as Status::unsupported.
struct Unsupported : InvalidInput {
    using InvalidInput::InvalidInput;
};
struct FileNotFound : Error {
    using Error::Error;
};
struct OutOfMemory : Error {
    using Error::Error;
};

enum class PixelFormat { BGR, RGB, GRAY, BGRA, RGBA };

int channels(PixelFormat f);

// The pixel format a name gives ("bgr", "rgb", "gray", "bgra", "rgba"; any case). With
// `channels` (1, 3 or 4, e.g. an array's third dimension) the name gives only the colour order
// and the count decides the rest: 1 is grey whatever the name, "bgr" with 4 channels is BGRA.
// Throws InvalidInput for any other name or count.
PixelFormat parse_pixel_format(const std::string& name, int channels = 0);

// A read-only view of 8-bit pixels. `stride` is the distance between rows in bytes
// (>= width * channels); pixels within a row are packed.
struct ImageView {
    const std::uint8_t* data = nullptr;
    int width = 0;
    int height = 0;
    std::ptrdiff_t stride = 0;
    PixelFormat format = PixelFormat::BGR;
};

// Five facial landmarks as (x, y) pairs: left eye, right eye, nose, left and right mouth
// corners, in the pixel coordinates of the image they belong to (pixel centres at integers).
struct Landmarks {
    float xy[10];
};

// What a model needs to see its input correctly; read from the exporter's JSON sidecar.
struct ModelInfo {
    int input_size = 64;  // square input, pixels
    float mean[3] = {127.5f, 127.5f, 127.5f};
    float std[3] = {128.f, 128.f, 128.f};
    bool rgb = true;               // channel order of the network input
    float alignment_template[10];  // landmark template in input_size pixel coordinates
    std::string input_blob = "in0";
    std::string output_blob = "out0";
    std::string version;  // model version string from the sidecar
    std::string name;
    std::string label_model;          // the face-recognition model that made the labels
    std::string graph;                // "fused" or "plain" (the exporter's graph format)
    std::int64_t weights_bytes = -1;  // the .bin's size and SHA-256 (hex), when recorded;
    std::string weights_sha256;       // checked when the model is loaded
    std::string json;                 // the sidecar as read
};

// Parse an exporter sidecar (JSON text). Throws Error naming the missing/invalid field.
ModelInfo parse_model_info(const std::string& json_text);

struct Options {
    int workers = 0;    // default workers for batch scoring; 0 = hardware concurrency
    bool fp16 = false;  // ncnn fp16 storage + arithmetic where the CPU has it (~1e-3), for
                        // plain graphs; the fused layers (default model) are always fp32
    // score_files: decode JPEGs at 1/2, 1/4 or 1/8 of their size when the face keeps at least
    // the model's input resolution (see DecodeOptions and Scorer::score_files). Less decoding
    // work, but not the same scores: the reduced image is low-pass filtered (close to a box
    // filter), the full-size path resamples without one, and the model tells them apart: on
    // LFW taken as crops, |reduced - full| is 0.022 on average and up to 0.15
    // (bench/decode_lfw.json). Off by default. In-memory scoring is never affected.
    bool reduced_decode = false;
    // score_files and score_files_faces: decode a photo upright as its EXIF Orientation tag
    // says (DecodeOptions::exif_orientation): as viewers show it, and in the frame landmarks
    // given with it are taken in. false: scored as stored.
    bool exif_orientation = true;
};

// Preprocessing: one fused pass from 8-bit pixels to the normalised, planar (CHW) float input
// of size 3 x info.input_size x info.input_size. Each has a scalar reference twin with the
// same contract (used by tests; TINYFQ_REFERENCE=1 in the environment forces it everywhere).
//
// (a) an aligned crop (the ArcFace 112 template scaled to the crop's size) of any size.
void preprocess_crop(const ImageView& img, const ModelInfo& info, float* out);
void preprocess_crop_reference(const ImageView& img, const ModelInfo& info, float* out);
// (b) a full image and its five landmarks: similarity transform to info.alignment_template,
// warped straight to the input size (bilinear; outside the image reads as black).
void preprocess_warp(const ImageView& img, const Landmarks& lm, const ModelInfo& info, float* out);
void preprocess_warp_reference(const ImageView& img, const Landmarks& lm, const ModelInfo& info,
                               float* out);

// Least-squares similarity transform (rotation, uniform scale, translation) mapping `src`
// points onto `dst` points (n pairs of x, y). Returns the 2x3 matrix [a -b tx; b a ty].
void estimate_similarity(const float* src, const float* dst, int n, float m[6]);

// Decoded 8-bit image (RGB or GRAY, see format).
struct Image {
    std::vector<std::uint8_t> pixels;
    int width = 0, height = 0;
    PixelFormat format = PixelFormat::RGB;
    // The decoder reduced the source by this factor (1, 2, 4 or 8; see DecodeOptions). Decoded
    // pixel i covers source pixels [scale*i, scale*i + scale), so a source coordinate x (pixel
    // centres at integers) is at (x - (scale - 1) / 2) / scale in the decoded image; source
    // coordinates are upright ones when the decoder turned the image upright.
    int scale = 1;
    // The file's EXIF orientation (1 to 8, 1 without one); the pixels are upright, not as
    // stored, when DecodeOptions::exif_orientation was set.
    int orientation = 1;
    ImageView view() const;
};

constexpr std::int64_t kDefaultMaxPixels = 64LL * 1024 * 1024;
// The most memory one decode may take (the decoder's buffers and the returned pixels), judged
// from the file's header before anything is allocated: an 8192 x 8192 8-bit PNG (about 400 MiB
// at its peak) fits, its 16-bit twin (about 800 MiB) does not.
constexpr std::uint64_t kDefaultMaxDecodeBytes = 512ULL << 20;

// How to decode. A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size straight from its DCT
// coefficients (libjpeg's DCT scaling), several times faster than a full decode followed by a
// resize. Only builds with libjpeg do this; PNG, BMP and PNM, and every format in builds
// without libjpeg, are decoded at full size (scale 1).
struct DecodeOptions {
    std::int64_t max_pixels = kDefaultMaxPixels;  // limit on the source's width x height
    std::uint64_t max_decode_bytes = kDefaultMaxDecodeBytes;  // memory budget of one decode
    // The smallest decoded size the caller needs: the decoder takes the largest reduction k of
    // 1, 2, 4, 8 (and <= max_scale) whose output, ceil(W/k) x ceil(H/k), still has both sides
    // >= min_width x min_height. 0 x 0 (the default) means full resolution.
    int min_width = 0;
    int min_height = 0;
    int max_scale = 8;
    // Turn the image upright as its EXIF Orientation tag says (a JPEG's APP1 Exif segment, a
    // PNG's eXIf chunk): rotated and/or mirrored into what viewers, OpenCV and Pillow's
    // exif_transpose show. min_width and min_height are then the upright sides, and a
    // reduction keeps the Image::scale mapping exact in upright coordinates. false: as stored.
    bool exif_orientation = true;
};

// Decode JPEG/PNG/BMP/PNM from memory or a file. Throws FileNotFound, Unsupported (a valid
// file of a variant the decoders do not handle), or Error with the reason (empty, truncated,
// corrupt, not an image, larger than max_pixels).
Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeOptions& opt);
Image read_image(const std::string& path, const DecodeOptions& opt);
Image decode_image(const std::uint8_t* data, std::size_t size,
                   std::int64_t max_pixels = kDefaultMaxPixels);
Image read_image(const std::string& path, std::int64_t max_pixels = kDefaultMaxPixels);
bool have_decoder();
// What decodes JPEG files: "libjpeg-turbo 2.1.5" (or "libjpeg 62") when the build linked
// libjpeg, else "stb_image" (ncnn's), or "none". TINYFQ_DECODER=stb in the environment makes a
// libjpeg build use stb_image too (to compare with builds that lack libjpeg).
std::string jpeg_decoder();

// ---------------------------------------------------------------- face detection
//
// YuNet (Wu, Peng, Yu 2023; Apache-2.0, see NOTICE), a 75k-parameter anchor-free face detector
// with five landmarks, converted to an ncnn graph by scripts/convert_yunet.py and embedded in
// the library beside the quality model.

// One detected face, in the pixel coordinates of the image it was found in.
struct Face {
    float x = 0, y = 0, w = 0, h = 0;  // box: top-left corner and size
    float confidence = 0;              // sqrt(cls x obj), as OpenCV's FaceDetectorYN reports it
    Landmarks landmarks{};             // the alignment template's order (see Landmarks)
};

struct DetectOptions {
    // The image is downscaled (never upscaled) so that its longer side is at most max_side
    // pixels, then padded to multiples of 32: the detector's cost grows with the square of
    // this. YuNet's smallest anchors find faces of ~10 input pixels, so the default finds faces
    // down to ~3% of the image's longer side; on LFW (250x250) 160 finds as many faces as 320
    // (bench/README.md, detection rate by size), but the landmarks move, and the quality
    // scores with them (README, "Face detection").
    int max_side = 320;
    float score_threshold = 0.6f;  // candidates below this confidence are dropped
    float nms_threshold = 0.3f;    // IoU above which the weaker of two boxes is dropped
    float min_face = 0.f;  // boxes whose longer side is below this (image pixels) are dropped
    int top_k = 1000;      // at most this many candidates enter NMS (highest first)
};

// The detector's input for an image: BGR 0-255 planar floats, padded to multiples of 32.
struct DetectorInput {
    std::vector<float> chw;          // 3 x height x width
    int width = 0, height = 0;       // padded size
    float scale_x = 1, scale_y = 1;  // detector pixels per image pixel (resized / original)
};

class Detector {
public:
    explicit Detector(const DetectOptions& opt = DetectOptions());
    ~Detector();
    Detector(Detector&&) noexcept;
    Detector& operator=(Detector&&) noexcept;

    const DetectOptions& options() const;
    // Faces in the image, largest box first (ties: higher confidence first). Thread-safe.
    std::vector<Face> detect(const ImageView& image) const;
    // The two halves of detect(), for tests against another runtime: the network input, and
    // the faces found in it (mapped back to image pixels by the input's scales).
    DetectorInput prepare(const ImageView& image) const;
    std::vector<Face> detect_prepared(const DetectorInput& input) const;
    // The same on a caller's 3 x height x width planar tensor (read in place when 16-byte
    // aligned; height and width multiples of 32).
    std::vector<Face> detect_prepared(const float* chw, int width, int height, float scale_x,
                                      float scale_y) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A face and its quality.
struct ScoredFace {
    Face face;
    float score = 0;
};

// What became of one input of a batch: scored (ok), a path that does not exist (missing), a
// file that is not a decodable image or an input that cannot be used (invalid), a valid file
// of a variant the decoders do not handle (unsupported: Unsupported was thrown), or an image
// in which the detector found no face (no_face).
enum class Status : int { ok = 0, missing = 1, invalid = 2, no_face = 3, unsupported = 4 };
// The status's name as every output writes it: "ok", "missing", "invalid", "no_face" or
// "unsupported" (the Python enum's member names).
const char* status_name(Status s);

class Scorer {
public:
    // The trained default model embedded in the library.
    explicit Scorer(const Options& opt = Options());
    // A model from files: ncnn .param, .bin and the exporter's JSON sidecar.
    Scorer(const std::string& param_path, const std::string& bin_path, const std::string& json_path,
           const Options& opt = Options());
    // A model from memory (param text, bin bytes, sidecar JSON text).
    static Scorer from_memory(const std::string& param_text, const std::uint8_t* bin,
                              std::size_t bin_size, const std::string& json_text,
                              const Options& opt = Options());
    ~Scorer();
    Scorer(Scorer&&) noexcept;
    Scorer& operator=(Scorer&&) noexcept;

    const ModelInfo& info() const;
    const Options& options() const;

    // Quality in [0, 1]. All scoring methods are const and thread-safe.
    float score(const ImageView& crop) const;
    float score(const ImageView& image, const Landmarks& lm) const;
    // Score an already preprocessed 3 x S x S planar float tensor.
    float score_tensor(const float* chw) const;
    // Batch: out[i] = score(images[i] (, landmarks[i])). `landmarks` may be null (crops).
    // Runs `workers` threads (<= 0: options().workers), one ncnn thread each. The first
    // exception thrown by any item is rethrown after all threads have joined.
    //
    // All batch calls run on fewer threads when the system gives fewer: a thread that cannot
    // start is not waited for, and a worker whose allocation fails (OutOfMemory,
    // std::bad_alloc) stops, returning its memory; its item is tried again after the others
    // have finished, alone, and only then is the failure reported.
    void score_batch(const ImageView* images, const Landmarks* landmarks, std::size_t n, float* out,
                     int workers = 0) const;
    // Decode and score files in parallel. Never throws for a bad file: out[i] is NaN, status[i]
    // says what happened (ok, missing, invalid or unsupported) and errors[i] why (empty when
    // it scored).
    // With options().reduced_decode, a JPEG is decoded at 1/k of its size (k = 2, 4, 8) when
    // that loses nothing the model sees: a crop keeps >= input_size pixels on both sides; a
    // face with landmarks keeps >= 1 decoded pixel per template pixel (the landmarks are
    // mapped into the reduced image).
    void score_files(const std::string* paths, const Landmarks* landmarks, std::size_t n,
                     float* out, std::string* errors, Status* status, int workers = 0,
                     std::int64_t max_pixels = kDefaultMaxPixels) const;

    // Detect faces and score them: the largest face only (all_faces = false) or every face,
    // largest first. Each face is warped by its detected landmarks. An image without a face
    // gives an empty list.
    std::vector<ScoredFace> score_faces(const Detector& detector, const ImageView& image,
                                        bool all_faces = false) const;
    // score_faces for n images on `workers` threads; out[i] receives image i's faces. The
    // first exception thrown by any item is rethrown after all threads have joined.
    void score_batch_faces(const Detector& detector, const ImageView* images, std::size_t n,
                           std::vector<ScoredFace>* out, bool all_faces = false,
                           int workers = 0) const;
    // Decode files, detect and score, in parallel. Never throws for a bad file: faces[i] holds
    // the scored faces, status[i] what happened and errors[i] why (empty when ok).
    void score_files_faces(const Detector& detector, const std::string* paths, std::size_t n,
                           std::vector<ScoredFace>* faces, std::string* errors, Status* status,
                           bool all_faces = false, int workers = 0,
                           std::int64_t max_pixels = kDefaultMaxPixels) const;

private:
    struct Empty {};
    explicit Scorer(Empty);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Library facts for `tinyfq info`.
std::string ncnn_version();
std::string cpu_features();
// Which build of the fused network kernels this CPU runs: "avx2", "generic" (baseline SIMD:
// SSE2 or NEON) or "reference" (TINYFQ_REFERENCE=1).
std::string network_kernels();
std::string embedded_model_json();
// The embedded detector's provenance sidecar (cpp/models/yunet.json: source, sha256, licence).
std::string embedded_detector_json();
int hardware_workers();

// ---------------------------------------------------------------- quality factors
//
// Measurable properties of a face that explain its score (factors.cpp; each defined, with the
// OFIQ measure it follows, in docs/actionable.md). NaN where the input does not give one.
struct Factors {
    // pixels: the detector's box; without detection the square the aligned 112 crop covers (a
    // crop: its own size)
    float face_width, face_height;
    float eye_distance;      // pixels between the two eye landmarks
    float yaw, pitch, roll;  // degrees, from the five landmarks; 0 on the ArcFace template
                             // (NaN for a crop: it is taken as aligned)
    // On the face region of the aligned 64x64 grey crop (brows to chin):
    float sharpness;            // variance of the Laplacian over the variance of the luminance
    float exposure;             // mean luminance, 0-255
    float shadows, highlights;  // fractions of the region at <= 5 and >= 250
    float contrast;             // RMS contrast: the luminance's standard deviation / 255
    float confidence;           // the detector's (NaN without detection)
};
// An aligned crop (as Scorer::score(crop) takes it), or a photo with its five landmarks (and
// the detected face for its box and confidence). Throws InvalidInput as the scorer does.
Factors crop_factors(const ImageView& crop);
Factors face_factors(const ImageView& image, const Landmarks& lm, const Face* face = nullptr);
// Scorer::score_files (crops, or photos with landmarks[i]) or, with a detector,
// score_files_faces, each file decoded once (at full size: no reduced decoding) and each face
// given its factors: faces[i] and factors[i] hold one entry per face (crops and landmarks: one,
// its box and confidence NaN). Never throws for a bad file: status[i] and errors[i] say why.
void score_files_factors(const Scorer& scorer, const Detector* detector, const std::string* paths,
                         const Landmarks* landmarks, std::size_t n, std::vector<ScoredFace>* faces,
                         std::vector<Factors>* factors, std::string* errors, Status* status,
                         bool all_faces = false, int workers = 0,
                         std::int64_t max_pixels = kDefaultMaxPixels);

}  // namespace tinyfq
