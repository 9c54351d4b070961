"""Step 3: train tinyFQnet on the sampled labels (paper §3.2, Eq. 2).

L2 regression of the sigmoid output on the quality label, SGD with momentum, step learning
rate, weight decay; seeded. The training crops are made by the native scorer's own warp
(tinyfq_native.align) from the same landmarks, so training and scoring see
identical inputs. A validation split of whole identities measures the loss on unseen people.
Each run writes config.json, log.csv (loss per epoch), loss.png and checkpoint.pt (model
arguments + config + weights) to its own folder; export with training.export.

    python -m training.train --out training/runs/default
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from training.config import TrainConfig, config_command, to_dict
from training.losses import (
    ORIGINALS,
    degradation_pairs,
    draw_groups,
    pair_loss,
    person_offsets,
    person_originals,
    rank_loss,
    tone_curve,
)


def crop_routed(row: dict, share: float) -> bool:
    """Whether a row's network input is cut as a 112×112 crop first (then resized, as the
    scorer does with crops): always for crop-scale degradations, else for a fixed ``share`` of
    rows (by a hash of path and copy), so that the resize alone never marks a degraded copy."""
    from facedata.chains import split_chain

    if split_chain(row.get("degradation") or "")[1]:
        return True
    key = zlib.crc32(f"{row['relpath']}|{row['copy']}".encode()) / 2**32
    return key < share


def labelled_image(
    data_root: str, row: dict, extra_root: str | None = None, crop_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The image a label row was computed on and the five landmarks (5×2) to warp it with:
    the photo (degraded by the row's photo-scale steps) and its landmarks (jittered ones for a
    jitter copy); or, for a crop-routed row (:func:`crop_routed`), the 112×112 aligned crop
    after the crop-scale steps, with the ArcFace template as its landmarks."""
    import cv2

    from facedata.chains import degraded_crop
    from facedata.degrade import apply
    from facedata.extra import resolve
    from tinyfq_native.align import ARCFACE_112
    from training.sample import box_of, landmarks_of

    path = resolve(row["relpath"], data_root, extra_root)
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read {path}")
    spec = row["degradation"] or ""
    if crop_routed(row, crop_share):
        crop = degraded_crop(img, landmarks_of(row), spec, 112, box_of(row))
        return crop, np.array(ARCFACE_112, np.float32)
    if spec:
        img = apply(img, spec, box_of(row))
    return img, landmarks_of(row)


def make_crops(
    rows: list[dict],
    data_root: str,
    spec: dict,
    desc: str,
    extra_root: str | None = None,
    crop_share: float = 0.0,
) -> np.ndarray:
    """(N, 3, S, S) float32 network inputs, via the runtime's warp (tinyfq_native.align)."""
    from tqdm import tqdm

    from tinyfq_native.align import align

    inp = spec["input"]
    out = np.empty((len(rows), 3, inp["size"], inp["size"]), np.float32)
    for i, r in enumerate(tqdm(rows, desc=desc, unit="img", file=sys.stderr, mininterval=30)):
        img, lm = labelled_image(data_root, r, extra_root, crop_share)
        out[i] = align(
            img,
            lm,
            size=inp["size"],
            mean=inp["mean"],
            std=inp["std"],
            colour_order=inp["colour_order"],
        )
    return out


def predict(model, x, device: str, mirror: bool = False):
    """The model's scores on every input, in blocks of 2048, without gradients and in eval
    mode (the model goes back to training mode after); with ``mirror`` the mean of each input's
    score and its mirror image's."""
    import torch

    model.eval()
    with torch.no_grad():
        out = [torch.zeros(0)]
        for i in range(0, len(x), 2048):
            c = x[i : i + 2048].to(device)
            out.append((0.5 * (model(c) + model(c.flip(3))) if mirror else model(c)).cpu())
    model.train()
    return torch.cat(out)


