import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def default_net():
    """The PyTorch twin of the embedded default model (same weights)."""
    from training.config import SHIPPED_RUN
    from training.export import load_checkpoint

    ck = SHIPPED_RUN / "checkpoint.pt"
    if not ck.exists():
        pytest.skip(f"{ck} not present")
    net, _ = load_checkpoint(ck)
    return net


@pytest.fixture(scope="session")
def faces():
    """Real LFW photos (250x250) and 112x112 ArcFace-style crops made from them."""
    import numpy as np

    from tests.conftest import read_csv
    from tinyfq_native.images import read_image
    from tinyfq_native.landmarks import as_landmarks

    rows = read_csv(REPO / "tests" / "data" / "faces.csv")
    rows = [r for r in rows if r["relpath"].startswith("lfw/")][:64]
    photos, lms = [], []
    for r in rows:
        photos.append(np.ascontiguousarray(read_image(str(DATA / r["relpath"]))[:, :, ::-1]))
        lms.append(as_landmarks(r["landmarks"]))
    return photos, lms, [str(DATA / r["relpath"]) for r in rows]
