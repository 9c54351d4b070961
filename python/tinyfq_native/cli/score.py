"""``tinyfq score``: one row per input (per face with --all-faces), as CSV, JSON lines or, on
Ray Data, Parquet."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from tinyfq_native.cli import actionable
from tinyfq_native.cli.common import (
    EXIT_HELP,
    FACE_FIELDS,
    FAILED,
    FIELDS,
    SCORE_HELP,
    RowWriter,
    escaped,
    exit_status,
    load,
    open_output,
    report_skipped,
    run_options,
    say,
    score_rows,
    scoring_options,
    stderr_usable,
    unlistable_row,
    walk_inputs,
)


def score_on_ray(args: argparse.Namespace, paths: list[str]) -> int:
    """--ray: the same scoring on Ray Data (one Scorer per actor), rows written to Parquet in
    input order, the model and the options recorded in the file's metadata."""
    if not args.output or not args.output.endswith(".parquet"):
        say("score", "--ray writes Parquet: give -o FILE.parquet")
        return 2
    given = [
        flag
        for flag, on in (
            ("--all-faces", args.all_faces),
            ("--landmarks", args.landmarks),
            ("--resume", args.resume),
            ("--fp16", args.fp16),
            ("--reduced-decode", args.reduced_decode),
            ("--no-exif-orientation", args.no_exif_orientation),
            ("--factors, --max-fnmr, --min-quality", actionable.recorded(args)),
        )
        if on
    ]
    if given:
        say(
            "score",
            "--ray scores the largest face or the crop of files decoded upright at full size, "
            f"in fp32; it takes no {', '.join(given)}",
        )
        return 2
    try:
        import ray

        from tinyfq_native.ray_data import path_dataset, score_dataset, write_parquet
    except ImportError as e:
        say("score", f"--ray needs Ray: pip install 'tinyfq-native[ray]' ({e})")
        return 2
    scorer, _ = load(args)
    options = json.dumps(run_options(args, scorer), sort_keys=True).encode()
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
        ctx.enable_progress_bars = not args.quiet and stderr_usable()
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
        counts = write_parquet(ds, args.output, metadata={b"tinyfq.options": options})
    finally:
        ray.shutdown()
    failed = sum(counts.get(s, 0) for s in FAILED)
    return exit_status("score", failed, len(paths), counts.get("no_face", 0))


def by_path(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive rows of one path (a photo's faces) as one list."""
    group: list[dict[str, Any]] = []
    for row in rows:
        if group and row["path"] != group[0]["path"]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def cmd_score(args: argparse.Namespace) -> int:
    inputs = walk_inputs(args.paths, args.recursive)
    report_skipped("score", inputs, args.list_skipped)
    if not inputs.paths:
        say("score", "no input files")
        return 1
    if args.all_faces and not args.detect:
        say("score", "--all-faces needs --detect")
        return 2
    if args.ray is not None:
        return score_on_ray(args, inputs.paths)
    if args.resume and args.output in (None, "-"):
        say("score", "--resume needs -o FILE (the rows written so far)")
        return 2
    scorer, landmarks = load(args)
    options = run_options(args, scorer, **actionable.recorded(args))
    fields = actionable.fields(args, FACE_FIELDS if args.all_faces else FIELDS)
    out, fmt = open_output(args, resume=args.resume)
    try:
        todo = inputs.paths
        header = True
        if args.resume:
            prior = out.resume(fmt, fields, options, grouped=args.all_faces)
            if prior.has_rows:
                header = False
                todo = [p for p in todo if escaped(p) not in prior.done]
                say(
                    "score",
                    f"resuming: {len(inputs.paths) - len(todo)} of {len(inputs.paths)} inputs "
                    f"already have rows in {out.name}",
                )
        writer = RowWriter(out.stream, fmt, fields, header, options, out.name)
        failed = no_face = 0
        rows = score_rows(scorer, [p for p in todo if p not in inputs.unlistable], args, landmarks)
        # a path's rows: one, or with --all-faces one per face (gathered: the next path's
        # first row ends them)
        scored = by_path(rows) if args.all_faces else ([row] for row in rows)
        for path in todo:
            if path in inputs.unlistable:
                group = [unlistable_row(path, inputs.unlistable[path])]
            else:
                group = next(scored)
            failed += group[0]["status"] in FAILED
            no_face += group[0]["status"] == "no_face"
            writer.write_group(group)  # a photo's rows in one write
    except KeyboardInterrupt:
        say("score", "interrupted")
        return 130
    finally:
        out.close()
    return exit_status("score", failed, len(todo), no_face)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "score",
        help="score image files, folders and globs",
        description=SCORE_HELP,
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    scoring_options(s)
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
        "that have no ok/no_face row yet (a killed run continues where it stopped; with "
        "--all-faces the last photo in the file is scored again). Refused (exit 2) when the "
        "file's first record shows other options or model, or a line is not a row",
    )
    s.set_defaults(func=cmd_score)
