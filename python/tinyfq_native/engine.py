"""The scoring engine: the one place that calls the native batch scorers and decodes what they
return. Paths (or encoded images) in, one :class:`Result` per input (per face with
``all_faces``) out, in input order, each with a :class:`Status` from the core.

It owns what every batch user needs: chunking, native parallelism (the next chunk is scored
while the caller consumes this one), detection, and Ctrl-C (the first one stops at once: results
already yielded stay whole, nothing half-made follows, and KeyboardInterrupt reaches the
caller). :class:`~tinyfq_native.Scorer`'s file methods, the CLI and Ray Data are views over it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np

from tinyfq_native import _core
from tinyfq_native._core import Status as Status
from tinyfq_native.detect import Detector, Face

CHUNK = 256
NO_LANDMARKS = "no landmarks given for this file"  # the message of a path a mapping lacks
#: The statuses of an input that could not be scored at all (as opposed to ok and no_face).
FAILED = frozenset({Status.missing, Status.invalid, Status.unsupported})

Box = tuple[float, float, float, float]
Landmarks = Optional[Any]  # None, an (N, 5, 2) array, a sequence of (5, 2), or path -> (5, 2)


@dataclass(frozen=True)
class Result:
    """One input's outcome. ``score`` is None unless ``status`` is ``Status.ok``; ``message``
    says why otherwise. With detection, ``box`` (x, y, w, h), ``landmarks`` (5, 2) and the
    detector's ``confidence`` of the face scored; with ``all_faces`` there is one Result per
    face, ``face`` its index (largest first)."""

    path: str
    score: float | None
    status: Status
    message: str = ""
    face: int | None = None
    box: Box | None = None
    confidence: float | None = None
    landmarks: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The face's quality factors (name -> value, :mod:`tinyfq_native.factors`) when asked for.
    factors: dict[str, float] | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        """A bad input (missing, not decodable, unsupported), as opposed to scored or without
        a face."""
        return self.status in FAILED

    def as_face(self) -> Face | None:
        """The detected face this result scored, as a :class:`Face` (None without detection)."""
        if self.box is None or self.landmarks is None or self.confidence is None:
            return None
        score = float("nan") if self.score is None else self.score
        return Face(self.box, self.landmarks, self.confidence, score)


def resolve_workers(workers: int) -> int:
    """The native worker count for ``workers`` (-1 = all cores, as 0 tells the core)."""
    if not isinstance(workers, (int, np.integer)) or workers == 0 or workers < -1:
        raise ValueError(f"workers must be -1 (all cores) or a positive count, got {workers!r}")
    return 0 if workers == -1 else int(workers)


def check_detect(landmarks: object, detect: bool, all_faces: bool) -> None:
    """Refuse option combinations that mean nothing."""
    if all_faces and not detect:
        raise ValueError("all_faces=True needs detect=True")
    if detect and landmarks is not None:
        raise ValueError("pass landmarks or detect=True, not both")


def as_paths(paths: object) -> list[str]:
    """A list of path strings (bytes decoded as the file system does, so names that are not
    valid UTF-8 survive as surrogate escapes). A single path is refused: iterating over it
    would give its characters."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(
            f"paths must be a sequence of paths, not a single path ({paths!r}); wrap it in a list"
        )
    if not isinstance(paths, Iterable):
        raise TypeError(f"paths must be a sequence of paths, got {type(paths).__name__}")
    return [os.fsdecode(p) for p in paths]


def _native_paths(paths: list[str]) -> list[bytes]:
    """The file system's bytes of each path: what the native code opens (a name that is not
    valid UTF-8 has no UTF-8 str; its bytes always exist)."""
    return [os.fsencode(p) for p in paths]


def _messages(raw: list[bytes]) -> list[str]:
    """Native messages may quote a path's bytes: decode them as the file system does."""
    return [os.fsdecode(m) for m in raw]


