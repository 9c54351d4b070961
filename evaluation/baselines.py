"""Hand-made quality measures the paper compares with (§4.3): blur, JPEG blockiness, pose, and
their mean-rank combination. The learned peers are in evaluation/peers.py."""

from __future__ import annotations

import numpy as np

from evaluation.metrics import rank01

PERCEPTUAL = ("blur", "jpeg", "pose")


def _face_grey(img: np.ndarray, box) -> np.ndarray:
    import cv2

    x, y, w, h = (int(round(v)) for v in box)
    crop = img[max(0, y) : y + h, max(0, x) : x + w]
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)


def blur_quality(img, box) -> float:
    """Variance of the Laplacian of the face region: low when blurred."""
    import cv2

    return float(cv2.Laplacian(_face_grey(img, box), cv2.CV_32F).var())


def jpeg_quality(img, box) -> float:
    """Minus the blockiness of the face region: how much stronger the luminance steps are
    across the 8-pixel JPEG block grid (aligned to the image origin) than inside blocks."""
    x0, y0 = int(round(box[0])), int(round(box[1]))
    g = _face_grey(img, box)
    if g.shape[0] < 17 or g.shape[1] < 17:
        return 0.0
    dx = np.abs(np.diff(g, axis=1)).mean(0)
    dy = np.abs(np.diff(g, axis=0)).mean(1)

    def ratio(d, offset):
        cols = (np.arange(len(d)) + max(0, offset)) % 8 == 7  # step between pixel 7 and 8
        return d[cols].mean() / max(d[~cols].mean(), 1e-3)

    return -float(ratio(dx, x0) + ratio(dy, y0)) / 2


def pose_quality(landmarks) -> float:
    """Minus |yaw|: the nose's horizontal offset from the eyes' midpoint, relative to the eye
    distance (0 for a frontal face)."""
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eye_mid = (lm[0] + lm[1]) / 2
    eye_dist = max(np.linalg.norm(lm[1] - lm[0]), 1e-3)
    return -abs(float(lm[2, 0] - eye_mid[0]) / eye_dist)


def add_combination(qs: dict[str, np.ndarray]) -> None:
    """The combination of the three (paper §4.3): the mean of their ranks."""
    qs["combination"] = (rank01(qs["blur"]) + rank01(qs["jpeg"]) + rank01(qs["pose"])) / 3
