"""Second-order degradations (as in BSRGAN / Real-ESRGAN): chains of one or two steps, each on
the photo before the warp or on the aligned crop after it, drawn and applied here; the steps
themselves are facedata.degrade's kinds. A chain is written as steps joined by ``" > "``, each
prefixed by its scale: ``"photo/blur:sigma=2 > crop/jpeg:quality=9"``.

    python -m facedata.chains PHOTO "X1 Y1 ... X5 Y5" --out training/labels/degradations.png
"""

from __future__ import annotations

import numpy as np

from facedata.degrade import CHAIN_KINDS, CROP_EVAL_KINDS, SCALES, apply


def _fmt(kind: str, p: dict) -> str:
    return kind + ":" + ",".join(f"{k}={v:.4g}" for k, v in p.items())


def step_spec(rng: np.random.Generator, kind: str, severity: float | None = None) -> str:
    """One step of the second-order model: ``kind`` (any of :data:`CHAIN_KINDS` or
    ``"lowres"``) with parameters drawn over its whole range, or at ``severity`` in [0, 1]
    (0 = mild, 1 = harsh) where given. Ranges: JPEG quality 3–30, gamma 1.5–4, low light
    (gain 0.08–0.5, gamma 1–2.5, noise σ 2–20), over-exposure (gain 1.6–4), backlight (face at
    0.15–0.6 of its brightness, background ×1–2), colour casts (per-channel gains 0.6–1.4),
    resampling by 1.5–6× with one of five filters, motion (5–25 px per 100 px of face) and
    defocus blur (radius 1–6), occlusion of 10–50% of the face."""

    def u(lo: float, hi: float) -> float:
        t = rng.random() if severity is None else severity + rng.uniform(-0.1, 0.1)
        return lo + (hi - lo) * float(np.clip(t, 0.0, 1.0))

    if kind == "jpeg":
        return _fmt(kind, {"quality": float(round(u(30.0, 3.0)))})
    if kind == "gamma":
        return _fmt(kind, {"gamma": u(1.5, 4.0)})
    if kind == "lowlight":
        return _fmt(
            kind,
            {
                "gain": u(0.5, 0.08),
                "gamma": u(1.0, 2.5),
                "sigma": u(2.0, 20.0),
                "seed": float(rng.integers(1 << 30)),
            },
        )
    if kind == "overexpose":
        return _fmt(kind, {"gain": u(1.6, 4.0)})
    if kind == "backlight":
        return _fmt(kind, {"face": u(0.6, 0.15), "back": u(1.0, 2.0)})
    if kind == "colour":
        g = rng.uniform(-1.0, 1.0, 3)
        g = g / max(float(np.abs(g).max()), 1e-6) * u(0.1, 0.4)
        return _fmt(kind, {"b": 1 + g[0], "g": 1 + g[1], "r": 1 + g[2]})
    if kind in ("resample", "lowres"):
        return _fmt(
            kind,
            {"factor": u(1.5, 6.0), "down": float(rng.integers(5)), "up": float(rng.integers(5))},
        )
    if kind == "defocus":
        return _fmt(kind, {"radius": u(1.0, 6.0)})
    if kind == "blur":
        return _fmt(kind, {"sigma": u(0.8, 6.0)})
    if kind == "motion":
        return _fmt(kind, {"length": u(5.0, 25.0), "angle": float(rng.uniform(0.0, 180.0))})
    if kind == "noise":
        return _fmt(kind, {"sigma": u(4.0, 40.0), "seed": float(rng.integers(1 << 30))})
    if kind == "downscale":
        return _fmt(kind, {"factor": u(1.5, 8.0)})
    if kind == "occlusion":
        return _fmt(
            kind,
            {
                "fraction": u(0.1, 0.5),
                "u": float(rng.uniform()),
                "v": float(rng.uniform()),
                "grey": float(rng.integers(256)),
            },
        )
    if kind == "exposure":
        return _fmt(kind, {"gain": float(rng.choice([u(0.7, 0.15), u(1.3, 3.5)]))})
    raise ValueError(f"no step of kind {kind!r}; known: {CHAIN_KINDS + ('lowres',)}")


def chain_spec(
    rng: np.random.Generator,
    steps: int | None = None,
    severity: float | None = None,
    kinds: tuple[str, ...] = CHAIN_KINDS,
    crop_prob: float = 0.5,
) -> str:
    """A second-order degradation: ``steps`` (default: 1 or 2 at random) distinct kinds, each
    at photo or crop scale (crop with ``crop_prob``), in random order within a scale; the photo
    steps necessarily come first (the warp lies between the two scales)."""
    n = int(steps) if steps is not None else int(rng.integers(1, 3))
    picked = rng.choice(len(kinds), size=min(n, len(kinds)), replace=False)
    todo = [(SCALES[int(rng.random() < crop_prob)], kinds[int(i)]) for i in picked]
    todo.sort(key=lambda t: t[0] == "crop")  # stable: random order within each scale
    return " > ".join(f"{sc}/{step_spec(rng, k, severity)}" for sc, k in todo)


