"""A learning curve in the number of training people: each run's clean-photo orders against
how many people it was trained on (issue 25: is the gap to SDD-FIQA one of data?).

Reads an evaluation folder made with ``python -m evaluation --protocols crops --compare
NAME=MODEL …`` (its ``results.json``) and the protocol-3 folder beside it (``p23/results.json``),
counts each run's training people from its ``config.json`` exactly as ``training.train`` selects
them (the sample's identities, less the validation people, within ``--people-share``), and
writes ``people.png`` into the folder: protocol 4's clean crops, LFW and Pins (Spearman with the
verifier's label) against training people, one point per run, a line through the mean of each
size's runs (training seeds) of one sample file and ``--person-centring``, and SDD-FIQA as a
dashed line.

    python scripts/people_curve.py docs/eval/capacity/people p25=training/runs/people25 …
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def training_people(cfg: dict) -> int:
    """How many people ``training.train`` trained a run on, from its recorded config."""
    from training.train import share_of_people, split_identities

    sample = Path(cfg["sample"])  # recorded absolute, on the machine that trained it
    if not sample.is_file() and "training/" in sample.as_posix():
        sample = REPO / sample.as_posix()[sample.as_posix().index("training/") :]
    with open(sample, newline="") as f:
        ids = [r["identity"] for r in csv.DictReader(f)]
    val = split_identities(ids, cfg["val_frac"], cfg["seed"])
    kept = share_of_people(ids, cfg.get("people_share", 1.0))
    return len(kept - val)


def main(argv: list[str]) -> int:
    from facedata.plot import pyplot

    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    crops = json.loads((folder / "results.json").read_text())["crops"]["spearman"]
    natural = json.loads((folder / "p23" / "results.json").read_text())["natural"]
    points = []  # (people, sample, people share, name, P4 clean, LFW, Pins)
    for arg in argv[1:]:
        name, run = arg.split("=", 1)
        m = f"tinyfqnet@{name}"
        if m not in crops:
            raise SystemExit(f"{name}: not among the compared models of {folder / 'results.json'}")
        cfg = json.loads((REPO / run / "config.json").read_text())
        sample = Path(cfg["sample"]).parent.name  # one series per sample file and centring
        if cfg.get("person_centring", 0.0):
            sample += f", centred {cfg['person_centring']:g}"
        share = cfg.get("people_share", 1.0)
        ys = (crops[m]["clean"], natural["lfw"]["spearman"][m], natural["pins"]["spearman"][m])
        points.append((training_people(cfg), sample, share, name, *ys))
    peer = (
        crops["sdd_fiqa"]["clean"],
        natural["lfw"]["spearman"]["sdd_fiqa"],
        natural["pins"]["spearman"]["sdd_fiqa"],
    )
    samples = sorted({p[1] for p in points}, key=lambda s: -sum(p[1] == s for p in points))
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharex=True)
    titles = ("protocol 4: clean crops", "protocol 3: LFW", "protocol 3: Pins")
    for k, (ax, title) in enumerate(zip(axes, titles)):
        for j, smp in enumerate(samples):
            pts = sorted((p[0], p[2], p[4 + k]) for p in points if p[1] == smp)
            ax.plot(
                [n for n, _, _ in pts],
                [y for _, _, y in pts],
                "os^"[j % 3],
                color=f"C{j}",
                alpha=0.6,
                label=f"runs ({smp})",
            )
            # the mean over the runs of one share of people (training seeds), joined
            shares = sorted({f for _, f, _ in pts})
            if len(shares) > 1:
                xs = [np.mean([n for n, f, _ in pts if f == g]) for g in shares]
                ys = [np.mean([y for _, f, y in pts if f == g]) for g in shares]
                seeds = max(sum(f == g for _, f, _ in pts) for g in shares)
                join = "mean over seeds" if seeds > 1 else "one seed, joined"
                ax.plot(xs, ys, "-", color=f"C{j}", lw=1.5, label=join)
        ax.axhline(peer[k], color="C3", ls="--", lw=1, label="SDD-FIQA")
        ax.set_xscale("log")
        ax.set_xticks([125, 250, 500, 1000], ["125", "250", "500", "1000"])
        ax.minorticks_off()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training people")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Spearman with the verifier's label")
    axes[1].legend(fontsize=7, loc="center right")  # the empty band below SDD-FIQA
    fig.tight_layout()
    fig.savefig(folder / "people.png", dpi=110)
    for n, smp, _, name, *ys in sorted(points):
        print(
            f"{name} ({smp}): {n} people, P4 clean / LFW / Pins", " / ".join(f"{y:.3f}" for y in ys)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
