"""Five-point landmarks: the one parser for every place they come from (a landmarks file for
the CLI, a labels row, a golden-scores row, a JSON list)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Union

import numpy as np

LandmarkLike = Union[str, "np.ndarray", list, tuple]


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
    except (TypeError, ValueError):
        raise ValueError(f"landmark coordinates must be numbers, got {value!r}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"landmark coordinates must be finite, got {value!r}")
    return arr


def read_landmarks(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A landmarks file: CSV with a ``path`` column and ten coordinate columns (x1 y1 ... x5
    y5), or JSON lines with ``{"path": ..., "landmarks": [[x, y] x 5]}``. Keys are the paths as
    given and their absolute paths."""
    path = str(path)
    text = Path(path).read_text()
    if path.endswith((".jsonl", ".json")):
        items = [
            (r["path"], r["landmarks"])
            for r in (json.loads(line) for line in text.splitlines() if line.strip())
        ]
    else:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        if not header or header[0] != "path" or len(header) != 11:
            raise ValueError(
                f"{path}: expected a header 'path' + 10 coordinate columns, got {header}"
            )
        items = [(r[0], r[1:]) for r in reader if r]
    table: dict[str, np.ndarray] = {}
    for n, (key, lm) in enumerate(items, 2):
        try:
            arr = as_landmarks(lm)
        except ValueError as e:
            raise ValueError(f"{path}, row {n} ({key}): {e}") from None
        table[key] = arr
        table[os.path.abspath(key)] = arr
    return table
