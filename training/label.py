"""Step 1: recognition-oriented quality labels (paper Eq. 1, Algorithm 1).

For every photo: detect the largest face and its five landmarks with the native YuNet detector
the runtime uses, and embed with the labelling model (training/labeller.py, an ArcFace-type
MobileFaceNet on the 112×112 crop cut by the runtime's own warp) the photo and its copies:

- ``copies`` degraded copies (blur, motion blur, noise, JPEG, down-up-scaling, occlusion,
  exposure), copy k at a severity drawn from the k-th equal stratum of [0, 1], so the copies
  cover the whole range from barely visible to harsh;
- ``jitter`` copies with the landmarks moved as a real detector errs (rotation ±12°, scale
  ±12%, shift ±0.12 of the eye distance), so the label says what misalignment costs;
- for a fraction ``nonface`` of the photos one frame that is not a usable face: a crop grossly
  off the face, or the whole image black, one flat colour, or noise (the empty frames that best-
  frame selection must never pick).

Every copy is labelled by the recognition model like any image, never by its parameters.
Quality = cosine(embedding, centre of its identity), where the centre is the normalised mean
embedding of the identity's *original* photos with the photo's own original left out. Held-out
photos get the original and the degraded copies only (evaluation compares with them).

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

from facedata.extra import SOURCES
from facedata.jsonl import read_jsonl
from facedata.splits import Item, collect
from training.config import LabelConfig, config_command, parse_config, to_dict

_worker = {}


def _init_worker(min_face_size: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    from tinyfq_native import Detector
    from training.labeller import Labeller

    _worker["det"] = Detector(min_face=min_face_size)
    _worker["net"] = Labeller(threads=1)


def copy_plan(relpath: str, split: str, cfg: LabelConfig) -> list[tuple[str, str, str]]:
    """The copies of a photo as (variant, image degradation spec, landmark jitter spec), copy 0
    first: a pure function of the path, the split and the config."""
    from facedata.degrade import fill_spec, graded_spec, jitter_spec

    key = zlib.crc32(relpath.encode())
    rng = np.random.default_rng([cfg.seed, key])
    plan = [("original", "", "")]
    for k in range(cfg.copies):
        severity = (k + rng.uniform()) / cfg.copies
        plan.append(("degraded", graded_spec(rng, severity), ""))
    if split != "train":
        return plan
    plan += [("jitter", "", jitter_spec(rng)) for _ in range(cfg.jitter)]
    if rng.uniform() < cfg.nonface:
        mode = int(rng.integers(4))
        plan.append(
            ("misaligned", "", jitter_spec(rng, misalign=True))
            if mode == 3
            else ("blank", fill_spec(rng, mode), "")
        )
    return plan


def _process(args: tuple[str, str, LabelConfig]) -> list[dict]:
    import cv2

    from facedata.degrade import apply, apply_jitter
    from facedata.extra import resolve

    relpath, split, cfg = args
    img = cv2.imread(str(resolve(relpath, cfg.data, cfg.extra)), cv2.IMREAD_COLOR)
    if img is None:
        return [{"relpath": relpath, "copy": 0, "status": "unreadable"}]
    face = _worker["det"].largest(img)
    if face is None:
        return [{"relpath": relpath, "copy": 0, "status": "no_face"}]
    base = {
        "relpath": relpath,
        "status": "ok",
        "box": [round(v, 2) for v in face.box],
        "det_score": round(face.confidence, 4),
    }
    rows, crops = [], []
    for c, (variant, spec, geometry) in enumerate(copy_plan(relpath, split, cfg)):
        lm = apply_jitter(face.landmarks, geometry) if geometry else face.landmarks
        im = apply(img, spec, face.box) if spec else img
        crops.append(_worker["net"].crop(im, lm))
        rows.append(
            dict(
                base,
                copy=c,
                variant=variant,
                degradation=spec,
                geometry=geometry,
                landmarks=[round(float(v), 2) for v in np.asarray(lm).reshape(-1)],
            )
        )
    for r, e in zip(rows, _worker["net"].embed(np.stack(crops))):
        r["emb"] = base64.b64encode(e.tobytes()).decode()
    return rows


class LabelBatch:
    """Ray Data callable class: one detector and one labelling model per actor (loaded once),
    a batch of (relpath, split) in, the cache's JSON lines out (``--ray``)."""

    def __init__(self, cfg: dict):
        self.cfg = LabelConfig(**cfg)
        _init_worker(self.cfg.min_face_size)

    def __call__(self, batch: dict) -> dict:
        lines = []
        for rel, split in zip(batch["relpath"], batch["split"]):
            rows = _process((str(rel), str(split), self.cfg))
            lines.append("".join(json.dumps(r) + "\n" for r in rows))
        return {"lines": np.array(lines, dtype=object)}


