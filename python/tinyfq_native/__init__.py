"""tinyfq_native: face image quality for recognition (tinyFQnet) scored through ncnn.

>>> from tinyfq_native import Scorer
>>> scorer = Scorer()                       # the trained default model, embedded
>>> q = scorer.score(aligned_crop_bgr)      # float in [0, 1]; higher = more recognisable
>>> q = scorer.score(photo_bgr, landmarks)  # full photo + 5 landmarks (5×2 array)
>>> q = scorer.score(photo_bgr, detect=True)  # the largest face the native detector finds
"""

from tinyfq_native._core import Status, UnsupportedError, cpu_features, ncnn_version
from tinyfq_native._scorer import FileFaces, Scorer, default_model_info
from tinyfq_native.detect import Detector, Face
from tinyfq_native.engine import Result
from tinyfq_native.select import Pick, TrackSelector, select_best

__all__ = [
    "Scorer",
    "Result",
    "Status",
    "UnsupportedError",
    "Detector",
    "Face",
    "FileFaces",
    "default_model_info",
    "select_best",
    "TrackSelector",
    "Pick",
    "cpu_features",
    "ncnn_version",
    "__version__",
]
__version__ = "0.1.0"
