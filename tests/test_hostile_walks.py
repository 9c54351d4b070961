"""Folder walks of ``tinyfq score`` (issue 26): every image by any common extension, every
file not scored counted, every folder that cannot be listed an error row, and no link
followed back up into a folder already on the path."""

import os
import shutil

import pytest

from tests.conftest import read_csv
from tinyfq_native.cli import common, main

JPEG_NAMES = ("a.jpg", "b.JPEG", "c.jpe", "d.jfif", "e.pjpeg", "f.pjp")


@pytest.fixture()
def face(data_root):
    return sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]


def test_a_walk_scores_jpegs_by_any_extension_and_counts_what_it_skips(face, tmp_path, capsys):
    """A folder argument silently skipped .jfif/.jpe JPEGs (which decode fine), files of other
    types and FIFOs named .jpg; given by name the same files got rows."""
    import cv2

    folder = tmp_path / "in"
    folder.mkdir()
    for name in JPEG_NAMES:
        shutil.copy(face, folder / name)
    bgr = cv2.imread(str(face))
    cv2.imwrite(str(folder / "g.bmp"), bgr)
    shutil.copy(folder / "g.bmp", folder / "h.dib")
    cv2.imwrite(str(folder / "i.pgm"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    (folder / "notes.txt").write_text("not an image")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "gone.jpg").symlink_to(tmp_path / "nothing.jpg")
    out = tmp_path / "rows.csv"
    assert main(["score", str(folder), "-o", str(out), "-q"]) == 0
    rows = {os.path.basename(r["path"]): r for r in read_csv(out)}
    assert sorted(rows) == sorted(JPEG_NAMES + ("g.bmp", "h.dib", "i.pgm"))
    assert all(r["status"] == "ok" for r in rows.values()), rows
    err = capsys.readouterr().err
    assert "tinyfq score: skipped 3 files that are not images: use --list-skipped" in err
    assert main(["score", str(folder), "-o", str(out), "-q", "--list-skipped"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {folder / 'notes.txt'}: not an image file name" in err
    assert f"skipped {folder / 'pipe.jpg'}: not a regular file (a FIFO)" in err
    assert f"skipped {folder / 'gone.jpg'}: not a readable file" in err
    # named directly, the FIFO gets its error row (and is not opened: no hang)
    assert main(["score", str(folder / "pipe.jpg"), "-o", str(out), "-q"]) == 1
    assert read_csv(out)[0]["status"] == "invalid"


def test_a_sub_folder_that_cannot_be_listed_gets_an_error_row(face, tmp_path, monkeypatch):
    """-r skipped a sub-folder it could not list (permission, name too long) with no row and
    exit 0."""
    folder = tmp_path / "in"
    (folder / "closed").mkdir(parents=True)
    shutil.copy(face, folder / "a.jpg")
    shutil.copy(face, folder / "closed" / "b.jpg")
    # a folder whose path is longer than the system takes (PATH_MAX, 4096 on Linux)
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            fd, old = os.open("d" * 250, os.O_RDONLY, dir_fd=fd), fd
            os.close(old)
    finally:
        os.close(fd)
    scandir = os.scandir

    def refusing(path="."):  # the test runs as root, whom chmod 000 does not stop
        if os.fspath(path).endswith("closed"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    out = tmp_path / "rows.csv"
    assert main(["score", "-r", str(folder), "-o", str(out), "-q"]) == 1
    rows = read_csv(out)
    assert [r["status"] for r in rows] == ["ok", "invalid", "invalid"], rows
    assert rows[1]["path"] == str(folder / "closed")
    assert rows[1]["message"] == f"{folder / 'closed'}: cannot list this folder: Permission denied"
    assert rows[2]["message"].endswith("cannot list this folder: File name too long")


def test_walks_never_follow_a_link_back_up(face, tmp_path):
    """`-r 'DIR/**/*.jpg'` followed folder links: one loop gave the same photo under 41 names
    (a loop plus one more link walked for minutes). A link to a folder on the path is not
    followed; a link elsewhere is."""
    top = tmp_path / "top"
    (top / "a" / "b").mkdir(parents=True)
    shutil.copy(face, top / "x.jpg")
    shutil.copy(face, top / "a" / "b" / "y.jpg")
    (top / "a" / "b" / "up").symlink_to(top)  # a loop
    (top / "a" / "again").symlink_to(top / "a")  # another
    (top / "side").symlink_to(top / "a" / "b")  # not a loop: its photo under a second name
    want = [str(top / "a" / "b" / "y.jpg"), str(top / "side" / "y.jpg"), str(top / "x.jpg")]
    for arg in (str(top), str(top / "**" / "*.jpg")):
        found = common.walk_inputs([arg], recursive=True)
        assert sorted(found.paths) == want, arg
        loops = [top / "a" / "again", top / "a" / "b" / "up", top / "side" / "up"]
        assert sorted(found.loops) == [str(p) for p in loops]
    out = tmp_path / "rows.csv"
    assert main(["score", "-r", str(top / "**" / "*.jpg"), "-o", str(out), "-q"]) == 0
    assert len(read_csv(out)) == 3
