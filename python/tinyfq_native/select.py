"""Best-face selection: keep the most recognisable frames of a template or a video track."""

from __future__ import annotations

import heapq
import itertools
import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinyfq_native._scorer import Scorer


@dataclass(frozen=True)
class Pick:
    """A selected frame: its position in the input (or the key given to TrackSelector.add),
    and its quality."""

    index: Any
    score: float


def _is_path(x: object) -> bool:
    return isinstance(x, (str, os.PathLike))


def select_best(
    images_or_paths: Sequence[Any],
    k: int = 1,
    *,
    landmarks: Any = None,
    scorer: Scorer | None = None,
    workers: int = -1,
) -> list[Pick]:
    """The ``k`` highest-quality items, best first (ties keep input order).

    ``images_or_paths``: numpy images (see :class:`Scorer`) or image file paths, not mixed.
    Files that cannot be read raise (FileNotFoundError / ValueError), as in
    :meth:`Scorer.score_files`.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    items = list(images_or_paths)
    if not items:
        return []
    scorer = scorer or Scorer()
    paths = [_is_path(x) for x in items]
    if all(paths):
        scores = scorer.score_files(items, landmarks, workers=workers)
    elif not any(paths):
        scores = scorer.score_batch(items, landmarks, workers=workers)
    else:
        raise ValueError("pass either images or paths, not a mix of both")
    order = np.argsort(-scores, kind="stable")[:k]
    return [Pick(int(i), float(scores[i])) for i in order]


class TrackSelector:
    """Streaming top-k per track: feed frames as they arrive, ask for the best at any time.

        sel = TrackSelector(k=3)
        for track_id, frame, lm in detections:          # e.g. from a face tracker
            sel.add(track_id, frame, lm, key=frame_no)
        best = sel.best(track_id)                       # [Pick(key, score), ...] best first

    Only the k best (score, key, frame) of each track are kept in memory, so a long video costs
    O(tracks × k). ``keep_frames=False`` keeps keys and scores only.
    """

    def __init__(self, k: int = 1, scorer: Scorer | None = None, keep_frames: bool = True):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k
        self.scorer = scorer or Scorer()
        self.keep_frames = keep_frames
        self._heaps: dict[Hashable, list[tuple[float, int, Any, np.ndarray | None]]] = {}
        self._seq = itertools.count()

    def add(
        self, track: Hashable, frame: np.ndarray, landmarks: Any = None, key: Any = None
    ) -> float:
        """Score one frame of ``track`` and keep it if it is among the track's k best.
        ``key`` identifies the frame in results (default: its arrival number)."""
        q = float(self.scorer.score(frame, landmarks))
        self._push(track, q, frame, key)
        return q

    def add_batch(
        self,
        tracks: Sequence[Hashable],
        frames: Sequence[np.ndarray],
        landmarks: Any = None,
        keys: Sequence[Any] | None = None,
        workers: int = -1,
    ) -> np.ndarray:
        """Score many frames in parallel (e.g. all faces of one video frame)."""
        scores: np.ndarray = self.scorer.score_batch(frames, landmarks, workers=workers)
        keys = keys if keys is not None else [None] * len(frames)
        for t, f, q, key in zip(tracks, frames, scores, keys):
            self._push(t, float(q), f, key)
        return scores

    def add_scored(
        self, track: Hashable, score: float, frame: np.ndarray | None = None, key: Any = None
    ) -> None:
        """Keep a frame whose quality is already known (e.g. from a detect-and-score pass over
        the whole frame) if it is among the track's k best, without scoring it again.
        ``frame`` is needed only when the selector keeps frames."""
        if frame is None and self.keep_frames:
            raise ValueError(
                "this TrackSelector keeps frames: pass the frame, or make it with keep_frames=False"
            )
        self._push(track, float(score), frame, key)

    def _push(self, track: Hashable, q: float, frame: np.ndarray | None, key: Any) -> None:
        seq = next(self._seq)
        kept = frame.copy() if self.keep_frames and frame is not None else None
        entry = (q, -seq, seq if key is None else key, kept)
        heap = self._heaps.setdefault(track, [])
        if len(heap) < self.k:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)

    def best(self, track: Hashable) -> list[Pick]:
        """The kept frames of ``track``, best first (earlier frames win ties)."""
        heap = sorted(self._heaps.get(track, []), key=lambda e: e[:2], reverse=True)
        return [Pick(e[2], e[0]) for e in heap]

    def frames(self, track: Hashable) -> list[np.ndarray]:
        """The kept frames themselves, best first (needs keep_frames=True)."""
        if not self.keep_frames:
            raise ValueError("this TrackSelector was made with keep_frames=False")
        heap = sorted(self._heaps.get(track, []), key=lambda e: e[:2], reverse=True)
        return [e[3] for e in heap if e[3] is not None]

    def tracks(self) -> list[Hashable]:
        return list(self._heaps)

    def finish(self, track: Hashable) -> list[Pick]:
        """Best frames of a track that has ended; forgets the track."""
        picks = self.best(track)
        self._heaps.pop(track, None)
        return picks
