"""The decoders against the reference decoders (issue 26, item 15): a corpus of every valid
variant of each supported format, generated here, decoded by the library
(``tinyfq_native.images.decode_image``, the path the scorer's file methods take) and by Pillow
(after ``ImageOps.exif_transpose``; OpenCV as a second opinion on the EXIF orientations).

Every case must give the reference's pixels, or a clear "unsupported" error (``Unsupported``
in C++; a ValueError or RuntimeError whose message starts with "unsupported"), and exactly the
cases marked so may: never another picture, never "corrupt" or "truncated" for a valid file.
Tolerances:

- lossless formats: exact, except where a sample narrower or wider than 8 bits has to become
  8 bits and the file does not say how: BMP bit fields of 5 or 6 bits and PNM maxval other
  than 255. The library rounds v * 255 / max (halves up, in integers); Pillow truncates for
  BMP and rounds a float half to even for PNM. Those cases are compared exactly with our
  rounding and within 1 of Pillow.
- JPEG: libjpeg-turbo in both (its integer IDCT, upsampling and colour conversion are
  bit-exact across versions and SIMD paths): measured identical on every case, CMYK and YCCK
  included; the bound is max |diff| <= 1, mean < 0.05. stb_image (builds without libjpeg,
  TINYFQ_DECODER=stb) has its own IDCT and upsampling: measured max 4, worst mean 0.09; the
  bound is max <= 8, mean < 0.5.

Pillow writes no Adam7-interlaced PNG, no BMP but 24-bit, no ASCII PNM and no arithmetic
coding: those files are written by the small encoders below, straight from the format
specifications, and by libjpeg-turbo's jpegtran when it is installed.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

from tinyfq_native.images import decode_image, jpeg_decoder

Image = pytest.importorskip("PIL.Image")
ImageOps = pytest.importorskip("PIL.ImageOps")

LIBJPEG = jpeg_decoder().startswith("libjpeg")
JPEG_MAX, JPEG_MEAN = (1, 0.05) if LIBJPEG else (8, 0.5)


@dataclass
class Case:
    name: str
    data: bytes
    kind: str = "exact"  # "exact", "jpeg", or "convention" (within 1 of Pillow)
    expect: np.ndarray | None = None  # the exact pixels, where our convention decides them
    unsupported: bool = False  # the library may say "unsupported" (and must not say more)


RNG = np.random.default_rng(26)


def _scale(v: np.ndarray, maxval: int) -> np.ndarray:
    """Our 8-bit value of a sample of a PNM's maxval or a BMP bit field's max: v * 255 / max
    rounded, halves up."""
    return ((v.astype(np.int64) * 510 + maxval) // (2 * maxval)).astype(np.uint8)


def _picture(h: int, w: int, channels: int = 3) -> np.ndarray:
    """Smooth gradients with a little noise and an asymmetric mark (so that a wrong rotation
    or mirror shows): compresses like a photo, yet every value occurs."""
    y, x = np.mgrid[0:h, 0:w]
    base = [
        (x * 255 // max(w - 1, 1)),
        (y * 255 // max(h - 1, 1)),
        ((x + 2 * y) * 255 // max(w + 2 * h - 3, 1)),
        (255 - x * 255 // max(w - 1, 1)),
    ][:channels]
    img = np.stack(base, axis=-1).astype(np.int32)
    img += RNG.integers(-6, 7, img.shape)
    img[: h // 4, : w // 3] = [255, 0, 0, 128][:channels]  # top-left block
    return np.clip(img, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- PNG


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _pack_rows(samples: np.ndarray, depth: int) -> np.ndarray:
    """(h, w * channels) samples to packed rows of bytes, big-endian for 16 bits."""
    if depth == 16:
        return samples.astype(">u2").view(np.uint8).reshape(samples.shape[0], -1)
    if depth == 8:
        return samples.astype(np.uint8)
    per = 8 // depth
    h, n = samples.shape
    padded = np.zeros((h, -(-n // per) * per), np.uint8)
    padded[:, :n] = samples
    groups = padded.reshape(h, -1, per)
    out = np.zeros(groups.shape[:2], np.uint8)
    for k in range(per):
        out |= (groups[:, :, k] << (8 - depth * (k + 1))).astype(np.uint8)
    return out


def _filter_rows(rows: np.ndarray, bpp: int) -> bytes:
    """Each row with its own filter (None, Sub, Up, Average, Paeth in turn): the decoder must
    undo all five."""
    out = bytearray()
    prior = np.zeros(rows.shape[1], np.int32)
    for i, raw in enumerate(rows.astype(np.int32)):
        a = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
        c = np.concatenate([np.zeros(bpp, np.int32), prior[:-bpp]])
        b = prior
        kind = i % 5
        if kind == 0:
            f = raw
        elif kind == 1:
            f = raw - a
        elif kind == 2:
            f = raw - b
        elif kind == 3:
            f = raw - (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
            f = raw - pred
        out.append(kind)
        out += (f & 0xFF).astype(np.uint8).tobytes()
        prior = raw
    return bytes(out)


ADAM7 = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
]


def png_bytes(
    samples: np.ndarray,
    colour: int,
    depth: int,
    *,
    interlace: bool = False,
    palette: np.ndarray | None = None,
    trns: bytes | None = None,
    exif: bytes | None = None,
    idat_pieces: int = 1,
) -> bytes:
    """A PNG of (h, w, channels) samples (already within the depth's range)."""
    h, w = samples.shape[:2]
    ch = samples.shape[2] if samples.ndim == 3 else 1
    flat = samples.reshape(h, w * ch)
    bpp = max(1, ch * depth // 8)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size:
                raw += _filter_rows(_pack_rows(sub.reshape(sub.shape[0], -1), depth), bpp)
    else:
        raw = _filter_rows(_pack_rows(flat, depth), bpp)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, int(interlace))
    )
    if exif is not None:
        out += _chunk(b"eXIf", exif)
    if palette is not None:
        out += _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    z = zlib.compress(raw, 9)
    step = -(-len(z) // idat_pieces)
    for k in range(0, len(z), step):
        out += _chunk(b"IDAT", z[k : k + step])
    return out + _chunk(b"IEND", b"")


def tiff_orientation(o: int, order: str = "II") -> bytes:
    """A TIFF structure whose IFD0 holds only Orientation = o (two entries when padded)."""
    e = "<" if order == "II" else ">"
    head = order.encode() + struct.pack(e + "HI", 42, 8)
    entries = [(0x010F, 2, 4, b"cam\0"), (0x0112, 3, 1, struct.pack(e + "H", o) + b"\0\0")]
    ifd = struct.pack(e + "H", len(entries))
    for tag, typ, n, value in entries:
        ifd += struct.pack(e + "HHI", tag, typ, n) + value
    return head + ifd + struct.pack(e + "I", 0)


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
    pic = _picture(30, 44)
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

BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS = 0, 1, 2, 3


def _rle(idx: np.ndarray, bits: int) -> bytes:
    """RLE8 / RLE4 of palette indices (bottom-up rows): runs of equal pixels, then literal runs,
    an end of line after each row and an end of bitmap."""
    out = bytearray()
    for row in idx[::-1]:
        x, n = 0, len(row)
        while x < n:
            run = 1
            while x + run < n and run < 255 and row[x + run] == row[x]:
                run += 1
            if run >= 3 or n - x < 3:
                value = row[x] if bits == 8 else (row[x] << 4 | row[x])
                out += bytes([run, value])
                x += run
                continue
            lit = min(n - x, 255)  # absolute mode: >= 3 pixels, padded to a 16-bit boundary
            body = row[x : x + lit]
            if bits == 4:
                body = np.append(body, 0) if lit % 2 else body
                packed = bytes((body[0::2] << 4 | body[1::2]).astype(np.uint8))
            else:
                packed = bytes(body.astype(np.uint8))
            out += bytes([0, lit]) + packed + (b"\0" if len(packed) % 2 else b"")
            x += lit
        out += b"\0\0"
    return bytes(out + b"\0\1")


def bmp_bytes(
    pixels: np.ndarray,
    *,
    bpp: int,
    header: int = 40,
    top_down: bool = False,
    compression: int = BI_RGB,
    masks: tuple[int, ...] | None = None,
    palette: np.ndarray | None = None,
    packed: np.ndarray | None = None,
) -> bytes:
    """A BMP. `pixels`: palette indices (bpp <= 8) or (h, w, 3) RGB (16, 24, 32 bits: stored
    as `packed`, one integer a pixel, when given, else as BGR(X))."""
    h, w = pixels.shape[:2]
    if bpp <= 8:
        rows = _pack_rows(pixels.astype(np.uint16), bpp) if bpp < 8 else pixels.astype(np.uint8)
    elif bpp == 24:
        rows = pixels[:, :, ::-1].reshape(h, -1)
    else:
        v = packed
        if v is None:
            p = pixels.astype(np.uint32)
            v = p[:, :, 0] << 16 | p[:, :, 1] << 8 | p[:, :, 2]
        rows = v.astype("<u2" if bpp == 16 else "<u4").view(np.uint8).reshape(h, -1)
    if compression in (BI_RLE8, BI_RLE4):
        body = _rle(pixels, 8 if compression == BI_RLE8 else 4)
    else:
        stride = -(-rows.shape[1] // 4) * 4
        padded = np.zeros((h, stride), np.uint8)
        padded[:, : rows.shape[1]] = rows
        body = (padded if top_down else padded[::-1]).tobytes()
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bpp)
    else:
        info = struct.pack(
            "<IiiHHIIiiII",
            header,
            w,
            -h if top_down else h,
            1,
            bpp,
            compression,
            len(body),
            2835,
            2835,
            0 if palette is None else len(palette),
            0,
        )
        if header >= 52:  # V2 and later: the masks are part of the header
            m = tuple(masks or (0, 0, 0)) + (0,) * 4
            info += struct.pack("<III", *m[:3]) + (struct.pack("<I", m[3]) if header >= 56 else b"")
        if header == 64:  # OS/2 2.x: units, reserved, recording, rendering, size1/2, identifier
            info = info[:40] + bytes(24)
        if header >= 108:
            info += b"BGRs" + bytes(36) + bytes(12)  # sRGB, endpoints, gamma
        if header == 124:
            info += struct.pack("<IIII", 4, 0, 0, 0)  # intent, no profile
        assert len(info) == header, (len(info), header)
        if header == 40 and compression == BI_BITFIELDS:
            info += struct.pack("<III", *masks[:3])
    pal = b""
    if palette is not None:
        entries = palette[:, ::-1].astype(np.uint8)  # BGR
        if header != 12:
            entries = np.concatenate([entries, np.zeros((len(entries), 1), np.uint8)], axis=1)
        pal = entries.tobytes()
    offset = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + pal + body


def bmp_cases() -> list[Case]:
    cases = []
    h, w = 19, 29  # odd: rows padded, a nibble and bits left over
    pic = _picture(h, w)
    q5, q = (pic >> 3).astype(np.uint32), pic.astype(np.uint32)
    g6 = q[:, :, 1] >> 2
    rgb555 = q5[:, :, 0] << 10 | q5[:, :, 1] << 5 | q5[:, :, 2]
    rgb565 = q5[:, :, 0] << 11 | g6 << 5 | q5[:, :, 2]
    rgba = q[:, :, 0] << 24 | q[:, :, 1] << 16 | q[:, :, 2] << 8 | 0x80
    # our 8-bit values of the 5- and 6-bit fields: v * 255 / max rounded
    e555 = _scale(q5, 31)
    e565 = e555.copy()
    e565[:, :, 1] = _scale(g6, 63)
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


def pnm_bytes(kind: int, samples: np.ndarray, maxval: int, *, comments: bool = False) -> bytes:
    h, w = samples.shape[:2]
    note = b"# written by test_decode_corpus\n" if comments else b""
    head = b"P%d\n" % kind + note + b"%d %d\n" % (w, h)
    if kind not in (1, 4):  # the bitmaps' header ends with the height
        head += note + b"%d\n" % maxval
    if kind == 1:  # '1' is black; the digits need no separator, lines at most 70 characters
        digits = "".join("1" if v else "0" for v in samples.ravel())
        return head + "\n".join(digits[i : i + 70] for i in range(0, len(digits), 70)).encode()
    if kind in (2, 3):
        flat = samples.reshape(h, -1)
        return head + b"\n".join(b" ".join(b"%d" % v for v in row) for row in flat) + b"\n"
    if kind == 4:
        return head + _pack_rows(samples.astype(np.uint16), 1).tobytes()
    dtype = ">u2" if maxval > 255 else np.uint8
    return head + samples.astype(dtype).tobytes()


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
                    expect=_scale(v, maxval),
                )
            )
        cases.append(
            Case(
                f"pnm P{kind} comments",
                pnm_bytes(kind, v, 65535, comments=True),
                kind="convention",
                expect=_scale(v, 65535),
            )
        )
    pam = b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + bytes(6)
    cases.append(Case("pnm P7 (PAM)", pam, unsupported=True))
    return cases


