"""Scorer.score_paths: the one engine under the CLI and the batch API."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import face_folder
from tinyfq_native import Result, Scorer, Status
from tinyfq_native.landmarks import as_landmarks, read_landmarks


@pytest.fixture(scope="module")
def mixed(data_root, tmp_path_factory):
    """600 inputs across three chunks: real photos, a junk file and a missing one, in a known
    order."""
    tmp = tmp_path_factory.mktemp("engine")
    photos = sorted((data_root / "lfw" / "images" / "George_W_Bush").glob("*.jpg"))[:300]
    folder = face_folder(tmp / "faces", photos, link=True)
    (tmp / "junk.jpg").write_bytes(b"not an image")
    files = [str(folder / p.name) for p in photos]
    paths = files[:200] + [str(tmp / "junk.jpg")] + files[200:] + [str(tmp / "gone.jpg")]
    return (paths + files[::-1])[:600]


def test_results_come_in_input_order_with_one_status_each(mixed):
    scorer = Scorer()
    results = list(scorer.score_paths(mixed, detect=True, workers=2))
    assert [r.path for r in results] == mixed
    by = {r.path: r for r in results}
    assert by[mixed[200]].status == Status.invalid and by[mixed[200]].score is None
    assert by[mixed[301]].status == Status.missing and "gone.jpg" in by[mixed[301]].message
    ok = [r for r in results if r.status == Status.ok]
    assert len(ok) == 598 and all(0 < r.score < 1 for r in ok)
    # the same scores as the array API on the decoded photos
    scores, _, kinds = scorer.score_files_detailed(mixed[:50], detect=True, workers=1)
    assert np.allclose([r.score for r in results[:50]], scores, atol=1e-6)


def test_landmarks_by_path_and_a_path_without_any(tmp_path, face_rows, data_root):
    rows = [r for r in face_rows if r["relpath"].startswith("lfw/")][:5]
    table = tmp_path / "lm.csv"
    table.write_text(
        "path,"
        + ",".join(f"c{i}" for i in range(10))
        + "\n"
        + "".join(
            f"{data_root / r['relpath']}," + ",".join(r["landmarks"].split()) + "\n" for r in rows
        )
    )
    lms = read_landmarks(table)
    paths = [str(data_root / r["relpath"]) for r in rows]
    extra = str(data_root / "lfw/images/George_W_Bush/George_W_Bush_0001.jpg")
    got = list(Scorer().score_paths(paths[:2] + [extra] + paths[2:], lms, workers=1))
    assert [r.status for r in got] == [Status.ok] * 2 + [Status.invalid] + [Status.ok] * 3
    assert "no landmarks" in got[2].message
    seq = list(Scorer().score_paths(paths, [as_landmarks(r["landmarks"]) for r in rows]))
    assert [r.score for r in seq] == [r.score for r in got if r.status == Status.ok]


def test_all_faces_gives_a_result_per_face(data_root):
    photo = str(data_root / "lfw/images/George_W_Bush/George_W_Bush_0001.jpg")
    faces = Scorer().detect(__import__("cv2").imread(photo))
    got = list(Scorer().score_paths([photo], detect=True, all_faces=True))
    assert len(got) == len(faces) >= 1 and [r.face for r in got] == list(range(len(faces)))
    assert all(isinstance(r, Result) and r.box is not None and 0 < r.confidence <= 1 for r in got)


def test_stopping_early_leaves_nothing_running(mixed):
    gen = Scorer().score_paths(mixed, detect=True, workers=2)
    first = [next(gen) for _ in range(10)]
    gen.close()  # what a KeyboardInterrupt in the consumer does
    assert [r.path for r in first] == mixed[:10]


def test_bad_arguments_are_refused_before_any_work():
    s = Scorer()
    with pytest.raises(TypeError, match="single path"):
        list(s.score_paths("a.jpg"))
    with pytest.raises(ValueError, match="workers"):
        list(s.score_paths(["a.jpg"], workers=0))
    with pytest.raises(ValueError, match="not both"):
        list(s.score_paths(["a.jpg"], np.zeros((1, 5, 2)), detect=True))
    with pytest.raises(ValueError, match="1 for 2"):
        list(s.score_paths(["a.jpg", "b.jpg"], np.zeros((1, 5, 2))))
    with pytest.raises(ValueError, match="ten coordinates"):
        as_landmarks("1 2 3")
