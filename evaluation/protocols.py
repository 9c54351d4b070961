"""The protocols, all on held-out people, verified by dlib's ResNet (evaluation/verifier.py).

1. Templates (paper Tables 3/5): held-out LFW identities (View-2 folds 6-10) with >= 4 images;
   per seed, up to ``max_per_identity`` images of each are split into two templates and a
   random part of each template's frames is degraded (blur, motion blur, noise, JPEG, low
   resolution, occlusion, exposure), like a video sequence. Each method picks one frame per
   template; the two templates of a person are a genuine pair, templates of different people
   impostor pairs. TAR at FAR 1e-1, 1e-2, 1e-3 and balanced accuracy, mean ± std over seeds.
2. Error-versus-discard (EDC): LFW View-2 pairs of folds 6-10, as they are and with a random
   half of the images degraded. Pair quality = min(q1, q2); the comparison threshold is fixed
   once at FMR = ``edc_fmr`` over all pairs; FNMR of the genuine pairs kept against the fraction
   of genuine pairs discarded (lowest quality first, ties together); pAUC at 20% and 30%.
3. Natural variation: unmodified photos only — the held-out LFW photos (folds 6-10, up to 20 a
   person, as the labels hold them out) and the held-out Pins people (facedata.extra, up to 40
   a person). Spearman of each method with the verifier's own label (cosine of the photo's dlib
   embedding to the leave-one-out centre of the person's other photos), per source; on Pins
   also EDC/pAUC over all same-person pairs and ``natural_impostors`` random different-person
   pairs. Where the training labels are at hand, the label model's own Spearman with the
   verifier's label on the same photos is reported: the ceiling a learned score can reach.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from evaluation.baselines import PERCEPTUAL, add_combination
from evaluation.frames import FrameCache, load_image
from evaluation.metrics import (
    balanced_accuracy,
    edc,
    pauc,
    spearman,
    spearman_between,
    spearman_within,
    tar_at_far,
)
from evaluation.verifier import EmbeddingCache
from facedata.degrade import random_spec
from facedata.lfw import image_path, read_pairs

BASE_METHODS = (
    "random",
    "blur",
    "jpeg",
    "pose",
    "combination",
    "embedding_norm",
    "oracle",
    "tinyfqnet",
)


def methods(sc: FrameScorer) -> list[str]:
    """Every method in report order: ours (and the models compared with it), the learned
    peers, then the rest."""
    return list(BASE_METHODS) + list(sc.extra) + list(sc.peers)


def compared(cfg) -> list[tuple[str, str]]:
    """(name, model path) of each ``--compare NAME=PATH``."""
    out = []
    for item in cfg.compare:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--compare takes NAME=PATH, got {item!r}")
        out.append((name, path))
    return out


class MeanScorer:
    """The mean score of several exported models: ``--compare NAME=A+B+C`` measures an output
    ensemble as one method (an experiment's tool; the product scores one model)."""

    def __init__(self, paths: list[str]):
        from tinyfq_native import Scorer

        self.scorers = [Scorer(p) for p in paths]
        self.info = {
            "version": "mean(" + ", ".join(str(s.info.get("version")) for s in self.scorers) + ")"
        }

    def score(self, image: np.ndarray, landmarks=None) -> float:
        return float(np.mean([s.score(image, landmarks) for s in self.scorers]))

    def score_batch(self, images, landmarks=None, *, workers: int = -1) -> np.ndarray:
        return np.mean([s.score_batch(images, landmarks, workers=workers) for s in self.scorers], 0)


def compared_scorers(cfg) -> dict:
    """``tinyfqnet@NAME`` -> scorer, for each ``--compare NAME=PATH``. A PATH that names no model
    but joins several with ``+`` is an output ensemble (MeanScorer); each part must name one."""
    from tinyfq_native import Scorer

    out = {}
    for name, path in compared(cfg):
        try:
            out[f"tinyfqnet@{name}"] = Scorer(path)
        except FileNotFoundError:
            if "+" not in path:
                raise
            out[f"tinyfqnet@{name}"] = MeanScorer(path.split("+"))  # names a missing part
    return out


class FrameScorer:
    """Every method's quality for (relpath, spec) frames: the cached baselines and peers, the
    verifier's embedding norm, and tinyFQnet scored now through the native scorer."""

    def __init__(
        self,
        cfg,
        cache: EmbeddingCache,
        frames: FrameCache,
        centre: np.ndarray,
        peers: tuple[str, ...],
    ):
        from tinyfq_native import Scorer

        self.cfg, self.cache, self.frames, self.centre = cfg, cache, frames, centre
        self.peers = peers
        self.scorer = Scorer(cfg.model)
        self.extra = compared_scorers(cfg)
        self._memo: dict[tuple[str, str], dict] = {}

    @property
    def measured(self) -> tuple[str, ...]:
        """The per-frame measures (everything but random, combination and oracle)."""
        return PERCEPTUAL + ("embedding_norm", "tinyfqnet") + tuple(self.extra) + self.peers

    def frame(self, rel: str, spec: str) -> dict:
        key = (rel, spec)
        if key not in self._memo:
            face = self.cache.face(rel)
            img = load_image(self.cfg.lfw_root, rel, spec, face)
            lm = np.array(face["landmarks"], np.float32).reshape(5, 2)
            emb = self.cache.emb(rel, spec)
            cached = self.frames.get(rel, spec)
            self._memo[key] = {
                **{m: cached[m] for m in PERCEPTUAL + self.peers},
                "embedding_norm": float(np.linalg.norm(emb)),
                "tinyfqnet": self.scorer.score(img, lm),
                **{m: s.score(img, lm) for m, s in self.extra.items()},
                "emb": self.unit(emb),
            }
        return self._memo[key]

    def unit(self, e: np.ndarray) -> np.ndarray:
        e = e - self.centre
        return e / max(float(np.linalg.norm(e)), 1e-12)


def template_frames(cfg, ids: list[str], seed: int) -> list[tuple[str, int, str, str]]:
    """(identity, template 0/1, relpath within LFW, degradation spec) for one seed."""
    rng = np.random.default_rng([seed, 7])
    frames = []
    for name in ids:
        files = sorted(os.listdir(os.path.join(cfg.data, "lfw", "images", name)))
        pick = rng.permutation(len(files))[: cfg.max_per_identity]
        half = len(pick) // 2
        for j, k in enumerate(pick):
            spec = random_spec(rng) if rng.random() < cfg.degrade_prob else ""
            frames.append((name, int(j >= half), f"images/{name}/{files[k]}", spec))
    return frames


def protocol_templates(cfg, ids, cache, sc: FrameScorer) -> dict:
    per_seed = []
    for seed in cfg.seeds:
        frames = [f for f in template_frames(cfg, ids, seed) if cache.emb(f[2], f[3]) is not None]
        q = [sc.frame(rel, spec) for _, _, rel, spec in frames]
        emb = np.stack([x["emb"] for x in q])
        qs = {m: np.array([x[m] for x in q]) for m in sc.measured}
        add_combination(qs)
        qs["random"] = np.random.default_rng([seed, 11]).random(len(frames))
        # oracle: cosine to the person's centre from the *other* template's original images
        # plus this template's other originals (never the frame's own source image)
        qs["oracle"] = np.empty(len(frames))
        orig = {(f[0], f[2]): sc.unit(cache.emb(f[2], "")) for f in frames}
        for i, (name, _, rel, _) in enumerate(frames):
            others = [e for (n, r), e in orig.items() if n == name and r != rel]
            c = np.mean(others, 0) if others else emb[i]
            qs["oracle"][i] = emb[i] @ (c / max(np.linalg.norm(c), 1e-12))
        templates = sorted({(f[0], f[1]) for f in frames})
        members = {
            tpl: [i for i, f in enumerate(frames) if (f[0], f[1]) == tpl] for tpl in templates
        }
        res = {}
        for m in methods(sc):
            pick = np.array([max(members[tpl], key=lambda i: (qs[m][i], -i)) for tpl in templates])
            E = emb[pick]
            S = E @ E.T
            names = np.array([tpl[0] for tpl in templates])
            same = names[:, None] == names[None, :]
            iu = np.triu_indices(len(templates), 1)
            gen, imp = S[iu][same[iu]], S[iu][~same[iu]]
            res[m] = {f"TAR@FAR={far:g}": tar_at_far(gen, imp, far) for far in cfg.fars}
            res[m]["accuracy"] = balanced_accuracy(gen, imp)
        per_seed.append(
            {
                "seed": seed,
                "templates": len(templates),
                "frames": len(frames),
                "degraded_frames": int(sum(bool(f[3]) for f in frames)),
                "genuine_pairs": int(same[iu].sum()),
                "impostor_pairs": int((~same[iu]).sum()),
                "results": res,
            }
        )
    summary = {}
    for m in methods(sc):
        summary[m] = {}
        for metric in per_seed[0]["results"][m]:
            v = np.array([s["results"][m][metric] for s in per_seed])
            summary[m][metric] = {"mean": float(v.mean()), "std": float(v.std())}
    return {"per_seed": per_seed, "summary": summary}


def pair_jobs(cfg) -> list[tuple[str, str, bool]]:
    """(relpath 1, relpath 2, genuine) for View-2 pairs of folds 6-10."""
    pairs = [p for fold in read_pairs(Path(cfg.data) / "lfw" / "pairs.txt")[5:] for p in fold]
    if cfg.max_pairs:  # evenly spaced: folds list genuine pairs first, impostors second
        pairs = pairs[:: max(1, len(pairs) // cfg.max_pairs)][: cfg.max_pairs]
    return [(image_path(a, i), image_path(b, j), a == b) for a, i, b, j in pairs]


def pair_specs(cfg, pairs) -> list[tuple[str, str]]:
    rng = np.random.default_rng(123)
    return [
        (
            random_spec(rng) if rng.random() < cfg.pair_degrade_prob else "",
            random_spec(rng) if rng.random() < cfg.pair_degrade_prob else "",
        )
        for _ in pairs
    ]


def protocol_edc(cfg, cache, sc: FrameScorer) -> dict:
    pairs = pair_jobs(cfg)
    specs = pair_specs(cfg, pairs)
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
        per_image = {m: np.array([[qa[m], qb[m]] for qa, qb in qual]) for m in sc.measured}
        flat = {m: v.reshape(-1) for m, v in per_image.items()}
        add_combination(flat)
        flat["random"] = np.random.default_rng(5).random(len(flat["blur"]))
        names = [m for m in methods(sc) if m != "oracle"]
        res = edc_results(flat, genuine, comparison, thr, names)
        res.update(pairs=len(genuine), genuine=int(genuine.sum()))
        out[cond] = res
    return out


def edc_results(
    flat: dict[str, np.ndarray],
    genuine: np.ndarray,
    comparison: np.ndarray,
    thr: float,
    names: list[str],
) -> dict:
    """pAUC at 20%/30% and the curve of each method; pair quality = min of the two images'."""
    res = {
        "threshold": thr,
        "fnmr_at_threshold": float((comparison[genuine] < thr).mean()),
        "methods": {},
    }
    for m in names:
        f, v = edc(flat[m].reshape(-1, 2).min(1), genuine, comparison, thr)
        res["methods"][m] = {
            "pAUC@20%": pauc(f, v, 0.2),
            "pAUC@30%": pauc(f, v, 0.3),
            "curve": {"discard": f.round(5).tolist(), "fnmr": v.round(5).tolist()},
        }
    return res


def natural_photos(cfg) -> dict[str, list[tuple[str, str]]]:
    """source -> (identity, relpath) of the natural-variation protocol's photos."""
    from facedata.splits import collect

    items = collect(
        Path(cfg.data),
        max_heldout_per_id=20,
        extra_heldout_per_id=40,
        max_identities=cfg.max_identities,
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for it in items:
        if it.split == "heldout":
            source = it.identity.split("/", 1)[0]
            rel = it.relpath.removeprefix("lfw/") if source == "lfw" else it.relpath
            out.setdefault(source, []).append((it.identity, rel))
    return out


def verifier_labels(sc: FrameScorer, photos: list[tuple[str, str]]) -> np.ndarray:
    """The verifier's label of each photo: cosine of its unit embedding to the normalised mean
    of the person's other photos (NaN for a person with one usable photo)."""
    embs = {rel: sc.unit(sc.cache.emb(rel, "")) for _, rel in photos}
    by_id: dict[str, list[str]] = {}
    for ident, rel in photos:
        by_id.setdefault(ident, []).append(rel)
    lab = np.full(len(photos), np.nan)
    for i, (ident, rel) in enumerate(photos):
        total = np.sum([embs[r] for r in by_id[ident]], 0)
        if len(by_id[ident]) >= 2:
            c = total - embs[rel]
            lab[i] = float(embs[rel] @ (c / max(float(np.linalg.norm(c)), 1e-12)))
    return lab


def _label_model_labels(cfg, photos: list[tuple[str, str]], source: str) -> np.ndarray | None:
    import csv

    path = Path(cfg.labels)
    if not path.exists():
        return None
    prefix = "lfw/" if source == "lfw" else ""
    with path.open(newline="") as f:
        lab = {r["relpath"]: float(r["label"]) for r in csv.DictReader(f) if r["copy"] == "0"}
    return np.array([lab.get(prefix + rel, np.nan) for _, rel in photos])


# protocol 3's within- and between-people Spearman count the people with this many photos
PERSON_PHOTOS = 5


def protocol_natural(cfg, photos_by_source: dict, sc: FrameScorer) -> dict:
    out = {}
    names = [m for m in methods(sc) if m != "oracle"]
    for source, photos in photos_by_source.items():
        photos = [p for p in photos if sc.cache.emb(p[1], "") is not None]
        lab = verifier_labels(sc, photos)
        ok = np.isfinite(lab)
        ids = np.array([i for i, _ in photos])
        q = [sc.frame(rel, "") for _, rel in photos]
        qs = {m: np.array([x[m] for x in q]) for m in sc.measured}
        add_combination(qs)
        qs["random"] = np.random.default_rng(3).random(len(photos))
        res = {
            "photos": int(ok.sum()),
            "identities": len({i for (i, _), k in zip(photos, ok) if k}),
            "spearman": {m: spearman(qs[m][ok], lab[ok]) for m in names},
            # one person's photos against each other, and people against each other (their
            # mean score against their mean label), over the people with enough photos
            "spearman_within": {
                m: spearman_within(qs[m][ok], lab[ok], ids[ok], PERSON_PHOTOS) for m in names
            },
            "spearman_between": {
                m: spearman_between(qs[m][ok], lab[ok], ids[ok], PERSON_PHOTOS) for m in names
            },
            "within_identities": int(
                sum(np.sum(ids[ok] == i) >= PERSON_PHOTOS for i in set(ids[ok]))
            ),
        }
        ll = _label_model_labels(cfg, photos, source)
        if ll is not None and np.isfinite(ll[ok]).sum() > 2:
            both = ok & np.isfinite(ll)
            res["label_model_spearman"] = {
                "photos": int(both.sum()),
                "value": spearman(ll[both], lab[both]),
                "value_between": spearman_between(ll[both], lab[both], ids[both], PERSON_PHOTOS),
                # each method against the label model's label instead of the verifier's: a
                # score can learn what the label model sees that the verifier does not
                "methods": {m: spearman(qs[m][both], ll[both]) for m in names},
                "between": {
                    m: spearman_between(qs[m][both], ll[both], ids[both], PERSON_PHOTOS)
                    for m in names
                },
            }
        if source == "pins":
            res["edc"] = _natural_edc(cfg, photos, qs, sc, names)
        out[source] = res
    return out


def _natural_edc(cfg, photos, qs, sc, names) -> dict:
    ids = np.array([i for i, _ in photos])
    E = np.stack([sc.frame(rel, "")["emb"] for _, rel in photos])
    iu = np.triu_indices(len(photos), 1)
    same = (ids[:, None] == ids[None, :])[iu]
    gen = np.stack([iu[0][same], iu[1][same]], 1)
    rng = np.random.default_rng(17)
    a = rng.integers(len(photos), size=3 * cfg.natural_impostors)
    b = rng.integers(len(photos), size=3 * cfg.natural_impostors)
    keep = ids[a] != ids[b]
    imp = np.stack([a[keep], b[keep]], 1)[: cfg.natural_impostors]
    pairs = np.concatenate([gen, imp])
    genuine = np.r_[np.ones(len(gen), bool), np.zeros(len(imp), bool)]
    comparison = np.einsum("ij,ij->i", E[pairs[:, 0]], E[pairs[:, 1]])
    thr = float(np.quantile(comparison[~genuine], 1.0 - cfg.edc_fmr, method="higher"))
    flat = {m: np.stack([qs[m][pairs[:, 0]], qs[m][pairs[:, 1]]], 1).reshape(-1) for m in names}
    res = edc_results(flat, genuine, comparison, thr, names)
    res.update(pairs=len(genuine), genuine=int(genuine.sum()))
    return res
