"""The ``tinyfq`` command: score folders of face images, print model facts.

tinyfq score PATH... [-r] [-o out.csv|out.jsonl [--resume]] [--workers N]
             [--landmarks FILE] [--detect [--all-faces] [--detect-size N]]
tinyfq select DIR -k K [-o out.csv] [--copy-to OUT | --link-to OUT] [--detect]
tinyfq info
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pnm"}
FIELDS = ("path", "score", "status", "message")
FACE_FIELDS = ("path", "face", "score", "status", "message", "x", "y", "w", "h", "confidence")
SELECT_FIELDS = ("track", "rank", "path", "score", "status", "message")

SCORE_HELP = """\
Inputs are taken as ALIGNED FACE CROPS (the ArcFace/insightface five-point 112x112 template,
at any size) unless --detect or --landmarks says otherwise. Photos that are not aligned crops
(news photos, LFW, CelebA, camera frames) need --detect (finds the largest face and its five
landmarks with the YuNet detector built into the library) or --landmarks.

One row per input (path, score, status, message), written as it goes; a bad file gets an
error row, a photo without a face a no_face row, and the run goes on. Exit status 1 if any
input failed, 0 otherwise."""


def expand(paths: list[str], recursive: bool) -> list[str]:
    """Files, folders (their images; all levels with -r) and globs, in order, deduplicated.
    A path that names nothing is kept, so that it gets its own error row."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = []
            if recursive:
                for root, dirs, files in os.walk(p):
                    dirs.sort()
                    found += [os.path.join(root, f) for f in files]
            else:
                found = [
                    os.path.join(p, f) for f in os.listdir(p) if os.path.isfile(os.path.join(p, f))
                ]
            out += sorted(f for f in found if os.path.splitext(f)[1].lower() in IMAGE_EXTS)
        elif not os.path.exists(p) and glob.has_magic(p):
            # a pattern that matches nothing stays, so that it gets its own error row
            out += sorted(glob.glob(p, recursive=recursive)) or [p]
        else:
            out.append(p)
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


NOT_UTF8 = r"file name is not valid UTF-8: its bytes are written as \xNN escapes"


def _utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:  # surrogate escapes of undecodable bytes
        return False


def csv_field(value) -> str:
    """One CSV field: quoted when it holds a comma, a quote or a line break (CR as well as LF:
    the csv module quotes only the characters of its own line terminator)."""
    s = f"{value:.6f}" if isinstance(value, float) else ("" if value is None else str(value))
    if any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


class RowWriter:
    """CSV or JSON-lines rows, flushed as they are written (after a header line for CSV,
    unless the stream continues a file that has one)."""

    def __init__(self, stream, fmt: str, fields: tuple[str, ...], header: bool = True):
        self.stream, self.fmt, self.fields = stream, fmt, fields
        if fmt == "csv" and header:
            stream.write(",".join(fields) + "\n")

    def write(self, **row) -> None:
        """A row of ``fields``; a field the row lacks is written empty (null in JSON). A path
        whose name is not valid UTF-8 is written with its odd bytes as \\xNN escapes, and the
        message says so."""
        odd = {k for k, v in row.items() if isinstance(v, str) and not _utf8(v)}
        if odd:  # a name's undecodable bytes (surrogate escapes), here or quoted in a message
            row = {
                k: os.fsencode(v).decode("utf-8", "backslashreplace") if k in odd else v
                for k, v in row.items()
            }
            if "path" in odd:
                row["message"] = f"{row['message']}; {NOT_UTF8}" if row.get("message") else NOT_UTF8
        if self.fmt == "csv":
            self.stream.write(",".join(csv_field(row.get(f)) for f in self.fields) + "\n")
        else:
            self.stream.write(json.dumps({f: row.get(f) for f in self.fields}) + "\n")
        self.stream.flush()


