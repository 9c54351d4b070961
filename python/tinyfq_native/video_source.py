"""Where the frames of :mod:`tinyfq_native.video` come from: a video file or capture source
opened by FFmpeg (through PyAV), or a folder of frames decoded by the library's own decoders;
the display rotation a video's metadata asks for; and the decode thread that fills the
pipeline's bounded queue, handing it each frame or the error that stopped the source.

Every source yields ``(frame number, time or None, RGB array or the exception that decoding
that frame raised)``, sampled every ``every`` frames.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np

from tinyfq_native._core import Status

__all__ = [
    "END",
    "FRAME_EXTS",
    "MAX_BAD_PACKETS",
    "Failed",
    "Item",
    "Source",
    "VideoError",
    "decode",
    "open_source",
]

#: Packets of a video that may fail to decode before it is given up.
MAX_BAD_PACKETS = 100
#: The image files a folder of frames is made of.
FRAME_EXTS = (
    *(".jpg", ".jpeg", ".jpe", ".jfif", ".pjpeg", ".pjp"),
    *(".png", ".bmp", ".dib", ".ppm", ".pgm", ".pbm", ".pnm"),
)


class VideoError(ValueError):
    """A source that cannot be opened or decoded. ``status`` says which kind of failure
    (``Status.invalid``: not decodable, cut short or stalled; ``Status.unsupported``: no
    video stream, or a codec this FFmpeg build does not decode); ``frames`` is the number
    of frames decoded before it happened."""

    def __init__(self, message: str, status: Status = Status.invalid, frames: int = 0):
        super().__init__(message)
        self.status = status
        self.frames = frames


# --- rotation


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


# --- sources

#: What a source yields: (frame number, time in seconds or None, the upright RGB frame or the
#: exception its decoding raised)
Item = tuple[int, Optional[float], Any]


class Source:
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


class _Folder(Source):
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


class _Video(Source):
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


def open_source(path: str, every: int, format: str | None, timeout: float | None) -> Source:
    """A folder of frames when ``path`` is a folder, else a video file or capture source."""
    if os.path.isdir(path):
        return _Folder(path, every)
    return _Video(path, every, format, timeout)


# --- the decode thread

#: The decode thread's last item when the source ended.
END = object()


class Failed:
    """The decode thread's last item when the source raised: the error, re-raised by the
    consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def decode(source: Source, q: queue.Queue[object], stop: threading.Event) -> None:
    """Put each item of ``source`` into ``q`` (waiting while it is full), then :data:`END`,
    or :class:`Failed` with what the source raised; return as soon as ``stop`` is set. The
    body of the decode thread."""

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in source.frames():
            if not put(item):
                return
        put(END)
    except BaseException as e:  # handed to the consumer, raised there
        put(Failed(e))
