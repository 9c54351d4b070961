"""`python -m evaluation`: the metrics, and the whole run on a tiny subset of held-out LFW."""
import json

import numpy as np
import pytest

from evaluation.core import (METHODS, EvalConfig, balanced_accuracy, edc, jpeg_quality,
                                    pauc, pose_quality, run, tar_at_far)


def test_tar_at_far():
    imp = np.linspace(0, 1, 1001)                 # threshold at FAR 1e-2 is ~0.99
    gen = np.array([0.995, 0.98, 1.0, 0.5])
    assert tar_at_far(gen, imp, 1e-2) == pytest.approx(0.5)
    assert tar_at_far(gen, imp, 1e-1) == pytest.approx(0.75)


def test_balanced_accuracy_finds_the_best_threshold():
    assert balanced_accuracy(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert balanced_accuracy(np.array([0.9, 0.3]), np.array([0.1, 0.5])) == 0.75


def test_edc_discards_low_quality_and_ties_together():
    q = np.array([0.1, 0.1, 0.5, 0.9, 0.2])
    genuine = np.array([True, True, True, True, False])
    cmp_ = np.array([0.0, 1.0, 0.0, 1.0, 0.0])   # genuine pairs 0 and 2 are misses at thr 0.5
    f, v = edc(q, genuine, cmp_, 0.5)
    assert list(f) == [0.0, 0.5, 0.75]           # the two q=0.1 pairs go together
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
    cfg = EvalConfig(data=str(data_root), out=str(tmp_path / "out"), cache=str(tmp_path / "c"),
                     seeds=(0,), max_identities=5, max_pairs=30, workers=1)
    res = run(cfg)
    summ = res["templates"]["summary"]
    assert set(summ) == set(METHODS)
    for m in METHODS:
        for v in summ[m].values():
            assert 0.0 <= v["mean"] <= 1.0
    for cond in ("originals", "degraded"):
        r = res["edc"][cond]
        assert r["pairs"] > 0 and 0 < r["genuine"] < r["pairs"]
        assert all(0 <= m["pAUC@30%"] <= 0.3 for m in r["methods"].values())
    out = tmp_path / "out"
    assert json.loads((out / "results.json").read_text())["identities"] == 5
    assert "| tinyfqnet |" in (out / "results.md").read_text()
    assert (out / "edc.png").stat().st_size > 1000 and (out / "templates_tar.png").exists()
