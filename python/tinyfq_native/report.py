"""A browsable report of a ``tinyfq score`` output: one self-contained HTML file (inline CSS,
JavaScript and SVG, thumbnails as PNG data URIs made by :mod:`tinyfq_native.png`; nothing is
loaded from anywhere, no server is needed).

It shows the score histogram with the calibrated threshold (the model's calibration table,
:mod:`tinyfq_native.calibration`), a threshold control (a range input) that says how many faces
each setting keeps, the worst and the best faces as thumbnails with their factors (the
``--factors`` columns, when the rows have them), and one summary row per folder (a person, or a
track)::

    tinyfq score photos/ -r --detect --factors -o scores.csv
    tinyfq report scores.csv -o report.html
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyfq_native.calibration import Calibration
from tinyfq_native.factors import NAMES
from tinyfq_native.report_page import CSS, JS, card, fmt, histogram

__all__ = ["Report", "Threshold", "read_rows", "render", "thumbnail", "write_report"]

FAILED = ("missing", "invalid", "unsupported")


@dataclass
class Report:
    """The rows of one score output and the options its first line records."""

    rows: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _number(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def read_rows(path: str | os.PathLike[str]) -> Report:
    """Read a ``tinyfq score`` output (CSV, or JSON lines when the file's first character is
    ``{``): its rows, with ``score``, the box and the factor columns as floats (None where
    empty), and the options its first line records."""
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        first = f.readline()
        options: dict[str, Any] = {}
        rows: list[dict[str, Any]]
        if first.lstrip().startswith("{"):
            lines = [first] + f.readlines()
            rows = [json.loads(line) for line in lines if line.strip()]
            if rows and list(rows[0]) == ["tinyfq"]:
                options = rows.pop(0)["tinyfq"]
        else:
            if first.startswith("# tinyfq "):
                options = json.loads(first[len("# tinyfq ") :])
            else:
                f.seek(0)
            rows = list(csv.DictReader(f))
    numeric = ("score", "x", "y", "w", "h", "confidence", *NAMES)
    for r in rows:
        for k in numeric:
            if k in r:
                r[k] = _number(r[k])
        if r.get("status") != "ok":
            r["score"] = None
    return Report(rows, options, path)


# --- thumbnails -------------------------------------------------------------------------------


def _shrink(img: np.ndarray, size: int) -> np.ndarray:
    """An RGB image shrunk so its longer side is ``size``: block means, then nearest pixels."""
    h, w = img.shape[:2]
    k = max(1, min(h, w) // (2 * size))
    if k > 1:
        hh, ww = h // k * k, w // k * k
        img = img[:hh, :ww].reshape(hh // k, k, ww // k, k, -1).mean((1, 3))
        h, w = img.shape[:2]
    s = size / max(h, w)
    ys = np.minimum((np.arange(max(1, round(h * s))) + 0.5) / s, h - 1).astype(int)
    xs = np.minimum((np.arange(max(1, round(w * s))) + 0.5) / s, w - 1).astype(int)
    return np.ascontiguousarray(img[ys][:, xs].astype(np.uint8))


def thumbnail(row: dict[str, Any], mode: str, size: int = 96) -> bytes | None:
    """A PNG thumbnail of a row's face: the aligned crop (``size`` pixels, the ArcFace
    template) of the face the detector finds nearest the row's box (or the largest) for
    ``detect`` and ``landmarks`` rows, the whole image shrunk for crops; None when the file
    does not decode."""
    from tinyfq_native.align import align
    from tinyfq_native.detect import Detector
    from tinyfq_native.images import read_image
    from tinyfq_native.png import encode_png

    try:
        img = read_image(str(row["path"]))
    except (OSError, ValueError):  # UnicodeEncodeError too: a name that is not UTF-8
        return None
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    img = np.ascontiguousarray(img[:, :, :3])
    if mode != "crop":
        faces = _detector(Detector).detect(img, format="rgb")
        if faces:
            face = faces[0]
            if row.get("x") is not None and row.get("w") is not None:
                cx, cy = row["x"] + row["w"] / 2, row["y"] + row["h"] / 2
                face = min(
                    faces,
                    key=lambda f: (
                        (f.box[0] + f.box[2] / 2 - cx) ** 2 + (f.box[1] + f.box[3] / 2 - cy) ** 2
                    ),
                )
            crop = align(img, face.landmarks, size=size, mean=0.0, std=1.0, format="rgb")
            rgb = np.clip(np.rint(crop.transpose(1, 2, 0)), 0, 255).astype(np.uint8)
            return encode_png(rgb)
    return encode_png(_shrink(img, size))


_detectors: dict[str, Any] = {}


def _detector(make: Any) -> Any:
    if "d" not in _detectors:
        _detectors["d"] = make()
    return _detectors["d"]


# --- the threshold --------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """The report's calibrated threshold: a score (None without one) and what it means."""

    score: float | None
    label: str
    fmr: float = 1e-3
    recogniser: str = ""


