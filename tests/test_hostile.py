"""Hostile input (issue "Hostile input"): each reproducer of a crash, hang, lost row or silent
nonsense, with the clear error or correct row it gets now. Reproducers that crashed the process
run in a child, so a regression fails this test instead of killing the run."""

import csv
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from tests.conftest import REPO, face_folder, read_csv
from tinyfq_native import Scorer, Status
from tinyfq_native.cli import main
from tinyfq_native.images import read_image

MODELS = REPO / "cpp" / "models"


def _child(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
    )


def test_huge_broadcast_array_is_a_memory_error_not_a_segfault():
    r = _child("""
        import numpy as np
        from tinyfq_native import Scorer
        s = Scorer()
        view = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (100000, 100000, 3))
        for call in (lambda: s.score(view), lambda: s.score_batch([view])):
            try:
                call()
            except MemoryError as e:
                print("MemoryError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("MemoryError:") == 2 and "(100000, 100000, 3)" in r.stdout


def test_deeply_nested_sidecar_is_refused():
    r = _child("""
        from tinyfq_native import Scorer
        param = open("cpp/models/plain.ncnn.param").read()
        weights = open("cpp/models/plain.ncnn.bin", "rb").read()
        try:
            Scorer.from_memory(param, weights, '{"input": ' + "[" * 40000)
        except RuntimeError as e:
            print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nested more than 32 levels" in r.stdout


@pytest.mark.parametrize("cut", ["empty", "100 bytes", "one float short", "extra bytes"])
def test_weights_that_do_not_fit_the_graph_are_refused(cut):
    param = (MODELS / "plain.ncnn.param").read_text()
    weights = (MODELS / "plain.ncnn.bin").read_bytes()
    sidecar = (MODELS / "plain.json").read_text()
    bad = {
        "empty": b"",
        "100 bytes": weights[:100],
        "one float short": weights[:-4],
        "extra bytes": weights + b"\0" * 8,
    }[cut]
    r = _child(f"""
        import json
        from tinyfq_native import Scorer
        param = open("cpp/models/plain.ncnn.param").read()
        weights = open("cpp/models/plain.ncnn.bin", "rb").read()
        bad = {{"empty": b"", "100 bytes": weights[:100], "one float short": weights[:-4],
               "extra bytes": weights + bytes(8)}}[{cut!r}]
        with open("cpp/models/plain.json") as f:
            meta = json.load(f)
        for sidecar in (json.dumps(meta), json.dumps({{k: v for k, v in meta.items()
                                                        if k != "weights"}})):
            try:   # with the recorded size, and as an older export without it
                Scorer.from_memory(param, bad, sidecar)
            except RuntimeError as e:
                print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "the sidecar records 55220" in r.stdout
    # without the record, the bounded reader still finds that the weights do not fit
    assert ("end before" if cut != "extra bytes" else "left over") in r.stdout
    # the real weights still load (the check is not simply refusing everything)
    assert (
        0
        < Scorer.from_memory(param, weights, sidecar).score(np.full((64, 64, 3), 128, np.uint8))
        < 1
    )
    del bad


def test_a_layer_asking_for_more_weights_than_the_file_holds_is_refused(tmp_path):
    for name in ("plain.ncnn.bin", "plain.json"):
        shutil.copy(MODELS / name, tmp_path / name)
    param = (MODELS / "plain.ncnn.param").read_text()
    assert " 6=324" in param
    (tmp_path / "plain.ncnn.param").write_text(param.replace(" 6=324", " 6=3240", 1))
    r = _child(f"""
        from tinyfq_native import Scorer
        try:
            Scorer({str(tmp_path / "plain.json")!r})
        except RuntimeError as e:
            print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "RuntimeError:" in r.stdout


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
    assert r.returncode == 1
    rows = {os.path.basename(row["path"]): row for row in read_csv(out)}
    assert rows["face.jpg"]["status"] == "ok" and rows["x.jpg"]["status"] == "error"


def test_a_bare_string_is_not_a_list_of_paths():
    with pytest.raises(TypeError, match="single path"):
        Scorer().score_files("a.jpg")
    with pytest.raises(TypeError, match="single path"):
        Scorer().score_files_faces("a.jpg")


def test_path_with_nul_is_an_error_not_a_shorter_path(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    _, messages, kinds = Scorer().score_files_detailed([str(tmp_path / "a.jpg") + "\0.png"])
    assert kinds == [Status.invalid] and "NUL" in messages[0]


def test_carriage_return_in_a_name_keeps_one_row(tmp_path, data_root):
    face = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]
    odd = tmp_path / "a\rb,c.jpg"
    shutil.copy(face, odd)
    out = tmp_path / "rows.csv"
    assert main(["score", str(odd), str(tmp_path / "none*.jpg"), "-o", str(out), "-q"]) == 1
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == [str(odd), str(tmp_path / "none*.jpg")]
    assert [r["status"] for r in rows] == ["ok", "error"]  # the glob that matched nothing


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


def test_thread_creation_failure_runs_on_fewer_workers(tmp_path, data_root):
    """With an address-space limit the 10,000 requested threads cannot all start: the batch
    runs on those that did, and every row is written."""
    src = sorted((data_root / "lfw" / "images").glob("*/*.jpg"))[:300]
    folder = face_folder(tmp_path / "in", src, link=True)
    out = tmp_path / "rows.csv"
    # chunks of 256 files ask for 256 threads (8 MB of stack each): more than 2.5 GB allows
    cmd = (
        f"ulimit -v 2500000; exec {sys.executable} -m tinyfq_native.cli score {folder} "
        f"--workers 10000 -q -o {out}"
    )
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = read_csv(out)
    assert len(rows) == 300 and all(row["status"] == "ok" for row in rows)


def _load_error_in_child(sidecar) -> str:
    """Load a model in a child (a regression may crash it); the RuntimeError's message."""
    r = _child(f"""
        from tinyfq_native import Scorer
        try:
            Scorer({str(sidecar)!r})
        except RuntimeError as e:
            print("RuntimeError:", e)
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("RuntimeError:"), r.stdout
    return r.stdout


def _model_dir(tmp_path, graph="plain", weights_from=None, **sidecar_changes):
    """A copy of a committed model with its sidecar changed and/or another graph's weights."""
    import json

    meta = json.loads((MODELS / f"{graph}.json").read_text())
    for path, value in sidecar_changes.items():
        node = meta
        *keys, last = path.split("__")
        for k in keys:
            node = node[k]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    (d / "m.json").write_text(json.dumps(meta))
    shutil.copy(MODELS / f"{graph}.ncnn.param", d / "m.ncnn.param")
    shutil.copy(MODELS / f"{weights_from or graph}.ncnn.bin", d / "m.ncnn.bin")
    return d / "m.json"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"weights_from": "default"}, "bytes; the sidecar records"),  # fused .bin, plain graph
        ({"input__size": 1024}, "does not match the graph's input"),
        ({"input__size": 63.9}, "is not a whole number"),
        ({"input__size": 6.66667e80}, "is out of range"),  # fuzz_model: a float-cast overflow
        ({"input__mean": [1e300, 0, 0]}, "not a usable number"),
        ({"input__std": [1e-30, 1e-30, 1e-30]}, "input.std"),
        ({"input__mean": [1e9, 1e9, 1e9]}, "input.mean"),
    ],
)
def test_model_files_that_do_not_belong_together_are_refused(tmp_path, change, message):
    with pytest.raises(RuntimeError, match=message):
        Scorer(_model_dir(tmp_path, **change))