def _load(args):
    """Scorer and landmarks table for the score/select commands; exits 2 on set-up errors."""
    from tinyfq_native import Detector, Scorer
    from tinyfq_native.landmarks import read_landmarks

    try:
        detector = None
        if args.detect:
            detector = Detector(
                args.detect_size, min_face=args.min_face, score_threshold=args.face_threshold
            )
        scorer = Scorer(
            args.model, fp16=args.fp16, reduced_decode=args.reduced_decode, detector=detector
        )
        landmarks = read_landmarks(args.landmarks) if args.landmarks else None
        if landmarks is not None and args.detect:
            raise ValueError("--landmarks and --detect exclude each other")
    except (OSError, ValueError, RuntimeError) as e:
        print(f"tinyfq {args.command}: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    return scorer, landmarks


def row_of(result, all_faces: bool = False) -> dict:
    """The CLI's row for one engine Result: status ok, no_face, or error (a missing or bad
    file); with ``all_faces`` the face's index, box and detector confidence."""
    from tinyfq_native import Status

    status = {Status.ok: "ok", Status.no_face: "no_face"}.get(result.status, "error")
    row = {"path": result.path, "score": result.score, "status": status, "message": result.message}
    if all_faces and result.box is not None:
        x, y, w, h = result.box
        row |= {
            "face": result.face,
            "x": round(x, 2),
            "y": round(y, 2),
            "w": round(w, 2),
            "h": round(h, 2),
            "confidence": round(result.confidence, 4),
        }
    return row


def score_rows(scorer, paths: list[str], args, landmarks=None) -> Iterator[dict]:
    """The rows of ``paths`` in input order (see :meth:`Scorer.score_paths`)."""
    from tinyfq_native.engine import NO_LANDMARKS

    all_faces = getattr(args, "all_faces", False)
    for result in scorer.score_paths(
        paths,
        landmarks,
        detect=args.detect,
        all_faces=all_faces,
        workers=args.workers,
        progress=not args.quiet,
    ):
        row = row_of(result, all_faces)
        if landmarks is not None and result.message == NO_LANDMARKS:
            row["message"] = "no landmarks for this file in " + args.landmarks
        yield row


def _output_format(args) -> str:
    """--format, else by the output's suffix (.jsonl/.json: JSON lines), else CSV."""
    return args.format or (
        "jsonl" if args.output and args.output.endswith((".jsonl", ".json")) else "csv"
    )


def _open_output(args, append: bool = False):
    fmt = _output_format(args)
    stream = (
        open(args.output, "a" if append else "w", newline="", encoding="utf-8")
        if args.output
        else sys.stdout
    )
    return stream, fmt


def done_paths(output: str, fmt: str) -> set[str] | None:
    """--resume: the paths that already have a final row (ok or no_face) in ``output``, or
    None when there is no such file yet. A last line cut short by a killed run is removed, so
    the rows appended next start on a line of their own."""
    if not os.path.exists(output):
        return None
    with open(output, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            f.truncate(cut)
            data = data[:cut]
    text = data.decode("utf-8", "replace")
    if fmt == "csv":
        rows = csv.DictReader(io.StringIO(text, newline=""))
    else:
        rows = (json.loads(line) for line in text.splitlines() if line.strip())
    return {r["path"] for r in rows if r.get("status") in ("ok", "no_face")}


def _exit_status(command: str, failed: int, total: int, no_face: int = 0) -> int:
    """1 when any input failed (said on stderr), else 0. Photos without a face are not
    failures (their rows say no_face); their count is said on stderr."""
    if no_face:
        print(f"tinyfq {command}: no face found in {no_face} of {total} inputs", file=sys.stderr)
    if failed:
        print(f"tinyfq {command}: {failed} of {total} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def score_on_ray(args, paths: list[str]) -> int:
    """--ray: the same scoring on Ray Data (one Scorer per actor), rows written to Parquet in
    input order, the model recorded in the file's metadata."""
    if not args.output or not args.output.endswith(".parquet"):
        print("tinyfq score: --ray writes Parquet: give -o FILE.parquet", file=sys.stderr)
        return 2
    if args.all_faces or args.landmarks or args.resume:
        print(
            "tinyfq score: --ray scores the largest face or the crop; it takes no "
            "--all-faces, --landmarks or --resume",
            file=sys.stderr,
        )
        return 2
    try:
        import ray

        from tinyfq_native.ray_data import path_dataset, score_dataset, write_parquet
    except ImportError as e:
        print(
            f"tinyfq score: --ray needs Ray: pip install 'tinyfq-native[ray]' ({e})",
            file=sys.stderr,
        )
        return 2
    local = args.ray == "local"
    # on a local Ray, a fixed pool of one actor per core from the start (an autoscaling pool
    # begins with one actor and grows only as work queues up)
    cores = (os.cpu_count() or 1) if args.workers == -1 else args.workers
    ray.init(
        address=None if local else args.ray,
        include_dashboard=False,
        log_to_driver=False,
        num_cpus=cores if local else None,
    )
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = not args.quiet
        ds = score_dataset(
            path_dataset(paths, blocks=4 * cores if local else None),
            concurrency=cores if local else None,
            batch_size=512,
            model=args.model,
            detect=args.detect,
            detect_size=args.detect_size,
            min_face=args.min_face,
            face_threshold=args.face_threshold,
        )
        counts = write_parquet(ds, args.output)
    finally:
        ray.shutdown()
    failed = counts.get("missing", 0) + counts.get("invalid", 0)
    return _exit_status("score", failed, len(paths), counts.get("no_face", 0))


def cmd_score(args) -> int:
    paths = expand(args.paths, args.recursive)
    if not paths:
        print("tinyfq score: no input files", file=sys.stderr)
        return 1
    if args.all_faces and not args.detect:
        print("tinyfq score: --all-faces needs --detect", file=sys.stderr)
        return 2
    if args.ray is not None:
        return score_on_ray(args, paths)
    resumed = False
    if args.resume:
        if not args.output:
            print("tinyfq score: --resume needs -o FILE (the rows written so far)", file=sys.stderr)
            return 2
        done = done_paths(args.output, _output_format(args))
        if done is not None:
            resumed = True
            before = len(paths)
            paths = [p for p in paths if p not in done]
            print(
                f"tinyfq score: resuming: {before - len(paths)} of {before} inputs already "
                f"have rows in {args.output}",
                file=sys.stderr,
            )
            if not paths:
                return 0
    scorer, landmarks = _load(args)
    stream, fmt = _open_output(args, append=resumed)
    failed = no_face = 0
    try:
        writer = RowWriter(
            stream, fmt, FACE_FIELDS if args.all_faces else FIELDS, header=not resumed
        )
        for row in score_rows(scorer, paths, args, landmarks):
            failed += row["status"] == "error"
            no_face += row["status"] == "no_face"
            writer.write(**row)
    except KeyboardInterrupt:
        print("tinyfq score: interrupted", file=sys.stderr)
        return 130
    finally:
        if args.output:
            stream.close()
    return _exit_status("score", failed, len(paths), no_face)


def cmd_select(args) -> int:
    """Each sub-folder of DIR is a template/track: keep its k best frames."""
    import shutil

    root = Path(args.dir)
    if not root.is_dir():
        print(f"tinyfq select: not a folder: {root}", file=sys.stderr)
        return 2
    tracks = sorted(d for d in root.iterdir() if d.is_dir())
    if not tracks:
        tracks = [root]  # a single folder of frames is one track
    members = {str(t): expand([str(t)], args.recursive) for t in tracks}
    paths = [p for ps in members.values() for p in ps]
    if not paths:
        print("tinyfq select: no images found", file=sys.stderr)
        return 1
    scorer, landmarks = _load(args)
    results = {
        r["path"]: (r["score"], r["message"], r["status"])
        for r in score_rows(scorer, paths, args, landmarks)
    }
    stream, fmt = _open_output(args)
    failed = no_face = 0
    try:
        writer = RowWriter(stream, fmt, SELECT_FIELDS)
        for track, ps in members.items():
            ok = [(results[p][0], i, p) for i, p in enumerate(ps) if results[p][0] is not None]
            ok.sort(key=lambda t: (-t[0], t[1]))
            name = os.path.relpath(track, root) if track != str(root) else root.name
            for rank, (score, _, p) in enumerate(ok[: args.k], 1):
                if args.copy_to or args.link_to:
                    dest = Path(args.copy_to or args.link_to) / name
                    dest.mkdir(parents=True, exist_ok=True)
                    target = dest / f"{rank:02d}_{Path(p).name}"
                    if target.exists() or target.is_symlink():
                        target.unlink()
                    if args.copy_to:
                        shutil.copy2(p, target)
                    else:
                        target.symlink_to(os.path.abspath(p))
                writer.write(track=name, rank=rank, path=p, score=score, status="ok", message="")
            for p in ps:
                if results[p][0] is None:
                    status = results[p][2]
                    failed += status == "error"
                    no_face += status == "no_face"
                    writer.write(
                        track=name,
                        rank="",
                        path=p,
                        score=None,
                        status=status,
                        message=results[p][1],
                    )
    finally:
        if args.output:
            stream.close()
    return _exit_status("select", failed, len(paths), no_face)


def cmd_info(args) -> int:
    from tinyfq_native import Scorer, _core

    scorer = Scorer(args.model)
    info = dict(scorer.info)
    detector = json.loads(_core.embedded_detector_json())
    facts = {
        "model": args.model or "<embedded default>",
        "version": info.get("version"),
        "input": info.get("input"),
        "alignment_template": info.get("alignment", {}).get("template"),
        "label_model": info.get("label_model"),
        "ncnn": _core.ncnn_version(),
        "cpu_features": _core.cpu_features(),
        "network_kernels": _core.network_kernels(),
        "detector": "{} ({}), {:,} weights, from {} sha256 {}".format(
            detector["name"],
            detector["licence"].split(" (")[0],
            detector["parameters"],
            detector["source"],
            detector["source_sha256"][:12],
        ),
        "image_decoder": _core.have_decoder(),
        "jpeg_decoder": _core.jpeg_decoder(),
        "hardware_workers": _core.hardware_workers(),
    }
    if args.json:
        print(json.dumps(facts | {"metadata": info}, indent=2))
    else:
        for k, v in facts.items():
            print(f"{k:>18}: {v}")
        print(
            f"{'metadata':>18}: "
            + json.dumps({k: v for k, v in info.items() if k not in ("input", "alignment")})
        )
    return 0


def _scoring_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    s.add_argument("-o", "--output", help="write rows here (.csv or .jsonl); default stdout")
    s.add_argument("--format", choices=("csv", "jsonl"), help="row format (default: by suffix)")
    s.add_argument("--workers", type=int, default=-1, help="threads; -1 = all cores")
    s.add_argument("--landmarks", help="CSV/JSONL of five landmarks per file (photos, no --detect)")
    s.add_argument(
        "--detect",
        action="store_true",
        help="find the largest face and its landmarks in each photo (the native "
        "YuNet detector) and score it",
    )
    s.add_argument(
        "--detect-size",
        type=int,
        default=320,
        metavar="N",
        help="--detect: downscale photos so the longer side is at most N pixels "
        "before detection (default 320, the size the model was trained at; 160 still finds "
        "every LFW face, faster, but moves the landmarks and so the scores)",
    )
    s.add_argument(
        "--min-face",
        type=float,
        default=0,
        help="--detect: ignore faces whose box is smaller than this, pixels",
    )
    s.add_argument(
        "--face-threshold",
        type=float,
        default=0.6,
        help="--detect: lowest detector confidence kept (default 0.6)",
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
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tinyfq", description="Face image quality for recognition (tinyFQnet through ncnn)."
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser(
        "score",
        help="score image files, folders and globs",
        description=SCORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    _scoring_options(s)
    s.add_argument(
        "--all-faces",
        action="store_true",
        help="--detect: one row per face (index, box, confidence) instead of the largest face only",
    )
    s.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="score on Ray Data (pip install 'tinyfq-native[ray]'): a local Ray without "
        "ADDRESS, else the cluster at ADDRESS; -o must be a .parquet file",
    )
    s.add_argument(
        "--resume",
        action="store_true",
        help="with -o: keep the rows already in the file and score only the inputs "
        "that have no ok/no_face row yet (a killed run continues where it stopped)",
    )
    s.set_defaults(func=cmd_score)
    t = sub.add_parser(
        "select",
        help="keep the k best frames of each sub-folder (track)",
        description="Each sub-folder of DIR is a template or video track; writes "
        "its k highest-quality frames (track, rank, path, score) and optionally "
        "copies or links them.\n\n" + SCORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("dir", metavar="DIR")
    t.add_argument("-k", type=int, default=1, help="frames to keep per track")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--copy-to", metavar="OUT", help="copy the chosen files to OUT/<track>/")
    g.add_argument("--link-to", metavar="OUT", help="symlink the chosen files in OUT/<track>/")
    _scoring_options(t)
    t.set_defaults(func=cmd_select)
    i = sub.add_parser("info", help="model metadata, ncnn version, CPU features")
    i.add_argument("--model", help="exported model; default: embedded")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "workers", -1) == 0 or getattr(args, "workers", -1) < -1:
        print("tinyfq: --workers must be -1 or a positive count", file=sys.stderr)
        return 2
    if getattr(args, "k", 1) < 1:
        print("tinyfq select: -k must be at least 1", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