# ---------------------------------------------------------------- JPEG


def jpeg_bytes(img, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", **save) if isinstance(img, np.ndarray) else img.save(
        buf, "JPEG", **save
    )
    return buf.getvalue()


def with_app1(jpeg: bytes, body: bytes) -> bytes:
    """The JPEG with an APP1 segment after its SOI and APP0."""
    at = 2
    if jpeg[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[at:]


def jpeg_cases() -> list[Case]:
    cases = []
    pic = _picture(45, 61)  # not a multiple of the MCU either way
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

CASES = png_cases() + bmp_cases() + pnm_cases() + jpeg_cases()


def _pillow(data: bytes, grey: bool) -> np.ndarray:
    """Pillow's picture, upright, in the layout the library returns (grey: (H, W))."""
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if not grey:
        if im.mode == "P":  # a palette's transparency: through RGBA, its colours unchanged
            im = im.convert("RGBA")
        return np.asarray(im.convert("RGB"))
    if im.mode.startswith("I"):  # 16-bit grey: its high byte, as stb_image and Pillow's RGB take
        return (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
    return np.asarray(im.convert("L"))


def _library(data: bytes):
    """The library's pixels, or the message of the error it raised."""
    try:
        return decode_image(data)
    except (ValueError, RuntimeError) as e:
        return str(e)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_pixels_as_pillow(case):
    got = _library(case.data)
    if case.unsupported:
        assert isinstance(got, str) and got.startswith("unsupported"), got
        return
    assert not isinstance(got, str), f"{case.name}: refused: {got}"
    ref = _pillow(case.data, grey=got.ndim == 2)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    diff = np.abs(got.astype(int) - ref.astype(int))
    if case.kind == "exact":
        assert diff.max() == 0, (
            f"{case.name}: {np.count_nonzero(diff)} samples differ by up to {diff.max()}"
        )
    elif case.kind == "convention":
        assert diff.max() <= 1, diff.max()
        assert np.array_equal(got, case.expect.reshape(got.shape))
    else:
        assert diff.max() <= JPEG_MAX and diff.mean() < JPEG_MEAN, (diff.max(), diff.mean())
    if case.expect is not None and case.kind == "exact":
        assert np.array_equal(got, case.expect.reshape(got.shape))


@pytest.mark.parametrize("o", range(1, 9))
def test_opencv_agrees_on_the_orientations(o):
    """The second opinion: OpenCV's imread turns JPEGs upright too, to Pillow's picture."""
    cv2 = pytest.importorskip("cv2")
    (case,) = [c for c in CASES if c.name == f"jpeg EXIF orientation {o} {'MM' if o % 2 else 'II'}"]
    cv = cv2.imdecode(np.frombuffer(case.data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    ref = _pillow(case.data, grey=False)
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
