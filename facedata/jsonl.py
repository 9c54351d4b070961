"""The JSON-lines caches of training and evaluation (embeddings, measures): appended to as
work is done, read back skipping a last line cut by an interrupted run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """The records of a JSON-lines file (none if it does not exist); a line that does not
    parse (a write cut short) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open() as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
