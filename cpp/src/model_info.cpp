// The exporter's JSON sidecar -> ModelInfo. A small, strict JSON reader: objects, arrays,
// strings, numbers, true/false/null; enough for the sidecar and nothing else.
#include "internal.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

namespace tinyfq {
namespace {

struct Value {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    double number = 0;
    bool boolean = false;
    std::string str;
    std::vector<Value> items;
    std::map<std::string, Value> fields;
};

class Reader {
    static constexpr int kMaxDepth = 32;
    int depth_ = 0;

public:
    explicit Reader(const std::string& s) : s_(s) {}
    Value document() {
        Value v = value();
        ws();
        if (i_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw Error(std::string("model sidecar is not valid JSON: ") + what + " at offset " +
                    std::to_string(i_));
    }
    void ws() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
        return false;
    }
    std::string string() {
        if (!eat('"')) fail("expected a string");
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (c == '\\') {
                if (i_ >= s_.size()) fail("bad escape");
                c = s_[i_++];
                switch (c) {
                    case 'n':
                        c = '\n';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 'b':
                        c = '\b';
                        break;
                    case 'f':
                        c = '\f';
                        break;
                    case 'u':
                        i_ += 4;
                        c = '?';
                        break;  // non-ASCII is not needed here
                    default:
                        break;  // \" \\ \/
                }
            }
            out += c;
        }
        if (!eat('"')) fail("unterminated string");
        return out;
    }
    Value value() {
        // The sidecar is a few levels deep; a bound keeps a hostile file from exhausting the
        // stack (each level is a recursive call).
        struct Depth {
            int& d;
            explicit Depth(int& d_) : d(d_) { ++d; }
            ~Depth() { --d; }
        } depth(depth_);
        if (depth_ > kMaxDepth) fail("nested more than 32 levels deep");
        ws();
        if (i_ >= s_.size()) fail("unexpected end");
        Value v;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.kind = Value::Object;
            if (eat('}')) return v;
            do {
                ws();
                std::string k = string();
                if (!eat(':')) fail("expected ':'");
                v.fields[k] = value();
            } while (eat(','));
            if (!eat('}')) fail("expected '}'");
        } else if (c == '[') {
            ++i_;
            v.kind = Value::Array;
            if (eat(']')) return v;
            do v.items.push_back(value());
            while (eat(','));
            if (!eat(']')) fail("expected ']'");
        } else if (c == '"') {
            v.kind = Value::String;
            v.str = string();
        } else if (s_.compare(i_, 4, "true") == 0) {
            v.kind = Value::Bool, v.boolean = true, i_ += 4;
        } else if (s_.compare(i_, 5, "false") == 0) {
            v.kind = Value::Bool, i_ += 5;
        } else if (s_.compare(i_, 4, "null") == 0) {
            i_ += 4;
        } else {
            char* end = nullptr;
            v.number = std::strtod(s_.c_str() + i_, &end);
            if (end == s_.c_str() + i_) fail("unexpected character");
            v.kind = Value::Number;
            i_ = end - s_.c_str();
        }
        return v;
    }
    const std::string& s_;
    std::size_t i_ = 0;
};

const Value& field(const Value& obj, const char* key, Value::Kind kind) {
    auto it = obj.fields.find(key);
    if (it == obj.fields.end())
        throw Error(std::string("model sidecar has no \"") + key + "\" field");
    if (it->second.kind != kind)
        throw Error(std::string("model sidecar field \"") + key + "\" has the wrong type");
    return it->second;
}

std::string optional_string(const Value& obj, const char* key) {
    auto it = obj.fields.find(key);
    return it != obj.fields.end() && it->second.kind == Value::String ? it->second.str : "";
}

void numbers(const Value& obj, const char* key, float* out, std::size_t n) {
    const Value& arr = field(obj, key, Value::Array);
    std::vector<const Value*> flat;
    for (const Value& v : arr.items) {
        if (v.kind == Value::Array)
            for (const Value& w : v.items) flat.push_back(&w);
        else
            flat.push_back(&v);
    }
    if (flat.size() != n)
        throw Error(std::string("model sidecar field \"") + key + "\" must hold " +
                    std::to_string(n) + " numbers, has " + std::to_string(flat.size()));
    for (std::size_t i = 0; i < n; ++i) {
        if (flat[i]->kind != Value::Number)
            throw Error(std::string("model sidecar field \"") + key + "\" holds a non-number");
        const double v = flat[i]->number;
        if (!(std::fabs(v) <= 1e30))  // NaN, infinities and what no float holds
            throw Error(std::string("model sidecar field \"") + key + "\" holds " +
                        std::to_string(v) + ", not a usable number");
        out[i] = static_cast<float>(v);
    }
}

}  // namespace

ModelInfo parse_model_info(const std::string& json_text) {
    const Value root = Reader(json_text).document();
    if (root.kind != Value::Object) throw Error("model sidecar must be a JSON object");
    ModelInfo info;
    info.json = json_text;
    const Value& input = field(root, "input", Value::Object);
    // Checked as the number it is, before it becomes an int (a cast of 1e80 is undefined).
    const double size = field(input, "size", Value::Number).number;
    if (!(size >= 8 && size <= 1024))
        throw Error("model sidecar input.size " + std::to_string(size) +
                    " is out of range [8, 1024]");
    if (size != std::floor(size))
        throw Error("model sidecar input.size " + std::to_string(size) + " is not a whole number");
    info.input_size = static_cast<int>(size);
    numbers(input, "mean", info.mean, 3);
    numbers(input, "std", info.std, 3);
    // Pixels are 0..255: a std far below a grey level or a mean far outside the range maps
    // every input to the same extreme, and every score to 0 or 1.
    for (float s : info.std)
        if (!(s >= 1e-2f && s <= 1e4f))
            throw Error("model sidecar input.std " + std::to_string(s) +
                        " is out of range [0.01, 10000] (pixel values are 0..255)");
    for (float m : info.mean)
        if (!(m >= -1024.f && m <= 1024.f))
            throw Error("model sidecar input.mean " + std::to_string(m) +
                        " is out of range [-1024, 1024] (pixel values are 0..255)");
    const std::string order = field(input, "colour_order", Value::String).str;
    if (order != "rgb" && order != "bgr")
        throw Error("model sidecar input.colour_order must be \"rgb\" or \"bgr\", got \"" + order +
                    "\"");
    info.rgb = order == "rgb";
    info.input_blob = optional_string(input, "blob");
    if (info.input_blob.empty()) info.input_blob = "in0";
    numbers(field(root, "alignment", Value::Object), "template", info.alignment_template, 10);
    const Value& output = field(root, "output", Value::Object);
    info.output_blob = field(output, "blob", Value::String).str;
    info.version = optional_string(root, "version");
    info.name = optional_string(root, "name");
    info.label_model = optional_string(root, "label_model");
    info.graph = optional_string(root, "graph");
    const auto w = root.fields.find("weights");
    if (w != root.fields.end()) {
        if (w->second.kind != Value::Object)
            throw Error("model sidecar field \"weights\" has the wrong type");
        const double bytes = field(w->second, "bytes", Value::Number).number;
        if (!(bytes >= 0 && bytes <= 1e12)) throw Error("model sidecar weights.bytes is invalid");
        info.weights_bytes = static_cast<std::int64_t>(bytes);
        info.weights_sha256 = field(w->second, "sha256", Value::String).str;
        if (info.weights_sha256.size() != 64)
            throw Error("model sidecar weights.sha256 is not 64 hex digits");
    }
    return info;
}

}  // namespace tinyfq
