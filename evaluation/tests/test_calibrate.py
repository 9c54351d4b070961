"""`python -m evaluation.calibrate`: its statistics on made-up numbers."""

import numpy as np
import pytest

from evaluation.calibrate import decreasing, equal_count_edges, table, threshold_at, wilson


def test_wilson_interval():
    lo, hi = wilson(np.array([0, 5, 50]), np.array([10, 10, 100]))
    # textbook values (z = 1.96): 0/10, 5/10 and 50/100
    assert lo == pytest.approx([0, 0.2366, 0.4038], abs=1e-3)
    assert hi == pytest.approx([0.2775, 0.7634, 0.5962], abs=1e-3)


def test_pool_adjacent_violators_gives_a_non_increasing_fit():
    y = np.array([0.5, 0.2, 0.3, 0.1, 0.15, 0.0])
    w = np.array([1, 1, 1, 1, 3, 1])
    f = decreasing(y, w)
    assert np.all(np.diff(f) <= 0)
    assert f[1] == f[2] == pytest.approx(0.25) and f[3] == f[4] == pytest.approx(0.1375)
    assert (f * w).sum() == pytest.approx((y * w).sum())  # pooling keeps the weighted mean
    assert np.array_equal(decreasing(np.array([3.0, 2, 1]), np.ones(3)), [3, 2, 1])


def test_threshold_and_bins():
    imp = np.arange(1000) / 1000
    assert threshold_at(imp, 1e-2) == pytest.approx(0.99)
    e = equal_count_edges(np.arange(100) / 100, 4)
    assert e[0] == 0 and e[-1] == 1 and e[2] == pytest.approx(0.495)


def test_table_counts_misses_per_bin_with_intervals():
    rng = np.random.default_rng(0)
    q = rng.uniform(size=4000)
    sim = q + rng.normal(0, 0.3, size=4000)  # better faces match more often
    person = rng.integers(0, 200, size=4000)
    t = table(q, sim, person, [0.2, 0.5], np.array([0, 0.25, 0.5, 0.75, 1]), 200, 0)
    assert t["pairs"].sum() == 4000
    for j, thr in enumerate((0.2, 0.5)):
        fnmr = t["fnmr"][j]
        assert np.all(np.diff(fnmr) < 0)  # falls with the score
        assert np.all(t["bootstrap"][j][:, 0] <= fnmr) and np.all(fnmr <= t["bootstrap"][j][:, 1])
        assert np.all(t["wilson"][j][:, 0] <= fnmr) and np.all(fnmr <= t["wilson"][j][:, 1])
        assert t["misses"][j].sum() == (sim <= thr).sum()
    assert np.all(t["fnmr"][1] >= t["fnmr"][0])  # a higher threshold misses more


def test_the_shipped_table_is_what_a_plain_rerun_makes():
    """The embedded model's table was measured with evaluation.calibrate's defaults, so
    `python -m evaluation.calibrate` reproduces it: the unified quality's recogniser and FMR
    and the FMRs agree (a rerun with another default once turned every score into quality 90+)."""
    from evaluation.calibrate import FMRS, Config
    from tinyfq_native import Scorer

    table = Scorer().calibration.table
    assert table["unified"]["recogniser"] == Config().unified
    assert table["unified"]["fmr"] == pytest.approx(1e-3)
    assert table["fmr"] == pytest.approx(list(FMRS))
    assert table["model_version"] == Scorer().info["version"]
