"""Where the rows go: CSV or JSON lines on stdout or in a locked file, with a first record of
the options that made them; --resume's reading of such a file."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

#: The first line of a CSV output: this prefix, then the options as JSON.
CSV_OPTIONS = "# tinyfq "
#: The key of the first record of a JSON-lines output, whose value is the options.
JSON_OPTIONS = "tinyfq"
#: The statuses --resume takes as done (the others are tried again).
FINAL = ("ok", "no_face")
NOT_UTF8 = r"file name is not valid UTF-8: its bytes are written as \xNN escapes"


class OutputError(Exception):
    """The output ``name`` cannot be opened, locked or written: said as ``cannot write NAME:
    reason``, exit status 2."""

    def __init__(self, reason: str, name: str = "<stdout>"):
        super().__init__(reason)
        self.name = name


def escaped(s: str) -> str:
    """``s`` as rows write it: the undecodable bytes of a file name (surrogate escapes) as
    \\xNN; every other string unchanged."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return os.fsencode(s).decode("utf-8", "backslashreplace")


def csv_field(value: object) -> str:
    """One CSV field: quoted when it holds a comma, a quote or a line break (CR as well as LF:
    the csv module quotes only the characters of its own line terminator)."""
    s = f"{value:.6f}" if isinstance(value, float) else ("" if value is None else str(value))
    if any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


class RowWriter:
    """CSV or JSON-lines rows, each write flushed at once. ``header``: begin with the options
    record (when ``options`` is given) and, for CSV, the header line, flushed at once, so a run
    killed before its first row leaves a file --resume reads."""

    def __init__(
        self,
        stream: TextIO,
        fmt: str,
        fields: tuple[str, ...],
        header: bool = True,
        options: dict[str, Any] | None = None,
        name: str = "<stdout>",
    ) -> None:
        self.stream, self.fmt, self.fields, self.name = stream, fmt, fields, name
        if header:
            lines: list[str] = []
            if options is not None:
                record = json.dumps(options, sort_keys=True)
                lines.append(
                    CSV_OPTIONS + record if fmt == "csv" else f'{{"{JSON_OPTIONS}": {record}}}'
                )
            if fmt == "csv":
                lines.append(",".join(fields))
            if lines:
                self._emit("".join(line + "\n" for line in lines))

    def line(self, **row: object) -> str:
        """A row of ``fields`` as one line; a field the row lacks is written empty (null in
        JSON). A path whose name is not valid UTF-8 is written with its odd bytes as \\xNN
        escapes, and the message says so."""
        odd = {k for k, v in row.items() if isinstance(v, str) and escaped(v) != v}
        if odd:  # a name's undecodable bytes, here or quoted in a message
            row = {k: escaped(v) if isinstance(v, str) and k in odd else v for k, v in row.items()}
            if "path" in odd:
                row["message"] = f"{row['message']}; {NOT_UTF8}" if row.get("message") else NOT_UTF8
        if self.fmt == "csv":
            return ",".join(csv_field(row.get(f)) for f in self.fields) + "\n"
        return json.dumps({f: row.get(f) for f in self.fields}) + "\n"

    def write(self, **row: object) -> None:
        self._emit(self.line(**row))

    def write_group(self, rows: list[dict[str, Any]]) -> None:
        """Rows that belong together (a photo's faces) in one write."""
        self._emit("".join(self.line(**row) for row in rows))

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.strerror or str(e), self.name) from None


class ResumeError(OutputError):
    """An output --resume cannot continue: said as ``cannot resume OUTPUT: reason``."""


@dataclass
class Prior:
    """What --resume found in an output: the ``done`` paths (as rows write them: see
    :func:`escaped`), whether it ``has_rows``, and ``cut``, the length to keep (a last line cut
    short, or with grouped rows the last photo's, which may be incomplete, are dropped and
    made again)."""

    done: set[str] = field(default_factory=set)
    has_rows: bool = False
    cut: int = 0


def _lines(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, line) of each complete line; a last line without its newline is left out."""
    out: list[tuple[int, bytes]] = []
    start = 0
    while (end := data.find(b"\n", start)) >= 0:
        out.append((start, data[start : end + 1]))
        start = end + 1
    return out


def _options_record(line: bytes, fmt: str) -> dict[str, Any] | None:
    """The options of an output's first line, or None when it is not an options record."""
    text = line.decode("utf-8", "replace")
    if fmt == "csv":
        if not text.startswith(CSV_OPTIONS):
            return None
        try:
            record = json.loads(text[len(CSV_OPTIONS) :])
        except ValueError as e:
            raise ResumeError(f"line 1: not an options record ({e})") from None
        if not isinstance(record, dict):
            raise ResumeError("line 1: not an options record")
        return record
    try:
        record = json.loads(text)
    except ValueError:
        return None  # reported as a row that is not JSON
    if isinstance(record, dict) and list(record) == [JSON_OPTIONS]:
        options = record[JSON_OPTIONS]
        if not isinstance(options, dict):
            raise ResumeError("line 1: not an options record")
        return options
    return None


