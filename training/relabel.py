"""Step 1b: relabel with a stronger recogniser and the second-order degradation model.

Takes the photos, identities and five landmarks of an earlier ``labels.csv`` (no detection is
repeated; photos whose file is not on this machine are skipped) and gives each training photo:

- the original (its ArcFace crop, the identity centres' input);
- ``copies`` second-order chain copies (facedata.chains.chain_spec: one or two steps, each at
  photo scale before the warp or at crop scale after it, JPEG q 3–30, tone curves, colour casts,
  resampling filters, motion and defocus blur, noise, occlusion), copy k at a severity from the
  k-th equal stratum of [0, 1];
- for a share ``jitter`` of photos a landmark-jittered copy (as a detector errs), and for a share
  ``nonface`` a non-face frame (black, flat colour, noise, or the crop grossly off the face).

``--sources nuaa,casia5,...`` adds the identity-labelled sets of facedata.extra_sources
(training.relabel_sources): a fixed quarter of each one's people held out by a hash of the name,
the first ``max_per_id`` photos of each, the largest face found by the native detector in the
worker (a photo without one is cached as ``no_face`` and not retried).

Every copy is embedded by the labelling model (``--labeller w600k``, the WebFace600K
MobileFaceNet, or ``mbf``) on its 112×112 crop and labelled by Eq. 1 like any image (cosine to
the leave-one-out centre of the identity's originals), never by its parameters. Embeddings go
to a resumable JSON-lines cache; labels.csv and provenance.json to ``out``.

    python -m training.relabel --labeller w600k --out training/labels/v2
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

from facedata.jsonl import read_jsonl
from training.config import RelabelConfig, config_command, parse_config, to_dict

_worker: dict = {}


def copy_plan(relpath: str, cfg: RelabelConfig) -> list[tuple[str, str, str]]:
    """(variant, degradation spec, landmark jitter spec) of each copy, copy 0 first; a pure
    function of the path and the config."""
    from facedata.chains import chain_spec, step_spec
    from facedata.degrade import fill_spec, jitter_spec

    rng = np.random.default_rng([cfg.seed, zlib.crc32(relpath.encode())])
    plan = [("original", "", "")]
    for k in range(cfg.copies):
        plan.append(("chain", chain_spec(rng, severity=(k + rng.uniform()) / cfg.copies), ""))
    if rng.uniform() < cfg.jitter:
        plan.append(("jitter", "", jitter_spec(rng)))
    if rng.uniform() < cfg.nonface:
        mode = int(rng.integers(4))
        plan.append(
            ("misaligned", "", jitter_spec(rng, misalign=True))
            if mode == 3
            else ("blank", "photo/" + fill_spec(rng, mode), "")
        )
    # focus copies come last, from their own generator: adding them leaves the others as they were
    frng = np.random.default_rng([cfg.seed, zlib.crc32(relpath.encode()), 1])
    for kind in filter(None, cfg.focus.split(",")):
        plan.append(("focus", "crop/" + step_spec(frng, kind), ""))
    return plan


def _init(labeller: str) -> None:
    import cv2

    cv2.setNumThreads(1)
    from training.labeller import make_labeller

    _worker["net"] = make_labeller(labeller, threads=1)


def _process(job: tuple[dict, RelabelConfig, int]) -> list[dict]:
    import cv2

    from facedata.chains import degraded_crop
    from facedata.degrade import apply_jitter
    from facedata.extra import resolve
    from training.relabel_sources import detect, make_detector
    from training.sample import box_of, landmarks_of

    row, cfg, start = job  # copies before ``start`` are in the cache already
    img = cv2.imread(str(resolve(row["relpath"], cfg.data, cfg.extra)), cv2.IMREAD_COLOR)
    if img is None:
        return [{"relpath": row["relpath"], "copy": 0, "status": "unreadable"}]
    found = {}  # a --sources photo: the detector's box and score go with every copy
    if row.get("landmarks"):
        lm0, box = landmarks_of(row), box_of(row)
    else:
        if "det" not in _worker:
            _worker["det"] = make_detector()
        face = detect(_worker["det"], img)
        if face is None:
            return [{"relpath": row["relpath"], "copy": 0, "status": "no_face"}]
        lm0, box, score = face
        found = {"box": " ".join(str(round(float(v), 2)) for v in box)}
        found["det_score"] = str(round(float(score), 4))
    out, crops = [], []
    for c, (variant, spec, geometry) in enumerate(copy_plan(row["relpath"], cfg)):
        if c < start:
            continue
        lm = apply_jitter(lm0, geometry) if geometry else lm0
        crops.append(_worker["net"].from_crop(degraded_crop(img, lm, spec, 112, box)))
        out.append(
            {
                "relpath": row["relpath"],
                "copy": c,
                "status": "ok",
                "variant": variant,
                "degradation": spec,
                "geometry": geometry,
                "landmarks": [round(float(v), 2) for v in lm.reshape(-1)],
            }
            | found
        )
    for r, e in zip(out, _worker["net"].embed(np.stack(crops))):
        r["emb"] = base64.b64encode(e.astype(np.float16).tobytes()).decode()
    return out


def photos(cfg: RelabelConfig) -> list[dict]:
    """The earlier labels' originals in the wanted splits, at most ``max_per_id`` a person
    (first in file order), whose files are here; identities with >= 2 such photos. Then those
    of ``sources`` (training.relabel_sources.source_photos), which have no landmarks yet."""
    from facedata.extra import resolve
    from training.relabel_sources import source_photos

    keep = set(cfg.splits.split(","))
    by_id: dict[str, list[dict]] = {}
    with open(cfg.labels, newline="") as f:
        for r in csv.DictReader(f):
            if r["copy"] != "0" or r["split"] not in keep:
                continue
            lst = by_id.setdefault(r["identity"], [])
            if len(lst) < cfg.max_per_id and resolve(r["relpath"], cfg.data, cfg.extra).exists():
                lst.append(r)
    earlier = [r for lst in by_id.values() if len(lst) >= 2 for r in lst]
    return earlier + source_photos(cfg.sources, cfg.extra, cfg.splits, cfg.max_per_id)


def embed_all(cfg: RelabelConfig, todo_rows: list[dict]) -> Path:
    from multiprocessing import get_context

    from tqdm import tqdm

    cache = Path(cfg.cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    have: dict[str, int] = {}  # copies cached per photo (they are written in order)
    failed = set()  # no face or unreadable: done, not retried
    for r in read_jsonl(cache):
        have[r["relpath"]] = max(have.get(r["relpath"], 0), r["copy"] + 1)
        if r["status"] != "ok":
            failed.add(r["relpath"])
    todo = [
        (r, cfg, have.get(r["relpath"], 0))
        for r in todo_rows
        if r["relpath"] not in failed
        and have.get(r["relpath"], 0) < len(copy_plan(r["relpath"], cfg))
    ]
    if not todo:
        return cache
    with cache.open("a") as f, get_context("spawn").Pool(cfg.workers, _init, (cfg.labeller,)) as p:
        for rows in tqdm(
            p.imap(_process, todo, chunksize=4),
            total=len(todo),
            desc=f"relabel ({cfg.labeller})",
            unit="photo",
            file=sys.stderr,
            mininterval=30,
        ):
            f.write("".join(json.dumps(r) + "\n" for r in rows))
            f.flush()
    return cache


def run(cfg: RelabelConfig) -> Path:
    from training.config import LabelConfig
    from training.label import quality_labels
    from training.labeller import NAME, W600K_NAME
    from training.relabel_sources import DETECTOR, source_counts

    t0 = time.time()
    src = photos(cfg)
    print(f"{len(src)} photos, {len({r['identity'] for r in src})} identities", file=sys.stderr)
    if cfg.cached_only:  # photos started already (e.g. new focus copies for them only)
        started = {r["relpath"] for r in read_jsonl(Path(cfg.cache)) if r["copy"] == 0}
        src = [s for s in src if s["relpath"] in started]
    cache = embed_all(cfg, src) if cfg.embed else Path(cfg.cache)
    recs = {(r["relpath"], r["copy"]): r for r in read_jsonl(cache)}
    if not cfg.embed:  # only the photos the cache holds, identities with >= 2 of them
        src = [s for s in src if (s["relpath"], 0) in recs]

        n: dict[str, int] = {}
        for s in src:
            n[s["identity"]] = n.get(s["identity"], 0) + 1
        src = [s for s in src if n[s["identity"]] >= 2]
    rows, embs = [], []
    for s in src:
        c = 0
        while (s["relpath"], c) in recs:
            r = recs[(s["relpath"], c)]
            if r["status"] == "ok":
                r.update(identity=s["identity"], split=s["split"])
                if s["box"]:  # else the detector's, in the record
                    r.update(det_score=s["det_score"], box=s["box"])
                rows.append(r)
                embs.append(np.frombuffer(base64.b64decode(r["emb"]), np.float16))
            c += 1
    E = np.stack(embs).astype(np.float32)
    E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    q = quality_labels(rows, E)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["relpath", "copy", "identity", "split", "variant", "degradation", "geometry"]
    cols += ["label", "det_score", "box", "landmarks"]
    variants: dict[str, int] = {}
    means: dict[str, list[float]] = {}
    written: list[tuple[dict, float]] = []
    with (out / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r, lab in zip(rows, q):
            if not np.isfinite(lab):
                continue
            variants[r["variant"]] = variants.get(r["variant"], 0) + 1
            means.setdefault(r["variant"], []).append(float(lab))
            written.append((r, float(lab)))
            w.writerow(
                [r[k] for k in cols[:7]]
                + [f"{lab:.5f}", r["det_score"], r["box"], " ".join(map(str, r["landmarks"]))]
            )
    name = W600K_NAME if cfg.labeller == "w600k" else NAME
    prov = {
        "what": "tinyFQnet quality labels: cosine(label-model embedding, leave-one-out identity "
        "centre), second-order degradation copies",
        "label_model": name,
        "landmarks": "the earlier labels' (native YuNet detector, training/labels/labels.csv)",
        "config": to_dict(cfg)
        | {"labels": "training/labels/labels.csv", "data": "../shared/data", "extra": None}
        | {"out": None, "cache": None},
        "command": config_command("training.relabel", cfg),
        "photos": len(src),
        "identities": len({r["identity"] for r in src}),
        "variants": variants,
        "label_mean_by_variant": {k: round(float(np.mean(v)), 4) for k, v in means.items()},
        "seconds": round(time.time() - t0, 1),
    }
    if cfg.sources:
        prov["sources"] = cfg.sources.split(",")
        prov["sources_detector"] = DETECTOR.format(LabelConfig.min_face_size)
        prov["by_source"] = source_counts(src, recs, written)
        for k, v in prov["by_source"].items():
            print(f"{k}: {v}", file=sys.stderr)
    if cfg.merge:
        prov["merged"] = merge_earlier(cfg, out / "labels.csv")
    (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    return out / "labels.csv"


MERGED_COPY = 100  # merged rows' copy numbers start here, so (path, copy) stays a key


def merge_earlier(cfg: RelabelConfig, path: Path) -> dict:
    """Append the earlier labels' training rows whose photos are here (each copy kind, variant
    prefixed ``earlier-``, copy + 100 where the photo was relabelled; every original but only a
    share ``merge_share`` of the copies), their labels mapped onto the new labeller's scale by
    a least-squares line fitted on the originals both labelled; the earlier originals of
    photos relabelled here are left out. Returns the fit, for the provenance."""
    from facedata.extra import resolve

    with path.open(newline="") as f:
        new = list(csv.DictReader(f))
    new_orig = {r["relpath"]: float(r["label"]) for r in new if r["copy"] == "0"}
    with open(cfg.merge, newline="") as f:
        old = [
            r
            for r in csv.DictReader(f)
            if r["split"] == "train" and resolve(r["relpath"], cfg.data, cfg.extra).exists()
        ]
    pairs = np.array(
        [
            (float(r["label"]), new_orig[r["relpath"]])
            for r in old
            if r["copy"] == "0" and r["relpath"] in new_orig
        ]
    )
    a, b = np.polyfit(pairs[:, 0], pairs[:, 1], 1)
    r = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
    n = 0
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        for row in old:
            if row["copy"] == "0" and row["relpath"] in new_orig:
                continue
            key = zlib.crc32(f"{row['relpath']}|{row['copy']}".encode()) / 2**32
            if key >= cfg.merge_share and row["copy"] != "0":  # every original stays
                continue
            if row["relpath"] in new_orig:  # beside the new copies: keep (path, copy) a key
                row["copy"] = str(int(row["copy"]) + MERGED_COPY)
            row["variant"] = "earlier-" + row["variant"]
            row["label"] = f"{a * float(row['label']) + b:.5f}"
            w.writerow([row[k] for k in new[0]])
            n += 1
    return {
        "from": Path(cfg.merge).name,
        "rows": n,
        "share": cfg.merge_share,
        "map": f"new = {a:.4f} × earlier + {b:.4f}",
        "fit_on_originals": len(pairs),
        "pearson": round(r, 4),
    }


if __name__ == "__main__":
    print(run(parse_config(RelabelConfig)))
