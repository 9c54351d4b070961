"""The calibration table (tinyfq_native.calibration): interpolation, thresholds and the unified
0-100 quality on a table made up here, then the embedded model's own table as the API, ``tinyfq
info``, ``tinyfq score --max-fnmr/--min-quality`` and ``tinyfq select`` use it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import read_csv
from tinyfq_native import Scorer
from tinyfq_native.calibration import Calibration

CLI = [sys.executable, "-m", "tinyfq_native.cli"]


def made_up() -> Calibration:
    """Four bins; arcface at FMR 1e-3 falls 0.4 -> 0.01, with a violation the monotone column
    has pooled."""
    cols = {
        "fnmr": [[0.3, 0.1, 0.02, 0.0], [0.4, 0.1, 0.12, 0.01], [0.5, 0.3, 0.1, 0.05]],
        "monotone": [[0.3, 0.1, 0.02, 0.0], [0.4, 0.11, 0.11, 0.01], [0.5, 0.3, 0.1, 0.05]],
        "bootstrap": [[[0, 1]] * 4] * 3,
    }
    return Calibration(
        {
            "format": "tinyfq-calibration/1",
            "model_version": "x",
            "fmr": [1e-2, 1e-3, 1e-4],
            "unified": {"recogniser": "arcface", "fmr": 1e-3},
            "recognisers": {
                "arcface": {"name": "a", "fnmr": [0.1, 0.15, 0.2]},
                "dlib": {"name": "d", "fnmr": [0.2, 0.3, 0.4]},
            },
            "bins": {
                "lo": [0, 0.4, 0.6, 0.8],
                "hi": [0.4, 0.6, 0.8, 1],
                "score": [0.3, 0.5, 0.7, 0.9],
                "pairs": [10, 10, 10, 10],
                "arcface": cols,
                "dlib": cols,
            },
            "data": {"faces": 1, "people": 1, "set": "s", "genuine_pairs": 1, "impostor_pairs": 1},
            "pair_score": "the lower",
        }
    )


def test_expected_fnmr_interpolates_the_monotone_column():
    c = made_up()
    assert c.expected_fnmr(0.3) == pytest.approx(0.4)
    assert c.expected_fnmr(0.1) == pytest.approx(0.4)  # constant beyond the first bin
    assert c.expected_fnmr(0.99) == pytest.approx(0.01)
    assert c.expected_fnmr(0.4) == pytest.approx((0.4 + 0.11) / 2)
    assert c.expected_fnmr(0.6) == pytest.approx(0.11)  # the pooled bins
    assert c.expected_fnmr(0.5, fmr=1e-2) == pytest.approx(0.1)
    assert c.expected_fnmr(0.5, recogniser="dlib", fmr=1e-4) == pytest.approx(0.3)
    v = c.expected_fnmr(np.array([0.3, np.nan, 0.9]))
    assert v[0] == pytest.approx(0.4) and math.isnan(v[1]) and v[2] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="fmr must be one of"):
        c.expected_fnmr(0.5, fmr=0.05)
    with pytest.raises(ValueError, match="recogniser must be one of"):
        c.expected_fnmr(0.5, recogniser="facenet")


def test_the_unified_quality_is_monotone_and_in_range():
    c = made_up()
    s = np.linspace(0, 1, 1001)
    q = c.unified(s)
    assert np.all(np.diff(q) >= 0) and q.min() >= 0 and q.max() <= 100
    assert c.unified(0.9) == pytest.approx(99.0)


def test_thresholds_are_the_lowest_scores_that_reach_the_rate():
    c = made_up()
    t = c.threshold(0.05)
    assert c.expected_fnmr(t) == pytest.approx(0.05) and c.expected_fnmr(t - 0.01) > 0.05
    assert c.threshold(0.5) == 0.0
    assert c.threshold(0.001) is None
    assert c.quality_threshold(95) == pytest.approx(c.threshold(0.05))


def test_a_sidecar_without_a_table_has_no_calibration():
    assert Calibration.of({"version": "x"}) is None
    assert Calibration.of({"calibration": {"format": "other/9"}}) is None


# --- the embedded model's table ------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated(scorer):
    if scorer.calibration is None:
        pytest.skip("the embedded model has no calibration table (python -m evaluation.calibrate)")
    return scorer


def test_the_embedded_table_is_the_models_and_well_formed(calibrated):
    t = calibrated.calibration.table
    assert t["model_version"] == calibrated.info["version"]
    assert t["data"]["people"] > 100 and t["data"]["genuine_pairs"] > 1000
    bins = t["bins"]
    assert bins["lo"][1:] == bins["hi"][:-1] and bins["lo"][0] == 0 and bins["hi"][-1] == 1
    for key in t["recognisers"]:
        for j in range(len(t["fmr"])):
            lo = [ci[0] for ci in bins[key]["bootstrap"][j]]
            hi = [ci[1] for ci in bins[key]["bootstrap"][j]]
            assert all(a <= v <= b for a, v, b in zip(lo, bins[key]["fnmr"][j], hi))
            assert np.all(np.diff(bins[key]["monotone"][j]) <= 1e-12)
        # a stricter FMR never gives fewer false non-matches
        assert np.all(np.diff(np.array(bins[key]["fnmr"]), axis=0) >= 0)


def test_the_scorer_answers_from_its_table(calibrated):
    s = np.linspace(0, 1, 101)
    for fmr in (1e-2, 1e-3, 1e-4):
        f = calibrated.expected_fnmr(s, fmr=fmr)
        assert np.all(np.diff(f) <= 1e-12) and np.all((0 <= f) & (f <= 1))
    q = calibrated.unified_quality(s)
    assert np.all(np.diff(q) >= 0) and 0 <= q.min() <= q.max() <= 100
    assert isinstance(calibrated.expected_fnmr(0.5, recogniser="dlib"), float)


def test_a_model_without_a_table_says_so(tmp_path):
    from tests.conftest import REPO

    models = REPO / "cpp" / "models"
    meta = json.loads((models / "plain.json").read_text())
    meta.pop("calibration", None)
    for ext in ("ncnn.param", "ncnn.bin"):
        (tmp_path / f"m.{ext}").write_bytes((models / f"plain.{ext}").read_bytes())
    (tmp_path / "m.json").write_text(json.dumps(meta))
    s = Scorer(tmp_path / "m.json")
    with pytest.raises(ValueError, match="no calibration table"):
        s.expected_fnmr(0.5)


def test_info_prints_the_table(calibrated):
    out = subprocess.run([*CLI, "info"], capture_output=True, text=True, check=True).stdout
    assert "calibration (model " in out and "arcface @0.001" in out
    assert "unified quality 0-100" in out


def test_score_keeps_and_select_drops_by_the_table(calibrated, data_root, tmp_path):
    people = sorted((data_root / "lfw" / "images").glob("B*"))
    people = [p for p in people if len(list(p.iterdir())) >= 6][:2]
    assert len(people) == 2
    paths = [str(f) for p in people for f in sorted(p.glob("*.jpg"))[:6]]
    out = tmp_path / "rows.csv"
    subprocess.run(
        [*CLI, "score", *paths, "--detect", "--min-quality", "0", "-q", "-o", str(out)], check=True
    )
    rows = read_csv(out)
    scores = np.array([float(r["score"]) for r in rows])
    quality = np.array([float(r["quality"]) for r in rows])
    assert np.allclose(quality, calibrated.unified_quality(scores), atol=0.01)
    assert all(r["keep"] == "True" for r in rows)
    # a rate between the best and the worst face's: some kept, some not
    fnmr = calibrated.expected_fnmr(scores, fmr=1e-2, recogniser="dlib")
    if fnmr.min() == fnmr.max():
        pytest.skip("these faces all fall in one flat stretch of the table")
    cut = float((fnmr.min() + fnmr.max()) / 2)
    flags = ["--max-fnmr", str(cut), "--fmr", "1e-2", "--recogniser", "dlib", "-q"]
    subprocess.run([*CLI, "score", *paths, "--detect", *flags, "-o", str(out)], check=True)
    rows = read_csv(out)
    keep = {r["path"]: r["keep"] == "True" for r in rows}
    assert keep == {p: bool(f <= cut) for p, f in zip(paths, fnmr)}
    assert all(float(r["expected_fnmr"]) == pytest.approx(f, abs=1e-4) for r, f in zip(rows, fnmr))
    # select: the k best of those kept, per folder
    sel = tmp_path / "sel.csv"
    folder = tmp_path / "tracks"
    for p in people:
        (folder / p.name).mkdir(parents=True)
        for f in sorted(p.glob("*.jpg"))[:6]:
            (folder / p.name / f.name).symlink_to(f)
    subprocess.run(
        [*CLI, "select", str(folder), "-k", "6", "--detect", *flags, "-o", str(sel)], check=True
    )
    picked = [r for r in read_csv(sel) if r["rank"]]
    by_name = {p.split("/")[-1]: k for p, k in keep.items()}
    assert {r["path"].split("/")[-1] for r in picked} == {n for n, k in by_name.items() if k}
    dropped = [r for r in read_csv(sel) if r["message"].startswith("not kept")]
    assert len(dropped) == sum(not k for k in keep.values())
