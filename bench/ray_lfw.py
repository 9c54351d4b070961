"""Ray's overhead: `tinyfq score` against `tinyfq score --ray` (a local Ray on the same cores)
on the whole LFW folder (13,233 photos), as crops and with --detect, in the same run.

    python bench/ray_lfw.py [--data ../shared/data] [--repeat 2] [--out bench/ray_lfw]

Each command runs as a user would run it (a fresh process, Ray started and stopped inside the
--ray one), alternating, ``--repeat`` times; the wall times, their ratio (Ray / CLI, median of
the pairs), the per-core throughput and the rows' agreement go to <out>.json, a bar chart to
<out>.png. The README's estimate for 100M images is computed from the per-core figures here.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: the repository's test helpers


def _run(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _engine_vs_ray(paths: list[str], workers: int) -> tuple[float, float]:
    """Seconds for the engine (Scorer.score_paths) and for Ray (init, score, write, shutdown)
    on the same paths, --detect, in this process."""
    import ray

    from tinyfq_native import Scorer
    from tinyfq_native.ray_data import path_dataset, score_dataset, write_parquet

    t = time.perf_counter()
    for _ in Scorer().score_paths(paths, detect=True, workers=workers):
        pass
    engine = time.perf_counter() - t
    t = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    ds = score_dataset(
        path_dataset(paths, blocks=4 * workers), concurrency=workers, batch_size=512, detect=True
    )
    write_parquet(ds, "/tmp/tinyfq-ray-bench/scaling.parquet")
    ray.shutdown()
    return engine, time.perf_counter() - t


def scaling(folder: str, workers: int) -> dict:
    """Ray's fixed and per-image cost: LFW once and three times over (the same photos under
    three names), so that seconds = fixed + n / rate can be solved for both."""
    paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs)
    out = {}
    for k in (1, 3):
        many = [p for i in range(k) for p in paths]  # repeated paths are scored again
        e, r = _engine_vs_ray(many, workers)
        out[str(len(many))] = {
            "engine_seconds": round(e, 2),
            "ray_seconds": round(r, 2),
            "ray_over_engine": round(r / e, 3),
        }
    (n1, a), (n3, b) = [(int(k), v) for k, v in out.items()]
    for key in ("engine", "ray"):
        per = (b[f"{key}_seconds"] - a[f"{key}_seconds"]) / (n3 - n1)
        out[f"{key}_fixed_seconds"] = round(a[f"{key}_seconds"] - n1 * per, 2)
        out[f"{key}_images_per_second_per_core"] = round(1 / per / workers, 1)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "ray_lfw")
    p.add_argument("--tmp", type=Path, default=Path("/tmp/tinyfq-ray-bench"))
    args = p.parse_args(argv)
    import pyarrow.parquet as pq

    from tests.conftest import read_csv

    args.tmp.mkdir(parents=True, exist_ok=True)
    folder = str(args.data / "lfw" / "images")
    n = sum(len(f) for _, _, f in os.walk(folder))
    tinyfq = [
        sys.executable,
        "-m",
        "tinyfq_native.cli",
        "score",
        "-r",
        folder,
        "-q",
        "--workers",
        str(args.workers),
    ]
    report: dict = {"photos": n, "workers": args.workers, "cpus": os.cpu_count(), "modes": {}}
    for mode, extra in (("crops", []), ("detect", ["--detect"])):
        cli_csv, ray_pq = args.tmp / f"{mode}.csv", args.tmp / f"{mode}.parquet"
        cli_t, ray_t = [], []
        for _ in range(args.repeat):
            cli_t.append(_run(tinyfq + extra + ["-o", str(cli_csv)]))
            ray_t.append(_run(tinyfq + extra + ["--ray", "-o", str(ray_pq)]))
        a = read_csv(cli_csv)
        t = pq.read_table(ray_pq)
        same_order = [r["path"] for r in a] == t.column("path").to_pylist()
        sa = np.array([float(r["score"]) if r["score"] else np.nan for r in a])
        sb = np.array(t.column("score").to_pylist(), float)
        ok = ~np.isnan(sa) & ~np.isnan(sb)
        ratios = [r / c for r, c in zip(ray_t, cli_t)]
        report["modes"][mode] = {
            "cli_seconds": [round(x, 2) for x in cli_t],
            "ray_seconds": [round(x, 2) for x in ray_t],
            "ray_over_cli": round(float(np.median(ratios)), 3),
            "cli_images_per_second_per_core": round(n / min(cli_t) / args.workers, 1),
            "ray_images_per_second_per_core": round(n / min(ray_t) / args.workers, 1),
            "rows_in_same_order": same_order,
            "max_abs_score_difference": float(np.abs(sa[ok] - sb[ok]).max()),
            "same_nan": bool(np.array_equal(np.isnan(sa), np.isnan(sb))),
        }
        print(json.dumps({mode: report["modes"][mode]}), file=sys.stderr)
    report["scaling"] = scaling(folder, args.workers)
    print(json.dumps({"scaling": report["scaling"]}), file=sys.stderr)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    from facedata.plot import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 3.4))
    modes = list(report["modes"])
    x = np.arange(len(modes))
    for i, (key, label) in enumerate(
        (("cli_seconds", "tinyfq score"), ("ray_seconds", "tinyfq score --ray (local Ray)"))
    ):
        ax.bar(
            x + (i - 0.5) * 0.38, [min(report["modes"][m][key]) for m in modes], 0.38, label=label
        )
    ax.set_xticks(x, [f"{m} (×{report['modes'][m]['ray_over_cli']:.2f})" for m in modes])
    ax.set_ylabel(f"seconds for {n:,} LFW photos")
    ax.set_title(f"Ray's overhead on {args.workers} cores (best of {args.repeat})", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
