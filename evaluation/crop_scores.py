"""Protocol 4's measures for any score of its crops, outside the protocol's run.

``python -m evaluation --protocols crops`` scores exported quality models. A score that is not
an exported model (a quality teacher on the labelling model's embedding, training.teacher, via
scripts/teacher_protocol4.py) is measured here on the same photos, copies and verifier labels:
Spearman with dlib's label on the clean crops, and clean > degraded for each kind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.metrics import spearman


def protocol4_reference(cfg) -> tuple[list[tuple[str, str, np.ndarray]], np.ndarray, np.ndarray]:
    """The protocol's photos (identity, relpath, MTCNN landmarks) in its order, the mask of the
    verified ones (people with >= ``cfg.crop_template_min`` photos) and the verifier's labels of
    their clean crops (from the protocol's cache: run the protocol once first)."""
    from evaluation.crops import (
        CropCache,
        chosen_kind,
        crop_photos,
        specs_of,
        verified_mask,
        verifier_labels,
    )
    from facedata.lfw import people_of_folds

    held = people_of_folds(Path(cfg.data) / "lfw" / "pairs.txt", heldout=True)
    photos = crop_photos(cfg, set(held))
    verified = verified_mask(cfg, photos)
    rels = [p[1] for p, v in zip(photos, verified) if v]
    ids = np.array([p[0] for p, v in zip(photos, verified) if v])
    cache = CropCache(Path(cfg.cache) / "aligned-crops.jsonl", ())
    missing = [r for r in rels if (r + "|") not in cache.rows or "dlib" not in cache.get(r, "")]
    if missing:
        raise ValueError(
            f"{len(missing)} protocol-4 crops lack the verifier's embedding in {cache.path}: "
            "run `python -m evaluation --protocols crops` first"
        )
    dspec = [specs_of(r)[chosen_kind(r)] for r in rels]
    return photos, verified, verifier_labels(cache, ids, rels, dspec)[2]


def measure(
    clean: np.ndarray, degraded: dict[str, np.ndarray], verified: np.ndarray, label: np.ndarray
) -> dict:
    """Spearman of the clean scores of the verified photos with the verifier's ``label``, and
    per kind the share of photos whose clean crop scores above its degraded copy (ties count
    one half), as the protocol reports them."""
    from evaluation.crops import _better

    better = {k: round(_better(clean, d), 4) for k, d in degraded.items()}
    better["all kinds"] = round(float(np.mean(list(better.values()))), 4)
    sp = spearman(clean[verified], label)
    return {"spearman_clean": round(float(sp), 4), "clean_beats_degraded": better}
