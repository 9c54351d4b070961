"""Quality teachers (training.teacher) on protocol 4's crops, beside the raw embedding norm.

Before distilling a teacher into tinyFQnet, this asks whether it is worth imitating on the
faces the student is judged on: protocol 4's aligned crops (evaluation/crops.py). Each crop and
its degraded copies are embedded by the labeller (cached in
``training/cache/teacher-p4-<labeller>.npz``) and every teacher is measured as the protocol
measures the quality models (evaluation.crop_scores). It joins training and evaluation, which
do not import each other, so it is a script.

    python scripts/teacher_protocol4.py training/teacher/v5-norm/teacher.pt ... --out FILE.json

``--label-forms`` adds the labeller's own verdict as a score (its Eq. 1 label, and the label in
SDD-FIQA's form), the ceiling a student of those labels could reach on these crops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evaluation.core import EvalConfig  # noqa: E402
from evaluation.crop_scores import measure, protocol4_reference  # noqa: E402
from evaluation.crops import make_crop, specs_of  # noqa: E402
from facedata.degrade import CROP_EVAL_KINDS  # noqa: E402


def embeddings(cfg, photos, labeller: str, cache: Path, down: int = 0) -> dict[str, np.ndarray]:
    """Raw labeller embeddings of every photo's clean crop and each kind's degraded copy; with
    ``down`` each crop is first resized to down × down pixels (area) and back (bilinear)."""
    import cv2

    from training.labeller import make_labeller
    from training.teacher import raw_embedding

    if cache.exists():
        return dict(np.load(cache))
    net = make_labeller(labeller)

    def crop(rel: str, lm: np.ndarray, spec: str) -> np.ndarray:
        c = make_crop(cfg.data, rel, lm, spec)
        if down:
            small = cv2.resize(c, (down, down), interpolation=cv2.INTER_AREA)
            c = cv2.resize(small, c.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        return c

    emb = {
        kind: np.stack(
            [raw_embedding(net, crop(r, lm, specs_of(r).get(kind, ""))) for _, r, lm in photos]
        )
        for kind in ("clean",) + tuple(CROP_EVAL_KINDS)
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **emb)
    return emb


def label_forms(emb: dict[str, np.ndarray], ids: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The labeller's own verdict on each crop and copy, in two forms of label: Eq. 1 (cosine
    to the centre of the person's *other* clean crops) and SDD-FIQA's (the Wasserstein distance
    between the crop's similarities to the person's other clean crops and to everyone else's).
    ``ids``: each photo's person; every person needs two photos or more."""
    unit = {k: e / np.linalg.norm(e, axis=1, keepdims=True) for k, e in emb.items()}
    clean = unit["clean"]
    q = np.linspace(0.005, 0.995, 100)
    out: dict[str, dict[str, np.ndarray]] = {"eq1": {}, "sdd": {}}
    for kind, u in unit.items():
        sim = u @ clean.T
        eq1, sdd = np.empty(len(u)), np.empty(len(u))
        for i in range(len(u)):
            same = ids == ids[i]
            same[i] = False  # not its own clean crop
            centre = clean[same].sum(0)
            eq1[i] = u[i] @ centre / np.linalg.norm(centre)
            g, n = sim[i, same], sim[i, ids != ids[i]]
            sdd[i] = float(np.mean(np.quantile(g, q) - np.quantile(n, q)))
        out["eq1"][kind], out["sdd"][kind] = eq1, sdd
    return out


def main(argv: list[str] | None = None) -> int:
    from training.teacher import load_teacher

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("teachers", nargs="*", help="teacher.pt files (python -m training.teacher)")
    p.add_argument("--labeller", default="w600k", help="w600k or mbf")
    p.add_argument("--cache", default=str(REPO / "training" / "cache"))
    p.add_argument("--down", type=int, default=0, help="crops resized to this size and back")
    p.add_argument(
        "--label-forms",
        action="store_true",
        help="also the labeller's Eq. 1 and SDD-FIQA-form labels, on the verified people's crops",
    )
    p.add_argument("--out", default=None, help="also write the results here (JSON)")
    a = p.parse_args(argv)
    cfg = EvalConfig()
    photos, verified, label = protocol4_reference(cfg)
    name = f"teacher-p4-{a.labeller}" + (f"-down{a.down}" if a.down else "") + ".npz"
    emb = embeddings(cfg, photos, a.labeller, Path(a.cache) / name, a.down)
    scores = {"norm": lambda raw: np.linalg.norm(raw, axis=1)}
    scores |= {str(t): load_teacher(t) for t in a.teachers}
    res = {}
    for name, score in scores.items():
        deg = {k: score(emb[k]) for k in CROP_EVAL_KINDS}
        res[name] = measure(score(emb["clean"]), deg, verified, label)
    if a.label_forms:
        ids = np.array([p[0] for p in photos])[verified]
        forms = label_forms({k: e[verified] for k, e in emb.items()}, ids)
        for form, by_kind in forms.items():
            deg = {k: by_kind[k] for k in CROP_EVAL_KINDS}
            res[f"label-{form}"] = measure(by_kind["clean"], deg, np.ones(len(ids), bool), label)
    out = {"labeller": a.labeller, "down": a.down or None, "photos": len(photos)}
    out["verified"] = int(verified.sum())
    text = json.dumps(out | {"results": res}, indent=2) + "\n"
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
