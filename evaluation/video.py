"""Protocol 5, video (the paper's YouTube Faces experiment, from the data on disk): does the
frame `tinyfq video` picks verify better than the frames a system without a quality score
would keep?

Held-out LFW people (View-2 folds 6-10) with at least 2 x ``photos_per_session`` photos; per
seed, each person's photos are shuffled into two disjoint sessions. A session becomes a short
H.264 clip (PyAV): each of its photos is shown for ``frames_per_photo`` frames, drifting a
pixel a frame, and a random part of them is degraded first (blur, motion blur, noise, JPEG,
low resolution, occlusion, exposure: facedata.degrade, as in protocol 1), like the frames of a
video whose quality varies. Each clip goes through the runtime's video pipeline
(tinyfq_native.video.best_faces: decoding, detection, tracking, scoring); per frame the largest
face is the person's. Each method keeps one frame per session: ``tinyfqnet`` the best by the
quality score, ``first`` the first frame with a face, ``middle`` the one nearest the middle,
``random`` one at random. The two sessions of a person are a genuine pair, sessions of
different people impostor pairs (cross-session, as YTF's), compared by dlib's ResNet on the
kept frames (evaluation/verifier.py's model); TAR at FAR and balanced accuracy, mean ± std over
seeds, and a figure.

    python -m evaluation video --out docs/eval      # pip install ".[eval,video]"

Not covered here: the learned peers. The issue's real sequences (NUAA client sessions, the
LivePortrait clips), with the peers, are protocol 6 (evaluation/video_real.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evaluation.metrics import balanced_accuracy, tar_at_far
from facedata.lfw import people_of_folds

METHODS = ("tinyfqnet", "middle", "first", "random")
W, H = 320, 288  # the clips' canvas: a 250x250 LFW photo and room to drift


@dataclass
class VideoConfig:
    data: str = "../shared/data"
    out: str = "docs/eval"
    seeds: tuple = (0, 1, 2)
    photos_per_session: int = 4
    frames_per_photo: int = 4
    degrade_prob: float = 0.6
    fars: tuple = (1e-1, 1e-2)
    max_identities: int | None = None
    workers: int = 2
    model: str | None = None


def identities(cfg: VideoConfig) -> list[str]:
    """Held-out LFW people with photos enough for two sessions, in name order."""
    data = Path(cfg.data) / "lfw"
    held = people_of_folds(data / "pairs.txt", heldout=True)
    need = 2 * cfg.photos_per_session
    ids = [n for n in held if len(os.listdir(data / "images" / n)) >= need]
    return ids[: cfg.max_identities]


def sessions(cfg: VideoConfig, ids: list[str], seed: int) -> list[tuple[str, int, list[tuple]]]:
    """(person, session 0/1, [(photo path, degradation spec or "")]) for one seed."""
    from facedata.degrade import random_spec

    rng = np.random.default_rng([seed, 17])
    out = []
    p = cfg.photos_per_session
    for name in ids:
        folder = Path(cfg.data) / "lfw" / "images" / name
        files = sorted(os.listdir(folder))
        order = rng.permutation(len(files))[: 2 * p]
        for s in (0, 1):
            photos = []
            for k in order[s * p : (s + 1) * p]:
                spec = random_spec(rng) if rng.random() < cfg.degrade_prob else ""
                photos.append((str(folder / files[k]), spec))
            out.append((name, s, photos))
    return out


def write_clip(path: Path, photos: list[tuple], frames_per_photo: int, detector) -> None:
    """A session's clip: each photo (degraded around the face the detector finds in the
    original) on a grey canvas for ``frames_per_photo`` frames, drifting right."""
    import av
    import cv2

    from facedata.degrade import apply

    with av.open(str(path), "w") as c:
        stream = c.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for photo, spec in photos:
            bgr = cv2.imread(photo, cv2.IMREAD_COLOR)
            face = detector.largest(bgr)
            if spec and face is not None:
                bgr = apply(bgr, spec, face.box)
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            h, w = rgb.shape[:2]
            for f in range(frames_per_photo):
                canvas = np.full((H, W, 3), 110, np.uint8)
                x, y = 20 + 3 * f, (H - h) // 2
                canvas[y : y + h, x : x + w] = rgb[: H - y, : W - x]
                for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                    c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)


def frame_faces(clip: Path, scorer) -> dict[int, tuple[float, tuple]]:
    """Per frame with a face: (quality, box) of its largest face, from the video pipeline
    (every face of every track kept, so each method can choose among them)."""
    from tinyfq_native.video import best_faces

    best: dict[int, tuple[float, tuple]] = {}
    for _, picks in best_faces(clip, k=1 << 20, scorer=scorer, crops=False, workers=1):
        for p in picks:
            area = p.box[2] * p.box[3]
            if p.frame not in best or area > best[p.frame][1][2] * best[p.frame][1][3]:
                best[p.frame] = (p.score, p.box)
    return best


def choose(faces: dict[int, tuple[float, tuple]], frames: int, rng) -> dict[str, int]:
    """Each method's frame."""
    ok = sorted(faces)
    return {
        "tinyfqnet": max(ok, key=lambda n: (faces[n][0], -n)),
        "middle": min(ok, key=lambda n: (abs(n - (frames - 1) / 2), n)),
        "first": ok[0],
        "random": ok[int(rng.integers(len(ok)))],
    }


