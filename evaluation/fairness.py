"""The fairness report (issue 25, item 6): does tinyFQnet score some groups of faces lower than
a recogniser's view of them warrants?

1. **UTKFace** (23,707 face crops labelled with age, gender and race, no identities): score
   distributions by race, age group (0-12, 13-19, 20-39, 40-59, 60+) and gender. The crops are
   200×200 with a looser margin than the ArcFace template the crop path expects, so they are
   scored as a user should score them: ``tinyfq score --detect`` (the native detector's
   largest face, warped by its landmarks; ``Scorer.score_paths(detect=True)`` with the CLI's
   detector settings). Crops where it finds no face are counted per group. The crop path
   (``tinyfq score`` without ``--detect``) is reported beside it for the default model, to show
   what scoring them as ArcFace crops would do. UTKFace has no identities, so it gets no
   recognisability label and no residual test: distributions only.
2. **Identity sets** (held-out LFW people and the extra sets of facedata.extra): each set is
   one group, a proxy for the population it samples (not a per-person race label; none exists
   for these photos). Per photo the verifier's label (evaluation/verifier.py: dlib's ResNet,
   which made none of the training labels; mean-centred cosine of the photo's embedding to
   the normalised mean of the person's other photos), tinyFQnet's score on the face the
   verifier's detection found (the native detector, as ``--detect``), and per set: Spearman
   (95% interval over resampled people), error-versus-discard (evaluation.metrics.edc: FNMR of
   the set's genuine pairs against the share discarded, pair quality the lower of the two
   scores, at one threshold: FMR ``fmr`` over all impostor pairs of all sets), the set's own
   FMR at that threshold, and the residual test (evaluation.fairness_stats.residual_test).

    python -m evaluation fairness --out docs/fairness          # pip install ".[eval]"
    python -m evaluation fairness --compare cand=training/runs/x/model.ncnn.param
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evaluation import fairness_stats as S
from evaluation.fairness_sets import sets_part, status_scores
from evaluation.verifier import NAME as VERIFIER
from facedata.extra import default_root, resolve

SETS = ("lfw", "casia5", "blackpink", "idols13", "kpop15", "bollywood", "asian", "yaleb", "nuaa")


@dataclass
class FairnessConfig:
    data: str = "../shared/data"
    extra: str | None = None  # the extra folder (default: facedata.extra.default_root())
    out: str = "docs/fairness"
    cache: str = os.path.join(os.path.expanduser("~"), ".cache", "tinyfq-native", "eval")
    sets: tuple = SETS
    utkface: int | None = None  # at most this many UTKFace crops (stratified by race); 0 = none
    max_per_set: int = 500
    min_images: int = 4
    fmr: float = 1e-3
    bootstrap: int = 1000
    workers: int = 2
    model: str | None = None
    compare: tuple = ()  # "name=path" of other exported models, scored as tinyfqnet@name
    seed: int = 0

    @property
    def extra_root(self) -> Path:
        return Path(self.extra) if self.extra else default_root()


def scorers_of(cfg: FairnessConfig) -> dict:
    from evaluation.protocols import compared
    from tinyfq_native import Scorer

    return {"tinyfqnet": Scorer(cfg.model)} | {
        f"tinyfqnet@{n}": Scorer(p) for n, p in compared(cfg)
    }


def thresholds_of(scorer) -> dict[str, float]:
    """The model's calibrated thresholds (none without a calibration table): the HTML
    report's default and ``--min-quality 70``."""
    from tinyfq_native.calibration import Calibration
    from tinyfq_native.report import calibrated_threshold

    cal = Calibration.of(scorer.info)
    if cal is None:
        return {}
    out = {}
    t = calibrated_threshold(cal)
    if t.score is not None:
        out["report default"] = t.score
    q70 = cal.quality_threshold(70)
    if q70 is not None:
        out["quality 70"] = q70
    return out


# --- 1. UTKFace ------------------------------------------------------------------------------


