"""`python -m evaluation fairness`: the group binning, the photo selection, the isotonic fit and
the residual test on synthetic numbers; the command on a few held-out LFW people (and, where
they are extracted, on a little of UTKFace and one extra set)."""

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.fairness_report import verdict
from evaluation.fairness_stats import (
    age_group,
    bootstrap_mean,
    gender_name,
    isotonic,
    race_name,
    residual_test,
    select_photos,
)

REPO = Path(__file__).resolve().parent.parent.parent


def test_age_groups_have_the_issues_edges():
    cases = {0: "0-12", 12: "0-12", 13: "13-19", 19: "13-19", 20: "20-39", 39: "20-39"}
    cases |= {40: "40-59", 59: "40-59", 60: "60+", 116: "60+"}
    for age, group in cases.items():
        assert age_group(age) == group, age
    with pytest.raises(ValueError):
        age_group(-1)


def test_race_and_gender_from_codes_or_names():
    assert [race_name(i) for i in range(5)] == ["White", "Black", "Asian", "Indian", "Others"]
    assert race_name("other") == "Others" and race_name("Black") == "Black"
    assert race_name(5) is None and race_name("martian") is None and race_name(None) is None
    assert gender_name(1) == "female" and gender_name("male") == "male"
    assert gender_name(2) is None and gender_name(True) is None


def test_select_photos_spreads_the_budget_over_people():
    people = {f"p{i}": [f"p{i}/{j:03d}.jpg" for j in range(100)] for i in range(4)}
    people["few"] = ["few/a.jpg", "few/b.jpg"]  # under min_images: never taken
    sel = select_photos(people, budget=40, min_images=4)
    assert set(sel) == {"p0", "p1", "p2", "p3"}
    assert all(len(v) == 10 for v in sel.values())
    assert sel["p0"][0] == "p0/000.jpg" and sel["p0"][-1] == "p0/099.jpg"  # evenly spaced
    many = {f"q{i}": [f"q{i}/{j}.jpg" for j in range(6)] for i in range(50)}
    sel = select_photos(many, budget=40, min_images=4)
    assert len(sel) == 10 and all(len(v) == 4 for v in sel.values())
    assert sel == select_photos(dict(reversed(many.items())), budget=40, min_images=4)


def test_isotonic_pools_adjacent_violators():
    f = isotonic(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0]))
    assert np.allclose(f(np.array([1.0, 2.0, 3.0, 4.0])), [1.0, 2.5, 2.5, 4.0])
    assert f(np.array([0.0]))[0] == 1.0 and f(np.array([9.0]))[0] == 4.0  # flat beyond
    rng = np.random.default_rng(1)
    x = rng.random(500)
    y = np.sin(3 * x) + rng.normal(0, 0.3, 500)
    g = isotonic(x, y)
    assert np.all(np.diff(g(np.sort(x))) >= -1e-12)
    assert g(x).mean() == pytest.approx(y.mean())  # the least-squares fit keeps the mean


def _synthetic(shift: dict[str, float], label_mean: dict[str, float], seed: int = 0):
    """Per group 40 people with 8 photos; score a monotone function of the label plus noise,
    plus the group's shift."""
    rng = np.random.default_rng(seed)
    score, label, group, people = [], [], [], []
    for g in shift:
        for p in range(40):
            lab = np.clip(label_mean[g] + rng.normal(0, 0.1) + rng.normal(0, 0.08, 8), 0, 1)
            score += list(0.2 + 0.6 * lab**2 + shift[g] + rng.normal(0, 0.03, 8))
            label += list(lab)
            group += [g] * 8
            people += [f"{g}/{p}"] * 8
    return np.array(score), np.array(label), np.array(group), np.array(people)


def test_residual_test_flags_only_the_group_scored_low():
    shift = {"fair": 0.0, "fair_low_labels": 0.0, "shifted": -0.04}
    means = {"fair": 0.7, "fair_low_labels": 0.5, "shifted": 0.7}
    r = residual_test(*_synthetic(shift, means), n_boot=500)
    g = r["groups"]
    assert g["shifted"]["flagged"] and g["shifted"]["ci"][1] < 0
    assert g["shifted"]["reverse_agrees"] and verdict(g["shifted"]) == "**flagged, both fits**"
    assert not g["fair"]["flagged"] and not g["fair_low_labels"]["flagged"]
    assert g["fair"]["ci"][0] < g["fair"]["residual"] < g["fair"]["ci"][1]
    assert g["shifted"]["people"] == 40 and g["shifted"]["photos"] == 320
    assert r["photos"] == 960 and len(r["curve"]["label"]) == len(r["curve"]["score"])
    # without the shift nobody is flagged
    r0 = residual_test(*_synthetic(dict.fromkeys(shift, 0.0), means, seed=3), n_boot=500)
    assert not any(v["flagged"] for v in r0["groups"].values())