def _face_results(path: str, rows: np.ndarray, all_faces: bool) -> list[Result]:
    """The Results of one image's native face rows (largest first), decoded by
    :meth:`Face.from_row`, the one reader of the row layout."""
    faces = [Face.from_row(r) for r in (rows if all_faces else rows[:1])]
    return [
        Result(
            path,
            f.score,
            Status.ok,
            "",
            i if all_faces else None,
            f.box,
            f.confidence,
            f.landmarks,
        )
        for i, f in enumerate(faces)
    ]


class Engine:
    """Batch scoring over one native scorer. ``detector`` is called for the native detector
    the first time a call detects (so a scorer that never detects never builds one)."""

    def __init__(self, native: Any, detector: Callable[[], Detector]):
        self._native = native
        self._detector = detector

    def _lookup(
        self, landmarks: Landmarks, paths: list[str], start: int
    ) -> list[np.ndarray | None]:
        if isinstance(landmarks, Mapping):
            return [landmarks.get(p, landmarks.get(os.path.abspath(p))) for p in paths]
        assert landmarks is not None
        return [np.asarray(landmarks[start + i], np.float32) for i in range(len(paths))]

    def chunk(
        self,
        paths: list[str],
        lms: list[np.ndarray | None] | None,
        detect: bool,
        all_faces: bool,
        workers: int,
        factors: bool = False,
    ) -> list[list[Result]]:
        """Score ``paths`` natively (``workers`` as the core counts them): per path its
        Results (one, or one per face). ``lms``: None (crops, or detect) or per path its
        (5, 2) landmarks or None (none given: an ``invalid`` result). ``factors``: each
        Result with its face's quality factors."""
        todo = paths if lms is None else [p for p, lm in zip(paths, lms) if lm is not None]
        done: Iterator[list[Result]]
        if factors:
            done = self._factor_results(todo, lms, detect, all_faces, workers)
        elif detect:
            rows, msgs, status = (
                self._native.score_files_faces(
                    self._detector()._native, _native_paths(todo), all_faces, workers
                )
                if todo
                else ([], [], [])
            )
            done = iter(
                _face_results(p, r, all_faces)
                if Status(int(st)) == Status.ok
                else [Result(p, None, Status(int(st)), m)]
                for p, r, m, st in zip(todo, rows, _messages(msgs), status)
            )
        else:
            stack = None
            if lms is not None:
                given = [lm for lm in lms if lm is not None]
                stack = np.stack(given) if given else None
            scores, msgs, status = (
                self._native.score_files(_native_paths(todo), stack, workers)
                if todo
                else ([], [], [])
            )
            done = iter(
                [
                    Result(p, float(s), Status.ok)
                    if Status(int(st)) == Status.ok
                    else Result(p, None, Status(int(st)), m)
                ]
                for p, s, m, st in zip(todo, scores, _messages(msgs), status)
            )
        if lms is None:
            return list(done)
        return [
            next(done) if lm is not None else [Result(p, None, Status.invalid, NO_LANDMARKS)]
            for p, lm in zip(paths, lms)
        ]

    def _factor_results(
        self,
        todo: list[str],
        lms: list[np.ndarray | None] | None,
        detect: bool,
        all_faces: bool,
        workers: int,
    ) -> Iterator[list[Result]]:
        """Per path of ``todo`` its Results with their factors, each file decoded once by the
        native score_files_factors (at full size: ``reduced_decode`` does not apply)."""
        given = [lm for lm in lms or [] if lm is not None]
        rows, msgs, status = (
            _core.score_files_factors(
                self._native,
                _native_paths(todo),
                np.stack(given) if given else None,
                self._detector()._native if detect else None,
                all_faces,
                workers,
            )
            if todo
            else ([], [], [])
        )
        names = _core.factor_names()

        def results(p: str, r: np.ndarray) -> list[Result]:
            if not detect:
                return [
                    Result(
                        p, float(r[0, 15]), Status.ok, factors=dict(zip(names, r[0, 16:].tolist()))
                    )
                ]
            return [
                replace(res, factors=dict(zip(names, row[16:].tolist())))
                for res, row in zip(_face_results(p, r[:, :16], all_faces), r)
            ]

        return iter(
            results(p, r) if st == Status.ok else [Result(p, None, st, m)]
            for p, r, m, st in zip(todo, rows, _messages(msgs), status)
        )

    def images(
        self,
        names: Sequence[str],
        images: Sequence[np.ndarray | BaseException],
        *,
        detect: bool,
        all_faces: bool = False,
        workers: int = 1,
        format: str = "bgr",
    ) -> list[list[Result]]:
        """Score decoded images (crops, or photos with ``detect``): per image its Results.
        An entry that is an exception (its decoding failed) becomes an ``invalid`` Result, or
        ``unsupported`` when the decoder said so, with the exception's message."""
        good = [i for i, im in enumerate(images) if not isinstance(im, BaseException)]
        arrays = [images[i] for i in good]
        out: list[list[Result]] = [[] for _ in images]
        for i, im in enumerate(images):
            if isinstance(im, BaseException):
                out[i] = [Result(names[i], None, status_of_error(im), f"{names[i]}: {im}")]
        if not arrays:
            return out
        if detect:
            rows = self._native.score_faces(
                self._detector()._native, arrays, all_faces, workers, format
            )
            for i, r in zip(good, rows):
                out[i] = _face_results(names[i], r, all_faces) or [
                    Result(names[i], None, Status.no_face, "no face found")
                ]
        else:
            scores = self._native.score_batch(arrays, None, workers, format)
            for i, s in zip(good, scores):
                out[i] = [Result(names[i], float(s), Status.ok)]
        return out

    def stream(
        self,
        paths: Iterable[Any],
        landmarks: Landmarks = None,
        *,
        detect: bool = False,
        all_faces: bool = False,
        workers: int = -1,
        progress: bool = False,
        desc: str = "score",
        factors: bool = False,
    ) -> Iterator[Result]:
        """See :meth:`Scorer.score_paths`."""
        paths = _checked(paths, landmarks, detect, all_faces)
        nworkers = resolve_workers(workers)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(paths), unit="img", file=sys.stderr, desc=desc)
        pool = ThreadPoolExecutor(max_workers=1)
        pending = None
        try:
            for start in range(0, len(paths) + CHUNK, CHUNK):
                job = None
                part = paths[start : start + CHUNK]
                if part:
                    lms = None if landmarks is None else self._lookup(landmarks, part, start)
                    job = pool.submit(self.chunk, part, lms, detect, all_faces, nworkers, factors)
                if pending is not None:
                    # the native scorer (GIL released) works on the next chunk meanwhile
                    for per_path in pending.result():
                        yield from per_path
                        if bar is not None:
                            bar.update(1)
                pending = job
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            if bar is not None:
                bar.close()

    def files(
        self,
        paths: Iterable[Any],
        landmarks: Landmarks = None,
        *,
        detect: bool = False,
        all_faces: bool = False,
        workers: int = -1,
        factors: bool = False,
    ) -> list[list[Result]]:
        """Every path's Results at once (per path a list: one Result, or one per face)."""
        paths = _checked(paths, landmarks, detect, all_faces)
        lms = None if landmarks is None else self._lookup(landmarks, paths, 0)
        return self.chunk(paths, lms, detect, all_faces, resolve_workers(workers), factors)


def _checked(
    paths: Iterable[Any], landmarks: Landmarks, detect: bool, all_faces: bool
) -> list[str]:
    """``paths`` as a list of strings, once the options and the landmarks' count are checked."""
    check_detect(landmarks, detect, all_faces)
    out = as_paths(paths)
    if landmarks is not None and not isinstance(landmarks, Mapping) and len(landmarks) != len(out):
        raise ValueError(f"landmarks: {len(landmarks)} for {len(out)} paths")
    return out


def status_of_error(error: BaseException) -> Status:
    """The Status of an exception a decoder or scorer raised for one input."""
    if isinstance(error, FileNotFoundError):
        return Status.missing
    if isinstance(error, _core.UnsupportedError):
        return Status.unsupported
    return Status.invalid
