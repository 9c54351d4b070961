"""The fairness report's statistics (evaluation/fairness.py): the UTKFace group binning, the
per-set photo selection, a monotone (isotonic) fit, bootstrap intervals that resample people,
and the residual test that flags a group scored lower than its recognisability warrants.
Plain numpy and scipy, no face data: tested on synthetic numbers."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np

from evaluation.metrics import spearman

#: UTKFace's races (the file name's third field, 0-4) and genders (the second, 0-1), in code
#: order, as the report names them.
RACES = ("White", "Black", "Asian", "Indian", "Others")
GENDERS = ("male", "female")
#: Age groups: (label, lowest age, highest age), inclusive.
AGE_GROUPS = (("0-12", 0, 12), ("13-19", 13, 19), ("20-39", 20, 39), ("40-59", 40, 59))
OLDEST = "60+"


def age_group(age: int) -> str:
    """The age group of an age in years: 0-12, 13-19, 20-39, 40-59 or 60+."""
    if age < 0:
        raise ValueError(f"an age is at least 0, got {age}")
    for label, lo, hi in AGE_GROUPS:
        if lo <= age <= hi:
            return label
    return OLDEST


def _named(value, names: tuple[str, ...]) -> str | None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return names[value] if 0 <= value < len(names) else None
    if isinstance(value, str):
        v = value.strip().lower()
        for n in names:
            if v == n.lower() or (n == "Others" and v == "other"):
                return n
    return None


def race_name(value) -> str | None:
    """UTKFace's race as the report names it, from its code (0-4) or a name ("white", ...,
    "other"); None for anything else."""
    return _named(value, RACES)


def gender_name(value) -> str | None:
    """UTKFace's gender, "male" or "female", from its code (0-1) or name; None otherwise."""
    return _named(value, GENDERS)


def age_order() -> list[str]:
    return [g[0] for g in AGE_GROUPS] + [OLDEST]


def select_photos(
    people: dict[str, list[str]], budget: int, min_images: int
) -> dict[str, list[str]]:
    """At most about ``budget`` photos of a set, spread over as many people as it allows:
    people with at least ``min_images`` photos, in a stable order (a hash of the name, so the
    choice does not move when people are added), each with k = max(min_images,
    ceil(budget / people)) of their photos evenly spaced through their sorted list (frames
    of a video are not taken back to back); people are added until the budget is reached."""
    ok = {n: sorted(p) for n, p in people.items() if len(p) >= min_images}
    if not ok:
        return {}
    k = max(min_images, math.ceil(budget / len(ok)))
    out: dict[str, list[str]] = {}
    total = 0
    for name in sorted(ok, key=lambda n: (zlib.crc32(n.encode()), n)):
        if total >= budget:
            break
        photos = ok[name]
        if len(photos) > k:
            idx = np.unique(np.round(np.linspace(0, len(photos) - 1, k)).astype(int))
            photos = [photos[i] for i in idx]
        out[name] = photos
        total += len(photos)
    return out


