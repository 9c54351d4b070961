"""Face detection with five landmarks, in native code: YuNet through ncnn.

YuNet (Wu, Peng, Yu: "YuNet: A Tiny Millisecond-level Face Detector", Machine Intelligence
Research 2023; Apache-2.0, see the NOTICE file) is a 75k-parameter anchor-free detector. Its
ONNX release was converted once to an ncnn graph (``scripts/convert_yunet.py``) and is compiled
into the library beside the quality model, so detection needs no OpenCV and no extra package.

Landmarks come in the alignment template's order: the eye on the image's left, the eye on the
image's right, nose tip, mouth corner on the left, mouth corner on the right, as (x, y) pixel
coordinates of the input image; they go straight into :meth:`Scorer.score`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyfq_native import _core


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box`` is (x, y, w, h) in image pixels, ``landmarks`` a (5, 2) float32 array,
    ``confidence`` the detector's sqrt(cls × obj) in [0, 1], and ``score`` its quality when it
    was scored (NaN otherwise).
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False)
    confidence: float
    score: float = math.nan

    @classmethod
    def from_row(cls, row: np.ndarray) -> Face:
        """A face from a native row: x, y, w, h, confidence, 10 landmark values[, score]."""
        x, y, w, h = (float(v) for v in row[:4])
        return cls(
            (x, y, w, h),
            row[5:15].reshape(5, 2).copy(),
            float(row[4]),
            float(row[15]) if len(row) > 15 else math.nan,
        )


class Detector:
    """YuNet face detector. Thread-safe: one detector serves every thread.

    Args:
        max_side: images are downscaled (never upscaled) so their longer side is at most this
            many pixels before detection (then padded to multiples of 32). The cost grows with
            its square; faces smaller than ~3% of the longer side are missed at the default.
            On LFW's 250×250 photos 160 finds as many faces as 320, but the landmarks move
            and the scores with them (docs/detection.md).
        score_threshold: the lowest confidence kept.
        nms_threshold: the IoU above which the weaker of two overlapping boxes is dropped.
        min_face: boxes whose longer side is below this many pixels are dropped.
    """

    def __init__(
        self,
        max_side: int = 320,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        min_face: float = 0.0,
    ):
        self._native = _core.Detector(
            max_side=max_side,
            score_threshold=score_threshold,
            nms_threshold=nms_threshold,
            min_face=min_face,
        )

    def __repr__(self) -> str:
        n = self._native
        return (
            f"Detector(max_side={n.max_side}, score_threshold={n.score_threshold:g}, "
            f"nms_threshold={n.nms_threshold:g}, min_face={n.min_face:g})"
        )

    @property
    def max_side(self) -> int:
        return self._native.max_side

    def prepare(self, image: np.ndarray, format: str = "bgr") -> tuple[np.ndarray, float, float]:
        """The network input (3, H, W) float32 (BGR 0-255, resized and padded to multiples of
        32) and the x and y scales from the photo to it: for checking against another runtime
        of the same ONNX model."""
        return self._native.prepare(image, format)

    def detect_prepared(
        self, tensor: np.ndarray, scale_x: float = 1.0, scale_y: float = 1.0
    ) -> np.ndarray:
        """Raw detections (N, 15: x, y, w, h, confidence, 10 landmark values) of a prepared
        input, mapped back by the scales :meth:`prepare` returned."""
        return self._native.detect_prepared(tensor, scale_x, scale_y)

    def detect_raw(self, image: np.ndarray, format: str = "bgr") -> np.ndarray:
        """:meth:`detect` as raw rows (N, 15), largest first."""
        return self._native.detect(image, format)

    def detect(self, image: np.ndarray, *, format: str = "bgr") -> list[Face]:
        """All faces in a uint8 image ((H, W, 3) BGR, (H, W) grey, (H, W, 4) BGRA; ``format=
        "rgb"`` for RGB/RGBA), largest box first."""
        return [Face.from_row(r) for r in self._native.detect(image, format)]

    def largest(self, image: np.ndarray, *, format: str = "bgr") -> Face | None:
        """The largest face, or None when there is none."""
        faces = self.detect(image, format=format)
        return faces[0] if faces else None
