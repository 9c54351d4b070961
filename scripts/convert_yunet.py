"""Convert the YuNet face detector from ONNX to an ncnn graph, for embedding in the library.

    python scripts/convert_yunet.py ../shared/models/yunet/yunet_n_dynamic.onnx cpp/models/yunet

writes ``yunet.ncnn.param``, ``yunet.ncnn.bin`` and ``yunet.json`` (provenance: the source
file's sha256, this command, the licence). Needs only ``onnx`` and ``numpy``.

The ONNX graph is a plain CNN (Conv, Relu, MaxPool, nearest Resize ×2, Add) followed, per
output, by Transpose → Reshape (→ Sigmoid) into (1, H·W, C) tensors. The ncnn graph keeps the
CNN and stops at the twelve head convolutions: their (C, H, W) maps are the outputs
``cls_8 ... kps_32``, and the native detector applies the sigmoid and the decoding itself
(cpp/src/detector.cpp), so no reshaping layers are needed. Relu after a convolution whose
output has no other reader is fused into it (ncnn activation 1); a blob with several readers
gets a Split layer. Rewriting that graph (the merged heads, the library's fused layers) is
the business of ``yunet_graph.py`` beside this script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import yunet_graph


def convert(
    onnx_path: Path, out_stem: Path, merge_heads: bool = True, graph: str = "fused"
) -> dict:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    readers: dict[str, list] = defaultdict(list)
    for n in g.node:
        for i in n.input:
            readers[i].append(n)

    # Each graph output traced back through Reshape/Transpose/Sigmoid to its convolution.
    heads: dict[str, str] = {}  # conv output blob -> output name
    sigmoid: dict[str, bool] = {}
    for out in g.output:
        blob, had_sigmoid = out.name, False
        while producer[blob].op_type != "Conv":
            node = producer[blob]
            if node.op_type not in ("Reshape", "Transpose", "Sigmoid"):
                raise SystemExit(f"unexpected {node.op_type} on the way to output {out.name}")
            had_sigmoid |= node.op_type == "Sigmoid"
            blob = node.input[0]
        heads[blob] = out.name
        sigmoid[out.name] = had_sigmoid
    reshaping = {"Transpose", "Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Sigmoid"}

    def attrs(node) -> dict:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    layers: list[str] = []
    weights = bytearray()
    rename: dict[str, str] = {g.input[0].name: "in0"}
    fused_relu: set[str] = set()  # Relu nodes folded into their convolution
    counter = [0]

    def blob_name(onnx_blob: str) -> str:
        if onnx_blob not in rename:
            rename[onnx_blob] = heads.get(onnx_blob) or f"b{len(rename)}"
        return rename[onnx_blob]

    def cnn_readers(blob: str) -> list:
        return [r for r in readers[blob] if r.op_type not in reshaping]

    consumed: dict[str, list[str]] = {}  # blob -> names handed to its readers, in order

    def use(blob: str) -> str:
        """The ncnn name under which the next reader of ``blob`` reads it (after a Split)."""
        return consumed[blob].pop(0) if blob in consumed else blob_name(blob)

    def produced(blob: str) -> None:
        """Add a Split when ``blob`` has several readers inside the CNN."""
        rs = cnn_readers(blob)
        if len(rs) > 1:
            src = blob_name(blob)
            outs = [f"{src}_{k}" for k in range(len(rs))]
            counter[0] += 1
            layers.append(f"Split splitncnn_{counter[0]} 1 {len(outs)} {src} " + " ".join(outs))
            consumed[blob] = outs

    layers.append("Input in0 0 1 in0 0=0 1=0 2=3")
    for node in g.node:
        if node.op_type in reshaping or node.name in fused_relu:
            continue
        a = attrs(node)
        if node.op_type == "Conv":
            w = inits[node.input[1]].astype(np.float32)
            b = inits[node.input[2]].astype(np.float32)
            cout, cin_g, kh, kw = w.shape
            group = a.get("group", 1)
            pads, strides = a.get("pads", [0] * 4), a.get("strides", [1, 1])
            dil = a.get("dilations", [1, 1])
            assert kh == kw and len(set(pads)) == 1 and strides[0] == strides[1] and dil == [1, 1]
            out = node.output[0]
            rs = readers[out]
            act = 0
            if len(rs) == 1 and rs[0].op_type == "Relu":
                act, fused_relu = 1, fused_relu | {rs[0].name}
                rename[rs[0].output[0]] = blob_name(out)
                out_final = rs[0].output[0]
            else:
                out_final = out
            src = use(node.input[0])
            kind = "ConvolutionDepthWise" if group > 1 else "Convolution"
            params = (
                f"0={cout} 1={kw} 11={kh} 3={strides[0]} 4={pads[0]} 5=1 "
                f"6={w.size}" + (f" 7={group}" if group > 1 else "") + (f" 9={act}" if act else "")
            )
            layers.append(f"{kind} {node.name} 1 1 {src} {blob_name(out_final)} {params}")
            weights += struct.pack("<I", 0) + w.tobytes() + b.tobytes()
            produced(out_final)
        elif node.op_type == "Relu":
            layers.append(f"ReLU {node.name} 1 1 {use(node.input[0])} {blob_name(node.output[0])}")
            produced(node.output[0])
        elif node.op_type == "MaxPool":
            k, s = a["kernel_shape"], a["strides"]
            assert (
                k[0] == k[1]
                and s[0] == s[1]
                and not any(a.get("pads", [0]))
                and not a.get("ceil_mode", 0)
            )
            layers.append(
                f"Pooling {node.name} 1 1 {use(node.input[0])} "
                f"{blob_name(node.output[0])} 0=0 1={k[0]} 2={s[0]} 5=1"
            )
            produced(node.output[0])
        elif node.op_type == "Resize":
            scales = inits[node.input[2]]
            assert a["mode"] == b"nearest" and list(scales) == [1, 1, 2, 2], (a, scales)
            layers.append(
                f"Interp {node.name} 1 1 {use(node.input[0])} "
                f"{blob_name(node.output[0])} 0=1 1=2.0 2=2.0"
            )
            produced(node.output[0])
        elif node.op_type == "Add":
            x, y = use(node.input[0]), use(node.input[1])
            layers.append(f"BinaryOp {node.name} 2 1 {x} {y} {blob_name(node.output[0])} 0=0")
            produced(node.output[0])
        else:
            raise SystemExit(f"unsupported ONNX op {node.op_type} ({node.name})")

    if merge_heads:
        layers, weights = yunet_graph.merge_heads(layers, weights)
    if graph == "fused":
        assert merge_heads, "the fused graph is made from merged heads"
        layers, weights = yunet_graph.fuse(layers, weights)

    blobs = set()
    for line in layers:
        parts = line.split()
        nin, nout = int(parts[2]), int(parts[3])
        blobs.update(parts[4 : 4 + nin + nout])
    param = "7767517\n" + f"{len(layers)} {len(blobs)}\n" + "\n".join(layers) + "\n"
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out_stem) + ".ncnn.param").write_text(param)
    Path(str(out_stem) + ".ncnn.bin").write_bytes(bytes(weights))
    outputs = [o.name for o in g.output]
    n_params = int(sum(v.size for v in inits.values() if v.ndim > 0 and v.dtype == np.float32))
    meta = {
        "name": "yunet_n",
        "description": "YuNet face detector (boxes, five landmarks); ncnn graph converted from "
        "ONNX by scripts/convert_yunet.py",
        "source": onnx_path.name,
        "source_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "origin": "ShiqiYu/libfacedetection.train, commit 0047ac24a, onnx/",
        "licence": "Apache-2.0 (see NOTICE and LICENSES/YuNet-Apache-2.0.txt)",
        "command": "python scripts/convert_yunet.py ../shared/models/yunet/"
        + onnx_path.name
        + " cpp/models/yunet",
        "parameters": n_params,
        "input": {
            "blob": "in0",
            "layout": "CHW",
            "channels": "BGR",
            "range": "0-255",
            "multiple_of": 32,
        },
        "graph": graph,
        "outputs": (["head_8", "head_16", "head_32"] if merge_heads else outputs),
        "output_channels": (
            "cls (logit), obj (logit), bbox (4), kps (10)"
            if merge_heads
            else "one blob per ONNX output"
        ),
        "sigmoid_applied_by_detector": [o for o in outputs if sigmoid[o]],
        "strides": [8, 16, 32],
        "bin_sha256": hashlib.sha256(bytes(weights)).hexdigest(),
    }
    Path(str(out_stem) + ".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("onnx", type=Path, help="yunet_n_dynamic.onnx")
    p.add_argument("out", type=Path, help="output stem, e.g. cpp/models/yunet")
    p.add_argument(
        "--graph",
        choices=("fused", "plain"),
        default="fused",
        help="fused (default, embedded): the library's TinyfqConv3x3 / TinyfqPwDw "
        "layers; plain: stock ncnn layers only (any ncnn runs it)",
    )
    p.add_argument(
        "--separate-heads",
        action="store_true",
        help="plain graph with the twelve head outputs apart (the ONNX layout)",
    )
    args = p.parse_args(argv)
    graph = "plain" if args.separate_heads else args.graph
    meta = convert(args.onnx, args.out, merge_heads=not args.separate_heads, graph=graph)
    print(
        f"wrote {args.out}.ncnn.param/.bin/.json: {meta['parameters']} parameters, "
        f"source sha256 {meta['source_sha256']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