def isotonic(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The least-squares non-decreasing fit of y on x (pool adjacent violators), as a function
    that interpolates linearly between the fitted points of the distinct x values and is flat
    beyond them."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        raise ValueError("isotonic: no points")
    xs, inv = np.unique(x, return_inverse=True)
    w = np.bincount(inv).astype(float)
    m = np.bincount(inv, weights=y) / w
    # pool adjacent violators over the distinct x values: blocks of (mean, weight, count)
    means, weights, counts = [], [], []
    for mi, wi in zip(m, w):
        means.append(mi)
        weights.append(wi)
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            w2 = weights[-2] + weights[-1]
            means[-2] = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w2
            weights[-2] = w2
            counts[-2] += counts[-1]
            del means[-1], weights[-1], counts[-1]
    fitted = np.repeat(means, counts)
    return lambda v: np.interp(np.asarray(v, float), xs, fitted)


def people_index(people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct people, index of each photo's person)."""
    return np.unique(np.asarray(people), return_inverse=True)


def bootstrap_mean(
    values: np.ndarray, people: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """(mean, 2.5th and 97.5th percentile of the mean over ``n_boot`` resamples of the people,
    each resampled person bringing all their photos)."""
    values = np.asarray(values, float)
    names, idx = people_index(people)
    sums = np.bincount(idx, weights=values, minlength=len(names))
    counts = np.bincount(idx, minlength=len(names)).astype(float)
    draw = rng.integers(len(names), size=(n_boot, len(names)))
    boot = sums[draw].sum(1) / counts[draw].sum(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(values.mean()), float(lo), float(hi)


def bootstrap_spearman(
    a: np.ndarray, b: np.ndarray, people: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """(Spearman of a and b, its 95% interval over resamples of the people)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    names, idx = people_index(people)
    rows = [np.flatnonzero(idx == i) for i in range(len(names))]
    boot = []
    for _ in range(n_boot):
        take = np.concatenate([rows[i] for i in rng.integers(len(names), size=len(names))])
        boot.append(spearman(a[take], b[take]))
    boot = np.array(boot)
    boot = boot[np.isfinite(boot)]
    lo, hi = np.percentile(boot, [2.5, 97.5]) if len(boot) else (float("nan"),) * 2
    return spearman(a, b), float(lo), float(hi)


def residual_test(
    score: np.ndarray,
    label: np.ndarray,
    group: np.ndarray,
    people: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Is any group scored lower than its recognisability warrants?

    One monotone curve score = f(label) is fitted on every group's photos together; a group's
    residual is the mean of score - f(label) over its photos, with a 95% bootstrap interval
    that resamples the group's people (f stays fixed). A group is **flagged** when the whole
    interval lies below 0. The reverse check fits label = h(score) the same way: a group whose
    faces are more recognisable than their scores say has label - h(score) above 0. With a
    noisy label the forward test alone leans towards flagging groups whose labels are low on
    average (their scores are pulled towards their own mean, not the pooled one); a flag that
    the reverse check confirms does not come from that."""
    score, label = np.asarray(score, float), np.asarray(label, float)
    group, people = np.asarray(group), np.asarray(people)
    ok = np.isfinite(score) & np.isfinite(label)
    score, label, group, people = score[ok], label[ok], group[ok], people[ok]
    f, h = isotonic(label, score), isotonic(score, label)
    fwd, rev = score - f(label), label - h(score)
    rng = np.random.default_rng(seed)
    out: dict = {"photos": int(ok.sum()), "groups": {}}
    for g in dict.fromkeys(group.tolist()):
        m = group == g
        mean, lo, hi = bootstrap_mean(fwd[m], people[m], n_boot, rng)
        rmean, rlo, rhi = bootstrap_mean(rev[m], people[m], n_boot, rng)
        out["groups"][g] = {
            "photos": int(m.sum()),
            "people": len(set(people[m].tolist())),
            "residual": mean,
            "ci": [lo, hi],
            "flagged": bool(hi < 0),
            "reverse_residual": rmean,
            "reverse_ci": [rlo, rhi],
            "reverse_agrees": bool(rlo > 0),
        }
    grid = np.linspace(label.min(), label.max(), 60)
    out["curve"] = {"label": grid.round(5).tolist(), "score": f(grid).round(5).tolist()}
    return out


def summary(scores: np.ndarray, thresholds: dict[str, float], n_boot: int, seed: int) -> dict:
    """n, median with a 95% bootstrap interval (resampling photos), quartiles, and the share
    below each threshold, of the finite scores."""
    s = np.asarray(scores, float)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return {"n": 0}
    rng = np.random.default_rng(seed)
    boot = [np.median(s[rng.integers(len(s), size=len(s))]) for _ in range(n_boot)]
    q25, med, q75 = np.percentile(s, [25, 50, 75])
    return {
        "n": int(len(s)),
        "median": float(med),
        "median_ci": [float(v) for v in np.percentile(boot, [2.5, 97.5])],
        "q25": float(q25),
        "q75": float(q75),
        "below": {k: float((s < t).mean()) for k, t in thresholds.items()},
    }
