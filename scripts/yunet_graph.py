"""Graph surgery on ncnn ``.param`` text for the YuNet conversion (scripts/convert_yunet.py).

The converter first writes YuNet as stock ncnn layers, one text line each ("Type name nin nout
inputs... outputs... k=v..."), with their weights as one byte string ([4-byte tag][weights][bias]
per convolution). The functions here rewrite such a graph without changing its arithmetic:
``merge_heads`` joins the four heads of each stride into one 16-channel pair of layers, and
``fuse`` moves the convolutions onto the library's own layers (cpp/src/fused_layers.cpp) and
folds the stem, the pooling and runs of units into the layers that feed or read them. Needs only
``numpy``.
"""

from __future__ import annotations

import struct
from collections import defaultdict

import numpy as np

HEAD_ORDER = ("cls", "obj", "bbox", "kps")  # channels 0, 1, 2-5, 6-15 of a merged head


def layer_params(line: str) -> dict[str, str]:
    """The k=v parameters of an ncnn .param layer line (after type, name, counts and blobs)."""
    p = line.split()
    return dict(kv.split("=") for kv in p[4 + int(p[2]) + int(p[3]) :])


def layer_weights(layers: list[str], weights: bytes) -> list[tuple[int, int]]:
    """(offset, size) in ``weights`` of each layer's data: [flag][weights][bias]."""
    spans, off = [], 0
    for line in layers:
        kind = line.split()[0]
        if kind in ("Convolution", "ConvolutionDepthWise"):
            p = layer_params(line)
            size = 4 + 4 * int(p["6"]) + 4 * int(p["0"])
            spans.append((off, size))
            off += size
        else:
            spans.append((off, 0))
    assert off == len(weights)
    return spans


def merge_heads(layers: list[str], weights: bytes) -> tuple[list[str], bytearray]:
    """Per stride, the four heads (1x1 convolution from the shared 64-channel blob, then a
    3x3 per channel: cls and obj are 1-in 1-out convolutions, bbox and kps depthwise) become
    one 1x1 convolution to 16 channels and one depthwise 3x3 over them: the same arithmetic,
    two layers instead of eight and a Split, and a 16-channel output ``head_<s>`` (channels:
    cls, obj, 4 bbox, 10 kps) that packs well."""
    spans = layer_weights(layers, weights)
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
                p = layer_params(line)
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


def blob_readers(parts: list[list[str]]) -> dict[str, list[int]]:
    """Blob name -> the indices of the layers (split .param lines) that read it, in order."""
    readers: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(parts):
        for b in p[4 : 4 + int(p[2])]:
            readers[b].append(i)
    return readers


def fuse(layers: list[str], weights: bytes) -> tuple[list[str], bytearray]:
    """The library's own layers (cpp/src/fused_layers.cpp) for the convolutions: the stem as
    TinyfqConv3x3, and each 1x1 convolution without activation whose only reader is a
    stride-1 depthwise 3x3 as one TinyfqPwDw (the 1x1 output stays in the layer's workspace);
    each nearest x2 upsampling followed by an addition as one TinyfqUpAdd, and the 2x2 max
    pooling as TinyfqMaxPool2 (any even size: the input is a multiple of 32), then folded into
    the layer that makes its input, as the stem is into the layer that reads it. The weights
    are the same bytes in the same order ([tag][weights][bias] per convolution)."""
    spans = layer_weights(layers, weights)
    parts = [line.split() for line in layers]
    params = [layer_params(line) for line in layers]
    readers = blob_readers(parts)
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
    return fold_chains(fold_stem(fold_pooling(out_layers))), out_weights


def fold_chains(layers: list[str]) -> list[str]:
    """Runs of TinyfqPwDw where each unit's only reader is the next layer, also a TinyfqPwDw
    (no stem), into one layer running them as a chain, band by band of rows (6=cin,cout,relu
    of each unit after the first, as an ncnn int array; 3=pool of the last). A pooling unit
    ends a run. The units' weights are already in order, one after another."""
    readers = blob_readers([line.split() for line in layers])
    out: list[str] = []
    for line in layers:
        p = line.split()
        if out and p[0] == "TinyfqPwDw":
            q = out[-1].split()
            qp, pp = layer_params(out[-1]), layer_params(line)
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


def fold_stem(layers: list[str]) -> list[str]:
    """A TinyfqConv3x3 whose only reader is a TinyfqPwDw into that layer (4=stem input
    channels, 5=stride), which then makes the stem's output band by band instead of reading a
    whole map of it; the stem's weights already come first."""
    parts = [line.split() for line in layers]
    readers = blob_readers(parts)
    out, drop = list(layers), set()
    for i, p in enumerate(parts):
        if p[0] != "TinyfqConv3x3":
            continue
        if readers[p[5]] != [i + 1] or parts[i + 1][0] != "TinyfqPwDw":
            continue
        stem = layer_params(layers[i])
        c = parts[i + 1]
        nout = int(c[3])
        out[i + 1] = " ".join(
            [c[0], f"{p[1]}+{c[1]}", c[2], c[3], p[4], *c[5 : 5 + nout], *c[5 + nout :]]
            + [f"4={stem['1']}", f"5={stem.get('2', '1')}"]
        )
        drop.add(i)
    return [line for i, line in enumerate(out) if i not in drop]


def fold_pooling(layers: list[str]) -> list[str]:
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
