"""The Python API of the native scorer."""

import json
import threading

import numpy as np
import pytest

from tests.conftest import REPO, random_image, read_csv
from tinyfq_native import Scorer, Status, default_model_info
from tinyfq_native.images import jpeg_decoder, read_image
from tinyfq_native.landmarks import as_landmarks


def _faces(data_root, n=6):
    files = sorted((data_root / "lfw" / "images" / "George_W_Bush").glob("*.jpg"))[:n]
    return files, [read_image(str(f))[:, :, ::-1].copy() for f in files]


def test_default_model_metadata_comes_from_the_sidecar(scorer):
    info = default_model_info()
    assert scorer.info == info
    assert info["input"]["size"] == scorer.input_size == 64
    assert len(info["alignment"]["template"]) == 5
    assert "version" in info


def test_scores_are_in_unit_interval_and_vary(scorer, data_root):
    _, imgs = _faces(data_root)
    scores = [scorer.score(im) for im in imgs]
    assert all(0.0 < s < 1.0 for s in scores)
    assert len(set(np.round(scores, 6))) > 1


def test_batch_equals_serial_and_preserves_order(scorer):
    rng = np.random.default_rng(0)
    imgs = [random_image(rng, 50 + i, 70 + 2 * i) // (1 + i % 4) for i in range(40)]
    serial = np.array([scorer.score(im) for im in imgs], np.float32)
    for workers in (1, 2, 5, -1):
        batch = scorer.score_batch(imgs, workers=workers)
        assert batch.dtype == np.float32 and batch.shape == (40,)
        assert np.array_equal(batch, serial)


def test_many_threads_one_scorer(scorer):
    rng = np.random.default_rng(1)
    imgs = [random_image(rng, 64, 64) // (1 + i % 5) for i in range(30)]
    expect = [scorer.score(im) for im in imgs]
    errors, results = [], {}

    def work(t):
        try:
            results[t] = [scorer.score(imgs[(i + t) % 30]) for i in range(60)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for t, got in results.items():
        assert got == [expect[(i + t) % 30] for i in range(60)]


def test_strided_views_are_scored_in_place(scorer):
    rng = np.random.default_rng(2)
    big = random_image(rng, 200, 300)
    view = big[10:122, 40:152]
    assert scorer.score(view) == scorer.score(np.ascontiguousarray(view))
    rgb = np.ascontiguousarray(view[:, :, ::-1])
    assert scorer.score(rgb, format="rgb") == scorer.score(view)
    bgra = np.concatenate([view, np.full(view.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert scorer.score(bgra) == scorer.score(view)


def test_landmark_scoring_uses_the_warp(scorer, data_root, face_rows):
    row = next(r for r in face_rows if r["relpath"].startswith("lfw/"))
    img = read_image(str(data_root / row["relpath"]))[:, :, ::-1].copy()
    lm = as_landmarks(row["landmarks"])
    q = scorer.score(img, lm)
    assert q == pytest.approx(scorer.score_tensor(scorer.preprocess(img, lm)), abs=1e-7)
    assert np.array_equal(scorer.score_batch([img, img], [lm, lm]), np.float32([q, q]))
    assert np.array_equal(scorer.score_batch([img], lm[None]), np.float32([q]))


@pytest.mark.parametrize(
    "bad,msg",
    [
        (np.zeros((64, 64, 3), np.float64), "uint8"),
        (np.zeros((64, 64, 5), np.uint8), r"\(64, 64, 5\)"),
        (np.zeros((64,), np.uint8), r"\(64,\)"),
    ],
)
def test_invalid_images(scorer, bad, msg):
    with pytest.raises(ValueError, match=msg):
        scorer.score(bad)
    with pytest.raises(ValueError, match=msg):
        scorer.score_batch([np.zeros((8, 8, 3), np.uint8), bad])


def test_invalid_arguments(scorer):
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="not a numpy array"):
        scorer.score_batch([img, "face.jpg"])
    with pytest.raises(ValueError, match="landmark sets"):
        scorer.score_batch([img, img], [np.zeros((5, 2))])
    with pytest.raises(ValueError, match="workers"):
        scorer.score_batch([img], workers=0)
    with pytest.raises(ValueError, match="pixel format"):
        scorer.score(img, format="yuv")


def test_score_files(scorer, data_root, tmp_path):
    files, imgs = _faces(data_root, 4)
    assert not scorer.reduced_decode  # full-size decoding by default
    got = scorer.score_files(files, workers=2)
    # native decoding vs the array path on the same decoded pixels
    assert np.allclose(got, [scorer.score(im) for im in imgs], atol=1e-6)
    # reduced decoding: other pixels, other scores (see test_decode.py)
    reduced = Scorer(reduced_decode=True)
    assert reduced.reduced_decode
    assert np.abs(reduced.score_files(files, workers=2) - got).max() <= 0.2
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        scorer.score_files([files[0], tmp_path / "nope.jpg"])
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="not a decodable image"):
        scorer.score_files([junk])
    s = scorer.score_files([files[0], junk], errors="nan")
    assert np.isfinite(s[0]) and np.isnan(s[1])
    scores, messages, kinds = scorer.score_files_detailed([files[0], junk, tmp_path / "x.png"])
    assert messages[0] == "" and kinds == [Status.ok, Status.invalid, Status.missing]


def test_model_from_files_and_memory(tmp_path, scorer):
    """An exported model (the committed plain-graph export) loads by param file, by folder and
    from memory, and all three score alike; a missing or cut model is refused."""
    import shutil

    models = REPO / "cpp" / "models"
    for suffix in (".ncnn.param", ".ncnn.bin", ".json"):
        shutil.copy(models / f"plain{suffix}", tmp_path / f"m{suffix}")
    a = Scorer(tmp_path / "m.ncnn.param")
    b = Scorer(tmp_path)  # the folder
    c = Scorer.from_memory(
        (tmp_path / "m.ncnn.param").read_text(),
        (tmp_path / "m.ncnn.bin").read_bytes(),
        (tmp_path / "m.json").read_text(),
    )
    img = random_image(np.random.default_rng(4), 90, 90)
    assert a.score(img) == b.score(img) == c.score(img)
    assert a.info["version"] == json.loads((models / "plain.json").read_text())["version"]
    with pytest.raises(FileNotFoundError):
        Scorer(tmp_path / "missing")
    (tmp_path / "m.ncnn.bin").write_bytes((tmp_path / "m.ncnn.bin").read_bytes()[:100])
    with pytest.raises(RuntimeError, match="weights"):
        Scorer(tmp_path / "m.ncnn.param")


def test_golden_scores(scorer, data_root):
    """Scores of a few real faces, committed with the model (tests/data/golden.csv); the C++
    tests check the same file natively and under qemu-aarch64. JPEG decoders round
    differently: each build compares with its decoder's column."""
    path = REPO / "tests" / "data" / "golden.csv"
    rows = read_csv(path)
    assert rows
    column = "score" if jpeg_decoder().startswith("libjpeg") else "score_stb"
    for r in rows:
        img = read_image(str(data_root / r["path"]))
        if r["kind"] == "warp":
            lm = as_landmarks(r["landmarks"])
            q = scorer.score(img, lm, format="rgb")
        else:
            q = scorer.score(img, format="rgb")
        assert q == pytest.approx(float(r[column]), abs=1e-5), r["path"]
