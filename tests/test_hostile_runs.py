"""Hostile runs of ``tinyfq score`` (issues "Hostile input" and 26): odd names, killed runs
and their --resume, outputs that cannot be written or are shared, closed streams. Every case
ends in a correct row or a clear error."""

import csv
import fcntl
import io
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import face_folder, read_csv
from tinyfq_native import Scorer, Status
from tinyfq_native.cli import main
from tinyfq_native.rows import FIELDS


def test_carriage_return_in_a_name_keeps_one_row(tmp_path, data_root):
    face = sorted((data_root / "lfw" / "images" / "Colin_Powell").glob("*.jpg"))[0]
    odd = tmp_path / "a\rb,c.jpg"
    shutil.copy(face, odd)
    out = tmp_path / "rows.csv"
    assert main(["score", str(odd), str(tmp_path / "none*.jpg"), "-o", str(out), "-q"]) == 1
    rows = read_csv(out)
    assert [r["path"] for r in rows] == [str(odd), str(tmp_path / "none*.jpg")]
    assert [r["status"] for r in rows] == ["ok", "missing"]  # the glob that matched nothing


def test_a_name_that_is_not_utf8_loses_no_row(tmp_path, data_root):
    """Its chunk used to raise TypeError (601 inputs -> 256 rows); now every file has a row and
    the odd name is written with \\x escapes, said in its message."""
    faces = sorted((data_root / "lfw" / "images").glob("*/*.jpg"))[:300]
    folder = face_folder(tmp_path / "in", faces, link=True)
    odd = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    shutil.copy(faces[0], odd)
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    scores, messages, kinds = Scorer().score_files_detailed(paths)
    assert kinds == [Status.ok] * 301 and not any(messages)
    missing = os.fsdecode(os.path.join(os.fsencode(folder), b"gone\xff.jpg"))
    _, messages, kinds = Scorer().score_files_detailed([missing])
    assert kinds == [Status.missing] and messages[0].endswith(missing)  # the same surrogates back
    out = tmp_path / "rows.csv"
    assert main(["score", str(folder), "-o", str(out), "-q"]) == 0
    rows = read_csv(out)
    assert len(rows) == 301 and all(r["status"] == "ok" for r in rows)
    row = next(r for r in rows if "caf" in r["path"])
    assert row["path"].endswith("caf\\xe9.jpg") and "not valid UTF-8" in row["message"]


def test_resume_continues_a_killed_run(tmp_path, data_root):
    faces = sorted((data_root / "lfw" / "images" / "Tony_Blair").glob("*.jpg"))[:12]
    folder = face_folder(tmp_path / "in", faces)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    full = tmp_path / "full.csv"
    assert main(["score", str(folder), "-o", str(full), "-q"]) == 1
    lines = full.read_text().splitlines(keepends=True)
    assert len(lines) == 15  # options + header + 13 rows
    # a run killed in the middle of writing its 6th row
    killed = tmp_path / "killed.csv"
    killed.write_text("".join(lines[:7]) + lines[7][:17])
    assert main(["score", str(folder), "-o", str(killed), "-q", "--resume"]) == 1
    got = {r["path"]: r for r in read_csv(killed)}
    want = {r["path"]: r for r in read_csv(full)}
    assert got == want  # every row once, same scores
    assert killed.read_text().startswith("".join(lines[:7]))  # the first rows kept as written
    # the error row is retried, the ok rows are not: a third run adds exactly one row
    assert main(["score", str(folder), "-o", str(killed), "-q", "--resume"]) == 1
    assert len(killed.read_text().splitlines()) == 16
    assert main(["score", str(folder), "--resume", "-q"]) == 2  # needs -o


# --- issue 26: a resume that never mixes or duplicates -------------------------------------


@pytest.fixture()
def blair(tmp_path, data_root):
    """Four Tony Blair photos; the first holds two faces."""
    faces = sorted((data_root / "lfw" / "images" / "Tony_Blair").glob("*.jpg"))[:4]
    return face_folder(tmp_path / "in", faces)


def _score(*args) -> int:
    return main(["score", *map(str, args), "-q"])