def test_a_damaged_weights_file_is_refused_by_its_digest(tmp_path):
    path = _model_dir(tmp_path)
    weights = bytearray((path.parent / "m.ncnn.bin").read_bytes())
    weights[1000] ^= 0x40  # one bit, same size
    (path.parent / "m.ncnn.bin").write_bytes(bytes(weights))
    with pytest.raises(RuntimeError, match="SHA-256"):
        Scorer(path)
    # a sidecar that records no weights (an older export) still loads its own file
    old = tmp_path / "old"
    old.mkdir()
    legacy = _model_dir(old, weights=None)
    assert 0 < Scorer(legacy).score(np.full((64, 64, 3), 128, np.uint8)) < 1


def test_the_committed_models_load_and_agree(tmp_path):
    crop = np.full((80, 80, 3), 120, np.uint8)
    assert Scorer(MODELS / "plain.json").score(crop) == pytest.approx(
        Scorer().score(crop), abs=1e-5
    )


def test_a_name_that_is_not_utf8_loses_no_row(tmp_path, data_root):
    """Its chunk used to raise TypeError (601 inputs -> 256 rows); now every file has a row and
    the odd name is written with \\x escapes, said in its message."""
    faces = sorted((data_root / "lfw" / "images").glob("*/*.jpg"))[:300]
    folder = face_folder(tmp_path / "in", faces, link=True)
    odd = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    shutil.copy(faces[0], odd)
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    scores, messages, kinds = Scorer().score_files_detailed(paths)
    assert kinds == [Status.ok] * 301 and not any(messages)
    missing = os.fsdecode(os.path.join(os.fsencode(folder), b"gone\xff.jpg"))
    _, messages, kinds = Scorer().score_files_detailed([missing])
    assert kinds == [Status.missing] and messages[0].endswith(missing)  # the same surrogates back
    out = tmp_path / "rows.csv"
    assert main(["score", str(folder), "-o", str(out), "-q"]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 301 and all(r["status"] == "ok" for r in rows)
    row = next(r for r in rows if "caf" in r["path"])
    assert row["path"].endswith("caf\\xe9.jpg") and "not valid UTF-8" in row["message"]


def test_resume_continues_a_killed_run(tmp_path, data_root):
    faces = sorted((data_root / "lfw" / "images" / "Tony_Blair").glob("*.jpg"))[:12]
    folder = face_folder(tmp_path / "in", faces)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    full = tmp_path / "full.csv"
    assert main(["score", str(folder), "-o", str(full), "-q"]) == 1
    lines = full.read_text().splitlines(keepends=True)
    assert len(lines) == 14  # header + 13 rows
    # a run killed in the middle of writing its 6th row
    killed = tmp_path / "killed.csv"
    killed.write_text("".join(lines[:6]) + lines[6][:17])
    assert main(["score", str(folder), "-o", str(killed), "-q", "--resume"]) == 1
    got = {r["path"]: r for r in read_csv(killed)}
    want = {r["path"]: r for r in read_csv(full)}
    assert got == want  # every row once, same scores
    assert killed.read_text().startswith("".join(lines[:6]))  # the first rows kept as written
    # the error row is retried, the ok rows are not: a third run adds exactly one row
    assert main(["score", str(folder), "-o", str(killed), "-q", "--resume"]) == 1
    assert len(killed.read_text().splitlines()) == 15
    assert main(["score", str(folder), "--resume", "-q"]) == 2  # needs -o


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


def test_fused_layers_refuse_channel_counts_whose_weights_would_overflow(tmp_path):
    """A fused-graph .param asking for 70,000 channels (70,000² x 9 weights passes INT_MAX) is
    refused when loaded, not read with a wrapped-around size."""
    models = MODELS
    text = (models / "default.ncnn.param").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("TinyfqBlock"))
    fields = line.split()
    big = " ".join(f.replace("1=", "1=70000", 1) if f.startswith("1=") else f for f in fields)
    assert big != line
    for suffix in (".ncnn.bin", ".json"):
        shutil.copy(models / f"default{suffix}", tmp_path / f"m{suffix}")
    (tmp_path / "m.ncnn.param").write_text(text.replace(line, big, 1))
    with pytest.raises(RuntimeError, match="param"):
        Scorer(tmp_path / "m.ncnn.param")


