"""Protocol 6, real video sessions (issue 27 item 6): the frame each method keeps from a real
frame sequence, verified by dlib across sessions. Protocol 5 (evaluation/video.py) makes its
clips from LFW photos; this one reads real sequences from two public repositories, read with
git from local mirrors (nothing of them is copied into this repository: frames and clips are
extracted to the evaluation cache folder, outside it).

- **NUAA** (imironica/liveness@415a750d380dc1ad03815d9f99287f0661715510, ``db/ClientRaw/``):
  5,105 webcam frames of 15 real people. A file is ``ID_GLASSES_POS_SESSION_FRAME.jpg``
  (the folder's readme: glasses 00 with / 01 without, pos a lighting and movement condition,
  session 01-03, frame the picture number). One (person, glasses, pos, session) is one
  sequence, its frames in frame-number order (25 sequences; 6 people have more than one
  session). Genuine pairs: one person's sequences of different session numbers (14); impostor
  pairs: sequences of different people.
- **LivePortrait** (KwaiVGI/LivePortrait@1986663be3b6902605d32200c01f4bfd36cda83d,
  ``assets/examples/{driving,source}/*.mp4``, MIT): 17 clips of one person each, distinct
  people (checked by eye on their first frames only). A clip's first and second half are two
  sessions of its person (17 genuine pairs); halves of different clips are impostor pairs.

Each sequence goes through the runtime's video pipeline (tinyfq_native.video.best_faces on every
``every``-th frame: a burst folder for NUAA, the mp4 for LivePortrait; every face of every track
kept). A session's faces are those of its main track (the track with most faces in the
session). Each method keeps one of them: ``tinyfqnet`` the best by the pipeline's quality score
(best_faces' top-1 of that track), each learned peer (evaluation/peers.py: LightQNet x0.25 and
x1.0 by onnxruntime, SDD-FIQA by MNN in its own venv) its best on the same aligned 112x112 crops
(the pipeline's uint8 crops, so within 0.5 of the float crop protocol 4 gives them), ``first``
the first, ``middle`` the one nearest the session's middle frame, ``random`` one at random
(``random_draws`` draws; mean and std over draws). Kept frames are embedded by dlib's ResNet
(evaluation/verifier.py's model) on the pipeline's box, centred on the mean of every embedding
computed here, compared by cosine; TAR at FAR per set and pooled (one threshold over both sets'
pairs; no pairs across the sets).

    python -m evaluation video-real --out docs/eval      # pip install ".[eval,video]"

The sequences and their sources: evaluation/video_sequences.py; the report:
evaluation/video_real_report.py.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from evaluation.metrics import balanced_accuracy, tar_at_far
from evaluation.video_real_report import markdown, plot
from evaluation.video_sequences import (
    LIVEPORTRAIT,
    MIRRORS,
    NUAA,
    Sequence,
    frame_images,
    have_mirrors,
    liveportrait_sequences,
    nuaa_sequences,
)
from facedata.jsonl import read_jsonl

PEERS = ("lightqnet_x0.25", "lightqnet_x1.0", "sdd_fiqa")
POSITIONAL = ("first", "middle", "random")


@dataclass
class RealVideoConfig:
    mirrors: str = MIRRORS
    out: str = "docs/eval"
    cache: str = os.path.join(os.path.expanduser("~"), ".cache", "tinyfq-native", "eval")
    sets: tuple = ("nuaa", "liveportrait")
    every_nuaa: int = 2  # the NUAA pictures are already every 3rd-4th webcam frame
    every_clip: int = 2
    random_draws: int = 20
    fars: tuple = (1e-1, 1e-2)
    people: tuple | None = None  # NUAA client ids to use (default: all)
    clips: tuple | None = None  # LivePortrait clip names to use, e.g. ("d0", "s13")
    model: str | None = None
    peers: tuple = field(default_factory=lambda: PEERS)


def run_pipeline(seq: Sequence, every: int, scorer) -> tuple[dict, int, int]:
    """Every face of every track of a sequence: track -> [(frame, score, box, landmarks,
    crop)] in frame order; and the frames decoded and the rotation applied."""
    from tinyfq_native.video import best_faces

    bf = best_faces(seq.source, k=1 << 20, every=every, scorer=scorer, workers=1, crops=True)
    tracks: dict = {}
    with bf:
        for track, picks in bf:
            tracks[track] = sorted(
                (p.frame, p.score, tuple(p.box), p.landmarks.tolist(), p.crop) for p in picks
            )
    return tracks, bf.frames, bf.rotation


def session_faces(tracks: dict, lo: int, hi: int) -> list[tuple]:
    """The faces of the session's main track (most faces with lo <= frame < hi; the lower id
    on a tie), in frame order."""
    inside = {t: [f for f in faces if lo <= f[0] < hi] for t, faces in tracks.items()}
    inside = {t: f for t, f in inside.items() if f}
    if not inside:
        return []
    main = min(inside, key=lambda t: (-len(inside[t]), t))
    return inside[main]


def choose(
    frames: list[int], scores: dict[str, list[float]], lo: int, hi: int, rng, draws: int
) -> dict[str, list[int]]:
    """Each method's kept frame (``random``: one per draw): the best score (the earlier frame
    on a tie) for each scored method; first; the nearest the middle (the earlier on a tie);
    random."""
    out = {
        m: [frames[int(np.argmax(np.asarray(s)))]] for m, s in scores.items()
    }  # argmax: first of the maxima
    mid = (lo + hi - 1) / 2
    out["first"] = [frames[0]]
    out["middle"] = [min(frames, key=lambda n: (abs(n - mid), n))]
    out["random"] = [frames[int(i)] for i in rng.integers(len(frames), size=draws)]
    return out


def _key(*parts: object) -> str:
    return "|".join(str(p) for p in parts)


class _Jsonl:
    """A JSON-lines cache keyed by each row's ``key``, appended to."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = {r["key"]: r for r in read_jsonl(path)}

    def add(self, row: dict) -> None:
        self.rows[row["key"]] = row
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


