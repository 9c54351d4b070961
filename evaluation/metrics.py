"""Verification and quality-assessment metrics: TAR at FAR, balanced accuracy, the error-versus-
discard curve (EDC) and its partial area, rank correlation."""

from __future__ import annotations

import numpy as np


def rank01(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(v) / len(v)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else float("nan")


def spearman_within(a: np.ndarray, b: np.ndarray, groups: np.ndarray, min_size: int = 5) -> float:
    """The mean over groups (people) of Spearman's correlation within each group with at least
    ``min_size`` members: how well a score orders one person's photos, which is what choosing
    the best frame of a sequence asks, free of how the score ranks people against each other.
    NaN when no group is that large; a group whose scores are all tied counts as 0."""
    groups = np.asarray(groups)
    rhos = []
    for g in np.unique(groups):
        k = groups == g
        if k.sum() >= min_size:  # tied scores order nothing (and spearmanr would warn)
            rhos.append(spearman(a[k], b[k]) if np.ptp(a[k]) > 0 and np.ptp(b[k]) > 0 else 0.0)
    return float(np.mean(rhos)) if rhos else float("nan")


def spearman_between(a: np.ndarray, b: np.ndarray, groups: np.ndarray, min_size: int = 5) -> float:
    """Spearman's correlation between the groups' (people's) means of ``a`` and of ``b``, over
    the groups with at least ``min_size`` members: how a score ranks people against each other,
    the part of the all-photo Spearman that ``spearman_within`` leaves out."""
    groups = np.asarray(groups)
    big = [g for g in np.unique(groups) if (groups == g).sum() >= min_size]
    return spearman(
        np.array([a[groups == g].mean() for g in big]),
        np.array([b[groups == g].mean() for g in big]),
    )


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


def edc(
    quality: np.ndarray, genuine: np.ndarray, comparison: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(discard fraction, FNMR) over genuine pairs, discarding lowest quality first; pairs
    with equal quality are discarded together (as edc.py does)."""
    q = quality[genuine]
    miss = comparison[genuine] < threshold
    order = np.argsort(q, kind="stable")
    q, miss = q[order], miss[order]
    n = len(q)
    fractions, fnmr = [0.0], [miss.mean()]
    uniq_ends = np.flatnonzero(np.r_[q[1:] != q[:-1], True]) + 1  # end of each tie group
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
