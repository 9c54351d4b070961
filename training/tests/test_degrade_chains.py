"""The second-order degradation model (facedata.chains) and the relabelling step's plan."""

import numpy as np
import pytest

from facedata.chains import chain_spec, degraded_crop, split_chain, step_spec
from facedata.degrade import CHAIN_KINDS, SCALES, apply, parse_spec


def _face():
    rng = np.random.default_rng(3)
    img = rng.integers(40, 220, (160, 140, 3), dtype=np.uint8)
    lm = np.array([[50, 70], [90, 70], [70, 90], [55, 110], [85, 110]], np.float32)
    return img, lm


def test_chains_are_deterministic_photo_steps_first_and_cover_every_kind():
    img, lm = _face()
    kinds, scales, lengths = set(), set(), set()
    for i in range(300):
        spec = chain_spec(np.random.default_rng(i))
        assert spec == chain_spec(np.random.default_rng(i))
        steps = spec.split(" > ")
        lengths.add(len(steps))
        sc = [s.split("/", 1)[0] for s in steps]
        assert sc == sorted(sc, key=lambda s: s == "crop")  # the warp lies between the scales
        scales |= set(sc)
        kinds |= {parse_spec(s.split("/", 1)[1])[0] for s in steps}
        if i < 40:
            a, b = degraded_crop(img, lm, spec), degraded_crop(img, lm, spec)
            assert a.shape == (112, 112, 3) and np.array_equal(a, b)
    assert kinds == set(CHAIN_KINDS) and scales == set(SCALES) and lengths == {1, 2}


def test_each_new_kind_changes_the_face_and_severity_orders_tone_curves():
    img, lm = _face()
    clean = degraded_crop(img, lm, "")
    for k in CHAIN_KINDS:
        for sc in SCALES:
            out = degraded_crop(img, lm, f"{sc}/{step_spec(np.random.default_rng(1), k, 0.7)}")
            assert not np.array_equal(out, clean), (sc, k)
    mild = degraded_crop(img, lm, "crop/" + step_spec(np.random.default_rng(0), "lowlight", 0.0))
    harsh = degraded_crop(img, lm, "crop/" + step_spec(np.random.default_rng(0), "lowlight", 1.0))
    assert harsh.mean() < mild.mean() < clean.mean()


def test_older_specs_keep_their_meaning_and_crop_steps_need_the_crop():
    img, _ = _face()
    box = (30.0, 40.0, 80.0, 90.0)
    assert np.array_equal(apply(img, "blur:sigma=2", box), apply(img, "photo/blur:sigma=2", box))
    assert split_chain("jpeg:quality=9") == (["jpeg:quality=9"], [])
    with pytest.raises(ValueError, match="degraded_crop"):
        apply(img, "photo/blur:sigma=2 > crop/jpeg:quality=9", box)


def test_relabel_plan_is_a_pure_function_of_the_path():
    from training.config import RelabelConfig
    from training.relabel import copy_plan

    cfg = RelabelConfig(copies=2, jitter=1.0, nonface=0.0)
    a = copy_plan("lfw/images/A/A_0001.jpg", cfg)
    assert a == copy_plan("lfw/images/A/A_0001.jpg", cfg)
    assert [v for v, _, _ in a] == ["original", "chain", "chain", "jitter"]
    assert a != copy_plan("lfw/images/A/A_0002.jpg", cfg)


def test_crop_routing_always_takes_crop_scale_rows_and_a_share_of_the_rest():
    from training.train import crop_routed

    rows = [{"relpath": f"p{i}.jpg", "copy": 0, "degradation": ""} for i in range(2000)]
    share = np.mean([crop_routed(r, 0.5) for r in rows])
    assert 0.45 < share < 0.55
    assert not any(crop_routed(r, 0.0) for r in rows)
    assert crop_routed({"relpath": "x", "copy": 1, "degradation": "crop/gamma:gamma=3"}, 0.0)


def test_focus_copies_come_last_and_leave_the_earlier_plan_unchanged():
    from training.config import RelabelConfig
    from training.relabel import copy_plan

    plain = copy_plan("celeba-subset/images/1/1.jpg", RelabelConfig())
    focus = copy_plan("celeba-subset/images/1/1.jpg", RelabelConfig(focus="jpeg,gamma"))
    assert focus[: len(plain)] == plain  # cached copies keep their numbers and specs
    extra = focus[len(plain) :]
    assert [v for v, _, _ in extra] == ["focus", "focus"]
    assert [s.split(":")[0] for _, s, _ in extra] == ["crop/jpeg", "crop/gamma"]
