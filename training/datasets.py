"""Which images go where: training identities and held-out identities.

Training: every CelebA-subset identity, plus the LFW identities of View-2 folds 1-5.
Held out: the LFW identities of folds 6-10 (the ten folds have disjoint identities), used only
for evaluation. Paths are relative to the data root (``../shared/data``) so the labels file is
portable.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from facedata.lfw import fold_identities


@dataclass(frozen=True)
class Item:
    relpath: str      # relative to the data root, e.g. "lfw/images/X/X_0001.jpg"
    identity: str     # "lfw/X" or "celeba/1234"
    split: str        # "train" or "heldout"


def _images(folder: Path) -> list[str]:
    return sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))


def collect(data_root: Path, min_images: int = 2, max_train_per_id: int = 40,
            max_heldout_per_id: int = 20, max_identities: int | None = None) -> list[Item]:
    """The labelled image list. Identities with fewer than ``min_images`` images are skipped
    (a leave-one-out identity centre needs at least two). Per-identity caps keep a few very
    frequent people (George W Bush has 530 LFW images) from dominating; the first images in
    sorted order are taken, so the list is deterministic. ``max_identities`` (per source)
    makes the tiny subsets CI uses."""
    data_root = Path(data_root)
    items: list[Item] = []
    celeba = data_root / "celeba-subset" / "images"
    lfw = data_root / "lfw" / "images"
    folds = fold_identities(data_root / "lfw" / "pairs.txt")
    groups = [  # (source, folder, identity names, identity prefix, split, cap)
        ("celeba-subset", celeba, sorted(os.listdir(celeba)), "celeba", "train", max_train_per_id),
        ("lfw", lfw, sorted(set().union(*folds[:5])), "lfw", "train", max_train_per_id),
        ("lfw", lfw, sorted(set().union(*folds[5:])), "lfw", "heldout", max_heldout_per_id),
    ]
    for source, root, names, prefix, split, cap in groups:
        kept = 0
        for name in names:
            if max_identities is not None and kept >= max_identities:
                break
            files = _images(root / name)
            if len(files) < min_images:
                continue
            kept += 1
            items += [Item(f"{source}/images/{name}/{f}", f"{prefix}/{name}", split)
                      for f in files[:cap]]
    return items
