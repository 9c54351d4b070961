"""The argparse types of the options that take numbers: a value out of range is argparse's usage
error (exit 2), never a traceback from the core."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

#: The kind of number an option takes.
_Number = TypeVar("_Number", bound=float)


def _number(
    kind: Callable[[str], _Number],
    lo: _Number,
    hi: _Number,
    what: str,
    also: tuple[_Number, ...] = (),
) -> Callable[[str], _Number]:
    """An argparse type: a ``kind`` number in [lo, hi] (or one of ``also``), refused with
    argparse's usage error (exit 2) otherwise."""

    def parse(text: str) -> _Number:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value in also or (math.isfinite(value) and lo <= value <= hi):
            return value
        raise argparse.ArgumentTypeError(f"{what}, got {text}")

    parse.__name__ = what  # argparse names a type by it in "invalid ... value"
    return parse


DETECT_SIZE: Callable[[str], int] = _number(int, 32, 4096, "must be 32 to 4096")
WORKERS: Callable[[str], int] = _number(
    int, 1, 1024, "must be -1 (all cores) or 1 to 1024", also=(-1,)
)
MIN_FACE: Callable[[str], float] = _number(float, 0, 1e9, "must be 0 or more (pixels)")
THRESHOLD: Callable[[str], float] = _number(float, 0, 1, "must be 0 to 1")
PERCENT: Callable[[str], float] = _number(float, 0, 100, "must be 0 to 100")
K: Callable[[str], int] = _number(int, 1, 10**9, "must be 1 or more")
