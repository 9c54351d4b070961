"""Quality factors: measurable properties of a face that say why its score is what it is.

Computed natively (``cpp/src/factors.cpp``) from the photo, the face's five landmarks and its
detection, by :meth:`Scorer.factors` for one image and by ``Scorer.score_paths(...,
factors=True)`` (``tinyfq score --factors``) for files, each decoded once. OFIQ (ISO/IEC
29794-5) is the anchor for the definitions; ``docs/actionable.md`` says where each follows it
and where it differs.

The pixel factors read the face region of the aligned 64×64 grey crop (the ArcFace 112×112
template scaled to 64: brows to chin, outer eye corner to outer eye corner, template pixels
x 14–49, y 20–59), sampled bilinearly from the photo; luminance is BT.601 luma (0–255).
Samples outside the photo are left out; under a quarter of the region inside gives NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyfq_native.engine import Result

__all__ = ["DEFINITIONS", "NAMES", "Factor", "factor_columns"]


@dataclass(frozen=True)
class Factor:
    """One factor: its column ``name``, ``unit``, what it measures (``definition``) and the
    OFIQ measure it corresponds to (``ofiq``, empty when none does)."""

    name: str
    unit: str
    definition: str
    ofiq: str
    digits: int  # decimals the rows keep


#: Every factor, in the order of the rows' columns (and of the native core's).
DEFINITIONS: tuple[Factor, ...] = (
    Factor(
        "face_width",
        "px",
        "width of the detector's box; without detection the side of the square the aligned "
        "112×112 crop covers in the photo (a crop: its own width)",
        "head size (OFIQ's is the head's height over the image's)",
        1,
    ),
    Factor(
        "face_height",
        "px",
        "height of the detector's box (as face_width without detection)",
        "head size",
        1,
    ),
    Factor(
        "eye_distance",
        "px",
        "distance between the two eye landmarks in the photo",
        "inter-eye distance (ISO/IEC 39794-5 asks for at least 90 px)",
        1,
    ),
    Factor(
        "yaw",
        "°",
        "head turn from the nose's sideways offset from the eye-mouth midline, over the eye "
        "distance; positive: turned towards the image's right. NaN for crops",
        "head pose yaw",
        1,
    ),
    Factor(
        "pitch",
        "°",
        "head tilt from the nose's height between the eye line and the mouth line; positive: "
        "chin up. NaN for crops",
        "head pose pitch",
        1,
    ),
    Factor(
        "roll",
        "°",
        "angle of the eye line; positive: clockwise as the image shows it. NaN for crops",
        "head pose roll",
        1,
    ),
    Factor(
        "sharpness",
        "",
        "variance of the 4-neighbour Laplacian of the face region over the variance of its "
        "luminance (+1): high-frequency share of the detail, unchanged by a gain",
        "sharpness (OFIQ's is a random forest on Laplacian and gradient features)",
        3,
    ),
    Factor(
        "exposure",
        "0–255",
        "mean luminance of the face region",
        "luminance mean (OFIQ's in 0–1)",
        1,
    ),
    Factor(
        "shadows",
        "fraction",
        "share of the face region at luminance ≤ 5 (clipped black)",
        "under-exposure prevention (OFIQ's counts luminance ≤ 25 of 255)",
        4,
    ),
    Factor(
        "highlights",
        "fraction",
        "share of the face region at luminance ≥ 250 (clipped white)",
        "over-exposure prevention (OFIQ's counts luminance ≥ 247 of 255)",
        4,
    ),
    Factor(
        "contrast",
        "0–0.5",
        "RMS contrast: the standard deviation of the face region's luminance / 255",
        "luminance variance (its square root)",
        4,
    ),
    Factor(
        "confidence",
        "0–1",
        "the detector's confidence in the face (YuNet's sqrt(cls × obj)); NaN without detection",
        "",
        4,
    ),
)

#: The factor names, in column order.
NAMES: tuple[str, ...] = tuple(f.name for f in DEFINITIONS)
_DIGITS = {f.name: f.digits for f in DEFINITIONS}


def _value(name: str, value: float) -> float | None:
    return None if math.isnan(value) else round(value, _DIGITS[name])


def factor_columns(result: Result) -> dict[str, Any]:
    """The factor columns of one Result's row: each factor rounded to its digits, None where
    it is NaN or the Result has no factors (a failed input, or factors not asked for)."""
    found = result.factors or {}
    return {name: _value(name, found.get(name, math.nan)) for name in NAMES}
