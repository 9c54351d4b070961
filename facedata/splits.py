"""Which images go where: training identities and held-out identities.

Training: every CelebA-subset identity, the LFW identities of View-2 folds 1-5, the Pins
identities not held out and the FaceScrub actors (the last two from the extra folder, see
facedata.extra; skipped with a note when it is absent). Held out, for evaluation only: the LFW
identities of folds 6-10 (the ten folds have disjoint identities) and a fixed quarter of the Pins
identities (facedata.extra.pins_heldout). People who are in a held-out LFW fold are dropped from
the extra training sources, and Pins people who are in a training LFW fold are not held out, so
no held-out person is trained on under another name. (CelebA identities are numbers; whether a
CelebA person is also in LFW or Pins cannot be checked here.)

Paths are relative (``lfw/images/...`` to the data root, ``pins/...`` and ``facescrub/...`` to the
extra folder) so the labels file is portable.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from facedata.extra import default_root, facescrub_identities, pins_heldout, pins_identities
from facedata.lfw import people_of_folds

# FaceScrub's file-name prefixes and the people they are, for the overlap check with LFW
FACESCRUB_NAMES = {
    "baldwin": "Alec Baldwin",
    "bracco": "Lorraine Bracco",
    "butler": "Gerard Butler",
    "carell": "Steve Carell",
    "chenoweth": "Kristin Chenoweth",
    "drescher": "Fran Drescher",
    "ferrera": "America Ferrera",
    "gilpin": "Peri Gilpin",
    "hader": "Bill Hader",
    "harmon": "Angie Harmon",
    "radcliffe": "Daniel Radcliffe",
    "vartan": "Michael Vartan",
}


@dataclass(frozen=True)
class Item:
    relpath: str  # e.g. "lfw/images/X/X_0001.jpg" or "pins/train/pins_X/X0_0.jpg"
    identity: str  # "lfw/X", "celeba/1234", "pins/X" or "facescrub/baldwin"
    split: str  # "train" or "heldout"


def _images(folder: Path) -> list[str]:
    return sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))


def _lfw_name(name: str) -> str:
    return name.replace(" ", "_")


def collect(
    data_root: Path,
    min_images: int = 2,
    max_train_per_id: int = 40,
    max_heldout_per_id: int = 20,
    max_identities: int | None = None,
    extra_root: Path | None = None,
    extra_train_per_id: int = 100,
    extra_heldout_per_id: int = 40,
) -> list[Item]:
    """The labelled image list. Identities with fewer than ``min_images`` images are skipped
    (a leave-one-out identity centre needs at least two). Per-identity caps keep a few very
    frequent people (George W Bush has 530 LFW images) from dominating; the first images in
    sorted order are taken, so the list is deterministic. ``max_identities`` (per source and
    split) makes the tiny subsets CI uses."""
    data_root = Path(data_root)
    celeba = data_root / "celeba-subset" / "images"
    lfw = data_root / "lfw" / "images"
    pairs = data_root / "lfw" / "pairs.txt"
    lfw_train, lfw_held = set(people_of_folds(pairs, False)), set(people_of_folds(pairs, True))
    groups: list[tuple[str, str, list[str], str]] = []  # (identity, split, paths, cap kind)
    groups += [
        (
            f"celeba/{n}",
            "train",
            [f"celeba-subset/images/{n}/{f}" for f in _images(celeba / n)],
            "train",
        )
        for n in sorted(os.listdir(celeba))
    ]
    for names, split in ((sorted(lfw_train), "train"), (sorted(lfw_held), "heldout")):
        groups += [
            (f"lfw/{n}", split, [f"lfw/images/{n}/{f}" for f in _images(lfw / n)], split)
            for n in names
        ]
    pins = pins_identities(extra_root)
    scrub = facescrub_identities(extra_root)
    if not pins and not scrub:
        print(
            f"note: no extra photos under {extra_root or default_root()} "
            "(python -m facedata.extra); labelling LFW and CelebA only",
            file=sys.stderr,
        )
    held = pins_heldout(list(pins)) - {n for n in pins if _lfw_name(n) in lfw_train}
    for n, paths in pins.items():
        if _lfw_name(n) in lfw_held:
            continue
        split = "heldout" if n in held else "train"
        groups.append((f"pins/{n}", split, paths, "extra_" + split))
    for n, paths in scrub.items():
        if _lfw_name(FACESCRUB_NAMES.get(n, n)) not in lfw_held:
            groups.append((f"facescrub/{n}", "train", paths, "extra_train"))
    caps = {
        "train": max_train_per_id,
        "heldout": max_heldout_per_id,
        "extra_train": extra_train_per_id,
        "extra_heldout": extra_heldout_per_id,
    }
    items: list[Item] = []
    kept: dict[tuple[str, str], int] = {}
    for ident, split, paths, cap in groups:
        source = ident.split("/", 1)[0]
        if len(paths) < min_images:
            continue
        if max_identities is not None and kept.get((source, split), 0) >= max_identities:
            continue
        kept[(source, split)] = kept.get((source, split), 0) + 1
        items += [Item(p, ident, split) for p in paths[: caps[cap]]]
    return items
