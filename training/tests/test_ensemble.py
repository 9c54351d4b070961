"""The ensemble labeller averages two label files on the images they share."""

import csv
import json

import pytest

from training.ensemble import average

COLS = ["relpath", "copy", "identity", "variant", "label"]


def write(path, rows):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLS)
        w.writerows(rows)
    return path


def test_labels_are_averaged_where_both_files_have_the_image(tmp_path):
    a = write(
        tmp_path / "a.csv",
        [
            ["x.jpg", 0, "p", "original", 0.8],
            ["x.jpg", 1, "p", "chain", 0.4],
            ["x.jpg", 100, "p", "earlier-degraded", 0.3],  # only in the first: kept
        ],
    )
    b = write(
        tmp_path / "b.csv",
        [
            ["x.jpg", 0, "p", "original", 0.6],
            ["x.jpg", 1, "p", "chain", 0.1],
            ["y.jpg", 0, "q", "original", 0.9],
        ],
    )
    prov = average(a, b, tmp_path / "out")
    with (tmp_path / "out" / "labels.csv").open(newline="") as f:
        got = {(r["relpath"], r["copy"]): float(r["label"]) for r in csv.DictReader(f)}
    assert got == {("x.jpg", "0"): 0.7, ("x.jpg", "1"): 0.25, ("x.jpg", "100"): 0.3}
    assert prov["averaged"] == 2 and prov["kept_from_first"] == 1
    assert prov["command"] == f"python -m training.ensemble {a} {b} --out {tmp_path / 'out'}"
    assert json.loads((tmp_path / "out" / "provenance.json").read_text())["rows"] == 3


def test_files_with_no_image_in_common_are_refused(tmp_path):
    a = write(tmp_path / "a.csv", [["x.jpg", 0, "p", "original", 0.8]])
    b = write(tmp_path / "b.csv", [["y.jpg", 0, "q", "original", 0.9]])
    with pytest.raises(ValueError, match="share no"):
        average(a, b, tmp_path / "out")
