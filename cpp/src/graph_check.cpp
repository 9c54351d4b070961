// The shapes of a model graph, checked before ncnn runs it.
//
// ncnn's stock layers trust their parameters: a Convolution whose weight count is made for 8
// input channels reads past its weights when it is given 12, an InnerProduct sized for 256
// inputs reads past them when given 400. A .param file is untrusted input, so before the
// first forward pass the blob shapes are followed through the graph from the model's input,
// and every layer with weights must have exactly the weights its input calls for. The fused
// layers (fused_layers.cpp) check their own input when they run; after one, shapes are not
// followed further, and a stock layer with weights is refused there.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "internal.h"

namespace tinyfq {
namespace detail {
namespace {

struct Shape {
    long long w = -1, h = -1, c = -1;  // -1: not known (after a fused layer)
    bool flat = false;                 // a 1-D vector of w values
    bool known() const { return w > 0 && h > 0 && c > 0; }
    long long size() const { return w * h * c; }
};

// One layer's line: type, name, bottoms, tops and its k=v parameters. A parameter read as an
// integer here must be written as one: ncnn keeps a float's bits in the same field, so "6=3.5"
// would mean something else to it than to a checker that rounded it.
struct LayerLine {
    std::string type, name;
    std::vector<std::string> bottoms, tops;
    std::map<int, long long> params;
    std::set<int> floats;             // parameters written as floats
    std::map<int, long long> arrays;  // array parameters: their length
    long long get(int key, long long fallback) const;
};
[[noreturn]] void fail(const LayerLine& l, const std::string& why) {
    throw Error("model graph: layer " + l.name + " (" + l.type + "): " + why);
}

long long LayerLine::get(int key, long long fallback) const {
    if (floats.count(key)) fail(*this, "parameter " + std::to_string(key) + " must be an integer");
    const auto it = params.find(key);
    return it == params.end() ? fallback : it->second;
}

LayerLine parse_line(const std::string& line) {
    std::istringstream in(line);
    LayerLine l;
    int nb = -1, nt = -1;
    in >> l.type >> l.name >> nb >> nt;
    if (!in || nb < 0 || nt < 0 || nb > 64 || nt > 64)
        throw Error("model graph: cannot read the layer line \"" + line.substr(0, 80) + "\"");
    l.bottoms.resize(nb);
    l.tops.resize(nt);
    for (auto& b : l.bottoms) in >> b;
    for (auto& t : l.tops) in >> t;
    if (!in) throw Error("model graph: layer " + l.name + " lists fewer blobs than it declares");
    std::string kv;
    while (in >> kv) {
        const std::size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) fail(l, "cannot read the parameter \"" + kv + "\"");
        const long long key = std::atoll(kv.substr(0, eq).c_str());
        const std::string value = kv.substr(eq + 1);
        const bool integer = value.find_first_of(".eE,") == std::string::npos;
        if (key <= -23300 && key > -23332)  // an array: id -key - 23300, then its length
            l.params[int(-key - 23300)] = 0,
                                l.arrays[int(-key - 23300)] = std::atoll(value.c_str());
        else if (key >= 0 && key < 32 && integer)
            l.params[int(key)] = std::atoll(value.c_str()), l.floats.erase(int(key));
        else if (key >= 0 && key < 32)
            l.params[int(key)] = 0, l.floats.insert(int(key));
        else
            fail(l, "parameter id " + kv.substr(0, eq) + " out of range");
    }
    return l;
}

// The activation fused into a Convolution, ConvolutionDepthWise or InnerProduct (9=type,
// 10=its parameters): ncnn makes a layer of that kind when it loads the graph, and this build
// has ReLU and Sigmoid only (a Mish or Clip would be a null layer); leaky ReLU needs its slope.
void check_activation(const LayerLine& l) {
    const long long type = l.get(9, 0);
    if (type != 0 && type != 1 && type != 2 && type != 4)
        fail(l, "fused activation " + std::to_string(type) +
                    " is not built in (none, ReLU, leaky ReLU and sigmoid are)");
    const auto params = l.arrays.find(10);
    if (type == 2 && (params == l.arrays.end() || params->second < 1))
        fail(l, "leaky ReLU without its slope (10=)");
}

// Output size of a sliding window: ncnn's formula for explicit padding.
long long window(const LayerLine& l, long long in, long long k, long long dil, long long stride,
                 long long pad0, long long pad1) {
    if (k < 1 || dil < 1 || stride < 1 || k > 1024 || dil > 1024 || stride > 1024)
        fail(l, "kernel, dilation and stride must be 1..1024");
    if (pad0 > 4096 || pad1 > 4096) fail(l, "padding over 4096 pixels");
    if (pad0 < 0 || pad1 < 0) return (in + stride - 1) / stride;  // -233/-234: SAME padding
    const long long out = (in + pad0 + pad1 - (dil * (k - 1) + 1)) / stride + 1;
    if (in + pad0 + pad1 < dil * (k - 1) + 1 || out < 1)
        fail(l, "its window does not fit its " + std::to_string(in) + "-pixel input");
    return out;
}

Shape convolution(const LayerLine& l, const Shape& in, bool depthwise) {
    if (!in.known() || in.flat)
        fail(l, "its input's shape is not known here (convolutions must precede fused layers)");
    const long long cout = l.get(0, 0), kw = l.get(1, 0), kh = l.get(11, kw);
    const long long dw = l.get(2, 1), dh = l.get(12, dw), sw = l.get(3, 1), sh = l.get(13, sw);
    const long long pl = l.get(4, 0), pr = l.get(15, pl), pt = l.get(14, pl), pb = l.get(16, pt);
    const long long group = depthwise ? l.get(7, 1) : 1;
    if (cout < 1 || cout > 65536) fail(l, "num_output must be 1..65536");
    if (l.get(8, 0) != 0 || l.get(19, 0) != 0)
        fail(l, "int8 and dynamic weights are not supported");
    check_activation(l);
    if (group < 1 || in.c % group || cout % group)
        fail(l, "group " + std::to_string(group) + " does not divide its " + std::to_string(in.c) +
                    " input and " + std::to_string(cout) + " output channels");
    Shape out;
    out.w = window(l, in.w, kw, dw, sw, pl, pr);
    out.h = window(l, in.h, kh, dh, sh, pt, pb);
    out.c = cout;
    const long long need = (in.c / group) * (cout / group) * kw * kh * group;
    if (l.get(6, -1) != need)
        fail(l, "it has " + std::to_string(l.get(6, -1)) + " weights; its " + std::to_string(in.c) +
                    " input channels need " + std::to_string(need));
    return out;
}

Shape pooling(const LayerLine& l, const Shape& in) {
    if (in.flat || in.c < 1) fail(l, "its input is not an image");
    Shape out;
    out.c = in.c;
    if (l.get(4, 0) != 0) {  // global: one value a channel
        out.flat = true;
        out.w = in.c, out.h = 1, out.c = 1;
    } else if (l.get(7, 0) != 0) {  // adaptive
        out.w = l.get(8, 0), out.h = l.get(18, out.w);
        if (out.w < 1 || out.h < 1) fail(l, "adaptive output size must be positive");
    } else if (in.w < 1 || in.h < 1) {
        out.w = out.h = -1;  // after a fused layer: not followed
    } else {
        const long long kw = l.get(1, 0), kh = l.get(11, kw), sw = l.get(2, 1), sh = l.get(12, sw);
        const long long pl = l.get(3, 0), pr = l.get(14, pl), pt = l.get(13, pl),
                        pb = l.get(15, pt);
        const long long mode = l.get(5, 0);
        if (mode == 2 || mode == 3) {  // SAME
            out.w = window(l, in.w, 1, 1, sw, -1, -1);
            out.h = window(l, in.h, 1, 1, sh, -1, -1);
        } else {
            out.w = window(l, in.w, kw, 1, sw, pl, pr);
            out.h = window(l, in.h, kh, 1, sh, pt, pb);
            // mode 0 ("full"): the last window may hang over the padded edge (ceil)
            if (mode == 0 && (in.w + pl + pr - kw) % sw) ++out.w;
            if (mode == 0 && (in.h + pt + pb - kh) % sh) ++out.h;
        }
    }
    return out;
}

}  // namespace

void check_graph(const std::string& param_text, const ModelInfo& info) {
    std::istringstream in(param_text);
    std::string line;
    if (!std::getline(in, line) || std::atoi(line.c_str()) != 7767517)
        throw Error("model graph: not an ncnn .param text (no 7767517 magic)");
    if (!std::getline(in, line)) throw Error("model graph: no layer count");
    // ncnn reads exactly this many layers; lines after them are not part of its graph.
    const long long layer_count = std::atoll(line.c_str());
    if (layer_count < 1 || layer_count > 4096)
        throw Error("model graph: layer count " + std::to_string(layer_count) + " out of range");
    long long layers = 0;
    std::map<std::string, Shape> blobs;
    int inputs = 0;
    while (layers < layer_count && std::getline(in, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ++layers;
        const LayerLine l = parse_line(line);
        std::vector<Shape> ins;
        for (const auto& b : l.bottoms) {
            const auto it = blobs.find(b);
            if (it == blobs.end())
                fail(l, "it reads blob " + b + ", which no earlier layer writes");
            ins.push_back(it->second);
        }
        auto one = [&] {
            if (ins.size() != 1) fail(l, "it takes one input");
            return ins[0];
        };
        Shape out;  // unknown unless set below
        const std::string& t = l.type;
        if (t == "Input") {
            // The scorer feeds the sidecar's input blob: it must be this layer's (fed anywhere
            // else, the layers after it get a tensor of another shape than the one checked).
            if (++inputs > 1 || l.tops.size() != 1 || l.tops[0] != info.input_blob)
                fail(l, "the graph must have one Input layer, writing the sidecar's input blob " +
                            info.input_blob);
            // Its declared size (0=w 1=h), where it declares one, is the sidecar's.
            const long long w = l.get(0, 0), h = l.get(1, 0);
            if ((w > 0 && w != info.input_size) || (h > 0 && h != info.input_size))
                throw Error("model sidecar input.size " + std::to_string(info.input_size) +
                            " does not match the graph's input " + std::to_string(w) + "x" +
                            std::to_string(h));
            out.w = out.h = info.input_size, out.c = 3;
        } else if (t == "Convolution" || t == "ConvolutionDepthWise") {
            out = convolution(l, one(), t == "ConvolutionDepthWise");
        } else if (t == "InnerProduct") {
            const Shape x = one();
            const long long cout = l.get(0, 0);
            if (!x.known()) fail(l, "its input's size is not known here");
            if (cout < 1 || cout > 65536) fail(l, "num_output must be 1..65536");
            if (l.get(8, 0) != 0) fail(l, "int8 weights are not supported");
            check_activation(l);
            if (l.get(2, -1) != cout * x.size())
                fail(l, "it has " + std::to_string(l.get(2, -1)) + " weights; its " +
                            std::to_string(x.size()) + " inputs need " +
                            std::to_string(cout * x.size()));
            out.flat = true;
            out.w = cout, out.h = 1, out.c = 1;
        } else if (t == "Pooling") {
            out = pooling(l, one());
        } else if (t == "Flatten") {
            const Shape x = one();
            if (x.known()) out.flat = true, out.w = x.size(), out.h = 1, out.c = 1;
        } else if (t == "Padding") {
            const Shape x = one();
            if (x.known() && !x.flat) {
                out = x;
                out.h += std::max(0LL, l.get(0, 0)) + std::max(0LL, l.get(1, 0));
                out.w += std::max(0LL, l.get(2, 0)) + std::max(0LL, l.get(3, 0));
                out.c += std::max(0LL, l.get(7, 0)) + std::max(0LL, l.get(8, 0));
            }
        } else if (t == "ReLU" || t == "Sigmoid" || t == "Split" || t == "Cast" || t == "Packing") {
            out = one();
        } else if (t == "BinaryOp") {
            if (ins.empty() || ins.size() > 2) fail(l, "it takes one or two inputs");
            out = ins[0];
            if (ins.size() == 2 && (ins[0].w != ins[1].w || ins[0].h != ins[1].h ||
                                    ins[0].c != ins[1].c || ins[0].flat != ins[1].flat))
                out = Shape();  // broadcasting: ncnn follows the real shapes
        } else if (t.rfind("Tinyfq", 0) != 0) {
            fail(l, "not a layer this build runs");
        }  // fused layers: they check their own input; their output is not followed
        for (const auto& top : l.tops) blobs[top] = out;
    }
    if (layers < layer_count)
        throw Error("model graph: " + std::to_string(layer_count) + " layers declared, " +
                    std::to_string(layers) + " found");
    if (!inputs)
        throw Error("model graph: no Input layer writes the sidecar's input blob " +
                    info.input_blob);
    if (!blobs.count(info.output_blob))
        throw Error("model graph: no layer writes the sidecar's output blob " + info.output_blob);
}

}  // namespace detail
}  // namespace tinyfq
