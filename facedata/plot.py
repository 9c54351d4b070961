"""The figures' one matplotlib set-up (headless Agg backend), for training, evaluation and the
benchmarks."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the Agg backend (PNG files, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def palette(n: int) -> list:
    """``n`` distinct colours for one figure's methods: matplotlib's ten-colour cycle repeats
    after ten, so two methods of a larger comparison would share a colour; tab20 (then a
    sampled hsv map) keeps every bar and curve its own."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        cmap = matplotlib.colormaps["tab20"]
        # the dark shade of each hue first, then the light ones
        return [cmap(2 * i if i < 10 else 2 * (i - 10) + 1) for i in range(n)]
    cmap = matplotlib.colormaps["hsv"]
    return [cmap(i / n) for i in range(n)]
