"""training.evaluate: the held-out correlations name the labeller of the labels they are
computed against, not the scored model's."""

import json
import shutil

import pytest


def test_heldout_names_the_labels_labeller(tmp_path, data_root):
    from training.config import DEFAULT_DATA, REPO
    from training.evaluate import run

    src = REPO / "training" / "labels"
    if not (src / "labels.csv").exists():
        pytest.skip("training/labels/labels.csv not present")
    labels = tmp_path / "labels" / "labels.csv"
    labels.parent.mkdir()
    shutil.copy(src / "labels.csv", labels)
    shutil.copy(src / "provenance.json", labels.with_name("provenance.json"))
    res = run(labels, data_root, tmp_path / "out", limit=40)
    want = json.loads((src / "provenance.json").read_text())["label_model"]
    assert res["label_model"] == want
    # the arguments of this run, not pytest's; the default data folder is left out
    data_flag = "" if data_root == DEFAULT_DATA else f"--data {data_root} "
    assert res["command"] == (
        f"python -m training.evaluate --labels {labels} {data_flag}--out {tmp_path / 'out'} "
        "--limit 40"
    )
    assert res["all"]["n"] == 40 and -1 <= res["all"]["spearman"] <= 1
    assert json.loads((tmp_path / "out" / "heldout.json").read_text())["label_model"] == want
    assert (tmp_path / "out" / "heldout.png").stat().st_size > 0

    labels.with_name("provenance.json").unlink()  # labels without a record: said so
    res = run(labels, data_root, tmp_path / "out2", limit=10)
    assert res["label_model"].startswith("unknown")
