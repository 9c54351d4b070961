"""The JPEG decoder (libjpeg-turbo, or stb_image in builds without it) against Pillow, with
OpenCV as a second opinion on the EXIF orientations: every valid variant, generated here with
the encoders of :mod:`tests.corpus` (and libjpeg-turbo's jpegtran, when installed, for
arithmetic coding), must decode to Pillow's pixels within the JPEG bound, or be a clear
"unsupported" where marked so (the contract and the tolerances: tests/corpus.py)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from tests.corpus import (
    LIBJPEG,
    Case,
    Image,
    assert_same_as_pillow,
    jpeg_bytes,
    picture,
    pillow,
    tiff_orientation,
    with_app1,
)
from tinyfq_native.images import decode_image

# the JPEG corpus's own generator: the same corpus whichever test files run
RNG = np.random.default_rng(26)


def jpeg_cases() -> list[Case]:
    cases = []
    pic = picture(RNG, 45, 61)  # not a multiple of the MCU either way
    for sub, name in ((0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")):
        for progressive in (False, True):
            tag = f"jpeg {name}{' progressive' if progressive else ''}"
            cases.append(
                Case(
                    tag,
                    jpeg_bytes(pic, quality=90, subsampling=sub, progressive=progressive),
                    kind="jpeg",
                )
            )
    cases.append(
        Case("jpeg optimized Huffman", jpeg_bytes(pic, quality=75, optimize=True), kind="jpeg")
    )
    cases.append(Case("jpeg grey", jpeg_bytes(pic[:, :, 1], quality=90), kind="jpeg"))
    cases.append(
        Case(
            "jpeg grey progressive",
            jpeg_bytes(pic[:, :, 1], quality=90, progressive=True),
            kind="jpeg",
        )
    )
    cmyk = Image.fromarray(pic).convert("CMYK")
    cases.append(Case("jpeg CMYK (Adobe)", jpeg_bytes(cmyk, quality=95), kind="jpeg"))
    cases.append(
        Case("jpeg CMYK progressive", jpeg_bytes(cmyk, quality=95, progressive=True), kind="jpeg")
    )
    # YCCK: a CMYK file whose Adobe segment says transform 2: read as YCCK by every decoder
    ycck = jpeg_bytes(cmyk, quality=95)
    at = ycck.find(b"Adobe")
    assert at > 0
    ycck = ycck[: at + 11] + b"\x02" + ycck[at + 12 :]
    cases.append(Case("jpeg YCCK (Adobe transform 2)", ycck, kind="jpeg"))
    for rows, blocks in ((1, None), (None, 3)):
        save = {"restart_marker_rows": rows} if rows else {"restart_marker_blocks": blocks}
        try:
            data = jpeg_bytes(pic, quality=90, **save)
        except TypeError:  # Pillow before 10.2
            continue
        assert b"\xff\xdd" in data  # a DRI segment: restart markers
        cases.append(Case(f"jpeg restart markers {save}", data, kind="jpeg"))
    base = jpeg_bytes(pic, quality=90)
    for o in range(1, 9):
        order = "MM" if o % 2 else "II"
        cases.append(
            Case(
                f"jpeg EXIF orientation {o} {order}",
                with_app1(base, b"Exif\0\0" + tiff_orientation(o, order)),
                kind="jpeg",
            )
        )
    exif = Image.Exif()
    exif[0x0112] = 6
    cases.append(
        Case(
            "jpeg EXIF orientation 6 (Pillow's)",
            jpeg_bytes(pic, quality=90, exif=exif.tobytes()),
            kind="jpeg",
        )
    )
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"
    data = with_app1(with_app1(base, b"Exif\0\0" + tiff_orientation(8)), xmp)
    cases.append(Case("jpeg XMP before EXIF orientation 8", data, kind="jpeg"))
    cases.append(
        Case(
            "jpeg with a 1 KB trailer",
            base + RNG.integers(0, 256, 1024, np.uint8).tobytes(),
            kind="jpeg",
        )
    )
    cases.append(
        Case(
            "jpeg with a video after it",
            base + b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 8,
            kind="jpeg",
        )
    )
    jpegtran = shutil.which("jpegtran")
    if jpegtran:  # libjpeg-turbo's tools: arithmetic coding, which Pillow cannot write
        for extra in ([], ["-progressive"]):
            arith = subprocess.run(
                [jpegtran, "-arithmetic", *extra], input=base, capture_output=True, check=True
            ).stdout
            cases.append(
                Case(
                    f"jpeg arithmetic{' progressive' if extra else ''}",
                    arith,
                    kind="jpeg",
                    unsupported=not LIBJPEG,
                )
            )
    return cases


# ---------------------------------------------------------------- the comparison

CASES = jpeg_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_pixels_as_pillow(case):
    assert_same_as_pillow(case)


@pytest.mark.parametrize("o", range(1, 9))
def test_opencv_agrees_on_the_orientations(o):
    """The second opinion: OpenCV's imread turns JPEGs upright too, to Pillow's picture."""
    cv2 = pytest.importorskip("cv2")
    (case,) = [c for c in CASES if c.name == f"jpeg EXIF orientation {o} {'MM' if o % 2 else 'II'}"]
    cv = cv2.imdecode(np.frombuffer(case.data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    ref = pillow(case.data, grey=False)
    assert cv.shape == ref.shape
    assert np.abs(cv.astype(int) - ref.astype(int)).mean() < 1.0
    stored = decode_image(case.data, exif_orientation=False)
    assert stored.shape == (45, 61, 3)  # as stored, whatever the tag
    if o >= 5:
        assert ref.shape == (61, 45, 3)


def test_arithmetic_coding_is_in_the_corpus():
    if not shutil.which("jpegtran"):
        pytest.skip(
            "jpegtran (libjpeg-turbo's tools) not found: Pillow and OpenCV cannot write "
            "arithmetic-coded JPEG; the C++ suite decode transcodes one with libjpeg instead"
        )
    assert any("arithmetic" in c.name for c in CASES)
