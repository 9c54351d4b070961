"""Image degradations that mimic hard video frames and other pipelines' faces: blur, motion
and defocus blur, noise, JPEG, down-up-scaling with several resampling filters, occlusion,
exposure, tone curves (gamma, low light with noise, over-exposure, backlight) and colour casts,
applied to the photo before the warp or to the aligned crop after it, alone or in chains of two.

Used by training (to widen the range of quality labels; a degraded copy is re-embedded and
labelled by the face-recognition model like any image, never by these parameters) and by
evaluation (to build templates that look like video sequences). Every degradation is a pure
function of (image, face box, spec), and specs are drawn from a seeded generator, so a copy can
be recreated exactly from its spec string, e.g. ``"motion:length=13.0,angle=40.0"``.

Second-order chains (as in BSRGAN / Real-ESRGAN's degradation model) are written as steps
joined by ``" > "``, each step prefixed by its scale: ``"photo/blur:sigma=2 > crop/jpeg:quality=9"``
blurs the photo, warps the face to the aligned crop and JPEG-compresses the crop; they are drawn
and applied by facedata.chains. A spec without a scale prefix is a photo-scale step, so every
older spec means what it meant; :func:`apply` takes chains of photo-scale steps too.
"""

from __future__ import annotations

import numpy as np

KINDS = ("blur", "motion", "noise", "jpeg", "downscale", "occlusion", "exposure")
# the second-order model's extra kinds: tone curves, colour casts, resampling filters, defocus
TONE_KINDS = ("gamma", "lowlight", "overexpose", "backlight")
CHAIN_KINDS = KINDS + TONE_KINDS + ("colour", "resample", "defocus")
# the aligned-crop evaluation's kinds (evaluation/protocols.py), each drawn by crop_spec
CROP_EVAL_KINDS = ("jpeg", "gamma", "lowlight", "blur", "lowres", "noise", "occlusion")
# "fill" replaces the whole image (black, one flat colour, or noise): the empty frames and
# non-faces training must rank at the bottom. Never drawn by random_spec/graded_spec.
ALL_KINDS = CHAIN_KINDS + ("lowres", "fill")
SCALES = ("photo", "crop")
SCALES_PREFIXES = tuple(sc + "/" for sc in SCALES)
# OpenCV interpolation codes by name, for "resample" and "lowres" (filter=0..4)
_FILTERS = ("nearest", "linear", "cubic", "area", "lanczos")

# (mildest, harshest) parameter of each kind for graded_spec's severity 0 and 1
_GRADES = {
    "blur": (0.6, 6.0),
    "motion": (3.0, 25.0),
    "noise": (4.0, 45.0),
    "jpeg": (45.0, 3.0),
    "downscale": (1.3, 8.0),
    "occlusion": (0.08, 0.55),
    "dark": (0.7, 0.15),
    "bright": (1.3, 3.5),
}


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
        p = {
            "fraction": rng.uniform(0.2, 0.55),
            "u": rng.uniform(),
            "v": rng.uniform(),
            "grey": float(rng.integers(256)),
        }
    else:  # exposure
        p = {"gain": float(rng.choice([rng.uniform(0.15, 0.45), rng.uniform(1.8, 3.5)]))}
    return kind + ":" + ",".join(f"{k}={v:.4g}" for k, v in p.items())


