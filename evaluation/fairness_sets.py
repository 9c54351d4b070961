"""The fairness report's identity sets (evaluation/fairness.py, part 2): per set the verifier's
label of each photo, tinyFQnet's score, Spearman, error-versus-discard at one threshold for all
sets, the set's own FMR there, and the residual test (evaluation.fairness_stats)."""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evaluation import fairness_stats as S
from evaluation.metrics import edc, pauc
from evaluation.verifier import EmbeddingCache
from facedata.extra import resolve
from facedata.lfw import people_of_folds

if TYPE_CHECKING:
    from evaluation.fairness import FairnessConfig

DISCARDS = (0.0, 0.1, 0.2, 0.3, 0.4)


def status_scores(results) -> tuple[np.ndarray, list[str]]:
    score, status = [], []
    for r in results:
        ok = r.status.name == "ok" and r.score is not None
        score.append(float(r.score) if ok else np.nan)
        status.append(r.status.name)
    return np.array(score), status


def set_people(cfg: FairnessConfig, name: str) -> tuple[dict[str, list[str]], str | None]:
    """person -> photo paths (verifier cache keys) of one set, or a reason it is skipped."""
    if name == "lfw":
        lfw = Path(cfg.data) / "lfw"
        held = people_of_folds(lfw / "pairs.txt", heldout=True)
        people = {
            n: [f"images/{n}/{f}" for f in sorted(os.listdir(lfw / "images" / n))] for n in held
        }
        return people, None
    try:
        from facedata.extra import identities
    except ImportError:
        return {}, "facedata.extra has no identities() (the extra sets are not there)"
    try:
        people = identities(name, cfg.extra_root)
    except (KeyError, ValueError) as e:
        return {}, f"facedata.extra does not know it ({e})"
    if not people:
        return {}, f"not extracted under {cfg.extra_root}"
    return people, None


def loo_labels(U: np.ndarray, people: np.ndarray) -> np.ndarray:
    """The verifier's label of each photo: cosine of its unit embedding to the normalised mean
    of the person's other photos (NaN for a person with one photo)."""
    label = np.full(len(U), np.nan)
    for p in np.unique(people):
        idx = np.flatnonzero(people == p)
        if len(idx) < 2:
            continue
        tot = U[idx].sum(0)
        for i in idx:
            c = tot - U[i]
            label[i] = U[i] @ (c / max(float(np.linalg.norm(c)), 1e-12))
    return label


def _source(name: str) -> str:
    if name == "lfw":
        return "LFW deep-funneled (../shared/data), people of View-2 folds 6-10 (held out)"
    from facedata.extra import SOURCES

    spec = SOURCES.get(name, {})
    return f"{spec.get('repo', '?')}@{str(spec.get('commit', '?'))[:8]}: {spec.get('what', '')}"


def _edc_row(q: np.ndarray, sims: np.ndarray, thr: float) -> dict:
    f, v = edc(q, np.ones(len(q), bool), sims, thr)
    at = {f"{x:g}": float(v[np.searchsorted(f, x, "right") - 1]) for x in DISCARDS}
    keep = f <= max(DISCARDS) + 1e-9
    return {
        "fnmr_at_discard": at,
        "pAUC@20%": pauc(f, v, 0.2),
        "curve": {"discard": f[keep].round(4).tolist(), "fnmr": v[keep].round(4).tolist()},
    }


