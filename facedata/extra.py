"""The extra identity-labelled photos (natural variation beyond LFW and CelebA), which stay out
of this repository: they are extracted from public git repositories at fixed commits into a
folder of their own (default ``~/.cache/tinyfq-native/extra``, or ``$TINYFQ_EXTRA``), one
subfolder per source, with ``provenance.json`` beside them (per source: repository, commit,
folders, files, missing, licence, extraction time).

- Pins Face Recognition: 105 people, ~17.5k loose face crops scraped from Pinterest; research
  use only (the repository states no licence). Repository
  FarahKhattab/Face-detection-and-recognition-using-InceptionV3, commit 747e46ee, folders
  ``train/ val/ test/``, one ``pins_<Name>`` folder per person in each. The same people are in
  all three folders, so we pool them and split by identity ourselves.
- FaceScrub (12-actor subset): 1,936 uncropped photos named ``<surname><n>.jpg``. Repository
  Shane0510/csc411, commit b7216c37, folder ``uncropped/``.
- Issue 25's sets (``facedata.extra_sources``: table, licences, what is taken): NUAA real
  faces (every 10th webcam frame), a CASIA-FaceV5 subset, BLACKPINK, two K-pop sets, Bollywood
  actors, Asian celebrities, Extended Yale B (cropped) and UTKFace (age, gender and race, no
  identities: ``utkface_faces``). All research-only or without a stated licence. Their
  identities are ``<source>/<folder>`` (``identities``); one person can be in two sources
  under two names, and nothing merges them.

With a clone (or a bare mirror) of each repository::

    python -m facedata.extra --pins-git PATH/TO/Face-detection-...-InceptionV3 \\
                             --facescrub-git PATH/TO/csc411
    python -m facedata.extra --source casia5 --git PATH/TO/PCA-SVM- [--source ... --git ...]
    python -m facedata.extra --mirrors DIR   # every source with a DIR/<owner>+<name>/repo

Relative paths in label files look like ``pins/train/pins_Adriana Lima/Adriana Lima0_0.jpg``,
``facescrub/uncropped/baldwin0.jpg`` and ``casia5/000/000_0.bmp``; ``resolve`` maps them (and
../shared/data paths) to files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import zlib
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from facedata.extra_sources import SOURCES as NEW_SOURCES
from facedata.extra_sources import (
    folder_identities,
    parse_utkface,
    person_of,
    select,
    utkface_records,
)

SOURCES = {
    "pins": {
        "repo": "FarahKhattab/Face-detection-and-recognition-using-InceptionV3",
        "commit": "747e46ee",
        "folders": ["train", "val", "test"],
        "what": "Pins Face Recognition, 105 people, loose crops; train/ val/ test/ pooled",
        "licence": "research use only; the repository states no licence",
    },
    "facescrub": {
        "repo": "Shane0510/csc411",
        "commit": "b7216c37",
        "folders": ["uncropped"],
        "what": "FaceScrub, 12 actors, uncropped photos",
        "licence": "research use only; the repository states no licence",
    },
    **NEW_SOURCES,
}
IMAGE_EXT = (".jpg", ".jpeg", ".png")
PROVENANCE = "provenance.json"


def default_root() -> Path:
    env = os.environ.get("TINYFQ_EXTRA")
    return Path(env) if env else Path.home() / ".cache" / "tinyfq-native" / "extra"


def extract(source: str, git_dir: str | Path, root: Path | None = None) -> tuple[Path, int]:
    """Write ``source``'s photos at its pinned commit under ``root/source``. Returns the folder
    and how many files the repository copy lacked (a partial mirror may miss a few blobs; they
    are skipped and counted). A file already there with the same size is left alone; files of
    an earlier extraction that this one does not take are removed. Records the run in
    ``root/provenance.json``."""
    rec = extract_source(source, git_dir, root)
    return Path(rec["folder"]), rec["missing"]


def extract_source(source: str, git_dir: str | Path, root: Path | None = None) -> dict:
    """``extract``, returning the provenance record it wrote."""
    spec = SOURCES[source]
    root = Path(root or default_root())
    out = root / source
    git = ["git", "--git-dir", str(_git_dir(Path(git_dir)))]
    commit = subprocess.run(
        git + ["rev-parse", "--verify", spec["commit"] + "^{commit}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    listing = subprocess.run(
        git + ["ls-tree", "-r", "-z", commit, "--", *spec["folders"]],
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    ext = spec.get("ext", IMAGE_EXT)
    listed = []
    for entry in filter(None, listing):
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and name.decode().lower().endswith(ext):
            listed.append((sha.decode(), name.decode()))
    blobs, counts = select(spec, listed) if source in NEW_SOURCES else (listed, {})
    missing = []
    bar = tqdm(blobs, desc=source, unit="file", file=sys.stderr, disable=len(blobs) < 1000)
    cat = git + ["cat-file", "--batch"]
    with subprocess.Popen(cat, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        for sha, name in bar:
            proc.stdin.write(sha.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if header[-1] == b"missing":
                missing.append(name)
                continue
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)
            dest = out / name
            if not (dest.is_file() and dest.stat().st_size == len(data)):
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
        proc.stdin.close()
    taken = {name for _, name in blobs}
    stale = [
        p for p in out.rglob("*") if p.is_file() and p.relative_to(out).as_posix() not in taken
    ]
    for p in stale:
        p.unlink()
    rec = {
        "repo": spec["repo"],
        "commit": commit,
        "folders": spec["folders"],
        "what": spec.get("what", ""),
        "licence": spec.get("licence", ""),
        "listed": len(listed),
        **counts,
        "files": len(blobs) - len(missing),
        "missing": len(missing),
        "missing_files": missing,
        "people": len({person_of(n) for _, n in blobs}) if spec.get("identities", True) else 0,
        "stride": spec.get("stride", 1),
        "extracted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "folder": str(out),
    }
    if source == "utkface":
        rec["unparsed"] = sorted(p for _, p in blobs if parse_utkface(p.rsplit("/", 1)[-1]) is None)
    if source == "pins":
        rec["people"] = len({n.split("/")[1] for _, n in blobs})
    elif source == "facescrub":
        rec["people"] = len(facescrub_identities(root))
    _record(root, source, rec)
    return rec


def provenance(root: Path | None = None) -> dict:
    """Source -> the record of its last extraction into ``root`` (empty when none)."""
    path = Path(root or default_root()) / PROVENANCE
    return json.loads(path.read_text()) if path.is_file() else {}


def _record(root: Path, source: str, rec: dict) -> None:
    data = provenance(root) | {source: rec}
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (PROVENANCE + ".tmp")
    tmp.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")
    tmp.replace(root / PROVENANCE)


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").is_dir() else path


def resolve(relpath: str, data_root: str | Path, extra_root: str | Path | None = None) -> Path:
    """The file of a label path: ``pins/...``, ``facescrub/...`` and the other sources' paths
    (``casia5/000/000_0.bmp``) live in the extra folder, everything else under the data root
    (../shared/data)."""
    head = relpath.split("/", 1)[0]
    if head in SOURCES:
        return Path(extra_root or default_root()) / relpath
    return Path(data_root) / relpath


def pins_identities(root: Path | None = None) -> dict[str, list[str]]:
    """Pins person -> relative paths of all their photos (train/val/test pooled), sorted."""
    base = (root or default_root()) / "pins"
    people: dict[str, list[str]] = {}
    for split in SOURCES["pins"]["folders"]:
        d = base / split
        if not d.is_dir():
            continue
        for person in sorted(os.listdir(d)):
            name = person.removeprefix("pins_")
            for f in sorted(os.listdir(d / person)):
                if f.lower().endswith(IMAGE_EXT):
                    people.setdefault(name, []).append(f"pins/{split}/{person}/{f}")
    return {k: sorted(v) for k, v in sorted(people.items())}


def facescrub_identities(root: Path | None = None) -> dict[str, list[str]]:
    """FaceScrub actor (file-name prefix) -> relative paths of their photos, sorted."""
    d = (root or default_root()) / "facescrub" / "uncropped"
    people: dict[str, list[str]] = {}
    if d.is_dir():
        for f in sorted(os.listdir(d)):
            m = re.fullmatch(r"([A-Za-z_]+)\d+\.(jpe?g|png)", f, re.IGNORECASE)
            if m:
                people.setdefault(m.group(1), []).append(f"facescrub/uncropped/{f}")
    return people


def pins_heldout(names: list[str], fraction: float = 0.25) -> set[str]:
    """The Pins identities held out for evaluation: a stable hash of the name decides, so the
    split does not move when people are added or removed."""
    return {n for n in names if zlib.crc32(n.encode()) % 1000 < fraction * 1000}


def identities(source: str, root: Path | None = None) -> dict[str, list[str]]:
    """``<source>/<person>`` -> sorted relative paths (``<source>/...``, as ``resolve`` takes
    them) of an identity source's photos in the extract folder; empty when not extracted."""
    if source == "pins":
        return {f"pins/{k}": v for k, v in pins_identities(root).items()}
    if source == "facescrub":
        return {f"facescrub/{k}": v for k, v in facescrub_identities(root).items()}
    if not SOURCES[source].get("identities", True):
        raise ValueError(f"{source} has no identities (utkface_faces reads its labels)")
    return folder_identities(source, (root or default_root()) / source)


