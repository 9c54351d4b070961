"""One outcome vocabulary end to end: the same inputs get the same status, by the same name,
in the Python API, the CLI's CSV and JSON lines, and Parquet (Ray Data, from paths and from
encoded bytes)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import face_folder, read_csv, read_jsonl
from tinyfq_native import Result, Scorer, Status
from tinyfq_native.cli import main
from tinyfq_native.rows import FIELDS, row_of


@pytest.fixture(scope="module")
def inputs(data_root, tmp_path_factory):
    """Two faces, a photo without a face, a corrupt JPEG, an empty file, text named .png, a
    PAM image (a PNM variant the decoders do not read), a file that is not there."""
    import cv2

    tmp = tmp_path_factory.mktemp("outcomes")
    photos = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[:2]
    folder = face_folder(tmp / "in", photos, link=True)
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160, 3), 90, np.uint8))
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("these are notes, not a picture")
    pam = b"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"
    (folder / "pam.pnm").write_bytes(pam + bytes(12))
    return sorted(str(p) for p in folder.iterdir()) + [str(folder / "gone.jpg")]


EXPECTED = {
    "blank.png": "no_face",
    "corrupt.jpg": "invalid",
    "empty.jpg": "invalid",
    "notes.png": "invalid",
    "pam.pnm": "unsupported",
    "gone.jpg": "missing",
}


def _expected(paths: list[str]) -> list[str]:
    return [EXPECTED.get(os.path.basename(p), "ok") for p in paths]


def test_every_output_names_every_outcome_alike(inputs, tmp_path):
    api = [r.status.name for r in Scorer().score_paths(inputs, detect=True, workers=1)]
    assert api == _expected(inputs)
    _, _, statuses = Scorer().score_files_detailed(inputs, detect=True)
    assert [s.name for s in statuses] == api
    assert [f.status.name for f in Scorer().score_files_faces(inputs)] == api

    for suffix in ("csv", "jsonl"):
        out = tmp_path / f"rows.{suffix}"
        assert main(["score", "--detect", *inputs, "-o", str(out), "-q"]) == 1
        rows = read_csv(out) if suffix == "csv" else read_jsonl(out)
        assert [r["path"] for r in rows] == inputs
        assert [r["status"] for r in rows] == api, suffix
        assert all(r["message"] for r in rows if r["status"] != "ok")


def test_parquet_from_paths_and_from_bytes_names_them_alike(inputs):
    pa = pytest.importorskip("pyarrow")
    from tinyfq_native.ray_data import ScoreBatch

    batch = ScoreBatch(detect=True)
    by_path = batch(pa.table({"path": inputs}))
    assert by_path.column_names == list(FIELDS)
    assert by_path.column("status").to_pylist() == _expected(inputs)
    present = [p for p in inputs if os.path.exists(p)]
    blobs = [Path(p).read_bytes() for p in present]
    by_bytes = batch(pa.table({"path": present, "bytes": blobs}))
    assert by_bytes.column("status").to_pylist() == _expected(present)
    ok = [i for i, p in enumerate(present) if _expected([p]) == ["ok"]]
    want = by_path.column("score").to_pylist()
    got = by_bytes.column("score").to_pylist()
    for i in ok:
        assert got[i] == pytest.approx(want[i], abs=1e-6)


def test_the_cli_on_ray_writes_the_same_statuses(inputs, tmp_path):
    pytest.importorskip("ray")
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "rows.parquet"
    args = ["score", "--detect", *inputs, "-o", str(out), "-q", "--ray", "--workers", "1"]
    assert main(args) == 1
    table = pq.read_table(out)
    assert table.column("path").to_pylist() == inputs
    assert table.column("status").to_pylist() == _expected(inputs)


def test_row_of_uses_the_status_name_and_only_ok_has_a_score():
    for status in Status.__members__.values():
        score = 0.5 if status == Status.ok else None
        row = row_of(Result("a.jpg", score, status, "" if score else "why"))
        assert row["status"] == status.name and row["score"] == score
    assert {"ok", "no_face", "missing", "invalid", "unsupported"} <= set(Status.__members__)
    assert Result("a", None, Status.unsupported, "x").failed
    assert not Result("a", None, Status.no_face, "x").failed
