"""Dataclass configs for each step. Every run writes its config next to its outputs."""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from facedata.extra import default_root as default_extra_root

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
SHIPPED_RUN = REPO / "training" / "runs" / "p24-lfw3-c100"  # the embedded default model's run
BASE_RUN = REPO / "training" / "runs" / "mbf-2026.12.01"  # TrainConfig's defaults' run


@dataclass
class LabelConfig:
    data: str = str(DEFAULT_DATA)
    extra: str = str(default_extra_root())  # Pins and FaceScrub (python -m facedata.extra)
    out: str = str(REPO / "training" / "labels")
    cache: str = str(REPO / "training" / "cache" / "mbf-embeddings.jsonl")
    copies: int = 3  # degraded copies per photo, severities spread over [0, 1]
    jitter: int = 1  # landmark-jittered copies per training photo
    nonface: float = 0.25  # share of training photos that get one non-face frame
    min_images: int = 2  # identities with fewer images have no leave-one-out centre
    max_train_per_id: int = 40
    max_heldout_per_id: int = 20
    extra_train_per_id: int = 100  # Pins and FaceScrub people
    extra_heldout_per_id: int = 40
    max_identities: int | None = None  # per source and split; small values make CI's subset
    min_face_size: int = 20
    workers: int = 2  # processes, or Ray actors with --ray
    seed: int = 0
    centres: str | None = None  # .npz of classifier weight rows (identities, weights)
    ray: str | None = None  # "local" (a local Ray) or a cluster address: embed on Ray actors


@dataclass
class RelabelConfig:
    """training.relabel: the photos and landmarks of an earlier labels.csv, new copies from the
    second-order degradation model, a (stronger) labeller."""

    labels: str = str(REPO / "training" / "labels" / "labels.csv")  # photos + landmarks
    data: str = str(DEFAULT_DATA)
    extra: str = str(default_extra_root())
    out: str = str(REPO / "training" / "labels" / "v2")
    cache: str = str(REPO / "training" / "cache" / "relabel-embeddings.jsonl")
    labeller: str = "w600k"  # "w600k" (stronger, TFLite) or "mbf" (mobilefacenet_paddle)
    copies: int = 2  # second-order chain copies per photo, severities spread over [0, 1]
    jitter: float = 0.25  # share of photos that get one landmark-jittered copy
    nonface: float = 0.15  # share of photos that get one non-face frame
    max_per_id: int = 12  # training photos per identity
    splits: str = "train"  # comma-separated splits to label
    workers: int = 2
    seed: int = 1
    embed: bool = True  # False: label only the photos already in the cache (a time budget)
    focus: str = ""  # comma-separated kinds: one more single-step crop-scale copy of each
    cached_only: bool = False  # embed only for photos the cache has begun (their new copies)
    merge: str | None = None  # an earlier labels.csv whose rows join, mapped onto this scale
    merge_share: float = 1.0  # of the earlier rows (by a hash of path and copy)
    sources: str = ""  # comma-separated facedata.extra_sources sets, detected here; "" = none


@dataclass
class SampleConfig:
    labels: str = str(REPO / "training" / "labels" / "labels.csv")
    out: str = str(REPO / "training" / "labels")
    strategy: str = "smooth"  # "smooth" (paper §3.4) or "random" (the ablation)
    min_images: int = 4  # identity filter of §3.4 (the paper used 100 on MS1M)
    bins: int = 100
    low_frac: float = 0.10  # oversample the lowest 10% of the score range...
    high_frac: float = 0.05  # ...and the highest 5%
    size: int | None = None  # samples to draw; None = as many as the filtered set
    seed: int = 0
    # "lfw=3,pins=2": each sampled row of these sources (a relpath's first folder) that many times
    source_weight: str = ""


