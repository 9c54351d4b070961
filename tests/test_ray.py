"""Scoring on a real local Ray (ray.init(num_cpus=2)): the same rows as the engine, bad files as
rows, a killed actor retried without losing or duplicating rows, the CLI's Parquet output."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.conftest import face_folder
from tinyfq_native import Scorer, Status

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def planted(data_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ray")
    photos = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[:40]
    folder = face_folder(tmp / "in", photos, link=True)
    (folder / "junk.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    paths = sorted(str(p) for p in folder.iterdir()) + [str(folder / "gone.jpg")]
    return paths


def _rows(table):
    return list(zip(*(table.column(c).to_pylist() for c in ("path", "score", "status", "message"))))


def test_ray_rows_equal_the_engine_on_a_folder_with_bad_files(local_ray, planted, tmp_path):
    from tinyfq_native.ray_data import path_dataset, score_dataset

    for detect in (False, True):
        ds = score_dataset(path_dataset(planted), detect=detect, concurrency=1, batch_size=16)
        got = _rows(_table_of(ds))
        want = list(Scorer().score_paths(planted, detect=detect, workers=1))
        assert [g[0] for g in got] == planted
        assert [g[2] for g in got] == [w.status.name for w in want]
        ok = [i for i, w in enumerate(want) if w.status == Status.ok]
        assert len(ok) >= 40
        assert np.array_equal(
            np.float32([got[i][1] for i in ok]), np.float32([want[i].score for i in ok])
        )
        bad = {os.path.basename(g[0]): g for g in got if g[2] != "ok"}
        assert set(bad) == {"junk.jpg", "empty.png", "gone.jpg"}
        assert bad["gone.jpg"][2] == "missing" and all(g[3] for g in bad.values())


def _table_of(ds):
    import pyarrow as pa

    return pa.concat_tables(list(ds.iter_batches(batch_format="pyarrow", batch_size=None)))


def test_bytes_batches_score_like_paths(local_ray, planted):
    from tinyfq_native.ray_data import score_dataset

    good = [p for p in planted if p.endswith(".jpg") and os.path.exists(p)][:12]
    ds = ray.data.read_binary_files(good, include_paths=True)
    got = {os.path.basename(p): (s, st) for p, s, st, _ in _rows(_table_of(score_dataset(ds)))}
    want = Scorer().score_files(good, workers=1)
    for p, q in zip(good, want):
        s, st = got[os.path.basename(p)]
        assert st == "ok" and s == pytest.approx(float(q), abs=1e-6)
    # undecodable bytes are a row, not a failed task
    items = [{"path": "junk", "bytes": b"\xff\xd8 junk"}, {"path": "empty", "bytes": b""}]
    bad = _rows(_table_of(score_dataset(ray.data.from_items(items), detect=True)))
    assert [(b[0], b[2]) for b in bad] == [("junk", "invalid"), ("empty", "invalid")]
    assert all(b[3] for b in bad)


def test_a_killed_actor_is_retried_without_losing_or_duplicating_rows(local_ray, planted, tmp_path):
    from tinyfq_native.ray_data import ScoreBatch, path_dataset

    marker = str(tmp_path / "died-once")

    class DiesOnce(ScoreBatch):  # defined here so that Ray ships it by value
        def __call__(self, batch):
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)  # the worker process dies mid-batch
            return super().__call__(batch)

    ds = path_dataset(planted).map_batches(
        DiesOnce,
        batch_size=8,
        batch_format="pyarrow",
        concurrency=1,
    )
    got = _rows(_table_of(ds))
    assert os.path.exists(marker)
    assert [g[0] for g in got] == planted  # every row once, in order


def test_cli_scores_into_parquet_with_the_model_recorded(planted, tmp_path):
    """`tinyfq score --ray` (its own local Ray, as a user runs it) gives the CLI's scores."""
    if ray.is_initialized():
        ray.shutdown()
    from tinyfq_native.cli import main

    out = tmp_path / "s.parquet"
    assert (
        main(["score", "--ray", "--detect", *planted, "-o", str(out), "-q", "--workers", "2"]) == 1
    )  # three bad inputs
    table = pq.read_table(out)
    meta = table.schema.metadata
    assert meta[b"tinyfq.model_version"].decode() == Scorer().info["version"]
    csv_out = tmp_path / "s.csv"
    main(["score", "--detect", *planted, "-o", str(csv_out), "-q"])
    from tests.conftest import read_csv

    want = read_csv(csv_out)
    got = _rows(table)
    assert [g[0] for g in got] == [w["path"] for w in want]
    for g, w in zip(got, want):
        if w["status"] == "ok":
            assert g[2] == "ok" and abs(g[1] - float(w["score"])) < 1e-6
        else:
            assert g[2] in ("missing", "invalid", "no_face")