_w: dict = {}


def _init() -> None:
    import dlib
    import face_recognition_models as frm

    _w["sp"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    _w["net"] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    _w["dlib"] = dlib


def _embed(job: tuple[str, list[tuple[int, tuple]]]) -> list[np.ndarray]:
    """dlib embeddings of the given (frame, box) faces of one clip."""
    import av

    clip, wanted = job
    frames = {}
    with av.open(clip) as c:
        for n, frame in enumerate(c.decode(video=0)):
            frames[n] = frame.to_ndarray(format="rgb24")
    dl, out = _w["dlib"], []
    for n, (x, y, w, h) in wanted:
        rect = dl.rectangle(int(x), int(y), int(x + w), int(y + h))
        shape = _w["sp"](frames[n], rect)
        out.append(np.array(_w["net"].compute_face_descriptor(frames[n], shape), np.float32))
    return out


def _units(embs: list[np.ndarray], centre: np.ndarray) -> np.ndarray:
    """The embeddings less ``centre``, at unit length, stacked."""
    e = np.stack(embs) - centre
    out: np.ndarray = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return out


def one_seed(cfg: VideoConfig, ids: list[str], seed: int, scorer, detector, pool, tmp: str):
    """The clips of one seed, each method's frames, their embeddings, and the metrics."""
    from tqdm import tqdm

    rng = np.random.default_rng([seed, 23])
    frames_per_clip = cfg.photos_per_session * cfg.frames_per_photo
    picks: dict[tuple[str, int], dict[str, int]] = {}
    boxes: dict[tuple[str, int], dict[int, tuple]] = {}
    for name, s, photos in tqdm(
        sessions(cfg, ids, seed), desc=f"clips, seed {seed}", unit="clip", file=sys.stderr
    ):
        clip = Path(tmp) / f"{name}_{s}.mp4"
        write_clip(clip, photos, cfg.frames_per_photo, detector)
        faces = frame_faces(clip, scorer)
        if faces:
            picks[name, s] = choose(faces, frames_per_clip, rng)
            boxes[name, s] = {n: faces[n][1] for n in picks[name, s].values()}
    people = [n for n in ids if (n, 0) in picks and (n, 1) in picks]
    keys = [(n, s) for n in people for s in (0, 1)]
    jobs = [(str(Path(tmp) / f"{n}_{s}.mp4"), sorted(boxes[n, s].items())) for n, s in keys]
    embs: dict[tuple[str, int, int], np.ndarray] = {}
    done = tqdm(pool.imap(_embed, jobs), total=len(jobs), desc="dlib", unit="clip", file=sys.stderr)
    for (n, s), (_, wanted), got in zip(keys, jobs, done):
        for (frame, _), e in zip(wanted, got):
            embs[n, s, frame] = e
    centre = np.mean(list(embs.values()), 0)  # dlib's embeddings are not centred
    res = {}
    for m in METHODS:
        a = _units([embs[n, 0, picks[n, 0][m]] for n in people], centre)
        b = _units([embs[n, 1, picks[n, 1][m]] for n in people], centre)
        sim = a @ b.T
        gen, imp = np.diag(sim), sim[~np.eye(len(people), dtype=bool)]
        res[m] = {f"TAR@FAR={far:g}": tar_at_far(gen, imp, far) for far in cfg.fars}
        res[m]["accuracy"] = balanced_accuracy(gen, imp)
    same = {
        m: float(np.mean([picks[k][m] == picks[k]["tinyfqnet"] for k in keys])) for m in METHODS
    }
    return {
        "seed": seed,
        "people": len(people),
        "genuine_pairs": len(people),
        "impostor_pairs": len(people) * (len(people) - 1),
        "same_frame_as_tinyfqnet": same,  # how often a method keeps tinyFQnet's frame
        "results": res,
    }


def run(cfg: VideoConfig) -> dict:
    from multiprocessing import get_context

    from tinyfq_native import Detector, Scorer

    t0 = time.time()
    ids = identities(cfg)
    scorer, detector = Scorer(cfg.model), Detector()
    with (
        tempfile.TemporaryDirectory() as tmp,
        get_context("spawn").Pool(cfg.workers, _init) as pool,
    ):
        per_seed = [one_seed(cfg, ids, seed, scorer, detector, pool, tmp) for seed in cfg.seeds]
    summary = {
        m: {
            k: {
                "mean": float(np.mean([p["results"][m][k] for p in per_seed])),
                "std": float(np.std([p["results"][m][k] for p in per_seed])),
            }
            for k in per_seed[0]["results"][m]
        }
        for m in METHODS
    }
    return {
        "config": asdict(cfg) | {"data": "../shared/data", "out": None},
        "identities": len(ids),
        "frames_per_clip": cfg.photos_per_session * cfg.frames_per_photo,
        "quality_model": scorer.info.get("version"),
        "per_seed": per_seed,
        "summary": summary,
        "seconds": round(time.time() - t0, 1),
    }


def markdown(results: dict) -> str:
    summ = results["summary"]
    metrics = list(next(iter(summ.values())))
    lines = [
        "## Protocol 5: video sessions (held-out LFW people, two clips each), dlib ResNet",
        "",
        f"{results['identities']} people, {results['frames_per_clip']} frames a clip, seeds "
        f"{results['config']['seeds']}; one frame kept per clip; cross-session pairs.",
        "",
        "| method | " + " | ".join(metrics) + " |",
        "|---|" + "---|" * len(metrics),
    ]
    for m, v in summ.items():
        cells = [f"{v[k]['mean']:.3f} ± {v[k]['std']:.3f}" for k in metrics]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict, out: Path) -> None:
    from facedata.plot import palette, pyplot

    plt = pyplot()
    summ = results["summary"]
    metrics = list(next(iter(summ.values())))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    w = 0.8 / len(summ)
    colors = palette(len(summ))
    for i, (m, v) in enumerate(summ.items()):
        ax.bar(
            np.arange(len(metrics)) + i * w,
            [v[k]["mean"] for k in metrics],
            w,
            yerr=[v[k]["std"] for k in metrics],
            label=m,
            capsize=2,
            color=colors[i],
        )
    ax.set_xticks(np.arange(len(metrics)) + 0.4 - w / 2, metrics)
    ax.set_ylim(0, 1)
    ax.set_title(
        "Protocol 5: the frame kept per video session, verified by dlib ResNet", fontsize=9
    )
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "video_tar.png", dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m evaluation video",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = VideoConfig()
    p.add_argument("--data", default=d.data, help="folder with lfw/ (default: ../shared/data)")
    p.add_argument("--out", default=d.out, help="where results_video.json/.md and the PNG go")
    p.add_argument("--seeds", type=int, nargs="+", default=list(d.seeds))
    p.add_argument("--max-identities", type=int, default=None)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--model", default=None, help="exported model; default: embedded")
    args = p.parse_args(argv)
    try:
        import av  # noqa: F401
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError as err:
        print(f"python -m evaluation video: {err}; pip install '.[eval,video]'", file=sys.stderr)
        return 2
    cfg = VideoConfig(
        data=args.data,
        out=args.out,
        seeds=tuple(args.seeds),
        max_identities=args.max_identities,
        workers=args.workers,
        model=args.model,
    )
    res = run(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results_video.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "results_video.md").write_text(markdown(res))
    plot(res, out)
    print(markdown(res))
    return 0
