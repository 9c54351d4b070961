"""Face alignment: the five-point template and the native similarity warp, public so that
training, evaluation and other recognisers (e.g. a 112×112 ArcFace-type model) cut exactly the
crops the scorer cuts.

    >>> from tinyfq_native.align import align
    >>> crop = align(photo_bgr, landmarks, size=112, mean=127.5, std=127.5)  # (3, 112, 112)
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from tinyfq_native import _core
from tinyfq_native._core import estimate_similarity, preprocess

__all__ = [
    "ARCFACE_112",
    "LANDMARK_ORDER",
    "template",
    "align",
    "estimate_similarity",
    "preprocess",
]

# The five-point template of the widely used ArcFace/insightface 112×112 aligned crop
# (left eye, right eye, nose, left and right mouth corner, as the image shows them). Crops that
# common pipelines produce follow it, so they score correctly as crops.
ARCFACE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
LANDMARK_ORDER = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def template(size: int) -> list[list[float]]:
    """The ArcFace 112×112 template scaled to ``size`` pixels with pixel centres kept aligned:
    t' = (t + 0.5) * size / 112 - 0.5 (what resizing the crop does)."""
    t = np.asarray(ARCFACE_112, np.float64)
    out: list[list[float]] = ((t + 0.5) * size / 112.0 - 0.5).round(5).tolist()
    return out


def _channels(v: float | Sequence[float]) -> list[float]:
    vals = [float(v)] * 3 if isinstance(v, (int, float, np.number)) else [float(x) for x in v]
    if len(vals) != 3:
        raise ValueError(f"mean/std need 1 or 3 values, got {len(vals)}")
    return vals


def align(
    image: np.ndarray,
    landmarks: np.ndarray,
    *,
    size: int = 112,
    mean: float | Sequence[float] = 127.5,
    std: float | Sequence[float] = 127.5,
    colour_order: str = "rgb",
    format: str = "bgr",
) -> np.ndarray:
    """The (3, size, size) float32 crop of the face whose five ``landmarks`` (5×2, image
    pixels) are given: the similarity warp onto :func:`template`, then (pixel − mean) / std in
    ``colour_order`` ("rgb" or "bgr"). ``image`` is uint8 in ``format`` ("bgr", "rgb", grey or
    4-channel as :meth:`Scorer.score` takes)."""
    if colour_order not in ("rgb", "bgr"):
        raise ValueError(f"colour_order must be 'rgb' or 'bgr', got {colour_order!r}")
    spec = {
        "input": {
            "size": int(size),
            "mean": _channels(mean),
            "std": _channels(std),
            "colour_order": colour_order,
        },
        "alignment": {"template": template(int(size)), "landmark_order": list(LANDMARK_ORDER)},
        "output": {"blob": "unused"},
    }
    return _core.preprocess(image, landmarks, model_json=json.dumps(spec), format=format)
