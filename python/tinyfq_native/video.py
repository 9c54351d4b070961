"""Best faces of a video: decode, detect, track, score, and keep the k best frames of each
person, in bounded memory whatever the video's length.

    >>> from tinyfq_native.video import best_faces
    >>> for track, picks in best_faces("door.mp4", k=3):      # as each track ends
    ...     print(track, [(p.frame, round(p.score, 3)) for p in picks])

A source is a video file or capture source that FFmpeg opens (through PyAV: ``pip install
'tinyfq-native[video]'``), or a folder of frames taken as a burst in name order (decoded by the
library's own decoders, no PyAV needed). Frames are decoded in a thread of their own into a
bounded queue; each batch of frames is detected and scored natively on ``workers`` threads;
faces are linked into tracks (:class:`~tinyfq_native.track.Tracker`) and each track keeps its
k best frames (:class:`~tinyfq_native.TrackSelector`). A video's rotation metadata (the
display matrix phones write) is applied, so faces are detected and scored upright and the
boxes are in the upright frame's pixels. The sources, the rotation and the decode thread are
in :mod:`tinyfq_native.video_source`; this module is the pipeline over them.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Union

import numpy as np

from tinyfq_native._core import Status
from tinyfq_native._scorer import Scorer
from tinyfq_native.align import align
from tinyfq_native.detect import Detector, Face
from tinyfq_native.select import TrackSelector
from tinyfq_native.track import Track, Tracker
from tinyfq_native.video_source import END, Failed, Item, decode, open_source

# the source side's public names, importable from here as they always were
from tinyfq_native.video_source import FRAME_EXTS as FRAME_EXTS
from tinyfq_native.video_source import MAX_BAD_PACKETS as MAX_BAD_PACKETS
from tinyfq_native.video_source import VideoError as VideoError

__all__ = ["FacePick", "BestFaces", "VideoError", "best_faces", "contact_sheet", "CROP"]

#: The side of the aligned crops kept for each pick (the ArcFace 112×112 template).
CROP = 112

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class FacePick:
    """One kept frame of a track.

    ``frame`` is the frame's number in the source (0-based, display order), ``time`` its
    time in seconds (from the stream's timestamps, so right for variable frame rates; None
    for a folder of frames), ``score`` the face's quality, ``box`` (x, y, w, h),
    ``landmarks`` (5, 2) and ``confidence`` as the detector gave them (pixels of the upright
    frame). ``crop`` is the aligned 112×112 RGB uint8 face (None with ``crops=False``),
    ``image`` the whole upright RGB frame (only with ``keep_frames=True``).
    """

    frame: int
    time: float | None
    score: float
    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False)
    confidence: float
    crop: np.ndarray | None = field(default=None, repr=False)
    image: np.ndarray | None = field(default=None, repr=False)


def aligned_crop(image: np.ndarray, landmarks: np.ndarray, size: int = CROP) -> np.ndarray:
    """The (size, size, 3) uint8 crop of an RGB image's face, warped by its five landmarks
    onto the ArcFace template (the warp the scorer uses)."""
    chw = align(image, landmarks, size=size, mean=0.0, std=1.0, colour_order="rgb", format="rgb")
    crop: np.ndarray = np.clip(np.rint(chw.transpose(1, 2, 0)), 0, 255).astype(np.uint8)
    return crop


def contact_sheet(rows: list[list[np.ndarray]], gap: int = 4, background: int = 32) -> np.ndarray:
    """One RGB image of crops: each inner list a row (a track, best first), left to right,
    ``gap`` pixels between and around them. Rows may hold different numbers of crops."""
    if not rows or not any(rows):
        raise ValueError("a contact sheet needs at least one crop")
    h = max(c.shape[0] for r in rows for c in r)
    w = max(c.shape[1] for r in rows for c in r)
    cols = max(len(r) for r in rows)
    sheet = np.full((gap + len(rows) * (h + gap), gap + cols * (w + gap), 3), background, np.uint8)
    for i, r in enumerate(rows):
        for j, c in enumerate(r):
            y, x = gap + i * (h + gap), gap + j * (w + gap)
            sheet[y : y + c.shape[0], x : x + c.shape[1]] = c
    return sheet


# --- the pipeline


class _Selector(TrackSelector):
    """TrackSelector fed with the scores the detection pass already computed (no second
    forward pass): each face's record is its key, made only when it enters the top-k."""

    def offer(self, track: int, score: float, make: Callable[[], FacePick]) -> None:
        kept = self.best(track)
        if len(kept) < self.k or score > kept[-1].score:
            self.add_scored(track, score, key=make())


