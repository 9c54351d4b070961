"""What a score means for recognition: the calibration table a model's sidecar carries (its
``"calibration"`` key, written by ``python -m evaluation.calibrate``), read back.

The table gives, for reference recognisers (``"arcface"``: an ArcFace-type MobileFaceNet;
``"dlib"``: dlib's ResNet) and false match rates (FMR 1e-2, 1e-3, 1e-4), the false non-match
rate (FNMR) of genuine pairs of held-out people, binned by the lower of the two faces' scores.
:meth:`Calibration.expected_fnmr` interpolates its monotone column (FNMR never rises with the
score) linearly between the bins' median scores, constant beyond the first and the last bin:
the expected FNMR of a face with that score compared with one at least as good.

The unified quality (0-100) is ``100 × (1 − expected FNMR)`` for the table's ``unified``
recogniser and FMR: the percentage of such comparisons that match. It is monotone
(non-decreasing) in the raw score, and flat where the evidence does not separate scores (beyond
the outer bins' medians and across pooled bins): rank by the raw score, threshold by either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union, overload

import numpy as np
import numpy.typing as npt

__all__ = ["Calibration"]

Scores = Union[float, npt.ArrayLike]


@dataclass(frozen=True)
class Calibration:
    """A model's calibration table (see the module's docs). ``table`` is the sidecar's
    ``"calibration"`` object as written."""

    table: Mapping[str, Any]

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> Calibration | None:
        """The calibration of a model's sidecar (``Scorer.info``), or None without one."""
        table = info.get("calibration")
        if not isinstance(table, Mapping) or table.get("format") != "tinyfq-calibration/1":
            return None
        return cls(table)

    @property
    def fmrs(self) -> list[float]:
        """The false match rates the table holds."""
        return [float(f) for f in self.table["fmr"]]

    @property
    def recognisers(self) -> list[str]:
        """The recognisers the table holds (``"arcface"``, ``"dlib"``)."""
        return list(self.table["recognisers"])

    @property
    def unified_recogniser(self) -> str:
        return str(self.table["unified"]["recogniser"])

    @property
    def unified_fmr(self) -> float:
        return float(self.table["unified"]["fmr"])

    def _column(self, fmr: float, recogniser: str) -> tuple[np.ndarray, np.ndarray]:
        if recogniser not in self.table["recognisers"]:
            raise ValueError(f"recogniser must be one of {self.recognisers}, got {recogniser!r}")
        for j, f in enumerate(self.fmrs):
            if math.isclose(f, fmr, rel_tol=1e-6):
                bins = self.table["bins"]
                return np.asarray(bins["score"], float), np.asarray(
                    bins[recogniser]["monotone"][j], float
                )
        raise ValueError(f"fmr must be one of {self.fmrs}, got {fmr!r}")

    @overload
    def expected_fnmr(self, score: float, fmr: float = ..., recogniser: str = ...) -> float: ...
    @overload
    def expected_fnmr(
        self, score: npt.ArrayLike, fmr: float = ..., recogniser: str = ...
    ) -> np.ndarray: ...
    def expected_fnmr(
        self, score: Scores, fmr: float = 1e-3, recogniser: str = "arcface"
    ) -> float | np.ndarray:
        """The expected false non-match rate at ``fmr`` of a face with this ``score`` (one
        number or an array; NaN stays NaN), compared by ``recogniser`` with a face at least as
        good."""
        x, y = self._column(fmr, recogniser)
        s = np.asarray(score, float)
        out = np.interp(s, x, y)
        out = np.where(np.isnan(s), np.nan, out)
        return float(out) if out.ndim == 0 else out

    @overload
    def unified(self, score: float) -> float: ...
    @overload
    def unified(self, score: npt.ArrayLike) -> np.ndarray: ...
    def unified(self, score: Scores) -> float | np.ndarray:
        """The unified quality, 0-100: ``100 × (1 − expected_fnmr(score))`` for the table's
        unified recogniser and FMR."""
        fnmr = self.expected_fnmr(score, self.unified_fmr, self.unified_recogniser)
        return 100.0 * (1.0 - fnmr)

    def threshold(
        self, max_fnmr: float, fmr: float = 1e-3, recogniser: str = "arcface"
    ) -> float | None:
        """The lowest score whose expected FNMR is at most ``max_fnmr`` (None when no score
        reaches it; 0.0 when every score does)."""
        x, y = self._column(fmr, recogniser)
        if y[0] <= max_fnmr:
            return 0.0
        if y[-1] > max_fnmr:
            return None
        i = int(np.argmax(y <= max_fnmr))  # first bin at or below; y is non-increasing
        x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
        return float(x1 if y0 == y1 else x0 + (y0 - max_fnmr) * (x1 - x0) / (y0 - y1))

    def quality_threshold(self, min_quality: float) -> float | None:
        """The lowest score whose unified quality is at least ``min_quality``."""
        return self.threshold(1.0 - min_quality / 100.0, self.unified_fmr, self.unified_recogniser)

    def text(self) -> str:
        """The table as ``tinyfq info`` prints it: per bin the score range, genuine pairs and
        FNMR per recogniser and FMR (95% bootstrap interval over people)."""
        t, bins = self.table, self.table["bins"]
        d = t["data"]
        lines = [
            f"calibration (model {t['model_version']}): expected FNMR by score, "
            f"{d['faces']} faces of {d['people']} held-out people ({d['set']}), "
            f"{d['genuine_pairs']} genuine and {d['impostor_pairs']} impostor pairs; "
            f"pairs binned by {t['pair_score']}",
        ]
        for key, rec in t["recognisers"].items():
            lines.append(f"  {key}: {rec['name']}")
        head = f"  {'score':>13} {'pairs':>6}" + "".join(
            f" {key + ' @' + format(f, 'g'):>22}" for key in t["recognisers"] for f in t["fmr"]
        )
        lines.append(head)
        for i in range(len(bins["lo"])):
            row = f"  {bins['lo'][i]:.3f}-{bins['hi'][i]:.3f} {bins['pairs'][i]:>6}"
            for key in t["recognisers"]:
                for j in range(len(t["fmr"])):
                    v, (lo, hi) = bins[key]["fnmr"][j][i], bins[key]["bootstrap"][j][i]
                    cell = f"{100 * v:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"
                    row += f" {cell:>22}"
            lines.append(row)
        u = t["unified"]
        lines.append(
            f"  unified quality 0-100 = 100 x (1 - expected FNMR), {u['recogniser']} at "
            f"FMR {u['fmr']:g}"
        )
        return "\n".join(lines)
