"""training.relabel with --sources (training.relabel_sources): photos of the identity-labelled
sets, landmarks from the native detector in the worker, a stable held-out quarter, no-face
photos cached as such and not retried, and the earlier photo list unchanged without them."""

import csv
import json
import shutil
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facedata.extra import default_root, identities
from training.config import RelabelConfig
from training.relabel_sources import NEW_SOURCES, heldout_people, parse_sources

SOURCE = "casia5"  # small tight crops, 5 photos a person
W600K = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "fr" / "w600k_mbf.tflite"
COLS = "relpath,copy,identity,split,variant,degradation,geometry,label,det_score,box,landmarks"


def _cfg(tmp: Path, **kw) -> RelabelConfig:
    labels = tmp / "labels.csv"
    if not labels.exists():
        labels.write_text(COLS + "\n")
    base = dict(labels=str(labels), data=str(tmp / "data"), extra=str(tmp / "extra"))
    base |= dict(out=str(tmp / "out"), cache=str(tmp / "cache.jsonl"), workers=1)
    return replace(RelabelConfig(), **(base | kw))


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_heldout_quarter_is_stable_and_order_free():
    names = [f"src/p{i:03d}" for i in range(40)]
    held = heldout_people(names)
    assert len(held) == 10
    assert heldout_people(names[::-1]) == held == heldout_people(names + names[:5])
    # one person more or fewer moves at most one other across the line
    assert len(held ^ heldout_people(names + ["src/new"])) <= 2
    assert len(held ^ heldout_people(names[1:])) <= 2
    assert heldout_people(names[:2]) and len(heldout_people(names[:5])) == 1
    assert heldout_people(names[:1]) == set()
    # the lowest CRC-32s, whatever the names sort as
    crc = {n: zlib.crc32(n.encode()) for n in names}
    assert max(crc[n] for n in held) < min(crc[n] for n in set(names) - held)
    with pytest.raises(ValueError):
        parse_sources("casia5,utkface")
    assert parse_sources("") == [] and parse_sources(",".join(NEW_SOURCES)) == list(NEW_SOURCES)


def test_real_sources_hold_out_a_quarter_of_their_people():
    from training.relabel_sources import source_photos

    present = [s for s in NEW_SOURCES if (default_root() / s).is_dir()]
    if not present:
        pytest.skip(f"none of {NEW_SOURCES} extracted under {default_root()}")
    for s in present:
        people = identities(s)
        rows = source_photos(s, default_root(), "train,heldout", 10**6)
        split = {r["identity"]: r["split"] for r in rows}
        held = {p for p, sp in split.items() if sp == "heldout"}
        assert held == heldout_people(list(people)) & set(split), s
        assert len(heldout_people(list(people))) == int(len(people) / 4 + 0.5), s
        # --max-per-id keeps the first photos in sorted order and leaves the split alone
        few = source_photos(s, default_root(), "train", 2)
        assert {r["identity"] for r in few} == {p for p in split if p not in held}
        for r in few:
            assert r["relpath"] in people[r["identity"]][:2]


def test_without_sources_the_photo_list_is_the_earlier_labels(tmp_path):
    from training.relabel import photos

    (tmp_path / "data").mkdir()
    rows = []
    for person, n, missing in (("a", 4, ()), ("b", 1, ()), ("c", 3, (1, 2)), ("d", 3, ())):
        for i in range(n):
            rel = f"{person}_{i}.jpg"
            if i not in missing:
                (tmp_path / "data" / rel).write_bytes(b"x")
            split = "heldout" if person == "d" else "train"
            for copy in range(2):
                rows.append([rel, copy, f"lfw/{person}", split, "original", "", "", "0.5"])
                rows[-1] += ["0.9", "1 2 3 4", " ".join(["10"] * 10)]
    with (tmp_path / "labels.csv").open("w", newline="") as f:
        csv.writer(f).writerows([COLS.split(","), *rows])
    cfg = _cfg(tmp_path, max_per_id=3)
    got = [r["relpath"] for r in photos(cfg)]
    # a: first three originals; b: one photo only; c: one file here; d: held out
    assert got == ["a_0.jpg", "a_1.jpg", "a_2.jpg"]
    assert [r["relpath"] for r in photos(replace(cfg, splits="train,heldout"))] == got + [
        "d_0.jpg",
        "d_1.jpg",
        "d_2.jpg",
    ]
    if (default_root() / SOURCE).is_dir():  # new sources only append to that list
        both = photos(replace(cfg, sources=SOURCE, extra=str(default_root())))
        assert [r["relpath"] for r in both[:3]] == got and len(both) > 3
        assert {r["relpath"].split("/")[0] for r in both[3:]} == {SOURCE}
        assert all(not r["box"] and "landmarks" not in r for r in both[3:])


