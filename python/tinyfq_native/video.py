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
boxes are in the upright frame's pixels.
"""

from __future__ import annotations

import math
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Optional, Union

import numpy as np

from tinyfq_native._core import Status
from tinyfq_native._scorer import Scorer
from tinyfq_native.align import align
from tinyfq_native.detect import Detector, Face
from tinyfq_native.select import TrackSelector
from tinyfq_native.track import Track, Tracker

__all__ = ["FacePick", "BestFaces", "VideoError", "best_faces", "contact_sheet", "CROP"]

#: The side of the aligned crops kept for each pick (the ArcFace 112×112 template).
CROP = 112
#: Packets of a video that may fail to decode before it is given up.
MAX_BAD_PACKETS = 100
#: The image files a folder of frames is made of.
FRAME_EXTS = (
    *(".jpg", ".jpeg", ".jpe", ".jfif", ".pjpeg", ".pjp"),
    *(".png", ".bmp", ".dib", ".ppm", ".pgm", ".pbm", ".pnm"),
)

PathLike = Union[str, "os.PathLike[str]"]


class VideoError(ValueError):
    """A source that cannot be opened or decoded. ``status`` says which kind of failure
    (``Status.invalid``: not decodable, cut short or stalled; ``Status.unsupported``: no
    video stream, or a codec this FFmpeg build does not decode); ``frames`` is the number
    of frames decoded before it happened."""

    def __init__(self, message: str, status: Status = Status.invalid, frames: int = 0):
        super().__init__(message)
        self.status = status
        self.frames = frames


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


# --- sources: each yields (frame number, time or None, RGB array or the exception that
# --- decoding that frame raised), sampled every `every` frames


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as it is meant to be shown: ``rotation`` is the display matrix's angle
    (counter-clockwise degrees, FFmpeg's av_display_rotation_get), a multiple of 90."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _matrix_rotation(data: bytes) -> float:
    """The counter-clockwise angle of a display matrix (nine native int32, 16.16 fixed
    point), as FFmpeg's av_display_rotation_get computes it."""
    m = np.frombuffer(data[:36], np.int32).astype(np.float64) / 65536.0
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if s0 == 0 or s1 == 0:
        return 0.0
    return -math.degrees(math.atan2(m[1] / s1, m[0] / s0))


def _rotation_of(frame: Any, stream: Any) -> int:
    """A decoded frame's display rotation in degrees (a multiple of 90): PyAV's
    ``VideoFrame.rotation`` where it has one, else the frame's display-matrix side data,
    else the stream's old-style ``rotate`` tag (clockwise)."""
    angle = getattr(frame, "rotation", None)
    if angle is None:
        for sd in getattr(frame, "side_data", ()) or ():
            if "DISPLAYMATRIX" in str(getattr(sd, "type", "")).upper():
                angle = _matrix_rotation(bytes(sd))
                break
    if angle is None:
        tag = (stream.metadata or {}).get("rotate")
        angle = -float(tag) if tag else 0.0
    return int(round(float(angle) / 90.0)) * 90 % 360


#: What a source yields: (frame number, time in seconds or None, the upright RGB frame or the
#: exception its decoding raised)
Item = tuple[int, Optional[float], Any]


class _Source:
    """Where frames come from: ``total`` frames it says it has (None: unknown), ``decoded``
    so far, the ``rotation`` applied, its ``fps`` (None: unknown)."""

    total: int | None = None
    decoded: int = 0
    rotation: int = 0
    fps: float | None = None

    def frames(self) -> Iterator[Item]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Folder(_Source):
    """A folder of frames, in name order, decoded by the library's decoders."""

    def __init__(self, path: str, every: int):
        from tinyfq_native.images import read_image

        self._read = read_image
        self.every = every
        self.files = sorted(
            os.path.join(path, f)
            for f in os.listdir(path)
            if f.lower().endswith(FRAME_EXTS) and os.path.isfile(os.path.join(path, f))
        )
        if not self.files:
            raise VideoError(f"{path}: no image files in the folder", Status.invalid)
        self.total = len(self.files)

    def frames(self) -> Iterator[Item]:
        for n in range(0, len(self.files), self.every):
            self.decoded = min(n + self.every, len(self.files))  # the skipped ones count
            try:
                image = self._read(self.files[n])
            except (OSError, ValueError, RuntimeError) as e:
                yield n, None, e
                continue
            yield n, None, image


