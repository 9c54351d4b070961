"""`python -m evaluation`: the metrics, and the whole run on a tiny subset of held-out LFW."""

import json

import numpy as np
import pytest

from evaluation.baselines import jpeg_quality, pose_quality
from evaluation.core import EvalConfig, run
from evaluation.metrics import (
    balanced_accuracy,
    edc,
    pauc,
    spearman,
    spearman_between,
    spearman_within,
    tar_at_far,
)
from evaluation.protocols import BASE_METHODS


def test_tar_at_far():
    imp = np.linspace(0, 1, 1001)  # threshold at FAR 1e-2 is ~0.99
    gen = np.array([0.995, 0.98, 1.0, 0.5])
    assert tar_at_far(gen, imp, 1e-2) == pytest.approx(0.5)
    assert tar_at_far(gen, imp, 1e-1) == pytest.approx(0.75)


def test_spearman_within_and_between_split_the_order_of_photos_from_the_order_of_people():
    label = np.r_[np.arange(5.0), np.arange(5.0) + 10, [1.0, 2.0]]
    group = np.r_[[0] * 5, [1] * 5, [2] * 2]  # person 2 has too few photos to count
    # each person ordered perfectly, the people themselves in the wrong order
    score = np.r_[np.arange(5.0) + 10, np.arange(5.0), [2.0, 1.0]]
    assert spearman_within(score, label, group) == pytest.approx(1.0)
    assert spearman(score[:10], label[:10]) < 0  # across people it is mostly wrong
    reverse = np.r_[np.arange(5.0)[::-1], np.arange(5.0) + 10, [0.0, 0.0]]
    assert spearman_within(reverse, label, group) == pytest.approx(0.0)  # -1 and +1
    tied = np.r_[np.zeros(5), np.arange(5.0), [0.0, 0.0]]
    assert spearman_within(tied, label, group) == pytest.approx(0.5)  # tied: 0, not NaN
    assert np.isnan(spearman_within(score, label, group, min_size=6))
    # people ranked against each other by their means; person 2 (two photos) does not count,
    # which leaves two people: too few to rank
    assert np.isnan(spearman_between(score, label, group))
    three = np.r_[group[:10], [2, 2, 2]]
    lab3, sc3 = np.r_[label[:10], [20.0, 21, 22]], np.r_[score[:10], [30.0, 0, 0]]
    # mean labels 2, 12, 21 against mean scores 12, 2, 10: ranks (1, 2, 3) against (3, 1, 2)
    assert spearman_between(sc3, lab3, three, min_size=3) == pytest.approx(-0.5)
    assert spearman_between(lab3, lab3, three, min_size=3) == pytest.approx(1.0)


