"""Step 4: export a trained tinyFQnet to ncnn (.ncnn.param/.ncnn.bin) plus the JSON sidecar.

A direct writer, BatchNorm folded into the convolutions, fp32 weights, in one of two graphs:

- ``fused`` (default, what the library embeds): one TinyfqConv3x3 stem, one TinyfqBlock per
  inverted-residual block and one TinyfqHead — custom ncnn layers that tinyfq_native registers
  (cpp/src/fused_layers.cpp). Each block runs expand, depthwise and projection in one call with
  hand-tiled kernels; no channel padding.
- ``plain``: stock ncnn layers (Convolution, ConvolutionDepthWise, Split, BinaryOp, Pooling,
  InnerProduct) with ReLU and the final sigmoid fused as ncnn activations, so any ncnn runs it.
  Channel counts are zero-padded up to a multiple of ``pad_to`` (4 by default): ncnn's x86/ARM
  kernels are much faster on packed channel groups, and a padded channel has zero weights and
  zero bias, so it stays exactly zero through every ReLU and residual add — the scores do not
  change (the parity tests check this).

    python -m training.export training/runs/default/checkpoint.pt --out cpp/models --name default
    python -m training.export CKPT --graph plain --pad-to 1 --out DIR   # stock ncnn, unpadded
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinyfq_native.align import template as alignment_template
from training.model import Block, ModelArgs, TinyFQNet, count_flops, count_params

MEAN = [127.5, 127.5, 127.5]
STD = [128.0, 128.0, 128.0]


def preprocess_spec(size: int = 64) -> dict:
    """The part of the sidecar that preprocessing needs (training uses it for its crops)."""
    return {
        "input": {
            "size": size,
            "mean": MEAN,
            "std": STD,
            "colour_order": "rgb",
            "blob": "in0",
            "layout": "CHW float32, (pixel - mean) / std",
        },
        "alignment": {
            "template": alignment_template(size),
            "reference": "ArcFace/insightface five-point 112x112 template, "
            "t' = (t + 0.5) * size / 112 - 0.5",
            "landmark_order": ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"],
        },
        "output": {"blob": "out0", "range": [0.0, 1.0]},
    }


def _fold(seq: nn.Sequential) -> tuple[np.ndarray, np.ndarray, nn.Conv2d]:
    conv, bn = seq[0], seq[1]
    w = conv.weight.detach().double().numpy()
    s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    b = bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return w * s[:, None, None, None], b.detach().double().numpy(), conv


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


class _Writer:
    def __init__(self):
        self.layers: list[str] = []
        self.blobs = 0
        self.bin = bytearray()

    def blob(self) -> str:
        self.blobs += 1
        return f"b{self.blobs}"

    def layer(self, typ: str, name: str, ins: list[str], outs: list[str], params: str) -> None:
        self.layers.append(
            f"{typ:<24} {name:<16} {len(ins)} {len(outs)} {' '.join(ins + outs)} {params}".rstrip()
        )

    def weights(self, w: np.ndarray, b: np.ndarray | None) -> None:
        self.bin += struct.pack("<I", 0)  # raw float32 tag
        self.bin += w.astype("<f4").tobytes()
        if b is not None:
            self.bin += b.astype("<f4").tobytes()

    def param_text(self) -> str:
        n_blobs = self.blobs + 2  # in0 and out0 are named apart
        return "7767517\n" + f"{len(self.layers)} {n_blobs}\n" + "\n".join(self.layers) + "\n"


def to_ncnn(model: TinyFQNet, pad_to: int = 4) -> tuple[str, bytes]:
    """(param text, bin bytes) of the folded, channel-padded network."""
    model = model.eval()
    wr = _Writer()
    size = model.args.input_size
    wr.layer("Input", "input", [], ["in0"], f"0={size} 1={size} 2=3")
    counter = iter(range(1000))

    def conv(seq: nn.Sequential, x: str, cin_p: int) -> tuple[str, int]:
        w, b, c = _fold(seq)
        cout, cin_g, k, _ = w.shape
        if c.groups == 1:
            cout_p = _pad(cout, pad_to) if cout > 1 else cout
            W = np.zeros((cout_p, cin_p, k, k))
            W[:cout, :cin_g] = w
            B = np.zeros(cout_p)
            B[:cout] = b
            y = wr.blob()
            wr.layer(
                "Convolution",
                f"conv{next(counter)}",
                [x],
                [y],
                f"0={cout_p} 1={k} 3={c.stride[0]} 4={c.padding[0]} 5=1 6={W.size} 9=1",
            )
        else:  # depthwise: channels padded like its input
            cout_p = cin_p
            W = np.zeros((cout_p, 1, k, k))
            W[:cout] = w
            B = np.zeros(cout_p)
            B[:cout] = b
            y = wr.blob()
            wr.layer(
                "ConvolutionDepthWise",
                f"dw{next(counter)}",
                [x],
                [y],
                f"0={cout_p} 1={k} 3={c.stride[0]} 4={c.padding[0]} 5=1 6={W.size} 7={cout_p} 9=1",
            )
        wr.weights(W, B)
        return y, cout_p

    x, cp = conv(model.stem, "in0", 3)
    for blk in model.blocks:
        blk: Block
        if blk.residual:
            a, s = wr.blob(), wr.blob()
            wr.layer("Split", f"split{next(counter)}", [x], [a, s], "")
            x = a
        y, cp2 = conv(blk.expand, x, cp)
        y, cp2 = conv(blk.dw, y, cp2)
        y, cp2 = conv(blk.project, y, cp2)
        if blk.residual:
            z = wr.blob()
            wr.layer("BinaryOp", f"add{next(counter)}", [s, y], [z], "0=0")
            y = z
        x, cp = y, cp2
    x, cp = conv(model.head, x, cp)
    g = wr.blob()
    wr.layer("Pooling", "gap", [x], [g], "0=1 4=1")
    fc = model.fc
    wr.layer(
        "InnerProduct", "fc", [g], ["out0"], f"0={fc.out_features} 1=1 2={fc.weight.numel()} 9=4"
    )
    wr.weights(fc.weight.detach().double().numpy(), fc.bias.detach().double().numpy())
    return wr.param_text(), bytes(wr.bin)


def to_ncnn_fused(model: TinyFQNet) -> tuple[str, bytes]:
    """(param text, bin bytes) of the folded network as the library's fused layers: one
    TinyfqConv3x3 (stem), one TinyfqBlock per inverted-residual block and one TinyfqHead. No
    channel padding (the fused kernels tile over pixels, not channels). Only tinyfq_native's
    runtime loads this graph: it registers the three layer types with ncnn."""
    model = model.eval()
    wr = _Writer()
    size = model.args.input_size
    wr.layer("Input", "input", [], ["in0"], f"0={size} 1={size} 2=3")

    def flat(seq: nn.Sequential) -> tuple[np.ndarray, np.ndarray]:
        w, b, _ = _fold(seq)
        return w.reshape(w.shape[0], -1), b

    w, b, c = _fold(model.stem)
    x = wr.blob()
    wr.layer(
        "TinyfqConv3x3", "stem", ["in0"], [x], f"0={w.shape[0]} 1={w.shape[1]} 2={c.stride[0]}"
    )
    wr.weights(w, b)
    for i, blk in enumerate(model.blocks):
        blk: Block
        we, be = flat(blk.expand)
        wd, bd = flat(blk.dw)
        wp, bp = flat(blk.project)
        y = wr.blob()
        wr.layer(
            "TinyfqBlock",
            f"block{i}",
            [x],
            [y],
            f"0={we.shape[1]} 1={we.shape[0]} 2={wp.shape[0]} "
            f"3={blk.dw[0].stride[0]} 4={int(blk.residual)}",
        )
        for wt, bias in ((we, be), (wd, bd), (wp, bp)):
            wr.weights(wt, bias)
        x = y
    wh, bh = flat(model.head)
    fc = model.fc
    wr.layer("TinyfqHead", "head", [x], ["out0"], f"0={wh.shape[1]} 1={wh.shape[0]}")
    wr.weights(wh, bh)
    wr.weights(fc.weight.detach().double().numpy().reshape(-1), fc.bias.detach().double().numpy())
    return wr.param_text(), bytes(wr.bin)


def sidecar(model: TinyFQNet, version: str, extra: dict | None = None) -> dict:
    meta = {"format": "tinyfq-model/1", "name": "tinyfqnet", "version": version}
    meta |= preprocess_spec(model.args.input_size)
    meta |= {
        "architecture": model.args.to_dict(),
        "params": count_params(model),
        "params_folded": count_params(model, folded=True),
        "flops": count_flops(model),
    }
    return meta | (extra or {})


def export(
    model: TinyFQNet,
    out_dir: Path,
    name: str,
    version: str,
    extra: dict | None = None,
    pad_to: int = 4,
    graph: str = "fused",
) -> dict[str, Path]:
    """Write <name>.ncnn.param/.bin and <name>.json. graph="fused": the library's fused layers
    (fastest; needs tinyfq_native's runtime); "plain": stock ncnn layers (any ncnn runs it),
    channels zero-padded to a multiple of pad_to."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if graph not in ("fused", "plain"):
        raise ValueError(f"graph must be 'fused' or 'plain', got {graph!r}")
    param, binary = to_ncnn_fused(model) if graph == "fused" else to_ncnn(model, pad_to)
    extra = (extra or {}) | {"graph": graph}
    paths = {
        "param": out_dir / f"{name}.ncnn.param",
        "bin": out_dir / f"{name}.ncnn.bin",
        "json": out_dir / f"{name}.json",
    }
    # the sidecar records its weights: the runtime refuses a .bin of another model or graph
    extra |= {"weights": {"bytes": len(binary), "sha256": hashlib.sha256(binary).hexdigest()}}
    paths["param"].write_text(param)
    paths["bin"].write_bytes(binary)
    paths["json"].write_text(json.dumps(sidecar(model, version, extra), indent=2) + "\n")
    return paths


def load_checkpoint(path: Path) -> tuple[TinyFQNet, dict]:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = TinyFQNet(ModelArgs.from_dict(ck["model_args"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval(), ck


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="export a tinyFQnet checkpoint to ncnn + sidecar")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, default=Path("cpp/models"))
    p.add_argument("--name", default="default")
    p.add_argument(
        "--graph",
        choices=("fused", "plain"),
        default="fused",
        help="fused: tinyfq_native's fused layers (default); plain: stock ncnn layers",
    )
    p.add_argument("--pad-to", type=int, default=4, help="plain graph: pad channels to this")
    p.add_argument(
        "--version",
        help="the model's version in the sidecar (default: the checkpoint's, its training date)",
    )
    a = p.parse_args(argv)
    model, ck = load_checkpoint(a.checkpoint)
    extra = {k: ck[k] for k in ("label_model", "data", "training") if k in ck}
    version = a.version or ck.get("version", "0")
    paths = export(model, a.out, a.name, version, extra, a.pad_to, a.graph)
    for v in paths.values():
        print(v)


if __name__ == "__main__":
    main()
