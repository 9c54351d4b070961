"""The real frame sequences of protocol 6 (evaluation/video_real.py), read with git from local
mirrors of two public repositories and extracted to the evaluation cache folder (nothing of
them is copied into this repository):

- **NUAA** (imironica/liveness@415a750d380dc1ad03815d9f99287f0661715510, ``db/ClientRaw/``):
  5,105 webcam frames of 15 real people. A file is ``ID_GLASSES_POS_SESSION_FRAME.jpg``
  (the folder's readme: glasses 00 with / 01 without, pos a lighting and movement condition,
  session 01-03, frame the picture number). One (person, glasses, pos, session) is one
  sequence, a burst folder whose frames are renamed to their zero-padded number so that name
  order is frame order (25 sequences; 6 people have more than one session).
- **LivePortrait** (KwaiVGI/LivePortrait@1986663be3b6902605d32200c01f4bfd36cda83d,
  ``assets/examples/{driving,source}/*.mp4``, MIT): 17 clips of one person each, distinct
  people (checked by eye on their first frames only).

The mirrors are looked for under ``$TINYFQ_MIRRORS`` (default /work/.mirror), as
``imironica+liveness/repo`` and ``KwaiVGI+LivePortrait/repo``.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIRRORS = os.environ.get("TINYFQ_MIRRORS", "/work/.mirror")
NUAA = {
    "repository": "imironica/liveness",
    "commit": "415a750d380dc1ad03815d9f99287f0661715510",
    "folder": "db/ClientRaw/",
    "mirror": "imironica+liveness/repo",
}
LIVEPORTRAIT = {
    "repository": "KwaiVGI/LivePortrait",
    "commit": "1986663be3b6902605d32200c01f4bfd36cda83d",
    "folder": "assets/examples/{driving,source}/*.mp4",
    "mirror": "KwaiVGI+LivePortrait/repo",
    "licence": "MIT",
}
NUAA_NAME = re.compile(r"^(\d{4})_(\d{2})_(\d{2})_(\d{2})_(\d+)\.jpg$")


@dataclass
class Sequence:
    """One frame sequence: its ``sessions`` are (session id, person, session label, first
    frame, end frame) over the frames of ``source`` (a folder or a clip in the cache)."""

    set: str
    name: str
    person: str
    source: str
    sessions: list = field(default_factory=list)


def have_mirrors(mirrors: str = MIRRORS) -> bool:
    """Whether both repositories are on disk at the pinned commits."""
    for spec in (NUAA, LIVEPORTRAIT):
        repo = Path(mirrors) / spec["mirror"]
        if not repo.exists():
            return False
        ok = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "-e", spec["commit"] + "^{commit}"],
            capture_output=True,
        )
        if ok.returncode:
            return False
    return True


def _git_files(repo: Path, commit: str, folder: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", commit, "--", folder],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _extract(repo: Path, commit: str, files: dict[str, Path]) -> None:
    """Write each repository file (path -> destination) with one `git cat-file --batch`."""
    todo = {p: d for p, d in files.items() if not d.exists()}
    if not todo:
        return
    cmd = ["git", "-C", str(repo), "cat-file", "--batch"]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        assert p.stdin is not None and p.stdout is not None
        for path, dest in todo.items():
            p.stdin.write(f"{commit}:{path}\n".encode())
            p.stdin.flush()
            head = p.stdout.readline().split()
            if len(head) != 3:
                raise FileNotFoundError(f"{repo}: no {path} at {commit}")
            data = p.stdout.read(int(head[2]))
            p.stdout.read(1)  # the newline after each object
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(dest.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(dest)


def parse_nuaa(name: str) -> tuple[str, str, str, str, int] | None:
    """(person, glasses, pos, session, frame) of a NUAA file name; None for other files."""
    m = NUAA_NAME.match(name)
    return (m[1], m[2], m[3], m[4], int(m[5])) if m else None


def nuaa_groups(paths: list[str]) -> dict[tuple[str, str, str, str], list[tuple[int, str]]]:
    """The NUAA sequences: (person, glasses, pos, session) -> [(frame, path)] in frame order."""
    groups: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
    for p in paths:
        got = parse_nuaa(p.rsplit("/", 1)[-1])
        if got:
            groups.setdefault(got[:4], []).append((got[4], p))
    return {k: sorted(v) for k, v in sorted(groups.items())}


def nuaa_sequences(mirrors: str, cache: str, people: tuple | None = None) -> list[Sequence]:
    """The NUAA sequences as burst folders in the cache (frames renamed to their zero-padded
    number, so that name order is frame order)."""
    repo = Path(mirrors) / NUAA["mirror"]
    groups = nuaa_groups(_git_files(repo, NUAA["commit"], NUAA["folder"]))
    root = Path(cache) / "video-real" / "nuaa"
    seqs, files = [], {}
    for (person, glasses, pos, session), frames in groups.items():
        if people is not None and person not in people:
            continue
        name = f"{person}_g{glasses}_p{pos}_s{session}"
        folder = root / name
        for n, path in frames:
            files[path] = folder / f"{n:05d}.jpg"
        seq = Sequence("nuaa", name, person, str(folder))
        seq.sessions = [(name, person, session, 0, len(frames))]
        seqs.append(seq)
    _extract(repo, NUAA["commit"], files)
    return seqs


def liveportrait_sequences(mirrors: str, cache: str, clips: tuple | None = None) -> list[Sequence]:
    """The LivePortrait clips in the cache; sessions are set once the clip's length is known."""
    repo = Path(mirrors) / LIVEPORTRAIT["mirror"]
    paths = [
        p
        for p in _git_files(repo, LIVEPORTRAIT["commit"], "assets/examples")
        if re.fullmatch(r"assets/examples/(driving|source)/[^/]+\.mp4", p)
    ]
    root = Path(cache) / "video-real" / "liveportrait"
    files = {p: root / p.rsplit("/", 1)[-1] for p in paths}
    if clips is not None:
        files = {p: d for p, d in files.items() if d.stem in clips}
    _extract(repo, LIVEPORTRAIT["commit"], files)
    return [Sequence("liveportrait", d.stem, d.stem, str(d)) for d in sorted(files.values())]


def frame_images(seq: Sequence, wanted: set[int], rotation: int) -> dict[int, np.ndarray]:
    """The upright RGB frames ``wanted`` of a sequence (decoded as the pipeline decodes)."""
    if os.path.isdir(seq.source):
        from tinyfq_native.images import read_image
        from tinyfq_native.video import FRAME_EXTS

        files = sorted(f for f in os.listdir(seq.source) if f.lower().endswith(FRAME_EXTS))
        return {n: read_image(os.path.join(seq.source, files[n])) for n in wanted}
    import av

    out = {}
    with av.open(seq.source) as c:
        for n, frame in enumerate(c.decode(video=0)):
            if n in wanted:
                img = frame.to_ndarray(format="rgb24")
                k = (rotation // 90) % 4
                out[n] = np.ascontiguousarray(np.rot90(img, k)) if k else img
            if n >= max(wanted):
                break
    return out