def _png(rows: bytes, w: int, h: int, depth: int = 8, colour: int = 2, level: int = 6) -> bytes:
    """A PNG of the given filtered rows (filter byte + samples each), chunk CRCs all correct."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, level))
        + chunk(b"IEND", b"")
    )


def _face_rows(data_root) -> tuple[bytes, int, int]:
    rgb = read_image(str(sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]))
    h, w = rgb.shape[:2]
    return b"".join(b"\x00" + rgb[y].tobytes() for y in range(h)), w, h


def test_png_written_damaged_fails_its_zlib_checksum(tmp_path, data_root):
    """A PNG damaged before its CRCs were computed (every chunk CRC right, the pixels wrong):
    the image data's Adler-32 is checked, so it is an error row, not the score of a damaged
    face. Stored (level 0) deflate blocks keep the stream decodable whatever byte changes."""
    rows, w, h = _face_rows(data_root)
    good = _png(rows, w, h, level=0)
    (tmp_path / "good.png").write_bytes(good)
    paths = [tmp_path / "good.png"]
    rng = np.random.default_rng(1)
    for k in range(10):
        bad = bytearray(rows)
        bad[int(rng.integers(1000, len(rows)))] ^= 1 << int(rng.integers(0, 8))
        # the damage is in the pixels, the checksum is of the intact rows
        data = bytearray(_png(bytes(bad), w, h, level=0))
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


def _decode_in_child(path) -> subprocess.CompletedProcess:
    """Decode one file in a child; print the error and how much its peak memory grew."""
    return _child(f"""
        import resource
        from tinyfq_native.images import decode_image
        data = open({str(path)!r}, "rb").read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            decode_image(data)
        except RuntimeError as e:
            print("error:", e)
        print("grew_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)


def test_png_whose_data_cannot_hold_its_size_is_refused_before_allocating(tmp_path):
    """A header promising 7000 x 7000 over a few hundred bytes: refused from the header, with
    no buffer of the promised size made (the child's peak memory stays small)."""
    (tmp_path / "bomb.png").write_bytes(_png(bytes(5000), 7000, 7000))
    r = _decode_in_child(tmp_path / "bomb.png")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "cannot hold a 7000x7000 image" in r.stdout, r.stdout
    assert int(r.stdout.split("grew_kb")[1]) < 50_000, r.stdout  # 7000² RGB would be 147 MB


def test_a_decode_over_the_memory_budget_is_refused_from_the_header(tmp_path):
    """8192 x 8192 16-bit RGB is within the pixel limit but would take ~800 MiB to decode:
    refused from its header, before any buffer is made; 8-bit at that size fits the budget."""
    for depth in (16, 8):
        (tmp_path / f"{depth}.png").write_bytes(_png(bytes(1000), 8192, 8192, depth=depth))
    r16 = _decode_in_child(tmp_path / "16.png")
    assert r16.returncode == 0, r16.stderr[-2000:]
    assert "decoding this 8192x8192 image would take about" in r16.stdout, r16.stdout
    assert "more than the budget of 512 MiB per decode" in r16.stdout
    assert int(r16.stdout.split("grew_kb")[1]) < 50_000, r16.stdout
    r8 = _decode_in_child(tmp_path / "8.png")
    assert "cannot hold" in r8.stdout and "budget" not in r8.stdout, r8.stdout  # budget passed


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


def test_baseline_jpeg_too_small_for_its_size_is_refused(tmp_path, data_root):
    """A real JPEG whose frame header is changed to claim 8000 x 8000 (end marker intact):
    sequential Huffman data needs two bits per 8x8 block, so the file cannot be that image."""
    src = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0].read_bytes()
    i = src.index(b"\xff\xc0")
    bomb = bytearray(src)
    bomb[i + 5 : i + 9] = (8000).to_bytes(2, "big") * 2
    (tmp_path / "bomb.jpg").write_bytes(bytes(bomb))
    scores, messages, kinds = Scorer().score_files_detailed([tmp_path / "bomb.jpg"])
    assert kinds == [Status.invalid] and "cannot hold a 8000x8000 image" in messages[0], messages


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


