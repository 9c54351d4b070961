"""Empty frames and non-faces score at the bottom: below the 2nd percentile of real LFW faces,
so best-frame selection never picks a black frame, a flat wall or a crop beside the face."""

from __future__ import annotations

import numpy as np
import pytest

from tinyfq_native import Scorer
from tinyfq_native.images import read_image
from tinyfq_native.landmarks import as_landmarks


@pytest.fixture(scope="module")
def lfw_floor(data_root, face_rows):
    """The 2nd percentile of the default model's scores on real LFW photos (their detected
    landmarks)."""
    rows = [r for r in face_rows if r["relpath"].startswith("lfw/")]
    s = Scorer()
    q = [
        s.score(
            read_image(str(data_root / r["relpath"])), as_landmarks(r["landmarks"]), format="rgb"
        )
        for r in rows
    ]
    return float(np.percentile(q, 2)), rows


def _inputs(data_root, rows):
    rng = np.random.default_rng(0)
    r = rows[7]
    photo = read_image(str(data_root / r["relpath"]))
    lm = as_landmarks(r["landmarks"])
    iod = float(np.linalg.norm(lm[1] - lm[0]))
    yield "black crop", np.zeros((112, 112, 3), np.uint8), None
    yield "white crop", np.full((112, 112, 3), 255, np.uint8), None
    yield "grey crop", np.full((112, 112, 3), 128, np.uint8), None
    yield (
        "flat colour",
        np.broadcast_to(np.array([40, 120, 200], np.uint8), (112, 112, 3)).copy(),
        None,
    )
    yield "noise", rng.integers(0, 256, (112, 112, 3), dtype=np.uint8), None
    yield "landmarks outside the photo", photo, lm + np.array([10_000.0, 0.0], np.float32)
    yield "crop beside the face", photo, lm + np.array([1.6 * iod, 0.0], np.float32)
    yield "crop below the face", photo, lm + np.array([0.0, 1.8 * iod], np.float32)


def test_non_faces_score_below_the_2nd_percentile_of_lfw(data_root, lfw_floor):
    floor, rows = lfw_floor
    s = Scorer()
    got = {name: s.score(img, lm, format="rgb") for name, img, lm in _inputs(data_root, rows)}
    above = {k: round(v, 4) for k, v in got.items() if not v < floor}
    assert not above, f"2nd percentile of LFW: {floor:.4f}; scored above it: {above}"
