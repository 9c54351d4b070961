"""The extra identity-labelled photos (natural variation beyond LFW and CelebA), which stay out
of this repository: they are extracted from public git repositories at fixed commits into a
folder of their own (default ``~/.cache/tinyfq-native/extra``, or ``$TINYFQ_EXTRA``).

- Pins Face Recognition: 105 people, ~17.5k loose face crops scraped from Pinterest; research
  use only (the repository states no licence). Repository
  FarahKhattab/Face-detection-and-recognition-using-InceptionV3, commit 747e46ee, folders
  ``train/ val/ test/``, one ``pins_<Name>`` folder per person in each. The same people are in
  all three folders, so we pool them and split by identity ourselves.
- FaceScrub (12-actor subset): 1,936 uncropped photos named ``<surname><n>.jpg``. Repository
  Shane0510/csc411, commit b7216c37, folder ``uncropped/``.

With a clone (or a bare mirror) of each repository::

    python -m facedata.extra --pins-git PATH/TO/Face-detection-...-InceptionV3 \\
                             --facescrub-git PATH/TO/csc411

Relative paths in label files look like ``pins/train/pins_Adriana Lima/Adriana Lima0_0.jpg`` and
``facescrub/uncropped/baldwin0.jpg``; ``resolve`` maps them (and ../shared/data paths) to files.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

SOURCES = {
    "pins": {
        "repo": "FarahKhattab/Face-detection-and-recognition-using-InceptionV3",
        "commit": "747e46ee",
        "folders": ["train", "val", "test"],
    },
    "facescrub": {"repo": "Shane0510/csc411", "commit": "b7216c37", "folders": ["uncropped"]},
}
IMAGE_EXT = (".jpg", ".jpeg", ".png")


def default_root() -> Path:
    env = os.environ.get("TINYFQ_EXTRA")
    return Path(env) if env else Path.home() / ".cache" / "tinyfq-native" / "extra"


def extract(source: str, git_dir: str | Path, root: Path | None = None) -> tuple[Path, int]:
    """Write ``source``'s folders at its pinned commit under ``root/source``. Returns the folder
    and how many files the repository copy lacked (a partial mirror may miss a few blobs; they
    are skipped and counted)."""
    spec = SOURCES[source]
    out = (root or default_root()) / source
    git = ["git", "--git-dir", str(_git_dir(Path(git_dir)))]
    listing = subprocess.run(
        git + ["ls-tree", "-r", "-z", spec["commit"], "--", *spec["folders"]],
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    blobs = []
    for entry in filter(None, listing):
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and name.decode().lower().endswith(IMAGE_EXT):
            blobs.append((sha.decode(), name.decode()))
    proc = subprocess.Popen(
        git + ["cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    missing = 0
    for sha, name in blobs:
        proc.stdin.write(sha.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if header[-1] == b"missing":
            missing += 1
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        dest = out / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    proc.stdin.close()
    proc.wait()
    return out, missing


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").is_dir() else path


def resolve(relpath: str, data_root: str | Path, extra_root: str | Path | None = None) -> Path:
    """The file of a label path: ``pins/...`` and ``facescrub/...`` live in the extra folder,
    everything else under the data root (../shared/data)."""
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pins-git", help="clone or bare mirror of the Pins repository")
    p.add_argument("--facescrub-git", help="clone or bare mirror of the FaceScrub repository")
    p.add_argument("--root", type=Path, default=None, help="output folder (default: %(default)s)")
    a = p.parse_args(argv)
    for source, git_dir in (("pins", a.pins_git), ("facescrub", a.facescrub_git)):
        if git_dir:
            out, missing = extract(source, git_dir, a.root)
            n = sum(
                len(v)
                for v in (
                    pins_identities(a.root) if source == "pins" else facescrub_identities(a.root)
                ).values()
            )
            print(
                f"{source}: {n} photos in {out} ({missing} absent from that copy)", file=sys.stderr
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
