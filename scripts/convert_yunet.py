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
gets a Split layer.
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

HEAD_ORDER = ("cls", "obj", "bbox", "kps")  # channels 0, 1, 2-5, 6-15 of a merged head


def _params(line: str) -> dict[str, str]:
    """The k=v parameters of an ncnn .param layer line (after type, name, counts and blobs)."""
    p = line.split()
    return dict(kv.split("=") for kv in p[4 + int(p[2]) + int(p[3]) :])


def _layer_weights(layers: list[str], weights: bytes) -> list[tuple[int, int]]:
    """(offset, size) in ``weights`` of each layer's data: [flag][weights][bias]."""
    spans, off = [], 0
    for line in layers:
        kind = line.split()[0]
        if kind in ("Convolution", "ConvolutionDepthWise"):
            p = _params(line)
            size = 4 + 4 * int(p["6"]) + 4 * int(p["0"])
            spans.append((off, size))
            off += size
        else:
            spans.append((off, 0))
    assert off == len(weights)
    return spans


def _merge_heads(layers: list[str], weights: bytes) -> tuple[list[str], bytearray]:
    """Per stride, the four heads (1x1 convolution from the shared 64-channel blob, then a
    3x3 per channel: cls and obj are 1-in 1-out convolutions, bbox and kps depthwise) become
    one 1x1 convolution to 16 channels and one depthwise 3x3 over them: the same arithmetic,
    two layers instead of eight and a Split, and a 16-channel output ``head_<s>`` (channels:
    cls, obj, 4 bbox, 10 kps) that packs well."""
    spans = _layer_weights(layers, weights)
    by_out = {
        line.split()[5]: (i, line)
        for i, line in enumerate(layers)
        if line.split()[0] != "Split" and int(line.split()[3]) == 1
    }
    drop: set[int] = set()
    new_layers, new_weights = [], bytearray()
    merged: dict[int, tuple[str, bytes]] = {}
    for s in (8, 16, 32):
        w1, b1, w3, b3, src = [], [], [], [], None
        for head in HEAD_ORDER:
            i3, l3 = by_out[f"{head}_{s}"]
            mid = l3.split()[4]
            i1, l1 = by_out[mid]
            inp = l1.split()[4]
            split_src = inp.rsplit("_", 1)[0]
            src = src or split_src
            assert src == split_src
            for i, line, ws, bs in ((i1, l1, w1, b1), (i3, l3, w3, b3)):
                p = _params(line)
                off, size = spans[i]
                cout = int(p["0"])
                data = np.frombuffer(weights[off + 4 : off + size], np.float32)
                ws.append(data[:-cout])
                bs.append(data[-cout:])
                drop.add(i)
        cin = 64
        w1c, b1c = np.concatenate(w1), np.concatenate(b1)
        w3c, b3c = np.concatenate(w3), np.concatenate(b3)
        assert w1c.size == 16 * cin and w3c.size == 16 * 9
        split_idx = next(
            i
            for i, line in enumerate(layers)
            if line.startswith("Split") and line.split()[4] == src
        )
        drop.add(split_idx)
        first = min(by_out[f"{h}_{s}"][0] for h in HEAD_ORDER)
        text = (
            f"Convolution head1x1_{s} 1 1 {src} head_{s}_pre 0=16 1=1 11=1 3=1 4=0 5=1 "
            f"6={w1c.size}\n"
            f"ConvolutionDepthWise head3x3_{s} 1 1 head_{s}_pre head_{s} 0=16 1=3 11=3 3=1 "
            f"4=1 5=1 6={w3c.size} 7=16"
        )
        data = (
            struct.pack("<I", 0)
            + w1c.tobytes()
            + b1c.tobytes()
            + struct.pack("<I", 0)
            + w3c.tobytes()
            + b3c.tobytes()
        )
        merged[first] = (text, data)
    for i, line in enumerate(layers):
        if i in merged:
            new_layers += merged[i][0].split("\n")
            new_weights += merged[i][1]
        if i in drop:
            continue
        new_layers.append(line)
        off, size = spans[i]
        new_weights += weights[off : off + size]
    return new_layers, new_weights


