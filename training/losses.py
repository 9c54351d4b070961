"""The training objective's parts beside the L2 regression (training.train): same-photo pairs
of an original and its degraded copy, the rank loss across a batch or within one person's
photos, the groups of one person's originals that term draws, and the tone curve whose mild
versions must not move an original's score."""

from __future__ import annotations

import numpy as np

ORIGINALS = ("original", "earlier-original")


def degradation_pairs(rows: list[dict], kinds: str = "") -> list[tuple[tuple, tuple, float]]:
    """(original's key, copy's key, label drop) for every copy of a photo whose original is
    labelled too; with ``kinds`` (comma-separated steps such as ``crop/jpeg``) only copies
    whose degradation chain has one of those steps. A copy (degraded, jittered, non-face) is
    never more recognisable than the photo it was made from; the labeller's drop says by how
    much. Within one photo the identity, pose and person-level label noise cancel, so the
    pairs carry the signal that a regression on absolute labels averages away (small drops
    such as crop-scale JPEG's)."""
    orig = {r["relpath"]: r for r in rows if r.get("variant", "original") in ORIGINALS}
    wanted = [k for k in kinds.split(",") if k]
    pairs = []
    for r in rows:
        o = orig.get(r["relpath"])
        if o is not None and r is not o and r.get("variant", "original") not in ORIGINALS:
            steps = [s.split(":")[0] for s in (r.get("degradation") or "").split(" > ")]
            if wanted and not any(k in steps for k in wanted):
                continue
            drop = float(np.clip(o["label"], 0, 1) - np.clip(r["label"], 0, 1))
            pairs.append(((o["relpath"], o["copy"]), (r["relpath"], r["copy"]), drop))
    return sorted(pairs)


def _each_persons_originals(rows: list[dict], value) -> dict[str, list]:
    """identity -> ``value(row)`` of each of that person's originals, in row order."""
    by_id: dict[str, list] = {}
    for r in rows:
        if r.get("variant", "original") in ORIGINALS:
            by_id.setdefault(r["identity"], []).append(value(r))
    return by_id


def person_originals(rows: list[dict]) -> list[list[tuple]]:
    """The keys of each person's originals, for every person with at least two: the clean
    photos whose order within one person the ``--person-rank-weight`` term teaches. Eq. 1's
    label compares each photo with its own identity's centre, so between two photos of one
    person the label's order is free of how typical the person is."""
    by_id = _each_persons_originals(rows, lambda r: (r["relpath"], r["copy"]))
    return [sorted(v) for _, v in sorted(by_id.items()) if len(v) >= 2]


def person_offsets(rows: list[dict], strength: float) -> dict[str, float]:
    """Per identity, the shift that moves the mean label of its originals ``strength`` of the
    way to the mean over people: ``strength`` 1 leaves no person better on average than another,
    0 changes nothing. Every row of a person moves by the same amount, so the order and the gaps
    within one person (its photos, its degraded copies) stay as Eq. 1 gave them. A person's mean
    label says how alike their photos are, which a net sees photo by photo only by learning who
    they are: the ``--person-centring`` option of ``training.train``."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"--person-centring {strength}: from 0 (off) to 1 (every person alike)")
    by_id = _each_persons_originals(rows, lambda r: float(r["label"]))
    if not by_id:
        return {}
    means = {i: float(np.mean(v)) for i, v in by_id.items()}
    centre = float(np.mean(list(means.values())))
    return {i: strength * (centre - m) for i, m in means.items()}


def draw_groups(table, counts, n_groups: int, k: int, gen):
    """``n_groups`` people drawn at random, ``k`` of each one's photos drawn with replacement
    (a photo drawn twice has no pair with itself: equal labels are never ordered): the flat
    row indices into ``table`` (people × most photos, padded) and each row's group number."""
    import torch

    who = torch.randint(len(counts), (n_groups,), generator=gen)
    pos = (torch.rand(n_groups, k, generator=gen) * counts[who][:, None]).long()
    return table[who[:, None], pos].reshape(-1), torch.arange(n_groups).repeat_interleave(k)


def pair_loss(s_orig, s_copy, drop, margin: float):
    """Squared hinge: the model's drop from original to copy must be at least the labeller's
    drop, and at least ``margin``; a larger drop costs nothing here (the regression keeps the
    scale)."""
    return ((drop.clamp(min=margin) - (s_orig - s_copy)).clamp(min=0) ** 2).mean()


def rank_loss(score, label, gap: float, group=None):
    """Squared hinge over every pair of photos whose labels differ by more than ``gap``: the
    better-labelled one must score above the other by at least half their label difference.
    Only the order counts, so across people it asks what Spearman measures, where the
    regression spends itself on the scale of the copies' labels. With ``group`` (one integer
    per photo) only pairs within a group count: photos of one person, whose identity centre
    is common to both labels."""
    dy = label[:, None] - label[None, :]
    ds = score[:, None] - score[None, :]
    m = dy > gap
    if group is not None:
        m = m & (group[:, None] == group[None, :])
    if not bool(m.any()):
        return score.sum() * 0.0
    return ((0.5 * dy[m] - ds[m]).clamp(min=0) ** 2).mean()


def tone_curve(x, gamma):
    """Network inputs ((pixel - MEAN) / STD, training.export's) after the tone curve
    255 * (pixel / 255) ** gamma, one gamma per row: above 1 darkens, below 1 brightens, 0 and
    255 stay put."""
    import torch

    from training.export import MEAN, STD

    mean, std = MEAN[0], STD[0]  # one value for every channel
    px = (x * std + mean).clamp(0.0, 255.0) / 255.0
    g = torch.as_tensor(gamma, dtype=x.dtype).reshape(-1, 1, 1, 1)
    return (255.0 * px**g - mean) / std
