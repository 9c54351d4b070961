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


def unit(f: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    return (f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)).astype(np.float32)


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

    def raw(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings (N, 128) of (N, 3, 112, 112) crops before L2 normalisation (their norm is
        what training.teacher reads)."""
        f = self._sess.run(None, {self._input: np.ascontiguousarray(crops, np.float32)})[0]
        return np.asarray(f, np.float32)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings (N, 128) of (N, 3, 112, 112) crops."""
        return unit(self.raw(crops))


W600K_MODEL = REPO.parent / "shared" / "models" / "fr" / "w600k_mbf.tflite"
W600K_SHA256 = "d1e8fd20a1322b2b6071e031ee1e38eea6d0c8f18b4f3de7653218143bd6f37f"
W600K_NAME = (
    "InsightFace buffalo_sc w600k MobileFaceNet ArcFace 512-d (w600k_mbf.tflite, int8 weights, "
    "sha256 d1e8fd20…), 112×112 ArcFace crop by tinyfq_native.align, RGB, (x − 127.5) / 127.5"
)


class W600kLabeller:
    """The stronger labeller (WebFace600K MobileFaceNet, TFLite via ai-edge-litert); one
    interpreter with ``threads`` threads. The TFLite graph takes one face at a time (its XNNPack
    delegate cannot be resized to a batch), so :meth:`embed` loops."""

    name = W600K_NAME

    def __init__(self, path: str | Path = W600K_MODEL, threads: int = 1, check: bool = True):
        from ai_edge_litert.interpreter import Interpreter

        if check and file_sha256(path) != W600K_SHA256:
            raise ValueError(f"{path}: not the w600k_mbf model (sha256 {W600K_SHA256})")
        self._it = Interpreter(model_path=str(path), num_threads=threads)
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]

    @staticmethod
    def crop(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The model's input for one face: (3, 112, 112) float32, RGB."""
        from tinyfq_native.align import align

        return align(image_bgr, landmarks, size=SIZE, mean=127.5, std=127.5, colour_order="rgb")

    @staticmethod
    def from_crop(crop_bgr: np.ndarray) -> np.ndarray:
        """The model's input from an aligned 112×112 uint8 BGR crop: (3, 112, 112) float32."""
        x = crop_bgr[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)
        return (x - 127.5) / 127.5

    def raw(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings (N, 512) of (N, 3, 112, 112) crops before L2 normalisation."""
        out = []
        for c in np.asarray(crops, np.float32):
            self._it.set_tensor(self._in, np.ascontiguousarray(c[None]))
            self._it.invoke()
            out.append(self._it.get_tensor(self._out)[0].copy())
        return np.stack(out).astype(np.float32)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings (N, 512) of (N, 3, 112, 112) crops."""
        return unit(self.raw(crops))


def from_crop_bgr(crop_bgr: np.ndarray) -> np.ndarray:
    """mobilefacenet_paddle's input from an aligned 112×112 uint8 BGR crop (BGR, ±1)."""
    return (crop_bgr.transpose(2, 0, 1).astype(np.float32) - 127.5) / 127.5


def make_labeller(name: str, threads: int = 1):
    """ "w600k" (:class:`W600kLabeller`) or "mbf" (:class:`Labeller`, mobilefacenet_paddle)."""
    if name == "w600k":
        return W600kLabeller(threads=threads)
    if name == "mbf":
        lab = Labeller(threads=threads)
        lab.name = NAME  # type: ignore[attr-defined]
        lab.from_crop = staticmethod(from_crop_bgr)  # type: ignore[method-assign]
        return lab
    raise ValueError(f"unknown labeller {name!r}: 'w600k' or 'mbf'")
