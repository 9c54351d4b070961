"""Distillation from a quality teacher of our own (issue 25, item 5).

The teacher reads what the labelling model sees: a small MLP on the labeller's own raw
embedding of the 112×112 ArcFace crop, either its norm alone (``--inputs norm``, the default)
or its norm and unit direction (``--inputs embedding``, 513 inputs), fitted on a labels.csv's
labels (Eq. 1: cosine to the identity's leave-one-out centre). It is never told who a face is: on a
new face it predicts how far the labeller would put it from its person's centre. The raw norm
alone orders the labels of unseen people's originals at Spearman 0.655 and protocol 4's clean
crops at 0.308 against the verifier (the shipped tinyFQnet: 0.244); the students distilled
from it did worse than the shipped model (docs/eval/teacher/README.md).

    python -m training.teacher --out training/teacher/v5-norm --hidden 16 --epochs 20
    python -m training.train --labels training/teacher/v5-norm/labels.csv --sample ... --init ...
    python scripts/teacher_protocol4.py training/teacher/v5-norm/teacher.pt  # protocol 4's crops

Stages: every row's crop is embedded once into a resumable JSON-lines cache (raw float16
embedding, keyed by path and copy); the MLP is fitted on the training people's rows with the
student's validation people held out (training.train.split_identities over the sample, the
same fraction and seed, so the student's validation loss stays on people the teacher never
fitted); ``out`` gets ``labels.csv`` (the same rows, label = ``blend`` × teacher + (1 − blend) ×
label, the original label kept as ``label_eq1``), ``teacher.pt``, ``report.json`` (validation
MSE and Spearman of teacher and labels per variant) and ``teacher.png``.
"""

from __future__ import annotations

import base64
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from facedata.jsonl import fill_cache, read_jsonl
from training.config import TeacherConfig, config_command, parse_config, to_dict

_w: dict = {}
INPUTS = ("norm", "embedding")  # what the teacher reads of the raw embedding


def _init(labeller: str, data: str, extra: str) -> None:
    import cv2

    cv2.setNumThreads(1)
    from training.labeller import make_labeller

    _w.update(net=make_labeller(labeller, threads=1), data=data, extra=extra, path=None)


def key_of(row: dict) -> str:
    """A labels row's cache key: its path and copy."""
    return f"{row['relpath']}|{row['copy']}"


def raw_embedding(net, crop_bgr: np.ndarray) -> np.ndarray:
    """The labeller's embedding of one aligned 112×112 BGR crop before L2 normalisation."""
    return net.raw(net.from_crop(crop_bgr)[None])[0]


def _embed(row: dict) -> dict:
    import cv2

    from facedata.chains import degraded_crop
    from facedata.extra import resolve
    from training.sample import box_of, landmarks_of

    key = key_of(row)
    if _w["path"] != row["relpath"]:  # rows of one photo come together: read it once
        _w["img"] = cv2.imread(
            str(resolve(row["relpath"], _w["data"], _w["extra"])), cv2.IMREAD_COLOR
        )
        _w["path"] = row["relpath"]
    if _w["img"] is None:
        return {"key": key, "status": "unreadable"}
    crop = degraded_crop(_w["img"], landmarks_of(row), row["degradation"] or "", 112, box_of(row))
    e = raw_embedding(_w["net"], crop)
    emb = base64.b64encode(e.astype(np.float16).tobytes()).decode()
    return {"key": key, "status": "ok", "emb": emb}


def embed_rows(cfg: TeacherConfig, rows: list[dict]) -> dict[str, np.ndarray]:
    """key -> raw embedding of every row (computed where the cache lacks it)."""
    have = {r["key"]: r for r in read_jsonl(cfg.cache)}
    todo = sorted(
        (r for r in rows if key_of(r) not in have),
        key=lambda r: (r["relpath"], r["copy"]),
    )
    if todo and cfg.embed:
        fill_cache(
            cfg.cache,
            have,
            todo,
            _embed,
            _init,
            (cfg.labeller, cfg.data, cfg.extra),
            workers=cfg.workers,
            desc=f"teacher: {cfg.labeller} embeddings",
            unit="crop",
            mininterval=30,
        )
    return {
        k: np.frombuffer(base64.b64decode(r["emb"]), np.float16).astype(np.float32)
        for k, r in have.items()
        if r["status"] == "ok"
    }


