"""Regenerate tests/data/detect.csv: the faces YuNet finds in a few real photos, computed by
an independent reference — onnxruntime running the original ONNX file, decoded and suppressed
in numpy (tests/yunet_reference.py) — on the detector input the native code prepares.

    python scripts/make_detect_golden.py

The C++ test `detect` (natively and under qemu-aarch64) compares the native detector with it:
confidence within 1e-4, boxes and landmarks within 0.5 px. Rows: decoder (libjpeg or stb: the
JPEG decoder whose pixels were used, as in golden.csv), max_side, path (relative to the data
root), face (index, largest first), x, y, w, h, confidence, then l0x l0y ... l4x l4y.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import yunet_reference as ref  # noqa: E402
from tinyfq_native import Detector  # noqa: E402
from tinyfq_native.images import jpeg_decoder, read_image  # noqa: E402

DATA = REPO.parent / "shared" / "data"
PHOTOS = [
    "lfw/images/George_W_Bush/George_W_Bush_0001.jpg",
    "lfw/images/Colin_Powell/Colin_Powell_0001.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
    "lfw/images/Tony_Blair/Tony_Blair_0010.jpg",
    "lfw/images/Gerhard_Schroeder/Gerhard_Schroeder_0003.jpg",
    "celeba-subset/images/7201/001085.jpg",
    "celeba-subset/images/7210/023093.jpg",
]
SIZES = (320, 160, 96)


def rows_for(decoder: str) -> list[list]:
    sess = ref.session(1)
    out = []
    for size in SIZES:
        det = Detector(max_side=size)
        for p in PHOTOS:
            img = read_image(str(DATA / p))
            tensor, sx, sy = det.prepare(img, "rgb")
            for i, f in enumerate(ref.detect(sess, tensor, sx, sy)):
                out.append([decoder, size, p, i] + [round(float(v), 5) for v in f])
    return out


def main() -> None:
    if "--stb" in sys.argv:  # the child run with TINYFQ_DECODER=stb
        print(json.dumps(rows_for("stb")))
        return
    if not jpeg_decoder().startswith("libjpeg"):
        raise SystemExit("make_detect_golden: run with a libjpeg build (it writes both decoders)")
    rows = rows_for("libjpeg")
    child = subprocess.run(
        [sys.executable, __file__, "--stb"],
        capture_output=True,
        text=True,
        env={**os.environ, "TINYFQ_DECODER": "stb"},
        check=True,
    )
    rows += json.loads(child.stdout)
    out = REPO / "tests" / "data" / "detect.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            ["decoder", "max_side", "path", "face", "x", "y", "w", "h", "confidence"]
            + [f"l{k}{a}" for k in range(5) for a in "xy"]
        )
        w.writerows(rows)
    print(f"wrote {out}: {len(rows)} faces")


if __name__ == "__main__":
    main()
