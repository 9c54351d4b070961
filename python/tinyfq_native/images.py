"""Image decoding as the native scorer does it (JPEG with libjpeg-turbo or stb_image, PNG, BMP,
PNM), for callers that want the exact pixels the scorer sees."""

from __future__ import annotations

import json
from typing import Any

from tinyfq_native._core import decode_image, have_decoder, jpeg_decoder, read_image
from tinyfq_native._core import embedded_detector_json as _detector_json

__all__ = ["read_image", "decode_image", "have_decoder", "jpeg_decoder", "detector_info"]


def detector_info() -> dict[str, Any]:
    """Metadata of the face detector embedded in the library (name, licence, source, sha256)."""
    info: dict[str, Any] = json.loads(_detector_json())
    return info