@dataclass
class TrainConfig:
    labels: str = str(REPO / "training" / "labels" / "labels.csv")
    sample: str = str(REPO / "training" / "labels" / "sample-smooth.csv")
    data: str = str(DEFAULT_DATA)
    extra: str = str(default_extra_root())
    variants: str = ""  # comma-separated copy kinds to train on; "" = all
    out: str = str(BASE_RUN)  # these defaults are BASE_RUN's recipe (SHIPPED_RUN's: its config)
    epochs: int = 10
    batch_size: int = 64  # paper: 1024 on 860k images; see training/README.md
    lr: float = 0.05  # paper: 0.01; 0.05 gave a lower validation loss here
    momentum: float = 0.9
    lr_step: int = 4
    lr_gamma: float = 0.1
    weight_decay: float = 1e-4
    val_frac: float = 0.1  # of training identities, held out for validation loss
    flip: bool = True  # horizontal flip augmentation
    threads: int = 1  # 1 = bit-reproducible on the same CPU
    seed: int = 0
    model: dict = field(default_factory=dict)  # ModelArgs overrides; {} = --init's, or Table 1
    init: str | None = None  # checkpoint to start from (same architecture): fine-tuning
    crop_route: float = 0.5  # share of photo-scale rows cut as a 112 crop, then resized
    pair_weight: float = 0.0  # weight of the same-photo ranking loss (losses.degradation_pairs)
    pair_margin: float = 0.02  # least score drop a degraded copy must show below its original
    pair_kinds: str = ""  # comma-separated degradation steps (e.g. crop/jpeg) pairs keep; "" = all
    keep_weight: float = 0.0  # weight of holding the --init model's scores on originals
    keep_from: str | None = None  # checkpoint whose scores keep holds (any net); None = --init
    rank_weight: float = 0.0  # weight of ordering the batch's --rank-rows by label (rank_loss)
    rank_gap: float = 0.05  # least label difference of a pair the rank loss orders
    rank_rows: str = "originals"  # which sampled rows the rank loss orders: originals or all
    rank_originals_weight: float = 0.0  # a second rank term, on the batch's originals alone
    person_rank_weight: float = 0.0  # weight of ordering clean photos of one person (by label)
    person_group: int = 4  # originals of one training person per group in that term's half-batch
    people_rank_weight: float = 0.0  # weight of ordering those groups (people) by mean label
    # 0..1: move each training person's labels that share of the way to one common mean
    person_centring: float = 0.0
    # (0, 1]: train on that share of the training people only (a fixed subset by a hash of the
    # identity, nested: the people of 0.25 are among those of 0.5); validation is unchanged
    people_share: float = 1.0
    tone_weight: float = 0.0  # weight of holding an original's score under a mild tone curve
    tone_gamma: float = 1.3  # that curve's gamma is drawn log-uniformly from [1/g, g]


@dataclass
class TeacherConfig:
    """training.teacher: a larger quality model of our own (an MLP on the labelling model's
    embedding of the 112×112 crop), fitted on a labels.csv and written out as distilled labels."""

    labels: str = str(REPO / "training" / "labels" / "v5" / "labels.csv")
    sample: str = str(REPO / "training" / "labels" / "v5" / "sample-smooth.csv")  # val people
    data: str = str(DEFAULT_DATA)
    extra: str = str(default_extra_root())
    cache: str = str(REPO / "training" / "cache" / "teacher-w600k.jsonl")
    out: str = str(REPO / "training" / "teacher" / "v5")
    labeller: str = "w600k"  # the model whose embedding the teacher reads (the labels' own)
    workers: int = 2
    inputs: str = "norm"  # "norm": the raw embedding's norm alone; "embedding": it + direction
    hidden: int = 256
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_frac: float = 0.1  # TrainConfig's: the same validation people as the student's
    seed: int = 0
    blend: float = 1.0  # written label = blend × teacher + (1 − blend) × label
    embed: bool = True  # False: fit on the rows the cache holds (a time budget)


def to_dict(cfg) -> dict:
    return asdict(cfg)


def parse_config(cls, argv=None):
    """The dataclass ``cls`` filled from command-line flags, one per field (--max-identities)."""
    p = argparse.ArgumentParser(description=f"{cls.__name__} fields as flags")
    for f in fields(cls):
        default = getattr(cls(), f.name)
        if isinstance(default, bool):
            p.add_argument(
                f"--{f.name.replace('_', '-')}",
                type=lambda s: s.lower() in ("1", "true", "yes"),
                default=default,
            )
        elif isinstance(default, dict):
            p.add_argument(f"--{f.name.replace('_', '-')}", type=json.loads, default=default)
        else:
            declared = str(f.type)  # e.g. "int | None" (annotations are strings here)
            typ = (
                type(default)
                if default is not None
                else (
                    int
                    if declared.startswith("int")
                    else float
                    if declared.startswith("float")
                    else str
                )
            )
            p.add_argument(f"--{f.name.replace('_', '-')}", type=typ, default=default)
    return cls(**vars(p.parse_args(argv)))


def _flag_value(v) -> str:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v)
    s = str(v)
    return s[len(str(REPO)) + 1 :] if s.startswith(f"{REPO}/") else s  # repo paths relative


def command_line(module: str, *args, **flags) -> str:
    """The command that repeats a run from the repository root: ``python -m MODULE ARGS
    --flag value ...`` built from the values the run used (flags whose value is None are left
    out), so it is right whoever called the run, the shell or a test with its own arguments."""
    parts = ["python", "-m", module, *(_flag_value(a) for a in args)]
    for k, v in flags.items():
        if v is not None:
            parts += [f"--{k.replace('_', '-')}", _flag_value(v)]
    return shlex.join(parts)


def config_command(module: str, cfg) -> str:
    """``command_line`` of a config-driven step: a flag for each field that differs from its
    default (``parse_config`` of the flags gives ``cfg`` back)."""
    default = type(cfg)()
    changed = {
        f.name: getattr(cfg, f.name)
        for f in fields(cfg)
        if getattr(cfg, f.name) != getattr(default, f.name)
    }
    return command_line(module, **changed)
