"""Hostile files and inputs (issue "Hostile input"): damaged, truncated or odd images, paths
and landmarks, each with the error row or the ValueError it gets now, never a score of a
damaged picture."""

import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from tests.conftest import read_csv
from tests.hostile import png
from tinyfq_native import Scorer, Status
from tinyfq_native.images import read_image


def test_fifo_and_directory_are_error_rows_without_opening_them(tmp_path, data_root):
    face = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(face, folder / "face.jpg")
    os.mkfifo(folder / "x.jpg")
    s = Scorer()
    scores, messages, kinds = s.score_files_detailed(
        [folder / "face.jpg", folder / "x.jpg", folder]
    )
    assert kinds == [Status.ok, Status.invalid, Status.invalid]
    assert "not a regular file (a FIFO)" in messages[1] and "is a directory" in messages[2]
    out = tmp_path / "rows.csv"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyfq_native.cli",
            "score",
            "-r",
            str(folder),
            "-o",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # a folder's walk scores regular image files and counts the FIFO as skipped; named
    # directly, it gets its error row (above)
    assert r.returncode == 0, r.stderr
    rows = {os.path.basename(row["path"]): row for row in read_csv(out)}
    assert set(rows) == {"face.jpg"} and rows["face.jpg"]["status"] == "ok"
    assert "skipped 1 files that are not images" in r.stderr


def test_a_bare_string_is_not_a_list_of_paths():
    with pytest.raises(TypeError, match="single path"):
        Scorer().score_files("a.jpg")
    with pytest.raises(TypeError, match="single path"):
        Scorer().score_files_faces("a.jpg")


def test_path_with_nul_is_an_error_not_a_shorter_path(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    _, messages, kinds = Scorer().score_files_detailed([str(tmp_path / "a.jpg") + "\0.png"])
    assert kinds == [Status.invalid] and "NUL" in messages[0]


@pytest.mark.parametrize(
    "lm",
    [np.zeros((2, 5)), np.zeros(10), np.zeros((5, 2), complex), np.zeros((5, 3)), [[1, 2]] * 4],
)
def test_landmarks_must_be_five_real_points(lm):
    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="landmarks"):
        Scorer().score(img, lm)


def test_landmarks_far_outside_read_black_without_overflow():
    s = Scorer()
    img = np.full((120, 120, 3), 200, np.uint8)
    template = np.array(
        [[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], np.float32
    )
    black = s.score(np.zeros((64, 64, 3), np.uint8))
    for shift in (1e4, 2.2e9, -3e9):
        far = template * 1000 + np.float32(shift)  # distinct points, far away
        assert s.score(img, far) == pytest.approx(black, abs=1e-6)
    with pytest.raises(ValueError, match="degenerate"):  # float32 cannot tell them apart
        s.score(img, template + np.float32(1e30))


def test_bit_flipped_png_is_an_error_row_not_a_score(tmp_path, data_root):
    """stb_image checks no PNG checksum: a flipped bit used to decode to a damaged picture and
    get a score. Every chunk's CRC is checked now; the intact file still scores."""

    rgb = read_image(str(sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]))
    import cv2

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.ascontiguousarray(rgb[:, :, ::-1]))
    data = good.read_bytes()
    idat = data.index(b"IDAT")
    paths = [good]
    rng = np.random.default_rng(0)
    for k in range(20):  # flips inside the compressed pixel data
        bad = bytearray(data)
        bad[idat + 8 + int(rng.integers(0, 2000))] ^= 1 << int(rng.integers(0, 8))
        (tmp_path / f"flip{k}.png").write_bytes(bytes(bad))
        paths.append(tmp_path / f"flip{k}.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    paths.append(cut)
    scores, messages, kinds = Scorer().score_files_detailed(paths)
    assert kinds[0] == Status.ok and 0 < scores[0] < 1
    assert kinds[1:] == [Status.invalid] * 21, messages
    assert all("CRC mismatch in chunk IDAT" in m for m in messages[1:21])
    assert "truncated PNG" in messages[21]
    assert zlib.crc32(b"IEND") == int.from_bytes(data[-4:], "big")  # the test's PNG is well formed


def _face_rows(data_root) -> tuple[bytes, int, int]:
    rgb = read_image(str(sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]))
    h, w = rgb.shape[:2]
    return b"".join(b"\x00" + rgb[y].tobytes() for y in range(h)), w, h