class BestFaces:
    """The tracks of one source, each with its k best faces: iterate to get
    ``(track_id, picks)`` as each track ends (picks best first, :class:`FacePick`).
    See :func:`best_faces`.

    After (or during) iteration: ``frames`` decoded, ``scored`` (run through the detector),
    ``faces`` detected, ``tracks`` reported, ``errors`` (per frame of a folder that did not
    decode: (frame number, Status, message)), ``rotation`` (degrees applied), ``fps``.
    """

    def __init__(
        self,
        source: PathLike,
        k: int = 3,
        *,
        every: int = 1,
        detect_size: int = 320,
        min_face: float = 0.0,
        face_threshold: float = 0.6,
        scorer: Scorer | None = None,
        workers: int = -1,
        batch: int = 8,
        max_missed: int = 5,
        min_hits: int = 1,
        crops: bool = True,
        keep_frames: bool = False,
        format: str | None = None,
        timeout: float | None = 10.0,
        progress: bool = False,
    ):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.k, self.workers, self.batch = k, workers, batch
        self.crops, self.keep_frames, self.progress = crops, keep_frames, progress
        self.name = os.fspath(source)
        self.scorer = scorer or Scorer(
            detector=Detector(detect_size, min_face=min_face, score_threshold=face_threshold)
        )
        self.tracker = Tracker(max_missed=max_missed, min_hits=min_hits)
        self._source = open_source(self.name, every, format, timeout)
        self.frames = self.scored = self.faces = self.tracks = 0
        self.errors: list[tuple[int, Status, str]] = []
        self.fps = self._source.fps
        self._started = False

    @property
    def rotation(self) -> int:
        """The rotation applied to the frames, degrees counter-clockwise (0, 90, 180, 270)."""
        return self._source.rotation

    @property
    def total(self) -> int | None:
        """The number of frames the source says it has (None when it does not say)."""
        return self._source.total

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> BestFaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, list[FacePick]]]:
        if self._started:
            raise RuntimeError("a BestFaces is iterated once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[tuple[int, list[FacePick]]]:
        selector = _Selector(self.k, self.scorer, keep_frames=False)
        q: queue.Queue[object] = queue.Queue(maxsize=2 * self.batch)
        stop = threading.Event()
        thread = threading.Thread(target=decode, args=(self._source, q, stop), daemon=True)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=self.total,
                unit="frame",
                file=sys.stderr,
                desc=os.path.basename(self.name.rstrip("/\\")) or self.name,
                dynamic_ncols=True,
            )
        failure: BaseException | None = None
        thread.start()
        try:
            done = False
            while not done:
                items: list[Item] = []
                while len(items) < self.batch:
                    item = q.get()
                    if item is END:
                        done = True
                        break
                    if isinstance(item, Failed):
                        failure, done = item.error, True
                        break
                    items.append(item)  # type: ignore[arg-type]
                yield from self._score(items, selector, bar)
            self.frames = max(self.frames, self._source.decoded)
            for track in self.tracker.finish():
                yield self._finish(track, selector)
            if bar is not None:
                bar.update(max(0, self.frames - bar.n))
        finally:
            stop.set()
            thread.join(timeout=5)
            if bar is not None:
                bar.close()
            if not thread.is_alive():  # else it is still inside FFmpeg: leave it the container
                self.close()
        if failure is not None:
            raise failure

    def _score(
        self, items: list[Item], selector: _Selector, bar: Any
    ) -> Iterator[tuple[int, list[FacePick]]]:
        """Detect and score a batch of frames natively, then track and select in order."""
        good = [it for it in items if not isinstance(it[2], BaseException)]
        found = (
            self.scorer.score_batch(
                [it[2] for it in good],
                detect=True,
                all_faces=True,
                workers=self.workers,
                format="rgb",
            )
            if good
            else []
        )
        per_frame = iter(found)
        for n, t, image in items:
            if bar is not None:
                bar.update(max(0, n + 1 - bar.n))
            self.frames = max(self.frames, n + 1)
            if isinstance(image, BaseException):
                from tinyfq_native.engine import status_of_error

                self.errors.append((n, status_of_error(image), str(image)))
                continue
            faces = next(per_frame)
            self.scored += 1
            self.faces += len(faces)
            for face, track in zip(faces, self.tracker.update(faces, n)):
                selector.offer(track.serial, face.score, partial(self._pick, n, t, face, image))
            for track in self.tracker.dropped:
                selector.finish(track.serial)
            for track in self.tracker.ended:
                yield self._finish(track, selector)

    def _pick(self, n: int, t: float | None, face: Face, image: np.ndarray) -> FacePick:
        return FacePick(
            n,
            None if t is None else float(t),
            float(face.score),
            face.box,
            face.landmarks,
            face.confidence,
            aligned_crop(image, face.landmarks) if self.crops else None,
            image if self.keep_frames else None,
        )

    def _finish(self, track: Track, selector: _Selector) -> tuple[int, list[FacePick]]:
        self.tracks += 1
        return track.id, [p.index for p in selector.finish(track.serial)]


