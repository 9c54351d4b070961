"""LFW's View-2 protocol file (pairs.txt): ten folds of 300 same-person and 300
different-person pairs, with disjoint identities across folds."""

from __future__ import annotations

from pathlib import Path

Pair = tuple[str, int, str, int]  # (name1, image number 1, name2, image number 2)


def read_pairs(pairs_txt: str | Path) -> list[list[Pair]]:
    """The pairs of each fold, in file order (genuine pairs first in each fold)."""
    lines = Path(pairs_txt).read_text().split("\n")
    n_folds, n = map(int, lines[0].split())
    folds: list[list[Pair]] = []
    i = 1
    for _ in range(n_folds):
        fold = []
        for _ in range(2 * n):
            p = lines[i].split()
            i += 1
            fold.append(
                (p[0], int(p[1]), p[0], int(p[2]))
                if len(p) == 3
                else (p[0], int(p[1]), p[2], int(p[3]))
            )
        folds.append(fold)
    return folds


def fold_identities(pairs_txt: str | Path) -> list[set[str]]:
    """Identities of each fold."""
    return [{p[0] for p in fold} | {p[2] for p in fold} for fold in read_pairs(pairs_txt)]


TRAINING_FOLDS = 5  # folds 1-5: training's LFW people; folds 6-10: held out for evaluation


def people_of_folds(pairs_txt: str | Path, heldout: bool) -> list[str]:
    """The people of the held-out folds (6-10), whom training never sees and every evaluation
    protocol uses, or of the training folds (1-5), sorted by name."""
    folds = fold_identities(pairs_txt)
    chosen = folds[TRAINING_FOLDS:] if heldout else folds[:TRAINING_FOLDS]
    return sorted(set().union(*chosen))


def image_path(name: str, number: int) -> str:
    """Path of image ``number`` of ``name``, relative to the LFW root."""
    return f"images/{name}/{name}_{number:04d}.jpg"
