"""The inputs of a run: files, folders (their images, every level with -r) and globs, in
order, each once. Walks follow links to folders but never into a folder already on the path
(a link back up would repeat the same photos under ever longer names); a folder that cannot be
listed, and every file a walk meets and does not score, are reported rather than lost."""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from dataclasses import dataclass, field

#: JPEG by any common extension, PNG, BMP and PNM: what a folder walk scores.
JPEG_EXTS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".pjpeg", ".pjp"})
IMAGE_EXTS = JPEG_EXTS | {".png", ".bmp", ".dib", ".ppm", ".pgm", ".pbm", ".pnm"}

#: A folder's identity, (st_dev, st_ino): what a walk compares to see a link lead back up.
_Key = tuple[int, int]


@dataclass
class Inputs:
    """``paths`` to score in order; ``unlistable`` folder -> the OS's reason, each also in
    ``paths`` where the walk met it (it gets an error row there); ``skipped`` (path, why) for
    every file a walk met and does not score; ``loops`` the links not followed."""

    paths: list[str] = field(default_factory=list)
    unlistable: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def _not_regular(path: str) -> str:
    """Why a walk does not score a file with an image extension."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return f"not a readable file ({_reason(e)})"
    kind = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return f"not a regular file ({kind})" if kind.startswith("a ") else kind


def _key(st: os.stat_result) -> _Key:
    return (st.st_dev, st.st_ino)


class _Walk:
    """One argument's walk, collecting into ``into``."""

    def __init__(self, into: Inputs):
        self.into = into

    def listing(self, folder: str) -> list[os.DirEntry[str]] | None:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as e:
            self.into.unlistable[folder] = f"cannot list this folder: {_reason(e)}"
            return None

    def folder(
        self, top: str, recursive: bool, ancestors: frozenset[_Key] = frozenset()
    ) -> list[str]:
        """The images below ``top`` (every level when ``recursive``), unsorted; a link to a
        folder on the path from the top is not entered. A folder that cannot be listed is
        itself in the list (in ``unlistable``: it gets an error row where it stands)."""
        entries = self.listing(top)
        if entries is None:
            return [top]
        try:
            ancestors = ancestors | {_key(os.stat(top))}
        except OSError:
            pass
        found: list[str] = []
        for e in entries:
            try:
                is_dir, is_file = e.is_dir(), e.is_file()  # both follow links
            except OSError:
                is_dir = is_file = False
            if is_dir:
                if not recursive:
                    continue
                if e.is_symlink():  # only a link can lead back up
                    try:
                        key = _key(os.stat(e.path))
                    except OSError as err:
                        self.into.unlistable[e.path] = f"cannot list this folder: {_reason(err)}"
                        found.append(e.path)
                        continue
                    if key in ancestors:
                        self.into.loops.append(e.path)
                        continue
                found += self.folder(e.path, True, ancestors)
            elif os.path.splitext(e.name)[1].lower() not in IMAGE_EXTS:
                self.into.skipped.append((e.path, "not an image file name"))
            elif not is_file:
                self.into.skipped.append((e.path, _not_regular(e.path)))
            else:
                found.append(e.path)
        return found

    def below(self, base: str, files: bool, ancestors: frozenset[_Key]) -> list[str]:
        """``**`` of a recursive glob: ``base`` and every folder below it (and, with
        ``files``, every file too), hidden names excepted, not entering a folder twice on
        one path."""
        out = [base] if not files else []
        entries = self.listing(base or os.curdir)
        if entries is None:
            return out
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                st = os.stat(e.path)
            except OSError:
                continue
            path = os.path.join(base, e.name)
            if stat.S_ISDIR(st.st_mode):
                if _key(st) in ancestors:
                    self.into.loops.append(path)
                    continue
                out += self.below(path, files, ancestors | {_key(st)})
                if files:
                    continue
            elif files:
                out.append(path)
        return out

    def glob(self, pattern: str) -> list[str]:
        """A recursive glob like glob.glob(recursive=True), but following a link only into a
        folder that is not already on its path."""
        head, parts = ("", pattern.split(os.sep))
        if pattern.startswith(os.sep):
            head, parts = os.sep, pattern.lstrip(os.sep).split(os.sep)
        before = set(self.into.unlistable)
        found: list[tuple[str, frozenset[_Key]]] = [(head, frozenset())]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            step: list[tuple[str, frozenset[_Key]]] = []
            for base, anc in found:
                try:
                    anc = anc | {_key(os.stat(base or os.curdir))}
                except OSError:
                    continue
                if part == "**":
                    step += [(p, anc) for p in self.below(base, last, anc)]
                elif glob.has_magic(part):
                    entries = self.listing(base or os.curdir)
                    names = [] if entries is None else [e.name for e in entries]
                    hidden = part.startswith(".")
                    for n in fnmatch.filter(names, part):
                        p = os.path.join(base, n)
                        if (hidden or not n.startswith(".")) and (last or os.path.isdir(p)):
                            step.append((p, anc))
                elif part or last:
                    p = os.path.join(base, part)
                    if os.path.lexists(p) if last else os.path.isdir(p):
                        step.append((p, anc))
                else:
                    step.append((base, anc))  # a doubled separator
            found = step
        # a folder it could not list gets an error row among the matches
        return [p for p, _ in found] + [f for f in self.into.unlistable if f not in before]


def walk_inputs(paths: list[str], recursive: bool) -> Inputs:
    """Files, folders and globs, in order, deduplicated (see :class:`Inputs`). A path that
    names nothing is kept, so that it gets its own error row; a glob that matches nothing too.
    Files named directly or matched by a glob are taken whatever they are (they get a row);
    a folder's walk takes the regular files with an image extension and reports the rest."""
    into = Inputs()
    walk = _Walk(into)
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(walk.folder(p, recursive))
        elif not os.path.lexists(p) and glob.has_magic(p):
            found = walk.glob(p) if recursive and "**" in p else glob.glob(p)
            # a pattern that matches nothing stays, so that it gets its own error row
            out += sorted(set(found)) or [p]
        else:
            out.append(p)
    into.paths = list(dict.fromkeys(out))  # each once, where it first comes
    return into


def expand(paths: list[str], recursive: bool) -> list[str]:
    """The paths to score of files, folders and globs (see :func:`walk_inputs`)."""
    return walk_inputs(paths, recursive).paths