def test_png_written_damaged_fails_its_zlib_checksum(tmp_path, data_root):
    """A PNG damaged before its CRCs were computed (every chunk CRC right, the pixels wrong):
    the image data's Adler-32 is checked, so it is an error row, not the score of a damaged
    face. Stored (level 0) deflate blocks keep the stream decodable whatever byte changes."""
    rows, w, h = _face_rows(data_root)
    good = png(rows, w, h, level=0)
    (tmp_path / "good.png").write_bytes(good)
    paths = [tmp_path / "good.png"]
    rng = np.random.default_rng(1)
    for k in range(10):
        bad = bytearray(rows)
        bad[int(rng.integers(1000, len(rows)))] ^= 1 << int(rng.integers(0, 8))
        # the damage is in the pixels, the checksum is of the intact rows
        data = bytearray(png(bytes(bad), w, h, level=0))
        i = data.index(b"IDAT")
        length = int.from_bytes(data[i - 4 : i], "big")
        data[i + 4 + length - 4 : i + 4 + length] = zlib.adler32(rows).to_bytes(4, "big")
        data[i + 4 + length : i + 8 + length] = zlib.crc32(
            bytes(data[i : i + 4 + length])
        ).to_bytes(4, "big")
        (tmp_path / f"bad{k}.png").write_bytes(bytes(data))
        paths.append(tmp_path / f"bad{k}.png")
    scores, messages, kinds = Scorer().score_files_detailed(paths)
    assert kinds[0] == Status.ok and 0 < scores[0] < 1, messages[0]
    assert kinds[1:] == [Status.invalid] * 10, messages
    assert all("zlib checksum mismatch" in m for m in messages[1:]), messages


def _bmp(rgb: np.ndarray) -> bytes:
    h, w = rgb.shape[:2]
    stride = (w * 3 + 3) // 4 * 4
    rows = b"".join(rgb[y, :, ::-1].tobytes() + bytes(stride - w * 3) for y in range(h - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return header + info + rows


def test_truncated_bmp_and_pnm_are_error_rows(tmp_path, data_root):
    """stb_image reads a cut-off BMP's missing pixels as black and scored it; the BMP's own
    sizes say how much pixel data it holds, and a binary PNM's header how many samples."""
    rgb = read_image(str(sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]))
    bmp = _bmp(rgb)
    (tmp_path / "good.bmp").write_bytes(bmp)
    (tmp_path / "cut.bmp").write_bytes(bmp[: len(bmp) * 2 // 3])
    h, w = rgb.shape[:2]
    pnm = f"P6\n{w} {h}\n255\n".encode() + rgb.tobytes()
    (tmp_path / "good.ppm").write_bytes(pnm)
    (tmp_path / "cut.ppm").write_bytes(pnm[: len(pnm) // 2])
    (tmp_path / "bomb.ppm").write_bytes(b"P6\n7000 7000\n255\n" + bytes(100))
    names = ["good.bmp", "cut.bmp", "good.ppm", "cut.ppm", "bomb.ppm"]
    scores, messages, kinds = Scorer().score_files_detailed([tmp_path / n for n in names])
    assert kinds[0] == kinds[2] == Status.ok, messages
    assert abs(scores[0] - scores[2]) < 1e-6  # the same pixels
    assert kinds[1] == Status.invalid and "truncated BMP" in messages[1], messages[1]
    assert kinds[3] == kinds[4] == Status.invalid, messages
    assert "truncated PNM" in messages[4], messages[4]


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "nul.csv",
            b"path,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5\na\0.jpg,1,2,3,4,5,6,7,8,9,10\n",
            "CSV|path must",
        ),
        (
            "latin1.csv",
            b"path,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5\ncaf\xe9.jpg,1,2,3,4,5,6,7,8,9,10\n",
            "not UTF-8",
        ),
        (
            "huge.jsonl",
            b'{"path": "a.jpg", "landmarks": [1' + b"0" * 400 + b", 2, 3, 4, 5, 6, 7, 8, 9, 10]}",
            "numbers",
        ),
        ("list.jsonl", b"[1, 2]\n", 'expected {"path"'),
        ("nopath.jsonl", b'{"landmarks": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n', 'expected {"path"'),
        (
            "numpath.jsonl",
            b'{"path": 7, "landmarks": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n',
            "path must",
        ),
        ("broken.jsonl", b'{"path": "a.jpg", "landmarks": [1, 2\n', "not JSON"),
    ],
)
def test_a_malformed_landmarks_file_is_a_value_error(tmp_path, name, content, message):
    """What fuzz/fuzz_landmarks.py holds the parser to: any file ends in a table or a
    ValueError naming the file (a NUL, bad UTF-8, a number too large for a float, JSON that is
    not an object used to raise csv.Error, UnicodeDecodeError, OverflowError, KeyError...)."""
    from tinyfq_native.landmarks import read_landmarks

    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message) as e:
        read_landmarks(tmp_path / name)
    assert name in str(e.value)


def test_a_bmp_of_height_zero_is_an_error_not_an_empty_image(tmp_path):
    """Found by fuzz/fuzz_decode.cpp: stb_image decodes a BMP whose height is 0 to an image of
    no pixels, which the decoder returned as a (0, W, 3) array."""
    header = struct.pack("<2sIHHI", b"BM", 54 + 12, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, 2, 0, 1, 24, 0, 12, 2835, 2835, 0, 0)
    from tinyfq_native.images import decode_image

    with pytest.raises(RuntimeError, match=r"corrupt (image \(2x0 pixels\)|BMP \(image is 2x0\))"):
        decode_image(header + info + bytes(12))