@pytest.mark.parametrize(
    "old, new, message",
    [
        # conv28 made for 48 inputs and 128 outputs (its input has 24 channels), and fc for 384
        # inputs: the same number of weights in all, so the .bin and its digest still fit
        (
            ("Convolution              conv28           1 1 b31 b32 0=256", " 2=256 9=4"),
            ("Convolution              conv28           1 1 b31 b32 0=128", " 2=384 9=4"),
            "conv28 (Convolution): it has 6144 weights; its 24 input channels need 3072",
        ),
        # a depthwise layer in 4 groups: 396 weights stand for 11 x 11 x 9 x 4 = 4356
        ((" 6=396 7=44",), (" 6=396 7=4",), "dw17 (ConvolutionDepthWise): it has 396 weights"),
        # fuzz_model: a fused Mish (9=5), a layer this build lacks, was a null layer (SEGV)
        ((" 6=72 7=8 9=1",), (" 6=72 7=8 9=5",), "dw2 (ConvolutionDepthWise): fused activation 5"),
        # ncnn keeps a float's bits where an integer is expected
        ((" 6=324 ",), (" 6=324.0 ",), "conv0 (Convolution): parameter 6 must be an integer"),
    ],
)
def test_a_graph_whose_weights_do_not_fit_its_shapes_is_refused(tmp_path, old, new, message):
    """Found by fuzz/fuzz_model.cpp: a .param whose layer sizes disagree with the shapes
    flowing into them, with the total weight count unchanged (so the .bin's size and digest
    still match), made ncnn read past the weights during the load-time test forward (ASAN:
    heap-buffer-overflow in InnerProduct). The graph's shapes are checked before it runs."""
    path = _model_dir(tmp_path)
    param = (path.parent / "m.ncnn.param").read_text()
    for a, b in zip(old, new):
        assert a in param
        param = param.replace(a, b, 1)
    (path.parent / "m.ncnn.param").write_text(param)
    assert message in _load_error_in_child(path)


