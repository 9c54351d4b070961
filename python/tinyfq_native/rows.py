"""Results as output rows: the one ``Result -> row`` mapping that CSV, JSON lines and Parquet
share, so that every output names an input's outcome the same way (``status`` is the name of
its :class:`~tinyfq_native.Status`: ok, no_face, missing, invalid or unsupported)."""

from __future__ import annotations

from typing import Any

from tinyfq_native.engine import Result

#: The columns of one row per input.
FIELDS = ("path", "score", "status", "message")
#: The columns of one row per face (``all_faces``).
FACE_FIELDS = ("path", "face", "score", "status", "message", "x", "y", "w", "h", "confidence")


def row_of(result: Result, all_faces: bool = False) -> dict[str, Any]:
    """The row of one Result: path, score (None unless ok), status name, message; with
    ``all_faces`` the face's index, box (pixels, 2 decimals) and detector confidence (4)."""
    row: dict[str, Any] = {
        "path": result.path,
        "score": result.score,
        "status": result.status.name,
        "message": result.message,
    }
    if all_faces and result.box is not None:
        x, y, w, h = result.box
        row |= {
            "face": result.face,
            "x": round(x, 2),
            "y": round(y, 2),
            "w": round(w, 2),
            "h": round(h, 2),
            "confidence": None if result.confidence is None else round(result.confidence, 4),
        }
    return row
