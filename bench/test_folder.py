"""Folder scoring end to end, as a user runs it: `tinyfq score` on the LFW images folder (all
13,233 images taken as crops, no detection) with 2 workers and with 1 (and with 2 and the
opt-in --reduced-decode), against a straightforward OpenCV + PyTorch script
(bench/baseline_folder.py), each in a subprocess, start-up included, in one run. Also records
the peak RSS of each process.

    python -m pytest bench/test_folder.py --benchmark-enable --benchmark-group-by=group \
      --benchmark-columns=min,rounds -p no:cacheprovider -s

With timing disabled (the default, as in CI) it scores a 300-image subset; with
--benchmark-enable the whole folder, or the first TINYFQ_BENCH_FOLDER_LIMIT images when that
is set. Images/s, speed-ups and RSS go to each benchmark's extra_info (and are printed).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.conftest import DATA, REPO
from tests.conftest import read_csv

LFW = DATA / "lfw" / "images"
LFW_IMAGES = 13233
SUBSET = 300  # images when timing is disabled (CI)
results: dict[str, dict] = {}

# Runs the command given after it as a child and reports the child's peak RSS (KiB on Linux)
# on its last stderr line, so every process is measured the same way.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:]).returncode\n"
    "print('maxrss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def _timing_enabled(config) -> bool:
    return not (config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


@pytest.fixture(scope="module")
def folder(request, tmp_path_factory):
    """(folder, number of images): LFW itself, or a subset linked into a temporary folder."""
    if not LFW.is_dir():
        pytest.skip(f"LFW images not found at {LFW}")
    limit = os.environ.get("TINYFQ_BENCH_FOLDER_LIMIT")
    n = int(limit) if limit else (None if _timing_enabled(request.config) else SUBSET)
    if n is None:
        return LFW, LFW_IMAGES
    return lfw_subset(tmp_path_factory.mktemp("lfw-subset"), n)


def lfw_subset(root: Path, n: int) -> tuple[Path, int]:
    """The first n LFW photos linked into root/<person>/, and their number."""
    files = sorted(LFW.rglob("*.jpg"))[:n]
    for f in files:
        (root / f.parent.name).mkdir(exist_ok=True)
        (root / f.parent.name / f.name).symlink_to(f)
    return root, len(files)


def _run(cmd: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one command, run under the RSS wrapper."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    assert r.returncode == 0, f"{cmd[:4]} failed ({r.returncode}):\n{r.stderr[-2000:]}"
    rss = int(r.stderr.strip().splitlines()[-1].split()[1])
    return wall, rss


def _rows(path: Path) -> dict[str, dict]:
    """The rows of a tinyfq score CSV (after its options line) by the real path of each."""
    return {os.path.realpath(r["path"]): r for r in read_csv(path)}


def _measure(benchmark, name: str, cmd: list[str], out: Path, n: int) -> dict[str, dict]:
    timing: dict = {}

    def run():
        timing["wall"], timing["rss"] = _run(cmd)

    benchmark.pedantic(run, rounds=1, iterations=1)
    rows = _rows(out)
    assert len(rows) == n, f"{name}: {len(rows)} rows for {n} images"
    res = {
        "images": n,
        "seconds": round(timing["wall"], 3),
        "images_per_s": round(n / timing["wall"], 1),
        "peak_rss_mb": round(timing["rss"] / 1024, 1),
    }
    results[name] = res
    benchmark.extra_info.update(res)
    return rows


def _native(benchmark, folder, tmp_path, name: str, *flags: str) -> dict[str, dict]:
    root, n = folder
    out = tmp_path / f"{name}.csv"
    cmd = [
        sys.executable,
        "-m",
        "tinyfq_native.cli",
        "score",
        str(root),
        "-r",
        "-o",
        str(out),
        "-q",
        *flags,
    ]
    rows = _measure(benchmark, name, cmd, out, n)
    assert all(r["status"] == "ok" and 0 < float(r["score"]) < 1 for r in rows.values())
    results[name]["rows"] = rows
    return rows


@pytest.mark.benchmark(group="folder-lfw")
def test_folder_baseline_opencv_pytorch(benchmark, folder, tmp_path):
    pytest.importorskip("cv2")
    pytest.importorskip("torch")
    from training.config import SHIPPED_RUN

    if not (SHIPPED_RUN / "checkpoint.pt").exists():
        pytest.skip(f"{SHIPPED_RUN}/checkpoint.pt not present")
    root, n = folder
    out = tmp_path / "baseline.csv"
    cmd = [sys.executable, str(REPO / "bench" / "baseline_folder.py"), str(root), "-o", str(out)]
    rows = _measure(benchmark, "baseline", cmd, out, n)
    results["baseline"]["rows"] = rows


@pytest.mark.benchmark(group="folder-lfw")
def test_folder_native_1_worker(benchmark, folder, tmp_path):
    _native(benchmark, folder, tmp_path, "native-1", "--workers", "1")


@pytest.mark.benchmark(group="folder-lfw")
def test_folder_native_2_workers_reduced_decode(benchmark, folder, tmp_path):
    """The opt-in reduced-resolution JPEG decoding: less work, other scores."""
    rows = _native(
        benchmark, folder, tmp_path, "native-2-reduced", "--workers", "2", "--reduced-decode"
    )
    if "native-1" in results:
        full = results["native-1"]["rows"]
        diff = np.array([abs(float(full[p]["score"]) - float(rows[p]["score"])) for p in rows])
        results["native-2-reduced"]["mean_abs_diff_vs_full_decode"] = round(float(diff.mean()), 4)
        benchmark.extra_info["mean_abs_diff_vs_full_decode"] = round(float(diff.mean()), 4)
        assert diff.mean() < 0.05


@pytest.mark.benchmark(group="folder-lfw")
def test_folder_native_2_workers(benchmark, folder, tmp_path):
    rows = _native(benchmark, folder, tmp_path, "native-2", "--workers", "2")
    me = results["native-2"]
    if "native-1" in results:
        me["speedup_vs_1_worker"] = round(results["native-1"]["seconds"] / me["seconds"], 2)
        one = results["native-1"]["rows"]
        assert rows.keys() == one.keys()
        assert all(rows[p]["score"] == one[p]["score"] for p in rows)  # same work, same answers
    if "baseline" in results:
        me["speedup_vs_baseline"] = round(results["baseline"]["seconds"] / me["seconds"], 2)
        base = results["baseline"]["rows"]
        assert base.keys() == rows.keys()
        diff = np.array([abs(float(base[p]["score"]) - float(rows[p]["score"])) for p in rows])
        me["mean_abs_diff_vs_baseline"] = round(float(diff.mean()), 4)
        # the same decoder family, other resizers (cv2.resize vs the fused kernel): close
        assert diff.mean() < 0.05, diff.mean()
    benchmark.extra_info.update({k: v for k, v in me.items() if k != "rows"})
    print(
        "\nfolder-lfw:",
        {k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in results.items()},
    )