def test_a_fair_group_with_low_labels_is_flagged_one_way_only():
    """Score and label both measure a true recognisability with noise; the low group is scored
    fairly. The forward fit flags it anyway (regression to the mean); the reverse fit does
    not agree, so the verdict does not call it unfair."""
    rng = np.random.default_rng(0)
    score, label, group, people = [], [], [], []
    for g, mu in (("high", 0.8), ("low", 0.6)):
        for p in range(60):
            t = np.clip(mu + rng.normal(0, 0.05) + rng.normal(0, 0.08, 8), 0, 1)
            label += list(t + rng.normal(0, 0.1, 8))
            score += list(0.2 + 0.6 * t + rng.normal(0, 0.05, 8))
            group += [g] * 8
            people += [f"{g}/{p}"] * 8
    args = (np.array(score), np.array(label), np.array(group), np.array(people))
    low = residual_test(*args, n_boot=500)["groups"]["low"]
    assert low["flagged"] and not low["reverse_agrees"]
    assert verdict(low) == "flagged, forward fit only"


def test_bootstrap_resamples_people_not_photos():
    rng = np.random.default_rng(0)
    per_person = np.repeat(rng.normal(0, 1, 20), 10)  # all variation between people
    people = np.repeat(np.arange(20), 10)
    m, lo, hi = bootstrap_mean(per_person, people, 1000, rng)
    _, lo1, hi1 = bootstrap_mean(per_person, np.arange(200), 1000, rng)  # photos independent
    assert lo < m < hi and m == pytest.approx(per_person.mean())
    assert hi - lo > 2 * (hi1 - lo1)  # clustered photos carry less evidence


def _run(tmp_path, data_root, *args):
    from evaluation.fairness import main

    out = tmp_path / "out"
    argv = ["--data", str(data_root), "--out", str(out), "--cache", str(tmp_path / "c")]
    argv += ["--workers", "1", "--bootstrap", "100", *args]
    assert main(argv) == 0
    return out, json.loads((out / "fairness.json").read_text())


def test_fairness_command_on_a_few_lfw_people(tmp_path, data_root):
    pytest.importorskip("dlib")
    same = "same=" + str(REPO / "cpp" / "models" / "default")
    out, res = _run(
        tmp_path,
        data_root,
        "--sets",
        "lfw",
        "--max-per-set",
        "24",
        "--utkface",
        "0",
        "--compare",
        same,
    )
    assert "utkface" not in res and set(res["models"]) == {"tinyfqnet", "tinyfqnet@same"}
    lfw = res["sets"]["groups"]["lfw"]
    assert 4 <= lfw["people"] and lfw["photos"] <= 28 and lfw["labelled"] > 10
    m = lfw["models"]["tinyfqnet"]
    assert -1 <= m["spearman"] <= 1 and m["spearman_ci"][0] <= m["spearman_ci"][1]
    assert 0 < m["scores"]["median"] < 1 and set(m["scores"]["below"]) == set(
        res["thresholds"]["tinyfqnet"]
    )
    fnmr = m["edc"]["fnmr_at_discard"]
    assert set(fnmr) == {"0", "0.1", "0.2", "0.3", "0.4"} and all(
        0 <= v <= 1 for v in fnmr.values()
    )
    assert fnmr["0"] == pytest.approx(lfw["fnmr"])
    # the compared model is the embedded one: the same numbers
    assert lfw["models"]["tinyfqnet@same"]["scores"] == m["scores"]
    rt = res["sets"]["residual"]
    assert rt["tinyfqnet"]["groups"]["lfw"] == rt["tinyfqnet@same"]["groups"]["lfw"]
    md = (out / "fairness.md").read_text()
    assert "| lfw |" in md and "Residual test" in md and "tinyfqnet@same" in md
    for png in ("sets_scores.png", "edc_by_set.png", "residuals.png"):
        assert (out / png).stat().st_size > 5000, png
    assert not (out / "utkface_scores.png").exists()


def test_fairness_command_on_utkface_and_an_extra_set(tmp_path, data_root):
    pytest.importorskip("dlib")
    extra = pytest.importorskip("facedata.extra")
    if not hasattr(extra, "utkface_faces") or not hasattr(extra, "identities"):
        pytest.skip("facedata.extra has no utkface_faces/identities")
    if not extra.utkface_faces() or not extra.identities("casia5"):
        pytest.skip(f"UTKFace or casia5 not extracted under {extra.default_root()}")
    out, res = _run(
        tmp_path, data_root, "--sets", "lfw", "casia5", "--max-per-set", "16", "--utkface", "150"
    )
    u = res["utkface"]
    assert 140 <= u["crops"] <= 160
    assert sum(r["crops"] for r in u["groups"]["race"].values()) == u["crops"]
    assert sum(r["crops"] for r in u["groups"]["age"].values()) == u["crops"]
    assert set(u["groups"]["age"]) <= {"0-12", "13-19", "20-39", "40-59", "60+"}
    white = u["groups"]["race"]["White"]
    assert 0 < white["detect"]["tinyfqnet"]["median"] < 1 and white["crop"]["n"] > 0
    assert set(res["sets"]["groups"]) == {"lfw", "casia5"}
    assert set(res["sets"]["residual"]["tinyfqnet"]["groups"]) == {"lfw", "casia5"}
    assert (out / "utkface_scores.png").stat().st_size > 5000
    assert "## 1. UTKFace" in (out / "fairness.md").read_text()
