// Custom ncnn layers for the exporter's "fused" model format. ncnn stays the runtime (graph,
// blob memory, extractors, threads); each layer runs a whole stage of tinyFQnet in one call:
//
//   TinyfqConv3x3  0=cout 1=cin 2=stride        dense 3x3 conv, pad 1, + bias + ReLU (the stem)
//   TinyfqBlock    0=cin 1=hidden 2=cout 3=stride 4=residual
//                  1x1 expand + ReLU -> depthwise 3x3 (stride) + ReLU -> 1x1 project + ReLU
//                  (+ the block input when residual); the expanded and depthwise tensors live
//                  in a small workspace that stays in cache instead of two ncnn blobs
//   TinyfqHead     0=cin 1=mid                  1x1 conv + ReLU, global average, linear unit,
//                                               sigmoid: one score
//   TinyfqPwDw     0=cin 1=cout 2=relu 3=pool   1x1 conv (linear) -> depthwise 3x3, stride 1
//                                               (+ ReLU when relu): the YuNet detector's unit
//                                               (scripts/convert_yunet.py), the 1x1 output in
//                                               the workspace instead of an ncnn blob; pool 1:
//                                               its output max-pooled 2x2 instead, pool 2: two
//                                               outputs, the map and its pooled map
//                  4=stem_cin 5=stem_stride     a TinyfqConv3x3 (stem_cin -> cin, + ReLU) before
//                                               it, its output made band by band (its weights
//                                               first)
//   TinyfqUpAdd    (two inputs: fine, coarse)   fine + the coarse map upsampled x2 (nearest):
//                                               YuNet's feature pyramid merge, one pass
//   TinyfqMaxPool2                              2x2 max pooling, stride 2 (even sizes)
//
// Weights follow ncnn's convention: each weight array with a 4-byte type tag (fp32 written by
// the exporter), each bias raw. Inputs and outputs are fp32 with elempack 1 (the layers leave
// support_packing off, so ncnn unpacks for them).
//
// The quality net's layers are in fused_layers_net.cpp, the detector's in
// fused_layers_detector.cpp (shared helpers: fused_layers.h); this unit registers them all.
#include "fused_layers.h"

namespace tinyfq {
namespace fused {

void prepare_net(ncnn::Net& net, bool fp16) {
    net.opt.use_vulkan_compute = false;
    net.opt.num_threads = 1;
    net.opt.lightmode = true;
    net.opt.use_fp16_storage = fp16;
    net.opt.use_fp16_packed = fp16;
    net.opt.use_fp16_arithmetic = fp16;
    net.opt.use_bf16_storage = false;
    net.opt.use_int8_inference = false;
    register_layers(net);
}

void register_layers(ncnn::Net& net) {
    layers::register_net_layers(net);
    layers::register_detector_layers(net);
}

}  // namespace fused
}  // namespace tinyfq
