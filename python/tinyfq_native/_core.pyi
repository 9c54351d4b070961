"""Type stubs of the native extension tinyfq_native._core."""

import enum
from collections.abc import Sequence
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

class Status(enum.Enum):
    ok = 0
    missing = 1
    invalid = 2
    no_face = 3
    unsupported = 4

class UnsupportedError(ValueError):
    """A valid file of a variant the decoders do not handle (Status.unsupported)."""

class Detector:
    def __init__(
        self,
        max_side: int = 320,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        min_face: float = 0.0,
        top_k: int = 1000,
    ) -> None: ...
    @property
    def max_side(self) -> int: ...
    @property
    def score_threshold(self) -> float: ...
    @property
    def nms_threshold(self) -> float: ...
    @property
    def min_face(self) -> float: ...
    @property
    def top_k(self) -> int: ...
    def detect(
        self, image: npt.NDArray[np.uint8], format: str = "bgr"
    ) -> npt.NDArray[np.float32]: ...
    def prepare(
        self, image: npt.NDArray[np.uint8], format: str = "bgr"
    ) -> tuple[npt.NDArray[np.float32], float, float]: ...
    def detect_prepared(
        self, tensor: npt.ArrayLike, scale_x: float = 1.0, scale_y: float = 1.0
    ) -> npt.NDArray[np.float32]: ...

class Scorer:
    @overload
    def __init__(
        self,
        fp16: bool = False,
        workers: int = 0,
        reduced_decode: bool = False,
        exif_orientation: bool = True,
    ) -> None: ...
    @overload
    def __init__(
        self,
        param: str,
        bin: str,
        json: str,
        fp16: bool = False,
        workers: int = 0,
        reduced_decode: bool = False,
        exif_orientation: bool = True,
    ) -> None: ...
    @staticmethod
    def from_memory(
        param: str,
        bin: bytes,
        json: str,
        fp16: bool = False,
        workers: int = 0,
        reduced_decode: bool = False,
        exif_orientation: bool = True,
    ) -> Scorer: ...
    @property
    def model_json(self) -> str: ...
    @property
    def input_size(self) -> int: ...
    @property
    def reduced_decode(self) -> bool: ...
    @property
    def exif_orientation(self) -> bool: ...
    def score(
        self,
        image: npt.NDArray[np.uint8],
        landmarks: npt.ArrayLike | None = None,
        format: str = "bgr",
    ) -> float: ...
    def score_batch(
        self,
        images: Sequence[npt.NDArray[np.uint8]],
        landmarks: npt.ArrayLike | None = None,
        workers: int = 0,
        format: str = "bgr",
    ) -> npt.NDArray[np.float32]: ...
    def score_files(
        self,
        paths: Sequence[str | bytes],
        landmarks: npt.ArrayLike | None = None,
        workers: int = 0,
        max_pixels: int = ...,
    ) -> tuple[npt.NDArray[np.float32], list[bytes], list[Status]]: ...
    def preprocess(
        self,
        image: npt.NDArray[np.uint8],
        landmarks: npt.ArrayLike | None = None,
        format: str = "bgr",
        reference: bool = False,
    ) -> npt.NDArray[np.float32]: ...
    def score_tensor(self, tensor: npt.ArrayLike) -> float | npt.NDArray[np.float32]: ...
    def score_faces(
        self,
        detector: Detector,
        images: Sequence[npt.NDArray[np.uint8]],
        all_faces: bool = False,
        workers: int = 0,
        format: str = "bgr",
    ) -> list[npt.NDArray[np.float32]]: ...
    def score_files_faces(
        self,
        detector: Detector,
        paths: Sequence[str | bytes],
        all_faces: bool = False,
        workers: int = 0,
        max_pixels: int = ...,
    ) -> tuple[list[npt.NDArray[np.float32]], list[bytes], list[Status]]: ...

def preprocess(
    image: npt.NDArray[np.uint8],
    landmarks: npt.ArrayLike | None = None,
    *,
    model_json: str,
    format: str = "bgr",
    reference: bool = False,
) -> npt.NDArray[np.float32]: ...
def estimate_similarity(src: npt.ArrayLike, dst: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
@overload
def decode_image(
    data: bytes,
    max_pixels: int = ...,
    min_width: int = 0,
    min_height: int = 0,
    max_scale: int = 8,
    return_scale: Literal[False] = False,
    exif_orientation: bool = True,
) -> npt.NDArray[np.uint8]: ...
@overload
def decode_image(
    data: bytes,
    max_pixels: int = ...,
    min_width: int = 0,
    min_height: int = 0,
    max_scale: int = 8,
    *,
    return_scale: Literal[True],
    exif_orientation: bool = True,
) -> tuple[npt.NDArray[np.uint8], int]: ...
@overload
def read_image(
    path: str,
    max_pixels: int = ...,
    min_width: int = 0,
    min_height: int = 0,
    max_scale: int = 8,
    return_scale: Literal[False] = False,
    exif_orientation: bool = True,
) -> npt.NDArray[np.uint8]: ...
@overload
def read_image(
    path: str,
    max_pixels: int = ...,
    min_width: int = 0,
    min_height: int = 0,
    max_scale: int = 8,
    *,
    return_scale: Literal[True],
    exif_orientation: bool = True,
) -> tuple[npt.NDArray[np.uint8], int]: ...
def ncnn_version() -> str: ...
def cpu_features() -> str: ...
def hardware_workers() -> int: ...
def embedded_model_json() -> str: ...
def embedded_detector_json() -> str: ...
def have_decoder() -> bool: ...
def network_kernels() -> str: ...
def jpeg_decoder() -> str: ...
def factor_names() -> list[str]: ...
def factors(
    image: npt.NDArray[np.uint8],
    landmarks: npt.ArrayLike | None = None,
    format: str = "bgr",
    box: Sequence[float] | None = None,
    confidence: float = ...,
) -> dict[str, float]: ...
def score_files_factors(
    scorer: Scorer,
    paths: Sequence[str | bytes],
    landmarks: npt.ArrayLike | None = None,
    detector: Detector | None = None,
    all_faces: bool = False,
    workers: int = 0,
    max_pixels: int = ...,
) -> tuple[list[npt.NDArray[np.float32]], list[bytes], list[Status]]: ...
