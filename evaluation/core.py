"""Does picking faces by quality help recognition? Two protocols on held-out LFW identities
(View-2 folds 6-10, never used in training), verified by dlib's ResNet — a face recogniser that
did NOT make the training labels (those came from FaceNet).

Protocol 1, templates (paper Tables 3/5): identities with >= 4 images; per seed, up to
``max_per_identity`` images of each identity are split into two templates and a random part of
each template's frames is degraded (blur, motion blur, noise, JPEG, low resolution, occlusion,
exposure), like a video sequence. Each method picks one frame per template; the two templates of
a person are a genuine pair, templates of different people impostor pairs. TAR at FAR 1e-1,
1e-2, 1e-3 and balanced accuracy, mean ± std over seeds.

Protocol 2, error-versus-discard (EDC): LFW View-2 pairs of folds 6-10, as they are and with a
random half of the images degraded. Pair quality = min(q1, q2); the comparison threshold is
fixed once at FMR = ``edc_fmr`` over all pairs; FNMR of the genuine pairs kept is plotted
against the fraction of genuine pairs discarded (lowest quality first, ties discarded
together); pAUC at 20% and 30% discard (lower is better).

Methods: random; blur (variance of the Laplacian); JPEG blockiness; pose (yaw from the five
landmarks); their combination (mean rank, paper §4.3); the embedding norm of the verification
model; the oracle (cosine of the verification embedding to the identity's centre, protocol 1
only — it needs the other images of the person); tinyFQnet through the native scorer.

    python -m evaluation --out docs/eval      # pip install ".[eval]"
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facedata.degrade import apply, random_spec
from facedata.lfw import fold_identities, image_path, read_pairs

METHODS = ("random", "blur", "jpeg", "pose", "combination", "embedding_norm", "oracle",
           "tinyfqnet")


@dataclass
class EvalConfig:
    data: str = "../shared/data"
    out: str = "docs/eval"
    cache: str = os.path.join(os.path.expanduser("~"), ".cache", "tinyfq-native", "eval")
    seeds: tuple = (0, 1, 2)
    min_images: int = 4
    max_per_identity: int = 8
    degrade_prob: float = 0.6       # chance that a template frame is degraded
    pair_degrade_prob: float = 0.5  # chance that an image of a View-2 pair is degraded
    fars: tuple = (1e-1, 1e-2, 1e-3)
    edc_fmr: float = 1e-2
    max_identities: int | None = None   # small values make quick runs (tests)
    max_pairs: int | None = None
    workers: int = 2
    model: str | None = None


# --------------------------------------------------------------------------- embeddings

_w: dict = {}


def _init(min_face: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    import dlib
    import face_recognition_models as frm

    from tinyfq_native import Detector

    _w["det"] = Detector(min_face=min_face)   # the runtime's detector, as `--detect` aligns
    _w["sp"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    _w["net"] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    _w["dlib"] = dlib


def _embed(job: tuple[str, str, str, list | None]) -> dict:
    """Detect (originals) and embed one image with dlib. job: (root, relpath, spec, face)."""
    import cv2

    root, rel, spec, face = job
    img = cv2.imread(os.path.join(root, rel), cv2.IMREAD_COLOR)
    if img is None:
        return {"key": _key(rel, spec), "status": "unreadable"}
    if face is None:
        f = _w["det"].largest(img)
        if f is None:
            return {"key": _key(rel, spec), "status": "no_face"}
        face = {"box": list(f.box), "landmarks": f.landmarks.reshape(-1).tolist()}
    if spec:
        img = apply(img, spec, tuple(face["box"]))
    x, y, w, h = face["box"]
    rgb = np.ascontiguousarray(img[:, :, ::-1])
    dl = _w["dlib"]
    shape = _w["sp"](rgb, dl.rectangle(int(x), int(y), int(x + w), int(y + h)))
    emb = np.array(_w["net"].compute_face_descriptor(rgb, shape), np.float32)
    return {"key": _key(rel, spec), "status": "ok", **face,
            "emb": base64.b64encode(emb.tobytes()).decode()}


def _key(rel: str, spec: str) -> str:
    return rel + "|" + spec


class EmbeddingCache:
    """dlib embeddings (and the detection of each original) keyed by path + degradation,
    appended to a JSON-lines file so a re-run only computes what is new."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.open():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.rows[r["key"]] = r

    def fill(self, root: str, wanted: list[tuple[str, str]], workers: int) -> None:
        from multiprocessing import get_context

        from tqdm import tqdm

        originals = sorted({rel for rel, _ in wanted if _key(rel, "") not in self.rows})
        degraded = sorted({(rel, s) for rel, s in wanted if s and _key(rel, s) not in self.rows
                           and (rel in originals or self.face(rel) is not None)})
        if not originals and not degraded:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f, get_context("spawn").Pool(workers, _init, (40,)) as pool:
            for stage, jobs in (("originals", [(root, r, "", None) for r in originals]),
                                ("degraded", None)):
                if jobs is None:   # degraded copies reuse the original's detection
                    jobs = [(root, r, s, self.face(r)) for r, s in degraded
                            if self.face(r) is not None]
                for r in tqdm(pool.imap(_embed, jobs, chunksize=4), total=len(jobs),
                              desc=f"dlib {stage}", unit="img", file=sys.stderr):
                    self.rows[r["key"]] = r
                    f.write(json.dumps(r) + "\n")
                f.flush()

    def face(self, rel: str) -> dict | None:
        r = self.rows.get(_key(rel, ""))
        return {"box": r["box"], "landmarks": r["landmarks"]} if r and r["status"] == "ok" else None

    def emb(self, rel: str, spec: str) -> np.ndarray | None:
        r = self.rows.get(_key(rel, spec))
        if not r or r["status"] != "ok":
            return None
        return np.frombuffer(base64.b64decode(r["emb"]), np.float32)


