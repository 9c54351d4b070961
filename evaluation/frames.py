"""What every method says about one frame (a photo, or a degraded copy of it): the perceptual
measures and the learned peers, computed in a process pool and cached in a JSON-lines file (they
do not depend on our model, so a re-run only computes new frames). tinyFQnet itself is scored
fresh by the caller, through the native scorer, on the same image and landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.baselines import blur_quality, jpeg_quality, pose_quality
from facedata.degrade import apply
from facedata.extra import resolve
from facedata.jsonl import fill_cache, read_jsonl

_w: dict = {}


def load_image(root: str, rel: str, spec: str, face: dict) -> np.ndarray | None:
    """The frame's BGR image: the photo, degraded by ``spec`` relative to its face box."""
    import cv2

    img = cv2.imread(str(resolve(rel, root)), cv2.IMREAD_COLOR)
    if img is not None and spec:
        img = apply(img, spec, tuple(face["box"]))
    return img


def _init(peer_names: tuple[str, ...]) -> None:
    import cv2

    cv2.setNumThreads(1)
    from evaluation.peers import load_peers

    _w["peers"] = load_peers(peer_names)


def _measure(job: tuple[str, str, str, dict]) -> dict:
    from evaluation.peers import crop_112

    root, rel, spec, face = job
    img = load_image(root, rel, spec, face)
    lm = np.array(face["landmarks"], np.float32).reshape(5, 2)
    out = {
        "key": rel + "|" + spec,
        "blur": blur_quality(img, face["box"]),
        "jpeg": jpeg_quality(img, face["box"]),
        "pose": pose_quality(lm),
    }
    crop = crop_112(img, lm)[None]
    for p in _w["peers"]:
        out[p.name] = float(p(crop)[0])
    return out


class FrameCache:
    def __init__(self, path: Path, peer_names: tuple[str, ...]):
        self.path, self.peer_names = Path(path), peer_names
        self.rows: dict[str, dict] = {r["key"]: r for r in read_jsonl(self.path)}

    def fill(self, root: str, frames: list[tuple[str, str, dict]], workers: int) -> None:
        """Measure the (relpath, spec, face) frames not cached yet (or lacking a peer)."""
        seen, todo = set(), []
        for rel, spec, face in frames:
            k = rel + "|" + spec
            r = self.rows.get(k)
            if k in seen or (r is not None and all(p in r for p in self.peer_names)):
                continue
            seen.add(k)
            todo.append((root, rel, spec, face))
        if todo:
            fill_cache(
                self.path,
                self.rows,
                todo,
                _measure,
                _init,
                (self.peer_names,),
                workers=workers,
                desc="baselines and peers",
                unit="frame",
            )

    def get(self, rel: str, spec: str) -> dict:
        return self.rows[rel + "|" + spec]
