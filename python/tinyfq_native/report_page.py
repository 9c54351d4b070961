"""The pieces of :mod:`tinyfq_native.report`'s page: its stylesheet and script (inline, so the
page is one self-contained file), the SVG score histogram and the face cards. Numbers and rows
in, HTML text out; which rows and numbers to show is chosen in :func:`tinyfq_native.report.render`.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinyfq_native.factors import DEFINITIONS

__all__ = ["CSS", "JS", "card", "fmt", "histogram"]

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.muted{color:#666}.bad{color:#b00}
#control{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ddd}
#threshold{width:420px;vertical-align:middle}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px;width:170px;font-size:12px}
.card img{width:96px;height:96px;image-rendering:pixelated;display:block;margin:0 auto 4px}
.card .name{word-break:break-all;font-weight:600}
.card table{border-collapse:collapse;width:100%}.card td{padding:0 2px}
.card td+td{text-align:right}
table.folders{border-collapse:collapse}table.folders td,table.folders th{padding:2px 8px;
border-bottom:1px solid #eee;text-align:right}table.folders td:first-child,
table.folders th:first-child{text-align:left}
svg text{font-size:11px;fill:#444}
"""

JS = """
const D = JSON.parse(document.getElementById('data').textContent);
const slider = document.getElementById('threshold');
function interp(s, xs, ys) {
  if (s <= xs[0]) return ys[0];
  for (let i = 1; i < xs.length; i++)
    if (s <= xs[i]) return ys[i - 1] + (s - xs[i - 1]) * (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1]);
  return ys[ys.length - 1];
}
function update() {
  const t = parseFloat(slider.value);
  const kept = D.scores.filter(s => s >= t).length;
  const n = D.scores.length;
  document.getElementById('value').textContent = t.toFixed(3);
  document.getElementById('kept').textContent = kept;
  document.getElementById('share').textContent = n ? (100 * kept / n).toFixed(1) + '%' : '-';
  const x = D.x0 + t * D.width;
  const line = document.getElementById('current');
  line.setAttribute('x1', x); line.setAttribute('x2', x);
  if (D.calibration) {
    const c = D.calibration;
    const f = interp(t, c.x, c.y);
    document.getElementById('fnmr').textContent = (100 * f).toFixed(2) + '%';
    document.getElementById('quality').textContent = (100 * (1 - interp(t, c.x, c.uy))).toFixed(1);
  }
  document.querySelectorAll('tr[data-folder]').forEach(tr => {
    const s = D.folders[tr.dataset.folder];
    tr.querySelector('.kept').textContent = s.filter(v => v >= t).length;
  });
}
slider.addEventListener('input', update);
update();
"""


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def histogram(
    scores: Sequence[float], threshold: float | None, label: str
) -> tuple[str, dict[str, float]]:
    """The SVG histogram (50 bins over 0-1) with the calibrated ``threshold`` (dashed, None for
    none; ``label`` says what it means) and the control's (solid, id "current"), and the
    geometry the script needs."""
    w, h, x0, y0, plot_w, plot_h = 760, 220, 40, 10, 700, 170
    counts = np.histogram(np.asarray(scores, float), bins=50, range=(0.0, 1.0))[0]
    top = max(1, int(counts.max()) if len(counts) else 1)
    bw = plot_w / 50
    parts = [f'<svg id="histogram" width="{w}" height="{h}" role="img">']
    for i, c in enumerate(counts):
        bh = plot_h * c / top
        parts.append(
            f'<rect x="{x0 + i * bw:.1f}" y="{y0 + plot_h - bh:.1f}" width="{bw - 1:.1f}" '
            f'height="{bh:.1f}" fill="#6b8fc7"><title>{i / 50:.2f}–{(i + 1) / 50:.2f}: '
            f"{c}</title></rect>"
        )
    base = y0 + plot_h
    parts.append(f'<line x1="{x0}" y1="{base}" x2="{x0 + plot_w}" y2="{base}" stroke="#444"/>')
    for t in range(11):
        x = x0 + plot_w * t / 10
        parts.append(f'<text x="{x:.1f}" y="{base + 14}" text-anchor="middle">{t / 10:.1f}</text>')
    parts.append(f'<text x="{x0}" y="{y0 + 8}">{top}</text>')
    parts.append(
        f'<text x="{x0 + plot_w / 2}" y="{h - 4}" text-anchor="middle">tinyFQnet score</text>'
    )
    parts.append(
        f'<line id="current" x1="{x0}" y1="{y0}" x2="{x0}" y2="{base}" stroke="#888" '
        'stroke-width="2"/>'
    )
    if threshold is not None:
        x = x0 + plot_w * threshold
        parts.append(
            f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{base}" stroke="#c33" '
            f'stroke-dasharray="5,3" stroke-width="2"><title>calibrated threshold '
            f"{threshold:.3f}: {html.escape(label)}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts), {"x0": float(x0), "width": float(plot_w)}


def card(row: dict[str, Any], thumb: bytes | None, factor_names: Sequence[str]) -> str:
    img = (
        f'<img alt="" src="data:image/png;base64,{base64.b64encode(thumb).decode()}">'
        if thumb
        else '<div class="muted">(no thumbnail)</div>'
    )
    name = os.path.basename(str(row["path"]))
    folder = os.path.basename(os.path.dirname(str(row["path"])))
    lines = [f"<tr><td>score</td><td>{fmt(row['score'])}</td></tr>"]
    digits = {d.name: d.digits for d in DEFINITIONS}
    for n in factor_names:
        lines.append(f"<tr><td>{n}</td><td>{fmt(row.get(n), digits[n])}</td></tr>")
    face = f" face {row['face']}" if row.get("face") not in (None, "", 0, "0") else ""
    return (
        f'<div class="card" title="{html.escape(str(row["path"]))}">{img}'
        f'<div class="name">{html.escape(folder)}/{html.escape(name)}{face}</div>'
        f"<table>{''.join(lines)}</table></div>"
    )
