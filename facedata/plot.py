"""The figures' one matplotlib set-up (headless Agg backend), for training, evaluation and the
benchmarks."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the Agg backend (PNG files, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
