"""facedata.extra on a small git repository made here: the layouts of the real sources (as
their pinned commits hold them), extracted at the commit made here. No network, no mirror."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from facedata import extra
from facedata.extra_sources import SOURCES as NEW_SOURCES
from facedata.extra_sources import natural_key, parse_utkface

NUAA = "db/ClientRaw"
FILES = [
    *(f"{NUAA}/0001/0001_00_00_01_{i}.jpg" for i in range(25)),
    *(f"{NUAA}/0002/0002_01_00_01_{i}.jpg" for i in range(5)),
    f"{NUAA}/0001/Thumbs.db",
    "000/000_0.bmp",
    "000/000_1.bmp",
    "001/001_0.bmp",
    "dataset/cropped/jennie_kim/jennie_kim1.png",
    "dataset/cropped/lisa_manoban/lisa_manoban1.png",
    "dataset/lisa_manoban/raw.jpg",  # outside dataset/cropped: not taken
    "training_faces/BTS/JHOPE/a.jfif",
    "training_faces/BTS/JHOPE/b.jpg",
    "training_faces/BTS/JHOPE/numpy/b.npy",
    "data/processed_data/train/Lisa/a.jpg",
    "data/processed_data/validation/Lisa/b.jpg",
    "Model/dataset/shah_rukh_khan/a.jpg",
    "Model/dataset/cropped/shah_rukh_khan/a.png",  # excluded
    "DCleaning_tool/raw_images/102/102_1.jpg",
    "DCleaning_tool/raw_images/102/102_17.jpg",  # marked remove: excluded
    "DCleaning_tool/target_images/102/102_1.jpg",  # same bytes as the raw one: a duplicate
    "DCleaning_tool/data_cleaning.jpg",  # a screenshot, excluded
    "sample_Korea/20000/20000_1.jpg",
    "CroppedYale/yaleB01/yaleB01_P00A+000E+00.pgm",
    "CroppedYale/yaleB01/yaleB01_P00A+005E+10.pgm",
    "CroppedYale/yaleB01/yaleB01_P00A+010E+00.pgm.bad",
    "CroppedYale/yaleB01/yaleB01_P00.info",
    "data/UTKFace/unlabeled/26_1_2_20170116174525125.jpg.chip.jpg",
    "data/UTKFace/unlabeled/100_0_0_20170112213500903.jpg.chip.jpg",
    "data/UTKFace/unlabeled/24_0_4_20170116220224657 .jpg.chip.jpg",
    "data/UTKFace/unlabeled/39_1_20170116174525125.jpg.chip.jpg",  # no race: unparsed
    "train/pins_Adriana Lima/Adriana Lima0_0.jpg",
    "val/pins_Adriana Lima/Adriana Lima1_0.jpg",
]
SAME = {"DCleaning_tool/target_images/102/102_1.jpg": "DCleaning_tool/raw_images/102/102_1.jpg"}


def _image(path: str, seed: int) -> bytes:
    """A small image of its own (so no two files share bytes), encoded by its extension."""
    ext = path.lower().rsplit(".", 1)[-1]
    if ext not in ("jpg", "jfif", "png", "bmp", "pgm"):
        return f"not an image {seed}".encode()
    img = np.random.default_rng(seed).integers(0, 256, (12, 10), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg" if ext == "jfif" else f".{ext}", img)
    assert ok
    return buf.tobytes()


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def mirror(tmp_path, monkeypatch) -> Path:
    """A git repository holding every layout, and every source's commit pointed at it."""
    repo = tmp_path / "mirror"
    repo.mkdir()
    _git(repo, "init", "-q")
    for i, name in enumerate(FILES):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(_image(name, i))
    for dup, orig in SAME.items():
        (repo / dup).write_bytes((repo / orig).read_bytes())
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "layouts")
    commit = _git(repo, "rev-parse", "HEAD")
    for spec in extra.SOURCES.values():
        monkeypatch.setitem(spec, "commit", commit)
    return repo