def utkface_records(cfg: FairnessConfig) -> tuple[list[dict], str | None]:
    """UTKFace's crops (facedata.extra.utkface_faces), at most ``cfg.utkface`` of them in the
    same share per race (a stable hash of the path picks them); or a reason there are none."""
    try:
        from facedata.extra import utkface_faces
    except ImportError:
        return [], "facedata.extra has no utkface_faces (the UTKFace extraction is not there)"
    faces = [
        f | {"race": S.race_name(f.get("race")), "gender": S.gender_name(f.get("gender"))}
        for f in utkface_faces(cfg.extra_root)
    ]
    faces = [f for f in faces if f["race"] is not None]
    if not faces:
        return [], f"no UTKFace crops under {cfg.extra_root} (python -m facedata.extra)"
    if cfg.utkface is not None and cfg.utkface < len(faces):
        share = cfg.utkface / len(faces)
        keep = []
        for race in S.RACES:
            of = sorted(
                (f for f in faces if f["race"] == race),
                key=lambda f: zlib.crc32(f["relpath"].encode()),
            )
            keep += of[: round(share * len(of))]
        faces = keep
    return faces, None


def _provenance(cfg: FairnessConfig) -> dict:
    """What the extraction took of UTKFace: files listed, byte-identical duplicates skipped,
    names that do not parse (facedata.extra's provenance.json), where it says."""
    try:
        from facedata.extra import provenance
    except ImportError:
        return {}
    rec = provenance(cfg.extra_root).get("utkface", {})
    out = {k: rec[k] for k in ("repo", "commit", "listed", "duplicates", "files") if k in rec}
    if "unparsed" in rec:
        out["unparsed"] = len(rec["unparsed"])
    return out


def utkface_part(cfg: FairnessConfig, scorers: dict, thresholds: dict) -> dict:
    faces, why = utkface_records(cfg)
    if why:
        print(f"note: {why}; UTKFace skipped", file=sys.stderr)
        return {"skipped": why}
    paths = [str(resolve(f["relpath"], cfg.data, cfg.extra_root)) for f in faces]
    attrs = {
        "race": np.array([f["race"] for f in faces]),
        "age": np.array([S.age_group(int(f["age"])) for f in faces]),
        "gender": np.array([f["gender"] or "unknown" for f in faces]),
    }
    order = {"race": list(S.RACES), "age": S.age_order(), "gender": list(S.GENDERS)}
    scores, status = {}, None
    for m, sc in scorers.items():
        print(f"UTKFace: {m}, --detect", file=sys.stderr)
        scores[m], st = status_scores(
            sc.score_paths(paths, detect=True, workers=cfg.workers, progress=True)
        )
        status = status or st
    print("UTKFace: tinyfqnet, as crops", file=sys.stderr)
    crop, _ = status_scores(
        scorers["tinyfqnet"].score_paths(paths, workers=cfg.workers, progress=True)
    )
    no_face = np.array([s == "no_face" for s in status])
    failed = np.array([s not in ("ok", "no_face") for s in status])
    out: dict = {"crops": len(faces), "groups": {}, "provenance": _provenance(cfg)}
    for attr, values in attrs.items():
        out["groups"][attr] = {}
        for v in order[attr]:
            m_ = values == v
            if not m_.any():
                continue
            row = {
                "crops": int(m_.sum()),
                "no_face": int(no_face[m_].sum()),
                "unreadable": int(failed[m_].sum()),
                "detect": {
                    m: S.summary(s[m_], thresholds.get(m, {}), cfg.bootstrap, cfg.seed)
                    for m, s in scores.items()
                },
                "crop": S.summary(crop[m_], {}, cfg.bootstrap, cfg.seed),
            }
            out["groups"][attr][v] = row
    s = scores["tinyfqnet"]
    out["race_by_age"] = {}
    for r in order["race"]:
        out["race_by_age"][r] = {}
        for a in order["age"]:
            v = s[(attrs["race"] == r) & (attrs["age"] == a)]
            v = v[np.isfinite(v)]
            out["race_by_age"][r][a] = {
                "n": len(v),
                "median": float(np.median(v)) if len(v) else None,
            }
    out["all"] = {
        m: S.summary(v, thresholds.get(m, {}), cfg.bootstrap, cfg.seed) for m, v in scores.items()
    }
    out["all"]["crop path"] = S.summary(crop, {}, cfg.bootstrap, cfg.seed)
    out["no_face"], out["unreadable"] = int(no_face.sum()), int(failed.sum())
    out["plot"] = {
        "attrs": {k: v.tolist() for k, v in attrs.items()},
        "order": order,
        "scores": {m: np.round(v, 4).tolist() for m, v in scores.items()},
    }
    return out


