"""tinyFQnet (paper §3.2, Table 1), read literally.

- stem: 3×3 conv, stride 2, 3 → 11 channels (64×64 → 32×32)
- seven MobileNetV2-style blocks, each 1×1 expand → 3×3 depthwise (stride s) → 1×1 project,
  every conv followed by BatchNorm and ReLU (as the caption of Table 1 and the text say, the
  projection included):
      (in → hidden → out, stride)  11→8→2 s1 · 2→8→5 s2 · 5→20→5 s1 · 5→20→11 s2 ·
      11→44→11 s1 ×2 · 11→44→22 s1
- 1×1 conv 22 → 256, global average pool, fc 256 → 1, sigmoid.

Residual connections: Table 1 labels the two stride-2 blocks "Block2" (residual), which is
impossible without a projection shortcut (the shapes change), and the text says "5
non-residual blocks and 2 residual blocks". We add the identity shortcut wherever a block keeps
its shape (stride 1, in = out): the 5→5 block and both 11→11 blocks — three residual blocks.

This reading has 13,366 parameters (12,656 once BatchNorm is folded into the convolutions) and
2.66 MFLOPs (multiply-adds × 2), against the paper's stated 21,806 and 2.356 M; no reading of
Table 1 we tried reproduces both numbers (see training/README.md). ``count_params`` and
``count_flops`` are tested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

# (hidden, out, stride, repeats) per Table 1 row
TABLE1 = ((8, 2, 1, 1), (8, 5, 2, 1), (20, 5, 1, 1), (20, 11, 2, 1), (44, 11, 1, 2), (44, 22, 1, 1))
# Table 1 and one more stride-2 block, 22 -> 88 -> 32, so the head runs on 4x4 instead of 8x8:
# 21,886 parameters (within the paper's budget) and 3.6% fewer FLOPs than Table 1, because the
# 1x1 head, a quarter of Table 1's FLOPs, sees a quarter of the pixels. Pass it as
# `python -m training.train --model '{"blocks": ...}'` (training/experiments.md).
WIDER = TABLE1 + ((88, 32, 2, 1),)


@dataclass
class ModelArgs:
    input_size: int = 64
    stem: int = 11
    blocks: tuple = TABLE1
    head: int = 256
    residual: bool = True  # identity shortcut where a block keeps its shape

    def to_dict(self) -> dict:
        d = asdict(self)
        d["blocks"] = [list(b) for b in self.blocks]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelArgs:
        d = dict(d)
        d["blocks"] = tuple(tuple(b) for b in d.get("blocks", TABLE1))
        return cls(**d)


def conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Block(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int, stride: int, residual: bool):
        super().__init__()
        self.expand = conv_bn(cin, hidden)
        self.dw = conv_bn(hidden, hidden, 3, stride, groups=hidden)
        self.project = conv_bn(hidden, cout)
        self.residual = residual and stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.residual else y


class TinyFQNet(nn.Module):
    def __init__(self, args: ModelArgs | None = None):
        super().__init__()
        args = args if args is not None else ModelArgs()
        self.args = args
        self.stem = conv_bn(3, args.stem, 3, 2)
        blocks, cin = [], args.stem
        for hidden, cout, stride, n in args.blocks:
            for i in range(n):
                blocks.append(Block(cin, hidden, cout, stride if i == 0 else 1, args.residual))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = conv_bn(cin, args.head)
        self.fc = nn.Linear(args.head, 1)

    def forward(self, x):
        """x: N×3×S×S normalised input → quality in (0, 1), shape N."""
        x = self.head(self.blocks(self.stem(x)))
        x = x.mean((2, 3))
        return torch.sigmoid(self.fc(x)).squeeze(1)


def count_params(model: nn.Module, folded: bool = False) -> int:
    """Trainable parameters; ``folded`` counts what remains after BN folding (each conv gains a
    bias, each BN's two parameters disappear)."""
    n = sum(p.numel() for p in model.parameters())
    if folded:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n -= m.num_features  # 2 BN params become 1 conv bias
    return n


def count_flops(model: TinyFQNet) -> int:
    """Multiply-adds × 2 of convolutions and the fc layer for one image."""
    flops = 0
    hooks = []

    def conv_hook(m, inp, out):
        nonlocal flops
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        flops += 2 * k * out.numel()

    def fc_hook(m, inp, out):
        nonlocal flops
        flops += 2 * m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(fc_hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, model.args.input_size, model.args.input_size))
    model.train(was)
    for h in hooks:
        h.remove()
    return flops
