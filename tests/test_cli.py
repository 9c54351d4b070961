"""The tinyfq command on real folders with planted bad files."""

import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from tests.conftest import face_folder
from tinyfq_native.cli import expand, main


def _png_claiming(w: int, h: int) -> bytes:
    """A small real PNG whose header says it is w x h (a decompression bomb's shape)."""
    import cv2

    ok, buf = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    data = bytearray(buf.tobytes())
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # a valid IHDR CRC
    return bytes(data)


@pytest.fixture()
def planted(tmp_path, data_root):
    """Six real faces plus every kind of bad file."""
    src = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[:6]
    folder = face_folder(tmp_path / "faces", src)
    good = src[0].read_bytes()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    # a JPEG whose header segments are garbage (damage inside the entropy-coded data: see
    # test_decode.py; stb_image decodes it to a damaged picture, libjpeg reports it)
    (folder / "corrupt.jpg").write_bytes(good[:2] + bytes(range(256)) * 2 + good[514:])
    (folder / "notes.png").write_bytes(b"just some text, not a picture\n")
    (folder / "huge.png").write_bytes(_png_claiming(9000, 9000))
    (folder / "ignored.txt").write_text("not an image extension: not listed")
    sub = folder / "nested"
    sub.mkdir()
    shutil.copy(src[1], sub / "deep.jpg")
    return folder, [f.name for f in src]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_bad_files_get_error_rows_and_the_rest_is_scored(planted, tmp_path, capsys):
    folder, good = planted
    out = tmp_path / "scores.csv"
    rc = main(["score", str(folder), "-o", str(out), "--workers", "2"])
    assert rc == 1  # some inputs failed
    rows = {os.path.basename(r["path"]): r for r in _rows(out)}
    assert set(rows) == set(good) | {
        "empty.jpg",
        "truncated.jpg",
        "corrupt.jpg",
        "notes.png",
        "huge.png",
    }
    for name in good:
        assert rows[name]["status"] == "ok" and 0 < float(rows[name]["score"]) < 1
    assert "0 bytes" in rows["empty.jpg"]["message"]
    assert "truncated" in rows["truncated.jpg"]["message"]
    assert "not a decodable image" in rows["notes.png"]["message"]
    assert "limit" in rows["huge.png"]["message"]
    assert rows["corrupt.jpg"]["status"] == "error"
    assert "5 of 11 inputs failed" in capsys.readouterr().err


