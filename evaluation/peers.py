"""Other projects' learned face-quality models, run as baselines beside tinyFQnet on the same
aligned faces. Baselines only: never teachers (nothing trains on their outputs) and never
shipped; the weights stay in ../shared/models/peers/ (provenance and licences in its README).

Every peer takes the 112×112 ArcFace-aligned crop that the runtime's own warp cuts from the
detector's five landmarks (tinyfq_native.align with mean 0, std 1: RGB pixel values as float)
and applies its own published preprocessing:

- LightQNet ×0.25 / ×0.5 / ×1.0 (MIT; 42k / 121k / 423k parameters): resized to 96×96,
  (x − 128) / 128, NHWC, onnxruntime.
- SDD-FIQA, MobileFaceNet port (GPL-3.0; ~0.95M): 112×112, (x − 127.5) / 127.5, NCHW; the MNN
  runtime in its own virtual environment (evaluation/_mnn_worker.py).
- qualityface 1.0.3 (MIT; 2.2M): resized to 128×128, (x / 255 − 0.5) / 0.5, NCHW, torch.
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

PEERS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "models" / "peers"
MNN_PYTHON = os.environ.get(
    "TINYFQ_MNN_PYTHON",
    str(Path.home() / ".cache" / "tinyfq-native" / "venv-mnn" / "bin" / "python"),
)


def crop_112(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(112, 112, 3) float32 RGB ArcFace crop, pixel values 0–255."""
    from tinyfq_native.align import align

    return align(image_bgr, landmarks, size=112, mean=0.0, std=1.0, colour_order="rgb").transpose(
        1, 2, 0
    )


def _resize(crops: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


class LightQNet:
    def __init__(self, width: str):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.name = f"lightqnet_x{ {'025': '0.25', '050': '0.5', '100': '1.0'}[width] }"
        self.params = {"025": 42_000, "050": 121_000, "100": 423_000}[width]
        self._s = ort.InferenceSession(
            str(PEERS_DIR / f"lightqnet-dm{width}.onnx"), so, providers=["CPUExecutionProvider"]
        )

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        x = (_resize(crops, 96) - 128.0) / 128.0
        return self._s.run(None, {"input:0": x.astype(np.float32)})[0].reshape(-1)


class SDDFIQA:
    name, params = "sdd_fiqa", 950_000

    def __init__(self, python: str = MNN_PYTHON):
        if not Path(python).exists():
            raise FileNotFoundError(
                f"SDD-FIQA needs the MNN runtime in its own venv: python -m venv "
                f"~/.cache/tinyfq-native/venv-mnn && that venv's pip install MNN==3.6.1 numpy "
                f"(or set TINYFQ_MNN_PYTHON); {python} does not exist"
            )
        self._p = subprocess.Popen(
            [
                python,
                str(Path(__file__).with_name("_mnn_worker.py")),
                str(PEERS_DIR / "sdd_fiqa.mnn"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        buf = io.BytesIO()
        np.save(buf, ((crops - 127.5) / 127.5).transpose(0, 3, 1, 2).astype(np.float32))
        self._p.stdin.write(struct.pack("<Q", buf.tell()) + buf.getvalue())
        self._p.stdin.flush()
        n = struct.unpack("<Q", self._p.stdout.read(8))[0]
        return np.load(io.BytesIO(self._p.stdout.read(n)))

    def close(self) -> None:
        if self._p.poll() is None or not self._p.stdin.closed:
            self._p.stdin.close()
            self._p.wait()
            self._p.stdout.close()

    def __del__(self) -> None:
        if hasattr(self, "_p"):
            self.close()


def _mobilenet_v2():
    """torchvision's MobileNetV2 layout (features.0 … features.18), defined here because the
    package index's torchvision does not load on this machine."""
    from torch import nn

    def cbr(i, o, k=3, s=1, g=1):
        return nn.Sequential(
            nn.Conv2d(i, o, k, s, (k - 1) // 2, groups=g, bias=False),
            nn.BatchNorm2d(o),
            nn.ReLU6(inplace=True),
        )

    class Inverted(nn.Module):
        def __init__(self, i, o, s, t):
            super().__init__()
            h = i * t
            layers = ([cbr(i, h, 1)] if t != 1 else []) + [
                cbr(h, h, 3, s, h),
                nn.Conv2d(h, o, 1, bias=False),
                nn.BatchNorm2d(o),
            ]
            self.conv = nn.Sequential(*layers)
            self.res = s == 1 and i == o

        def forward(self, x):
            return x + self.conv(x) if self.res else self.conv(x)

    feats, c = [cbr(3, 32, 3, 2)], 32
    for t, o, n, s in (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ):
        for j in range(n):
            feats.append(Inverted(c, o, s if j == 0 else 1, t))
            c = o
    feats.append(cbr(c, 1280, 1))
    return nn.Sequential(*feats)


class QualityFace:
    name, params = "qualityface", 2_200_000

    def __init__(self):
        import torch

        spec = importlib.util.find_spec("qualityface")
        if spec is None or spec.origin is None:
            raise ImportError(
                "qualityface is not installed: pip install --no-deps qualityface==1.0.3"
            )
        ckpt = Path(spec.origin).parent / "checkpoints" / "last.pth"
        sd = torch.load(ckpt, map_location="cpu", weights_only=True)
        self._features = _mobilenet_v2().eval()
        self._features.load_state_dict(
            {
                k.removeprefix("module.backbone.net.features."): v
                for k, v in sd.items()
                if ".net.features." in k
            }
        )
        self._w, self._b = sd["module.classify.weight"], sd["module.classify.bias"]
        torch.set_num_threads(1)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(
            ((_resize(crops, 128) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2).astype(np.float32)
        )
        with torch.no_grad():
            f = self._features(x).mean(dim=(2, 3))
            return (f @ self._w.T + self._b).reshape(-1).numpy()


def load_peers(names: tuple[str, ...] | None = None) -> list:
    """The peers that can run here; each missing runtime is reported on stderr and skipped."""
    makers = {
        "lightqnet_x0.25": lambda: LightQNet("025"),
        "lightqnet_x0.5": lambda: LightQNet("050"),
        "lightqnet_x1.0": lambda: LightQNet("100"),
        "sdd_fiqa": SDDFIQA,
        "qualityface": QualityFace,
    }
    peers = []
    for name, make in makers.items():
        if names is not None and name not in names:
            continue
        try:
            peers.append(make())
        except (ImportError, FileNotFoundError, OSError) as e:
            print(f"peer {name} skipped: {e}", file=sys.stderr)
    return peers


PEER_NAMES = ("lightqnet_x0.25", "lightqnet_x0.5", "lightqnet_x1.0", "sdd_fiqa", "qualityface")


def available_peers() -> tuple[str, ...]:
    """The peers whose weights and runtime are present (without loading them)."""
    ok = [
        f"lightqnet_x{w}"
        for w, f in (("0.25", "025"), ("0.5", "050"), ("1.0", "100"))
        if (PEERS_DIR / f"lightqnet-dm{f}.onnx").exists()
    ]
    if (PEERS_DIR / "sdd_fiqa.mnn").exists() and Path(MNN_PYTHON).exists():
        ok.append("sdd_fiqa")
    if importlib.util.find_spec("qualityface") is not None:
        ok.append("qualityface")
    missing = [n for n in PEER_NAMES if n not in ok]
    if missing:
        print(f"peers not available here (skipped): {', '.join(missing)}", file=sys.stderr)
    return tuple(ok)
