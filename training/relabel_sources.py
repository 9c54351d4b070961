"""The identity-labelled sets of facedata.extra_sources as photos for training.relabel
(``--sources nuaa,casia5,...``): which photos, which split, and the detection that gives them
the landmarks an earlier labels.csv would have.

- Identities are the source's (``yaleb/yaleB11``); a fixed quarter of each source's people
  (rounded, at least one of two or more) is held out: those whose name has the lowest CRC-32
  (``facedata.extra.pins_heldout``'s hash, ranked per source so that a 5- or 15-person set is
  not left to the hash's luck). A function of the source's people, which its pinned commit
  fixes; a person added or removed moves at most one other across the line. The others are
  ``train``.
- Per identity the first ``max_per_id`` photos in sorted path order; identities with >= 2.
- Their rows carry no landmarks: the relabel worker detects the largest face with the native
  YuNet detector at label.py's minimum face size (``detect``) and uses its five landmarks, box
  and score. A photo without a face is cached with status ``no_face`` and never retried.
  Extended Yale B's 168×192 grey tight crops need no padding or upscaling: on the first 10
  photos of each of its 38 people the detector finds 342 of 380 faces as they are, 334 with the
  crop padded by its own size (replicated border), 341 upscaled 2× (the misses are the darkest
  lightings).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

NEW_SOURCES = ("nuaa", "casia5", "blackpink", "idols13", "kpop15", "bollywood", "asian", "yaleb")
HELDOUT_FRACTION = 0.25
DETECTOR = "native YuNet (tinyfq_native.Detector, max_side 320, min_face {}), largest face"


def parse_sources(sources: str) -> list[str]:
    """The names of ``--sources`` (comma-separated; "" = none), each checked."""
    names = [s.strip() for s in sources.split(",") if s.strip()]
    bad = [s for s in names if s not in NEW_SOURCES]
    if bad:
        raise ValueError(f"--sources: {bad} not among {','.join(NEW_SOURCES)}")
    return names


def heldout_people(names: list[str]) -> set[str]:
    """The held-out quarter of one source's identities: the round(n / 4) (half up) names with
    the lowest CRC-32, ties by name; independent of the order they come in."""
    ranked = sorted(set(names), key=lambda n: (zlib.crc32(n.encode()), n))
    return set(ranked[: int(len(ranked) * HELDOUT_FRACTION + 0.5)])


def source_photos(sources: str, extra: str | Path, splits: str, max_per_id: int) -> list[dict]:
    """Rows (relpath, identity, split; no landmarks, box or score yet) of the photos of
    ``sources`` in ``splits``: the first ``max_per_id`` of each identity in sorted order,
    identities with >= 2 of them. A source that is not extracted under ``extra`` is an error."""
    from facedata.extra import identities

    keep = set(splits.split(","))
    rows = []
    for source in parse_sources(sources):
        people = identities(source, Path(extra))
        if not people:
            raise FileNotFoundError(
                f"--sources {source}: nothing extracted under {Path(extra) / source} "
                "(python -m facedata.extra)"
            )
        held = heldout_people(list(people))
        for ident, paths in people.items():
            split = "heldout" if ident in held else "train"
            if split in keep and len(paths[:max_per_id]) >= 2:
                rows += [
                    {"relpath": p, "identity": ident, "split": split, "det_score": "", "box": ""}
                    for p in paths[:max_per_id]
                ]
    return rows


def source_of(relpath: str) -> str:
    return relpath.split("/", 1)[0]


def make_detector():
    from tinyfq_native import Detector
    from training.config import LabelConfig

    return Detector(min_face=LabelConfig.min_face_size)


def detect(det, img: np.ndarray) -> tuple[np.ndarray, tuple, float] | None:
    """(5×2 landmarks, box (x, y, w, h), score) of the largest face, or None."""
    face = det.largest(img)
    if face is None:
        return None
    return np.asarray(face.landmarks, np.float32).reshape(5, 2), tuple(face.box), face.confidence


def source_counts(src: list[dict], recs: dict, labelled: list[tuple[dict, float]]) -> dict:
    """Per new source: the photos and people listed, the photos the detector found no face in
    (or that did not read), and the photos and people that got labels (``labelled``: the rows
    written and their labels), with the mean label of those originals."""
    out: dict[str, dict] = {}
    for s in src:
        if s.get("landmarks"):  # an earlier labels.csv row
            continue
        c = out.setdefault(
            source_of(s["relpath"]),
            {"photos": 0, "people": set(), "no_face": 0, "unreadable": 0},
        )
        c["photos"] += 1
        c["people"].add(s["identity"])
        status = recs.get((s["relpath"], 0), {}).get("status")
        if status in ("no_face", "unreadable"):
            c[status] += 1
    for c in out.values():
        c["people"] = len(c["people"])
        c["labelled_photos"], c["labelled_people"], c["label_mean_original"] = 0, set(), []
    for r, lab in labelled:
        c = out.get(source_of(r["relpath"]))
        if c is not None and r["copy"] == 0 and r["variant"] == "original":
            c["labelled_photos"] += 1
            c["labelled_people"].add(r["identity"])
            c["label_mean_original"].append(lab)
    for c in out.values():
        c["labelled_people"] = len(c["labelled_people"])
        m = c["label_mean_original"]
        c["label_mean_original"] = round(float(np.mean(m)), 4) if m else None
    return out