_dlib: dict = {}


def _embed(image: np.ndarray, box: tuple) -> np.ndarray:
    if not _dlib:
        import dlib
        import face_recognition_models as frm

        _dlib["sp"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        _dlib["net"] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        _dlib["dlib"] = dlib
    x, y, w, h = box
    rect = _dlib["dlib"].rectangle(int(x), int(y), int(x + w), int(y + h))
    shape = _dlib["sp"](image, rect)
    return np.array(_dlib["net"].compute_face_descriptor(image, shape), np.float32)


def score_sequences(
    cfg: RealVideoConfig, seqs: list[Sequence], scorer, peers: list
) -> tuple[list, int]:
    """Per session: its faces' frames, boxes and every method's scores (cached by model
    version, sampling and peers), and each method's kept frames with their dlib embeddings
    (cached by sequence, frame and box); and how many sequences came from the cache."""
    from tqdm import tqdm

    version = scorer.info.get("version")
    cache = Path(cfg.cache) / "video-real"
    scored = _Jsonl(cache / "sessions.jsonl")
    embs = _Jsonl(cache / "dlib-embeddings.jsonl")
    peer_names = tuple(p.name for p in peers)
    out: list = []
    from_cache: list = []
    for seq in tqdm(seqs, desc="sequences", unit="seq", file=sys.stderr):
        every = cfg.every_nuaa if seq.set == "nuaa" else cfg.every_clip
        key = _key(seq.set, seq.name, version, every, ",".join(peer_names))
        if key in scored.rows:
            from_cache.append(seq.name)
        else:
            tracks, frames, rotation = run_pipeline(seq, every, scorer)
            if seq.set == "liveportrait":
                half = frames // 2
                seq.sessions = [
                    (f"{seq.name}_a", seq.person, "a", 0, half),
                    (f"{seq.name}_b", seq.person, "b", half, frames),
                ]
            rows = []
            for sid, person, label, lo, hi in seq.sessions:
                faces = session_faces(tracks, lo, hi)
                row = {
                    "session": sid,
                    "person": person,
                    "label": label,
                    "range": [lo, hi],
                    "frames": [f[0] for f in faces],
                    "boxes": [list(f[2]) for f in faces],
                    "scores": {"tinyfqnet": [float(f[1]) for f in faces]},
                }
                if faces:
                    crops = np.stack([f[4] for f in faces]).astype(np.float32)
                    for p in peers:
                        s = np.concatenate([p(crops[i : i + 64]) for i in range(0, len(crops), 64)])
                        row["scores"][p.name] = [float(v) for v in s]
                rows.append(row)
            scored.add(
                {
                    "key": key,
                    "frames_decoded": frames,
                    "rotation": rotation,
                    "tracks": len(tracks),
                    "sessions": rows,
                }
            )
        entry = scored.rows[key]
        wanted: dict[int, tuple] = {}
        picks_of = []
        for row in entry["sessions"]:
            if not row["frames"]:
                picks_of.append((row, {}))
                continue
            lo, hi = row["range"]
            rng = np.random.default_rng([zlib.crc32(row["session"].encode()), 29])
            picks = choose(row["frames"], row["scores"], lo, hi, rng, cfg.random_draws)
            box = dict(zip(row["frames"], row["boxes"]))
            for fr in {f for v in picks.values() for f in v}:
                wanted[fr] = box[fr]
            picks_of.append((row, picks))
        need = {n for n, b in wanted.items() if _key(seq.set, seq.name, n, b) not in embs.rows}
        if need:
            images = frame_images(seq, need, entry["rotation"])
            for n in sorted(need):
                e = _embed(images[n], tuple(wanted[n]))
                embs.add(
                    {
                        "key": _key(seq.set, seq.name, n, wanted[n]),
                        "emb": base64.b64encode(e.tobytes()).decode(),
                    }
                )
        for row, picks in picks_of:
            emb = {
                n: np.frombuffer(
                    base64.b64decode(embs.rows[_key(seq.set, seq.name, n, wanted[n])]["emb"]),
                    np.float32,
                )
                for n in {f for v in picks.values() for f in v}
            }
            out.append(
                {
                    "set": seq.set,
                    "sequence": seq.name,
                    "frames_decoded": entry["frames_decoded"],
                    "tracks": entry["tracks"],
                    **{k: row[k] for k in ("session", "person", "label", "range")},
                    "faces": len(row["frames"]),
                    "picks": picks,
                    "emb": emb,
                }
            )
    return out, len(from_cache)


def pairs(sessions: list[dict]) -> tuple[list, list]:
    """Genuine (same person, different session label) and impostor (different people) pairs
    of session indices."""
    gen, imp = [], []
    for i in range(len(sessions)):
        for j in range(i + 1, len(sessions)):
            a, b = sessions[i], sessions[j]
            if a["person"] != b["person"]:
                imp.append((i, j))
            elif a["label"] != b["label"]:
                gen.append((i, j))
    return gen, imp


def _sims(sessions: list[dict], method: str, draw: int, centre: np.ndarray) -> np.ndarray:
    e = np.stack([s["emb"][s["picks"][method][draw]] for s in sessions]) - centre
    e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    out: np.ndarray = e @ e.T
    return out


def metrics(per_set: dict[str, list[dict]], methods: list[str], cfg: RealVideoConfig) -> dict:
    """Per set and pooled: each method's TAR at each FAR and balanced accuracy (random: mean
    and std over draws), with the pair counts they rest on."""
    every = [e for ss in per_set.values() for s in ss for e in s["emb"].values()]
    centre = np.mean(every, 0)  # dlib's embeddings are not centred
    res: dict = {}
    for name in [*per_set, "pooled"]:
        sets = list(per_set.values()) if name == "pooled" else [per_set[name]]
        prs = [pairs(ss) for ss in sets]
        n_gen, n_imp = sum(len(g) for g, _ in prs), sum(len(i) for _, i in prs)
        r: dict = {
            "sessions": sum(len(ss) for ss in sets),
            "people": sum(len({s["person"] for s in ss}) for ss in sets),
            "genuine_pairs": n_gen,
            "impostor_pairs": n_imp,
            # impostor pairs above the threshold at each FAR: what the threshold rests on
            "impostors_at_threshold": {f"{far:g}": int(np.floor(far * n_imp)) for far in cfg.fars},
            "methods": {},
        }
        for m in methods:
            draws = cfg.random_draws if m == "random" else 1
            vals: dict[str, list[float]] = {}
            for d in range(draws):
                gen, imp = [], []
                for ss, (g, i) in zip(sets, prs):
                    sim = _sims(ss, m, d, centre)
                    gen += [sim[a, b] for a, b in g]
                    imp += [sim[a, b] for a, b in i]
                g_, i_ = np.array(gen), np.array(imp)
                for far in cfg.fars:
                    vals.setdefault(f"TAR@FAR={far:g}", []).append(tar_at_far(g_, i_, far))
                vals.setdefault("accuracy", []).append(balanced_accuracy(g_, i_))
                vals.setdefault("genuine_cosine", []).append(float(g_.mean()))
            r["methods"][m] = {
                k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in vals.items()
            }
        res[name] = r
    return res


def run(cfg: RealVideoConfig) -> dict:
    from evaluation.peers import load_peers
    from tinyfq_native import Scorer

    t0 = time.time()
    scorer = Scorer(cfg.model)
    peers = load_peers(tuple(cfg.peers))
    try:
        seqs: list[Sequence] = []
        if "nuaa" in cfg.sets:
            seqs += nuaa_sequences(cfg.mirrors, cfg.cache, cfg.people)
        if "liveportrait" in cfg.sets:
            seqs += liveportrait_sequences(cfg.mirrors, cfg.cache, cfg.clips)
        sessions, cached = score_sequences(cfg, seqs, scorer, peers)
    finally:
        for p in peers:
            if hasattr(p, "close"):
                p.close()
    methods = ["tinyfqnet", *(p.name for p in peers), *POSITIONAL]
    kept = [s for s in sessions if s["faces"]]
    per_set = {name: [s for s in kept if s["set"] == name] for name in cfg.sets}
    res = metrics(per_set, methods, cfg)
    same = {
        name: {
            m: float(np.mean([s["picks"][m][0] == s["picks"]["tinyfqnet"][0] for s in ss]))
            for m in methods
        }
        for name, ss in per_set.items()
    }
    table = [
        {k: s[k] for k in ("set", "sequence", "session", "person", "label", "range", "faces")}
        | {"tracks_in_sequence": s["tracks"], "picks": {m: s["picks"].get(m) for m in methods}}
        for s in sessions
    ]
    return {
        "protocol": "6: real video sessions (issue 27 item 6)",
        "sources": {
            "nuaa": NUAA | {"mirror": None},
            "liveportrait": LIVEPORTRAIT | {"mirror": None},
        },
        "config": asdict(cfg)
        | {"mirrors": None, "out": None, "cache": None, "peers": list(cfg.peers)},
        "quality_model": scorer.info.get("version"),
        "peers_run": [p.name for p in peers],
        "verifier": "dlib ResNet (face_recognition_models 0.3.0), 128-d, mean-centred cosine",
        "sessions_without_face": [s["session"] for s in sessions if not s["faces"]],
        "frames_scored": int(sum(s["faces"] for s in sessions)),
        "same_frame_as_tinyfqnet": same,
        "results": res,
        "sessions": table,
        "seconds": round(time.time() - t0, 1),
        "sequences_from_cache": cached,  # their pipeline and peer scores were not recomputed
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m evaluation video-real",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = RealVideoConfig()
    p.add_argument("--mirrors", default=d.mirrors, help="folder of the git mirrors")
    p.add_argument("--out", default=d.out, help="where results_video_real.* and the PNG go")
    p.add_argument("--cache", default=d.cache, help="cache folder (frames, scores, embeddings)")
    p.add_argument("--sets", nargs="+", default=list(d.sets), choices=list(d.sets))
    p.add_argument("--every-nuaa", type=int, default=d.every_nuaa)
    p.add_argument("--every-clip", type=int, default=d.every_clip)
    p.add_argument("--random-draws", type=int, default=d.random_draws)
    p.add_argument("--people", nargs="+", default=None, help="NUAA client ids, e.g. 0001")
    p.add_argument("--clips", nargs="+", default=None, help="LivePortrait clips, e.g. d0 s13")
    p.add_argument("--peers", nargs="*", default=list(d.peers))
    p.add_argument("--model", default=None, help="exported model; default: embedded")
    args = p.parse_args(argv)
    try:
        import av  # noqa: F401
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError as err:
        print(
            f"python -m evaluation video-real: {err}; pip install '.[eval,video]'", file=sys.stderr
        )
        return 2
    if not have_mirrors(args.mirrors):
        print(
            f"python -m evaluation video-real: the mirrors of {NUAA['repository']} and "
            f"{LIVEPORTRAIT['repository']} at their pinned commits are not under {args.mirrors}",
            file=sys.stderr,
        )
        return 2
    cfg = RealVideoConfig(
        mirrors=args.mirrors,
        out=args.out,
        cache=args.cache,
        sets=tuple(args.sets),
        every_nuaa=args.every_nuaa,
        every_clip=args.every_clip,
        random_draws=args.random_draws,
        people=tuple(args.people) if args.people else None,
        clips=tuple(args.clips) if args.clips else None,
        model=args.model,
        peers=tuple(args.peers),
    )
    res = run(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results_video_real.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "results_video_real.md").write_text(markdown(res))
    plot(res, out)
    print(markdown(res))
    return 0