def test_recursive_globs_and_jsonl(planted, tmp_path):
    folder, good = planted
    assert not any("deep.jpg" in p for p in expand([str(folder)], False))
    assert any("deep.jpg" in p for p in expand([str(folder)], True))
    out = tmp_path / "s.jsonl"
    rc = main(
        [
            "score",
            str(folder / "Colin*.jpg"),
            str(folder / "nested" / "deep.jpg"),
            "-o",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(good) + 1
    assert all(r["status"] == "ok" and 0 < r["score"] < 1 for r in rows)


def test_missing_path_is_an_error_row(tmp_path, planted):
    folder, good = planted
    out = tmp_path / "m.csv"
    rc = main(["score", str(folder / good[0]), str(tmp_path / "absent.jpg"), "-o", str(out), "-q"])
    rows = _rows(out)
    assert rc == 1 and [r["status"] for r in rows] == ["ok", "error"]
    assert "no such file" in rows[1]["message"]


def test_detect_and_landmarks_give_the_same_scores(planted, tmp_path, face_rows, data_root):
    folder, good = planted
    out = tmp_path / "d.csv"
    rc = main(
        [
            "score",
            "--detect",
            str(folder / good[0]),
            str(folder / good[1]),
            str(folder / "notes.png"),
            "-o",
            str(out),
            "-q",
        ]
    )
    rows = _rows(out)
    assert rc == 1 and [r["status"] for r in rows] == ["ok", "ok", "error"]
    # the same photos through --landmarks with the detector's landmarks
    from tinyfq_native import Detector
    from tinyfq_native.images import read_image

    det = Detector()
    lm_file = tmp_path / "lm.csv"
    with lm_file.open("w") as f:
        f.write("path," + ",".join(f"{a}{i}" for i in range(1, 6) for a in "xy") + "\n")
        for name in good[:2]:
            bgr = np.ascontiguousarray(read_image(str(folder / name))[:, :, ::-1])
            lm = det.largest(bgr).landmarks.reshape(-1)
            f.write(str(folder / name) + "," + ",".join(f"{v:.4f}" for v in lm) + "\n")
    out2 = tmp_path / "l.csv"
    rc = main(
        [
            "score",
            str(folder / good[0]),
            str(folder / good[1]),
            "--landmarks",
            str(lm_file),
            "-o",
            str(out2),
            "-q",
        ]
    )
    assert rc == 0
    for a, b in zip(rows[:2], _rows(out2)):
        assert float(a["score"]) == pytest.approx(float(b["score"]), abs=1e-5)


def test_reduced_decode_flag(planted, tmp_path):
    from tinyfq_native.images import jpeg_decoder

    folder, good = planted
    paths = [str(folder / g) for g in good]
    full, reduced = tmp_path / "full.csv", tmp_path / "reduced.csv"
    assert main(["score", *paths, "-o", str(full), "-q"]) == 0
    assert main(["score", *paths, "-o", str(reduced), "-q", "--reduced-decode"]) == 0
    d = [abs(float(a["score"]) - float(b["score"])) for a, b in zip(_rows(full), _rows(reduced))]
    assert len(d) == len(good) and max(d) <= 0.2  # other pixels, close scores
    assert max(d) > 0 or not jpeg_decoder().startswith("libjpeg")


def test_info_and_usage_errors(capsys):
    assert main(["info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ncnn"].startswith("1.0.") and facts["input"]["size"] == 64
    assert facts["jpeg_decoder"].split()[0] in ("libjpeg-turbo", "libjpeg", "stb_image")
    # the AVX2 kernels exactly where the CPU has AVX2 (and FMA)
    expect = "avx2" if {"avx2", "fma"} <= set(facts["cpu_features"].split()) else "generic"
    assert facts["network_kernels"] == expect
    assert (
        facts["detector"].startswith("yunet_n (Apache-2.0") and "104ee26c71d5" in facts["detector"]
    )
    assert main(["score", "x.jpg", "--workers", "0"]) == 2
    r = subprocess.run(
        [sys.executable, "-m", "tinyfq_native.cli", "score", "--help"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "ALIGNED FACE CROPS" in r.stdout and "--detect" in r.stdout


def test_rows_keep_input_order_across_chunks_with_landmarks_missing(tmp_path, data_root, face_rows):
    """600 inputs (three engine chunks) through --landmarks, every third one missing from the
    landmarks file: one row per input, in input order, the missing ones as error rows where
    they stand (not gathered at the start of their chunk)."""
    rows = [r for r in face_rows if r["relpath"].startswith("lfw/")][:200]
    folder = tmp_path / "in"
    folder.mkdir()
    paths, lines = [], []
    for i in range(600):
        r = rows[i % len(rows)]
        p = folder / f"{i:04d}.jpg"
        p.symlink_to(data_root / r["relpath"])
        paths.append(str(p))
        if i % 3:
            lines.append(f"{p}," + ",".join(r["landmarks"].split()))
    lm = tmp_path / "lm.csv"
    lm.write_text("path," + ",".join(f"c{i}" for i in range(10)) + "\n" + "\n".join(lines) + "\n")
    out = tmp_path / "rows.csv"
    assert main(["score", *paths, "--landmarks", str(lm), "-o", str(out), "-q"]) == 1
    got = _rows(out)
    assert [r["path"] for r in got] == paths
    assert [r["status"] for r in got] == ["error" if i % 3 == 0 else "ok" for i in range(600)]
    assert all("no landmarks for this file in" in r["message"] for r in got[::3])