def test_relabel_detects_new_source_photos_and_caches_no_face(tmp_path):
    import cv2

    from tinyfq_native import Detector
    from training.relabel import run

    src = default_root() / SOURCE
    if not src.is_dir():
        pytest.skip(f"{src} absent: python -m facedata.extra --source {SOURCE} --git ...")
    if not W600K.is_file():
        pytest.skip(f"labelling model {W600K} absent")
    people = sorted(p.name for p in src.iterdir() if p.is_dir())[1:3]
    for p in people:  # a tiny real subset in a tmp extract root; face images stay out of git
        (tmp_path / "extra" / SOURCE / p).mkdir(parents=True)
        for f in sorted((src / p).iterdir())[:3]:
            shutil.copy(f, tmp_path / "extra" / SOURCE / p / f.name)
    blank = f"{SOURCE}/{people[1]}/{people[1]}_9.bmp"  # sorts after the real ones
    noise = np.random.default_rng(0).integers(0, 40, (193, 168, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "extra" / blank), (noise + 100).astype(np.uint8))
    cfg = _cfg(tmp_path, sources=SOURCE, splits="train,heldout", max_per_id=4, copies=1)
    cfg = replace(cfg, jitter=0.0, nonface=0.0, focus="")
    run(cfg)

    rows = _rows(tmp_path / "out" / "labels.csv")
    idents = [f"{SOURCE}/{p}" for p in people]
    held = heldout_people(idents)
    assert len(held) == 1  # one of two people
    assert {r["identity"] for r in rows} == set(idents)
    assert all(r["split"] == ("heldout" if r["identity"] in held else "train") for r in rows)
    assert blank not in {r["relpath"] for r in rows}
    orig = [r for r in rows if r["copy"] == "0"]
    assert len(orig) == 6 and len(rows) == 12  # original + one chain copy of each face
    det = Detector(min_face=20)
    for r in orig:
        face = det.largest(cv2.imread(str(tmp_path / "extra" / r["relpath"]), cv2.IMREAD_COLOR))
        lm = np.array(r["landmarks"].split(), float)
        assert np.allclose(lm, np.asarray(face.landmarks).reshape(-1), atol=0.006)
        assert np.allclose(np.array(r["box"].split(), float), face.box, atol=0.006)
        assert float(r["det_score"]) == pytest.approx(face.confidence, abs=1e-4)
        assert 0.2 < float(r["label"]) <= 1.0  # same person, clean crop
    for r in rows:  # the copies share the photo's detection
        o = next(o for o in orig if o["relpath"] == r["relpath"])
        for k in ("landmarks", "box", "det_score"):
            assert r[k] == o[k]

    cache = tmp_path / "cache.jsonl"
    recs = [json.loads(line) for line in cache.read_text().splitlines()]
    assert [r["status"] for r in recs if r["relpath"] == blank] == ["no_face"]
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    counts = prov["by_source"][SOURCE]
    assert counts["photos"] == 7 and counts["people"] == 2 and counts["no_face"] == 1
    assert counts["labelled_photos"] == 6 and counts["labelled_people"] == 2
    assert prov["sources"] == [SOURCE]

    before = cache.read_bytes()
    run(cfg)  # everything cached, the no-face photo included: nothing embedded again
    assert cache.read_bytes() == before
    assert _rows(tmp_path / "out" / "labels.csv") == rows
