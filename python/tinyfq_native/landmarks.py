"""Five-point landmarks: the one parser for every place they come from (a landmarks file for
the CLI, a labels row, a golden-scores row, a JSON list)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import SupportsFloat, Union

import numpy as np

#: What :func:`as_landmarks` takes: a string of ten numbers, ten numbers (or numeric strings),
#: five (x, y) pairs, or a (5, 2) array.
LandmarkLike = Union[
    str, "np.ndarray", Sequence[Union[SupportsFloat, str]], Sequence[Sequence[SupportsFloat]]
]


def as_landmarks(value: LandmarkLike) -> np.ndarray:
    """(5, 2) float32 landmarks from a whitespace- or comma-separated string of ten numbers,
    ten numbers, five (x, y) pairs or a (5, 2) array (left eye, right eye, nose, left and right
    mouth corner, image pixels). Raises ValueError naming what was wrong."""
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
    else:
        parts = np.asarray(value, dtype=object).reshape(-1).tolist()
    if len(parts) != 10:
        raise ValueError(f"five landmarks need ten coordinates, got {len(parts)}: {value!r}")
    try:
        arr = np.array([float(p) for p in parts], np.float32).reshape(5, 2)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"landmark coordinates must be numbers, got {value!r}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"landmark coordinates must be finite, got {value!r}")
    return arr


def read_landmarks(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """A landmarks file: CSV with a ``path`` column and ten coordinate columns (x1 y1 ... x5
    y5), or JSON lines (``.jsonl``/``.json``) with ``{"path": ..., "landmarks": [[x, y] x 5]}``.
    Keys are the paths as given and their absolute paths. Anything malformed raises ValueError
    naming the file, the row and what was wrong."""
    path = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark ("CSV UTF-8" of spreadsheets) too
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start})") from None
    return parse_landmarks(text, path, jsonl=path.endswith((".jsonl", ".json")))


def parse_landmarks(
    text: str, source: str = "<landmarks>", jsonl: bool = False
) -> dict[str, np.ndarray]:
    """The rows of a landmarks file's text (see read_landmarks); `source` names it in errors."""
    items: list[tuple[int, object, LandmarkLike]] = []  # (line or row, path, landmarks)
    if jsonl:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{source}, line {n}: not JSON ({e})") from None
            if not isinstance(row, dict) or "path" not in row or "landmarks" not in row:
                raise ValueError(f'{source}, line {n}: expected {{"path": ..., "landmarks": ...}}')
            items.append((n, row["path"], row["landmarks"]))
    else:
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as e:
            raise ValueError(f"{source}: not readable as CSV ({e})") from None
        header = rows[0] if rows else []
        if not header or header[0] != "path" or len(header) != 11:
            raise ValueError(
                f"{source}: expected a header 'path' + 10 coordinate columns, got {header}"
            )
        items = [(n, r[0], r[1:]) for n, r in enumerate(rows[1:], 2) if r]
    table: dict[str, np.ndarray] = {}
    for n, key, lm in items:
        where = f"{source}, {'line' if jsonl else 'row'} {n}"
        if not isinstance(key, str) or not key or "\0" in key:
            raise ValueError(f"{where}: the path must be a non-empty string, got {key!r}")
        try:
            arr = as_landmarks(lm)
        except ValueError as e:
            raise ValueError(f"{where} ({key}): {e}") from None
        table[key] = arr
        table[os.path.abspath(key)] = arr
    return table
