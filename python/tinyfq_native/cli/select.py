"""``tinyfq select``: each sub-folder of a folder is a track or template; keep its k best
frames."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tinyfq_native.cli.argtypes import K
from tinyfq_native.cli.common import (
    EXIT_HELP,
    FAILED,
    SCORE_HELP,
    SELECT_FIELDS,
    Inputs,
    RowWriter,
    exit_status,
    load,
    open_output,
    report_skipped,
    say,
    score_rows,
    scoring_options,
    unlistable_row,
    walk_inputs,
)


def cmd_select(args: argparse.Namespace) -> int:
    """Each sub-folder of DIR is a template/track: keep its k best frames."""
    import shutil

    root = Path(args.dir)
    if not root.is_dir():
        say("select", f"not a folder: {root}")
        return 2
    try:
        tracks = sorted(d for d in root.iterdir() if d.is_dir())
    except OSError as e:
        say("select", f"cannot list {root}: {e.strerror or e}")
        return 2
    if not tracks:
        tracks = [root]  # a single folder of frames is one track
    seen = Inputs()
    members: dict[str, list[str]] = {}
    for t in tracks:
        found = walk_inputs([str(t)], args.recursive)
        members[str(t)] = found.paths
        seen.skipped += found.skipped
        seen.loops += found.loops
        seen.unlistable |= found.unlistable
    report_skipped("select", seen, args.list_skipped)
    paths = [p for ps in members.values() for p in ps if p not in seen.unlistable]
    if not paths and not seen.unlistable:
        say("select", "no images found")
        return 1
    scorer, landmarks = load(args)
    out, fmt = open_output(args)  # before the scoring: an output it cannot write stops it
    failed = no_face = 0
    try:
        writer = RowWriter(out.stream, fmt, SELECT_FIELDS, name=out.name)
        rows = list(score_rows(scorer, paths, args, landmarks))
        results = {r["path"]: (r["score"], r["message"], r["status"]) for r in rows}
        # --max-fnmr / --min-quality: a scored face that fails them is not selected
        dropped = {r["path"] for r in rows if r.get("keep") is False and r["score"] is not None}
        for p, why in seen.unlistable.items():
            row = unlistable_row(p, why)
            results[p] = (None, row["message"], row["status"])
        paths = [p for ps in members.values() for p in ps]
        for track, ps in members.items():
            ok = [
                (results[p][0], i, p)
                for i, p in enumerate(ps)
                if results[p][0] is not None and p not in dropped
            ]
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
                if p in dropped:
                    why = "not kept: " + (
                        "--max-fnmr" if args.max_fnmr is not None else "--min-quality"
                    )
                    writer.write(
                        track=name, rank="", path=p, score=results[p][0], status="ok", message=why
                    )
                if results[p][0] is None:
                    status = results[p][2]
                    failed += status in FAILED
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
        out.close()
    return exit_status("select", failed, len(paths), no_face)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = sub.add_parser(
        "select",
        help="keep the k best frames of each sub-folder (track)",
        description="Each sub-folder of DIR is a template or video track; writes "
        "its k highest-quality frames (track, rank, path, score) and optionally "
        "copies or links them.\n\n" + SCORE_HELP,
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("dir", metavar="DIR")
    t.add_argument("-k", type=K, default=1, help="frames to keep per track (1 or more)")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--copy-to", metavar="OUT", help="copy the chosen files to OUT/<track>/")
    g.add_argument("--link-to", metavar="OUT", help="symlink the chosen files in OUT/<track>/")
    scoring_options(t)
    t.set_defaults(func=cmd_select)
