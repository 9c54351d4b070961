"""The ensemble labeller: the mean of two label files' labels for the same images.

Both files come from ``training.relabel`` over the same photos and copy plan with different
labelling models (``--labeller w600k`` and ``--labeller mbf``, each with its own ``--cache``),
so a (relpath, copy) key names the same pixels in both. Every row of the first file is kept;
where the second has the key, the label becomes the mean of the two; rows only the first has
(the merged earlier labels, copy >= 100) keep theirs. Why the mean: on held-out people it
agrees best with a verifier that made no labels (Spearman with dlib's label 0.753 on held-out
LFW, against 0.742 for mbf and 0.744 for w600k alone; training/README.md).

    python -m training.ensemble training/labels/v5/labels.csv labels-mbf/labels.csv --out DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from training.config import command_line


def average(first: Path, second: Path, out: Path) -> dict:
    """Write ``out/labels.csv`` (the first file's rows, labels averaged where the second has
    the image) and ``out/provenance.json``; return the provenance."""
    with open(second, newline="") as f:
        other = {(r["relpath"], r["copy"]): float(r["label"]) for r in csv.DictReader(f)}
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    with open(first, newline="") as f, (out / "labels.csv").open("w", newline="") as g:
        rd = csv.DictReader(f)
        w = csv.DictWriter(g, fieldnames=list(rd.fieldnames or []))
        w.writeheader()
        rows = 0
        for r in rd:
            rows += 1
            b = other.get((r["relpath"], r["copy"]))
            if b is not None:
                a = float(r["label"])
                pairs.append((a, b))
                r["label"] = f"{(a + b) / 2:.5f}"
            w.writerow(r)
    if not pairs:
        raise ValueError(f"{first} and {second} share no (relpath, copy) rows")
    both = np.array(pairs)
    prov = {
        "what": "ensemble labels: the mean of two labelling models' Eq. 1 labels per image",
        "first": str(first),
        "second": str(second),
        "rows": rows,
        "averaged": len(pairs),
        "kept_from_first": rows - len(pairs),
        "pearson": round(float(np.corrcoef(both.T)[0, 1]), 4),
        "means": [round(float(m), 4) for m in both.mean(0)],
        "command": command_line("training.ensemble", first, second, out=out),
    }
    (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return prov


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("first", type=Path, help="labels.csv whose rows are kept (e.g. w600k's)")
    p.add_argument("second", type=Path, help="labels.csv of the other labelling model")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    print(json.dumps(average(a.first, a.second, a.out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
