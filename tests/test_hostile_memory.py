"""Hostile sizes (issue "Hostile input"): arrays, headers and thread counts that ask for more
memory than there is, refused from what they claim before anything of that size is made, or
run on what can be had."""

import subprocess
import sys

from tests.conftest import face_folder, read_csv
from tests.hostile import child, png
from tinyfq_native import Scorer, Status


def test_huge_broadcast_array_is_a_memory_error_not_a_segfault():
    r = child("""
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


def test_thread_creation_failure_runs_on_fewer_workers(tmp_path, data_root):
    """With an address-space limit the 1,024 requested threads cannot all start: the batch
    runs on those that did, and every row is written."""
    src = sorted((data_root / "lfw" / "images").glob("*/*.jpg"))[:300]
    folder = face_folder(tmp_path / "in", src, link=True)
    out = tmp_path / "rows.csv"
    # chunks of 256 files ask for 256 threads (8 MB of stack each): more than 2.5 GB allows
    cmd = (
        f"ulimit -v 2500000; exec {sys.executable} -m tinyfq_native.cli score {folder} "
        f"--workers 1024 -q -o {out}"
    )
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = read_csv(out)
    assert len(rows) == 300 and all(row["status"] == "ok" for row in rows)


def _decode_in_child(path) -> subprocess.CompletedProcess:
    """Decode one file in a child; print the error and how much its peak memory grew."""
    return child(f"""
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
    (tmp_path / "bomb.png").write_bytes(png(bytes(5000), 7000, 7000))
    r = _decode_in_child(tmp_path / "bomb.png")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "cannot hold a 7000x7000 image" in r.stdout, r.stdout
    assert int(r.stdout.split("grew_kb")[1]) < 50_000, r.stdout  # 7000² RGB would be 147 MB


def test_a_decode_over_the_memory_budget_is_refused_from_the_header(tmp_path):
    """8192 x 8192 16-bit RGB is within the pixel limit but would take ~800 MiB to decode:
    refused from its header, before any buffer is made; 8-bit at that size fits the budget."""
    for depth in (16, 8):
        (tmp_path / f"{depth}.png").write_bytes(png(bytes(1000), 8192, 8192, depth=depth))
    r16 = _decode_in_child(tmp_path / "16.png")
    assert r16.returncode == 0, r16.stderr[-2000:]
    assert "decoding this 8192x8192 image would take about" in r16.stdout, r16.stdout
    assert "more than the budget of 512 MiB per decode" in r16.stdout
    assert int(r16.stdout.split("grew_kb")[1]) < 50_000, r16.stdout
    r8 = _decode_in_child(tmp_path / "8.png")
    assert "cannot hold" in r8.stdout and "budget" not in r8.stdout, r8.stdout  # budget passed


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