# --- the run ---------------------------------------------------------------------------------


def run(cfg: FairnessConfig) -> dict:
    from evaluation.fairness_plots import plots
    from evaluation.fairness_report import markdown

    t0 = time.time()
    if cfg.extra:  # the verifier's workers resolve extra paths through $TINYFQ_EXTRA
        os.environ["TINYFQ_EXTRA"] = str(cfg.extra)
    scorers = scorers_of(cfg)
    thresholds = {m: thresholds_of(sc) for m, sc in scorers.items()}
    res: dict = {
        "config": asdict(cfg) | {"data": "../shared/data", "extra": None, "cache": None},
        "models": {m: sc.info.get("version") for m, sc in scorers.items()},
        "thresholds": thresholds,
        "verifier": VERIFIER,
    }
    if cfg.utkface != 0:
        res["utkface"] = utkface_part(cfg, scorers, thresholds)
    res["sets"] = sets_part(cfg, scorers, thresholds)
    res["seconds"] = round(time.time() - t0, 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    plots(res, out)
    (out / "fairness.md").write_text(markdown(res))
    for part in ("utkface", "sets"):  # the per-photo numbers stay out of the JSON
        if isinstance(res.get(part), dict):
            res[part].pop("plot", None)
    (out / "fairness.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m evaluation fairness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = FairnessConfig()
    p.add_argument("--data", default=d.data, help="folder with lfw/ (default: ../shared/data)")
    p.add_argument("--extra", default=None, help="the extra folder (default: facedata.extra's)")
    p.add_argument("--out", default=d.out, help="where fairness.md/.json and the PNGs go")
    p.add_argument("--cache", default=d.cache, help="the verifier's embedding cache folder")
    p.add_argument("--sets", nargs="+", default=list(d.sets), help="identity sets (lfw first)")
    p.add_argument(
        "--utkface", type=int, default=None, help="at most N UTKFace crops (default all; 0: none)"
    )
    p.add_argument("--max-per-set", type=int, default=d.max_per_set)
    p.add_argument("--min-images", type=int, default=d.min_images, help="photos a person needs")
    p.add_argument("--fmr", type=float, default=d.fmr, help="the EDC threshold's FMR")
    p.add_argument("--bootstrap", type=int, default=d.bootstrap, help="resamples per interval")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--model", default=None, help="exported model; default: embedded")
    p.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="NAME=PATH",
        help="other exported models scored beside the default, as tinyfqnet@NAME",
    )
    a = p.parse_args(argv)
    from evaluation.verifier import missing

    if missing("python -m evaluation fairness"):
        return 2
    cfg = FairnessConfig(
        data=a.data,
        extra=a.extra,
        out=a.out,
        cache=a.cache,
        sets=tuple(a.sets),
        utkface=a.utkface,
        max_per_set=a.max_per_set,
        min_images=a.min_images,
        fmr=a.fmr,
        bootstrap=a.bootstrap,
        workers=a.workers,
        model=a.model,
        compare=tuple(a.compare),
    )
    run(cfg)
    print((Path(cfg.out) / "fairness.md").read_text())
    return 0