class _Video(_Source):
    """A video file or capture source, decoded by FFmpeg through PyAV."""

    def __init__(self, source: str, every: int, format: str | None, timeout: float | None):
        try:
            import av
        except ImportError as e:
            raise ImportError(
                f"reading videos needs PyAV: pip install 'tinyfq-native[video]' ({e})"
            ) from e
        self._av = av
        self.every = every
        self.name = source
        try:
            self.container = av.open(
                source, format=format, timeout=None if timeout is None else (timeout, timeout)
            )
        except FileNotFoundError:
            raise
        except av.FFmpegError as e:
            raise VideoError(f"{source}: cannot open: {_reason(e)}", _status_of(e)) from None
        try:
            if not self.container.streams.video:
                raise VideoError(f"{source}: no video stream", Status.unsupported)
            self.stream = self.container.streams.video[0]
            codec = self.stream.codec_context
            if codec is None or not getattr(codec, "name", None):
                raise VideoError(f"{source}: no decoder for its video codec", Status.unsupported)
            self.stream.thread_type = "AUTO"  # frame and slice threads: FFmpeg's own pool
        except BaseException:
            self.container.close()
            raise
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else None
        total = self.stream.frames
        if not total and self.stream.duration and self.stream.time_base and self.fps:
            total = int(round(float(self.stream.duration * self.stream.time_base) * self.fps))
        self.total = total or None

    def frames(self) -> Iterator[Item]:
        """The sampled frames, upright. A packet that does not decode is skipped (up to
        MAX_BAD_PACKETS; the frames around it still count); at the end the first such error
        is raised, and so is a stream that ends well before the length its container gives
        (a file cut short), after every frame that did decode was yielded."""
        av = self._av
        bad, first_bad = 0, ""
        end = None  # the end time of the last frame decoded
        try:
            for packet in self.container.demux(self.stream):
                try:
                    decoded = packet.decode()
                except av.FFmpegError as e:
                    if _stalled(e):
                        raise
                    bad += 1
                    first_bad = first_bad or f"after frame {self.decoded}: {_reason(e)}"
                    if bad > MAX_BAD_PACKETS:
                        raise VideoError(
                            f"{self.name}: gave up after {bad} packets that do not decode "
                            f"(the first {first_bad})",
                            Status.invalid,
                            self.decoded,
                        ) from None
                    continue
                for frame in decoded:
                    n = self.decoded
                    self.decoded += 1
                    if frame.time is not None:
                        end = frame.time + (1.0 / self.fps if self.fps else 0.0)
                    if n % self.every:
                        continue
                    self.rotation = _rotation_of(frame, self.stream)
                    image = _upright(frame.to_ndarray(format="rgb24"), self.rotation)
                    yield n, frame.time, image
        except av.FFmpegError as e:
            what = "stalled (no data within the timeout)" if _stalled(e) else _reason(e)
            raise VideoError(
                f"{self.name}: decoding stopped after {self.decoded} frames: {what}",
                Status.invalid,
                self.decoded,
            ) from None
        if bad:
            raise VideoError(
                f"{self.name}: {bad} packets did not decode (the first {first_bad}); "
                f"{self.decoded} frames did",
                Status.invalid,
                self.decoded,
            )
        length = self._length()
        if length is not None and (end or 0.0) < length - max(0.5, 0.05 * length):
            raise VideoError(
                f"{self.name}: cut short: its frames end at {end or 0.0:.2f} s of the "
                f"{length:.2f} s its container gives ({self.decoded} frames decoded)",
                Status.invalid,
                self.decoded,
            )

    def _length(self) -> float | None:
        """The video stream's end time in seconds as the container gives it: the stream's own
        duration, or the container's when the video is its only stream (with others it may
        be theirs); None when it gives none (a live source, a raw stream)."""
        s = self.stream
        if s.duration and s.time_base:
            return float((s.duration + (s.start_time or 0)) * s.time_base)
        if self.container.duration and len(self.container.streams) == 1:
            start = self.container.start_time or 0
            return float(self.container.duration + start) / 1e6
        return None

    def close(self) -> None:
        self.container.close()


def _reason(e: BaseException) -> str:
    """An FFmpeg error's message without PyAV's '[Errno N]' prefix and the repeated path."""
    text = getattr(e, "strerror", None) or str(e)
    return str(text)


def _status_of(e: BaseException) -> Status:
    name = type(e).__name__
    if name in ("DecoderNotFoundError", "DemuxerNotFoundError", "PatchWelcomeError"):
        return Status.unsupported
    return Status.invalid


def _stalled(e: BaseException) -> bool:
    return type(e).__name__ in ("ExitError", "TimeoutError") or "timed out" in str(e).lower()


# --- the pipeline

_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


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
        if os.path.isdir(self.name):
            self._source: _Source = _Folder(self.name, every)
        else:
            self._source = _Video(self.name, every, format, timeout)
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

    def _decode(self, q: queue.Queue[object], stop: threading.Event) -> None:
        def put(item: object) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for item in self._source.frames():
                if not put(item):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer, raised there
            put(_Failed(e))

    def _run(self) -> Iterator[tuple[int, list[FacePick]]]:
        selector = _Selector(self.k, self.scorer, keep_frames=False)
        q: queue.Queue[object] = queue.Queue(maxsize=2 * self.batch)
        stop = threading.Event()
        thread = threading.Thread(target=self._decode, args=(q, stop), daemon=True)
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
                    if item is _END:
                        done = True
                        break
                    if isinstance(item, _Failed):
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
