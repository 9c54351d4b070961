"""``tinyfq video``: the k best faces of each person in videos, bursts of frames or capture
sources, as rows of OUTDIR/tracks.csv, aligned crops and a contact sheet per video."""

from __future__ import annotations

import argparse
import csv
import heapq
import io
import json
import os
import re
from typing import TYPE_CHECKING, Any

from tinyfq_native.cli.argtypes import DETECT_SIZE, MIN_FACE, THRESHOLD, WORKERS, K
from tinyfq_native.cli.common import FAILED, FINAL, RowWriter, exit_status, say, stderr_usable

if TYPE_CHECKING:
    import numpy as np

    from tinyfq_native import Scorer
    from tinyfq_native.video import FacePick

#: The columns of OUTDIR/tracks.csv.
VIDEO_FIELDS = (
    "video",
    "track",
    "rank",
    "frame",
    "time_s",
    "score",
    "status",
    "x",
    "y",
    "w",
    "h",
    "confidence",
    "message",
)
#: The most tracks a contact sheet shows (the best ones).
SHEET_TRACKS = 100

VIDEO_HELP = """\
Each INPUT is a video file (mp4, mkv, avi, webm, mov, ...), a folder of frames taken as a burst
in name order, or a capture source FFmpeg opens (a device with --input-format, a stream URL).
Faces are detected on every frame (every N-th with --every), linked into tracks across frames,
scored, and each track keeps its K best frames. Videos are read with PyAV:
pip install 'tinyfq-native[video]' (folders of frames need nothing more).

Writes, in OUTDIR:
  tracks.csv                      a first line "# tinyfq {options}" (--resume checks it),
                                  then one row per kept frame: video, track, rank (1 = best),
                                  frame (0-based), time_s, score, status, box x y w h,
                                  detector confidence; then one row per video with an empty
                                  track: its outcome (ok, no_face, or missing/invalid/
                                  unsupported and why)
  <video>/track<NNN>_rank<k>.png  the aligned 112x112 face of each kept frame
  <video>/contact_sheet.png       the crops of the video's best tracks, a row per track, best
                                  first
Exit status 0 when every input was read (with or without faces), 1 if any input failed
(its row says why; a frame of a folder that does not decode gets its own row), 2 for a usage
or set-up error, 130 when interrupted (what was written stays; --resume goes on)."""


def _count(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def video_name(source: str, taken: set[str]) -> str:
    """The folder name of a source's outputs: its file (or folder) name without suffix,
    with characters other than letters, digits, '.', '-' and '_' replaced, made unique
    among ``taken`` by a -2, -3, ... suffix (and added to it)."""
    base = os.path.basename(source.rstrip("/\\")) or source
    if not os.path.isdir(source):
        base = os.path.splitext(base)[0] or base
    base = re.sub(r"[^\w.-]", "_", base).strip(".") or "video"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}-{i}"
    taken.add(name)
    return name


def run_options(args: argparse.Namespace, scorer: Scorer) -> dict[str, Any]:
    """The options that change tracks.csv's rows, as its first line records them (--resume
    refuses a file made with others)."""
    weights = scorer.info.get("weights") or {}
    return {
        "command": "video",
        "k": args.k,
        "every": args.every,
        "detect_size": args.detect_size,
        "min_face": float(args.min_face),
        "face_threshold": float(args.face_threshold),
        "max_missed": args.max_missed,
        "min_hits": args.min_hits,
        "model": {"version": scorer.info.get("version"), "weights_sha256": weights.get("sha256")},
    }


def prior_rows(data: bytes, options: dict[str, Any]) -> tuple[set[str], list[dict[str, Any]]]:
    """--resume: the videos that tracks.csv (its bytes ``data``) has complete (an outcome row,
    empty track, ok or no_face) and the rows of those videos, to keep; the rows of the others
    (cut short, or failed) are dropped and made again, and so is a last line cut short.
    Raises ResumeError for a file made with other options, or that is not a tracks.csv."""
    from tinyfq_native.cli.output import CSV_OPTIONS, ResumeError, differences

    text = data[: data.rfind(b"\n") + 1].decode("utf-8", "replace")
    if not text:
        return set(), []
    first, _, rest = text.partition("\n")
    if not first.startswith(CSV_OPTIONS):
        raise ResumeError("its first line is not the options record of a tinyfq video run")
    try:
        recorded = json.loads(first[len(CSV_OPTIONS) :])
    except ValueError as e:
        raise ResumeError(f"line 1: not an options record ({e})") from None
    if recorded != options:
        raise ResumeError(
            "its rows were made with other options ("
            + "; ".join(differences(recorded if isinstance(recorded, dict) else {}, options))
            + "); give the same options, or another OUTDIR"
        )
    reader = csv.DictReader(io.StringIO(rest, newline=""))
    if reader.fieldnames is not None and tuple(reader.fieldnames) != VIDEO_FIELDS:
        raise ResumeError(f"line 2: the header is {reader.fieldnames}, not {list(VIDEO_FIELDS)}")
    rows = list(reader)
    done = {r["video"] for r in rows if not r.get("track") and r.get("status") in FINAL}
    return done, [r for r in rows if r["video"] in done]