def test_table_covers_the_issue_sources_with_licences():
    assert set(NEW_SOURCES) <= set(extra.SOURCES)
    assert {"nuaa", "casia5", "blackpink", "idols13", "kpop15", "bollywood", "asian"} <= set(
        NEW_SOURCES
    )
    for name, spec in extra.SOURCES.items():
        assert len(spec["commit"]) in (8, 40), name
        assert spec["licence"] and spec["folders"], name
    assert NEW_SOURCES["nuaa"]["stride"] == 10


def test_identities_are_namespaced_and_resolved(mirror, tmp_path):
    root = tmp_path / "extra"
    for source in NEW_SOURCES:
        extra.extract(source, mirror, root)
    assert extra.identities("casia5", root) == {
        "casia5/000": ["casia5/000/000_0.bmp", "casia5/000/000_1.bmp"],
        "casia5/001": ["casia5/001/001_0.bmp"],
    }
    bp = extra.identities("blackpink", root)
    assert bp["blackpink/lisa_manoban"] == [
        "blackpink/dataset/cropped/lisa_manoban/lisa_manoban1.png"
    ]
    assert set(bp) == {"blackpink/jennie_kim", "blackpink/lisa_manoban"}
    # the same person in another source is another identity: nothing merges them
    assert extra.identities("kpop15", root) == {
        "kpop15/Lisa": [
            "kpop15/data/processed_data/train/Lisa/a.jpg",
            "kpop15/data/processed_data/validation/Lisa/b.jpg",
        ]
    }
    assert extra.identities("idols13", root) == {
        "idols13/JHOPE": [
            "idols13/training_faces/BTS/JHOPE/a.jfif",
            "idols13/training_faces/BTS/JHOPE/b.jpg",
        ]
    }
    assert extra.identities("bollywood", root) == {
        "bollywood/shah_rukh_khan": ["bollywood/Model/dataset/shah_rukh_khan/a.jpg"]
    }
    assert extra.identities("asian", root) == {
        "asian/102": ["asian/DCleaning_tool/raw_images/102/102_1.jpg"],
        "asian/20000": ["asian/sample_Korea/20000/20000_1.jpg"],
    }
    assert extra.identities("yaleb", root) == {
        "yaleb/yaleB01": [
            "yaleb/CroppedYale/yaleB01/yaleB01_P00A+000E+00.pgm",
            "yaleb/CroppedYale/yaleB01/yaleB01_P00A+005E+10.pgm",
        ]
    }
    for people in (extra.identities(s, root) for s in NEW_SOURCES if s != "utkface"):
        for rel in (r for paths in people.values() for r in paths):
            f = extra.resolve(rel, tmp_path / "data", root)
            assert f.is_file() and f.is_relative_to(root), rel
            assert cv2.imread(str(f), cv2.IMREAD_COLOR).shape == (12, 10, 3), rel
    with pytest.raises(ValueError, match="utkface_faces"):
        extra.identities("utkface", root)


def test_nuaa_keeps_every_tenth_frame_in_number_order(mirror, tmp_path):
    root = tmp_path / "extra"
    extra.extract("nuaa", mirror, root)
    people = extra.identities("nuaa", root)
    frames = {k: [p.rsplit("_", 1)[-1] for p in v] for k, v in people.items()}
    # frames 0..24 by number (not 0, 1, 10, 11, ... as text): 0, 10, 20; of 0..4 only 0
    assert frames == {"nuaa/0001": ["0.jpg", "10.jpg", "20.jpg"], "nuaa/0002": ["0.jpg"]}
    rec = extra.provenance(root)["nuaa"]
    assert (rec["listed"], rec["files"], rec["subsampled"], rec["stride"]) == (30, 4, 26, 10)
    assert natural_key("a_9.jpg") < natural_key("a_10.jpg")


