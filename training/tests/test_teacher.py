"""training.teacher: the quality teacher on the labeller's embedding, and the labels it writes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import read_csv
from training.config import REPO, TeacherConfig
from training.teacher import features, fit, predict, raw_embedding, run, validation_people

V5 = REPO / "training" / "labels" / "v5" / "labels.csv"


def test_features_are_the_unit_direction_and_the_log_norm():
    raw = np.array([[3.0, 4.0], [0.0, 0.5]], np.float32)
    f = features(raw)
    assert np.allclose(f[:, :2], [[0.6, 0.8], [0.0, 1.0]])
    assert np.allclose(f[:, 2], np.log([5.0, 0.5]) - 3.0)
    assert np.array_equal(features(raw, "norm"), f[:, 2:])
    with pytest.raises(ValueError, match="one of norm, embedding"):
        features(raw, "direction")


@pytest.mark.parametrize("change", [{"inputs": "direction"}, {"blend": 1.5}])
def test_a_wrong_option_is_refused_before_any_embedding(tmp_path, change):
    cfg = TeacherConfig(cache=str(tmp_path / "cache.jsonl"), out=str(tmp_path / "out"), **change)
    with pytest.raises(ValueError, match="--inputs|--blend"):
        run(cfg)
    assert not (tmp_path / "cache.jsonl").exists() and not (tmp_path / "out").exists()


def test_the_fit_learns_an_identity_free_signal_and_not_noise():
    """A label that depends on the embedding's norm is learnt on people it never saw; a
    label shuffled against the embeddings is not."""
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 1, (3000, 16)).astype(np.float32)
    raw *= rng.uniform(2, 40, (3000, 1)).astype(np.float32)
    x = features(raw)
    y = (1 / (1 + np.exp(-2 * (x[:, -1] - 0.5)))).astype(np.float32)  # of the norm only
    val = np.arange(3000) >= 2400
    cfg = TeacherConfig(epochs=30, hidden=32, lr=3e-3)
    net, log = fit(cfg, x, y, val)
    good = np.corrcoef(predict(net, x[val]), y[val])[0, 1]
    assert good > 0.95 and log[-1][1] < log[0][1]
    shuffled = rng.permutation(y)
    net, _ = fit(cfg, x, shuffled, val)
    assert abs(np.corrcoef(predict(net, x[val]), shuffled[val])[0, 1]) < 0.15


@pytest.mark.parametrize("name", ["mbf", "w600k"])
def test_raw_embedding_is_the_labellers_before_normalisation(name, data_root):
    """The teacher reads the very embedding the labeller normalises into a label."""
    import cv2

    from facedata.chains import degraded_crop
    from training.labeller import make_labeller
    from training.sample import box_of, landmarks_of

    with V5.open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["relpath"].startswith("lfw/"))
    img = cv2.imread(str(data_root / row["relpath"]), cv2.IMREAD_COLOR)
    crop = degraded_crop(img, landmarks_of(row), "crop/jpeg:quality=10", 112, box_of(row))
    net = make_labeller(name)
    raw = raw_embedding(net, crop)
    unit = net.embed(net.from_crop(crop)[None])[0]
    assert np.linalg.norm(raw) > 2.0  # not normalised already
    assert np.allclose(raw / np.linalg.norm(raw), unit, atol=1e-4)


def _tiny_labels(tmp_path: Path, data_root: Path, people: int = 4, per: int = 8) -> Path:
    """The v5 rows of the first ``people`` LFW identities with photos here (all their copies)."""
    rows, ids = [], []
    with V5.open(newline="") as f:
        reader = csv.DictReader(f)
        for r in reader:
            if not r["relpath"].startswith("lfw/") or not (data_root / r["relpath"]).exists():
                continue
            if r["identity"] not in ids:
                if len(ids) == people:
                    continue
                ids.append(r["identity"])
            if sum(x["identity"] == r["identity"] for x in rows) < per:
                rows.append(r)
        cols = reader.fieldnames
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
        # a row whose photo is not there: left out and counted, the others go on
        w.writerow(rows[0] | {"relpath": "lfw/images/Nobody/Nobody_0001.jpg"})
    return path


def test_run_writes_distilled_labels_for_the_same_rows_and_resumes(tmp_path, data_root):
    labels = _tiny_labels(tmp_path, data_root)
    cfg = TeacherConfig(
        labels=str(labels),
        sample=str(labels),
        data=str(data_root),
        cache=str(tmp_path / "cache.jsonl"),
        out=str(tmp_path / "out"),
        epochs=4,
        hidden=16,
        val_frac=0.25,
        workers=1,
        blend=0.5,
    )
    written = run(cfg)
    src, got = read_csv(labels)[:-1], read_csv(written)
    assert [(r["relpath"], r["copy"]) for r in got] == [(r["relpath"], r["copy"]) for r in src]
    assert [float(r["label_eq1"]) for r in got] == pytest.approx([float(r["label"]) for r in src])
    teacher = [2 * float(g["label"]) - float(g["label_eq1"]) for g in got]  # blend 0.5
    assert min(teacher) >= -1e-4 and max(teacher) <= 1 + 1e-4 and np.std(teacher) > 0
    cached = (tmp_path / "cache.jsonl").read_text().count("\n")
    assert cached == len(src) + 1  # the missing photo is cached as unreadable, not retried
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["rows"] == len(src) and rep["rows_left_out"] == 1
    assert rep["validation_people"] == 1
    (vp,) = validation_people(cfg)
    assert rep["validation"]["all"]["rows"] == sum(r["identity"] == vp for r in src) > 0
    assert (tmp_path / "out" / "teacher.png").stat().st_size > 1000
    # the saved teacher, loaded as protocol 4's check loads it, gives the scores written
    from training.teacher import embed_rows, key_of, load_teacher

    emb = embed_rows(cfg, src)
    raw = np.stack([emb[key_of(r)] for r in src])
    assert load_teacher(tmp_path / "out" / "teacher.pt")(raw) == pytest.approx(teacher, abs=2e-5)
    # a second run embeds nothing new, and with blend 0 the labels are the Eq. 1 labels
    cfg.blend, cfg.out = 0.0, str(tmp_path / "out0")
    got0 = read_csv(run(cfg))
    assert (tmp_path / "cache.jsonl").read_text().count("\n") == cached
    assert [r["label"] for r in got0] == [r["label_eq1"] for r in got0]
