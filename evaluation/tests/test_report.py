"""evaluation.report and the figures' colours."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("n", [1, 7, 10, 11, 16, 20, 21, 30])
def test_palette_gives_every_method_its_own_colour(n):
    from facedata.plot import palette

    colours = palette(n)
    # matplotlib's default cycle repeats after ten: 16 methods drew two in one colour
    assert len(colours) == n and len(set(colours)) == n


def test_report_of_one_protocol_has_its_table_and_figure(tmp_path):
    from evaluation.report import markdown, plots

    summ = {
        m: {k: {"mean": v, "std": 0.01} for k in ("TAR@FAR=0.1", "accuracy")}
        for m, v in (("random", 0.5), ("tinyfqnet", 0.9))
    }
    r = {
        "methods": ["random", "tinyfqnet"],
        "config": {"seeds": [0, 1]},
        "templates": {"summary": summ, "per_seed": []},
    }
    md = markdown(r)  # a templates-only run (--protocols templates) once wrote an empty file
    assert "Protocol 1" in md and "mean ± std over 2 seeds" in md and "Protocol 2" not in md
    assert "| tinyfqnet | 90.00 ± 1.00 | 90.00 ± 1.00 |" in md
    plots(r, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["templates_tar.png"]