def graded_spec(rng: np.random.Generator, severity: float) -> str:
    """One degradation of a random kind at ``severity`` in [0, 1] (0 = barely visible, 1 = as
    harsh as :func:`random_spec` goes), so copies can cover the whole range evenly."""

    def at(name: str) -> float:
        lo, hi = _GRADES[name]
        return lo + (hi - lo) * float(np.clip(severity, 0.0, 1.0))

    kind = KINDS[int(rng.integers(len(KINDS)))]
    if kind == "blur":
        p = {"sigma": at("blur")}
    elif kind == "motion":
        p = {"length": at("motion"), "angle": rng.uniform(0.0, 180.0)}
    elif kind == "noise":
        p = {"sigma": at("noise"), "seed": float(rng.integers(1 << 30))}
    elif kind == "jpeg":
        p = {"quality": float(round(at("jpeg")))}
    elif kind == "downscale":
        p = {"factor": at("downscale")}
    elif kind == "occlusion":
        p = {
            "fraction": at("occlusion"),
            "u": rng.uniform(),
            "v": rng.uniform(),
            "grey": float(rng.integers(256)),
        }
    else:
        p = {"gain": at("dark") if rng.random() < 0.5 else at("bright")}
    return kind + ":" + ",".join(f"{k}={v:.4g}" for k, v in p.items())


def fill_spec(rng: np.random.Generator, mode: int) -> str:
    """A whole-image replacement: mode 0 black, 1 one flat colour, 2 uniform noise."""
    return (
        f"fill:mode={mode},b={int(rng.integers(256))},g={int(rng.integers(256))},"
        f"r={int(rng.integers(256))},seed={int(rng.integers(1 << 30))}"
    )


def jitter_spec(rng: np.random.Generator, misalign: bool = False) -> str:
    """A similarity change of the five landmarks, as a real detector's error: a rotation
    (degrees), a scale and a shift (in inter-ocular distances). ``misalign`` draws the gross
    errors that put the crop beside or around the face instead of on it."""
    if not misalign:
        p = {
            "angle": rng.uniform(-12, 12),
            "scale": float(np.exp(rng.uniform(-0.12, 0.12))),
            "dx": rng.uniform(-0.12, 0.12),
            "dy": rng.uniform(-0.12, 0.12),
        }
    elif rng.random() < 0.6:
        t = rng.uniform(0, 2 * np.pi)
        r = rng.uniform(0.7, 1.6)
        p = {
            "angle": rng.uniform(-30, 30),
            "scale": float(np.exp(rng.uniform(-0.2, 0.2))),
            "dx": r * np.cos(t),
            "dy": r * np.sin(t),
        }
    else:
        p = {
            "angle": rng.uniform(-45, 45),
            "scale": float(rng.choice([rng.uniform(0.3, 0.55), rng.uniform(1.9, 3.0)])),
            "dx": rng.uniform(-0.3, 0.3),
            "dy": rng.uniform(-0.3, 0.3),
        }
    return "jitter:" + ",".join(f"{k}={v:.4g}" for k, v in p.items())


def apply_jitter(landmarks: np.ndarray, spec: str) -> np.ndarray:
    """The landmarks (5×2) moved by a :func:`jitter_spec` about their centroid."""
    kind, _, rest = spec.partition(":")
    if kind != "jitter":
        raise ValueError(f"not a jitter spec: {spec!r}")
    p = {k: float(v) for k, _, v in (i.partition("=") for i in rest.split(",") if i)}
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    c = lm.mean(0)
    iod = max(float(np.linalg.norm(lm[1] - lm[0])), 1.0)
    a = np.deg2rad(p["angle"])
    rot = p["scale"] * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return ((lm - c) @ rot.T + c + iod * np.array([p["dx"], p["dy"]])).astype(np.float32)


def parse_spec(spec: str) -> tuple[str, dict[str, float]]:
    kind, _, rest = spec.partition(":")
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown degradation {kind!r} in spec {spec!r}; known: {ALL_KINDS}")
    params = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        params[k] = float(v)
    return kind, params