def test_resume_refuses_rows_made_with_other_options(blair, tmp_path, capsys):
    """A crop-mode output resumed with --detect kept its crop rows, and an --all-faces file
    resumed without it got 4-column rows under a 10-column header. The options and the model
    are recorded in the file's first line, and a resume that differs is refused."""
    out = tmp_path / "crops.csv"
    assert _score(blair, "-o", out) == 0
    before = out.read_bytes()
    options = json.loads(before.decode().splitlines()[0].removeprefix("# tinyfq "))
    info = Scorer().info
    assert options["mode"] == "crop" and options["model"] == {
        "version": info["version"],
        "weights_sha256": info["weights"]["sha256"],
    }
    capsys.readouterr()
    assert _score(blair, "-o", out, "--resume", "--detect") == 2
    err = capsys.readouterr().err
    assert f"cannot resume {out}" in err and 'mode: "crop" in the file, "detect" now' in err
    assert out.read_bytes() == before  # refused before anything changed
    for suffix in ("csv", "jsonl"):  # CSV: a header of other columns too
        faces = tmp_path / f"faces.{suffix}"
        assert _score(blair, "--detect", "--all-faces", "-o", faces) == 0
        assert _score(blair, "--detect", "-o", faces, "--resume") == 2
        assert "all_faces: true in the file, false now" in capsys.readouterr().err
    assert list(json.loads(faces.read_text().splitlines()[0])) == ["tinyfq"]
    for other in (["--detect-size", "160"], ["--reduced-decode"], ["--no-exif-orientation"]):
        assert _score(blair, "--detect", "--all-faces", "-o", faces, "--resume", *other) == 2
    # the same options resume (the last photo's rows are made again, the same)
    made = faces.read_bytes()
    assert _score(blair, "--detect", "--all-faces", "-o", faces, "--resume") == 0
    assert "resuming: 3 of 4 inputs" in capsys.readouterr().err
    assert faces.read_bytes() == made


def test_resume_refuses_an_output_that_records_no_options(blair, tmp_path, capsys):
    out = tmp_path / "old.csv"
    out.write_text(f"path,score,status,message\n{blair}/x.jpg,0.5,ok,\n")
    assert _score(blair, "-o", out, "--resume") == 2
    assert "records no options" in capsys.readouterr().err


def test_a_run_killed_before_its_first_row_leaves_a_resumable_file(blair, tmp_path, monkeypatch):
    """Killed before its first row, a run left 0 bytes; --resume then wrote no header and the
    next resume scored everything again. The header is written at once, and a 0-byte or
    header-only file resumes to one row per input."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    out = tmp_path / "rows.csv"
    with monkeypatch.context() as m:
        m.setattr(Scorer, "score_paths", killed)
        assert _score(blair, "-o", out) == 130
    head = out.read_text().splitlines()
    assert head[0].startswith("# tinyfq {") and head[1] == "path,score,status,message"
    assert len(head) == 2
    assert _score(blair, "-o", out, "--resume") == 0
    assert len(read_csv(out)) == 4
    for start in (b"", b"path,score,status,message\n"):  # 0 bytes; an older header alone
        out.write_bytes(start)
        assert _score(blair, "-o", out, "--resume") == 0
        assert _score(blair, "-o", out, "--resume") == 0  # nothing left: nothing added
        assert len(read_csv(out)) == 4 and out.read_text().startswith("# tinyfq {")


def test_all_faces_resume_completes_a_photo_cut_between_its_faces(blair, tmp_path):
    """Killed between two faces of a photo, the photo counted as done and its other faces were
    never written. A photo's rows go out in one write, and resume makes the last photo of the
    file again (the only one that can be incomplete)."""
    full = tmp_path / "full.csv"
    assert _score(blair, "--detect", "--all-faces", "-o", full) == 0
    lines = full.read_text().splitlines(keepends=True)
    rows = read_csv(full)
    assert [r["face"] for r in rows[:2]] == ["0", "1"] and rows[0]["path"] == rows[1]["path"]
    head = 1 + lines[0].startswith("# tinyfq ")  # the lines before the first row
    for keep in (1, 2):  # the first face of the two-face photo; then the whole photo
        cut = tmp_path / f"cut{keep}.csv"
        cut.write_text("".join(lines[: head + keep]))
        assert _score(blair, "--detect", "--all-faces", "-o", cut, "--resume") == 0
        assert read_csv(cut) == rows


def test_resume_matches_names_that_are_not_utf8(blair, tmp_path, capsys):
    """A name that is not UTF-8 is written escaped and was never matched on resume: scored and
    appended again on every resume."""
    shutil.copy(next(blair.iterdir()), os.path.join(os.fsencode(blair), b"caf\xe9.jpg"))
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"rows.{fmt}"
        assert _score(blair, "-o", out) == 0
        before = out.read_bytes()
        assert b"caf\\\\xe9.jpg" in before if fmt == "jsonl" else b"caf\\xe9.jpg" in before
        capsys.readouterr()
        assert _score(blair, "-o", out, "--resume") == 0
        assert "resuming: 5 of 5 inputs" in capsys.readouterr().err
        assert out.read_bytes() == before


def test_a_second_run_on_the_same_output_is_refused(blair, tmp_path, capsys):
    """Two runs writing the same -o interleaved (NUL bytes, lost lines) and both exited 0. The
    output is locked: the second run refuses, and leaves the first run's rows alone."""
    out = tmp_path / "rows.csv"
    assert _score(blair, "-o", out) == 0
    before = out.read_bytes()
    with open(out, "rb") as held:  # a run in progress holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        for resume in ([], ["--resume"]):
            capsys.readouterr()
            assert _score(blair, "-o", out, *resume) == 2
            assert f"cannot write {out}: another run is writing it" in capsys.readouterr().err
            assert out.read_bytes() == before
    assert _score(blair, "-o", out, "--resume") == 0  # the lock went with the run