def share_of_people(ids, share: float) -> set[str]:
    """The people ``--people-share`` keeps: those whose name's SHA-256, read as a fraction
    (its first 8 bytes over 2^64), is below ``share`` (CRC-32 is too regular for names that
    differ in a digit or two). A pure function of the names, so the same people at every seed, and
    nested: a smaller share keeps a subset of a larger one's people."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"--people-share {share}: a share of the training people, in (0, 1]")
    return {
        i
        for i in set(ids)
        if int.from_bytes(hashlib.sha256(i.encode()).digest()[:8], "big") / 2**64 < share
    }


def split_identities(ids: list[str], frac: float, seed: int) -> set[str]:
    rng = np.random.default_rng(seed)
    uniq = sorted(set(ids))
    n = max(1, int(round(len(uniq) * frac))) if frac > 0 else 0
    return set(rng.choice(uniq, n, replace=False)) if n else set()


def plot_loss(log: list[dict], path: Path) -> None:
    from facedata.plot import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ep = [r["epoch"] for r in log]
    ax.plot(ep, [r["train_loss"] for r in log], "o-", label="train (sampled)")
    ax.plot(ep, [r["val_loss"] for r in log], "s-", label="validation (held-out identities)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: TrainConfig) -> Path:
    import torch

    from training.export import load_checkpoint, preprocess_spec
    from training.model import ModelArgs, TinyFQNet
    from training.sample import labels_provenance, read_labels

    if cfg.tone_weight > 0 and not cfg.tone_gamma >= 1.0:
        raise ValueError(f"--tone-gamma {cfg.tone_gamma}: the range [1/g, g] needs g >= 1")
    if cfg.rank_rows not in ("originals", "all"):
        raise ValueError(f"--rank-rows {cfg.rank_rows!r}: 'originals' or 'all'")
    if cfg.keep_weight > 0 and not (cfg.init or cfg.keep_from):  # before minutes of cropping
        raise ValueError("--keep-weight holds the --init (or --keep-from) model's scores: give one")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2) + "\n")

    labels = read_labels(cfg.labels)
    if cfg.variants:  # an ablation: train (and validate) on some kinds of copy only
        keep = set(cfg.variants.split(","))
        labels = [r for r in labels if r.get("variant", "original") in keep]
    by_key = {(r["relpath"], r["copy"]): r for r in labels}
    with open(cfg.sample, newline="") as f:
        sampled = [
            by_key[k]
            for k in ((r["relpath"], int(r["copy"])) for r in csv.DictReader(f))
            if k in by_key
        ]
    val_ids = split_identities([r["identity"] for r in sampled], cfg.val_frac, cfg.seed)
    train_rows = [r for r in sampled if r["identity"] not in val_ids]
    # --people-share: fewer training people (a learning curve); the same ones in every role
    kept = share_of_people([r["identity"] for r in labels], cfg.people_share) - val_ids
    train_rows = [r for r in train_rows if r["identity"] in kept]
    # validation: every labelled image of the validation identities, natural distribution
    val_rows = [r for r in labels if r["identity"] in val_ids and r["split"] == "train"]

    args = ModelArgs(**cfg.model) if cfg.model else ModelArgs()
    start = load_checkpoint(Path(cfg.init))[0] if cfg.init else None
    if start is not None and not cfg.model:  # fine-tuning: the start's architecture
        args = start.args
    if start is not None and start.args.to_dict() != args.to_dict():
        raise ValueError(f"--init {cfg.init}: its model arguments differ from --model's")
    # the keep term's teacher: another model (any architecture, the same input), or the start
    teacher = load_checkpoint(Path(cfg.keep_from))[0] if cfg.keep_from else start
    if teacher is not None and teacher.args.input_size != args.input_size:
        raise ValueError(
            f"--keep-from {cfg.keep_from}: input {teacher.args.input_size}, not {args.input_size}"
        )
    spec = preprocess_spec(args.input_size)
    # every labelled row of the training people, sampled or not: the pairs' and groups' source
    train_all = [r for r in labels if r["identity"] in kept and r["split"] == "train"]
    pairs = degradation_pairs(train_all, cfg.pair_kinds) if cfg.pair_weight > 0 else []
    shift = person_offsets(train_all, cfg.person_centring)  # each person's label offset
    people = []
    if cfg.person_rank_weight > 0 or cfg.people_rank_weight > 0:  # each one's originals
        if not 2 <= cfg.person_group <= cfg.batch_size // 2:
            raise ValueError(
                f"--person-group {cfg.person_group}: from 2 (a pair) to half the batch size"
            )
        people = person_originals(train_all)
    # each distinct image is cropped once, however often the sampler repeats it
    uniq = sorted(
        {(r["relpath"], r["copy"]) for r in train_rows}
        | {k for p in pairs for k in p[:2]}
        | {k for keys in people for k in keys}
    )
    index = {k: i for i, k in enumerate(uniq)}
    crops = torch.from_numpy(
        make_crops([by_key[k] for k in uniq], cfg.data, spec, "crops", cfg.extra, cfg.crop_route)
    )
    uniq_y = torch.tensor(
        [
            float(np.clip(by_key[k]["label"] + shift.get(by_key[k]["identity"], 0.0), 0, 1))
            for k in uniq
        ]
    )
    train_idx = torch.tensor([index[(r["relpath"], r["copy"])] for r in train_rows])
    train_y = uniq_y[train_idx]
    pair_o = torch.tensor([index[p[0]] for p in pairs], dtype=torch.long)
    pair_c = torch.tensor([index[p[1]] for p in pairs], dtype=torch.long)
    pair_d = torch.tensor([p[2] for p in pairs])
    person_n = torch.tensor([len(keys) for keys in people], dtype=torch.long)
    person_t = torch.zeros(len(people), max(person_n.tolist(), default=0), dtype=torch.long)
    for i, keys in enumerate(people):
        person_t[i, : len(keys)] = torch.tensor([index[k] for k in keys])
    val_x = torch.from_numpy(
        make_crops(val_rows, cfg.data, spec, "val crops", cfg.extra, cfg.crop_route)
    )
    val_y = torch.tensor([float(np.clip(r["label"], 0, 1)) for r in val_rows])

    model = TinyFQNet(args)
    if start is not None:  # fine-tuning: its weights as the start
        model.load_state_dict(start.state_dict())
    model = model.to(device)
    # self-distillation: the starting model's (or --keep-from's) score, mean over a flip, on
    # every original
    is_orig = torch.tensor([by_key[k].get("variant", "original") in ORIGINALS for k in uniq])
    keep_t = torch.zeros(len(uniq))
    if cfg.keep_weight > 0:
        keep_t[is_orig] = predict(teacher.to(device), crops[is_orig], device, mirror=True)
    # the rank terms: (weight, which rows each orders among the batch's sampled rows)
    every = torch.ones(len(uniq), dtype=torch.bool)
    ranks = [
        (cfg.rank_weight, is_orig if cfg.rank_rows == "originals" else every),
        (cfg.rank_originals_weight, is_orig),
    ]
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    sched = torch.optim.lr_scheduler.StepLR(opt, cfg.lr_step, cfg.lr_gamma)
    gen = torch.Generator().manual_seed(cfg.seed)
    log: list[dict] = []

    def evaluate() -> float:
        if not len(val_x):
            return float("nan")
        return float(((predict(model, val_x, device) - val_y) ** 2).mean())

    from tqdm import tqdm

    t0 = time.time()
    if cfg.init:
        log.append(
            {
                "epoch": 0,
                "lr": 0.0,
                "train_loss": float("nan"),
                "val_loss": evaluate(),
                "seconds": 0,
            }
        )
        print(json.dumps(log[-1]), file=sys.stderr)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        perm = torch.randperm(len(train_idx), generator=gen)
        total, seen = 0.0, 0
        for s in tqdm(
            range(0, len(perm), cfg.batch_size),
            desc=f"epoch {epoch}/{cfg.epochs}",
            file=sys.stderr,
            leave=False,
            mininterval=30,
        ):
            b = perm[s : s + cfg.batch_size]
            idx = train_idx[b]
            if len(pairs):  # half a batch of pairs, each pair flipped alike
                p = torch.randint(len(pairs), (cfg.batch_size // 2,), generator=gen)
                idx = torch.cat([idx, pair_o[p], pair_c[p]])
            ng = 0
            if len(people):  # half a batch more: groups of one person's clean photos
                n = cfg.batch_size // 2 // cfg.person_group
                gi, gg = draw_groups(person_t, person_n, n, cfg.person_group, gen)
                ng = len(gi)
                idx = torch.cat([idx, gi])
            x = crops[idx]
            if cfg.flip:
                na = len(idx) - ng  # the batch and its pairs, as before the groups
                flip = torch.rand(len(b) + (na - len(b)) // 2, generator=gen) < 0.5
                flip = torch.cat([flip, flip[len(b) :]]) if len(pairs) else flip
                if ng:
                    flip = torch.cat([flip, torch.rand(ng, generator=gen) < 0.5])
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            # the tone term: the sampled originals again, under a mild tone curve, in the same
            # forward pass (BatchNorm sees one batch); their scores must stay the originals'
            tone = is_orig[idx[: len(b)]]
            nt = int(tone.sum()) if cfg.tone_weight > 0 else 0
            if nt:
                lg = float(np.log(cfg.tone_gamma))
                g = torch.exp((2 * torch.rand(nt, generator=gen) - 1) * lg)
                x = torch.cat([x, tone_curve(x[: len(b)][tone], g)])
            x, y = x.to(device), train_y[b].to(device)
            pred = model(x)
            if nt:
                s_tone, pred = pred[len(pred) - nt :], pred[: len(pred) - nt]
            loss = ((pred[: len(b)] - y) ** 2).mean()
            if ng:
                sg, yg = pred[len(pred) - ng :], uniq_y[gi].to(device)
                loss = loss + cfg.person_rank_weight * rank_loss(
                    sg, yg, cfg.rank_gap, gg.to(device)
                )
                if cfg.people_rank_weight > 0:  # the groups' means: people against each other
                    k = cfg.person_group
                    loss = loss + cfg.people_rank_weight * rank_loss(
                        sg.view(-1, k).mean(1), yg.view(-1, k).mean(1), cfg.rank_gap
                    )
                pred, idx = pred[: len(pred) - ng], idx[: len(idx) - ng]  # as without groups
            if len(pairs):
                so, sc = pred[len(b) :].chunk(2)
                loss = loss + cfg.pair_weight * pair_loss(
                    so, sc, pair_d[p].to(device), cfg.pair_margin
                )
            for w, rows in ranks:
                if w > 0:
                    o = rows[idx[: len(b)]].to(device)
                    loss = loss + w * rank_loss(pred[: len(b)][o], y[o], cfg.rank_gap)
            if nt:
                held = pred[: len(b)][tone.to(device)].detach()
                loss = loss + cfg.tone_weight * ((s_tone - held) ** 2).mean()
            if cfg.keep_weight > 0 and is_orig[idx].any():
                m = is_orig[idx].to(device)
                loss = loss + cfg.keep_weight * ((pred[m] - keep_t[idx].to(device)[m]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
            seen += len(b)
        lr = opt.param_groups[0]["lr"]
        sched.step()
        row = {
            "epoch": epoch,
            "lr": float(f"{lr:.6g}"),
            "train_loss": total / max(seen, 1),
            "val_loss": evaluate(),
            "seconds": round(time.time() - t0, 1),
        }
        log.append(row)
        print(json.dumps(row), file=sys.stderr)

    with (out / "log.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(log[0]))
        w.writeheader()
        w.writerows(log)
    plot_loss(log, out / "loss.png")
    prov = labels_provenance(cfg.labels)
    ckpt = {
        "model_args": args.to_dict(),
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "config": to_dict(cfg),
        "version": time.strftime("%Y.%m.%d"),
        "label_model": prov.get("label_model", "unknown"),
        "data": {
            "train_rows": len(train_rows),
            "train_people": len({r["identity"] for r in train_rows}),
            "pairs": len(pairs),
            "people": len(people),  # with >= 2 originals, drawn in groups (--person-rank-weight)
            "train_images": len(uniq),
            "val_rows": len(val_rows),
            "val_identities": len(val_ids),
            "labels": prov.get("config", {}),
        },
        "training": {
            "epochs": cfg.epochs,
            "final_train_loss": log[-1]["train_loss"],
            "final_val_loss": log[-1]["val_loss"],
            "seconds": log[-1]["seconds"],
            "device": device,
            "command": config_command("training.train", cfg),
        },
    }
    torch.save(ckpt, out / "checkpoint.pt")
    return out / "checkpoint.pt"


if __name__ == "__main__":
    from training.config import parse_config

    print(run(parse_config(TrainConfig)))
