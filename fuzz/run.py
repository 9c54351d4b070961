"""Build the fuzz targets, make their seed corpora, run each for a bounded time, report.

    python fuzz/run.py                      # every target for 60 s (what CI runs)
    python fuzz/run.py --seconds 1800       # the long run (README "Reliability")
    python fuzz/run.py --targets decode model --parallel 2

Targets (fuzz/): `decode` (image decoding, JPEG through libjpeg), `decode-stb` (the same binary
with TINYFQ_DECODER=stb: stb_image's JPEG decoder, the one of builds without libjpeg), `model`
(ncnn .param + JSON sidecar + .bin, then a score) and `landmarks` (the landmarks file parser,
Python, through atheris). The C++ targets are built with clang, libFuzzer and AddressSanitizer
over the whole build (ncnn's stb_image included) and UBSan with float-cast-overflow on our code.

Seeds are generated here from the committed models and a few photos of ../shared/data (no
corpus is committed); each target's working corpus grows in build/fuzz/corpus/<target>, and
anything found is written to build/fuzz/artifacts/. The report (a table on stdout and
build/fuzz/report.json) gives each target's executions, speed, coverage (libFuzzer's edge
counter `cov` and feature counter `ft`) and corpus size. The exit status is 1 when a target
found anything.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "fuzz"
TARGETS = ["decode", "decode-stb", "model", "landmarks"]
SANITIZE = "-fsanitize=address,fuzzer-no-link -fno-omit-frame-pointer -g"


def build(jobs: int) -> None:
    for tool in ("clang", "clang++"):
        if shutil.which(tool) is None:
            sys.exit(f"fuzz: {tool} is needed (Debian: apt-get install clang)")
    configure = [
        "cmake", "-S", str(REPO), "-B", str(BUILD), "-G", "Ninja",
        "-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++",
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DTINYFQ_FUZZ=ON", "-DTINYFQ_SANITIZE=ON",
        "-DTINYFQ_BUILD_TESTS=OFF", "-DTINYFQ_BUILD_TOOLS=OFF",
        f"-DCMAKE_C_FLAGS={SANITIZE}", f"-DCMAKE_CXX_FLAGS={SANITIZE}",
        "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address",
    ]  # fmt: skip
    subprocess.run(configure, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(BUILD), "-j", str(jobs), "--target",
                    "fuzz_decode", "fuzz_model"], check=True)  # fmt: skip


# -- seeds --------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(pixels, depth: int, colour: int, extra: bytes = b"") -> bytes:
    """A PNG of an (h, w[, c]) array, each row with a different filter type's byte."""
    h, w = pixels.shape[:2]
    rows = b"".join(bytes([y % 5]) + pixels[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    body = _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", zlib.compress(rows, 9))
    return b"\x89PNG\r\n\x1a\n" + body + _chunk(b"IEND", b"")


def _bmp(rgb, bits: int) -> bytes:
    import numpy as np

    h, w = rgb.shape[:2]
    n = bits // 8
    stride = (w * n + 3) // 4 * 4
    rows = b""
    for y in range(h - 1, -1, -1):
        px = rgb[y, :, ::-1]
        if n == 4:
            px = np.concatenate([px, np.full_like(px[:, :1], 255)], axis=1)
        rows += px.tobytes() + bytes(stride - w * n)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bits, 0, len(rows), 2835, 2835, 0, 0)
    return struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54) + info + rows


def decode_seeds(data_root: Path) -> dict[str, bytes]:
    """Small images of every format and variant the decoders take, made from real faces."""
    import numpy as np

    from tinyfq_native.images import read_image

    photos = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[:2]
    if not photos:
        sys.exit(f"fuzz: no photos under {data_root}/lfw/images (set TINYFQ_DATA)")
    seeds: dict[str, bytes] = {}
    for k, photo in enumerate(photos):
        seeds[f"photo{k}.jpg"] = photo.read_bytes()  # a real camera JPEG, full size
        rgb = read_image(str(photo))[60:188:4, 60:188:4].copy()  # 32x32 of the face
        grey = rgb.mean(axis=2).astype(np.uint8)
        h, w = grey.shape
        seeds[f"rgb{k}.png"] = _png(rgb, 8, 2)
        seeds[f"grey{k}.png"] = _png(grey, 8, 0)
        seeds[f"rgb16_{k}.png"] = _png(rgb.astype(">u2") * 257, 16, 2)
        seeds[f"rgba{k}.png"] = _png(np.concatenate([rgb, grey[:, :, None]], axis=2), 8, 6)
        seeds[f"palette{k}.png"] = _png(grey, 8, 3, _chunk(b"PLTE", bytes(range(256)) * 3))
        seeds[f"rgb{k}.bmp"] = _bmp(rgb, 24)
        seeds[f"rgba{k}.bmp"] = _bmp(rgb, 32)
        seeds[f"rgb{k}.ppm"] = f"P6\n{w} {h}\n255\n".encode() + rgb.tobytes()
        seeds[f"grey{k}.pgm"] = f"P5\n{w} {h}\n255\n".encode() + grey.tobytes()
        try:
            import cv2
        except ImportError:
            continue  # the camera JPEGs above stay the JPEG seeds
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        for name, img, params in [
            ("baseline", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80]),
            ("progressive", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
            ("grey", grey, []),
            ("optimized", bgr, [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_QUALITY, 30]),
        ]:
            ok, buf = cv2.imencode(".jpg", img, params)
            if ok:
                seeds[f"{name}{k}.jpg"] = buf.tobytes()
    return seeds  # fmt: skip


