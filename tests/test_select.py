"""Best-face selection: select_best, the streaming TrackSelector and `tinyfq select`."""

import numpy as np
import pytest

from tests.conftest import face_folder, read_csv
from tinyfq_native import TrackSelector, select_best
from tinyfq_native.cli import main
from tinyfq_native.images import read_image


@pytest.fixture(scope="module")
def frames(data_root):
    """Real aligned-ish faces plus degraded copies of them (blurred, darkened): a track."""
    import cv2

    files = sorted((data_root / "lfw" / "images" / "Tony_Blair").glob("*.jpg"))[:6]
    crops = [np.ascontiguousarray(read_image(str(f))[60:190, 60:190, ::-1]) for f in files]
    bad = [cv2.GaussianBlur(c, (0, 0), 8) for c in crops[:3]] + [
        np.clip(c * 0.15 + 0.5, 0, 255).astype(np.uint8) for c in crops[3:]
    ]
    return files, crops, bad


def test_select_best_orders_by_score(scorer, frames):
    _, crops, bad = frames
    items = bad + crops
    scores = scorer.score_batch(items)
    picks = select_best(items, k=4, scorer=scorer)
    assert [p.index for p in picks] == list(np.argsort(-scores, kind="stable")[:4])
    assert [p.score for p in picks] == sorted((float(s) for s in scores), reverse=True)[:4]
    assert select_best(items, k=100, scorer=scorer)[-1].score == pytest.approx(scores.min())
    with pytest.raises(ValueError, match="k must be"):
        select_best(items, k=0, scorer=scorer)
    with pytest.raises(ValueError, match="not a mix"):
        select_best([crops[0], "x.jpg"], scorer=scorer)
    assert select_best([], scorer=scorer) == []


def test_select_best_on_paths(scorer, frames):
    files, _, _ = frames
    picks = select_best(files, k=2, scorer=scorer)
    scores = scorer.score_files(files)
    assert picks[0].score == pytest.approx(scores.max()) and len(picks) == 2


def test_track_selector_keeps_the_k_best_per_track(scorer, frames):
    _, crops, bad = frames
    sel = TrackSelector(k=2, scorer=scorer)
    stream = [("a", f) for f in bad[:3] + crops[:3]] + [("b", f) for f in crops[3:] + bad[3:]]
    got = {"a": [], "b": []}
    for key, (track, f) in enumerate(stream):
        got[track].append((sel.add(track, f, key=key), key))
    for track in ("a", "b"):
        expect = sorted(got[track], key=lambda t: (-t[0], t[1]))[:2]
        assert [(p.score, p.index) for p in sel.best(track)] == expect
        assert len(sel.frames(track)) == 2
    assert set(sel.tracks()) == {"a", "b"}
    assert sel.finish("a") and sel.best("a") == [] and sel.tracks() == ["b"]
    # batch add agrees with one-by-one
    sel2 = TrackSelector(k=2, scorer=scorer, keep_frames=False)
    sel2.add_batch([t for t, _ in stream], [f for _, f in stream], keys=list(range(len(stream))))
    assert sel2.best("b") == sel.best("b")
    with pytest.raises(ValueError, match="keep_frames"):
        sel2.frames("b")
    # known scores (a detect-and-score pass) are kept without scoring again
    sel3 = TrackSelector(k=2, scorer=scorer, keep_frames=False)
    for key, (track, _) in enumerate(stream):
        sel3.add_scored(track, next(q for q, k in got[track] if k == key), key=key)
    assert sel3.best("b") == sel.best("b")
    with pytest.raises(ValueError, match="keeps frames"):
        TrackSelector(k=1, scorer=scorer).add_scored("a", 0.5)


def test_cli_select(tmp_path, data_root):
    root = tmp_path / "tracks"
    for person in ("Tony_Blair", "Hugo_Chavez"):
        face_folder(
            root / person, sorted((data_root / "lfw" / "images" / person).glob("*.jpg"))[:5]
        )
    (root / "Hugo_Chavez" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "sel.csv"
    rc = main(
        [
            "select",
            str(root),
            "-k",
            "2",
            "--detect",
            "-o",
            str(out),
            "--copy-to",
            str(tmp_path / "best"),
            "-q",
        ]
    )
    rows = read_csv(out)
    assert rc == 1  # the broken file
    ok = [r for r in rows if r["status"] == "ok"]
    assert [(r["track"], r["rank"]) for r in ok] == [
        ("Hugo_Chavez", "1"),
        ("Hugo_Chavez", "2"),
        ("Tony_Blair", "1"),
        ("Tony_Blair", "2"),
    ]
    for t in ("Hugo_Chavez", "Tony_Blair"):
        s = [float(r["score"]) for r in ok if r["track"] == t]
        assert s[0] >= s[1]
        assert len(list((tmp_path / "best" / t).iterdir())) == 2
    assert [r["path"].endswith("broken.jpg") for r in rows if r["status"] == "invalid"] == [True]
