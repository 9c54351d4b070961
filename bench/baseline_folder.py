"""A straightforward folder scorer, as a typical user would write it: OpenCV reads and resizes
each file, PyTorch scores it (the same trained weights as the embedded model, batch 1, torch's
default threads). It is the baseline of the `folder-lfw` benchmark (bench/test_folder.py),
which runs it in a subprocess exactly like `tinyfq score`, start-up included.

    python bench/baseline_folder.py FOLDER -o scores.csv

Every image below FOLDER is taken as an aligned face crop, as `tinyfq score` does without
--detect. Writes path,score rows.
"""

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make training importable

from training.config import SHIPPED_RUN  # noqa: E402
from training.export import load_checkpoint  # noqa: E402

CHECKPOINT = SHIPPED_RUN / "checkpoint.pt"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="score a folder of face crops: OpenCV + PyTorch")
    p.add_argument("folder", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    args = p.parse_args(argv)

    net, _ = load_checkpoint(args.checkpoint)  # eval mode
    paths = sorted(f for f in args.folder.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
    with args.output.open("w", newline="") as f, torch.no_grad():
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["path", "score"])
        for path in paths:
            bgr = cv2.imread(str(path))
            x = cv2.resize(bgr, (64, 64))  # bilinear
            x = (x[:, :, ::-1].astype(np.float32) - 127.5) / 128.0  # RGB, normalised
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
            out.writerow([str(path), f"{float(net(t)[0]):.6f}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