def test_balanced_accuracy_finds_the_best_threshold():
    assert balanced_accuracy(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert balanced_accuracy(np.array([0.9, 0.3]), np.array([0.1, 0.5])) == 0.75


def test_edc_discards_low_quality_and_ties_together():
    q = np.array([0.1, 0.1, 0.5, 0.9, 0.2])
    genuine = np.array([True, True, True, True, False])
    cmp_ = np.array([0.0, 1.0, 0.0, 1.0, 0.0])  # genuine pairs 0 and 2 are misses at thr 0.5
    f, v = edc(q, genuine, cmp_, 0.5)
    assert list(f) == [0.0, 0.5, 0.75]  # the two q=0.1 pairs go together
    assert list(v) == [0.5, 0.5, 0.0]
    assert pauc(f, v, 0.2) == pytest.approx(0.1)
    assert pauc(f, v, 1.0) == pytest.approx(0.5 * 0.5 + 0.25 * 0.5)


def test_perceptual_measures_respond_to_degradation():
    from facedata.degrade import apply

    rng = np.random.default_rng(0)
    img = (rng.random((96, 96, 3)) * 255).astype(np.uint8)
    box = (8.0, 8.0, 80.0, 80.0)
    assert jpeg_quality(apply(img, "jpeg:quality=5"), box) < jpeg_quality(img, box)
    frontal = [[30, 40], [60, 40], [45, 55], [33, 70], [57, 70]]
    turned = [[30, 40], [60, 40], [58, 55], [33, 70], [57, 70]]
    assert pose_quality(frontal) > pose_quality(turned)


def test_eval_runs_end_to_end_on_a_tiny_subset(tmp_path, data_root):
    pytest.importorskip("dlib")
    cfg = EvalConfig(
        data=str(data_root),
        out=str(tmp_path / "out"),
        cache=str(tmp_path / "c"),
        seeds=(0,),
        max_identities=5,
        max_pairs=30,
        workers=1,
        protocols=("templates", "edc", "natural"),  # crops: test_crops.py
    )
    res = run(cfg)
    summ = res["templates"]["summary"]
    assert set(summ) == set(res["methods"]) and set(BASE_METHODS) <= set(summ)
    for m in res["methods"]:
        for v in summ[m].values():
            assert 0.0 <= v["mean"] <= 1.0
    for cond in ("originals", "degraded"):
        r = res["edc"][cond]
        assert r["pairs"] > 0 and 0 < r["genuine"] < r["pairs"]
        assert all(0 <= m["pAUC@30%"] <= 0.3 for m in r["methods"].values())
    nat = res["natural"]["lfw"]
    assert nat["photos"] > 2 and -1 <= nat["spearman"]["tinyfqnet"] <= 1
    assert set(nat["spearman"]) == set(res["methods"]) - {"oracle"}
    assert set(nat["spearman_within"]) == set(nat["spearman"])
    assert set(nat["spearman_between"]) == set(nat["spearman"])
    for r in res["natural"].values():  # NaN exactly when no person has 5 labelled photos
        within = r["spearman_within"]["tinyfqnet"]
        assert (r["within_identities"] == 0) == np.isnan(within)
        assert np.isnan(within) or -1 <= within <= 1
    assert max(r["within_identities"] for r in res["natural"].values()) >= 1, res["natural"].keys()
    lm = nat["label_model_spearman"]  # the repository's labels hold LFW's held-out photos
    assert lm["photos"] > 2 and set(lm["methods"]) == set(lm["between"]) == set(nat["spearman"])
    assert all(-1 <= v <= 1 for v in lm["methods"].values())
    assert np.isnan(lm["value_between"]) or -1 <= lm["value_between"] <= 1
    out = tmp_path / "out"
    assert json.loads((out / "results.json").read_text())["identities"] == 5
    assert "| tinyfqnet |" in (out / "results.md").read_text()
    assert "Against the label model's own label" in (out / "results.md").read_text()
    assert (out / "edc.png").stat().st_size > 1000 and (out / "templates_tar.png").exists()
    assert (out / "natural_spearman.png").exists()


def test_peers_rank_a_blurred_face_below_the_original(data_root):
    """Each learned peer that can run here, on the crop our warp cuts: a heavily blurred copy
    of a real face scores lower than the face (checks their preprocessing is wired right)."""
    import cv2

    from evaluation.peers import available_peers, crop_112, load_peers
    from tinyfq_native import Scorer

    names = available_peers()
    if not names:
        pytest.skip("no peer model available")
    img = cv2.imread(str(data_root / "lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"))
    crop = crop_112(img, Scorer().detect(img)[0].landmarks)
    both = np.stack([crop, cv2.GaussianBlur(crop, (0, 0), 4)])
    for p in load_peers(names):
        q = p(both)
        assert q.shape == (2,) and np.all(np.isfinite(q)) and q[0] > q[1], p.name
        if hasattr(p, "close"):
            p.close()


def test_heldout_people_are_folds_6_to_10_and_never_training_people(data_root):
    from facedata.lfw import fold_identities, people_of_folds

    pairs = data_root / "lfw" / "pairs.txt"
    held, train = people_of_folds(pairs, heldout=True), people_of_folds(pairs, heldout=False)
    folds = fold_identities(pairs)
    assert held == sorted(held) and train == sorted(train)
    assert set(held) == set().union(*folds[5:]) and set(train) == set().union(*folds[:5])
    assert not set(held) & set(train) and len(held) > 1000 and len(train) > 1000


def test_compare_joins_models_into_an_output_ensemble(tmp_path, data_root):
    import subprocess
    import sys
    from pathlib import Path

    import cv2

    from evaluation.protocols import MeanScorer, compared_scorers
    from tinyfq_native import Scorer

    repo = Path(__file__).resolve().parents[2]
    run_ckpt = repo / "training" / "runs" / "v5-keep48-jg-pw8-s1" / "checkpoint.pt"
    subprocess.run(
        [sys.executable, "-m", "training.export", str(run_ckpt), "--out", str(tmp_path)],
        check=True,
        cwd=repo,
        capture_output=True,
    )
    default, other = repo / "cpp" / "models" / "default", tmp_path / "default"
    folder = data_root / "lfw" / "images" / "George_W_Bush"
    imgs = [cv2.imread(str(p)) for p in sorted(folder.iterdir())[:4]]
    a = Scorer(default).score_batch(imgs, workers=1)
    b = Scorer(other).score_batch(imgs, workers=1)
    assert np.abs(a - b).max() > 1e-3  # two different models
    cfg = EvalConfig(compare=(f"one={default}", f"both={default}+{other}"))
    sc = compared_scorers(cfg)
    assert not isinstance(sc["tinyfqnet@one"], MeanScorer)
    both = sc["tinyfqnet@both"]
    assert isinstance(both, MeanScorer) and both.info["version"].startswith("mean(")
    np.testing.assert_allclose(both.score_batch(imgs, workers=1), (a + b) / 2, rtol=1e-6)
    assert both.score(imgs[0]) == pytest.approx((a[0] + b[0]) / 2, rel=1e-6)
    # a part that does not exist is not an ensemble: the scorer names the missing file
    with pytest.raises(FileNotFoundError, match="nope"):
        compared_scorers(EvalConfig(compare=(f"bad={default}+{tmp_path / 'nope'}",)))
