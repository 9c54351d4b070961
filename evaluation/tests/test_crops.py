"""Protocol 4 (evaluation/crops.py) and the crop-scale degradations it uses."""

import json

import numpy as np
import pytest

from evaluation import crops as C
from facedata.chains import crop_spec, degraded_crop, split_chain
from facedata.degrade import CROP_EVAL_KINDS, parse_spec


def test_crop_specs_are_deterministic_crop_scale_and_in_the_stated_ranges():
    a, b = C.specs_of("lfw/images/X/X_0001.jpg"), C.specs_of("lfw/images/X/X_0001.jpg")
    assert a == b and list(a) == list(CROP_EVAL_KINDS)
    assert a != C.specs_of("lfw/images/X/X_0002.jpg")
    for i in range(50):
        rng = np.random.default_rng(i)
        q = parse_spec(split_chain(crop_spec(rng, "jpeg"))[1][0])[1]["quality"]
        g = parse_spec(split_chain(crop_spec(rng, "gamma"))[1][0])[1]["gamma"]
        assert 3 <= q <= 30 and 2.5 <= g <= 4.0
    photo, crop = split_chain(crop_spec(np.random.default_rng(0), "noise"))
    assert photo == [] and len(crop) == 1
    with pytest.raises(ValueError, match="no crop-scale evaluation kind"):
        crop_spec(np.random.default_rng(0), "sharpen")


def test_crop_scale_degradation_comes_after_the_warp(labels_rows, data_root):
    import cv2

    from tinyfq_native.landmarks import as_landmarks

    row = labels_rows[0]
    img = cv2.imread(str(data_root / row["relpath"]))
    lm = as_landmarks(row["landmarks"])
    clean = degraded_crop(img, lm, "")
    assert clean.shape == (112, 112, 3) and clean.dtype == np.uint8
    # crop-scale JPEG at q=5 leaves 8×8 blocks on the crop's own grid: the crop equals
    # compressing the clean crop, which a photo-scale JPEG (blocks warped away) does not
    jpeg = degraded_crop(img, lm, "crop/jpeg:quality=5")
    ok, buf = cv2.imencode(".jpg", clean, [cv2.IMWRITE_JPEG_QUALITY, 5])
    assert np.array_equal(jpeg, cv2.imdecode(buf, cv2.IMREAD_COLOR))
    assert not np.array_equal(degraded_crop(img, lm, "photo/jpeg:quality=5"), jpeg)
    dark = degraded_crop(img, lm, "crop/gamma:gamma=3")
    assert dark.mean() < 0.6 * clean.mean()


def test_dlib_on_crops_tells_people_apart(labels_rows, data_root):
    pytest.importorskip("dlib")
    import cv2

    from tinyfq_native.landmarks import as_landmarks

    by_id: dict = {}
    for r in labels_rows:
        if r["copy"] == "0" and r["relpath"].startswith("lfw/"):
            by_id.setdefault(r["identity"], []).append(r)
    two = [rows[:2] for rows in by_id.values() if len(rows) >= 2][:2]
    if len(two) < 2:
        pytest.skip("needs two LFW people with two photos in the test labels")
    emb = {}
    for rows in two:
        for r in rows:
            img = cv2.imread(str(data_root / r["relpath"]))
            e = C.dlib_embed(degraded_crop(img, as_landmarks(r["landmarks"]), ""))
            emb[r["relpath"]] = e / np.linalg.norm(e)
    (a1, a2), (b1, _) = ([emb[r["relpath"]] for r in rows] for rows in two)
    assert a1 @ a2 > a1 @ b1  # same person closer than another (dlib's cosines are high)


