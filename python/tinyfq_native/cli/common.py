"""What the ``tinyfq`` subcommands share: their inputs (see :mod:`.inputs`), the scorer from
options, the record of those options, where rows go (see :mod:`.output`), diagnostics on
stderr, exit statuses and the scoring options."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from tinyfq_native.cli import actionable
from tinyfq_native.cli.argtypes import DETECT_SIZE, MIN_FACE, THRESHOLD, WORKERS
from tinyfq_native.cli.inputs import IMAGE_EXTS, Inputs, expand, walk_inputs
from tinyfq_native.cli.output import (
    FINAL,
    NOT_UTF8,
    Output,
    RowWriter,
    csv_field,
    escaped,
)
from tinyfq_native.rows import FACE_FIELDS, FIELDS, row_of

if TYPE_CHECKING:
    import numpy as np

    from tinyfq_native import Scorer

__all__ = [
    "FACE_FIELDS",
    "FIELDS",
    "FINAL",
    "IMAGE_EXTS",
    "NOT_UTF8",
    "Inputs",
    "Output",
    "RowWriter",
    "csv_field",
    "escaped",
    "expand",
    "walk_inputs",
]

SELECT_FIELDS = ("track", "rank", "path", "score", "status", "message")

SCORE_HELP = """\
Inputs are taken as ALIGNED FACE CROPS (the ArcFace/insightface five-point 112x112 template,
at any size) unless --detect or --landmarks says otherwise. Photos that are not aligned crops
(news photos, LFW, CelebA, camera frames) need --detect (finds the largest face and its five
landmarks with the YuNet detector built into the library) or --landmarks.

One row per input (path, score, status, message), written as it goes; a bad file gets an error
row (status missing, invalid or unsupported), a photo without a face a no_face row, and the
run goes on. A folder's walk scores JPEG (.jpg .jpeg .jpe .jfif .pjpeg .pjp), PNG, BMP (.bmp
.dib) and PNM (.ppm .pgm .pbm .pnm) files; the other files it meets are counted on stderr
(--list-skipped names them), a sub-folder it cannot list gets an error row, and a link back
to a folder above it is not followed. A file named on the command line gets a row whatever
it is."""

EXIT_HELP = """\
exit status:
  0    every input was scored (ok) or has no face (no_face)
  1    at least one input failed (missing, invalid, unsupported): its row says why
  2    a usage or set-up error: a bad option, a model or landmarks file that does not load,
       an output that cannot be written (or locked by another run), a --resume refused
  130  interrupted (Ctrl-C): the rows written so far are whole
  141  stdout was closed by its reader (e.g. | head): the run stops quietly, as if killed
       by SIGPIPE"""


# --- diagnostics -----------------------------------------------------------------------------


def _writable(stream: TextIO | None) -> bool:
    """Whether ``stream`` can take writes: not closed (``2>&-``), and not a descriptor opened
    only for reading (``2</dev/null``). A stream without a descriptor is taken as writable."""
    if stream is None:
        return False
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return True
    try:
        import fcntl
    except ImportError:  # Windows: take it as writable; writes that fail are dropped
        return True
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
    except OSError:  # a descriptor that is closed
        return False


class Diagnostics(io.TextIOBase):
    """The CLI's stderr: what cannot be written there (stderr closed, read-only, full) is
    dropped, so a diagnostic never costs a row; ``usable`` says whether it can be written."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream, self.usable = stream, _writable(stream)

    def write(self, s: str) -> int:
        if self.usable and self.stream is not None:
            try:
                self.stream.write(s)
            except (OSError, ValueError):
                self.usable = False
        return len(s)

    def flush(self) -> None:
        if self.usable and self.stream is not None:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.usable = False

    def isatty(self) -> bool:
        try:
            return self.usable and self.stream is not None and self.stream.isatty()
        except (OSError, ValueError, AttributeError):
            return False