def read_prior(
    data: bytes,
    fmt: str,
    fields: tuple[str, ...],
    options: dict[str, Any],
    grouped: bool = False,
) -> Prior:
    """Read an output for --resume (see :class:`Prior`). Raises ResumeError when its rows
    were made with other ``options`` (naming what differs) or with none recorded, and naming
    the line that is not a row in a damaged file (it is not guessed at)."""
    lines = _lines(data)
    prior = Prior(cut=lines[-1][0] + len(lines[-1][1]) if lines else 0)
    recorded = _options_record(lines[0][1], fmt) if lines else None
    first = 1 if recorded is None else 2  # the line number of lines[0] once the record is out
    if recorded is not None:
        lines = lines[1:]
        if recorded != options and len(lines) > (fmt == "csv"):  # rows after the header
            raise ResumeError(
                "its rows were made with other options ("
                + "; ".join(differences(recorded, options))
                + "); give the same options, or score into another file"
            )
    rows: list[tuple[int, dict[str, Any]]]
    if fmt == "csv":
        rows = _csv_rows(lines, fields, first)
    else:
        rows = _json_rows(lines, first)
    if rows and recorded is None:
        raise ResumeError(
            "it records no options (it was written by an older tinyfq, or by hand), so its "
            "rows may have been made with other options; score into another file"
        )
    if grouped and rows:
        # a photo's rows go out in one write, so only the last photo's may be incomplete
        last = rows[-1][1]["path"]
        while rows and rows[-1][1]["path"] == last:
            prior.cut = rows.pop()[0]
    prior.has_rows = bool(rows)
    prior.done = {r["path"] for _, r in rows if r.get("status") in FINAL}
    return prior


def _json_rows(lines: list[tuple[int, bytes]], first: int) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, (start, raw) in enumerate(lines, first):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError as e:
            raise ResumeError(f"line {n} is not a JSON row ({e})") from None
        if not isinstance(row, dict) or "path" not in row or "status" not in row:
            raise ResumeError(f"line {n} is not a row (no path and status)")
        rows.append((start, row))
    return rows


def _csv_rows(
    lines: list[tuple[int, bytes]], fields: tuple[str, ...], first: int
) -> list[tuple[int, dict[str, str]]]:
    if not lines:
        return []
    header = lines[0][1].decode("utf-8", "replace").rstrip("\r\n").split(",")
    if tuple(header) != fields:
        raise ResumeError(f"line {first}: the header is {header}, not {list(fields)}")
    body = lines[1:]
    text = b"".join(raw for _, raw in body).decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    used = 0  # the body lines before the row being read
    try:
        for values in reader:
            n = first + reader.line_num  # the row's last line
            if values and len(values) != len(fields):
                raise ResumeError(f"line {n}: {len(values)} fields, not {len(fields)}")
            if values:
                rows.append((body[used][0], values))
            used = reader.line_num
    except csv.Error as e:
        raise ResumeError(f"line {first + reader.line_num} is not a CSV row ({e})") from None
    return [(start, dict(zip(fields, values))) for start, values in rows]


def differences(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two options records, as ``key: A in the file, B now``."""
    out: list[str] = []
    for k in [*now, *(k for k in then if k not in now)]:
        if then.get(k) != now.get(k):
            out.append(f"{k}: {json.dumps(then.get(k))} in the file, {json.dumps(now.get(k))} now")
    return out


class Output:
    """The rows' destination, opened for a run: stdout (no -o, or ``-o -``) or the file,
    locked (LOCK_EX | LOCK_NB) so that a second run writing it refuses, and emptied (or, with
    ``resume``, kept) only once the lock is held. ``name`` names it in messages."""

    def __init__(self, path: str | None, resume: bool = False) -> None:
        self.path = None if path in (None, "-") else path
        self.name = self.path or "<stdout>"
        self.data = b""
        if self.path is None:
            if sys.stdout is None:
                raise OutputError("stdout is closed", self.name)
            self.stream: TextIO = sys.stdout
            return
        flags = os.O_CREAT | os.O_APPEND | (os.O_RDWR if resume else os.O_WRONLY)
        try:
            fd = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as e:
            raise OutputError(e.strerror or str(e), self.name) from None
        try:
            self._lock(fd)
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
            if resume and regular:
                with os.fdopen(os.dup(fd), "rb") as f:
                    self.data = f.read()
            elif not resume and regular:
                os.ftruncate(fd, 0)
            self.stream = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except BaseException:
            os.close(fd)
            raise

    def _lock(self, fd: int) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: the output is not locked there
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                "another run is writing it (it is locked); wait for that run or choose another -o",
                self.name,
            ) from None
        except OSError:  # a file system without locks: write it unlocked
            pass

    def resume(
        self, fmt: str, fields: tuple[str, ...], options: dict[str, Any], grouped: bool
    ) -> Prior:
        """What the file holds (see :func:`read_prior`), cut to what is kept: its whole rows,
        or nothing when it has none (the options record and header are written again)."""
        try:
            prior = read_prior(self.data, fmt, fields, options, grouped)
        except ResumeError as e:
            e.name = self.name
            raise
        keep = prior.cut if prior.has_rows else 0
        if keep < len(self.data):
            try:
                os.ftruncate(self.stream.fileno(), keep)
            except OSError as e:
                raise OutputError(e.strerror or str(e), self.name) from None
        return prior

    def close(self) -> None:
        if self.path is not None:
            try:
                self.stream.close()
            except OSError:
                pass


def silence_stdout() -> None:
    """After stdout failed (a closed pipe, a full disk): point it at /dev/null, so that the
    interpreter's last flush at exit does not fail again with a traceback (as the Python docs
    recommend for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