def test_protocol_runs_on_a_tiny_subset(tmp_path, data_root):
    pytest.importorskip("dlib")
    from evaluation.core import EvalConfig, run

    cfg = EvalConfig(
        data=str(data_root),
        out=str(tmp_path / "out"),
        cache=str(tmp_path / "c"),
        seeds=(0,),
        max_identities=3,
        workers=1,
        peers=(),
        protocols=("crops",),
        compare=("same=" + str(C.MTCNN.parent.parent.parent / "cpp" / "models" / "default"),),
        crop_min_images=4,
        crop_max_per_identity=4,
        crop_template_min=4,
        crop_template_size=2,
    )
    res = run(cfg)["crops"]
    assert res["photos"] == 12 and res["identities"] == 3
    t = res["templates"]["per_seed"][0]
    assert t["templates"] == 6 and t["genuine_pairs"] == 3
    for m in ("tinyfqnet", "tinyfqnet@same", "random", "blur"):
        b = res["clean_beats_degraded"][m]
        assert set(b) == set(CROP_EVAL_KINDS) | {"all kinds"}
        assert all(0.0 <= v <= 1.0 for v in b.values())
        assert -1 <= res["spearman"][m]["clean"] <= 1
        assert -1 <= res["spearman"][m]["clean within person"] <= 1  # 3 people, 4 photos each
    # the compared model is the embedded one here: identical rows
    assert res["clean_beats_degraded"]["tinyfqnet"] == res["clean_beats_degraded"]["tinyfqnet@same"]
    # occlusion and low resolution are unmistakable on a face crop
    assert res["clean_beats_degraded"]["tinyfqnet"]["occlusion"] >= 0.75
    out = tmp_path / "out"
    assert "Protocol 4" in (out / "results.md").read_text()
    assert (out / "aligned_crops.png").stat().st_size > 1000
    assert json.loads((out / "results.json").read_text())["crops"]["verified_photos"] == 12
    # a second run reads everything but our scores from the cache
    cache = tmp_path / "c" / "aligned-crops.jsonl"
    n = cache.read_text().count("\n")
    run(cfg)
    assert cache.read_text().count("\n") == n
    # evaluation.crop_scores measures a score given outside the run exactly as the run did
    from dataclasses import replace

    from evaluation.crop_scores import measure, protocol4_reference
    from tinyfq_native import Scorer

    photos, verified, label = protocol4_reference(cfg)
    assert len(photos) == 12 and verified.all()

    def ours(spec_of):
        crops = [C.make_crop(cfg.data, r, lm, spec_of(r)) for _, r, lm in photos]
        return np.array(Scorer().score_batch(crops))

    deg = {k: ours(lambda r, k=k: C.specs_of(r)[k]) for k in CROP_EVAL_KINDS}
    got = measure(ours(lambda r: ""), deg, verified, label)
    assert got["spearman_clean"] == pytest.approx(res["spearman"]["tinyfqnet"]["clean"], abs=1e-4)
    want = res["clean_beats_degraded"]["tinyfqnet"]
    assert got["clean_beats_degraded"] == pytest.approx(want, abs=1e-4)
    with pytest.raises(ValueError, match="lack the verifier's embedding"):
        protocol4_reference(replace(cfg, cache=str(tmp_path / "empty")))


def test_crop_scores_measure_any_score_as_the_protocol_does():
    """evaluation.crop_scores: Spearman on the verified clean crops, clean > degraded per kind
    with ties counting one half (a score that is not an exported model: training.teacher's)."""
    from evaluation.crop_scores import measure

    rng = np.random.default_rng(1)
    clean = rng.uniform(1, 9, 40)
    verified = np.arange(40) < 30
    got = measure(clean, {"jpeg": clean * 0.5, "gamma": clean * 2.0}, verified, clean[:30] ** 2)
    assert got["spearman_clean"] == pytest.approx(1.0)
    assert got["clean_beats_degraded"] == {"jpeg": 1.0, "gamma": 0.0, "all kinds": 0.5}
    tied = measure(clean, {"jpeg": clean.copy()}, verified, -clean[:30])
    assert tied["clean_beats_degraded"]["jpeg"] == 0.5 and tied["spearman_clean"] == -1.0


def test_label_forms_score_the_labellers_own_verdict_on_crops_and_copies():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "teacher_protocol4.py"
    spec = importlib.util.spec_from_file_location("teacher_protocol4", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    rng = np.random.default_rng(0)
    people = rng.normal(size=(3, 16))
    ids = np.repeat(np.array(["a", "b", "c"]), 4)
    clean = 3 * people[np.arange(12) // 4] + rng.normal(size=(12, 16))
    generic = rng.normal(size=16)
    copies = 0.1 * clean + 3 * generic  # every copy drifts toward one face-less direction
    forms = script.label_forms({"clean": clean, "blur": copies}, ids)
    u = clean / np.linalg.norm(clean, axis=1, keepdims=True)
    centre = u[1:4].sum(0)
    assert forms["eq1"]["clean"][0] == pytest.approx(u[0] @ centre / np.linalg.norm(centre))
    for form in ("eq1", "sdd"):  # each copy is judged below its own clean crop
        assert (forms[form]["blur"] < forms[form]["clean"]).all()
    assert (forms["sdd"]["clean"] > 0.5).all()  # genuine similarities far above impostors'
    # a copy looks like everyone: its genuine and impostor similarities come close together
    assert np.abs(forms["sdd"]["blur"]).mean() < 0.3 * forms["sdd"]["clean"].mean()
