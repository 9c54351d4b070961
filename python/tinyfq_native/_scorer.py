"""The public Scorer: the native core plus paths, model files and error handling."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from tinyfq_native import _core
from tinyfq_native.detect import Detector, Face
from tinyfq_native.engine import (
    Result,
    Status,
    as_paths,
    messages,
    native_paths,
    resolve_workers,
    score_paths,
)

PathLike = Union[str, "os.PathLike[str]"]


def default_model_info() -> dict:
    """Metadata (the exporter's JSON sidecar) of the model embedded in the library."""
    return json.loads(_core.embedded_model_json())


def _model_files(model: PathLike) -> tuple[Path, Path, Path]:
    """``model`` names a sidecar (``x.json``), a param file (``x.ncnn.param``), their common
    stem (``x``), or a folder holding exactly one ``*.ncnn.param``."""
    p = Path(model)
    if p.is_dir():
        params = sorted(p.glob("*.ncnn.param"))
        if len(params) != 1:
            raise FileNotFoundError(
                f"{p}: expected one *.ncnn.param in the folder, found {len(params)}"
            )
        p = params[0]
    name = p.name
    for suffix in (".ncnn.param", ".ncnn.bin", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = p.with_name(name)
    files = (
        stem.with_name(name + ".ncnn.param"),
        stem.with_name(name + ".ncnn.bin"),
        stem.with_name(name + ".json"),
    )
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"model file not found: {f}")
    return files


@dataclass(frozen=True)
class FileFaces:
    """What :meth:`Scorer.score_files_faces` found in one file: ``status`` is "ok",
    "missing", "invalid" or "no_face"; ``message`` says why when it is not "ok"."""

    path: str
    status: str
    message: str
    faces: list[Face]


def check_detect(landmarks, detect: bool, all_faces: bool) -> None:
    if all_faces and not detect:
        raise ValueError("all_faces=True needs detect=True")
    if detect and landmarks is not None:
        raise ValueError("pass landmarks or detect=True, not both")


def _largest_scores(rows: list[np.ndarray]) -> np.ndarray:
    """The score of each image's largest face (NaN where none was found), from the native
    face rows (largest first; the score is column 15)."""
    return np.array([r[0, 15] if len(r) else np.nan for r in rows], np.float32)


class Scorer:
    """Face image quality with tinyFQnet.

    Args:
        model: ``None`` for the trained default model compiled into the library, or a path to
            an exported model (``name.ncnn.param`` + ``name.ncnn.bin`` + ``name.json``; pass any
            of them, their stem, or their folder).
        fp16: use ncnn's fp16 storage/arithmetic where the CPU has it, for models exported as a
            plain graph of stock ncnn layers: faster on ARMv8.2+, scores differ by ~1e-3. The
            fused layers of the default model always compute in fp32 (PyTorch to ~1e-6).
        reduced_decode: let :meth:`score_files` decode a JPEG at 1/2, 1/4 or 1/8 of its size
            (libjpeg's DCT scaling) when the face keeps at least the model's resolution: a crop
            at least ``input_size`` pixels on both sides, a face with landmarks at least one
            pixel per template pixel. Less decoding work, but the scores move: the reduced
            image is low-pass filtered, the full-size path resamples without a filter, and the
            model notices (on LFW taken as crops |Δ| is 0.022 on average and up to 0.15;
            ``bench/decode_lfw.py``). Off by default. Arrays passed to :meth:`score` and
            :meth:`score_batch` are never affected.
        exif_orientation: files (:meth:`score_files` and the other file methods) are decoded
            upright as their EXIF Orientation tag says, as viewers show them (default); False
            scores them as stored.

    Images are numpy uint8 arrays as OpenCV gives them: (H, W, 3) BGR, (H, W) grey or
    (H, W, 4) BGRA; pass ``format="rgb"`` for RGB/RGBA. Without landmarks an image is taken as
    an aligned face crop (the ArcFace/insightface five-point 112×112 template, any size); with
    landmarks (5×2: left eye, right eye, nose, left and right mouth corner, in image pixels) it
    is a full photo, warped to the model's template. With ``detect=True`` the face is found by
    the native detector (``detector``, default :class:`Detector` ()) and warped by its landmarks.
    Scorers are thread-safe; batch calls release the GIL and run on ``workers`` threads
    (-1 = all cores).
    """

    def __init__(
        self,
        model: PathLike | None = None,
        *,
        fp16: bool = False,
        reduced_decode: bool = False,
        detector: Detector | None = None,
        exif_orientation: bool = True,
    ):
        options = dict(fp16=fp16, reduced_decode=reduced_decode, exif_orientation=exif_orientation)
        if model is None:
            self._native = _core.Scorer(**options)
        else:
            param, weights, sidecar = _model_files(model)
            self._native = _core.Scorer(str(param), str(weights), str(sidecar), **options)
        self.model = None if model is None else str(model)
        self.info: dict = json.loads(self._native.model_json)
        self._detector = detector

    @classmethod
    def from_memory(
        cls,
        param: str,
        weights: bytes,
        sidecar: str,
        *,
        fp16: bool = False,
        reduced_decode: bool = False,
        detector: Detector | None = None,
    ) -> Scorer:
        """A model from memory: the ncnn .param text, the .bin bytes and the JSON sidecar text
        (e.g. read from an archive or a device's flash)."""
        self = cls.__new__(cls)
        self._native = _core.Scorer.from_memory(
            param, weights, sidecar, fp16=fp16, reduced_decode=reduced_decode
        )
        self.model = "<memory>"
        self.info = json.loads(self._native.model_json)
        self._detector = detector
        return self

    @property
    def detector(self) -> Detector:
        """The face detector used by ``detect=True`` calls (made on first use)."""
        if self._detector is None:
            self._detector = Detector()
        return self._detector

    def detect(self, image: np.ndarray, *, format: str = "bgr") -> list[Face]:
        """The faces in a photo, largest first (see :class:`Detector`)."""
        return self.detector.detect(image, format=format)

    def __repr__(self) -> str:
        return (
            f"Scorer(model={self.model or '<embedded default>'}, "
            f"version={self.info.get('version')!r})"
        )

    @property
    def input_size(self) -> int:
        return self._native.input_size

    @property
    def reduced_decode(self) -> bool:
        """Whether :meth:`score_files` may decode JPEGs at reduced resolution."""
        return self._native.reduced_decode

    def score(
        self,
        image: np.ndarray,
        landmarks: np.ndarray | None = None,
        *,
        format: str = "bgr",
        detect: bool = False,
        all_faces: bool = False,
    ):
        """Quality of one face in [0, 1]; higher means easier to recognise.

        ``detect=True``: the largest face the detector finds in the photo (NaN when there is
        none); with ``all_faces=True`` every face instead, as a list of :class:`Face` with
        their scores, largest first.
        """
        check_detect(landmarks, detect, all_faces)
        if not detect:
            return self._native.score(image, landmarks, format)
        one = self.score_batch([image], workers=1, format=format, detect=True, all_faces=all_faces)[
            0
        ]
        return one if all_faces else float(one)

    def score_batch(
        self,
        images: Sequence[np.ndarray],
        landmarks: np.ndarray | Sequence[np.ndarray] | None = None,
        *,
        workers: int = -1,
        format: str = "bgr",
        detect: bool = False,
        all_faces: bool = False,
    ):
        """Qualities of many faces as a float32 array, scored in parallel. ``landmarks``: None
        (all crops), an (N, 5, 2) array or a sequence of N (5, 2) arrays.

        ``detect=True``: each image's largest face (NaN where none is found); with
        ``all_faces=True`` a list per image of every :class:`Face`, scored.
        """
        check_detect(landmarks, detect, all_faces)
        if not detect:
            return self._native.score_batch(
                list(images), landmarks, resolve_workers(workers), format
            )
        rows = self._native.score_faces(
            self.detector._native, list(images), all_faces, resolve_workers(workers), format
        )
        if all_faces:
            return [[Face.from_row(r) for r in per] for per in rows]
        return _largest_scores(rows)

    def score_files(
        self,
        paths: Iterable[PathLike],
        landmarks: np.ndarray | Sequence[np.ndarray] | None = None,
        *,
        workers: int = -1,
        errors: str = "raise",
        detect: bool = False,
    ) -> np.ndarray:
        """Decode (JPEG/PNG/BMP/PNM) and score image files in parallel, in native code.
        With ``reduced_decode``, JPEGs larger than the face needs are decoded at reduced size.
        ``detect=True`` scores the largest face the detector finds in each photo (full-size
        decoding; NaN where no face is found — :meth:`score_files_faces` says which).

        ``errors="raise"``: the first bad file raises (FileNotFoundError for a missing file,
        ValueError for one that does not decode); ``errors="nan"``: bad files score NaN.
        Use :meth:`score_files_detailed` for the reason of each failure.
        """
        if errors not in ("raise", "nan"):
            raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
        scores, messages, kinds = self.score_files_detailed(
            paths, landmarks, workers=workers, detect=detect
        )
        if errors == "raise":
            for msg, kind in zip(messages, kinds):
                if kind == Status.missing:
                    raise FileNotFoundError(msg)
                if kind == Status.invalid:
                    raise ValueError(msg)
        return scores

    def score_files_detailed(
        self, paths: Iterable[PathLike], landmarks=None, *, workers: int = -1, detect: bool = False
    ) -> tuple[np.ndarray, list[str], list[Status]]:
        """(scores with NaN for failures, error message per file ('' when scored), a
        :class:`Status` per file: ok, missing, invalid (not decodable or bad input), no_face
        (``detect=True``)). Never raises for a bad file."""
        paths = as_paths(paths)
        if not detect:
            scores, msgs, kinds = self._native.score_files(
                native_paths(paths), landmarks, resolve_workers(workers)
            )
            return scores, messages(msgs), [Status(int(k)) for k in kinds]
        check_detect(landmarks, detect, False)
        rows, msgs, status = self._native.score_files_faces(
            self.detector._native, native_paths(paths), False, resolve_workers(workers)
        )
        return _largest_scores(rows), messages(msgs), list(status)

    def score_paths(
        self,
        paths: Iterable[PathLike],
        landmarks=None,
        *,
        detect: bool = False,
        all_faces: bool = False,
        workers: int = -1,
        progress: bool = False,
    ) -> Iterator[Result]:
        """Score image files (JPEG/PNG/BMP/PNM), yielding one :class:`Result` per path in
        input order (with ``all_faces``, one per face found), as soon as its chunk is done.

        ``landmarks``: None (the files are aligned crops, or ``detect=True``), a sequence of
        (5, 2) arrays (one per path), or a mapping path -> (5, 2) (a path it lacks gets an
        ``invalid`` result). Never raises for a bad file; each Result's ``status`` and
        ``message`` say what happened. Work runs in chunks on ``workers`` native threads while
        the caller consumes the previous chunk; ``progress=True`` shows a bar on stderr. A
        KeyboardInterrupt stops it at once: the results yielded so far are complete.
        """
        return score_paths(
            self,
            paths,
            landmarks,
            detect=detect,
            all_faces=all_faces,
            workers=workers,
            progress=progress,
        )

    def score_files_faces(
        self, paths: Iterable[PathLike], *, all_faces: bool = True, workers: int = -1
    ) -> list[FileFaces]:
        """Decode, detect and score files in parallel: per file its :class:`Face` list
        (every face, or only the largest with ``all_faces=False``), largest first, each with
        its score. Never raises for a bad file: see each result's ``status`` and ``message``."""
        paths = as_paths(paths)
        rows, msgs, status = self._native.score_files_faces(
            self.detector._native, native_paths(paths), all_faces, resolve_workers(workers)
        )
        return [
            FileFaces(p, st.name, msg, [Face.from_row(r) for r in rs])
            for p, rs, msg, st in zip(paths, rows, messages(msgs), status)
        ]

    def preprocess(
        self, image: np.ndarray, landmarks: np.ndarray | None = None, *, format: str = "bgr"
    ) -> np.ndarray:
        """The normalised (3, S, S) float32 network input this scorer feeds the model."""
        return self._native.preprocess(image, landmarks, format)

    def score_tensor(self, tensor: np.ndarray):
        """Score already preprocessed input: (3, S, S) → float, (N, 3, S, S) → array."""
        return self._native.score_tensor(tensor)
