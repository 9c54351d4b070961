"""What a score means for recognition: the expected false non-match rate (FNMR) of a face with a
given tinyFQnet score, at a chosen false match rate (FMR), for two reference recognisers,
measured on held-out people only. The table goes into the model's sidecar (its "calibration"
key: versioned with the model, read by Scorer.expected_fnmr and ``tinyfq info``), a figure into
docs/eval/calibration.png.

    python -m evaluation.calibrate            # pip install ".[eval]"; ~15 min on one core

Protocol
- Faces: every LFW photo of the people in View-2 folds 6-10 (held out from training, see
  facedata/splits.py; at most 20 per person, people with at least two), the largest face the
  runtime's detector finds (faces of at least 40 px), as ``tinyfq score --detect`` scores it.
- Recognisers: dlib's ResNet (evaluation/verifier.py: mean-centred cosine) and the ArcFace-type
  MobileFaceNet that training/labeller.py runs (mobilefacenet_paddle.onnx on the 112×112 crop
  the runtime's warp cuts, BGR, (x − 127.5) / 127.5; cosine). That model also made the training
  labels, so its table is the optimistic one; dlib made none of them.
- Pairs: every same-person pair is genuine; every pair of different people an impostor. The
  threshold at an FMR is the impostor scores' (1 − FMR) quantile; a genuine pair is a false
  non-match when its similarity is at or below it.
- Bins: genuine pairs by the lower of the two faces' scores (a pair is as recognisable as its
  worse face), in bins of equal count. Each bin's FNMR has a 95% Wilson interval (pairs taken
  as independent) and a 95% bootstrap interval over people (1,000 resamples of the held-out
  people; the honest one, as a person's pairs are not independent).
- The API interpolates a monotone version of each column (pool-adjacent-violators: FNMR never
  rises with the score) linearly between the bins' median pair scores, constant beyond the first
  and last; the unified 0-100 quality is 100 × (1 − that FNMR) for dlib at FMR 1e-3
  (`--unified arcface` for the other).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ARCFACE_MODEL = REPO.parent / "shared" / "models" / "fr" / "mobilefacenet_paddle.onnx"
ARCFACE_SHA256 = "6ced4e0c36abba9dd24b48d725f7dbb94089f75b3d3445d3d67b85157cb64743"
ARCFACE_NAME = (
    "MobileFaceNet ArcFace 128-d (mobilefacenet_paddle.onnx, sha256 6ced4e0c…), 112×112 "
    "ArcFace crop by tinyfq_native.align, BGR, (x − 127.5) / 127.5, cosine"
)
FMRS = (1e-2, 1e-3, 1e-4)
FORMAT = "tinyfq-calibration/1"


@dataclass
class Config:
    data: str = str(REPO.parent / "shared" / "data")
    cache: str = os.path.join(os.path.expanduser("~"), ".cache", "tinyfq-native", "eval")
    sidecar: str = str(REPO / "cpp" / "models" / "default.json")
    figure: str = str(REPO / "docs" / "eval" / "calibration.png")
    markdown: str = str(REPO / "docs" / "eval" / "calibration.md")
    unified: str = "dlib"  # the unified 0-100 quality's recogniser (FMR 1e-3; docs/actionable.md)
    bins: int = 8
    bootstrap: int = 1000
    workers: int = 1
    max_identities: int | None = None  # small values make quick runs (tests)
    seed: int = 0


# --- statistics ------------------------------------------------------------------------------


def wilson(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of k successes in n trials (elementwise)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    p = np.divide(k, n, out=np.zeros_like(k), where=n > 0)
    d = 1 + z * z / np.maximum(n, 1)
    centre = (p + z * z / (2 * np.maximum(n, 1))) / d
    half = z * np.sqrt(p * (1 - p) / np.maximum(n, 1) + z * z / (4 * np.maximum(n, 1) ** 2)) / d
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def decreasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-increasing fit of y (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for v, wt in zip(np.asarray(y, float), np.asarray(w, float)):
        blocks.append([v, wt, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([[v] * int(c) for v, _, c in blocks])


def threshold_at(impostors: np.ndarray, fmr: float) -> float:
    """The similarity above which at most ``fmr`` of impostor pairs are accepted."""
    return float(np.quantile(impostors, 1.0 - fmr, method="higher"))


def equal_count_edges(q: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges that split q into ``bins`` groups of (nearly) equal count."""
    edges = np.quantile(q, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = 0.0, 1.0
    return edges


def table(
    pair_q: np.ndarray,
    similarity: np.ndarray,
    person: np.ndarray,
    thresholds: list[float],
    edges: np.ndarray,
    bootstrap: int,
    seed: int,
) -> dict:
    """Per FMR (threshold) and bin: pairs, misses, FNMR, Wilson and bootstrap intervals and the
    monotone FNMR. ``person``: each genuine pair's person index (for the bootstrap)."""
    nb = len(edges) - 1
    b = np.clip(np.searchsorted(edges, pair_q, side="right") - 1, 0, nb - 1)
    people = int(person.max()) + 1
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(people, np.full(people, 1 / people), size=bootstrap).astype(float)
    n = np.bincount(b, minlength=nb)
    out: dict = {"fnmr": [], "wilson": [], "bootstrap": [], "monotone": [], "misses": []}
    for thr in thresholds:
        miss = similarity <= thr
        k = np.bincount(b, weights=miss, minlength=nb)
        lo, hi = wilson(k, n)
        # per person and bin: pairs and misses, resampled by people
        idx = person * nb + b
        pn = np.bincount(idx, minlength=people * nb).reshape(people, nb)
        pk = np.bincount(idx, weights=miss, minlength=people * nb).reshape(people, nb)
        bn, bk = weights @ pn, weights @ pk
        boot = np.divide(bk, bn, out=np.full_like(bk, np.nan), where=bn > 0)
        fnmr = k / np.maximum(n, 1)
        out["fnmr"].append(fnmr)
        out["misses"].append(k.astype(int))
        out["wilson"].append(np.stack([lo, hi], 1))
        out["bootstrap"].append(np.nanpercentile(boot, [2.5, 97.5], axis=0).T)
        out["monotone"].append(decreasing(fnmr, n))
    out["pairs"] = n
    out["bin"] = b
    return out


# --- data ------------------------------------------------------------------------------------


def heldout_photos(cfg: Config) -> list[tuple[str, str]]:
    """(person, path relative to the LFW folder) of every held-out LFW photo used."""
    from facedata.splits import collect

    items = collect(Path(cfg.data))
    out, people = [], []
    for it in items:
        if it.split != "heldout" or not it.relpath.startswith("lfw/"):
            continue
        if it.identity not in people:
            people.append(it.identity)
        if cfg.max_identities is None or people.index(it.identity) < cfg.max_identities:
            out.append((it.identity, it.relpath[len("lfw/") :]))
    return out


class ArcFace:
    """mobilefacenet_paddle.onnx as training/labeller.py runs it (evaluation does not import
    training): the runtime's 112×112 warp, BGR, (x − 127.5) / 127.5, L2-normalised 128-d."""

    def __init__(self, path: Path = ARCFACE_MODEL, threads: int = 1):
        import onnxruntime as ort

        h = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if h != ARCFACE_SHA256:
            raise ValueError(f"{path}: not mobilefacenet_paddle.onnx (sha256 {ARCFACE_SHA256})")
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        self._sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name

    def embed(self, crops: np.ndarray) -> np.ndarray:
        f = self._sess.run(None, {self._input: np.ascontiguousarray(crops, np.float32)})[0]
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def faces_and_scores(cfg: Config, photos: list[tuple[str, str]]) -> dict:
    """dlib embeddings (cached; their detection), ArcFace embeddings (cached) and tinyFQnet
    scores (computed) of every photo whose face was found."""
    import cv2

    from evaluation.verifier import EmbeddingCache
    from tinyfq_native import Scorer
    from tinyfq_native.align import align

    lfw = str(Path(cfg.data) / "lfw")
    cache = EmbeddingCache(Path(cfg.cache) / "dlib-embeddings.jsonl")
    cache.fill(lfw, [(rel, "") for _, rel in photos], cfg.workers)
    kept = [(p, rel) for p, rel in photos if cache.emb(rel, "") is not None]
    arc_path = Path(cfg.cache) / f"arcface-embeddings-{ARCFACE_SHA256[:8]}.npz"
    arc: dict[str, np.ndarray] = {}
    if arc_path.exists():
        with np.load(arc_path) as z:
            arc = dict(zip(z["keys"].tolist(), z["emb"]))
    scorer, model = Scorer(), None
    scores: list[float] = []
    todo = [rel for _, rel in kept if rel not in arc]
    if todo:
        model = ArcFace(threads=cfg.workers)
    crops: list[np.ndarray] = []
    names: list[str] = []

    def flush() -> None:
        if names:
            for name, e in zip(names, model.embed(np.stack(crops))):
                arc[name] = e
            crops.clear(), names.clear()

    t0 = time.time()
    for i, (_, rel) in enumerate(kept):
        img = cv2.imread(os.path.join(lfw, rel), cv2.IMREAD_COLOR)
        lm = np.asarray(cache.face(rel)["landmarks"], np.float32).reshape(5, 2)
        scores.append(float(scorer.score(img, lm)))
        if rel not in arc:
            crops.append(align(img, lm, size=112, mean=127.5, std=127.5, colour_order="bgr"))
            names.append(rel)
            if len(names) == 64:
                flush()
        if i % 500 == 0:
            print(f"calibrate: {i}/{len(kept)} faces ({time.time() - t0:.0f} s)", file=sys.stderr)
    flush()
    if todo:
        arc_path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(arc)
        np.savez(arc_path, keys=np.array(keys), emb=np.stack([arc[k] for k in keys]))
    dlib = np.stack([cache.emb(rel, "") for _, rel in kept])
    return {
        "people": [p for p, _ in kept],
        "paths": [rel for _, rel in kept],
        "scores": np.array(scores),
        "dlib": dlib - dlib.mean(0),  # dlib's embeddings are not centred: subtract their mean
        "arcface": np.stack([arc[rel] for _, rel in kept]),
        "photos": len(photos),
        "model_version": scorer.info.get("version"),
    }


def similarities(emb: np.ndarray) -> np.ndarray:
    e = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return (e @ e.T).astype(np.float32)


# --- the run ---------------------------------------------------------------------------------


def calibrate(cfg: Config) -> dict:
    from evaluation.verifier import NAME as DLIB_NAME

    t0 = time.time()
    photos = heldout_photos(cfg)
    f = faces_and_scores(cfg, photos)
    names = sorted(set(f["people"]))
    person = np.array([names.index(p) for p in f["people"]])
    q = f["scores"]
    iu, ju = np.triu_indices(len(q), 1)
    same = person[iu] == person[ju]
    gi, gj = iu[same], ju[same]
    pair_q = np.minimum(q[gi], q[gj])
    edges = equal_count_edges(pair_q, cfg.bins)
    nb = cfg.bins
    b = np.clip(np.searchsorted(edges, pair_q, side="right") - 1, 0, nb - 1)
    centre = np.array([float(np.median(pair_q[b == i])) for i in range(nb)])
    recognisers: dict = {}
    columns: dict = {}
    for key, name in (("arcface", ARCFACE_NAME), ("dlib", DLIB_NAME)):
        sim = similarities(f[key])
        impostors = sim[iu[~same], ju[~same]]
        genuine = sim[gi, gj]
        thresholds = [threshold_at(impostors, fmr) for fmr in FMRS]
        t = table(pair_q, genuine, person[gi], thresholds, edges, cfg.bootstrap, cfg.seed)
        recognisers[key] = {
            "name": name,
            "thresholds": [round(x, 5) for x in thresholds],
            "fnmr": [round(float((genuine <= x).mean()), 5) for x in thresholds],
        }
        columns[key] = {
            "fnmr": [[round(float(v), 5) for v in row] for row in t["fnmr"]],
            "misses": [[int(v) for v in row] for row in t["misses"]],
            "wilson": [[[round(float(v), 5) for v in ci] for ci in row] for row in t["wilson"]],
            "bootstrap": [
                [[round(float(v), 5) for v in ci] for ci in row] for row in t["bootstrap"]
            ],
            "monotone": [[round(float(v), 5) for v in row] for row in t["monotone"]],
        }
    return {
        "format": FORMAT,
        "model_version": f["model_version"],
        "command": "python -m evaluation.calibrate",
        "data": {
            "set": "LFW, people of View-2 folds 6-10 (held out from training; facedata/splits.py)",
            "photos": f["photos"],
            "faces": len(q),
            "people": len(names),
            "genuine_pairs": int(same.sum()),
            "impostor_pairs": int((~same).sum()),
            "detector": "the runtime's (YuNet, largest face, min 40 px), as --detect scores",
        },
        "pair_score": "the lower of the two faces' scores",
        "interval": "95%; wilson: Wilson score interval (pairs as independent); bootstrap: "
        f"{cfg.bootstrap} resamples of the people",
        "fmr": list(FMRS),
        "unified": {
            "recogniser": cfg.unified,
            "fmr": 1e-3,
            "definition": f"100 x (1 - expected_fnmr(score, fmr=1e-3, recogniser='{cfg.unified}'))",
        },
        "recognisers": recognisers,
        "bins": {
            "lo": [round(float(v), 5) for v in edges[:-1]],
            "hi": [round(float(v), 5) for v in edges[1:]],
            "score": [round(float(v), 5) for v in centre],
            "pairs": [int(v) for v in np.bincount(b, minlength=nb)],
            **columns,
        },
        "seconds": round(time.time() - t0, 1),
    }


def markdown(cal: dict) -> str:
    """The table as the docs show it: per bin its score range, pairs and FNMR (bootstrap 95%
    interval) per recogniser and FMR."""
    bins = cal["bins"]
    head = ["pair score", "pairs"] + [
        f"{k} @ {fmr:g}" for k in cal["recognisers"] for fmr in cal["fmr"]
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i in range(len(bins["lo"])):
        cells = [f"{bins['lo'][i]:.3f}–{bins['hi'][i]:.3f}", str(bins["pairs"][i])]
        for k in cal["recognisers"]:
            for j in range(len(cal["fmr"])):
                v, (lo, hi) = bins[k]["fnmr"][j][i], bins[k]["bootstrap"][j][i]
                cells.append(f"{100 * v:.1f}% ({100 * lo:.1f}–{100 * hi:.1f})")
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["all", str(cal["data"]["genuine_pairs"])]
    for r in cal["recognisers"].values():
        cells += [f"{100 * v:.1f}%" for v in r["fnmr"]]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(cal: dict, path: str) -> None:
    from facedata.plot import pyplot

    plt = pyplot()
    bins = cal["bins"]
    x = np.array(bins["score"])
    fig, axes = plt.subplots(1, len(cal["recognisers"]), figsize=(11, 4.2), sharey=True)
    for ax, (key, rec) in zip(np.atleast_1d(axes), cal["recognisers"].items()):
        for j, fmr in enumerate(cal["fmr"]):
            y = np.array(bins[key]["fnmr"][j])
            ci = np.array(bins[key]["bootstrap"][j])
            err = np.stack([np.maximum(y - ci[:, 0], 0), np.maximum(ci[:, 1] - y, 0)])
            (line,) = ax.plot(x, bins[key]["monotone"][j], "-", lw=1.5, label=f"FMR {fmr:g}")
            ax.errorbar(x, y, yerr=err, fmt="o", ms=4, color=line.get_color(), capsize=2)
        ax.set_title(f"{key}: {rec['name'].split(' (')[0]}", fontsize=10)
        ax.set_xlabel("tinyFQnet score of the pair's worse face (bin median)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    np.atleast_1d(axes)[0].set_ylabel("FNMR (95% bootstrap interval over people)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    d = cal["data"]
    fig.suptitle(
        f"Expected FNMR by score, model {cal['model_version']}: {d['faces']} faces of "
        f"{d['people']} held-out LFW people, {d['genuine_pairs']} genuine pairs",
        fontsize=10,
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_sidecar(path: str, cal: dict) -> None:
    """Put ``cal`` under the sidecar's "calibration" key, written as the exporter writes it
    (json.dumps, indent 2, ASCII escapes)."""
    p = Path(path)
    meta = json.loads(p.read_text())
    if meta.get("version") != cal["model_version"]:
        raise ValueError(
            f"{path} is model {meta.get('version')}, the calibration model {cal['model_version']}"
        )
    meta["calibration"] = cal
    p.write_text(json.dumps(meta, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    d = Config()
    a = argparse.ArgumentParser(
        prog="python -m evaluation.calibrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--data", default=d.data, help="folder with lfw/ (default: ../shared/data)")
    a.add_argument("--cache", default=d.cache, help="embedding cache folder")
    a.add_argument(
        "--sidecar",
        nargs="*",
        default=[d.sidecar, str(REPO / "cpp" / "models" / "plain.json")],
        help="model sidecars to write the table into (default: the default model's two graphs)",
    )
    a.add_argument("--figure", default=d.figure)
    a.add_argument("--markdown", default=d.markdown, help="the table for the docs")
    a.add_argument("--unified", choices=("arcface", "dlib"), default=d.unified)
    a.add_argument("--bins", type=int, default=d.bins)
    a.add_argument("--bootstrap", type=int, default=d.bootstrap)
    a.add_argument("--workers", type=int, default=d.workers)
    a.add_argument("--max-identities", type=int, default=None)
    args = a.parse_args(argv)
    cfg = Config(
        data=args.data,
        cache=args.cache,
        figure=args.figure,
        markdown=args.markdown,
        unified=args.unified,
        bins=args.bins,
        bootstrap=args.bootstrap,
        workers=args.workers,
        max_identities=args.max_identities,
    )
    cal = calibrate(cfg)
    for s in args.sidecar:
        write_sidecar(s, cal)
    if cfg.figure:
        figure(cal, cfg.figure)
    table_md = markdown(cal)
    if cfg.markdown:
        Path(cfg.markdown).write_text(table_md)
    print(table_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