def best_faces(
    source: PathLike,
    k: int = 3,
    *,
    every: int = 1,
    detect_size: int = 320,
    min_face: float = 0.0,
    face_threshold: float = 0.6,
    scorer: Scorer | None = None,
    workers: int = -1,
    batch: int = 8,
    max_missed: int = 5,
    min_hits: int = 1,
    crops: bool = True,
    keep_frames: bool = False,
    format: str | None = None,
    timeout: float | None = 10.0,
    progress: bool = False,
) -> BestFaces:
    """The k best faces of each person in a video, streamed: iterate the result to get
    ``(track_id, picks)`` as each track ends (then the tracks still alive at the end, in id
    order); ``picks`` is a list of up to ``k`` :class:`FacePick`, best first.

    Args:
        source: a video file, a capture source FFmpeg opens (a device, a stream URL; see
            ``format``), or a folder of frames taken in name order.
        k: frames kept per track.
        every: detect on every N-th frame only (the others are decoded and skipped).
        detect_size: the detector's input: frames are downscaled so their longer side is at
            most this many pixels (320, the detector's training size, by default; smaller is
            faster and misses small faces).
        min_face: ignore faces whose box is smaller than this many pixels.
        face_threshold: the lowest detector confidence kept.
        scorer: a :class:`Scorer` to use as it is, its own detector included (then
            ``detect_size``, ``min_face`` and ``face_threshold`` are not used); default: the
            embedded model with a detector made from those options.
        workers: native threads for detection and scoring (-1 = all cores).
        batch: frames detected and scored per native call.
        max_missed: a track survives this many sampled frames without its face.
        min_hits: a track counts once its face was found in this many sampled frames (its
            earlier frames included); shorter tracks are dropped as false detections.
        crops: keep each pick's aligned 112×112 crop (``FacePick.crop``).
        keep_frames: keep each pick's whole frame as well (``FacePick.image``: memory grows
            with live tracks × k × frame size).
        format: FFmpeg's input format for a capture source (``"v4l2"``, ``"avfoundation"``,
            ...); None lets FFmpeg guess.
        timeout: seconds to wait for data from the source before giving up (a stalled
            stream); None waits for ever.
        progress: a progress bar (frames, frames/s) on stderr.

    Memory: the decode queue (2 × ``batch`` frames), one batch being scored, and per live
    track k crops: bounded whatever the video's length. Raises ``FileNotFoundError`` for a
    missing file and :class:`VideoError` for a source that cannot be opened; a source that
    fails part-way yields the tracks found so far, then raises :class:`VideoError`. A folder
    frame that does not decode is skipped and listed in ``errors``.
    """
    return BestFaces(
        source,
        k,
        every=every,
        detect_size=detect_size,
        min_face=min_face,
        face_threshold=face_threshold,
        scorer=scorer,
        workers=workers,
        batch=batch,
        max_missed=max_missed,
        min_hits=min_hits,
        crops=crops,
        keep_frames=keep_frames,
        format=format,
        timeout=timeout,
        progress=progress,
    )
