"""The face-recognition model that defines the quality labels (paper Eq. 1).

Default: an ArcFace-type MobileFaceNet (128-d, 0.99M parameters, most likely InsightFace-Paddle's
MS1M-v2 model; ../shared/models/fr/mobilefacenet_paddle.onnx), run with onnxruntime on the
112×112 ArcFace crop that the runtime's own warp cuts (tinyfq_native.align), BGR,
(x − 127.5) / 127.5. Why this one (numbers in ../shared/models/README.md and training/README.md):
on aligned crops of people outside our data it verifies at 97.7% (TAR 89.8% at FAR 1e-3) where
FaceNet-CASIA, the first labeller, reaches 89.1% (29%); the other ArcFace-type model there
(w600k MobileFaceNet, 98.2% / 93.7%) is only slightly stronger, its centre-cosine labels agree
with this one's at Spearman 0.90–0.96, an ensemble of the two gains nothing measurable (EER 2.0%
vs 2.2%), and it costs 2–3× more per face (int8 TFLite, ~50 ms vs ~15 ms on one core here), which
would have limited how many photos and copies we could label.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from training.config import REPO

MODEL = REPO.parent / "shared" / "models" / "fr" / "mobilefacenet_paddle.onnx"
SHA256 = "6ced4e0c36abba9dd24b48d725f7dbb94089f75b3d3445d3d67b85157cb64743"
NAME = (
    "MobileFaceNet ArcFace 128-d (mobilefacenet_paddle.onnx, sha256 6ced4e0c…), "
    "112×112 ArcFace crop by tinyfq_native.align, BGR, (x − 127.5) / 127.5"
)
SIZE = 112


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Labeller:
    """Embeds aligned crops; one onnxruntime session with ``threads`` threads."""

    def __init__(self, path: str | Path = MODEL, threads: int = 1, check: bool = True):
        import onnxruntime as ort

        if check and file_sha256(path) != SHA256:
            raise ValueError(
                f"{path}: not the labelling model this pipeline records (sha256 {SHA256})"
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name

    @staticmethod
    def crop(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The model's input for one face: (3, 112, 112) float32."""
        from tinyfq_native.align import align

        return align(image_bgr, landmarks, size=SIZE, mean=127.5, std=127.5, colour_order="bgr")

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings (N, 128) of (N, 3, 112, 112) crops."""
        f = self._sess.run(None, {self._input: np.ascontiguousarray(crops, np.float32)})[0]
        return (f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)).astype(np.float32)
