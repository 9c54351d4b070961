"""The options that make a row actionable, shared by ``tinyfq score`` and ``tinyfq select``:
``--factors`` (each face's quality factors as columns, :mod:`tinyfq_native.factors`) and
``--max-fnmr`` / ``--min-quality`` (a ``quality`` column, the unified 0-100 score, and a
``keep`` column from the model's calibration table, :mod:`tinyfq_native.calibration`)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from tinyfq_native.calibration import Calibration
from tinyfq_native.cli.argtypes import PERCENT, THRESHOLD
from tinyfq_native.engine import Result
from tinyfq_native.factors import NAMES, factor_columns

FMRS = (1e-2, 1e-3, 1e-4)


def _fmr(text: str) -> float:
    v = THRESHOLD(text)
    if not any(math.isclose(v, f) for f in FMRS):
        raise argparse.ArgumentTypeError(f"must be one of 1e-2, 1e-3, 1e-4, got {text}")
    return v


def options(s: argparse.ArgumentParser) -> None:
    """Add --factors, --max-fnmr/--min-quality, --fmr and --recogniser to ``s``."""
    s.add_argument(
        "--factors",
        action="store_true",
        help="add each face's quality factors as columns (" + ", ".join(NAMES) + "; "
        "docs/actionable.md); files are then decoded at full size",
    )
    k = s.add_mutually_exclusive_group()
    k.add_argument(
        "--max-fnmr",
        type=THRESHOLD,
        metavar="X",
        help="add quality, expected_fnmr and keep columns: keep a face whose expected "
        "false non-match rate (the model's calibration, --fmr, --recogniser) is at most X; "
        "select keeps only such faces",
    )
    k.add_argument(
        "--min-quality",
        type=PERCENT,
        metavar="Q",
        help="add quality and keep columns: keep a face whose unified quality (0-100, "
        "docs/actionable.md) is at least Q; select keeps only such faces",
    )
    s.add_argument(
        "--fmr", type=_fmr, default=1e-3, help="--max-fnmr: false match rate (default 1e-3)"
    )
    s.add_argument(
        "--recogniser",
        choices=("arcface", "dlib"),
        default="arcface",
        help="--max-fnmr: reference recogniser of the calibration (default arcface)",
    )


def fields(args: argparse.Namespace, base: tuple[str, ...]) -> tuple[str, ...]:
    """The row's columns ``base`` and after them those these options add (a factor the row
    already has, the detector's confidence of --all-faces, once)."""
    out: tuple[str, ...] = NAMES if getattr(args, "factors", False) else ()
    if getattr(args, "max_fnmr", None) is not None:
        out += ("quality", "expected_fnmr", "keep")
    elif getattr(args, "min_quality", None) is not None:
        out += ("quality", "keep")
    return base + tuple(f for f in out if f not in base)


def recorded(args: argparse.Namespace) -> dict[str, Any]:
    """What these options change in the rows, for the output's record of its options (only
    the options given, so that a run without them records what it did before)."""
    out: dict[str, Any] = {}
    if getattr(args, "factors", False):
        out |= {"factors": True, "reduced_decode": False}  # files decoded at full size
    if getattr(args, "max_fnmr", None) is not None:
        out["keep"] = {"max_fnmr": args.max_fnmr, "fmr": args.fmr, "recogniser": args.recogniser}
    elif getattr(args, "min_quality", None) is not None:
        out["keep"] = {"min_quality": args.min_quality}
    return out


class Columns:
    """The added columns of each row. Raises ValueError when --max-fnmr or --min-quality is
    given and the model has no calibration table."""

    def __init__(self, args: argparse.Namespace, info: dict[str, Any]):
        self.factors = bool(getattr(args, "factors", False))
        self.max_fnmr: float | None = getattr(args, "max_fnmr", None)
        self.min_quality: float | None = getattr(args, "min_quality", None)
        self.fmr, self.recogniser = getattr(args, "fmr", 1e-3), getattr(args, "recogniser", "")
        self.calibration = Calibration.of(info)
        if (self.max_fnmr is not None or self.min_quality is not None) and not self.calibration:
            raise ValueError(
                f"model {info.get('version')!r} has no calibration table: --max-fnmr and "
                "--min-quality need one (python -m evaluation.calibrate)"
            )

    def of(self, result: Result) -> dict[str, Any]:
        out = factor_columns(result) if self.factors else {}
        cal = self.calibration
        if cal is None or (self.max_fnmr is None and self.min_quality is None):
            return out
        s = result.score
        quality = None if s is None else cal.unified(s)
        out["quality"] = None if quality is None else round(quality, 2)
        if self.max_fnmr is not None:
            fnmr = None if s is None else cal.expected_fnmr(s, self.fmr, self.recogniser)
            out["expected_fnmr"] = None if fnmr is None else round(fnmr, 5)
            out["keep"] = fnmr is not None and fnmr <= self.max_fnmr
        else:
            assert self.min_quality is not None
            out["keep"] = quality is not None and quality >= self.min_quality
        return out
