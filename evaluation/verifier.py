"""The verifier: dlib's ResNet face recogniser (dlib_face_recognition_resnet_model_v1 from
face_recognition_models 0.3.0, 128-d), which made none of the training labels. Each original
photo is detected once with the runtime's native detector (faces of at least 40 px); its degraded
copies reuse that detection. Embeddings are appended to a JSON-lines cache so a re-run computes
only what is new. Paths are relative to the LFW folder (``images/...``) or, for the extra
sources, to the extra folder (``pins/...``; facedata.extra.resolve).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np

from facedata.degrade import apply
from facedata.extra import resolve
from facedata.jsonl import read_jsonl

NAME = (
    "dlib ResNet (dlib_face_recognition_resnet_model_v1, face_recognition_models 0.3.0), "
    "128-d, mean-centred cosine"
)

_w: dict = {}


def missing(prog: str) -> bool:
    """Whether the verifier's packages (the eval extra) are absent; if so, says so on stderr
    as ``prog`` (the command's exit status is then 2)."""
    try:
        import warnings

        import dlib  # noqa: F401

        with warnings.catch_warnings():  # it imports pkg_resources, deprecated by setuptools
            warnings.simplefilter("ignore", DeprecationWarning)
            import face_recognition_models  # noqa: F401
    except ImportError as err:
        print(f"{prog}: {err}; pip install '.[eval]'", file=sys.stderr)
        return True
    return False


def _init(min_face: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    import dlib
    import face_recognition_models as frm

    from tinyfq_native import Detector

    _w["det"] = Detector(min_face=min_face)  # the runtime's detector, as `--detect` aligns
    _w["sp"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    _w["net"] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    _w["dlib"] = dlib


def _embed(job: tuple[str, str, str, list | None]) -> dict:
    """Detect (originals) and embed one image with dlib. job: (root, relpath, spec, face)."""
    import cv2

    root, rel, spec, face = job
    img = cv2.imread(str(resolve(rel, root)), cv2.IMREAD_COLOR)
    if img is None:
        return {"key": _key(rel, spec), "status": "unreadable"}
    if face is None:
        f = _w["det"].largest(img)
        if f is None:
            return {"key": _key(rel, spec), "status": "no_face"}
        face = {"box": list(f.box), "landmarks": f.landmarks.reshape(-1).tolist()}
    if spec:
        img = apply(img, spec, tuple(face["box"]))
    x, y, w, h = face["box"]
    rgb = np.ascontiguousarray(img[:, :, ::-1])
    dl = _w["dlib"]
    shape = _w["sp"](rgb, dl.rectangle(int(x), int(y), int(x + w), int(y + h)))
    emb = np.array(_w["net"].compute_face_descriptor(rgb, shape), np.float32)
    return {
        "key": _key(rel, spec),
        "status": "ok",
        **face,
        "emb": base64.b64encode(emb.tobytes()).decode(),
    }


def _key(rel: str, spec: str) -> str:
    return rel + "|" + spec


class EmbeddingCache:
    """dlib embeddings (and the detection of each original) keyed by path + degradation,
    appended to a JSON-lines file so a re-run only computes what is new."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict] = {r["key"]: r for r in read_jsonl(self.path)}

    def fill(self, root: str, wanted: list[tuple[str, str]], workers: int) -> None:
        from multiprocessing import get_context

        from tqdm import tqdm

        originals = sorted({rel for rel, _ in wanted if _key(rel, "") not in self.rows})
        degraded = sorted(
            {
                (rel, s)
                for rel, s in wanted
                if s
                and _key(rel, s) not in self.rows
                and (rel in originals or self.face(rel) is not None)
            }
        )
        if not originals and not degraded:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f, get_context("spawn").Pool(workers, _init, (40,)) as pool:
            for stage, jobs in (
                ("originals", [(root, r, "", None) for r in originals]),
                ("degraded", None),
            ):
                if jobs is None:  # degraded copies reuse the original's detection
                    jobs = [
                        (root, r, s, self.face(r)) for r, s in degraded if self.face(r) is not None
                    ]
                for r in tqdm(
                    pool.imap(_embed, jobs, chunksize=4),
                    total=len(jobs),
                    desc=f"dlib {stage}",
                    unit="img",
                    file=sys.stderr,
                ):
                    self.rows[r["key"]] = r
                    f.write(json.dumps(r) + "\n")
                f.flush()

    def face(self, rel: str) -> dict | None:
        r = self.rows.get(_key(rel, ""))
        return {"box": r["box"], "landmarks": r["landmarks"]} if r and r["status"] == "ok" else None

    def emb(self, rel: str, spec: str) -> np.ndarray | None:
        r = self.rows.get(_key(rel, spec))
        if not r or r["status"] != "ok":
            return None
        return np.frombuffer(base64.b64decode(r["emb"]), np.float32)
