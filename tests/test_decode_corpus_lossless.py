"""The lossless decoders (PNG, BMP, PNM) against Pillow: every valid variant of each format,
generated here with the encoders of :mod:`tests.corpus`, must decode to Pillow's pixels,
exactly or within the stated convention, or be a clear "unsupported" where marked so (the
contract and the tolerances: tests/corpus.py)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.corpus import (
    BI_BITFIELDS,
    BI_RLE4,
    BI_RLE8,
    Case,
    assert_same_as_pillow,
    bmp_bytes,
    picture,
    png_bytes,
    pnm_bytes,
    scale,
    tiff_orientation,
)

# one generator for the three families, drawn in this order: the same corpus whichever test
# files run
RNG = np.random.default_rng(26)


def png_cases() -> list[Case]:
    cases = []
    h, w = 23, 37  # odd: every Adam7 pass partial, rows not whole bytes at 1, 2, 4 bits
    for colour, depths in (
        (0, (1, 2, 4, 8, 16)),
        (2, (8, 16)),
        (3, (1, 2, 4, 8)),
        (4, (8, 16)),
        (6, (8, 16)),
    ):
        ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
        for depth in depths:
            top = (1 << depth) - 1
            samples = RNG.integers(0, top + 1, (h, w, ch)).astype(np.uint16)
            samples[: h // 2] = (
                np.linspace(0, top, w).astype(np.uint16)[None, :, None].repeat(ch, axis=2)
            )
            palette = None
            if colour == 3:
                palette = RNG.integers(0, 256, ((1 << depth), 3))
            for interlace in (False, True):
                name = f"png c{colour} d{depth}{' adam7' if interlace else ''}"
                data = png_bytes(samples, colour, depth, interlace=interlace, palette=palette)
                cases.append(Case(name, data))
    pic = picture(RNG, 30, 44)
    cases.append(Case("png rgb 3 IDAT chunks", png_bytes(pic, 2, 8, idat_pieces=3)))
    cases.append(Case("png rgb tRNS", png_bytes(pic, 2, 8, trns=struct.pack(">HHH", 255, 0, 0))))
    cases.append(Case("png grey tRNS", png_bytes(pic[:, :, 0], 0, 8, trns=struct.pack(">H", 255))))
    pal = RNG.integers(0, 256, (16, 3))
    idx = RNG.integers(0, 16, (30, 44)).astype(np.uint16)
    cases.append(
        Case("png palette tRNS", png_bytes(idx, 3, 4, palette=pal, trns=bytes(range(0, 256, 32))))
    )
    for o in range(1, 9):
        order = "MM" if o % 2 else "II"
        cases.append(
            Case(
                f"png eXIf orientation {o} {order}",
                png_bytes(pic, 2, 8, exif=tiff_orientation(o, order)),
            )
        )
    return cases


# ---------------------------------------------------------------- BMP


def bmp_cases() -> list[Case]:
    cases = []
    h, w = 19, 29  # odd: rows padded, a nibble and bits left over
    pic = picture(RNG, h, w)
    q5, q = (pic >> 3).astype(np.uint32), pic.astype(np.uint32)
    g6 = q[:, :, 1] >> 2
    rgb555 = q5[:, :, 0] << 10 | q5[:, :, 1] << 5 | q5[:, :, 2]
    rgb565 = q5[:, :, 0] << 11 | g6 << 5 | q5[:, :, 2]
    rgba = q[:, :, 0] << 24 | q[:, :, 1] << 16 | q[:, :, 2] << 8 | 0x80
    # our 8-bit values of the 5- and 6-bit fields: v * 255 / max rounded
    e555 = scale(q5, 31)
    e565 = e555.copy()
    e565[:, :, 1] = scale(g6, 63)
    for header in (12, 40, 56, 108, 124):
        name = {12: "core", 40: "v3", 56: "v3 56-byte", 108: "v4", 124: "v5"}[header]
        for bpp in (1, 4, 8):
            n = 1 << bpp
            palette = RNG.integers(0, 256, (n, 3))
            idx = RNG.integers(0, n, (h, w))
            cases.append(
                Case(
                    f"bmp {name} {bpp}-bit", bmp_bytes(idx, bpp=bpp, header=header, palette=palette)
                )
            )
        cases.append(Case(f"bmp {name} 24-bit", bmp_bytes(pic, bpp=24, header=header)))
        if header == 12:
            continue  # the core header knows no other depth, no top-down rows, no compression
        cases.append(
            Case(
                f"bmp {name} 24-bit top-down", bmp_bytes(pic, bpp=24, header=header, top_down=True)
            )
        )
        idx = RNG.integers(0, 256, (h, w))
        cases.append(
            Case(
                f"bmp {name} 8-bit top-down",
                bmp_bytes(
                    idx, bpp=8, header=header, top_down=True, palette=RNG.integers(0, 256, (256, 3))
                ),
            )
        )
        cases.append(Case(f"bmp {name} 32-bit BGRX", bmp_bytes(pic, bpp=32, header=header)))
        # 16 bits: 5-5-5 without bit fields, 5-6-5 and 5-5-5 with them
        cases.append(
            Case(
                f"bmp {name} 16-bit 555",
                bmp_bytes(pic, bpp=16, header=header, packed=rgb555),
                kind="convention",
                expect=e555,
            )
        )
        cases.append(
            Case(
                f"bmp {name} 16-bit bit fields 565",
                bmp_bytes(
                    pic,
                    bpp=16,
                    header=header,
                    compression=BI_BITFIELDS,
                    masks=(0xF800, 0x7E0, 0x1F),
                    packed=rgb565,
                ),
                kind="convention",
                expect=e565,
            )
        )
        cases.append(
            Case(
                f"bmp {name} 16-bit bit fields 555",
                bmp_bytes(
                    pic,
                    bpp=16,
                    header=header,
                    compression=BI_BITFIELDS,
                    masks=(0x7C00, 0x3E0, 0x1F),
                    packed=rgb555,
                ),
                kind="convention",
                expect=e555,
            )
        )
        masks = (0xFF000000, 0xFF0000, 0xFF00, 0xFF)
        cases.append(
            Case(
                f"bmp {name} 32-bit bit fields RGBA",
                bmp_bytes(
                    pic, bpp=32, header=header, compression=BI_BITFIELDS, masks=masks, packed=rgba
                ),
            )
        )
        for comp, bits in ((BI_RLE8, 8), (BI_RLE4, 4)):
            idx = RNG.integers(0, 1 << bits, (h, w))
            idx[:, : w // 2] = idx[:, :1]  # runs as well as literals
            cases.append(
                Case(
                    f"bmp {name} RLE{bits}",
                    bmp_bytes(
                        idx,
                        bpp=bits,
                        header=header,
                        compression=comp,
                        palette=RNG.integers(0, 256, (1 << bits, 3)),
                    ),
                )
            )
    # Variants no decoder here reads (nor Pillow): a PNG inside a BMP, a PAM
    png = png_bytes(pic, 2, 8)
    embedded = bmp_bytes(pic, bpp=24)[:54]
    embedded = embedded[:30] + struct.pack("<I", 5) + embedded[34:] + png
    cases.append(Case("bmp v3 embedded PNG", embedded, unsupported=True))
    cases.append(Case("bmp os2 2.x 24-bit", bmp_bytes(pic, bpp=24, header=64)))
    idx = RNG.integers(0, 256, (h, w))
    cases.append(
        Case(
            "bmp os2 2.x 8-bit",
            bmp_bytes(idx, bpp=8, header=64, palette=RNG.integers(0, 256, (256, 3))),
        )
    )
    return cases


# ---------------------------------------------------------------- PNM


def pnm_cases() -> list[Case]:
    cases = []
    h, w = 17, 21
    bits = RNG.integers(0, 2, (h, w))
    for kind in (1, 4):
        expect = np.where(bits == 1, 0, 255).astype(np.uint8)
        cases.append(Case(f"pnm P{kind}", pnm_bytes(kind, bits, 1), expect=expect))
        cases.append(
            Case(f"pnm P{kind} comments", pnm_bytes(kind, bits, 1, comments=True), expect=expect)
        )
    for kind in (2, 3, 5, 6):
        ch = 3 if kind in (3, 6) else 1
        for maxval in (1, 15, 100, 255, 256, 1000, 4095, 65535):
            v = RNG.integers(0, maxval + 1, (h, w, ch) if ch == 3 else (h, w))
            v.flat[:2] = (0, maxval)
            kind_ = "exact" if maxval == 255 else "convention"
            cases.append(
                Case(
                    f"pnm P{kind} maxval {maxval}",
                    pnm_bytes(kind, v, maxval),
                    kind=kind_,
                    expect=scale(v, maxval),
                )
            )
        cases.append(
            Case(
                f"pnm P{kind} comments",
                pnm_bytes(kind, v, 65535, comments=True),
                kind="convention",
                expect=scale(v, 65535),
            )
        )
    pam = b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + bytes(6)
    cases.append(Case("pnm P7 (PAM)", pam, unsupported=True))
    return cases


# ---------------------------------------------------------------- the comparison

CASES = png_cases() + bmp_cases() + pnm_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_pixels_as_pillow(case):
    assert_same_as_pillow(case)
