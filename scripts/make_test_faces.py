"""Write tests/data/faces.csv: real photos with the five landmarks and box the native detector
finds in them, the shared test data of the runtime's tests, the golden scores and the
benchmarks (so none of them reads training files).

    python scripts/make_test_faces.py      # after the detector changes

Rows: relpath (to ../shared/data), box (x y w h), landmarks (x1 y1 ... x5 y5). The photos: every
LFW photo's first image, one identity in 13 (sorted), and every 300th CelebA-subset photo.
"""

import csv
import os
import sys
from pathlib import Path

import cv2

from tinyfq_native import Detector

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("TINYFQ_DATA", REPO.parent / "shared" / "data"))
OUT = REPO / "tests" / "data" / "faces.csv"


def photos() -> list[str]:
    lfw = sorted(os.listdir(DATA / "lfw" / "images"))
    out = []
    for name in lfw[::13]:
        out.append(f"lfw/images/{name}/" + sorted(os.listdir(DATA / "lfw" / "images" / name))[0])
    celeba = sorted(
        f"celeba-subset/images/{d}/{f}"
        for d in os.listdir(DATA / "celeba-subset" / "images")
        for f in os.listdir(DATA / "celeba-subset" / "images" / d)
    )
    return out + celeba[::300]


def main() -> int:
    det = Detector()
    rows = []
    for rel in photos():
        face = det.largest(cv2.imread(str(DATA / rel)))
        if face is None:
            continue
        rows.append(
            [
                rel,
                " ".join(f"{v:.2f}" for v in face.box),
                " ".join(f"{v:.2f}" for v in face.landmarks.reshape(-1)),
            ]
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["relpath", "box", "landmarks"])
        w.writerows(rows)
    print(f"{OUT}: {len(rows)} faces", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