# --------------------------------------------------------------------------- quality measures

def _face_grey(img: np.ndarray, box) -> np.ndarray:
    import cv2

    x, y, w, h = (int(round(v)) for v in box)
    crop = img[max(0, y):y + h, max(0, x):x + w]
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)


def blur_quality(img, box) -> float:
    """Variance of the Laplacian of the face region: low when blurred."""
    import cv2

    return float(cv2.Laplacian(_face_grey(img, box), cv2.CV_32F).var())


def jpeg_quality(img, box) -> float:
    """Minus the blockiness of the face region: how much stronger the luminance steps are
    across the 8-pixel JPEG block grid (aligned to the image origin) than inside blocks."""
    x0, y0 = int(round(box[0])), int(round(box[1]))
    g = _face_grey(img, box)
    if g.shape[0] < 17 or g.shape[1] < 17:
        return 0.0
    dx = np.abs(np.diff(g, axis=1)).mean(0)
    dy = np.abs(np.diff(g, axis=0)).mean(1)

    def ratio(d, offset):
        cols = (np.arange(len(d)) + max(0, offset)) % 8 == 7   # step between pixel 7 and 8
        return d[cols].mean() / max(d[~cols].mean(), 1e-3)

    return -float(ratio(dx, x0) + ratio(dy, y0)) / 2


def pose_quality(landmarks) -> float:
    """Minus |yaw|: the nose's horizontal offset from the eyes' midpoint, relative to the eye
    distance (0 for a frontal face)."""
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eye_mid = (lm[0] + lm[1]) / 2
    eye_dist = max(np.linalg.norm(lm[1] - lm[0]), 1e-3)
    return -abs(float(lm[2, 0] - eye_mid[0]) / eye_dist)


