"""Does picking faces by quality help recognition? tinyFQnet against hand-made measures and
other projects' learned quality models, on held-out people only, verified by dlib's ResNet — a
face recogniser that made none of the training labels. The protocols are described in
evaluation/protocols.py; the methods are random; blur, JPEG blockiness, pose and their
combination (evaluation/baselines.py); the verifier's embedding norm; the oracle (cosine of the
verifier's embedding to the person's centre, templates only); tinyFQnet through the native
scorer; and the learned peers (evaluation/peers.py: LightQNet at three widths, SDD-FIQA,
qualityface), each on the same 112×112 crop the runtime's warp cuts. Protocol 4
(evaluation/crops.py) instead hands every method aligned crops cut by another aligner (MTCNN)
and degraded after alignment, as other pipelines produce them.

    python -m evaluation --out docs/eval      # pip install ".[eval]"
    python -m evaluation --protocols crops --compare old=cpp/models/old.param
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evaluation import protocols as P
from evaluation.frames import FrameCache
from evaluation.report import markdown, plots
from evaluation.verifier import NAME as VERIFIER
from evaluation.verifier import EmbeddingCache
from facedata.lfw import people_of_folds

REPO = Path(__file__).resolve().parent.parent


@dataclass
class EvalConfig:
    data: str = "../shared/data"
    out: str = "docs/eval"
    cache: str = os.path.join(os.path.expanduser("~"), ".cache", "tinyfq-native", "eval")
    labels: str = str(REPO / "training" / "labels" / "labels.csv")  # for the label ceiling
    seeds: tuple = (0, 1, 2)
    min_images: int = 4
    max_per_identity: int = 8
    degrade_prob: float = 0.6  # chance that a template frame is degraded
    pair_degrade_prob: float = 0.5  # chance that an image of a View-2 pair is degraded
    fars: tuple = (1e-1, 1e-2, 1e-3)
    edc_fmr: float = 1e-2
    natural_impostors: int = 50_000
    max_identities: int | None = None  # small values make quick runs (tests)
    max_pairs: int | None = None
    workers: int = 2
    model: str | None = None
    peers: tuple | None = None  # None = every peer that can run here
    protocols: tuple = ("templates", "edc", "natural", "crops")
    compare: tuple = ()  # "name=path" of other exported models, scored as tinyfqnet@name
    # protocol 4 (evaluation/crops.py)
    crop_landmarks: str = str(REPO / "training" / "labels" / "landmarks-mtcnn.csv")
    crop_min_images: int = 12
    crop_max_per_identity: int = 12
    crop_template_min: int = 12  # people in the Spearman and template parts (two templates)
    crop_template_size: int = 6
    crop_degrade_prob: float = 0.5

    @property
    def lfw_root(self) -> str:
        return str(Path(self.data) / "lfw")


def run(cfg: EvalConfig) -> dict:
    from evaluation.peers import available_peers

    t0 = time.time()
    data = Path(cfg.data)
    heldout = people_of_folds(data / "lfw" / "pairs.txt", heldout=True)
    ids = [n for n in heldout if len(os.listdir(data / "lfw" / "images" / n)) >= cfg.min_images][
        : cfg.max_identities
    ]
    peers = tuple(p for p in available_peers() if cfg.peers is None or p in cfg.peers)
    results: dict = {
        "config": asdict(cfg)
        | {"data": "../shared/data", "cache": None, "labels": None, "crop_landmarks": None},
        "verification_model": VERIFIER,
    }
    if {"templates", "edc", "natural"} & set(cfg.protocols):
        cache = EmbeddingCache(Path(cfg.cache) / "dlib-embeddings.jsonl")
        wanted = [
            (rel, spec)
            for seed in cfg.seeds
            for _, _, rel, spec in P.template_frames(cfg, ids, seed)
        ]
        wanted += [(rel, "") for rel, _ in wanted]
        pairs = P.pair_jobs(cfg)
        for (a, b, _), (sa, sb) in zip(pairs, P.pair_specs(cfg, pairs)):
            wanted += [(a, ""), (b, ""), (a, sa), (b, sb)]
        natural = P.natural_photos(cfg)
        wanted += [(rel, "") for photos in natural.values() for _, rel in photos]
        cache.fill(cfg.lfw_root, wanted, cfg.workers)
        embs = [cache.emb(rel, "") for rel, _ in wanted if cache.emb(rel, "") is not None]
        centre = np.mean(embs, 0)  # dlib embeddings are not centred: subtract their mean
        frames = FrameCache(Path(cfg.cache) / "frames.jsonl", peers)
        frames.fill(
            cfg.lfw_root,
            [
                (rel, spec, cache.face(rel))
                for rel, spec in wanted
                if cache.emb(rel, spec) is not None
            ],
            cfg.workers,
        )
        sc = P.FrameScorer(cfg, cache, frames, centre, peers)
        results |= {
            "quality_model": sc.scorer.info.get("version"),
            "compared_models": {n: s.info.get("version") for n, s in sc.extra.items()},
            "methods": P.methods(sc),
            "identities": len(ids),
        }
        if "templates" in cfg.protocols:
            results["templates"] = P.protocol_templates(cfg, ids, cache, sc)
        if "edc" in cfg.protocols:
            results["edc"] = P.protocol_edc(cfg, cache, sc)
        if "natural" in cfg.protocols:
            results["natural"] = P.protocol_natural(cfg, natural, sc)
    if "crops" in cfg.protocols:
        from evaluation.crops import protocol_crops
        from tinyfq_native import Scorer

        scorers = {"tinyfqnet": Scorer(cfg.model)} | P.compared_scorers(cfg)
        results.setdefault("quality_model", scorers["tinyfqnet"].info.get("version"))
        results["crops"] = protocol_crops(cfg, set(heldout), scorers, peers)
        results["crops"]["models"] = {m: s.info.get("version") for m, s in scorers.items()}
    results["seconds"] = round(time.time() - t0, 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown(results))
    plots(results, out)
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    e = argparse.ArgumentParser(
        prog="python -m evaluation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = EvalConfig()
    e.add_argument("--data", default=d.data, help="folder with lfw/ (default: ../shared/data)")
    e.add_argument("--out", default=d.out, help="where results.json/.md and PNGs go")
    e.add_argument("--cache", default=d.cache, help="embedding cache folder")
    e.add_argument("--labels", default=d.labels, help="training labels, for the label ceiling")
    e.add_argument("--seeds", type=int, nargs="+", default=list(d.seeds))
    e.add_argument("--max-identities", type=int, default=None)
    e.add_argument("--max-pairs", type=int, default=None)
    e.add_argument("--workers", type=int, default=d.workers)
    e.add_argument("--model", default=None, help="exported model; default: embedded")
    e.add_argument("--peers", nargs="*", default=None, help="peers to run (default: all here)")
    e.add_argument(
        "--protocols",
        nargs="+",
        default=list(d.protocols),
        choices=list(d.protocols),
        help="protocols to run (default: all)",
    )
    e.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="NAME=PATH",
        help="other exported models (.param) scored beside the default, as tinyfqnet@NAME; "
        "PATH=A+B+C scores the mean of several models (an output ensemble)",
    )
    args = e.parse_args(argv)
    from evaluation.verifier import missing

    if missing("python -m evaluation"):
        return 2
    cfg = EvalConfig(
        data=args.data,
        out=args.out,
        cache=args.cache,
        labels=args.labels,
        seeds=tuple(args.seeds),
        max_identities=args.max_identities,
        max_pairs=args.max_pairs,
        workers=args.workers,
        model=args.model,
        peers=tuple(args.peers) if args.peers is not None else None,
        protocols=tuple(args.protocols),
        compare=tuple(args.compare),
    )
    res = run(cfg)
    print(markdown(res))
    return 0