def _readers(parts: list[list[str]]) -> dict[str, list[int]]:
    """Blob name -> the indices of the layers (split .param lines) that read it, in order."""
    readers: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(parts):
        for b in p[4 : 4 + int(p[2])]:
            readers[b].append(i)
    return readers


def _fuse(layers: list[str], weights: bytes) -> tuple[list[str], bytearray]:
    """The library's own layers (cpp/src/fused_layers.cpp) for the convolutions: the stem as
    TinyfqConv3x3, and each 1x1 convolution without activation whose only reader is a
    stride-1 depthwise 3x3 as one TinyfqPwDw (the 1x1 output stays in the layer's workspace);
    each nearest x2 upsampling followed by an addition as one TinyfqUpAdd, and the 2x2 max
    pooling as TinyfqMaxPool2 (any even size: the input is a multiple of 32), then folded into
    the layer that makes its input, as the stem is into the layer that reads it. The weights
    are the same bytes in the same order ([tag][weights][bias] per convolution)."""
    spans = _layer_weights(layers, weights)
    parts = [line.split() for line in layers]
    params = [_params(line) for line in layers]
    readers = _readers(parts)
    out_layers, out_weights, skip = [], bytearray(), set()
    for i, (p, prm) in enumerate(zip(parts, params)):
        if i in skip:
            continue
        off, size = spans[i]
        kind, name, src, dst = p[0], p[1], p[4], p[5] if len(p) > 5 else None
        if kind == "Convolution" and prm["1"] == "3" and prm.get("9") == "1":
            cout = int(prm["0"])
            cin = int(prm["6"]) // (cout * 9)
            out_layers.append(
                f"TinyfqConv3x3 {name} 1 1 {src} {dst} 0={cout} 1={cin} 2={prm.get('3', '1')}"
            )
            out_weights += weights[off : off + size]
            continue
        nxt = readers[dst][0] if kind == "Convolution" and len(readers[dst]) == 1 else None
        if (
            nxt is not None
            and prm["1"] == "1"
            and "9" not in prm
            and parts[nxt][0] == "ConvolutionDepthWise"
            and params[nxt]["1"] == "3"
            and params[nxt].get("3", "1") == "1"
            and params[nxt]["7"] == prm["0"]
        ):
            cout = int(prm["0"])
            cin = int(prm["6"]) // cout
            relu = 1 if params[nxt].get("9") == "1" else 0
            out_layers.append(
                f"TinyfqPwDw {name}+{parts[nxt][1]} 1 1 {src} {parts[nxt][5]} "
                f"0={cin} 1={cout} 2={relu}"
            )
            noff, nsize = spans[nxt]
            out_weights += weights[off : off + size] + weights[noff : noff + nsize]
            skip.add(nxt)
            continue
        if kind == "Pooling" and prm == {"0": "0", "1": "2", "2": "2", "5": "1"}:
            out_layers.append(f"TinyfqMaxPool2 {name} 1 1 {src} {dst}")
            continue
        if kind == "Interp" and len(readers[dst]) == 1 and parts[readers[dst][0]][0] == "BinaryOp":
            add = readers[dst][0]
            a, b = parts[add][4], parts[add][5]
            fine = b if a == dst else a
            out_layers.append(
                f"TinyfqUpAdd {name}+{parts[add][1]} 2 1 {fine} {src} {parts[add][6]}"
            )
            skip.add(add)
            continue
        assert kind not in ("Convolution", "ConvolutionDepthWise"), f"left unfused: {layers[i]}"
        out_layers.append(layers[i])
        out_weights += weights[off : off + size]
    return _fold_chains(_fold_stem(_fold_pooling(out_layers))), out_weights


