"""training.sample: the smoothed label histogram and the per-source weights of a sample."""

import numpy as np
import pytest

from training.config import SampleConfig
from training.sample import sample


def test_smooth_sampling_flattens_the_histogram():
    rng = np.random.default_rng(0)
    labels = np.clip(rng.normal(0.7, 0.08, 5000), 0, 1)
    rows = [
        {
            "relpath": f"x{i}",
            "copy": 0,
            "identity": f"id{i % 50}",
            "split": "train",
            "label": float(v),
        }
        for i, v in enumerate(labels)
    ]
    smooth = sample(rows, SampleConfig(size=3000))
    rand = sample(rows, SampleConfig(size=3000, strategy="random"))
    s = np.array([r["label"] for r in smooth])
    r = np.array([r["label"] for r in rand])
    assert len(s) == len(r) == 3000
    # tails gain weight, the crowded middle loses it
    lo, hi = np.quantile(labels, [0.1, 0.95])
    assert (s <= lo).mean() > 1.5 * (r <= lo).mean()
    assert (s >= hi).mean() > 1.5 * (r >= hi).mean()
    assert np.histogram(s, 100, (0, 1))[0].max() < np.histogram(r, 100, (0, 1))[0].max()


def test_source_weight_repeats_one_sources_sampled_rows():
    rows = [
        {
            "relpath": f"{src}/images/p{i % 5}/{i}.jpg",
            "copy": 0,
            "identity": f"{src}/{i % 5}",
            "split": "train",
            "label": 0.3 + 0.6 * (i % 10) / 10,
        }
        for src in ("lfw", "pins")
        for i in range(40)
    ]
    plain = sample(rows, SampleConfig(strategy="random", size=60))
    lfw3 = sample(rows, SampleConfig(strategy="random", size=60, source_weight="lfw=3"))
    n_lfw = sum(r["relpath"].startswith("lfw/") for r in plain)
    assert 0 < n_lfw < 60
    assert sum(r["relpath"].startswith("lfw/") for r in lfw3) == 3 * n_lfw
    assert [r for r in lfw3 if r["relpath"].startswith("pins/")] == [
        r for r in plain if r["relpath"].startswith("pins/")
    ]
    for bad in ("lfw=0", "lfw=1.5", "=2", "lfw"):
        with pytest.raises(ValueError, match="SOURCE=N"):
            sample(rows, SampleConfig(source_weight=bad))