def _pick_row(video: str, track: int, rank: int, pick: FacePick) -> dict[str, Any]:
    x, y, w, h = pick.box
    return {
        "video": video,
        "track": track,
        "rank": rank,
        "frame": pick.frame,
        "time_s": None if pick.time is None else round(pick.time, 6),
        "score": pick.score,
        "status": "ok",
        "x": round(x, 2),
        "y": round(y, 2),
        "w": round(w, 2),
        "h": round(h, 2),
        "confidence": round(pick.confidence, 4),
        "message": "",
    }


def _outcome_row(video: str, status: str, message: str, frame: int | None = None) -> dict[str, Any]:
    return {"video": video, "status": status, "message": message, "frame": frame}


class _Images:
    """A video's images in OUTDIR/<name>/: the crops (and frames) of each track as it ends,
    and at the end the contact sheet of the best ``SHEET_TRACKS`` tracks (kept meanwhile in
    a min-heap of (best score, -track, crops)). A file that cannot be written is an
    OutputError (exit 2)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.sheet: list[tuple[float, int, list[np.ndarray]]] = []

    def _write(self, name: str, image: np.ndarray, level: int = 6) -> None:
        from tinyfq_native.cli.output import OutputError
        from tinyfq_native.png import write_png

        path = os.path.join(self.folder, name)
        try:
            os.makedirs(self.folder, exist_ok=True)
            write_png(path, image, level)
        except OSError as e:
            raise OutputError(e.strerror or str(e), path) from None

    def track(self, track: int, picks: list[FacePick]) -> None:
        for rank, pick in enumerate(picks, 1):
            if pick.crop is not None:
                self._write(f"track{track:03d}_rank{rank}.png", pick.crop)
            if pick.image is not None:
                self._write(f"track{track:03d}_rank{rank}_frame.png", pick.image, level=1)
        crops = [p.crop for p in picks if p.crop is not None]
        entry = (picks[0].score, -track, crops)
        if len(self.sheet) < SHEET_TRACKS:
            heapq.heappush(self.sheet, entry)
        else:
            heapq.heappushpop(self.sheet, entry)

    def contact_sheet(self) -> None:
        from tinyfq_native.video import contact_sheet

        if self.sheet:
            rows = [crops for _, _, crops in sorted(self.sheet, reverse=True)]
            self._write("contact_sheet.png", contact_sheet(rows))


def one_video(
    source: str, name: str, args: argparse.Namespace, scorer: Scorer, writer: RowWriter
) -> tuple[str, int]:
    """Process one input, writing its rows and images; returns (its outcome status, the
    number of frames of a folder that failed to decode). The tracks found before a failure
    are written (rows, crops, contact sheet) before its outcome row."""
    from tinyfq_native.video import VideoError, best_faces

    images = _Images(os.path.join(args.outdir, name))
    run = None
    try:
        run = best_faces(
            source,
            args.k,
            every=args.every,
            scorer=scorer,
            workers=args.workers,
            max_missed=args.max_missed,
            min_hits=args.min_hits,
            keep_frames=args.save_frames,
            format=args.input_format,
            timeout=args.timeout,
            progress=not args.quiet and stderr_usable(),
        )
        for track, picks in run:
            images.track(track, picks)  # the images first: a row names a file
            writer.write_group([_pick_row(source, track, r, p) for r, p in enumerate(picks, 1)])
    except FileNotFoundError as e:
        writer.write(**_outcome_row(source, "missing", f"{source}: {e.strerror or e}"))
        return "missing", 0
    except VideoError as e:
        images.contact_sheet()
        writer.write(**_outcome_row(source, e.status.name, str(e), e.frames or None))
        return e.status.name, 0
    finally:
        if run is not None:
            run.close()
    images.contact_sheet()
    for n, bad, why in run.errors:
        writer.write(**_outcome_row(source, bad.name, why, n))
    if run.tracks == 0:
        status, message = "no_face", f"no face in {run.scored} frames"
    else:
        status = "ok"
        message = f"{run.frames} frames, {run.scored} searched, {run.tracks} tracks"
    if run.rotation:
        message += f"; rotated {run.rotation} degrees as the video says"
    writer.write(**_outcome_row(source, status, message, run.frames))
    return status, len(run.errors)


def _load(args: argparse.Namespace) -> Scorer:
    from tinyfq_native import Detector, Scorer

    try:
        detector = Detector(
            args.detect_size, min_face=args.min_face, score_threshold=args.face_threshold
        )
        return Scorer(args.model, detector=detector)
    except (OSError, ValueError, RuntimeError) as e:
        say("video", str(e))
        raise SystemExit(2) from None


def cmd_video(args: argparse.Namespace) -> int:
    from tinyfq_native.cli.output import Output, OutputError

    sources = list(dict.fromkeys(args.inputs))
    if any(not os.path.isdir(s) for s in sources):
        try:
            import av  # noqa: F401
        except ImportError as e:
            say("video", f"reading videos needs PyAV: pip install 'tinyfq-native[video]' ({e})")
            return 2
    scorer = _load(args)
    options = run_options(args, scorer)
    table = os.path.join(args.outdir, "tracks.csv")
    try:
        os.makedirs(args.outdir, exist_ok=True)
    except OSError as e:
        raise OutputError(e.strerror or str(e), args.outdir) from None
    out = Output(table, resume=args.resume)  # locked: a second run into OUTDIR refuses
    try:
        done: set[str] = set()
        kept: list[dict[str, Any]] = []
        if args.resume:
            done, kept = prior_rows(out.data, options)
            try:
                os.ftruncate(out.stream.fileno(), 0)  # written again: the kept rows first
            except OSError as e:
                raise OutputError(e.strerror or str(e), table) from None
        writer = RowWriter(out.stream, "csv", VIDEO_FIELDS, options=options, name=table)
        writer.write_group(kept)
        taken: set[str] = set()
        names = {s: video_name(s, taken) for s in sources}
        todo = [s for s in sources if s not in done]
        if args.resume:
            say(
                "video",
                f"resuming: {len(sources) - len(todo)} of {len(sources)} inputs already "
                f"complete in {table}",
            )
        failed = no_face = 0
        for source in todo:
            status, bad_frames = one_video(source, names[source], args, scorer, writer)
            failed += status in FAILED or bad_frames > 0
            no_face += status == "no_face"
    except KeyboardInterrupt:
        say("video", "interrupted")
        return 130
    finally:
        out.close()
    return exit_status("video", failed, len(todo), no_face)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser(
        "video",
        help="the k best faces of each person in videos or bursts of frames",
        description=VIDEO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="video files, folders of frames, sources"
    )
    v.add_argument("-k", type=K, default=3, help="frames kept per track (default 3)")
    v.add_argument(
        "-o", "--outdir", required=True, metavar="OUTDIR", help="where tracks.csv and PNGs go"
    )
    v.add_argument("--every", type=K, default=1, metavar="N", help="look at every N-th frame only")
    v.add_argument(
        "--detect-size",
        type=DETECT_SIZE,
        default=320,
        metavar="N",
        help="downscale frames so the longer side is at most N pixels for detection "
        "(default 320, the detector's training size; smaller is faster, misses small faces "
        "and moves the landmarks and so the scores)",
    )
    v.add_argument(
        "--min-face", type=MIN_FACE, default=0, metavar="PX", help="ignore faces smaller than PX"
    )
    v.add_argument(
        "--face-threshold",
        type=THRESHOLD,
        metavar="T",
        default=0.6,
        help="lowest detector confidence kept (default 0.6)",
    )
    v.add_argument(
        "--max-missed",
        type=_count,
        default=5,
        metavar="N",
        help="a track ends after more than N looked-at frames without its face (default 5)",
    )
    v.add_argument(
        "--min-hits",
        type=K,
        default=1,
        metavar="N",
        help="keep only tracks whose face was found in at least N looked-at frames (default 1)",
    )
    v.add_argument(
        "--save-frames",
        action="store_true",
        help="also write the whole frame of each kept face (<video>/track<NNN>_rank<k>_frame.png)",
    )
    v.add_argument(
        "--resume",
        action="store_true",
        help="keep the videos that tracks.csv already has complete and do the others",
    )
    v.add_argument(
        "--input-format",
        metavar="FMT",
        help="FFmpeg's input format for a capture source (v4l2, avfoundation, dshow, ...)",
    )
    v.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="give up on a source that sends no data for S seconds (default 10)",
    )
    v.add_argument("--workers", type=WORKERS, default=-1, help="threads; -1 = all cores")
    v.add_argument("--model", help="exported model (.ncnn.param/.bin/.json); default: embedded")
    v.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=cmd_video)