def _fold_chains(layers: list[str]) -> list[str]:
    """Runs of TinyfqPwDw where each unit's only reader is the next layer, also a TinyfqPwDw
    (no stem), into one layer running them as a chain, band by band of rows (6=cin,cout,relu
    of each unit after the first, as an ncnn int array; 3=pool of the last). A pooling unit
    ends a run. The units' weights are already in order, one after another."""
    readers = _readers([line.split() for line in layers])
    out: list[str] = []
    for line in layers:
        p = line.split()
        if out and p[0] == "TinyfqPwDw":
            q = out[-1].split()
            qp, pp = _params(out[-1]), _params(line)
            if (
                q[0] == "TinyfqPwDw"
                and q[3] == "1"
                and p[4] == q[5]
                and len(readers[q[5]]) == 1
                and qp.get("3", "0") == "0"
                and "4" not in pp
                and "6" not in pp
            ):
                more = qp.get("-23306", "0").split(",")[1:] + [pp["0"], pp["1"], pp["2"]]
                keep = {k: v for k, v in qp.items() if k not in ("3", "-23306")}
                if "3" in pp:  # the last unit's pooling is the chain's
                    keep["3"] = pp["3"]
                keep["-23306"] = ",".join([str(len(more))] + more)
                nout = int(p[3])
                out[-1] = " ".join(
                    [q[0], f"{q[1]}+{p[1]}", "1", str(nout), q[4], *p[5 : 5 + nout]]
                    + [f"{k}={v}" for k, v in keep.items()]
                )
                continue
        out.append(line)
    return out


def _fold_stem(layers: list[str]) -> list[str]:
    """A TinyfqConv3x3 whose only reader is a TinyfqPwDw into that layer (4=stem input
    channels, 5=stride), which then makes the stem's output band by band instead of reading a
    whole map of it; the stem's weights already come first."""
    parts = [line.split() for line in layers]
    readers = _readers(parts)
    out, drop = list(layers), set()
    for i, p in enumerate(parts):
        if p[0] != "TinyfqConv3x3":
            continue
        if readers[p[5]] != [i + 1] or parts[i + 1][0] != "TinyfqPwDw":
            continue
        stem = _params(layers[i])
        c = parts[i + 1]
        nout = int(c[3])
        out[i + 1] = " ".join(
            [c[0], f"{p[1]}+{c[1]}", c[2], c[3], p[4], *c[5 : 5 + nout], *c[5 + nout :]]
            + [f"4={stem['1']}", f"5={stem.get('2', '1')}"]
        )
        drop.add(i)
    return [line for i, line in enumerate(out) if i not in drop]


def _fold_pooling(layers: list[str]) -> list[str]:
    """Each TinyfqMaxPool2 into the TinyfqPwDw that makes its input (3=pool, no weights move):
    a map read only by the pooling becomes the layer's pooled output (3=1); a map split between
    the pooling and one other reader becomes the layer's two outputs, the map and its pooled
    map (3=2), and the Split goes."""
    parts = [line.split() for line in layers]
    maker = {p[5 + int(p[2]) - 1 + j]: i for i, p in enumerate(parts) for j in range(int(p[3]))}
    out, drop = list(layers), set()
    for i, p in enumerate(parts):
        if p[0] != "TinyfqMaxPool2":
            continue
        src, dst = p[4], p[5]
        m = maker[src]
        if parts[m][0] == "Split" and int(parts[m][3]) == 2:
            other = next(b for b in parts[m][5:7] if b != src)
            conv = maker[parts[m][4]]
            if parts[conv][0] != "TinyfqPwDw":
                continue
            c = parts[conv]
            out[conv] = " ".join([c[0], c[1], "1", "2", c[4], other, dst, *c[6:], "3=2"])
            drop |= {m, i}
        elif parts[m][0] == "TinyfqPwDw":
            c = parts[m]
            out[m] = " ".join([c[0], c[1], "1", "1", c[4], dst, *c[6:], "3=1"])
            drop.add(i)
    return [line for i, line in enumerate(out) if i not in drop]


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
        layers, weights = _merge_heads(layers, weights)
    if graph == "fused":
        assert merge_heads, "the fused graph is made from merged heads"
        layers, weights = _fuse(layers, weights)

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