def features(raw: np.ndarray, inputs: str = "embedding") -> np.ndarray:
    """The teacher's inputs from raw embeddings: (N, D + 1), the unit direction and
    log(norm) − 3 ("embedding"), or (N, 1), the log norm alone ("norm")."""
    n = np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-6)
    if inputs == "norm":
        return (np.log(n) - 3.0).astype(np.float32)
    if inputs not in INPUTS:
        raise ValueError(f"teacher inputs {inputs!r}: one of {', '.join(INPUTS)}")
    return np.concatenate([raw / n, np.log(n) - 3.0], axis=1).astype(np.float32)


def make_mlp(inputs: int, hidden: int):
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden // 4),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden // 4, 1),
    )


def fit(cfg: TeacherConfig, x: np.ndarray, y: np.ndarray, val: np.ndarray):
    """The MLP fitted by Adam on the rows not in ``val`` (a mask), sigmoid output, L2 on the
    labels clipped to [0, 1]; returns it and the per-epoch (train, validation) MSE."""
    import torch

    torch.manual_seed(cfg.seed)
    torch.set_flush_denormal(True)  # else the tiny weights weight decay leaves slow it ~10×
    try:
        return _fit(cfg, x, y, val)
    finally:
        torch.set_flush_denormal(False)  # torch's default: the process's other work unchanged


