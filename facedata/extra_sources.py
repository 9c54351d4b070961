"""The photo sets of issue 25, beside Pins and FaceScrub (facedata.extra): where each one is (a
public git repository at a pinned commit, and its folders), which of its files we take, its
licence status, and the parsers of what it holds. No I/O on the extract folder here, apart
from listing one source's folder; ``facedata.extra`` extracts, resolves and keeps the
provenance.

Every set is research-only or states no licence (the ``licence`` field). Identities are named
``<source>/<folder name>`` (the folder a photo is in), so two sets never share a name. The same
person can still be in two sets under two names (``kpop15/Lisa`` is most likely BLACKPINK's
Lisa, ``blackpink/lisa_manoban``, and ``kpop15/Yeji`` ITZY's, ``idols13/YEJI``): nothing merges
them, so keep one source of such a pair out of any split that must not share people.

What is taken, beyond the file-name extension:

- ``stride``: every n-th photo of each person, in the order of the numbers in the file names
  (NUAA: every 10th webcam frame of each person, from the first: 5,105 frames -> 517).
- ``exclude``: folders or files left out (Bollywood's ``cropped/``, tight crops of the same
  photos; one Asian-faces photo its own cleaning tool marked ``remove``, and a screenshot of
  that tool).
- ``dedupe``: a file whose bytes (git blob) another file of the same person already has is
  skipped and counted (Asian faces copies its 4 target images per person into the raw folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

RESEARCH = "research use only (the data set's own terms); the repository states no licence"
SCRAPED = (
    "web photos of public figures, copyright with their owners; the repository states no "
    "licence: research use only"
)

SOURCES: dict[str, dict] = {
    "nuaa": {
        "repo": "imironica/liveness",
        "commit": "415a750d380dc1ad03815d9f99287f0661715510",
        "folders": ["db/ClientRaw"],
        "ext": (".jpg",),
        "stride": 10,
        "dedupe": True,
        "what": "NUAA Photograph Imposter Database, real faces (ClientRaw): 15 people, 5,105 "
        "webcam frames, every 10th frame of each person kept",
        "licence": RESEARCH,
    },
    "casia5": {
        "repo": "Liuluotao/PCA-SVM-",
        "commit": "5c1ac02eec0cabeac86b55e2db4d83810ec454fb",
        "folders": [f"{i:03d}" for i in range(40)],
        "ext": (".bmp",),
        "dedupe": True,
        "what": "CASIA-FaceV5 subset: 40 people x 5 photos, folders 000/ ... 039/",
        "licence": RESEARCH,
    },
    "blackpink": {
        "repo": "mjasonong/BlackpinkClassifier",
        "commit": "e43454a6811824974bc62e00cb0d81af50097090",
        "folders": ["dataset/cropped"],
        "ext": (".png", ".jpg", ".jpeg"),
        "dedupe": True,
        "what": "BLACKPINK's 4 members, tight face crops",
        "licence": SCRAPED,
    },
    "idols13": {
        "repo": "HannahGuo/Idol-Recognition",
        "commit": "54f3167d52e6d5dde6740350aa6ca500c6b05c6c",
        "folders": ["training_faces"],
        "ext": (".jpg", ".jpeg", ".png", ".jfif"),
        "dedupe": True,
        "what": "K-pop, 13 people (BTS 7, ITZY 5, ENHYPEN 1): training_faces/<group>/<member>/; "
        "the .npy arrays beside them are skipped",
        "licence": SCRAPED,
    },
    "kpop15": {
        "repo": "tapankarnik/Kpop-Idol-Face-Classifier",
        "commit": "277bcc453cef50d736ac1b0810722f681650d9ca",
        "folders": ["data/processed_data"],
        "ext": (".jpg", ".jpeg", ".png"),
        "dedupe": True,
        "what": "K-pop, 15 people, face crops; train/ and validation/ pooled per person",
        "licence": SCRAPED,
    },
    "bollywood": {
        "repo": "nairanan/Bollywood-Classification-Project",
        "commit": "1b5043fa0f9206e508377fd93bc919e3d391eab7",
        "folders": ["Model/dataset"],
        "exclude": ["Model/dataset/cropped"],
        "ext": (".jpg", ".jpeg", ".png"),
        "dedupe": True,
        "what": "5 Bollywood actors, the downloaded photos (cropped/ skipped: tight crops of the "
        "same photos). Some photos show several people; the repository checked only its crops",
        "licence": SCRAPED,
    },
    "asian": {
        "repo": "nz0001na/Asian_faces",
        "commit": "6f5cfc611d516693fee09968d4af23f366c8217e",
        "folders": ["sample_images", "sample_Korea", "sample_Japan", "DCleaning_tool"],
        "exclude": [
            "DCleaning_tool/raw_images/102/102_17.jpg",  # clean_result/102.csv: remove
            "DCleaning_tool/data_cleaning.jpg",  # a screenshot of the cleaning tool
        ],
        "ext": (".jpg", ".jpeg", ".png"),
        "dedupe": True,
        "what": "Asian celebrities, 40 numbered people: Chinese (1-10, 101-122), Korean "
        "(20000-), Japanese (30000-); DCleaning_tool's raw_images/ and target_images/ pooled "
        "per number. Labels partly uncleaned: DCleaning_tool/subject_list.csv marks 5 of its 22 "
        "people OK, 2 in cleaning, 15 uncleaned; the sample folders' state is not stated",
        "licence": SCRAPED,
    },
    "yaleb": {
        "repo": "Uranium2/recognition",
        "commit": "55008b5f2ab707eb7ae4464daa727d30b858d488",
        "folders": ["CroppedYale"],
        "ext": (".pgm",),
        "dedupe": True,
        "what": "Extended Yale Face Database B, cropped: 38 people x ~64 lightings "
        "(the .pgm.bad files, corrupt in the original, are skipped)",
        "licence": RESEARCH,
    },
    "utkface": {
        "repo": "mattans/AgeProgression",
        "commit": "2d937c615a3d10408db0ea795842e569bc9eedb0",
        "folders": ["data/UTKFace/unlabeled"],
        "ext": (".jpg",),
        "dedupe": True,
        "identities": False,
        "what": "UTKFace aligned crops, no identities: age, gender and race in the file name "
        "(age_gender_race_date.jpg.chip.jpg)",
        "licence": RESEARCH,
    },
}

GENDERS = ("male", "female")
RACES = ("white", "black", "asian", "indian", "other")
_UTK = re.compile(r"(\d{1,3})_([01])_([0-4])_\d+")


def parse_utkface(name: str) -> dict | None:
    """Age, gender and race of a UTKFace file name (``26_1_2_20170116174525125.jpg.chip.jpg``:
    26, female, asian), or None for a name that does not follow the pattern (a few lack a
    field)."""
    m = _UTK.match(name)
    if not m:
        return None
    return {
        "age": int(m.group(1)),
        "gender": GENDERS[int(m.group(2))],
        "race": RACES[int(m.group(3))],
    }


def natural_key(name: str) -> tuple:
    """Sort key that reads digit runs as numbers: ``x_9`` before ``x_10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def person_of(path: str) -> str:
    """The folder a photo is in: the person, in every set of this module."""
    return path.rsplit("/", 2)[-2]