def model_seeds() -> dict[str, bytes]:
    """param, NUL, the sidecar as one compact line, NUL, weights: the two committed graphs."""
    models = REPO / "cpp" / "models"
    seeds = {}
    for graph in ("default", "plain"):
        param = (models / f"{graph}.ncnn.param").read_bytes()
        sidecar = json.loads((models / f"{graph}.json").read_text())
        for key in ("data", "training", "architecture", "label_model"):
            sidecar.pop(key, None)  # provenance the loader does not read: shorter inputs
        compact = json.dumps(sidecar, separators=(",", ":")).encode()
        seeds[graph] = param + b"\0" + compact + b"\0" + (models / f"{graph}.ncnn.bin").read_bytes()
    return seeds


def landmark_seeds() -> dict[str, bytes]:
    """First byte: 0 CSV, 1 JSON lines (fuzz_landmarks.py)."""
    row = [38.3, 51.7, 73.5, 51.5, 56.0, 71.7, 41.5, 92.4, 70.7, 92.2]
    out = io.StringIO()
    out.write("path," + ",".join(f"{a}{i}" for i in range(1, 6) for a in "xy") + "\n")
    out.write("a.jpg," + ",".join(map(str, row)) + "\n")
    out.write('"dir, with comma/b.png",' + " ,".join(map(str, row)) + "\n")
    lines = [
        json.dumps({"path": "a.jpg", "landmarks": [row[i : i + 2] for i in range(0, 10, 2)]}),
        json.dumps({"path": "b.jpg", "landmarks": row}),
        json.dumps({"path": "c.jpg", "landmarks": " ".join(map(str, row))}),
    ]
    return {"csv": b"\0" + out.getvalue().encode(), "jsonl": b"\1" + "\n".join(lines).encode()}


def write_seeds(target: str, data_root: Path) -> Path:
    seeds = {
        "decode": decode_seeds, "decode-stb": decode_seeds,
        "model": lambda _: model_seeds(), "landmarks": lambda _: landmark_seeds(),
    }[target](data_root)  # fmt: skip
    folder = BUILD / "seeds" / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
    return folder


# -- runs ---------------------------------------------------------------------------------

STATS = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)")


def run_target(target: str, seconds: int, data_root: Path) -> dict:
    seeds = write_seeds(target, data_root)
    corpus = BUILD / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts = BUILD / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    if target == "landmarks":
        cmd = [sys.executable, str(REPO / "fuzz" / "fuzz_landmarks.py")]
    else:
        cmd = [str(BUILD / "fuzz" / f"fuzz_{target.split('-')[0]}")]
        if target == "decode-stb":
            env["TINYFQ_DECODER"] = "stb"
    cmd += [
        f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=2048", "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/{target}-", str(corpus), str(seeds),
    ]  # fmt: skip
    start = time.time()
    log = BUILD / f"{target}.log"
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    text = log.read_text(errors="replace")
    m = STATS.findall(text)
    found = sorted(p.name for p in artifacts.glob(f"{target}-*"))
    row = {
        "target": target,
        "seconds": round(time.time() - start, 1),
        "executions": int(m[-1][0]) if m else None,
        "cov": int(m[-1][1]) if m else None,
        "ft": int(m[-1][2]) if m else None,
        "corpus": int(m[-1][3]) if m else None,
        "exit": rc,
        "found": found,
        "log": str(log.relative_to(REPO)),
    }
    row["exec_per_s"] = round(row["executions"] / row["seconds"]) if m else None
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    ap.add_argument("--targets", nargs="+", choices=TARGETS, default=TARGETS)
    ap.add_argument("--parallel", type=int, default=1, help="targets run at once (default 1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="build jobs")
    ap.add_argument("--no-build", action="store_true", help="use the targets already built")
    default_data = os.environ.get("TINYFQ_DATA", str(REPO.parent / "shared" / "data"))
    ap.add_argument("--data", type=Path, default=Path(default_data))
    args = ap.parse_args(argv)
    if not args.no_build and any(t != "landmarks" for t in args.targets):
        build(args.jobs)
    for old in (BUILD / "artifacts").glob("*"):
        old.unlink()
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = list(pool.map(lambda t: run_target(t, args.seconds, args.data), args.targets))
    print(f"{'target':<11} {'seconds':>8} {'executions':>12} {'exec/s':>8} {'cov':>6} {'ft':>7} "
          f"{'corpus':>7}  result")  # fmt: skip
    for r in rows:
        result = "ok" if r["exit"] == 0 and not r["found"] else f"FOUND {r['found']} ({r['log']})"
        print(f"{r['target']:<11} {r['seconds']:>8} {r['executions'] or '-':>12} "
              f"{r['exec_per_s'] or '-':>8} {r['cov'] or '-':>6} {r['ft'] or '-':>7} "
              f"{r['corpus'] or '-':>7}  {result}")  # fmt: skip
    (BUILD / "report.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["exit"] == 0 and not r["found"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
