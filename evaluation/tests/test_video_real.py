"""`python -m evaluation video-real` (protocol 6): the NUAA names, the pairs, each method's
frame; end to end on two NUAA people and two LivePortrait clips where the git mirrors are on
disk ($TINYFQ_MIRRORS, default /work/.mirror), skipped elsewhere."""

import json

import numpy as np
import pytest

from evaluation.video_real import choose, main, pairs
from evaluation.video_sequences import MIRRORS, have_mirrors, nuaa_groups


def test_nuaa_names_make_sequences_in_frame_order():
    paths = [
        "db/ClientRaw/0007/0007_01_00_02_101.jpg",
        "db/ClientRaw/0007/0007_01_00_02_12.jpg",
        "db/ClientRaw/0007/0007_00_00_01_4.jpg",
        "db/ClientRaw/0007/Thumbs.db",
    ]
    got = nuaa_groups(paths)
    assert list(got) == [("0007", "00", "00", "01"), ("0007", "01", "00", "02")]
    assert [n for n, _ in got["0007", "01", "00", "02"]] == [12, 101]  # not name order


def test_pairs_are_cross_session_or_cross_person():
    s = [
        {"person": "a", "label": "01"},
        {"person": "a", "label": "01"},  # same session, other glasses: neither
        {"person": "a", "label": "02"},
        {"person": "b", "label": "01"},
    ]
    gen, imp = pairs(s)
    assert gen == [(0, 2), (1, 2)]
    assert imp == [(0, 3), (1, 3), (2, 3)]


def test_choose_keeps_each_methods_frame():
    frames = [10, 12, 14, 16]
    scores = {"tinyfqnet": [0.1, 0.9, 0.9, 0.2], "peer": [0.5, 0.1, 0.1, 0.6]}
    got = choose(frames, scores, 10, 20, np.random.default_rng(0), 5)
    assert got["tinyfqnet"] == [12] and got["peer"] == [16]  # the earlier frame on a tie
    assert got["first"] == [10] and got["middle"] == [14]  # 14.5 is the session's middle
    assert len(got["random"]) == 5 and set(got["random"]) <= set(frames)


@pytest.mark.slow
@pytest.mark.skipif(not have_mirrors(MIRRORS), reason="no git mirrors of the NUAA/LivePortrait")
def test_video_real_end_to_end(tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    out = tmp_path / "eval"
    argv = ["--out", str(out), "--cache", str(tmp_path / "cache"), "--people", "0001", "0005"]
    argv += ["--clips", "d0", "d18", "--every-nuaa", "8", "--every-clip", "8"]
    assert main([*argv, "--random-draws", "2", "--peers", "lightqnet_x0.25"]) == 0
    res = json.loads((out / "results_video_real.json").read_text())
    nuaa, lp = res["results"]["nuaa"], res["results"]["liveportrait"]
    assert (nuaa["genuine_pairs"], nuaa["impostor_pairs"]) == (2, 4)  # 2 people, 2 sessions each
    assert (lp["genuine_pairs"], lp["impostor_pairs"]) == (2, 4)  # 2 clips, 2 halves each
    assert set(nuaa["methods"]) == {"tinyfqnet", *res["peers_run"], "first", "middle", "random"}
    assert res["same_frame_as_tinyfqnet"]["nuaa"]["tinyfqnet"] == 1.0
    assert (out / "results_video_real.md").read_text().startswith("## Protocol 6")
    assert (out / "video_real_tar.png").stat().st_size > 1000
    assert not list(tmp_path.glob("cache/video-real/nuaa/*/*.part"))