def sets_part(cfg: FairnessConfig, scorers: dict, thresholds: dict) -> dict:
    photos, skipped, chosen = [], {}, {}
    for s in cfg.sets:
        people, why = set_people(cfg, s)
        if why:
            print(f"note: set {s}: {why}; skipped", file=sys.stderr)
            skipped[s] = why
            continue
        sel = S.select_photos(people, cfg.max_per_set, cfg.min_images)
        chosen[s] = {"source": _source(s)} | {
            "people_available": len(people),
            "photos_available": sum(map(len, people.values())),
        }
        photos += [
            (s, p if p.startswith(s + "/") else f"{s}/{p}", rel)
            for p, rels in sel.items()
            for rel in rels
        ]
    if not photos:
        return {"skipped": skipped}
    lfw_root = str(Path(cfg.data) / "lfw")
    cache = EmbeddingCache(Path(cfg.cache) / "dlib-embeddings.jsonl")
    cache.fill(lfw_root, [(rel, "") for *_, rel in photos], cfg.workers)
    found = [p for p in photos if cache.emb(p[2], "") is not None]
    sets = np.array([p[0] for p in found])
    people = np.array([p[1] for p in found])
    raw = np.stack([cache.emb(p[2], "") for p in found])
    U = raw - raw.mean(0)  # dlib embeddings are not centred
    U /= np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
    label = loo_labels(U, people)
    files = [str(resolve(rel, lfw_root, cfg.extra_root)) for _, _, rel in found]
    lms = [np.array(cache.face(rel)["landmarks"], np.float32).reshape(5, 2) for *_, rel in found]
    score = {}
    for m, sc in scorers.items():
        print(f"identity sets: {m}", file=sys.stderr)
        score[m], _ = status_scores(sc.score_paths(files, lms, workers=cfg.workers, progress=True))
    # one threshold for every set: FMR cfg.fmr over all impostor pairs of all sets
    imp, own_imp = [], {s: [] for s in chosen}
    for i in range(len(found) - 1):
        sim = U[i + 1 :] @ U[i]
        other = people[i + 1 :] != people[i]
        imp.append(sim[other])
        own_imp.setdefault(sets[i], []).append(sim[other & (sets[i + 1 :] == sets[i])])
    imp = np.concatenate(imp)
    thr = float(np.quantile(imp, 1.0 - cfg.fmr, method="higher"))
    groups: dict = {}
    for s in chosen:
        m_ = sets == s
        if not m_.any():
            continue
        idx = np.flatnonzero(m_)
        n_sel = sum(1 for p in photos if p[0] == s)
        lab_ok = m_ & np.isfinite(label)
        gi, gj = [], []
        for p in np.unique(people[m_]):
            pi = np.flatnonzero(people == p)
            a, b = np.triu_indices(len(pi), 1)
            gi += pi[a].tolist()
            gj += pi[b].tolist()
        gi, gj = np.array(gi, int), np.array(gj, int)
        sims = np.einsum("ij,ij->i", U[gi], U[gj])
        oi = np.concatenate(own_imp.get(s) or [np.empty(0)])
        row = chosen[s] | {
            "photos": int(n_sel),
            "people": len(set(people[m_].tolist())),
            "no_face": int(n_sel - len(idx)),
            "labelled": int(lab_ok.sum()),
            "label_median": float(np.nanmedian(label[m_])),
            "genuine_pairs": len(gi),
            "fnmr": float((sims < thr).mean()) if len(gi) else float("nan"),
            "impostor_pairs": int(len(oi)),
            "fmr": float((oi >= thr).mean()) if len(oi) else float("nan"),
            "models": {},
        }
        for m, q in score.items():
            rng = np.random.default_rng([cfg.seed, zlib.crc32(s.encode())])
            k = lab_ok & np.isfinite(q)
            rho = S.bootstrap_spearman(q[k], label[k], people[k], cfg.bootstrap, rng)
            row["models"][m] = {
                "scores": S.summary(q[m_], thresholds.get(m, {}), cfg.bootstrap, cfg.seed),
                "spearman": rho[0],
                "spearman_ci": [rho[1], rho[2]],
                "edc": _edc_row(np.minimum(q[gi], q[gj]), sims, thr) if len(gi) else None,
            }
        groups[s] = row
    ok = np.isfinite(label)
    residual = {
        m: S.residual_test(q[ok], label[ok], sets[ok], people[ok], cfg.bootstrap, cfg.seed)
        for m, q in score.items()
    }
    rng = np.random.default_rng(cfg.seed)
    pick = rng.permutation(np.flatnonzero(ok))[:4000]
    return {
        "threshold": thr,
        "impostor_pairs": int(len(imp)),
        "groups": groups,
        "residual": residual,
        "skipped": skipped,
        "plot": {
            "set": sets[pick].tolist(),
            "label": np.round(label[pick], 4).tolist(),
            "scores": {m: np.round(q[pick], 4).tolist() for m, q in score.items()},
            "all_sets": sets.tolist(),
            "all_scores": {m: np.round(q, 4).tolist() for m, q in score.items()},
            "all_labels": np.round(label, 4).tolist(),
        },
    }