def utkface_faces(root: Path | None = None) -> list[dict]:
    """The UTKFace photos: ``relpath``, ``age`` (int), ``gender`` ("male"/"female"), ``race``
    ("white", "black", "asian", "indian", "other"), sorted by path. Names that do not parse are
    skipped (provenance.json lists them under ``unparsed``)."""
    return utkface_records((root or default_root()) / "utkface")[0]


def summary(source: str, root: Path | None = None) -> tuple[int, int]:
    """(people, photos) of a source in the extract folder (people 0 for UTKFace)."""
    if not SOURCES[source].get("identities", True):
        return 0, len(utkface_faces(root))
    people = identities(source, root)
    return len(people), sum(len(v) for v in people.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pins-git", help="clone or bare mirror of the Pins repository")
    p.add_argument("--facescrub-git", help="clone or bare mirror of the FaceScrub repository")
    p.add_argument(
        "--source",
        action="append",
        default=[],
        choices=sorted(SOURCES),
        help="a source to extract from the --git of the same rank (repeatable)",
    )
    p.add_argument("--git", action="append", default=[], help="clone or mirror for --source")
    p.add_argument(
        "--mirrors",
        type=Path,
        help="folder of mirrors <owner>+<name>/repo: extract every source found",
    )
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"output folder (default: $TINYFQ_EXTRA or {default_root()})",
    )
    a = p.parse_args(argv)
    if len(a.source) != len(a.git):
        p.error("give one --git for each --source")
    jobs = [(s, g) for s, g in (("pins", a.pins_git), ("facescrub", a.facescrub_git)) if g]
    jobs += list(zip(a.source, a.git))
    if a.mirrors:
        for source, spec in SOURCES.items():
            mirror = a.mirrors / spec["repo"].replace("/", "+") / "repo"
            if mirror.is_dir():
                jobs.append((source, str(mirror)))
            else:
                print(f"{source}: no mirror at {mirror}", file=sys.stderr)
    if not jobs:
        p.error("nothing to extract: give --mirrors, --source/--git or --pins-git/--facescrub-git")
    for source, git_dir in jobs:
        rec = extract_source(source, git_dir, a.root)
        people, photos = summary(source, a.root)
        print(
            f"{source}: {people} people, {photos} photos in {rec['folder']} "
            f"({rec['missing']} absent from that copy)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
