"""Reduced-resolution JPEG decoding against full decoding, on every LFW image taken as a crop.

    python bench/decode_lfw.py [--data ../shared/data] [--workers 1] [--out bench/decode_lfw]

Scores each image twice with the native scorer, once with reduced decoding (libjpeg's DCT
scaling to the smallest of 1/2, 1/4, 1/8 that keeps >= 64x64, the model's input) and once at
full size, and writes <out>.json (max / mean |difference|, how many images were reduced and by
how much, the worst files) and <out>.png (histogram of the differences). Progress on stderr.

To tell the decoder's part from the filter's, images reduced by 2 are also scored after a 2x2
box filter of the full decode (in numpy): reduced decoding vs that box filter isolates the
decoder, the box filter vs full decoding the effect of any low-pass before the resize.
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHUNK = 256


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "decode_lfw")
    args = p.parse_args(argv)

    from tqdm import tqdm

    from tinyfq_native import Scorer
    from tinyfq_native.images import jpeg_decoder, read_image

    if not jpeg_decoder().startswith("libjpeg"):
        print(
            f"decode_lfw: this build decodes JPEG with {jpeg_decoder()}, which has no "
            "reduced-resolution decoding",
            file=sys.stderr,
        )
        return 2
    root = args.data / "lfw" / "images"
    files = sorted(str(f) for f in root.rglob("*.jpg"))
    if not files:
        print(f"decode_lfw: no images under {root}", file=sys.stderr)
        return 2
    reduced, full = Scorer(reduced_decode=True), Scorer()
    size = reduced.input_size
    a, b, ok, scales, failed, box = [], [], [], Counter(), [], {}
    with tqdm(total=len(files), unit="img", file=sys.stderr, desc="decode_lfw") as bar:
        for i in range(0, len(files), CHUNK):
            chunk = files[i : i + CHUNK]
            qa, ma, _ = reduced.score_files_detailed(chunk, workers=args.workers)
            qb, mb, _ = full.score_files_detailed(chunk, workers=args.workers)
            for f, x, y, ea, eb in zip(chunk, qa, qb, ma, mb):
                if ea or eb:
                    failed.append({"path": f, "reduced": ea, "full": eb})
                    continue
                a.append(x), b.append(y), ok.append(f)
                # the reduction score_files took for this file (the same decode options)
                _, k = read_image(f, min_width=size, min_height=size, return_scale=True)
                scales[k] += 1
                if k == 2:
                    box[len(a) - 1] = full.score(_box2(read_image(f)), format="rgb")
            bar.update(len(chunk))
    a, b = np.array(a, np.float64), np.array(b, np.float64)
    d = a - b
    worst = np.argsort(-np.abs(d))[:5]
    result = {
        "images": len(files),
        "failed": failed,
        "jpeg_decoder": jpeg_decoder(),
        "crop_min_size": size,
        "reduced_by": {str(k): scales[k] for k in sorted(scales)},
        "max_abs_diff": float(np.abs(d).max()),
        "mean_abs_diff": float(np.abs(d).mean()),
        "p99_abs_diff": float(np.quantile(np.abs(d), 0.99)),
        "mean_diff_reduced_minus_full": float(d.mean()),
        "within_0.01": int((np.abs(d) <= 0.01).sum()),
        "box2": _box_stats(a, b, box),
        "worst": [
            {
                "path": str(Path(ok[i]).relative_to(args.data)),
                "full": round(float(b[i]), 6),
                "reduced": round(float(a[i]), 6),
            }
            for i in worst
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    _histogram(d, result, args.out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in result.items() if k not in ("worst", "failed")}, indent=2))
    return 1 if failed else 0


def _box2(img: np.ndarray) -> np.ndarray:
    """2x2 box filter (mean, rounded) of an image's even-sized top-left part."""
    h, w = img.shape[0] // 2, img.shape[1] // 2
    x = img[: 2 * h, : 2 * w].astype(np.float32).reshape(h, 2, w, 2, -1).mean(axis=(1, 3))
    return np.ascontiguousarray(x.round().astype(np.uint8).reshape(h, w, *img.shape[2:]))


def _box_stats(a: np.ndarray, b: np.ndarray, box: dict) -> dict:
    if not box:
        return {}
    i = np.array(sorted(box))
    q = np.array([box[j] for j in i])
    vs_full, vs_reduced = np.abs(q - b[i]), np.abs(a[i] - q)
    return {
        "images": len(i),
        "box_vs_full": {
            "max_abs_diff": float(vs_full.max()),
            "mean_abs_diff": float(vs_full.mean()),
        },
        "reduced_vs_box": {
            "max_abs_diff": float(vs_reduced.max()),
            "mean_abs_diff": float(vs_reduced.mean()),
        },
    }


def _histogram(d: np.ndarray, result: dict, path: Path) -> None:
    from facedata.plot import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(d, bins=100, color="#4477aa")
    ax.set_yscale("log")
    ax.axvline(-0.01, color="#cc3311", lw=1, ls="--", label="±0.01")
    ax.axvline(0.01, color="#cc3311", lw=1, ls="--")
    ax.set_xlabel("score with reduced decoding − score with full decoding")
    ax.set_ylabel("images (log)")
    ax.set_title(
        f"LFW, {len(d):,} images as crops ({result['jpeg_decoder']}): "
        f"max |Δ| {result['max_abs_diff']:.4f}, mean {result['mean_abs_diff']:.4f}, "
        f"{result['within_0.01'] / len(d):.0%} within ±0.01",
        fontsize=9,
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