def calibrated_threshold(
    cal: Calibration | None,
    *,
    max_fnmr: float | None = None,
    min_quality: float | None = None,
    fmr: float = 1e-3,
    recogniser: str | None = None,
) -> Threshold:
    """The threshold ``--max-fnmr`` or ``--min-quality`` sets; by default the lowest score
    whose expected FNMR (the unified recogniser at its FMR) is at most that recogniser's FNMR
    over all held-out pairs: faces at least as recognisable as the average held-out face."""
    if cal is None:
        return Threshold(None, "no calibration table in the model's sidecar")
    if min_quality is not None:
        s = cal.quality_threshold(min_quality)
        return Threshold(s, f"unified quality ≥ {min_quality:g}", cal.unified_fmr, "")
    rec = recogniser or cal.unified_recogniser
    if max_fnmr is None:
        fmr = cal.unified_fmr if recogniser is None else fmr
        j = [round(f, 12) for f in cal.fmrs].index(round(fmr, 12))
        max_fnmr = float(cal.table["recognisers"][rec]["fnmr"][j])
        label = f"expected FNMR ≤ {100 * max_fnmr:.2f}% (all held-out pairs), {rec} at FMR {fmr:g}"
    else:
        label = f"expected FNMR ≤ {100 * max_fnmr:.2f}%, {rec} at FMR {fmr:g}"
    return Threshold(cal.threshold(max_fnmr, fmr, rec), label, fmr, rec)


# --- the page (its pieces: tinyfq_native.report_page) ----------------------------------------


