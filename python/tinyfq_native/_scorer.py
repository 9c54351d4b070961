"""The public Scorer: the native core plus paths, model files and error handling."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from tinyfq_native import _core
from tinyfq_native.calibration import Calibration
from tinyfq_native.detect import Detector, Face
from tinyfq_native.engine import Engine, Result, Status, check_detect, resolve_workers

PathLike = Union[str, "os.PathLike[str]"]


def default_model_info() -> dict[str, Any]:
    """Metadata (the exporter's JSON sidecar) of the model embedded in the library."""
    info: dict[str, Any] = json.loads(_core.embedded_model_json())
    return info


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
    """What :meth:`Scorer.score_files_faces` found in one file: its :class:`Status` and,
    when it is not ``ok``, a ``message`` saying why."""

    path: str
    status: Status
    message: str
    faces: list[Face]


def _first_scores(per_input: list[list[Result]]) -> np.ndarray:
    """The score of each input's first Result (its largest face with detection), NaN where
    it has none."""
    return np.array(
        [np.nan if rs[0].score is None else rs[0].score for rs in per_input], np.float32
    )


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
        self.info: dict[str, Any] = json.loads(self._native.model_json)
        self._detector = detector
        self._engine = Engine(self._native, lambda: self.detector)

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
        self._engine = Engine(self._native, lambda: self.detector)
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
    ) -> Any:
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
    ) -> Any:
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
        names = [f"images[{i}]" for i in range(len(images))]
        per_image = self._engine.images(
            names,
            list(images),
            detect=True,
            all_faces=all_faces,
            workers=resolve_workers(workers),
            format=format,
        )
        if all_faces:
            return [[f for r in rs if (f := r.as_face()) is not None] for rs in per_image]
        return _first_scores(per_image)

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
        ValueError for one that does not decode or is unsupported); ``errors="nan"``: bad
        files score NaN. Use :meth:`score_files_detailed` for the reason of each failure.
        """
        if errors not in ("raise", "nan"):
            raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
        per_path = self._engine.files(paths, landmarks, detect=detect, workers=workers)
        if errors == "raise":
            for rs in per_path:
                if rs[0].status == Status.missing:
                    raise FileNotFoundError(rs[0].message)
                if rs[0].failed:
                    raise ValueError(rs[0].message)
        return _first_scores(per_path)

    def score_files_detailed(
        self,
        paths: Iterable[PathLike],
        landmarks: Any = None,
        *,
        workers: int = -1,
        detect: bool = False,
    ) -> tuple[np.ndarray, list[str], list[Status]]:
        """(scores with NaN for failures, error message per file ('' when scored), a
        :class:`Status` per file: ok, missing, invalid (not decodable or bad input),
        unsupported (a valid file of a variant the decoders do not handle), no_face
        (``detect=True``)). Never raises for a bad file."""
        per_path = self._engine.files(paths, landmarks, detect=detect, workers=workers)
        return (
            _first_scores(per_path),
            [rs[0].message for rs in per_path],
            [rs[0].status for rs in per_path],
        )

    def score_paths(
        self,
        paths: Iterable[PathLike],
        landmarks: Any = None,
        *,
        detect: bool = False,
        all_faces: bool = False,
        workers: int = -1,
        progress: bool = False,
        factors: bool = False,
    ) -> Iterator[Result]:
        """Score image files (JPEG/PNG/BMP/PNM), yielding one :class:`Result` per path in
        input order (with ``all_faces``, one per face found), as soon as its chunk is done.

        ``landmarks``: None (the files are aligned crops, or ``detect=True``), a sequence of
        (5, 2) arrays (one per path), or a mapping path -> (5, 2) (a path it lacks gets an
        ``invalid`` result). Never raises for a bad file; each Result's ``status`` and
        ``message`` say what happened. Work runs in chunks on ``workers`` native threads while
        the caller consumes the previous chunk; ``progress=True`` shows a bar on stderr. A
        KeyboardInterrupt stops it at once: the results yielded so far are complete.
        ``factors=True``: each Result carries its face's quality factors (``Result.factors``;
        the files are then decoded once at full size, whatever ``reduced_decode`` says).
        """
        return self._engine.stream(
            paths,
            landmarks,
            detect=detect,
            all_faces=all_faces,
            workers=workers,
            progress=progress,
            factors=factors,
        )

    def score_files_faces(
        self, paths: Iterable[PathLike], *, all_faces: bool = True, workers: int = -1
    ) -> list[FileFaces]:
        """Decode, detect and score files in parallel: per file its :class:`Face` list
        (every face, or only the largest with ``all_faces=False``), largest first, each with
        its score. Never raises for a bad file: see each result's ``status`` and ``message``."""
        per_path = self._engine.files(paths, detect=True, all_faces=all_faces, workers=workers)
        return [
            FileFaces(
                rs[0].path,
                rs[0].status,
                rs[0].message,
                [f for r in rs if (f := r.as_face()) is not None],
            )
            for rs in per_path
        ]

    def preprocess(
        self, image: np.ndarray, landmarks: np.ndarray | None = None, *, format: str = "bgr"
    ) -> np.ndarray:
        """The normalised (3, S, S) float32 network input this scorer feeds the model."""
        return self._native.preprocess(image, landmarks, format)

    def score_tensor(self, tensor: np.ndarray) -> Any:
        """Score already preprocessed input: (3, S, S) → float, (N, 3, S, S) → array."""
        return self._native.score_tensor(tensor)

    def factors(
        self,
        image: np.ndarray,
        landmarks: np.ndarray | None = None,
        *,
        format: str = "bgr",
        detect: bool = False,
    ) -> dict[str, float]:
        """The quality factors of one face as a dict name -> value (definitions in
        :mod:`tinyfq_native.factors`): of an aligned crop, of the face with these landmarks in
        a photo, or with ``detect=True`` of the largest face the detector finds, with its box
        and confidence (every value NaN when there is none). NaN where the input does not give
        a factor (a crop's pose, the confidence without detection)."""
        check_detect(landmarks, detect, False)
        if not detect:
            return _core.factors(image, landmarks, format)
        faces = self.detect(image, format=format)
        if not faces:
            return {name: math.nan for name in _core.factor_names()}
        f = faces[0]
        return _core.factors(image, f.landmarks, format, f.box, f.confidence)

    @property
    def calibration(self) -> Calibration | None:
        """The model's calibration table (:mod:`tinyfq_native.calibration`), None when its
        sidecar has none."""
        return Calibration.of(self.info)

    def _calibrated(self) -> Calibration:
        cal = self.calibration
        if cal is None:
            raise ValueError(
                f"model {self.info.get('version')!r} has no calibration table in its sidecar "
                "(python -m evaluation.calibrate writes one)"
            )
        return cal

    def expected_fnmr(self, score: Any, fmr: float = 1e-3, recogniser: str = "arcface") -> Any:
        """The expected false non-match rate at false match rate ``fmr`` (1e-2, 1e-3 or 1e-4)
        of a face with this score (a number or an array), compared by ``recogniser``
        ("arcface" or "dlib") with a face at least as good: the model's calibration table on
        held-out people, interpolated (:mod:`tinyfq_native.calibration`)."""
        return self._calibrated().expected_fnmr(score, fmr, recogniser)

    def unified_quality(self, score: Any) -> Any:
        """The unified quality of a score, 0-100: ``100 × (1 − expected FNMR)`` for the
        calibration's unified recogniser and FMR; monotone in the score."""
        return self._calibrated().unified(score)