def apply(
    image: np.ndarray, spec: str, box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """Return a degraded copy of a uint8 BGR/grey ``image``.

    Severities are relative to the face size (``box`` = x, y, w, h; default: the whole image),
    so a blur hurts a small face in a large photo as much as a close-up.
    """
    import cv2

    if ">" in spec or spec.startswith(SCALES_PREFIXES):
        from facedata.chains import apply_steps, split_chain

        photo, crop = split_chain(spec)
        if crop:
            raise ValueError(f"{spec!r} has crop-scale steps: use degraded_crop")
        return apply_steps(image, photo, box)
    kind, p = parse_spec(spec)
    h, w = image.shape[:2]
    if box is None:
        box = (0.0, 0.0, float(w), float(h))
    face = max(8.0, max(box[2], box[3]))
    rel = face / 100.0  # parameters are stated for a 100-pixel face
    if kind == "fill":
        if p["mode"] == 0:
            return np.zeros_like(image)
        colour = np.array([p["b"], p["g"], p["r"]], np.uint8)
        if p["mode"] == 1:
            return np.broadcast_to(
                colour[: image.shape[2]] if image.ndim == 3 else colour[0], image.shape
            ).copy()
        return np.random.default_rng(int(p["seed"])).integers(0, 256, image.shape, np.uint8)
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
        small = cv2.resize(
            image, (max(1, int(w / f)), max(1, int(h / f))), interpolation=cv2.INTER_AREA
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if kind == "occlusion":
        out = image.copy()
        side = np.sqrt(p["fraction"]) * np.array([box[2], box[3]])
        x0 = box[0] + p["u"] * (box[2] - side[0])
        y0 = box[1] + p["v"] * (box[3] - side[1])
        x0, y0 = int(max(0, x0)), int(max(0, y0))
        out[y0 : int(y0 + side[1]), x0 : int(x0 + side[0])] = int(p["grey"])
        return out
    if kind in ("resample", "lowres"):
        f = p["factor"] * (rel if kind == "resample" else 1.0)
        small = cv2.resize(
            image,
            (max(1, int(round(w / f))), max(1, int(round(h / f)))),
            interpolation=_cv_filter(p.get("down", 3)),
        )
        return cv2.resize(small, (w, h), interpolation=_cv_filter(p.get("up", 1)))
    if kind == "defocus":
        r = max(0.5, p["radius"] * rel)
        n = 2 * int(np.ceil(r)) + 1
        yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
        k = (np.hypot(xx, yy) <= r + 0.5).astype(np.float32)
        return cv2.filter2D(image, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT)
    x = image.astype(np.float32) / 255.0
    if kind == "gamma":
        return _u8(x ** p["gamma"])
    if kind == "lowlight":
        y = p["gain"] * x ** p["gamma"] * 255.0
        y += np.random.default_rng(int(p["seed"])).normal(0.0, p["sigma"], image.shape)
        return np.clip(y + 0.5, 0, 255).astype(np.uint8)
    if kind == "overexpose":
        return _u8(np.minimum(x * p["gain"], 1.0) ** (1.0 / np.sqrt(p["gain"])))
    if kind == "backlight":
        # the face (an ellipse in the box) darkened, the background brightened towards white
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        d = ((xx - cx) / (0.5 * box[2])) ** 2 + ((yy - cy) / (0.6 * box[3])) ** 2
        m = np.clip(1.5 - d, 0.0, 1.0)  # 1 inside the face, 0 outside, soft edge
        m = m[..., None] if image.ndim == 3 else m
        lit = 1.0 - (1.0 - x) ** p["back"]
        return _u8(m * x * p["face"] + (1 - m) * lit)
    if kind == "colour":
        if image.ndim != 3:
            return image.copy()
        gains = np.array([p["b"], p["g"], p["r"]], np.float32)[: image.shape[2]]
        return _u8(x * gains)
    # exposure: a gain with gamma-like roll-off keeps highlights from wrapping
    y = 1.0 - (1.0 - x) ** p["gain"] if p["gain"] > 1 else x * p["gain"]
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _cv_filter(code: float) -> int:
    import cv2

    return (
        cv2.INTER_NEAREST,
        cv2.INTER_LINEAR,
        cv2.INTER_CUBIC,
        cv2.INTER_AREA,
        cv2.INTER_LANCZOS4,
    )[int(code) % len(_FILTERS)]
