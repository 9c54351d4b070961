"""What the test_hostile_* files share: running a reproducer in a child interpreter (a
regression that crashes fails its test instead of killing the run), the committed models, and
a PNG made to order."""

import struct
import subprocess
import sys
import textwrap
import zlib

from tests.conftest import REPO

MODELS = REPO / "cpp" / "models"


def child(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
    )


def png(rows: bytes, w: int, h: int, depth: int = 8, colour: int = 2, level: int = 6) -> bytes:
    """A PNG of the given filtered rows (filter byte + samples each), chunk CRCs all correct."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, level))
        + chunk(b"IEND", b"")
    )