def crop_spec(rng: np.random.Generator, kind: str) -> str:
    """One crop-scale degradation of the aligned-crop evaluation (:data:`CROP_EVAL_KINDS`), in
    the ranges it states: JPEG quality 3–30, tone curve gamma 2.5–4, low light (gain 0.1–0.35,
    gamma 1.2–2, noise σ 6–20), Gaussian blur σ 1.5–5 px per 100 px, low resolution (down
    3–7×, area filter, up bilinear), noise σ 10–40, occlusion 20–45% of the crop."""
    if kind == "jpeg":
        p = {"quality": float(rng.integers(3, 31))}
    elif kind == "gamma":
        p = {"gamma": rng.uniform(2.5, 4.0)}
    elif kind == "lowlight":
        p = {
            "gain": rng.uniform(0.1, 0.35),
            "gamma": rng.uniform(1.2, 2.0),
            "sigma": rng.uniform(6.0, 20.0),
            "seed": float(rng.integers(1 << 30)),
        }
    elif kind == "blur":
        p = {"sigma": rng.uniform(1.5, 5.0)}
    elif kind == "lowres":
        p = {"factor": rng.uniform(3.0, 7.0), "down": 3.0, "up": 1.0}
    elif kind == "noise":
        p = {"sigma": rng.uniform(10.0, 40.0), "seed": float(rng.integers(1 << 30))}
    elif kind == "occlusion":
        p = {
            "fraction": rng.uniform(0.2, 0.45),
            "u": rng.uniform(),
            "v": rng.uniform(),
            "grey": float(rng.integers(256)),
        }
    else:
        raise ValueError(f"no crop-scale evaluation kind {kind!r}; known: {CROP_EVAL_KINDS}")
    return "crop/" + _fmt(kind, p)


def split_chain(spec: str) -> tuple[list[str], list[str]]:
    """(photo-scale steps, crop-scale steps) of a spec; an unprefixed step is photo-scale."""
    photo: list[str] = []
    crop: list[str] = []
    for step in filter(None, (s.strip() for s in spec.split(">"))):
        scale, sep, rest = step.partition("/")
        if sep and scale in SCALES:
            (crop if scale == "crop" else photo).append(rest)
        else:
            photo.append(step)
    return photo, crop


def apply_steps(
    image: np.ndarray, steps: list[str], box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    for s in steps:
        image = apply(image, s, box)
    return image


def degraded_crop(
    image: np.ndarray,
    landmarks: np.ndarray,
    spec: str = "",
    size: int = 112,
    box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """The (size, size, 3) uint8 BGR ArcFace-aligned crop of a photo's face after ``spec``: its
    photo-scale steps on the photo (severities relative to ``box``, default: the box around the
    landmarks), the runtime's warp (tinyfq_native.align), then its crop-scale steps."""
    from tinyfq_native.align import align

    photo, crop = split_chain(spec)
    if photo:
        if box is None:
            lm = np.asarray(landmarks, np.float32).reshape(5, 2)
            iod = max(float(np.linalg.norm(lm[1] - lm[0])), 4.0)
            c = lm.mean(0)
            box = (c[0] - 1.1 * iod, c[1] - 1.3 * iod, 2.2 * iod, 2.4 * iod)
        image = apply_steps(image, photo, box)
    out = align(image, landmarks, size=size, mean=0.0, std=1.0, colour_order="bgr")
    out = np.clip(out.transpose(1, 2, 0) + 0.5, 0, 255).astype(np.uint8)
    return apply_steps(out, crop) if crop else out


def contact_sheet(
    image: np.ndarray, landmarks: np.ndarray, path: str, seed: int = 0, chains: int = 9
) -> None:
    """A PNG of one face under every kind at photo and at crop scale (mid severity) and under
    ``chains`` random second-order chains, each captioned with its spec."""
    import textwrap

    from facedata.plot import pyplot

    plt = pyplot()
    rng = np.random.default_rng(seed)
    tiles = [("clean", "")]
    for k in CHAIN_KINDS:
        tiles += [(f"{sc}/{k}", f"{sc}/{step_spec(rng, k, 0.6)}") for sc in SCALES]
    tiles += [(f"chain {i + 1}", chain_spec(rng, steps=2)) for i in range(chains)]
    cols = 8
    rows = -(-len(tiles) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.3))
    for ax, (title, spec) in zip(axes.ravel(), tiles):
        ax.imshow(degraded_crop(image, landmarks, spec)[:, :, ::-1])
        caption = title if not spec.startswith(("photo/", "crop/")) or ">" in spec else ""
        if ">" in spec:
            caption = "\n".join(textwrap.shorten(s.split(":")[0], 24) for s in spec.split(" > "))
        ax.set_title(caption or title, fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(
        "facedata.degrade: each kind at photo scale (before the warp) and crop scale (after it), "
        "then second-order chains of two",
        fontsize=9,
    )
    fig.tight_layout()
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    Image.open(buf).convert("RGB").quantize(256).save(path, optimize=True)  # a small PNG


if __name__ == "__main__":
    import argparse

    import cv2

    ap = argparse.ArgumentParser(description="contact sheet of the degradation model")
    ap.add_argument("photo")
    ap.add_argument("landmarks", help="ten numbers: x y of the five landmarks")
    ap.add_argument("--out", default="training/labels/degradations.png")
    a = ap.parse_args()
    img = cv2.imread(a.photo, cv2.IMREAD_COLOR)
    contact_sheet(img, np.array(a.landmarks.split(), np.float32).reshape(5, 2), a.out)
