"""Detection rate and landmark agreement of the native detector on all of LFW, by input size.

    python bench/detect_lfw.py [--sizes 96 128 160 320] [--out bench/detect_lfw]

For every LFW photo (13,233, 250x250) and each detector size (the longer side the photo is
downscaled to, then padded to multiples of 32): whether a face is found, and, for the photos
whose MTCNN landmarks are in training/labels/landmarks-mtcnn.csv (the detector of the first
labels, kept by training.relandmark), the mean distance between the two detectors' five
landmarks over the inter-ocular distance (MTCNN's eye centres) for the largest face; and how far
the largest face's landmarks and its quality score (the embedded model, through the native
warp) move from those at the default size (``Detector()``'s, the size the model's training crops
were warped at). As the yardstick for the last: the same at the default size between each photo
and the photo less its top row and left column (the detector's own landmark noise). Writes
<out>.json and a figure <out>.png.
"""

import argparse
import csv
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def mtcnn_landmarks() -> dict[str, np.ndarray]:
    """MTCNN's landmarks of the labelled photos (kept by training.relandmark)."""
    sys.path.insert(0, str(REPO))  # run as a script: make the research packages importable
    from tinyfq_native.landmarks import as_landmarks

    with (REPO / "training" / "labels" / "landmarks-mtcnn.csv").open() as f:
        return {
            r["relpath"]: as_landmarks(r["landmarks"])
            for r in csv.DictReader(f)
            if r["relpath"].startswith("lfw/")
        }


