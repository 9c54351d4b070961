"""Regenerate tests/data/golden.csv: scores of a few real faces with the embedded model.

Run after the default model changes (`python scripts/make_golden.py`, with a build that
decodes JPEG with libjpeg); the Python tests, the C++ tests and the aarch64 run under qemu all
compare against this file (1e-4 / 1e-5).
Rows: path (relative to the data root), kind (crop: the photo taken as a crop; warp: the
photo with its five landmarks from tests/data/faces.csv), landmarks, score (pixels from
libjpeg), score_stb (pixels from stb_image, the decoder of builds without libjpeg such as the
aarch64 cross build). The two decoders round differently (up to ~3 grey levels), which moves
scores by up to ~0.015 on LFW: each build compares with its own column.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from tinyfq_native import Scorer  # noqa: E402
from tinyfq_native.images import jpeg_decoder, read_image  # noqa: E402
from tinyfq_native.landmarks import as_landmarks  # noqa: E402

DATA = REPO.parent / "shared" / "data"
CROPS = [
    "lfw/images/George_W_Bush/George_W_Bush_0001.jpg",
    "lfw/images/Colin_Powell/Colin_Powell_0001.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
    "celeba-subset/images/7201/001085.jpg",
]


def golden_rows() -> list[list]:
    """[path, kind, landmarks, score] with this process's JPEG decoder."""
    scorer = Scorer()
    rows = []
    for p in CROPS:
        rows.append([p, "crop", "", scorer.score(read_image(str(DATA / p)), format="rgb")])
    with (REPO / "tests" / "data" / "faces.csv").open() as f:
        labelled = list(csv.DictReader(f))
    for r in labelled[:: max(1, len(labelled) // 6)][:6]:
        lm = as_landmarks(r["landmarks"])
        img = read_image(str(DATA / r["relpath"]))
        rows.append([r["relpath"], "warp", r["landmarks"], scorer.score(img, lm, format="rgb")])
    return rows


def main() -> None:
    if "--scores" in sys.argv:  # the child run with TINYFQ_DECODER=stb
        print(json.dumps([r[3] for r in golden_rows()]))
        return
    if not jpeg_decoder().startswith("libjpeg"):
        raise SystemExit(
            f"make_golden: this build decodes JPEG with {jpeg_decoder()}; "
            "regenerate with a libjpeg build (it writes both columns)"
        )
    rows = golden_rows()
    child = subprocess.run(
        [sys.executable, __file__, "--scores"],
        capture_output=True,
        text=True,
        env={**os.environ, "TINYFQ_DECODER": "stb"},
        check=True,
    )
    stb = json.loads(child.stdout)
    out = REPO / "tests" / "data" / "golden.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "kind", "landmarks", "score", "score_stb"])
        for (p, kind, lm, q), q_stb in zip(rows, stb):
            w.writerow([p, kind, lm, f"{q:.7f}", f"{q_stb:.7f}"])
    print(
        f"{out}: {len(rows)} rows, model {Scorer().info['version']}, "
        f"decoders {jpeg_decoder()} and stb_image"
    )


if __name__ == "__main__":
    main()
