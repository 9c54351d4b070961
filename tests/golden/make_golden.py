"""Regenerate tests/golden/golden.csv: scores of a few real faces with the embedded model.

Run after the default model changes (`python tests/golden/make_golden.py`); the Python tests,
the C++ tests and the aarch64 run under qemu all compare against this file (1e-4 / 1e-5).
Rows: path (relative to the data root), kind (crop: the photo taken as a crop; warp: the
photo with its five landmarks from training/labels/labels.csv), landmarks, score.
"""
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))      # run as a script: make training importable

from tinyfq_native import Scorer, _core  # noqa: E402
from training.sample import landmarks_of  # noqa: E402

DATA = REPO.parent / "shared" / "data"
CROPS = ["lfw/images/George_W_Bush/George_W_Bush_0001.jpg",
         "lfw/images/Colin_Powell/Colin_Powell_0001.jpg",
         "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
         "celeba-subset/images/7201/001085.jpg"]


def main() -> None:
    scorer = Scorer()
    rows = []
    for p in CROPS:
        rows.append([p, "crop", "", scorer.score(_core.read_image(str(DATA / p)), format="rgb")])
    with (REPO / "training" / "labels" / "labels.csv").open() as f:
        labelled = [r for r in csv.DictReader(f) if r["copy"] == "0"]
    for r in labelled[:: max(1, len(labelled) // 6)][:6]:
        lm = landmarks_of(r)
        img = _core.read_image(str(DATA / r["relpath"]))
        rows.append([r["relpath"], "warp", r["landmarks"], scorer.score(img, lm, format="rgb")])
    out = REPO / "tests" / "golden" / "golden.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "kind", "landmarks", "score"])
        for p, kind, lm, q in rows:
            w.writerow([p, kind, lm, f"{q:.7f}"])
    print(f"{out}: {len(rows)} rows, model {scorer.info['version']}")


if __name__ == "__main__":
    main()