def _rank(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(v) / len(v)


# --------------------------------------------------------------------------- metrics

def tar_at_far(gen: np.ndarray, imp: np.ndarray, far: float) -> float:
    thr = np.quantile(imp, 1.0 - far, method="higher")
    return float((gen > thr).mean())


def balanced_accuracy(gen: np.ndarray, imp: np.ndarray) -> float:
    """Best (TPR + TNR) / 2 over all thresholds (accept when score >= threshold)."""
    g, i = np.sort(gen), np.sort(imp)
    t = np.unique(np.concatenate([g, i]))
    tpr = 1.0 - np.searchsorted(g, t, "left") / len(g)
    tnr = np.searchsorted(i, t, "left") / len(i)
    return float(((tpr + tnr) / 2).max())


def edc(quality: np.ndarray, genuine: np.ndarray, comparison: np.ndarray, threshold: float
        ) -> tuple[np.ndarray, np.ndarray]:
    """(discard fraction, FNMR) over genuine pairs, discarding lowest quality first; pairs
    with equal quality are discarded together (as edc.py does)."""
    q = quality[genuine]
    miss = comparison[genuine] < threshold
    order = np.argsort(q, kind="stable")
    q, miss = q[order], miss[order]
    n = len(q)
    fractions, fnmr = [0.0], [miss.mean()]
    uniq_ends = np.flatnonzero(np.r_[q[1:] != q[:-1], True]) + 1   # end of each tie group
    for end in uniq_ends:
        if end >= n:
            break
        fractions.append(end / n)
        fnmr.append(miss[end:].mean())
    return np.array(fractions), np.array(fnmr)


def pauc(fractions: np.ndarray, fnmr: np.ndarray, upto: float) -> float:
    """Area under the step curve FNMR(discard) from 0 to ``upto``."""
    area, prev_f, prev_v = 0.0, 0.0, fnmr[0]
    for f, v in zip(fractions[1:], fnmr[1:]):
        if f >= upto:
            break
        area += (f - prev_f) * prev_v
        prev_f, prev_v = f, v
    return float(area + (upto - prev_f) * prev_v)


# --------------------------------------------------------------------------- protocols

class _Scorer:
    """All methods' qualities for (relpath, spec) frames."""

    def __init__(self, cfg: EvalConfig, cache: EmbeddingCache, centre: np.ndarray):
        from tinyfq_native import Scorer

        self.cfg, self.cache, self.centre = cfg, cache, centre
        self.scorer = Scorer(cfg.model)

    def frame(self, rel: str, spec: str) -> dict:
        import cv2

        face = self.cache.face(rel)
        img = cv2.imread(os.path.join(self.cfg.data, "lfw", rel), cv2.IMREAD_COLOR)
        if spec:
            img = apply(img, spec, tuple(face["box"]))
        lm = np.array(face["landmarks"], np.float32).reshape(5, 2)
        emb = self.cache.emb(rel, spec)
        return {"blur": blur_quality(img, face["box"]), "jpeg": jpeg_quality(img, face["box"]),
                "pose": pose_quality(lm), "embedding_norm": float(np.linalg.norm(emb)),
                "tinyfqnet": self.scorer.score(img, lm), "emb": self._unit(emb)}

    def _unit(self, e: np.ndarray) -> np.ndarray:
        e = e - self.centre
        return e / max(float(np.linalg.norm(e)), 1e-12)


def _add_combination(qs: dict[str, np.ndarray]) -> None:
    qs["combination"] = (_rank(qs["blur"]) + _rank(qs["jpeg"]) + _rank(qs["pose"])) / 3


def _template_frames(cfg: EvalConfig, ids: list[str], seed: int) -> list[tuple[str, int, str, str]]:
    """(identity, template 0/1, relpath within LFW, degradation spec) for one seed."""
    rng = np.random.default_rng([seed, 7])
    frames = []
    for name in ids:
        files = sorted(os.listdir(os.path.join(cfg.data, "lfw", "images", name)))
        pick = rng.permutation(len(files))[:cfg.max_per_identity]
        half = len(pick) // 2
        for j, k in enumerate(pick):
            spec = random_spec(rng) if rng.random() < cfg.degrade_prob else ""
            frames.append((name, int(j >= half), f"images/{name}/{files[k]}", spec))
    return frames


def protocol_templates(cfg: EvalConfig, ids, cache, sc: _Scorer) -> dict:
    per_seed = []
    for seed in cfg.seeds:
        frames = [f for f in _template_frames(cfg, ids, seed)
                  if cache.emb(f[2], f[3]) is not None]
        q = [sc.frame(rel, spec) for _, _, rel, spec in frames]
        emb = np.stack([x["emb"] for x in q])
        qs = {m: np.array([x[m] for x in q]) for m in ("blur", "jpeg", "pose", "embedding_norm",
                                                        "tinyfqnet")}
        _add_combination(qs)
        qs["random"] = np.random.default_rng([seed, 11]).random(len(frames))
        # oracle: cosine to the person's centre from the *other* template's original images
        # plus this template's other originals (never the frame's own source image)
        qs["oracle"] = np.empty(len(frames))
        orig = {(f[0], f[2]): sc._unit(cache.emb(f[2], "")) for f in frames}
        for i, (name, t, rel, _) in enumerate(frames):
            others = [e for (n, r), e in orig.items() if n == name and r != rel]
            c = np.mean(others, 0) if others else emb[i]
            qs["oracle"][i] = emb[i] @ (c / max(np.linalg.norm(c), 1e-12))
        templates = sorted({(f[0], f[1]) for f in frames})
        members = {tpl: [i for i, f in enumerate(frames) if (f[0], f[1]) == tpl]
                   for tpl in templates}
        res = {}
        for m in METHODS:
            pick = np.array([max(members[tpl], key=lambda i: (qs[m][i], -i)) for tpl in templates])
            E = emb[pick]
            S = E @ E.T
            names = np.array([tpl[0] for tpl in templates])
            same = names[:, None] == names[None, :]
            iu = np.triu_indices(len(templates), 1)
            gen, imp = S[iu][same[iu]], S[iu][~same[iu]]
            res[m] = {f"TAR@FAR={far:g}": tar_at_far(gen, imp, far) for far in cfg.fars}
            res[m]["accuracy"] = balanced_accuracy(gen, imp)
        per_seed.append({"seed": seed, "templates": len(templates), "frames": len(frames),
                         "degraded_frames": int(sum(bool(f[3]) for f in frames)),
                         "genuine_pairs": int(same[iu].sum()),
                         "impostor_pairs": int((~same[iu]).sum()), "results": res})
    summary = {}
    for m in METHODS:
        summary[m] = {}
        for metric in per_seed[0]["results"][m]:
            v = np.array([s["results"][m][metric] for s in per_seed])
            summary[m][metric] = {"mean": float(v.mean()), "std": float(v.std())}
    return {"per_seed": per_seed, "summary": summary}


def _pair_jobs(cfg: EvalConfig) -> list[tuple[str, str, bool]]:
    """(relpath 1, relpath 2, genuine) for View-2 pairs of folds 6-10."""
    pairs = [p for fold in read_pairs(Path(cfg.data) / "lfw" / "pairs.txt")[5:] for p in fold]
    if cfg.max_pairs:   # evenly spaced: folds list genuine pairs first, impostors second
        pairs = pairs[::max(1, len(pairs) // cfg.max_pairs)][:cfg.max_pairs]
    return [(image_path(a, i), image_path(b, j), a == b) for a, i, b, j in pairs]


def _pair_specs(cfg: EvalConfig, pairs) -> list[tuple[str, str]]:
    rng = np.random.default_rng(123)
    return [(random_spec(rng) if rng.random() < cfg.pair_degrade_prob else "",
             random_spec(rng) if rng.random() < cfg.pair_degrade_prob else "") for _ in pairs]


def protocol_edc(cfg: EvalConfig, cache, sc: _Scorer) -> dict:
    pairs = _pair_jobs(cfg)
    specs = _pair_specs(cfg, pairs)
    out = {}
    for cond in ("originals", "degraded"):
        keep, qual, cmp_ = [], [], []
        memo: dict = {}
        for (a, b, g), (sa, sb) in zip(pairs, specs):
            if cond == "originals":
                sa = sb = ""
            if cache.emb(a, sa) is None or cache.emb(b, sb) is None:
                continue
            for k in ((a, sa), (b, sb)):
                if k not in memo:
                    memo[k] = sc.frame(*k)
            qa, qb = memo[(a, sa)], memo[(b, sb)]
            keep.append(g)
            cmp_.append(float(qa["emb"] @ qb["emb"]))
            qual.append((qa, qb))
        genuine = np.array(keep)
        comparison = np.array(cmp_)
        thr = float(np.quantile(comparison[~genuine], 1.0 - cfg.edc_fmr, method="higher"))
        per_image = {m: np.array([[qa[m], qb[m]] for qa, qb in qual])
                     for m in ("blur", "jpeg", "pose", "embedding_norm", "tinyfqnet")}
        flat = {m: v.reshape(-1) for m, v in per_image.items()}
        _add_combination(flat)
        flat["random"] = np.random.default_rng(5).random(len(flat["blur"]))
        res = {"pairs": len(genuine), "genuine": int(genuine.sum()), "threshold": thr,
               "fnmr_at_threshold": float((comparison[genuine] < thr).mean()), "methods": {}}
        for m in METHODS:
            if m == "oracle":
                continue
            q = flat[m].reshape(-1, 2).min(1)
            f, v = edc(q, genuine, comparison, thr)
            res["methods"][m] = {"pAUC@20%": pauc(f, v, 0.2), "pAUC@30%": pauc(f, v, 0.3),
                                 "curve": {"discard": f.round(5).tolist(),
                                           "fnmr": v.round(5).tolist()}}
        out[cond] = res
    return out


# --------------------------------------------------------------------------- report

def _plots(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = results["templates"]["summary"]
    metrics = list(next(iter(summ.values())))
    fig, ax = plt.subplots(figsize=(10, 4))
    w = 0.8 / len(METHODS)
    for i, m in enumerate(METHODS):
        ax.bar(np.arange(len(metrics)) + i * w, [summ[m][k]["mean"] for k in metrics], w,
               yerr=[summ[m][k]["std"] for k in metrics], label=m, capsize=2)
    ax.set_xticks(np.arange(len(metrics)) + 0.4 - w / 2, metrics)
    ax.set_ylim(0, 1)
    ax.set_title("Protocol 1: degraded LFW templates (folds 6-10), verified by dlib ResNet")
    ax.legend(ncol=4, fontsize=8, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "templates_tar.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, cond in zip(axes, ("originals", "degraded")):
        r = results["edc"][cond]
        for m, v in r["methods"].items():
            ax.step(v["curve"]["discard"], v["curve"]["fnmr"], where="post",
                    label=f"{m} ({v['pAUC@20%']:.4f})", lw=2 if m == "tinyfqnet" else 1)
        ax.set_xlim(0, 0.5)
        ax.set_xlabel("fraction of genuine pairs discarded")
        ax.set_title(f"EDC, LFW pairs folds 6-10, {cond}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="method (pAUC@20%)", title_fontsize=7)
    axes[0].set_ylabel(f"FNMR at FMR={results['config']['edc_fmr']:g}")
    fig.tight_layout()
    fig.savefig(out / "edc.png", dpi=110)
    plt.close(fig)


def _markdown(results: dict) -> str:
    summ = results["templates"]["summary"]
    metrics = list(next(iter(summ.values())))
    lines = ["### Protocol 1: degraded templates, TAR at FAR (mean ± std over "
             f"{len(results['config']['seeds'])} seeds)", "",
             "| method | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for m in METHODS:
        lines.append(f"| {m} | " + " | ".join(
            f"{100 * summ[m][k]['mean']:.2f} ± {100 * summ[m][k]['std']:.2f}" for k in metrics)
            + " |")
    lines += ["", "### Protocol 2: EDC on LFW View-2 pairs (pAUC, lower is better)", "",
              "| method | originals pAUC@20% | originals pAUC@30% | degraded pAUC@20% | "
              "degraded pAUC@30% |", "|---|---|---|---|---|"]
    for m in METHODS:
        if m == "oracle":
            continue
        o, d = (results["edc"][c]["methods"][m] for c in ("originals", "degraded"))
        lines.append(f"| {m} | {o['pAUC@20%']:.4f} | {o['pAUC@30%']:.4f} | "
                     f"{d['pAUC@20%']:.4f} | {d['pAUC@30%']:.4f} |")
    return "\n".join(lines) + "\n"


def run(cfg: EvalConfig) -> dict:
    t0 = time.time()
    data = Path(cfg.data)
    folds = fold_identities(data / "lfw" / "pairs.txt")
    heldout = sorted(set().union(*folds[5:]))
    ids = [n for n in heldout
           if len(os.listdir(data / "lfw" / "images" / n)) >= cfg.min_images][:cfg.max_identities]
    cache = EmbeddingCache(Path(cfg.cache) / "dlib-embeddings.jsonl")
    wanted = [(rel, spec) for seed in cfg.seeds for _, _, rel, spec in _template_frames(cfg, ids, seed)]
    wanted += [(rel, "") for rel, _ in wanted]
    pairs = _pair_jobs(cfg)
    for (a, b, _), (sa, sb) in zip(pairs, _pair_specs(cfg, pairs)):
        wanted += [(a, ""), (b, ""), (a, sa), (b, sb)]
    cache.fill(str(data / "lfw"), wanted, cfg.workers)
    embs = [cache.emb(rel, "") for rel, _ in wanted if cache.emb(rel, "") is not None]
    centre = np.mean(embs, 0)     # dlib embeddings are not centred: subtract their mean
    sc = _Scorer(cfg, cache, centre)
    results = {"config": asdict(cfg) | {"data": "../shared/data", "cache": None},
               "verification_model": "dlib ResNet (dlib_face_recognition_resnet_model_v1, "
                                     "face_recognition_models 0.3.0), 128-d, mean-centred cosine",
               "quality_model": sc.scorer.info.get("version"),
               "identities": len(ids),
               "templates": protocol_templates(cfg, ids, cache, sc),
               "edc": protocol_edc(cfg, cache, sc)}
    results["seconds"] = round(time.time() - t0, 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(_markdown(results))
    _plots(results, out)
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    e = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = EvalConfig()
    e.add_argument("--data", default=d.data, help="folder with lfw/ (default: ../shared/data)")
    e.add_argument("--out", default=d.out, help="where results.json/.md and PNGs go")
    e.add_argument("--cache", default=d.cache, help="embedding cache folder")
    e.add_argument("--seeds", type=int, nargs="+", default=list(d.seeds))
    e.add_argument("--max-identities", type=int, default=None)
    e.add_argument("--max-pairs", type=int, default=None)
    e.add_argument("--workers", type=int, default=d.workers)
    e.add_argument("--model", default=None, help="exported model; default: embedded")
    args = e.parse_args(argv)
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError as err:
        print(f"python -m evaluation: {err}; pip install '.[eval]'", file=sys.stderr)
        return 2
    cfg = EvalConfig(data=args.data, out=args.out, cache=args.cache, seeds=tuple(args.seeds),
                     max_identities=args.max_identities, max_pairs=args.max_pairs,
                     workers=args.workers, model=args.model)
    res = run(cfg)
    print(_markdown(res))
    return 0