def say(command: str, message: str) -> None:
    """A diagnostic line on stderr (dropped when stderr cannot take it; never on stdout, as
    print(file=None) would put it)."""
    if sys.stderr is not None:
        try:
            print(f"tinyfq {command}: {message}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


def stderr_usable() -> bool:
    """Whether a progress bar on stderr can be shown."""
    err = sys.stderr
    return err.usable if isinstance(err, Diagnostics) else _writable(err)


# --- scoring ---------------------------------------------------------------------------------


def load(args: argparse.Namespace) -> tuple[Scorer, dict[str, np.ndarray] | None]:
    """Scorer and landmarks table for the score/select commands; exits 2 on set-up errors."""
    from tinyfq_native import Detector, Scorer
    from tinyfq_native.landmarks import read_landmarks

    try:
        if args.landmarks and args.detect:
            raise ValueError("--landmarks and --detect exclude each other")
        detector = None
        if args.detect:
            detector = Detector(
                args.detect_size, min_face=args.min_face, score_threshold=args.face_threshold
            )
        scorer = Scorer(
            args.model,
            fp16=args.fp16,
            reduced_decode=args.reduced_decode,
            detector=detector,
            exif_orientation=not args.no_exif_orientation,
        )
        landmarks = read_landmarks(args.landmarks) if args.landmarks else None
    except (OSError, ValueError, RuntimeError) as e:
        say(args.command, str(e))
        raise SystemExit(2) from None
    return scorer, landmarks


def run_options(args: argparse.Namespace, scorer: Scorer, **actual: Any) -> dict[str, Any]:
    """The options that change the rows, as the output records them (--resume refuses a file
    whose record differs): the mode (crop, landmarks or detect) and its settings, the decoding
    options and the model (version and weights digest). Settings the mode does not use are
    null, so that changing them changes nothing. ``actual`` overrides what the run really
    uses where it differs from ``args``."""
    detect = bool(args.detect)
    weights = scorer.info.get("weights") or {}
    options: dict[str, Any] = {
        "mode": "detect" if detect else "landmarks" if args.landmarks else "crop",
        "all_faces": bool(getattr(args, "all_faces", False)),
        "detect_size": args.detect_size if detect else None,
        "min_face": float(args.min_face) if detect else None,
        "face_threshold": float(args.face_threshold) if detect else None,
        "landmarks": os.path.abspath(args.landmarks) if args.landmarks else None,
        "fp16": bool(args.fp16),
        "reduced_decode": bool(args.reduced_decode),
        "exif_orientation": not args.no_exif_orientation,
        "model": {"version": scorer.info.get("version"), "weights_sha256": weights.get("sha256")},
    }
    return options | actual


def score_rows(
    scorer: Scorer,
    paths: list[str],
    args: argparse.Namespace,
    landmarks: dict[str, np.ndarray] | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of ``paths`` in input order (see :meth:`Scorer.score_paths`); the progress
    bar unless -q or stderr cannot show it."""
    from tinyfq_native.engine import NO_LANDMARKS

    all_faces = getattr(args, "all_faces", False)
    try:
        extra = actionable.Columns(args, scorer.info)  # --factors, --max-fnmr, --min-quality
    except ValueError as e:
        say(args.command, str(e))
        raise SystemExit(2) from None
    for result in scorer.score_paths(
        paths,
        landmarks,
        detect=args.detect,
        all_faces=all_faces,
        workers=args.workers,
        progress=not args.quiet and stderr_usable(),
        factors=extra.factors,
    ):
        row = row_of(result, all_faces) | extra.of(result)
        if landmarks is not None and result.message == NO_LANDMARKS:
            row["message"] = "no landmarks for this file in " + args.landmarks
        yield row


def report_skipped(command: str, inputs: Inputs, list_skipped: bool) -> None:
    """Say on stderr what the walks met and did not score, and the links not followed."""
    if inputs.skipped:
        say(
            command,
            f"skipped {len(inputs.skipped)} files that are not images"
            + (":" if list_skipped else ": use --list-skipped to see them"),
        )
        if list_skipped:
            for path, why in inputs.skipped:
                say(command, f"skipped {escaped(path)}: {why}")
    for link in inputs.loops:
        say(command, f"not following {escaped(link)}: a link to a folder above it")


def unlistable_row(path: str, why: str) -> dict[str, Any]:
    """The error row of a folder a walk could not list."""
    return {"path": path, "score": None, "status": "invalid", "message": f"{path}: {why}"}


# --- output ----------------------------------------------------------------------------------


def output_format(args: argparse.Namespace) -> str:
    """--format, else by the output's suffix (.jsonl/.json: JSON lines), else CSV."""
    return args.format or (
        "jsonl" if args.output and args.output.endswith((".jsonl", ".json")) else "csv"
    )


def open_output(args: argparse.Namespace, resume: bool = False) -> tuple[Output, str]:
    """The run's :class:`Output` (stdout, or -o locked) and its row format. Raises
    OutputError (exit 2, said by ``main``)."""
    return Output(args.output, resume=resume), output_format(args)


#: The statuses of a failed input, as rows name them.
FAILED = ("missing", "invalid", "unsupported")


def exit_status(command: str, failed: int, total: int, no_face: int = 0) -> int:
    """1 when any input failed (said on stderr), else 0. Photos without a face are not
    failures (their rows say no_face); their count is said on stderr."""
    if no_face:
        say(command, f"no face found in {no_face} of {total} inputs")
    if failed:
        say(command, f"{failed} of {total} inputs failed")
    return 1 if failed else 0


# --- options ---------------------------------------------------------------------------------


def scoring_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    s.add_argument(
        "-o", "--output", help="write rows here (.csv or .jsonl); default or '-': stdout"
    )
    s.add_argument("--format", choices=("csv", "jsonl"), help="row format (default: by suffix)")
    s.add_argument("--workers", type=WORKERS, default=-1, help="threads, 1 to 1024; -1 = all cores")
    s.add_argument("--landmarks", help="CSV/JSONL of five landmarks per file (photos, no --detect)")
    s.add_argument(
        "--detect",
        action="store_true",
        help="find the largest face and its landmarks in each photo (the native "
        "YuNet detector) and score it",
    )
    s.add_argument(
        "--detect-size",
        type=DETECT_SIZE,
        default=320,
        metavar="N",
        help="--detect: downscale photos so the longer side is at most N pixels (32 to 4096) "
        "before detection (default 320, the size the model was trained at; 160 still finds "
        "every LFW face, faster, but moves the landmarks and so the scores)",
    )
    s.add_argument(
        "--min-face",
        type=MIN_FACE,
        default=0,
        help="--detect: ignore faces whose box is smaller than this, pixels",
    )
    s.add_argument(
        "--face-threshold",
        type=THRESHOLD,
        default=0.6,
        help="--detect: lowest detector confidence kept, 0 to 1 (default 0.6)",
    )
    s.add_argument("--model", help="exported model (.ncnn.param/.bin/.json); default: embedded")
    s.add_argument(
        "--fp16",
        action="store_true",
        help="fp16 arithmetic where available (plain-graph models; the fused default is fp32)",
    )
    s.add_argument(
        "--reduced-decode",
        action="store_true",
        help="decode JPEGs at 1/2, 1/4 or 1/8 of their size when the face keeps the "
        "model's resolution: less work, but scores move (LFW crops: 0.022 on "
        "average, up to 0.15); default: full size",
    )
    s.add_argument(
        "--no-exif-orientation",
        action="store_true",
        help="score files as stored, ignoring their EXIF Orientation tag (default: turned "
        "upright as the tag says, as viewers show them)",
    )
    s.add_argument(
        "--list-skipped",
        action="store_true",
        help="name on stderr each file a folder walk met and did not score",
    )
    actionable.options(s)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
