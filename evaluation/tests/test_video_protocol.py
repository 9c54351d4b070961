"""`python -m evaluation video` (protocol 5) on three held-out LFW people, one seed."""

import json

import pytest

from evaluation.video import METHODS, choose, main


def test_choose_picks_each_methods_frame():
    import numpy as np

    faces = {2: (0.4, ()), 3: (0.9, ()), 7: (0.9, ()), 9: (0.1, ())}
    got = choose(faces, 12, np.random.default_rng(0))
    assert got["tinyfqnet"] == 3  # the best score; the earlier frame on a tie
    assert got["first"] == 2 and got["middle"] == 7 and got["random"] in faces


def test_video_protocol_end_to_end(data_root, tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    out = tmp_path / "eval"
    argv = ["--data", str(data_root), "--out", str(out), "--max-identities", "3", "--seeds", "0"]
    assert main([*argv, "--workers", "1"]) == 0
    res = json.loads((out / "results_video.json").read_text())
    (seed,) = res["per_seed"]
    assert seed["people"] == 3 and seed["impostor_pairs"] == 6
    assert set(res["summary"]) == set(METHODS)
    assert seed["same_frame_as_tinyfqnet"]["tinyfqnet"] == 1.0
    for m in METHODS:
        assert 0 <= res["summary"][m]["accuracy"]["mean"] <= 1
    assert (out / "results_video.md").read_text().startswith("## Protocol 5")
    assert (out / "video_tar.png").stat().st_size > 1000
