"""The tinyfq command on real folders with planted bad files."""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from tests.conftest import face_folder, read_csv, read_jsonl
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
    return read_csv(path)


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
    assert rows["corrupt.jpg"]["status"] == "invalid"
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
    rows = read_jsonl(out)
    assert len(rows) == len(good) + 1
    assert all(r["status"] == "ok" and 0 < r["score"] < 1 for r in rows)


def test_missing_path_is_an_error_row(tmp_path, planted):
    folder, good = planted
    out = tmp_path / "m.csv"
    rc = main(["score", str(folder / good[0]), str(tmp_path / "absent.jpg"), "-o", str(out), "-q"])
    rows = _rows(out)
    assert rc == 1 and [r["status"] for r in rows] == ["ok", "missing"]
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
    assert rc == 1 and [r["status"] for r in rows] == ["ok", "ok", "invalid"]
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
    assert [r["status"] for r in got] == ["invalid" if i % 3 == 0 else "ok" for i in range(600)]
    assert all("no landmarks for this file in" in r["message"] for r in got[::3])


@pytest.mark.parametrize(
    "option, message",
    [
        (["--detect-size", "99999999999999999999"], "--detect-size: must be 32 to 4096"),
        (["--detect-size", "16"], "--detect-size: must be 32 to 4096"),
        (["--workers", "99999999999999999999"], "--workers: must be -1 (all cores) or 1 to 1024"),
        (["--workers", "0"], "--workers: must be -1"),
        (["--min-face", "-1"], "--min-face: must be 0 or more"),
        (["--min-face", "nan"], "--min-face: must be 0 or more"),
        (["--face-threshold", "1.5"], "--face-threshold: must be 0 to 1"),
    ],
)
def test_out_of_range_options_are_usage_errors(planted, option, message, capsys):
    """A huge --detect-size or --workers ended in pybind's "incompatible arguments"
    TypeError: ranges are checked by argparse (exit 2, its usage message)."""
    folder, _ = planted
    for command in (["score", str(folder), "--detect"], ["select", str(folder)]):
        assert main([*command, *option]) == 2
        err = capsys.readouterr().err
        assert message in err and "usage:" in err and "TypeError" not in err
    assert main(["select", str(folder), "-k", "0"]) == 2
    assert "-k: must be 1 or more" in capsys.readouterr().err


def test_a_landmarks_csv_with_a_byte_order_mark_is_read(planted, tmp_path, face_rows, data_root):
    """A landmarks CSV saved as "CSV UTF-8" (a spreadsheet's, with a BOM) was refused."""
    row = next(r for r in face_rows if r["relpath"].startswith("lfw/"))
    lm = tmp_path / "lm.csv"
    path = str(data_root / row["relpath"])
    text = "path," + ",".join(f"c{i}" for i in range(10)) + "\n"
    text += path + "," + ",".join(row["landmarks"].split()) + "\n"
    lm.write_bytes(b"\xef\xbb\xbf" + text.encode())
    out = tmp_path / "rows.csv"
    assert main(["score", path, "--landmarks", str(lm), "-o", str(out), "-q"]) == 0
    assert read_csv(out)[0]["status"] == "ok"
    assert json.loads(out.read_text().splitlines()[0][9:])["landmarks"] == str(lm)


def test_no_exif_orientation_scores_the_file_as_stored(data_root, tmp_path):
    """EXIF orientation is honoured by default (the decoders' part of issue 26);
    --no-exif-orientation scores the pixels as stored, and the output records which."""
    import cv2

    bgr = cv2.imread(str(sorted((data_root / "lfw" / "images" / "Tony_Blair").glob("*.jpg"))[0]))
    ok, jpeg = cv2.imencode(".jpg", cv2.rotate(bgr, cv2.ROTATE_90_COUNTERCLOCKWISE))
    # an APP1 Exif segment: one IFD entry, Orientation (0x0112) = 6 (turn 90 degrees clockwise)
    tiff = b"II*\0" + struct.pack("<IHHHIHHI", 8, 1, 0x0112, 3, 1, 6, 0, 0)
    app1 = b"\xff\xe1" + struct.pack(">H", 8 + len(tiff)) + b"Exif\0\0" + tiff
    data = jpeg.tobytes()
    (tmp_path / "tagged.jpg").write_bytes(data[:2] + app1 + data[2:])
    (tmp_path / "stored.jpg").write_bytes(data)
    ok, upright = cv2.imencode(".jpg", bgr)
    (tmp_path / "upright.jpg").write_bytes(upright.tobytes())
    names = [str(tmp_path / n) for n in ("tagged.jpg", "stored.jpg", "upright.jpg")]
    out = tmp_path / "rows.csv"
    scores = {}
    for flags in ([], ["--no-exif-orientation"]):
        assert main(["score", *names, "--detect", "-q", "-o", str(out), *flags]) == 0
        scores[bool(flags)] = [float(r["score"]) for r in read_csv(out)]
        assert json.loads(out.read_text().splitlines()[0][9:])["exif_orientation"] is not flags
    tagged, stored, upright_score = scores[False]
    assert tagged == pytest.approx(upright_score, abs=0.05) and abs(tagged - stored) > 0.1
    assert scores[True][0] == scores[True][1]  # as stored: the tag ignored


def test_parquet_records_the_options(tmp_path, capsys):
    """--ray's Parquet recorded the model in its schema metadata; the CLI adds its options,
    and refuses the options Ray does not apply (they would be recorded but not used)."""
    out = str(tmp_path / "rows.parquet")
    args = ["score", str(tmp_path / "a.jpg"), "--ray", "--fp16", "--reduced-decode", "-o", out]
    assert main(args) == 2
    assert "it takes no --fp16, --reduced-decode" in capsys.readouterr().err
    pq = pytest.importorskip("pyarrow.parquet")
    from tinyfq_native import Result, Status
    from tinyfq_native.ray_data import _table, write_parquet

    class Batches:  # a Dataset's iter_batches, without Ray
        def iter_batches(self, **_):
            yield _table([Result("a.jpg", 0.5, Status.ok)], {b"tinyfq.model_version": b"v"})

    for ds in (Batches(), type("Empty", (), {"iter_batches": lambda self, **_: iter(())})()):
        out = tmp_path / "rows.parquet"
        write_parquet(ds, str(out), metadata={b"tinyfq.options": b'{"mode": "crop"}'})
        meta = pq.read_schema(out).metadata
        assert json.loads(meta[b"tinyfq.options"]) == {"mode": "crop"}