def test_int8_weights_are_refused_not_read_as_floats(tmp_path):
    """Found by fuzz/fuzz_model.cpp: a .bin whose first block is tagged int8 (0x000D4B38), with
    its sidecar's size and digest matching, loaded as 1-byte values that ncnn's float
    Convolution read as floats while preparing the layer (ASAN: heap-buffer-overflow in
    convolution_im2col_pack_A_tile)."""
    import hashlib
    import json

    path = _model_dir(tmp_path)
    bin_path = path.parent / "m.ncnn.bin"
    plain = bin_path.read_bytes()
    assert plain[:4] == bytes(4)  # conv0's 324 weights as float32, then the rest
    weights = bytes(324) + plain[4 + 324 * 4 :]
    bad = struct.pack("<I", 0x000D4B38) + weights
    bin_path.write_bytes(bad)
    meta = json.loads(path.read_text())
    meta["weights"] = {"bytes": len(bad), "sha256": hashlib.sha256(bad).hexdigest()}
    path.write_text(json.dumps(meta))
    assert "a block of int8 weights" in _load_error_in_child(path)


def test_a_bmp_of_height_zero_is_an_error_not_an_empty_image(tmp_path):
    """Found by fuzz/fuzz_decode.cpp: stb_image decodes a BMP whose height is 0 to an image of
    no pixels, which the decoder returned as a (0, W, 3) array."""
    header = struct.pack("<2sIHHI", b"BM", 54 + 12, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, 2, 0, 1, 24, 0, 12, 2835, 2835, 0, 0)
    from tinyfq_native.images import decode_image

    with pytest.raises(RuntimeError, match=r"corrupt image \(2x0 pixels\)"):
        decode_image(header + info + bytes(12))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input__blob": "b33"}, "one Input layer, writing the sidecar's input blob b33"),
        ({"output__blob": "nowhere"}, "no layer writes the sidecar's output blob nowhere"),
    ],
)
def test_a_sidecar_naming_blobs_the_graph_does_not_feed_that_way_is_refused(
    tmp_path, change, message
):
    """Found by fuzz/fuzz_model.cpp: a sidecar whose input blob is the classifier's input (b33)
    made the scorer feed the 3x64x64 image there, and ncnn's InnerProduct read 12,288 weights
    from a layer that has 256 (ASAN: heap-buffer-overflow)."""
    path = _model_dir(tmp_path, **change)
    assert message in _load_error_in_child(path)
