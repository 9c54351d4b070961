"""The JSON-lines caches of training and evaluation (embeddings, measures): appended to as
work is done, read back skipping a last line cut by an interrupted run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


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


def fill_cache(
    path: str | Path,
    rows: dict[str, dict],
    jobs: Sequence[Any],
    work: Callable[[Any], dict],
    init: Callable[..., None],
    initargs: tuple = (),
    *,
    workers: int,
    desc: str,
    unit: str,
    mininterval: float = 0.1,
) -> None:
    """Run ``work`` over ``jobs`` on ``workers`` spawned processes (each set up by
    ``init(*initargs)``), appending each record to the JSON-lines cache at ``path`` as it comes
    and to ``rows`` under its ``"key"``; a tqdm bar on stderr."""
    import sys
    from multiprocessing import get_context

    from tqdm import tqdm

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f, get_context("spawn").Pool(workers, init, initargs) as pool:
        for r in tqdm(
            pool.imap(work, jobs, chunksize=8),
            total=len(jobs),
            desc=desc,
            unit=unit,
            file=sys.stderr,
            mininterval=mininterval,
        ):
            rows[r["key"]] = r
            f.write(json.dumps(r) + "\n")