def render(
    report: Report,
    threshold: Threshold,
    calibration: Calibration | None = None,
    *,
    count: int = 12,
    thumbnails: bool = True,
    max_folders: int = 500,
) -> str:
    """The report's HTML (see the module's docs)."""
    rows = report.rows
    scored = [r for r in rows if r.get("score") is not None]
    scores = [float(r["score"]) for r in scored]
    mode = str(report.options.get("mode", "crop"))
    order = sorted(range(len(scored)), key=lambda i: scores[i])
    worst = [scored[i] for i in order[:count]]
    best = [scored[i] for i in order[::-1][:count]] if len(order) > count else []
    factor_names = [n for n in NAMES if any(n in r for r in rows)]

    def cards(chosen: list[dict[str, Any]]) -> str:
        return "".join(
            card(r, thumbnail(r, mode) if thumbnails else None, factor_names) for r in chosen
        )

    folders: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        folders.setdefault(os.path.dirname(str(r["path"])), []).append(r)
    prefix = os.path.commonpath(list(folders)) if len(folders) > 1 else ""
    summary = []
    for name, rs in folders.items():
        s = [float(r["score"]) for r in rs if r.get("score") is not None]
        summary.append(
            (
                statistics.median(s) if s else -1.0,
                os.path.relpath(name, prefix) if prefix else (name or "."),
                rs,
                s,
            )
        )
    summary.sort(key=lambda t: (t[0], t[1]))
    shown = summary[:max_folders]
    table = [
        "<table class='folders'><tr><th>folder</th><th>rows</th><th>scored</th>"
        "<th>no face</th><th>failed</th><th>median</th><th>min</th><th>max</th>"
        "<th>kept</th></tr>"
    ]
    for i, (_, name, rs, s) in enumerate(shown):
        nf = sum(r.get("status") == "no_face" for r in rs)
        bad = sum(r.get("status") in FAILED for r in rs)
        table.append(
            f"<tr data-folder='{i}'><td>{html.escape(name)}</td><td>{len(rs)}</td>"
            f"<td>{len(s)}</td><td>{nf}</td><td>{bad}</td>"
            f"<td>{fmt(statistics.median(s) if s else None)}</td>"
            f"<td>{fmt(min(s) if s else None)}</td><td>{fmt(max(s) if s else None)}</td>"
            f"<td class='kept'></td></tr>"
        )
    table.append("</table>")
    if len(summary) > max_folders:
        table.append(
            f"<p class='muted'>The {max_folders} folders with the lowest median score of "
            f"{len(summary)}.</p>"
        )
    svg, geometry = histogram(scores, threshold.score, threshold.label)
    data: dict[str, Any] = {
        "scores": [round(s, 5) for s in scores],
        "folders": [[round(v, 5) for v in s] for *_, s in shown],
        "calibration": None,
        **geometry,
    }
    if calibration is not None:
        rec = threshold.recogniser or calibration.unified_recogniser
        fmr = threshold.fmr if threshold.recogniser else calibration.unified_fmr
        x = [float(v) for v in calibration.table["bins"]["score"]]
        data["calibration"] = {
            "x": x,
            "y": [float(calibration.expected_fnmr(v, fmr, rec)) for v in x],
            "uy": [1 - float(calibration.unified(v)) / 100 for v in x],
        }
        meaning = (
            f"expected FNMR <b id='fnmr'></b> ({html.escape(rec)} at FMR {fmr:g}), "
            "unified quality <b id='quality'></b>"
        )
    else:
        meaning = "<span class='muted'>no calibration table in the model's sidecar</span>"
    start = threshold.score if threshold.score is not None else 0.5
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
    model = report.options.get("model", {}) if isinstance(report.options, dict) else {}
    calibrated = (
        f"{threshold.score:.3f} ({html.escape(threshold.label)})"
        if threshold.score is not None
        else html.escape(threshold.label)
    )
    counts = ", ".join(f"{v} {html.escape(k)}" for k, v in sorted(statuses.items()))
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = f"tinyfq report: {os.path.basename(report.source)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="muted">{len(rows)} rows ({counts});
mode {html.escape(mode)}; model {html.escape(str(model.get("version", "unknown")))}.
Calibrated threshold: {calibrated}.</p>
<div id="control"><label for="threshold">threshold</label>
<input type="range" id="threshold" min="0" max="1" step="0.001" value="{start:.3f}">
<b id="value"></b>: keeps <b id="kept"></b> of {len(scores)} scored faces (<b id="share"></b>);
{meaning}</div>
<h2>Scores</h2>{svg}
<p class="muted">Dashed red: the calibrated threshold; solid grey: the control's.</p>
<h2>The {len(worst)} lowest scores</h2><div class="cards">{cards(worst)}</div>
<h2>The {len(best)} highest scores</h2><div class="cards">{cards(best)}</div>
<h2>Folders</h2>{"".join(table)}
<script type="application/json" id="data">{payload}</script>
<script>{JS}</script>
</body></html>
"""


def write_report(
    scores: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    calibration: Calibration | None = None,
    max_fnmr: float | None = None,
    min_quality: float | None = None,
    fmr: float = 1e-3,
    recogniser: str | None = None,
    count: int = 12,
    thumbnails: bool = True,
) -> Report:
    """Read ``scores`` (a ``tinyfq score`` output) and write its report to ``output`` whole
    (through a temporary file beside it); returns what was read. ``calibration``: the table
    of the model that made the scores (default: the embedded model's)."""
    from tinyfq_native._scorer import default_model_info

    report = read_rows(scores)
    cal = calibration if calibration is not None else Calibration.of(default_model_info())
    threshold = calibrated_threshold(
        cal, max_fnmr=max_fnmr, min_quality=min_quality, fmr=fmr, recogniser=recogniser
    )
    page = render(report, threshold, cal, count=count, thumbnails=thumbnails)
    out = os.fspath(output)
    tmp = out + ".part"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(page)
    os.replace(tmp, out)
    return report
