"""``tinyfq report``: one self-contained HTML page of a ``tinyfq score`` output (see
:mod:`tinyfq_native.report`)."""

from __future__ import annotations

import argparse

from tinyfq_native.cli.actionable import _fmr
from tinyfq_native.cli.argtypes import PERCENT, THRESHOLD, K
from tinyfq_native.cli.common import say


def cmd_report(args: argparse.Namespace) -> int:
    from tinyfq_native import Scorer
    from tinyfq_native.report import write_report

    try:
        cal = Scorer(args.model).calibration if args.model else None
        report = write_report(
            args.scores,
            args.output,
            calibration=cal,
            max_fnmr=args.max_fnmr,
            min_quality=args.min_quality,
            fmr=args.fmr,
            recogniser=args.recogniser,
            count=args.count,
            thumbnails=not args.no_thumbnails,
        )
    except (OSError, ValueError, KeyError) as e:
        say("report", str(e))
        return 2
    say("report", f"{len(report.rows)} rows of {args.scores} -> {args.output}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser(
        "report",
        help="an HTML report of a score output: histogram, threshold, worst and best faces",
        description="One self-contained HTML file (nothing loaded from the network) of a "
        "`tinyfq score` output (CSV or JSON lines): the score histogram with the calibrated "
        "threshold, a threshold control that says how many faces each setting keeps, the "
        "worst and best faces as thumbnails with their factors (score with --factors to have "
        "them), and a summary row per folder (person or track).",
    )
    r.add_argument("scores", metavar="SCORES", help="a tinyfq score output (.csv or .jsonl)")
    r.add_argument("-o", "--output", default="report.html", help="default: report.html")
    r.add_argument("-n", "--count", type=K, default=12, help="worst and best faces shown")
    k = r.add_mutually_exclusive_group()
    k.add_argument(
        "--max-fnmr",
        type=THRESHOLD,
        metavar="X",
        help="calibrated threshold: the lowest score whose expected FNMR is at most X "
        "(default: the recogniser's FNMR over all held-out pairs)",
    )
    k.add_argument(
        "--min-quality",
        type=PERCENT,
        metavar="Q",
        help="calibrated threshold: the lowest score whose unified quality is at least Q",
    )
    r.add_argument("--fmr", type=_fmr, default=1e-3, help="--max-fnmr: false match rate")
    r.add_argument(
        "--recogniser",
        choices=("arcface", "dlib"),
        default=None,
        help="--max-fnmr: reference recogniser (default: the calibration's unified one)",
    )
    r.add_argument("--model", help="the model that made the scores (default: embedded)")
    r.add_argument("--no-thumbnails", action="store_true", help="leave the thumbnails out")
    r.set_defaults(func=cmd_report)
