from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

# the decode corpus's shared checks (tests/corpus.py) report their asserts as test files do
pytest.register_assert_rewrite("tests.corpus")

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("TINYFQ_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA / "lfw" / "images").is_dir():
        pytest.skip(f"face data not found at {DATA} (set TINYFQ_DATA)")
    return DATA


@pytest.fixture(scope="session")
def scorer():
    from tinyfq_native import Scorer

    return Scorer()


@pytest.fixture(scope="session")
def face_rows():
    """Real photos with the landmarks the native detector finds in them (tests/data/faces.csv,
    written by scripts/make_test_faces.py)."""
    import csv

    with (REPO / "tests" / "data" / "faces.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def labels_rows():
    """Committed labels (landmarks of real faces)."""
    import csv

    path = REPO / "training" / "labels" / "labels.csv"
    if not path.exists():
        pytest.skip("training/labels/labels.csv not present")
    with path.open() as f:
        return list(csv.DictReader(f))


def read_csv(path) -> list[dict]:
    """The rows of a CSV file (the file is closed again; quoted line breaks kept), after the
    ``# tinyfq {options}`` line that begins a ``tinyfq score`` output."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        if not f.readline().startswith("# tinyfq "):
            f.seek(0)
        return list(csv.DictReader(f))


def read_jsonl(path) -> list[dict]:
    """The rows of a JSON-lines file, after the ``{"tinyfq": {options}}`` record that begins
    a ``tinyfq score`` output."""
    import json

    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows[1:] if rows and list(rows[0]) == ["tinyfq"] else rows


def random_image(rng: np.random.Generator, h: int, w: int, c: int | None = 3) -> np.ndarray:
    shape = (h, w) if c is None else (h, w, c)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def face_folder(folder: Path, files, link: bool = False) -> Path:
    """``folder``, made and filled with copies (or symbolic links) of ``files``, by name."""
    folder.mkdir(parents=True)
    for f in files:
        if link:
            (folder / f.name).symlink_to(f)
        else:
            shutil.copy(f, folder / f.name)
    return folder