def _cli(args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``tinyfq`` in a shell (for redirections such as 2>&-)."""
    cmd = f"exec {shlex.quote(sys.executable)} -m tinyfq_native.cli {args}"
    return subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=timeout)


def test_closed_or_read_only_stderr_loses_no_row(blair, tmp_path):
    """2>&-: the progress bar raised, every row was lost, exit 1 and no message; with -q the
    closing summary went into the CSV on stdout."""
    (blair / "bad.jpg").write_bytes(b"not a jpeg")
    for quiet in ("", "-q"):
        for stderr in ("2>&-", "2</dev/null"):
            r = _cli(f"score {blair} {quiet} {stderr}")
            assert r.returncode == 1, r.stdout  # bad.jpg failed
            first, rest = r.stdout.decode().split("\n", 1)
            rows = list(csv.DictReader(io.StringIO(rest)))
            assert first.startswith("# tinyfq ") and list(rows[0]) == list(FIELDS)
            assert [row["status"] for row in rows] == ["ok"] * 4 + ["invalid"]
    # with a stderr, -q keeps the summary there and out of the rows
    r = _cli(f"score {blair} -q")
    assert b"1 of 5 inputs failed" in r.stderr and b"failed" not in r.stdout


def test_a_closed_pipe_ends_the_run_quietly(tmp_path, data_root):
    """`tinyfq score DIR | head -2` ended in a BrokenPipeError traceback."""
    faces = sorted((data_root / "lfw" / "images").glob("*/*.jpg"))[:300]
    folder = face_folder(tmp_path / "in", faces, link=True)
    cmd = f"{shlex.quote(sys.executable)} -m tinyfq_native.cli score {folder} -q"
    r = subprocess.run(
        ["bash", "-c", f"{cmd} | head -2; echo status ${{PIPESTATUS[0]}} >&2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(r.stdout.splitlines()) == 2
    assert r.stderr.strip() == "status 141", r.stderr  # as if killed by SIGPIPE, no traceback


@pytest.mark.parametrize(
    "where, reason",
    [
        ("missing/rows.csv", "No such file or directory"),
        (".", "Is a directory"),
        ("/dev/full", "No space left on device"),
        (">&-", "stdout is closed"),
        ("> /dev/full", "No space left on device"),
    ],
)
def test_an_output_that_cannot_be_written_is_a_clear_error(blair, tmp_path, where, reason):
    """-o into a missing folder, onto a directory, /dev/full, or with stdout closed: a raw
    traceback and exit 1 (the code for "an input failed"). Now exit 2 and one line."""
    target = where if where.startswith((">", "/")) else str(tmp_path / where)
    output = where if where.startswith(">") else f"-o {target}"
    r = _cli(f"score {blair} -q {output}")
    err = r.stderr.decode()
    name = "<stdout>" if where.startswith(">") else target
    assert r.returncode == 2 and err == f"tinyfq score: cannot write {name}: {reason}\n", err


def test_dash_is_stdout(blair):
    r = _cli(f"score {blair} -q -o - --format jsonl")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 5  # the options record + 4 rows


def test_a_damaged_jsonl_line_stops_resume_naming_it(blair, tmp_path, capsys):
    """A corrupt middle line made --resume raise JSONDecodeError: now it stops (exit 2) and
    names the line, the file untouched; a last line cut short is still dropped."""
    out = tmp_path / "rows.jsonl"
    assert _score(blair, "-o", out) == 0
    lines = out.read_text().splitlines(keepends=True)
    lines[2] = '{"path": "x.jpg", "sco\n'
    out.write_text("".join(lines))
    capsys.readouterr()
    assert _score(blair, "-o", out, "--resume") == 2
    assert f"cannot resume {out}: line 3 is not a JSON row" in capsys.readouterr().err
    assert out.read_text() == "".join(lines)
