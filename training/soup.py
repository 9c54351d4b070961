"""Average the weights of runs fine-tuned from one start (a "model soup", Wortsman et al. 2022;
WiSE-FT, Wortsman et al. 2022): a weighted mean of every parameter and BatchNorm statistic.

Where fine-tunes of one checkpoint stay in one basin, the mean of their weights trades their
strengths off without another training run. Here it did not: soups of the shipped run with the
pair-margin runs lost the darkening those runs learnt (docs/eval/margin/README.md).

    python -m training.soup training/runs/A/checkpoint.pt training/runs/B/checkpoint.pt \\
        --weights 0.5 0.5 --out training/runs/soup-A-B

The result is an ordinary checkpoint (``training.export`` takes it); its ``training`` record
names the ingredients and weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def soup(paths: list[Path], weights: list[float] | None = None) -> dict:
    """The checkpoint whose state is the weighted mean of ``paths``' states. Raises ValueError
    when the runs' architectures differ, a weight is negative, or the weights do not sum to 1."""
    import torch

    if len(paths) < 2:
        raise ValueError("a soup needs at least two checkpoints")
    weights = weights if weights is not None else [1.0 / len(paths)] * len(paths)
    if len(weights) != len(paths):
        raise ValueError(f"{len(weights)} weights for {len(paths)} checkpoints")
    if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"the weights must be ≥ 0 and sum to 1, not {weights}")
    ckpts = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    for p, c in zip(paths[1:], ckpts[1:]):
        if c["model_args"] != ckpts[0]["model_args"]:
            raise ValueError(f"{p} has another architecture than {paths[0]}")
        if set(c["state_dict"]) != set(ckpts[0]["state_dict"]):
            raise ValueError(f"{p} has other tensors than {paths[0]}")
    state = {}
    for k, v in ckpts[0]["state_dict"].items():
        if v.is_floating_point():
            state[k] = sum(w * c["state_dict"][k] for w, c in zip(weights, ckpts))
        else:  # BatchNorm's num_batches_tracked: a counter, not a weight
            state[k] = v.clone()
    out = dict(ckpts[0])
    out["state_dict"] = state
    out["version"] = time.strftime("%Y.%m.%d")
    out["training"] = {
        "soup": [{"checkpoint": str(p), "weight": w} for p, w in zip(paths, weights)],
    }
    return out


def main(argv: list[str] | None = None) -> Path:
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--weights", nargs="+", type=float, help="one per checkpoint; default: equal")
    p.add_argument("--out", type=Path, required=True, help="run folder for checkpoint.pt")
    a = p.parse_args(argv)
    for c in a.checkpoints:
        if not c.is_file():
            p.error(f"{c}: no such checkpoint")
    try:
        ckpt = soup(a.checkpoints, a.weights)
    except ValueError as e:
        p.error(str(e))
    # the arguments parsed, not the process's (main is also called with argv)
    ckpt["training"]["command"] = "python -m training.soup " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    a.out.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, a.out / "checkpoint.pt")
    print(a.out / "checkpoint.pt")
    return a.out / "checkpoint.pt"


if __name__ == "__main__":
    main()
