"""Step 2: smooth sampling of the labelled training images (paper §3.4), or the random
strategy it is compared with.

Smooth: keep identities with at least ``min_images`` original images; put labels into
``bins`` equal bins over [0, 1]; oversample (with replacement, up to 3×) the bins holding the
lowest 10% and the highest 5% of the labels, and cap the crowded middle bins — one cap for all
bins, found so that the sample has ``size`` images. Random: ``size`` images drawn uniformly from
all training images, no identity filter. Both write the sample as CSV and the label histogram
before/after as PNG.

    python -m training.sample --strategy smooth
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from training.config import SampleConfig, config_command, to_dict
from training.relabel_sources import source_of

OVERSAMPLE = 3.0


def read_labels(path: str | Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["label"] = float(r["label"])
        r["copy"] = int(r["copy"])
    return rows


def labels_provenance(path: str | Path) -> dict:
    """The provenance.json written beside a labels.csv (its labeller, sources, config), or {}
    where there is none."""
    prov = Path(path).with_name("provenance.json")
    return json.loads(prov.read_text()) if prov.exists() else {}


def landmarks_of(row: dict) -> np.ndarray:
    """The five landmarks (5×2 float32) of a labels.csv row."""
    from tinyfq_native.landmarks import as_landmarks

    return as_landmarks(row["landmarks"])


def box_of(row: dict) -> tuple[float, float, float, float]:
    """The detector box (x, y, w, h) of a labels.csv row."""
    x, y, w, h = (float(v) for v in row["box"].split())
    return x, y, w, h


def smooth_counts(labels: np.ndarray, cfg: SampleConfig, size: int) -> np.ndarray:
    """Target number of samples per bin."""
    edges = np.linspace(0.0, 1.0, cfg.bins + 1)
    counts = np.histogram(np.clip(labels, 0, 1), edges)[0].astype(float)
    lo, hi = np.quantile(labels, [cfg.low_frac, 1.0 - cfg.high_frac])
    centres = (edges[:-1] + edges[1:]) / 2
    tail = (centres <= lo) | (centres >= hi)
    boosted = np.where(tail, np.ceil(counts * OVERSAMPLE), counts)

    def total(cap: float) -> float:
        return np.minimum(boosted, cap).sum()

    if total(boosted.max()) <= size:
        return boosted.astype(int)
    a, b = 0.0, float(boosted.max())
    for _ in range(60):
        mid = (a + b) / 2
        a, b = (mid, b) if total(mid) < size else (a, mid)
    targets = np.minimum(boosted, np.floor(b))
    short = int(size - targets.sum())  # the integer cap leaves a few places over
    room = np.flatnonzero(boosted > targets)
    targets[room[np.argsort(-boosted[room], kind="stable")][:short]] += 1
    return targets.astype(int)


def source_weights(spec: str) -> dict[str, int]:
    """``"lfw=3,pins=2"`` -> {"lfw": 3, "pins": 2}; each weight a whole number >= 1."""
    out = {}
    for item in filter(None, (x.strip() for x in spec.split(","))):
        name, _, w = item.partition("=")
        if not name or not w.isdigit() or int(w) < 1:
            raise ValueError(
                f"--source-weight takes SOURCE=N with N a whole number >= 1, got {item!r}"
            )
        out[name] = int(w)
    return out


def sample(rows: list[dict], cfg: SampleConfig) -> list[dict]:
    """The sampled rows, each of a ``source_weight`` source repeated that many times."""
    weights = source_weights(cfg.source_weight)
    chosen = _draw(rows, cfg)
    return [r for r in chosen for _ in range(weights.get(source_of(r["relpath"]), 1))]


def _draw(rows: list[dict], cfg: SampleConfig) -> list[dict]:
    rng = np.random.default_rng(cfg.seed)
    train = [r for r in rows if r["split"] == "train"]
    if cfg.strategy == "random":
        size = cfg.size or len(train)
        idx = rng.choice(len(train), size=size, replace=size > len(train))
        return [train[i] for i in sorted(idx)]
    if cfg.strategy != "smooth":
        raise ValueError(f"unknown strategy {cfg.strategy!r}: use 'smooth' or 'random'")
    n_orig: dict[str, int] = {}
    for r in train:
        if r["copy"] == 0:
            n_orig[r["identity"]] = n_orig.get(r["identity"], 0) + 1
    kept = [r for r in train if n_orig.get(r["identity"], 0) >= cfg.min_images]
    labels = np.array([r["label"] for r in kept])
    size = cfg.size or len(kept)
    targets = smooth_counts(labels, cfg, size)
    bins = np.minimum((np.clip(labels, 0, 1) * cfg.bins).astype(int), cfg.bins - 1)
    out: list[int] = []
    for b, t in enumerate(targets):
        members = np.flatnonzero(bins == b)
        if t == 0 or len(members) == 0:
            continue
        if t <= len(members):
            out += list(rng.choice(members, t, replace=False))
        else:  # every member once, the rest drawn again
            out += list(members) + list(rng.choice(members, t - len(members), replace=True))
    return [kept[i] for i in sorted(out)]


def plot_histograms(before: np.ndarray, after: np.ndarray, path: Path, title: str) -> None:
    from facedata.plot import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    edges = np.linspace(0, 1, 101)
    for ax, data, name in (
        (axes[0], before, "all training labels"),
        (axes[1], after, f"after {title} sampling"),
    ):
        ax.hist(np.clip(data, 0, 1), edges, color="#3b6ea8")
        ax.set_title(f"{name} (n={len(data)})")
        ax.set_xlabel("quality label: cos(FaceNet embedding, identity centre)")
    axes[0].set_ylabel("images")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: SampleConfig) -> Path:
    rows = read_labels(cfg.labels)
    chosen = sample(rows, cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"sample-{cfg.strategy}.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["relpath", "copy", "identity", "label"])
        for r in chosen:
            w.writerow([r["relpath"], r["copy"], r["identity"], f"{r['label']:.5f}"])
    before = np.array([r["label"] for r in rows if r["split"] == "train"])
    after = np.array([r["label"] for r in chosen])
    plot_histograms(before, after, out / f"histogram-{cfg.strategy}.png", cfg.strategy)
    meta = to_dict(cfg) | {
        "labels": "labels.csv",
        "out": None,
        "rows": len(chosen),
        "unique_images": len({(r["relpath"], r["copy"]) for r in chosen}),
        "identities": len({r["identity"] for r in chosen}),
        "command": config_command("training.sample", cfg),
    }
    (out / f"sample-{cfg.strategy}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


if __name__ == "__main__":
    from training.config import parse_config

    print(run(parse_config(SampleConfig)))