def _excluded(path: str, exclude: list[str]) -> bool:
    return any(path == e or path.startswith(e.rstrip("/") + "/") for e in exclude)


def select(spec: dict, blobs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], dict]:
    """The (sha, path) entries of a listing that a source takes, sorted by path, and the counts
    of what was left out (``excluded``, ``duplicates``, ``subsampled``)."""
    exclude = spec.get("exclude", [])
    kept = sorted((b for b in blobs if not _excluded(b[1], exclude)), key=lambda b: b[1])
    counts = {"excluded": len(blobs) - len(kept), "duplicates": 0, "subsampled": 0}
    if spec.get("dedupe"):
        seen: set[tuple[str, str]] = set()
        unique = []
        for sha, path in kept:
            if (person_of(path), sha) not in seen:
                seen.add((person_of(path), sha))
                unique.append((sha, path))
        counts["duplicates"] = len(kept) - len(unique)
        kept = unique
    stride = spec.get("stride", 1)
    if stride > 1:
        people: dict[str, list[tuple[str, str]]] = {}
        for b in kept:
            people.setdefault(b[1].rsplit("/", 1)[0], []).append(b)
        every = [
            b
            for group in people.values()
            for b in sorted(group, key=lambda b: natural_key(b[1].rsplit("/", 1)[-1]))[::stride]
        ]
        counts["subsampled"] = len(kept) - len(every)
        kept = sorted(every, key=lambda b: b[1])
    return kept, counts


def folder_identities(source: str, base: Path) -> dict[str, list[str]]:
    """``<source>/<folder name>`` -> sorted paths (``<source>/...``, relative to the extract
    root) of the photos extracted under ``base`` (the source's own folder)."""
    ext = SOURCES[source]["ext"]
    people: dict[str, list[str]] = {}
    for dirpath, _, names in os.walk(base):
        rel = Path(dirpath).relative_to(base).as_posix()
        for f in names:
            if f.lower().endswith(ext):
                path = f"{source}/{rel}/{f}" if rel != "." else f"{source}/{f}"
                people.setdefault(f"{source}/{person_of(path)}", []).append(path)
    return {k: sorted(v) for k, v in sorted(people.items())}


def utkface_records(base: Path) -> tuple[list[dict], list[str]]:
    """The parsed UTKFace photos under ``base`` (``relpath``, ``age``, ``gender``, ``race``),
    sorted by path, and the names that did not parse."""
    rows, bad = [], []
    for folder in SOURCES["utkface"]["folders"]:
        d = base / folder
        for f in sorted(os.listdir(d)) if d.is_dir() else []:
            if not f.lower().endswith(SOURCES["utkface"]["ext"]):
                continue
            parsed = parse_utkface(f)
            if parsed is None:
                bad.append(f)
            else:
                rows.append({"relpath": f"utkface/{folder}/{f}", **parsed})
    return rows, bad