def test_utkface_names_parse(mirror, tmp_path):
    root = tmp_path / "extra"
    extra.extract("utkface", mirror, root)
    base = "utkface/data/UTKFace/unlabeled/"
    assert extra.utkface_faces(root) == [
        {
            "relpath": base + "100_0_0_20170112213500903.jpg.chip.jpg",
            "age": 100,
            "gender": "male",
            "race": "white",
        },
        {
            "relpath": base + "24_0_4_20170116220224657 .jpg.chip.jpg",
            "age": 24,
            "gender": "male",
            "race": "other",
        },
        {
            "relpath": base + "26_1_2_20170116174525125.jpg.chip.jpg",
            "age": 26,
            "gender": "female",
            "race": "asian",
        },
    ]
    rec = extra.provenance(root)["utkface"]
    assert rec["unparsed"] == ["data/UTKFace/unlabeled/39_1_20170116174525125.jpg.chip.jpg"]
    assert rec["files"] == 4 and rec["people"] == 0
    assert parse_utkface("5_1_3_2017.jpg") == {"age": 5, "gender": "female", "race": "indian"}
    assert parse_utkface("5_2_3_2017.jpg") is None


def test_provenance_counts_missing_duplicate_and_excluded(mirror, tmp_path):
    # a partial mirror: one blob gone
    blob = _git(mirror, "rev-parse", "HEAD:sample_Korea/20000/20000_1.jpg")
    (mirror / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    root = tmp_path / "extra"
    out, missing = extra.extract("asian", mirror, root)
    assert (out, missing) == (root / "asian", 1)
    prov = json.loads((root / "provenance.json").read_text())
    rec = prov["asian"]
    assert rec["repo"] == "nz0001na/Asian_faces"
    assert rec["commit"] == _git(mirror, "rev-parse", "HEAD")
    assert rec["folders"] == NEW_SOURCES["asian"]["folders"]
    assert (rec["listed"], rec["excluded"], rec["duplicates"]) == (5, 2, 1)
    assert (rec["files"], rec["missing"], rec["people"]) == (1, 1, 2)
    assert rec["missing_files"] == ["sample_Korea/20000/20000_1.jpg"]
    assert "licence" in rec["licence"]
    assert datetime.fromisoformat(rec["extracted"]).tzinfo is not None
    # a second source joins the same file; the first stays
    extra.extract("casia5", mirror, root)
    assert set(extra.provenance(root)) == {"asian", "casia5"}


def test_reextraction_drops_files_it_no_longer_takes(mirror, tmp_path, monkeypatch):
    root = tmp_path / "extra"
    monkeypatch.setitem(extra.SOURCES["nuaa"], "stride", 5)
    extra.extract("nuaa", mirror, root)
    assert sum(map(len, extra.identities("nuaa", root).values())) == 6
    monkeypatch.setitem(extra.SOURCES["nuaa"], "stride", 10)
    extra.extract("nuaa", mirror, root)
    assert sum(len(v) for v in extra.identities("nuaa", root).values()) == 4
    assert len([p for p in (root / "nuaa").rglob("*") if p.is_file()]) == 4


def test_cli_extracts_the_mirrors_found(mirror, tmp_path, capsys):
    mirrors = tmp_path / "mirrors"
    for repo in (
        "Liuluotao/PCA-SVM-",
        "FarahKhattab/Face-detection-and-recognition-using-InceptionV3",
    ):
        (mirrors / repo.replace("/", "+")).mkdir(parents=True)
        (mirrors / repo.replace("/", "+") / "repo").symlink_to(mirror)
    root = tmp_path / "extra"
    assert extra.main(["--mirrors", str(mirrors), "--root", str(root)]) == 0
    err = capsys.readouterr().err
    assert "casia5: 2 people, 3 photos" in err and "(0 absent from that copy)" in err
    assert "pins: 1 people, 2 photos" in err
    assert "nuaa: no mirror" in err
    assert extra.identities("pins", root) == {
        "pins/Adriana Lima": [
            "pins/train/pins_Adriana Lima/Adriana Lima0_0.jpg",
            "pins/val/pins_Adriana Lima/Adriana Lima1_0.jpg",
        ]
    }
    assert extra.pins_identities(root) == {
        "Adriana Lima": [
            "pins/train/pins_Adriana Lima/Adriana Lima0_0.jpg",
            "pins/val/pins_Adriana Lima/Adriana Lima1_0.jpg",
        ]
    }
    assert extra.provenance(root)["pins"]["people"] == 1
    assert extra.main(["--source", "yaleb", "--git", str(mirror), "--root", str(root)]) == 0
    assert "yaleb: 1 people, 2 photos" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        extra.main(["--source", "yaleb", "--root", str(root)])