def _embed_on_ray(cfg: LabelConfig, todo: list[tuple], out) -> None:
    """The same work as the process pool, on Ray Data actors; rows reach the cache in order."""
    import os

    import ray

    from training.config import REPO

    if not ray.is_initialized():
        # workers import this repository's packages: on one machine (or a shared file system)
        # its path is enough
        env = {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        ray.init(
            address=None if cfg.ray == "local" else cfg.ray,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env},
            num_cpus=cfg.workers if cfg.ray == "local" else None,
        )
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ds = ray.data.from_items(
        [{"relpath": t[0], "split": t[1]} for t in todo],
        override_num_blocks=max(1, len(todo) // 64),
    )
    ds = ds.map_batches(
        LabelBatch,
        fn_constructor_kwargs={"cfg": to_dict(cfg)},
        batch_size=16,
        concurrency=cfg.workers,
    )
    from tqdm import tqdm

    with tqdm(total=len(todo), desc="detect+embed (ray)", unit="img", file=sys.stderr) as bar:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for text in batch["lines"]:
                out.write(text)
            out.flush()
            bar.update(len(batch["lines"]))


def embed_all(cfg: LabelConfig, items: list[Item]) -> Path:
    """Fill the embedding cache for ``items`` (skipping those already there)."""
    from multiprocessing import get_context

    from tqdm import tqdm

    cache = Path(cfg.cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    for r in read_jsonl(cache):
        if r["copy"] == 0:
            done.add(r["relpath"])
    todo = [(it.relpath, it.split, cfg) for it in items if it.relpath not in done]
    if not todo:
        return cache
    with (
        cache.open("a") as f,
        get_context("spawn").Pool(cfg.workers, _init_worker, (cfg.min_face_size,)) as pool,
    ):
        for rows in tqdm(
            pool.imap(_process, todo, chunksize=4),
            total=len(todo),
            desc="detect+embed",
            unit="img",
            file=sys.stderr,
        ):
            for r in rows:
                f.write(json.dumps(r) + "\n")
            f.flush()
    return cache


def load_cache(cache: Path, items: list[Item]) -> tuple[list[dict], np.ndarray]:
    """Records (one per original or copy, in ``items`` order) and their embeddings."""
    wanted = {it.relpath: it for it in items}
    recs: dict[tuple[str, int], dict] = {}
    for r in read_jsonl(cache):
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
                embs.append(np.full(embs[-1].shape if embs else 128, np.nan, np.float32))
            c += 1
    return rows, np.stack(embs) if embs else np.zeros((0, 128), np.float32)


def load_centres(path: str | Path) -> dict[str, np.ndarray]:
    """Classifier weight rows as identity centres (Algorithm 1's W): an .npz holding
    ``identities`` (N names, as in the labels' identity column) and ``weights`` (N × D)."""
    with np.load(path, allow_pickle=False) as z:
        names, w = [str(n) for n in z["identities"]], np.asarray(z["weights"], np.float32)
    if w.ndim != 2 or len(names) != len(w):
        raise ValueError(
            f"{path}: expected identities (N,) and weights (N, D), got "
            f"{len(names)} names and weights of shape {w.shape}"
        )
    return dict(zip(names, w))


def quality_labels(
    rows: list[dict], embs: np.ndarray, centres: dict[str, np.ndarray] | None = None
) -> np.ndarray:
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
    cols = [
        "relpath",
        "copy",
        "identity",
        "split",
        "variant",
        "degradation",
        "geometry",
        "label",
        "det_score",
        "box",
        "landmarks",
    ]
    n_ok = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r, lab in zip(rows, q):
            if r["status"] != "ok" or not np.isfinite(lab):
                continue
            n_ok += 1
            w.writerow(
                [
                    r["relpath"],
                    r["copy"],
                    r["identity"],
                    r["split"],
                    r["variant"],
                    r["degradation"],
                    r["geometry"],
                    f"{lab:.5f}",
                    r["det_score"],
                    " ".join(map(str, r["box"])),
                    " ".join(map(str, r["landmarks"])),
                ]
            )
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    from training.labeller import NAME

    variants: dict[str, int] = {}
    for r, lab in zip(rows, q):
        if r["status"] == "ok" and np.isfinite(lab):
            variants[r["variant"]] = variants.get(r["variant"], 0) + 1
    prov = {
        "what": "tinyFQnet quality labels: cosine(label-model embedding, "
        + ("classifier weight row)" if cfg.centres else "leave-one-out identity centre)"),
        "label_model": NAME,
        "detector": "native YuNet (tinyfq_native.Detector), largest face",
        "sources": {
            "../shared/data": "LFW, CelebA subset",
            "extra (python -m facedata.extra)": {
                k: f"{v['repo']} at commit {v['commit']}, folders {v['folders']}"
                for k, v in SOURCES.items()
            },
        },
        "config": to_dict(cfg)
        | {"data": "../shared/data", "extra": "$TINYFQ_EXTRA", "out": None, "cache": None},
        "variants": variants,
        "command": config_command("training.label", cfg),
        "records": len(rows),
        "labelled": n_ok,
        "status_counts": statuses,
        "identities": len({r["identity"] for r in rows}),
        "splits": {
            s: sum(1 for r, lab in zip(rows, q) if r["split"] == s and np.isfinite(lab))
            for s in ("train", "heldout")
        },
        "label_mean": float(np.nanmean(q)) if n_ok else None,
        "seconds": round(seconds, 1),
    }
    (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return path


def run(cfg: LabelConfig) -> Path:
    t0 = time.time()
    items = collect(
        Path(cfg.data),
        cfg.min_images,
        cfg.max_train_per_id,
        cfg.max_heldout_per_id,
        cfg.max_identities,
        Path(cfg.extra),
        cfg.extra_train_per_id,
        cfg.extra_heldout_per_id,
    )
    print(f"{len(items)} images, {len({i.identity for i in items})} identities", file=sys.stderr)
    cache = embed_all(cfg, items)
    rows, embs = load_cache(cache, items)
    q = quality_labels(rows, embs, load_centres(cfg.centres) if cfg.centres else None)
    return write_labels(cfg, rows, q, time.time() - t0)


if __name__ == "__main__":
    print(run(parse_config(LabelConfig)))