def _fit(cfg: TeacherConfig, x: np.ndarray, y: np.ndarray, val: np.ndarray):
    import torch
    from tqdm import tqdm

    xt, yt = torch.from_numpy(x), torch.from_numpy(np.clip(y, 0, 1).astype(np.float32))
    tr, va = torch.from_numpy(np.flatnonzero(~val)), torch.from_numpy(np.flatnonzero(val))
    net = make_mlp(x.shape[1], cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    gen = torch.Generator().manual_seed(cfg.seed)
    log = []
    for _ in tqdm(range(cfg.epochs), desc="teacher: fit", unit="epoch", file=sys.stderr):
        net.train()
        losses = []
        for b in tr[torch.randperm(len(tr), generator=gen)].split(cfg.batch_size):
            loss = ((torch.sigmoid(net(xt[b])[:, 0]) - yt[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        p = predict(net, x[va.numpy()]) if len(va) else np.zeros(0)
        log.append((float(np.mean(losses)), float(np.mean((p - yt[va].numpy()) ** 2))))
    return net, log


def predict(net, x: np.ndarray) -> np.ndarray:
    import torch

    net.eval()
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(x))[:, 0]).numpy()


def load_teacher(path: str | Path):
    """A saved teacher.pt as a function of raw embeddings (N, D) -> scores (N,)."""
    import torch

    ck = torch.load(path, weights_only=True)
    net = make_mlp(ck["state_dict"]["0.weight"].shape[1], ck["config"]["hidden"])
    net.load_state_dict(ck["state_dict"])
    return lambda raw: predict(net, features(raw, ck["inputs"]))


def validation_people(cfg: TeacherConfig) -> set[str]:
    """The student's validation identities (training.train's rule over the same sample)."""
    from training.train import split_identities

    with open(cfg.sample, newline="") as f:
        ids = [r["identity"] for r in csv.DictReader(f)]
    return split_identities(ids, cfg.val_frac, cfg.seed)


def report(rows: list[dict], y: np.ndarray, t: np.ndarray, val: np.ndarray) -> dict:
    """Validation-people agreement of the teacher with the labels, per variant group."""
    from scipy.stats import spearmanr

    from training.losses import ORIGINALS

    groups = {"all": np.ones(len(rows), bool)}
    groups["originals"] = np.array([r["variant"] in ORIGINALS for r in rows])
    groups["copies"] = ~groups["originals"]
    out = {}
    for g, m in groups.items():
        m = m & val
        if m.sum() > 2:
            yc = np.clip(y[m], 0, 1)
            out[g] = {
                "rows": int(m.sum()),
                "mse": round(float(np.mean((t[m] - yc) ** 2)), 5),
                "spearman": round(float(spearmanr(t[m], yc).statistic), 4),
            }
    return out


def plot(log: list[tuple[float, float]], y: np.ndarray, t: np.ndarray, val, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ep = np.arange(1, len(log) + 1)
    ax[0].plot(ep, [a for a, _ in log], label="training people")
    ax[0].plot(ep, [b for _, b in log], label="validation people")
    ax[0].set(xlabel="epoch", ylabel="MSE", title="teacher fit")
    ax[0].legend()
    ax[1].scatter(np.clip(y[val], 0, 1), t[val], s=2, alpha=0.3)
    ax[1].plot([0, 1], [0, 1], "k--", lw=0.8)
    ax[1].set(xlabel="label (Eq. 1)", ylabel="teacher", title="validation people")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: TeacherConfig) -> Path:
    import torch

    from training.sample import read_labels

    if cfg.inputs not in INPUTS:  # before minutes of embedding
        raise ValueError(f"--inputs {cfg.inputs!r}: one of {', '.join(INPUTS)}")
    if not 0.0 <= cfg.blend <= 1.0:
        raise ValueError(f"--blend {cfg.blend}: the teacher's share of the label, in [0, 1]")
    t0 = time.time()
    rows = [r for r in read_labels(cfg.labels) if r["split"] == "train"]
    emb = embed_rows(cfg, rows)
    listed = len(rows)  # less those whose photo is unreadable (or not embedded: --embed false)
    rows = [r for r in rows if key_of(r) in emb]
    if not rows:
        raise ValueError(f"{cfg.cache}: no embedded rows of {cfg.labels} (run with --embed true)")
    x = features(np.stack([emb[key_of(r)] for r in rows]), cfg.inputs)
    y = np.array([float(r["label"]) for r in rows], np.float32)
    vp = validation_people(cfg)
    val = np.array([r["identity"] in vp for r in rows])
    net, log = fit(cfg, x, y, val)
    t = predict(net, x)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"state_dict": net.state_dict(), "inputs": cfg.inputs, "config": to_dict(cfg)},
        out / "teacher.pt",
    )
    with (out / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        cols = [c for c in rows[0] if c != "label"]
        w.writerow(cols + ["label", "label_eq1"])
        for r, lab, tq in zip(rows, y, t):
            mixed = cfg.blend * float(tq) + (1 - cfg.blend) * float(lab)
            w.writerow([r[c] for c in cols] + [f"{mixed:.5f}", f"{lab:.5f}"])
    rep = {
        "what": "distilled labels: an MLP on the labelling model's embedding of the crop, "
        "fitted on Eq. 1 labels of the training people (validation people held out)",
        "labeller": cfg.labeller,
        "rows": len(rows),
        "rows_left_out": listed - len(rows),
        "validation_people": len(vp),
        "parameters": sum(p.numel() for p in net.parameters()),
        "validation": report(rows, y, t, val),
        "final_mse": {"train": round(log[-1][0], 5), "validation": round(log[-1][1], 5)},
        "config": to_dict(cfg) | {"data": "../shared/data", "extra": None, "cache": None},
        "command": config_command("training.teacher", cfg),
        "seconds": round(time.time() - t0, 1),
    }
    (out / "report.json").write_text(json.dumps(rep, indent=2) + "\n")
    plot(log, y, t, val, out / "teacher.png")
    print(json.dumps(rep["validation"]), file=sys.stderr)
    return out / "labels.csv"


if __name__ == "__main__":
    print(run(parse_config(TeacherConfig)))
