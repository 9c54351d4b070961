"""The scoring engine: paths in, one :class:`Result` per input out, in input order.

It owns what every batch user needs: chunking, native parallelism (the next chunk is scored
while the caller consumes this one), detection, the translation of native errors into a
:class:`Status`, and Ctrl-C (the first one stops at once: results already yielded stay whole,
nothing half-made follows, and KeyboardInterrupt reaches the caller).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tinyfq_native._core import Status

if TYPE_CHECKING:
    from tinyfq_native._scorer import Scorer

CHUNK = 256
NO_LANDMARKS = "no landmarks given for this file"  # the message of a path a mapping lacks


@dataclass(frozen=True)
class Result:
    """One input's outcome. ``score`` is None unless ``status`` is ``Status.ok``; ``message``
    says why otherwise. With ``all_faces`` there is one Result per face, ``face`` its index
    (largest first), ``box`` (x, y, w, h) and the detector's ``confidence``."""

    path: str
    score: float | None
    status: Status
    message: str = ""
    face: int | None = None
    box: tuple[float, float, float, float] | None = None
    confidence: float | None = None

    @property
    def failed(self) -> bool:
        """A bad input (missing or not decodable), as opposed to scored or without a face."""
        return self.status in (Status.missing, Status.invalid)


def resolve_workers(workers: int) -> int:
    """The native worker count for ``workers`` (-1 = all cores, as 0 tells the core)."""
    if not isinstance(workers, (int, np.integer)) or workers == 0 or workers < -1:
        raise ValueError(f"workers must be -1 (all cores) or a positive count, got {workers!r}")
    return 0 if workers == -1 else int(workers)


def native_paths(paths: list[str]) -> list[bytes]:
    """The file system's bytes of each path: what the native code opens (a name that is not
    valid UTF-8 has no UTF-8 str; its bytes always exist)."""
    return [os.fsencode(p) for p in paths]


def messages(raw: list[bytes]) -> list[str]:
    """Native messages may quote a path's bytes: decode them as the file system does."""
    return [os.fsdecode(m) for m in raw]


def as_paths(paths) -> list[str]:
    """A list of path strings (bytes decoded as the file system does, so names that are not
    valid UTF-8 survive as surrogate escapes). A single path is refused: iterating over it
    would give its characters."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(
            f"paths must be a sequence of paths, not a single path ({paths!r}); wrap it in a list"
        )
    return [os.fsdecode(p) for p in paths]


def _lookup(landmarks, paths: list[str], start: int) -> list[np.ndarray | None]:
    if isinstance(landmarks, Mapping):
        return [landmarks.get(p, landmarks.get(os.path.abspath(p))) for p in paths]
    return [np.asarray(landmarks[start + i], np.float32) for i in range(len(paths))]


def _chunk_results(
    scorer: Scorer,
    chunk: list[str],
    lms: list | None,
    detect: bool,
    all_faces: bool,
    workers: int,
) -> list[list[Result]]:
    """Score one chunk natively; per path its Results (one, or one per face). ``lms``: None
    (crops, or detect) or per path its (5, 2) landmarks or None (none given: an error row)."""
    if lms is None:
        lms = [True] * len(chunk)
        stack = None
    else:
        given = [lm for lm in lms if lm is not None]
        stack = np.stack(given) if given else None
    todo = [p for p, lm in zip(chunk, lms) if lm is not None]
    out: list[list[Result]] = []
    if detect:
        rows, msgs, status = (
            scorer._native.score_files_faces(
                scorer.detector._native, native_paths(todo), all_faces, workers
            )
            if todo
            else ([], [], [])
        )
        done = iter(zip(rows, messages(msgs), status))
    else:
        scores, msgs, kinds = (
            scorer._native.score_files(native_paths(todo), stack, workers) if todo else ([], [], [])
        )
        done = iter(zip(scores, messages(msgs), kinds))
    for p, lm in zip(chunk, lms):
        if lm is None:
            out.append([Result(p, None, Status.invalid, NO_LANDMARKS)])
        elif detect:
            rows_, msg, st = next(done)
            st = Status(int(st))
            if st != Status.ok:
                out.append([Result(p, None, st, msg)])
                continue
            faces = rows_ if all_faces else rows_[:1]
            out.append(
                [
                    Result(
                        p,
                        float(r[15]),
                        Status.ok,
                        "",
                        i if all_faces else None,
                        tuple(float(v) for v in r[:4]),
                        float(r[4]),
                    )
                    for i, r in enumerate(faces)
                ]
            )
        else:
            s, msg, kind = next(done)
            st = Status(int(kind))
            out.append([Result(p, float(s) if st == Status.ok else None, st, msg)])
    return out


def score_paths(
    scorer: Scorer,
    paths: Iterable,
    landmarks=None,
    *,
    detect: bool = False,
    all_faces: bool = False,
    workers: int = -1,
    progress: bool = False,
    desc: str = "score",
) -> Iterator[Result]:
    """See :meth:`Scorer.score_paths`."""
    from tinyfq_native._scorer import check_detect

    check_detect(landmarks, detect, all_faces)
    paths = as_paths(paths)
    nworkers = resolve_workers(workers)
    if (
        landmarks is not None
        and not isinstance(landmarks, Mapping)
        and len(landmarks) != len(paths)
    ):
        raise ValueError(f"landmarks: {len(landmarks)} for {len(paths)} paths")
    bar = None
    if progress:
        import sys

        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="img", file=sys.stderr, desc=desc)
    pool = ThreadPoolExecutor(max_workers=1)
    pending = None
    try:
        for start in range(0, len(paths) + CHUNK, CHUNK):
            job = None
            chunk = paths[start : start + CHUNK]
            if chunk:
                lms = None if landmarks is None else _lookup(landmarks, chunk, start)
                job = pool.submit(_chunk_results, scorer, chunk, lms, detect, all_faces, nworkers)
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
