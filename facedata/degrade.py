"""Image degradations that mimic hard video frames: blur, motion blur, noise, JPEG,
down-up-scaling, occlusion and exposure.

Used by training (to widen the range of quality labels; a degraded copy is re-embedded and
labelled by the face-recognition model like any image, never by these parameters) and by
evaluation (to build templates that look like video sequences). Every degradation is a pure
function of (image, face box, spec), and specs are drawn from a seeded generator, so a copy can
be recreated exactly from its spec string, e.g. ``"motion:length=13.0,angle=40.0"``.
"""
from __future__ import annotations

import numpy as np

KINDS = ("blur", "motion", "noise", "jpeg", "downscale", "occlusion", "exposure")


def random_spec(rng: np.random.Generator, kinds: tuple[str, ...] = KINDS) -> str:
    """Draw one degradation with a random severity, as a spec string."""
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "blur":
        p = {"sigma": rng.uniform(1.0, 6.0)}
    elif kind == "motion":
        p = {"length": rng.uniform(5.0, 25.0), "angle": rng.uniform(0.0, 180.0)}
    elif kind == "noise":
        p = {"sigma": rng.uniform(8.0, 45.0), "seed": float(rng.integers(1 << 30))}
    elif kind == "jpeg":
        p = {"quality": float(rng.integers(3, 25))}
    elif kind == "downscale":
        p = {"factor": rng.uniform(2.0, 8.0)}
    elif kind == "occlusion":
        p = {"fraction": rng.uniform(0.2, 0.55), "u": rng.uniform(), "v": rng.uniform(),
             "grey": float(rng.integers(256))}
    else:  # exposure
        p = {"gain": float(rng.choice([rng.uniform(0.15, 0.45), rng.uniform(1.8, 3.5)]))}
    return kind + ":" + ",".join(f"{k}={v:.4g}" for k, v in p.items())


def parse_spec(spec: str) -> tuple[str, dict[str, float]]:
    kind, _, rest = spec.partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown degradation {kind!r} in spec {spec!r}; known: {KINDS}")
    params = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        params[k] = float(v)
    return kind, params


def apply(image: np.ndarray, spec: str, box: tuple[float, float, float, float] | None = None
          ) -> np.ndarray:
    """Return a degraded copy of a uint8 BGR/grey ``image``.

    Severities are relative to the face size (``box`` = x, y, w, h; default: the whole image),
    so a blur hurts a small face in a large photo as much as a close-up.
    """
    import cv2

    kind, p = parse_spec(spec)
    h, w = image.shape[:2]
    if box is None:
        box = (0.0, 0.0, float(w), float(h))
    face = max(8.0, max(box[2], box[3]))
    rel = face / 100.0  # parameters are stated for a 100-pixel face
    if kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), p["sigma"] * rel)
    if kind == "motion":
        n = max(3, int(round(p["length"] * rel)) | 1)
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), p["angle"], 1.0)
        k = cv2.warpAffine(k, rot, (n, n))
        k /= max(k.sum(), 1e-6)
        return cv2.filter2D(image, -1, k, borderType=cv2.BORDER_REFLECT)
    if kind == "noise":
        rng = np.random.default_rng(int(p["seed"]))
        noisy = image.astype(np.float32) + rng.normal(0.0, p["sigma"], image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(p["quality"])])
        if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
            raise RuntimeError("JPEG encoding failed")
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if kind == "downscale":
        f = p["factor"] * rel
        small = cv2.resize(image, (max(1, int(w / f)), max(1, int(h / f))),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if kind == "occlusion":
        out = image.copy()
        side = np.sqrt(p["fraction"]) * np.array([box[2], box[3]])
        x0 = box[0] + p["u"] * (box[2] - side[0])
        y0 = box[1] + p["v"] * (box[3] - side[1])
        x0, y0 = int(max(0, x0)), int(max(0, y0))
        out[y0:int(y0 + side[1]), x0:int(x0 + side[0])] = int(p["grey"])
        return out
    # exposure: a gain with gamma-like roll-off keeps highlights from wrapping
    x = image.astype(np.float32) / 255.0
    y = 1.0 - (1.0 - x) ** p["gain"] if p["gain"] > 1 else x * p["gain"]
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)
