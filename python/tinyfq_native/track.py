"""A small face tracker: detections of consecutive frames linked into tracks by box overlap and
landmark distance, with birth after a few hits and death after a few missed frames.

    tracker = Tracker(max_missed=5)
    for frame_no, faces in enumerate(per_frame_faces):    # e.g. Scorer.score_batch(...,
        tracks = tracker.update(faces)                     #   detect=True, all_faces=True)
        for track in tracker.ended:                        # tracks that died at this frame
            ...
    for track in tracker.finish():                         # the ones alive at the end
        ...

Each live track predicts where its face is next from its last position and a smoothed
velocity, so a face that moves steadily is matched across a gap, and two faces that cross keep
their tracks. A pair of a track and a detection is a candidate when the boxes overlap (IoU at
least ``min_iou``) or the landmarks lie close (mean distance at most ``max_landmark_distance``
eye distances); candidates are matched greedily, the most similar first. Greedy matching is
what SORT-type trackers fall back to without scipy, and with the gate it gives the same pairs
as the Hungarian method unless two faces are equally close to two tracks.

No dependency beyond numpy: a maintained multi-object tracker (e.g. ByteTrack's or
norfair's) brings scipy or lap for its assignment and a Kalman filter that faces, whose
detections are reliable and slow-moving at video rates, do not need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes (0 when either is empty)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def landmark_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance between two (5, 2) landmark sets in units of ``a``'s eye distance (its
    first two points; at least 1 pixel)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    eyes = float(np.hypot(*(a[1] - a[0])))
    return float(np.mean(np.hypot(*(a - b).T))) / max(eyes, 1.0)


@dataclass(eq=False)
class Track:
    """A face followed across frames. ``serial`` numbers tracks at birth (0, 1, ...); ``id``
    is given when the track is confirmed (1, 2, ... in order of confirmation; 0 while
    tentative); ``first`` and ``last`` are the frame numbers of its first and last detection,
    ``hits`` the number of frames it was found in. Tracks compare and hash by identity."""

    serial: int
    id: int
    first: int
    last: int
    box: Box
    landmarks: np.ndarray | None = field(default=None, repr=False)
    hits: int = 1
    missed: int = 0
    velocity: tuple[float, float] = (0.0, 0.0)
    #: what the caller attaches (the tracker never reads it)
    data: Any = field(default=None, repr=False)
    #: the landmarks as a flat list of floats (the tracker's arithmetic)
    points: list[float] | None = field(default=None, repr=False)

    def predicted(self, frame: int) -> tuple[Box, np.ndarray | None]:
        """The box and landmarks expected at ``frame``: the last ones moved by the velocity
        for each frame since the last detection."""
        steps = frame - self.last
        dx, dy = self.velocity[0] * steps, self.velocity[1] * steps
        x, y, w, h = self.box
        lms = None if self.landmarks is None else self.landmarks + np.array([dx, dy])
        return (x + dx, y + dy, w, h), lms


def _as_detection(face: Any) -> tuple[Box, np.ndarray | None]:
    """(box, landmarks) of a :class:`~tinyfq_native.Face`, anything with ``box`` (and
    ``landmarks``), or a bare (x, y, w, h)."""
    box = getattr(face, "box", face)
    lms = getattr(face, "landmarks", None)
    return (
        tuple(float(v) for v in box),  # type: ignore[return-value]
        None if lms is None else np.asarray(lms, np.float64).reshape(5, 2),
    )


class Tracker:
    """Links the faces of successive frames into :class:`Track` s.

    Args:
        min_iou: the least box overlap (intersection over union, predicted box against the
            detection) for a detection to continue a track, unless the landmarks are close.
        max_landmark_distance: the largest mean landmark distance, in eye distances of the
            track's face, for a detection to continue a track whatever the overlap.
        max_missed: a track survives this many frames in a row without a detection; the next
            miss ends it. Frames are counted as :meth:`update` is called (with ``every=N``
            sampling, sampled frames).
        min_hits: a track is confirmed (given an id, reported when it ends) once it has been
            detected in this many frames; a tentative track that misses a frame is dropped
            (a detector's one-frame false positive leaves no track).
        smoothing: weight of the newest displacement in the velocity estimate (0-1).
    """

    def __init__(
        self,
        *,
        min_iou: float = 0.3,
        max_landmark_distance: float = 0.5,
        max_missed: int = 5,
        min_hits: int = 1,
        smoothing: float = 0.5,
    ):
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        if min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {min_hits}")
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
        self.min_iou = float(min_iou)
        self.max_landmark_distance = float(max_landmark_distance)
        self.max_missed = int(max_missed)
        self.min_hits = int(min_hits)
        self.smoothing = float(smoothing)
        self.frame = -1
        self.live: list[Track] = []
        #: the confirmed tracks that ended at the last :meth:`update`
        self.ended: list[Track] = []
        #: the tentative tracks dropped at the last :meth:`update` (never confirmed)
        self.dropped: list[Track] = []
        self._next_id = 1
        self._serial = 0

    def similarity(self, track: Track, box: Box, points: list[float] | None) -> float | None:
        """How well a detection (its box and its landmarks as x0, y0, x1, ... ) continues
        ``track`` (higher is better): the IoU of the predicted box plus the landmarks'
        closeness (1 at the same place, 0 at ``max_landmark_distance`` eye distances or
        beyond); None where the gate refuses the pair. Plain Python arithmetic: for the few
        faces of a frame it is several times faster than numpy's per-call overhead."""
        steps = self.frame - track.last
        dx, dy = track.velocity[0] * steps, track.velocity[1] * steps
        x, y, w, h = track.box
        overlap = iou((x + dx, y + dy, w, h), box)
        near = None
        if points is not None and track.points is not None:
            a = track.points
            total = 0.0
            for i in range(0, 10, 2):
                total += math.hypot(a[i] + dx - points[i], a[i + 1] + dy - points[i + 1])
            near = total / 5.0 / max(math.hypot(a[2] - a[0], a[3] - a[1]), 1.0)
        lim = self.max_landmark_distance
        if overlap < self.min_iou and (near is None or near > lim):
            return None
        return overlap + (0.0 if near is None else max(0.0, 1.0 - near / lim))

    def update(self, faces: Sequence[Any], frame: int | None = None) -> list[Track]:
        """Take the faces detected in the next frame (``frame``: its number; default the
        previous one + 1): :class:`~tinyfq_native.Face` s, objects with ``box`` and
        ``landmarks``, or bare (x, y, w, h) boxes. Returns per face its track (``id`` 0
        while tentative). Sets :attr:`ended` to the confirmed tracks this frame ended and
        :attr:`dropped` to the tentative ones it gave up."""
        self.frame = self.frame + 1 if frame is None else int(frame)
        dets = [_as_detection(f) for f in faces]
        points = [None if lms is None else lms.reshape(-1).tolist() for _, lms in dets]
        pairs = []
        for ti, track in enumerate(self.live):
            for di, (box, _) in enumerate(dets):
                s = self.similarity(track, box, points[di])
                if s is not None:
                    pairs.append((-s, ti, di))
        pairs.sort()
        track_of: dict[int, Track] = {}
        taken: set[int] = set()
        for _, ti, di in pairs:
            if ti in taken or di in track_of:
                continue
            taken.add(ti)
            track_of[di] = self.live[ti]
        survivors: list[Track] = []
        self.ended, self.dropped = [], []
        for ti, track in enumerate(self.live):
            if ti in taken:
                survivors.append(track)
                continue
            track.missed += 1
            if track.id == 0:
                self.dropped.append(track)
            elif track.missed > self.max_missed:
                self.ended.append(track)
            else:
                survivors.append(track)
        out = []
        for di, (box, lms) in enumerate(dets):
            found = track_of.get(di)
            if found is None:
                track = Track(self._serial, 0, self.frame, self.frame, box, lms)
                track.points = points[di]
                self._serial += 1
                survivors.append(track)
            else:
                track = found
                self._move(track, box, lms)
                track.points = points[di]
            if track.id == 0 and track.hits >= self.min_hits:
                track.id = self._next_id
                self._next_id += 1
            out.append(track)
        self.live = survivors
        return out

    def _move(self, track: Track, box: Box, lms: np.ndarray | None) -> None:
        steps = max(self.frame - track.last, 1)
        cx = (box[0] + box[2] / 2 - track.box[0] - track.box[2] / 2) / steps
        cy = (box[1] + box[3] / 2 - track.box[1] - track.box[3] / 2) / steps
        a = self.smoothing if track.hits > 1 else 1.0
        track.velocity = (
            a * cx + (1 - a) * track.velocity[0],
            a * cy + (1 - a) * track.velocity[1],
        )
        track.box, track.landmarks = box, lms
        track.last = self.frame
        track.hits += 1
        track.missed = 0

    def finish(self) -> list[Track]:
        """End every live track: returns the confirmed ones in id order; the tentative ones
        go to :attr:`dropped`."""
        done = sorted((t for t in self.live if t.id), key=lambda t: t.id)
        self.dropped = [t for t in self.live if not t.id]
        self.live = []
        self.ended = []
        return done
