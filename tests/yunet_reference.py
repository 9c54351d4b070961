"""An independent reference for the native YuNet detector: onnxruntime runs the original ONNX
file, numpy decodes its outputs (the YUNET class of libfacedetection.train's
tools/compare_inference.py, as ../shared/models/README.md describes it) and applies NMS.

Used by the exactness tests (tests/test_detect.py), the detection golden file
(scripts/make_golden.py) and the benchmarks. Test support only: never imported by the package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ONNX = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "models"
    / "yunet"
    / "yunet_n_dynamic.onnx"
)
STRIDES = (8, 16, 32)


def session(threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(ONNX), so, providers=["CPUExecutionProvider"])


def raw_outputs(sess, tensor: np.ndarray) -> dict[str, np.ndarray]:
    """The twelve outputs for a (3, H, W) float32 input (BGR, 0-255)."""
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, {sess.get_inputs()[0].name: tensor[None].astype(np.float32)})
    return dict(zip(names, outs))


def decode(
    outs: dict[str, np.ndarray], height: int, width: int, score_threshold: float = 0.6
) -> np.ndarray:
    """Rows (score, x, y, w, h, l0x, l0y, ..., l4x, l4y) in input-tensor pixels, before NMS."""
    rows = []
    for s in STRIDES:
        rows_s, cols_s = height // s, width // s
        cls = outs[f"cls_{s}"][0, :, 0]
        obj = outs[f"obj_{s}"][0, :, 0]
        box = outs[f"bbox_{s}"][0]
        kps = outs[f"kps_{s}"][0]
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        r, c = np.divmod(np.arange(rows_s * cols_s), cols_s)
        ax, ay = c * s, r * s
        cx = box[:, 0] * s + ax
        cy = box[:, 1] * s + ay
        w = np.exp(box[:, 2]) * s
        h = np.exp(box[:, 3]) * s
        lm = np.empty((len(cx), 10), np.float64)
        lm[:, 0::2] = kps[:, 0::2] * s + ax[:, None]
        lm[:, 1::2] = kps[:, 1::2] * s + ay[:, None]
        out = np.column_stack([score, cx - w / 2, cy - h / 2, w, h, lm])
        rows.append(out[score >= score_threshold])
    return np.concatenate(rows) if rows else np.zeros((0, 15))


def nms(rows: np.ndarray, iou_threshold: float = 0.3) -> np.ndarray:
    """Greedy NMS by score (ties: earlier row first), as the native detector does it."""
    order = sorted(range(len(rows)), key=lambda i: (-rows[i, 0], i))
    keep: list[int] = []
    for i in order:
        x, y, w, h = rows[i, 1:5]
        ok = True
        for j in keep:
            X, Y, W, H = rows[j, 1:5]
            iw = max(0.0, min(x + w, X + W) - max(x, X))
            ih = max(0.0, min(y + h, Y + H) - max(y, Y))
            inter = iw * ih
            union = w * h + W * H - inter
            if union > 0 and inter / union > iou_threshold:
                ok = False
                break
        if ok:
            keep.append(i)
    return rows[keep]


def detect(
    sess,
    tensor: np.ndarray,
    scale_x: float = 1.0,
    scale_y: float = 1.0,
    score_threshold: float = 0.6,
    nms_threshold: float = 0.3,
    top_k: int = 1000,
) -> np.ndarray:
    """Faces as the native detector returns them: rows (x, y, w, h, confidence, l0x, l0y, ...,
    l4y) in image pixels (input pixels divided by the scales), largest box first."""
    _, h, w = tensor.shape
    rows = decode(raw_outputs(sess, tensor), h, w, score_threshold)
    order = sorted(range(len(rows)), key=lambda i: (-rows[i, 0], i))[:top_k]
    kept = nms(rows[order], nms_threshold)
    out = np.empty((len(kept), 15))
    out[:, 0:4] = kept[:, 1:5]
    out[:, 4] = kept[:, 0]
    out[:, 5:] = kept[:, 5:]
    out[:, [0, 2]] /= scale_x
    out[:, [1, 3]] /= scale_y
    out[:, 5::2] /= scale_x
    out[:, 6::2] /= scale_y
    area = out[:, 2] * out[:, 3]
    return out[sorted(range(len(out)), key=lambda i: -area[i])]
