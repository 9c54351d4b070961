"""Fast preprocessing kernels against their scalar reference twins, and the geometry."""

import json

import numpy as np
import pytest

from tests.conftest import random_image
from tinyfq_native.align import estimate_similarity, preprocess

TOL = 1e-4  # normalised units (1 grey level = 1/128 = 7.8e-3)


@pytest.fixture(scope="module")
def model_json(scorer):
    return scorer._native.model_json


def _face_landmarks(rng, w, h):
    base = np.array([[-18, -10], [18, -10], [0, 8], [-14, 22], [14, 22]], np.float64)
    ang = rng.uniform(-0.6, 0.6)
    sc = max(w, h) / 150 * rng.uniform(0.5, 1.5)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    centre = np.array([w, h]) * rng.uniform(0.1, 0.9, 2)
    return (base * sc @ rot.T + centre).astype(np.float32)


@pytest.mark.parametrize(
    "h,w", [(1, 1), (3, 7), (65, 63), (64, 64), (112, 112), (97, 113), (250, 250), (200, 31)]
)
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_crop_and_warp_match_reference_on_odd_strides(model_json, h, w, channels):
    rng = np.random.default_rng(h * 1000 + w)
    base = random_image(rng, h + 5, w + 9, channels)
    img = base[2 : 2 + h, 3 : 3 + w]  # a view: row stride != width * channels
    assert not img.flags.c_contiguous or h == 1
    for fmt in ("bgr", "rgb"):
        fast = preprocess(img, None, model_json=model_json, format=fmt)
        ref = preprocess(img, None, model_json=model_json, format=fmt, reference=True)
        assert np.abs(fast - ref).max() <= TOL
        # the view is read in place: same result as a packed copy
        packed = preprocess(np.ascontiguousarray(img), None, model_json=model_json, format=fmt)
        assert np.array_equal(fast, packed)
        if min(h, w) >= 8:
            lm = _face_landmarks(rng, w, h)
            fast = preprocess(img, lm, model_json=model_json, format=fmt)
            ref = preprocess(img, lm, model_json=model_json, format=fmt, reference=True)
            assert np.abs(fast - ref).max() <= TOL


def test_non_packed_views_are_copied_correctly(model_json):
    rng = np.random.default_rng(3)
    img = random_image(rng, 80, 160)
    view = img[:, ::2]  # pixel stride 6: not packed
    a = preprocess(view, None, model_json=model_json)
    b = preprocess(np.ascontiguousarray(view), None, model_json=model_json)
    assert np.array_equal(a, b)


def test_normalisation_and_colour_order(model_json):
    info = json.loads(model_json)["input"]
    img = np.zeros((10, 10, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 30  # B, G, R
    x = preprocess(img, None, model_json=model_json, format="bgr")
    expect_rgb = [30, 20, 10] if info["colour_order"] == "rgb" else [10, 20, 30]
    for c in range(3):
        assert np.allclose(x[c], (expect_rgb[c] - info["mean"][c]) / info["std"][c], atol=1e-6)
    grey = np.full((10, 10), 200, np.uint8)
    g = preprocess(grey, None, model_json=model_json)
    assert np.allclose(g[0], (200 - info["mean"][0]) / info["std"][0], atol=1e-6)


def test_warp_of_aligned_image_equals_crop(model_json):
    """An image whose landmarks sit exactly on the template: warp == resize."""
    tpl = np.array(json.loads(model_json)["alignment"]["template"], np.float32)
    rng = np.random.default_rng(5)
    img = random_image(rng, 64, 64)
    crop = preprocess(img, None, model_json=model_json)
    warp = preprocess(img, tpl, model_json=model_json)
    assert np.abs(crop - warp).max() < 1e-3


def test_warp_follows_a_known_similarity(model_json):
    """Scale a 112 ArcFace-aligned crop by 2 and shift it: warping the bigger image with the
    moved landmarks gives (almost) the same input as resizing the original crop."""
    import cv2

    tpl = np.array(json.loads(model_json)["alignment"]["template"], np.float64)
    s = 64 / 112
    tpl112 = (tpl + 0.5) / s - 0.5
    rng = np.random.default_rng(6)
    small = cv2.GaussianBlur(random_image(rng, 112, 112), (0, 0), 3)  # smooth: no aliasing
    big = np.zeros((300, 320, 3), np.uint8)
    big[40:264, 60:284] = cv2.resize(small, (224, 224), interpolation=cv2.INTER_LINEAR)
    lm = ((tpl112 + 0.5) * 2 - 0.5 + [60, 40]).astype(np.float32)
    a = preprocess(small, None, model_json=model_json)
    b = preprocess(big, lm, model_json=model_json)
    assert np.abs(a - b).mean() < 0.02


def test_similarity_estimate_recovers_transform():
    rng = np.random.default_rng(7)
    src = rng.uniform(0, 200, (5, 2)).astype(np.float32)
    a, b, t = 1.3 * np.cos(0.4), 1.3 * np.sin(0.4), np.array([12.0, -7.0])
    dst = src @ np.array([[a, b], [-b, a]]) + t
    m = estimate_similarity(src, dst.astype(np.float32))
    assert np.allclose(m, [[a, -b, t[0]], [b, a, t[1]]], atol=1e-3)


@pytest.mark.parametrize(
    "bad,msg",
    [
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10, 2), np.uint8), r"\(10, 10, 2\)"),
        (np.zeros((2, 10, 10, 3), np.uint8), r"\(2, 10, 10, 3\)"),
        (np.zeros((0, 10, 3), np.uint8), r"\(0, 10, 3\)"),
    ],
)
def test_bad_images_raise_value_error_with_shape(model_json, bad, msg):
    with pytest.raises(ValueError, match=msg):
        preprocess(bad, None, model_json=model_json)


def test_bad_landmarks(model_json):
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ValueError, match="5 \\(x, y\\) points"):
        preprocess(img, np.zeros((4, 2)), model_json=model_json)
    with pytest.raises(ValueError, match="degenerate"):
        preprocess(img, np.full((5, 2), 3.0), model_json=model_json)
    with pytest.raises(ValueError, match="not finite"):
        preprocess(img, np.full((5, 2), np.nan), model_json=model_json)
