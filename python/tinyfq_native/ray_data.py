"""Scoring on Ray Data: the same engine, one Scorer per actor (`pip install "tinyfq-native[ray]"`).

    import ray
    from tinyfq_native.ray_data import ScoreBatch, path_dataset

    ds = path_dataset(paths)                           # or ray.data.read_binary_files(...)
    out = ds.map_batches(ScoreBatch, fn_constructor_kwargs={"detect": True},
                         batch_size=256, concurrency=8, batch_format="pyarrow")
    out.write_parquet("scores/")                       # path, score, status, message

A batch holds a ``path`` column and optionally a ``bytes`` column (the encoded image, e.g. from
``read_binary_files(include_paths=True)``); with bytes, decoding happens from memory, else from
the path on the worker. Each actor builds one :class:`Scorer` (and detector) and scores its
batches on one native thread (Ray spreads the actors over the cores). A bad image becomes a row
with the status the CLI's CSV gives it (``missing``, ``invalid``, ``unsupported``, ``no_face``)
and a message, never a failed task. Every batch
is an Arrow table whose schema metadata records the model (version and weights sha256), so the
Parquet files say which model made them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from tinyfq_native import Detector, Scorer
from tinyfq_native.engine import Result
from tinyfq_native.rows import FIELDS, row_of

COLUMNS = FIELDS


def model_metadata(scorer: Scorer) -> dict[bytes, bytes]:
    """What the Parquet schema records about the model."""
    info = scorer.info
    weights = info.get("weights", {})
    return {
        b"tinyfq.model_version": str(info.get("version")).encode(),
        b"tinyfq.model_sha256": str(weights.get("sha256", "")).encode(),
        b"tinyfq.model": json.dumps(
            {"version": info.get("version"), "label_model": info.get("label_model")}
        ).encode(),
    }


def _table(results: list[Result], meta: dict[bytes, bytes]) -> Any:
    """The Arrow table of ``results``, one row each, made by :func:`row_of` as the CLI's
    CSV and JSON lines are (a score that is not ok is null)."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("path", pa.string()),
            ("score", pa.float32()),
            ("status", pa.string()),
            ("message", pa.string()),
        ],
        metadata=meta,
    )
    rows = [row_of(r) for r in results]
    return pa.Table.from_arrays(
        [pa.array([row[f.name] for row in rows], type=f.type) for f in schema], schema=schema
    )


class ScoreBatch:
    """A Ray Data callable class: ``map_batches(ScoreBatch, fn_constructor_kwargs={...})``.

    Args: ``model`` (None = the embedded default), ``detect`` (find the largest face first),
    ``detect_size``, ``min_face``, ``face_threshold`` (as the CLI's options).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        detect: bool = False,
        detect_size: int = 320,
        min_face: float = 0.0,
        face_threshold: float = 0.6,
    ):
        detector = Detector(detect_size, min_face=min_face, score_threshold=face_threshold)
        self.scorer = Scorer(model, detector=detector if detect else None)
        self.detect = detect
        self.meta = model_metadata(self.scorer)

    def _decoded(self, data: bytes) -> Any:
        """The decoded image, or the exception that says why it is not one."""
        from tinyfq_native.images import decode_image

        try:
            return decode_image(bytes(data))
        except (ValueError, RuntimeError, MemoryError) as e:  # a row, never a failed task
            return e

    def __call__(self, batch: Any) -> Any:
        cols = batch.to_pydict() if hasattr(batch, "to_pydict") else dict(batch)
        paths = [str(p) for p in cols["path"]]
        if "bytes" in cols:
            images = [self._decoded(b) for b in cols["bytes"]]
            per_path = self.scorer._engine.images(
                paths, images, detect=self.detect, workers=1, format="rgb"
            )
            results = [rs[0] for rs in per_path]
        else:
            results = list(self.scorer.score_paths(paths, detect=self.detect, workers=1))
        return _table(results, self.meta)


def path_dataset(paths: Sequence[str], blocks: int | None = None) -> Any:
    """A Ray Dataset of one ``path`` column, in order, in ``blocks`` blocks (default: one per
    256 paths)."""
    import ray

    n = blocks or math.ceil(len(paths) / 256)
    return ray.data.from_items(
        [{"path": str(p)} for p in paths], override_num_blocks=max(1, min(n, len(paths)))
    )


def score_dataset(
    ds: Any,
    *,
    model: str | None = None,
    detect: bool = False,
    concurrency: Any = None,
    batch_size: int = 256,
    **detector_options: Any,
) -> Any:
    """``ds`` scored: columns path, score, status, message (see :class:`ScoreBatch`). Actors
    that die (a lost node, an OOM kill) are restarted and their batches retried: Ray Data's
    actor pools default to unlimited restarts and task retries (tests/test_ray.py checks)."""
    return ds.map_batches(
        ScoreBatch,
        fn_constructor_kwargs={"model": model, "detect": detect, **detector_options},
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=concurrency,
    )


def write_parquet(ds: Any, out: str, metadata: dict[bytes, bytes] | None = None) -> dict[str, int]:
    """Stream a scored dataset into one Parquet file, rows in dataset order, ``metadata``
    added to the schema's (the CLI records its options there); returns the count of each
    status."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    writer = None
    try:
        for table in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            if writer is None:
                meta = (table.schema.metadata or {}) | (metadata or {})
                writer = pq.ParquetWriter(out, table.schema.with_metadata(meta))
            writer.write_table(table)
            for s in table.column("status").to_pylist():
                counts[s] = counts.get(s, 0) + 1
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # an empty dataset still gets a file with the schema
        pq.write_table(_table([], metadata or {}), out)
    return counts
