"""Detection rate and landmark agreement of the native detector on all of LFW, by input size.

    python bench/detect_lfw.py [--sizes 96 128 160 320] [--out bench/detect_lfw]

For every LFW photo (13,233, 250x250) and each detector size (the longer side the photo is
downscaled to, then padded to multiples of 32): whether a face is found, and, for the photos
whose MTCNN landmarks are in training/labels/landmarks-mtcnn.csv (the detector of the first
labels, kept by training.relandmark), the mean distance between the two detectors' five
landmarks over the inter-ocular distance (MTCNN's eye centres) for the largest face. Writes
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
    sys.path.insert(0, str(REPO))  # run as a script: make training importable
    from tinyfq_native.landmarks import as_landmarks

    with (REPO / "training" / "labels" / "landmarks-mtcnn.csv").open() as f:
        return {
            r["relpath"]: as_landmarks(r["landmarks"])
            for r in csv.DictReader(f)
            if r["relpath"].startswith("lfw/")
        }


def main(argv=None) -> int:
    from tinyfq_native import Detector
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
    report = {"photos": len(files), "mtcnn_labelled": 0, "sizes": {}}
    for size in args.sizes:
        det = Detector(size)

        def one(f, det=det):
            face = det.largest(images[f], format="rgb")
            rel = str(f.relative_to(DATA))
            if face is None:
                return rel, None
            m = ref.get(rel)
            if m is None:
                return rel, np.nan
            iod = np.linalg.norm(m[0] - m[1])
            return rel, float(np.linalg.norm(face.landmarks - m, axis=1).mean() / iod)

        with ThreadPoolExecutor(2) as pool:
            res = list(
                tqdm(pool.map(one, files), total=len(files), desc=f"detect {size}", file=sys.stderr)
            )
        missed = [r for r, e in res if e is None]
        errs = np.array([e for _, e in res if e is not None and not np.isnan(e)])
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
        print(
            size,
            {k: v for k, v in report["sizes"][str(size)].items() if k != "missed"},
            file=sys.stderr,
        )
    Path(args.out + ".json").write_text(json.dumps(report, indent=2) + "\n")

    from facedata.plot import pyplot

    plt = pyplot()

    sizes = args.sizes
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    rates = [100 * report["sizes"][str(s)]["rate"] for s in sizes]
    ax[0].bar([str(s) for s in sizes], rates, color="#4c72b0")
    for i, r in enumerate(rates):
        ax[0].text(i, r, f"{r:.2f}%", ha="center", va="bottom", fontsize=9)
    ax[0].set_ylim(min(rates) - 1, 100.5)
    ax[0].set_xlabel("detector size (longer side, px)")
    ax[0].set_ylabel("LFW photos with a face found (%)")
    ax[0].axhline(99.5, color="grey", ls="--", lw=1)
    for s in sizes:
        e = report["sizes"][str(s)]
        ax[1].bar(str(s), e["nme_vs_mtcnn_mean"], color="#55a868")
        ax[1].text(
            str(s),
            e["nme_vs_mtcnn_mean"],
            f"{e['nme_vs_mtcnn_mean']:.3f}",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax[1].set_xlabel("detector size (longer side, px)")
    ax[1].set_ylabel("landmark distance to MTCNN (÷ eye distance)")
    fig.suptitle(f"YuNet (native) on all {len(files):,} LFW photos")
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=110)
    print(f"wrote {args.out}.json, {args.out}.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