def agreement(la: np.ndarray, lb: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> dict:
    """How far landmarks lb (n, 5, 2) and scores sb lie from la and sa, the same photos in the
    same order: the landmark shift over the eye distance of la, in pixels, and the scores' change
    and rank correlation."""
    from evaluation.metrics import spearman

    iod = np.linalg.norm(la[:, 0] - la[:, 1], axis=1)
    shift = np.linalg.norm(lb - la, axis=2).mean(axis=1) / iod
    d = np.abs(sb - sa)
    return {
        "photos": len(la),
        "landmark_shift_mean": round(float(shift.mean()), 4),
        "landmark_shift_px_mean": round(float((shift * iod).mean()), 3),
        "score_abs_diff_mean": round(float(d.mean()), 4),
        "score_abs_diff_p95": round(float(np.quantile(d, 0.95)), 4),
        "score_spearman": round(spearman(sa, sb), 4),
    }


def main(argv=None) -> int:
    from tinyfq_native import Detector, Scorer
    from tinyfq_native.images import read_image

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 160, 320])
    p.add_argument("--out", default=str(REPO / "bench" / "detect_lfw"))
    p.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    args = p.parse_args(argv)

    files = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))
    if args.limit:
        files = files[: args.limit]
    ref = mtcnn_landmarks()
    images = {}

    def load(f):
        return f, read_image(str(f))

    with ThreadPoolExecutor(2) as pool:
        for f, img in tqdm(pool.map(load, files), total=len(files), desc="decode", file=sys.stderr):
            images[f] = img
    default = Detector().max_side
    scorer = Scorer()
    report = {"photos": len(files), "mtcnn_labelled": 0, "default_size": default, "sizes": {}}
    found = {}  # size -> {photo: (landmarks, score)} of the largest face
    # the default size first: the other sizes' landmarks and scores are compared with its
    for size in sorted(args.sizes, key=lambda s: s != default):
        det = Detector(size)

        def one(f, det=det):
            face = det.largest(images[f], format="rgb")
            rel = str(f.relative_to(DATA))
            if face is None:
                return rel, None, None
            score = scorer.score(images[f], face.landmarks, format="rgb")
            m = ref.get(rel)
            if m is None:
                return rel, np.nan, (face.landmarks, score)
            iod = np.linalg.norm(m[0] - m[1])
            err = float(np.linalg.norm(face.landmarks - m, axis=1).mean() / iod)
            return rel, err, (face.landmarks, score)

        with ThreadPoolExecutor(2) as pool:
            res = list(
                tqdm(pool.map(one, files), total=len(files), desc=f"detect {size}", file=sys.stderr)
            )
        found[size] = {r: ls for r, _, ls in res if ls is not None}
        missed = [r for r, _, ls in res if ls is None]
        errs = np.array([e for _, e, _ in res if e is not None and not np.isnan(e)])
        report["mtcnn_labelled"] = max(report["mtcnn_labelled"], len(errs))
        report["sizes"][str(size)] = {
            "found": len(files) - len(missed),
            "rate": round(1 - len(missed) / len(files), 5),
            "missed": missed[:50],
            "nme_vs_mtcnn_mean": round(float(errs.mean()), 4),
            "nme_vs_mtcnn_median": round(float(np.median(errs)), 4),
            "nme_vs_mtcnn_p95": round(float(np.quantile(errs, 0.95)), 4),
            "share_nme_over_0.1": round(float((errs > 0.1).mean()), 4),
            "compared": len(errs),
        }
        if default in found:
            both = sorted(set(found[size]) & set(found[default]))
            a, b = [found[default][r] for r in both], [found[size][r] for r in both]
            sa = np.array([s for _, s in a])
            v = agreement(
                np.array([lm for lm, _ in a]),
                np.array([lm for lm, _ in b]),
                sa,
                np.array([s for _, s in b]),
            )
            v["score_std_default"] = round(float(sa.std()), 4)
            report["sizes"][str(size)]["vs_default"] = v
        print(
            size,
            {k: v for k, v in report["sizes"][str(size)].items() if k != "missed"},
            file=sys.stderr,
        )
    report["sizes"] = {str(s): report["sizes"][str(s)] for s in sorted(args.sizes)}
    if default in found:  # the yardstick: each photo less its top row and left column
        det = Detector(default)

        def cropped(f):
            img = np.ascontiguousarray(images[f][1:, 1:])
            face = det.largest(img, format="rgb")
            if face is None:
                return None
            return face.landmarks + 1, scorer.score(img, face.landmarks, format="rgb")

        with ThreadPoolExecutor(2) as pool:
            res = list(
                tqdm(pool.map(cropped, files), total=len(files), desc="1-px crop", file=sys.stderr)
            )
        rels = [str(f.relative_to(DATA)) for f in files]
        pairs = [
            (found[default][r], c)
            for r, c in zip(rels, res)
            if c is not None and r in found[default]
        ]
        report["crop_1px_at_default"] = agreement(
            np.array([a[0] for a, _ in pairs]),
            np.array([c[0] for _, c in pairs]),
            np.array([a[1] for a, _ in pairs]),
            np.array([c[1] for _, c in pairs]),
        )
        print("1-px crop at the default size", report["crop_1px_at_default"], file=sys.stderr)
    Path(args.out + ".json").write_text(json.dumps(report, indent=2) + "\n")

    from facedata.plot import pyplot

    plt = pyplot()

    sizes = sorted(args.sizes)
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    rates = [100 * report["sizes"][str(s)]["rate"] for s in sizes]
    ax[0].bar([str(s) for s in sizes], rates, color="#4c72b0")
    for i, r in enumerate(rates):
        ax[0].text(i, r, f"{r:.2f}%", ha="center", va="bottom", fontsize=9)
    ax[0].set_ylim(min(rates) - 1, 100.5)
    ax[0].set_xlabel("detector size (longer side, px)")
    ax[0].set_ylabel("LFW photos with a face found (%)")
    ax[0].axhline(99.5, color="grey", ls="--", lw=1)

    def bar(a, x, y, text, color):  # a bar with its value written above it
        a.bar(x, y, color=color)
        a.text(x, y, text, ha="center", va="bottom", fontsize=9)

    for s in sizes:
        e = report["sizes"][str(s)]["nme_vs_mtcnn_mean"]
        bar(ax[1], str(s), e, f"{e:.3f}", "#55a868")
    ax[1].set_xlabel("detector size (longer side, px)")
    ax[1].set_ylabel("landmark distance to MTCNN (÷ eye distance)")
    for s in sizes:
        v = report["sizes"][str(s)].get("vs_default")
        if v is None:
            continue
        d = v["score_abs_diff_mean"]
        bar(ax[2], str(s), d, f"{d:.3f}\nρ {v['score_spearman']:.2f}", "#c44e52")
    crop = report.get("crop_1px_at_default")
    if crop:
        ax[2].axhline(
            crop["score_abs_diff_mean"],
            color="grey",
            ls="--",
            lw=1,
            label=f"size {default}, photo less a row and column: {crop['score_abs_diff_mean']:.3f}",
        )
        ax[2].legend(loc="lower left", fontsize=8)
    ax[2].set_xlabel("detector size (longer side, px)")
    ax[2].set_ylabel(f"mean |score change| vs size {default}")
    ax[2].set_ylim(0, None)
    ax[2].margins(y=0.25)
    fig.suptitle(f"YuNet (native) on {len(files):,} LFW photos")
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=110)
    print(f"wrote {args.out}.json, {args.out}.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
