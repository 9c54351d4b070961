"""Image decoding: reduced-resolution JPEG decoding (libjpeg's DCT scaling) against full
decoding on real LFW photos, colour spaces, damaged files, EXIF orientation and trailers.
(Every format variant against Pillow: test_decode_corpus_lossless.py, _jpeg.py.)"""

import struct

import numpy as np
import pytest

from tinyfq_native import Scorer, Status
from tinyfq_native.images import decode_image, have_decoder, jpeg_decoder, read_image
from tinyfq_native.landmarks import as_landmarks

LIBJPEG = jpeg_decoder().startswith("libjpeg")
needs_libjpeg = pytest.mark.skipif(
    not LIBJPEG, reason=f"JPEG decoded by {jpeg_decoder()}: no reduced decoding"
)
# Reduced decoding does not keep scores within the 0.01 of full decoding: the reduced
# image is low-pass filtered (DCT scaling, close to a 2x2 box), the full-size path resamples
# 250 -> 64 bilinearly without a filter, and the model scores the two differently (a
# box-filtered full decode moves the scores just as much). Measured on these subsets: crops
# mean 0.022 / max 0.135, landmarks mean 0.019 / max 0.115; bench/decode_lfw.py has all of LFW.
# The bounds below catch regressions (a misplaced image or landmark moves scores far more).
MEAN_TOL, MAX_TOL = 0.03, 0.2


def _lfw_files(data_root, n):
    """The first n photos of the alphabetically first LFW folders."""
    files = []
    for d in sorted(p for p in (data_root / "lfw" / "images").iterdir() if p.is_dir()):
        files += sorted(d.glob("*.jpg"))
        if len(files) >= n:
            break
    return files[:n]


@pytest.fixture(scope="module")
def reduced_scorer():
    return Scorer(reduced_decode=True)


@pytest.fixture(scope="module")
def photo(data_root):
    return data_root / "lfw" / "images" / "George_W_Bush" / "George_W_Bush_0001.jpg"


def test_decoder_is_reported():
    assert have_decoder()
    assert jpeg_decoder().split()[0] in ("libjpeg-turbo", "libjpeg", "stb_image")


def test_reduced_sizes(photo):
    path, data = str(photo), photo.read_bytes()
    img, k = read_image(path, return_scale=True)
    assert img.shape == (250, 250, 3) and k == 1
    # 250 / 2 = 125 >= 64 > ceil(250 / 4) = 63
    img, k = read_image(path, min_width=64, min_height=64, return_scale=True)
    assert (img.shape, k) == (((125, 125, 3), 2) if LIBJPEG else ((250, 250, 3), 1))
    img, k = decode_image(data, min_width=64, min_height=64, return_scale=True)
    assert (img.shape, k) == (((125, 125, 3), 2) if LIBJPEG else ((250, 250, 3), 1))
    # ceil(250 / 8) = 32: 1/8 for a 32x32 minimum, unless max_scale says less
    img, k = read_image(path, min_width=32, min_height=32, return_scale=True)
    assert (img.shape, k) == (((32, 32, 3), 8) if LIBJPEG else ((250, 250, 3), 1))
    img, k = read_image(path, min_width=32, min_height=32, max_scale=4, return_scale=True)
    assert (img.shape, k) == (((63, 63, 3), 4) if LIBJPEG else ((250, 250, 3), 1))
    # a minimum larger than the image: full size
    img, k = read_image(path, min_width=300, min_height=300, return_scale=True)
    assert img.shape == (250, 250, 3) and k == 1
    with pytest.raises(ValueError, match="max_scale"):
        read_image(path, min_width=64, min_height=64, max_scale=3)
    with pytest.raises(ValueError, match="min_width"):
        read_image(path, min_width=-1)
    with pytest.raises(RuntimeError, match="limit"):  # checked from the header
        read_image(path, max_pixels=250 * 250 - 1, min_width=64, min_height=64)


@needs_libjpeg
def test_reduced_is_close_to_a_box_filter_of_full(photo):
    full = read_image(str(photo)).astype(np.float64)
    half = read_image(str(photo), min_width=64, min_height=64).astype(np.float64)
    box = full.reshape(125, 2, 125, 2, 3).mean(axis=(1, 3))
    assert np.abs(half - box).mean() < 1.5


@needs_libjpeg
def test_crop_scores_reduced_vs_full(scorer, reduced_scorer, data_root):
    files = _lfw_files(data_root, 300)
    reduced = reduced_scorer.score_files(files, workers=2)
    full = scorer.score_files(files, workers=2)
    d = np.abs(reduced - full)
    assert (d > 0).mean() > 0.9  # 250x250: all reduced to 125x125
    assert d.mean() <= MEAN_TOL and d.max() <= MAX_TOL, (d.mean(), d.max())
    # the deviation is the low-pass filter's, not the decoder's: a 2x2 box filter of the full
    # decode scores like the reduced decode
    box = []
    for f in files:
        img = read_image(str(f)).astype(np.float32)
        box.append(
            scorer.score(
                img.reshape(125, 2, 125, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8),
                format="rgb",
            )
        )
    e = np.abs(reduced - np.array(box))
    assert e.mean() <= 0.008 and e.max() <= 0.03, (e.mean(), e.max())
    # score_files on a reduced decode is the array path on the reduced pixels
    img = read_image(str(files[0]), min_width=64, min_height=64)
    assert scorer.score(img, format="rgb") == pytest.approx(float(reduced[0]), abs=1e-6)


@needs_libjpeg
def test_landmark_scores_reduced_vs_full(scorer, reduced_scorer, data_root, face_rows):
    rows = [r for r in face_rows if r["relpath"].startswith("lfw/")][:200]
    files = [data_root / r["relpath"] for r in rows]
    lms = np.stack([as_landmarks(r["landmarks"]) for r in rows])
    reduced = reduced_scorer.score_files(files, lms, workers=2)
    full = scorer.score_files(files, lms, workers=2)
    d = np.abs(reduced - full)
    assert (d > 0).mean() > 0.5  # most LFW faces are >= 2x the template: reduced
    assert d.mean() <= MEAN_TOL and d.max() <= MAX_TOL, (d.mean(), d.max())
    # full decoding with landmarks is exactly the array path
    img = read_image(str(files[0]))
    assert scorer.score(img, lms[0], format="rgb") == pytest.approx(float(full[0]), abs=1e-6)


@needs_libjpeg
def test_landmarks_map_into_the_reduced_image(scorer, data_root, face_rows):
    """Photos enlarged 2x by pixel replication, decoded at 1/2, are the photos again: their
    scores with the landmarks mapped to the enlarged image match the photos' own (up to the
    JPEG's rounding), and clearly better than with a mapping half a pixel off."""
    import cv2

    good, off = [], []
    for row in [r for r in face_rows if r["relpath"].startswith("lfw/")][:12]:
        bgr = read_image(str(data_root / row["relpath"]))[:, :, ::-1]
        big = np.repeat(np.repeat(bgr, 2, axis=0), 2, axis=1)
        ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 100])
        assert ok
        lm = as_landmarks(row["landmarks"])
        lm_big = 2 * lm + 0.5  # source pixel j covers enlarged pixels 2j, 2j + 1
        half, k = decode_image(
            buf.tobytes(), min_width=1, min_height=1, max_scale=2, return_scale=True
        )
        assert k == 2 and half.shape == bgr.shape
        expect = scorer.score(np.ascontiguousarray(bgr), lm)
        good.append(abs(scorer.score(half, (lm_big - 0.5) / 2, format="rgb") - expect))
        off.append(abs(scorer.score(half, lm_big / 2, format="rgb") - expect))
    assert np.mean(good) <= 3e-3 and np.max(good) <= 6e-3, good
    assert np.mean(off) > 3 * np.mean(good), (good, off)


def test_grey_and_cmyk_jpegs(scorer, reduced_scorer, photo, tmp_path):
    import cv2

    bgr = cv2.imread(str(photo))
    grey_path = tmp_path / "grey.jpg"
    cv2.imwrite(str(grey_path), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert read_image(str(grey_path)).shape == (250, 250)
    img = read_image(str(grey_path), min_width=64, min_height=64)
    assert img.shape == ((125, 125) if LIBJPEG else (250, 250))
    for s in (scorer, reduced_scorer):
        assert 0 < s.score_files([grey_path])[0] < 1
    Image = pytest.importorskip("PIL.Image")
    cmyk_path = tmp_path / "cmyk.jpg"
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    Image.fromarray(rgb).convert("CMYK").save(cmyk_path, quality=95)  # Adobe, inverted
    got = read_image(str(cmyk_path))
    assert got.shape == (250, 250, 3)
    assert np.abs(got.astype(int) - rgb).mean() < 3
    for s in (scorer, reduced_scorer):
        assert 0 < s.score_files([cmyk_path])[0] < 1


def test_damaged_jpegs_are_errors_not_crashes(scorer, reduced_scorer, photo, tmp_path):
    good = photo.read_bytes()
    mid = len(good) // 2
    rng = np.random.default_rng(7)
    bad = {
        "truncated.jpg": good[:mid],
        "header.jpg": good[:2] + bytes(range(256)) * 2 + good[514:],
        "no-frame.jpg": good[:2] + b"\xff\xd9",
        "scan.jpg": good[:mid] + rng.integers(0, 256, 200, np.uint8).tobytes() + good[mid + 200 :],
    }
    paths = []
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    for s in (scorer, reduced_scorer):
        q, messages, kinds = s.score_files_detailed(paths + [photo], workers=2)
        assert kinds[:3] == [Status.invalid] * 3 and np.isnan(q[:3]).all(), messages
        assert "truncated" in messages[0]
        assert kinds[4] == Status.ok and 0 < q[4] < 1
        if LIBJPEG:  # stb_image decodes damaged scan data to a damaged picture
            assert kinds[3] == Status.invalid and "corrupt" in messages[3].lower(), messages[3]
    with pytest.raises(RuntimeError, match="truncated"):
        read_image(str(paths[0]), min_width=64, min_height=64)


# ---------------------------------------------------------------- EXIF orientation, trailers


def _with_orientation(jpeg: bytes, o: int) -> bytes:
    """The JPEG with an APP1 Exif segment after its SOI: a TIFF IFD0 holding Orientation o."""
    tiff = b"II*\0" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, o, 0)
    body = b"Exif\0\0" + tiff + bytes(4)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


@pytest.fixture(scope="module")
def portrait(face_rows, data_root, tmp_path_factory):
    """An LFW photo stored as a phone stores a shot it took turned: its pixels rotated 90
    degrees counter-clockwise in the JPEG, and Orientation 6 to turn them back. Returns the
    original, the stored JPEG without a tag, the one with Orientation 6, and the landmarks
    (in the upright photo's pixels)."""
    import cv2

    row = face_rows[0]
    photo = data_root / row["relpath"]
    stored = np.ascontiguousarray(np.rot90(cv2.imread(str(photo))))
    ok, buf = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    d = tmp_path_factory.mktemp("portrait")
    (d / "stored.jpg").write_bytes(buf.tobytes())
    (d / "turned6.jpg").write_bytes(_with_orientation(buf.tobytes(), 6))
    return photo, d / "stored.jpg", d / "turned6.jpg", as_landmarks(row["landmarks"])


def test_orientation_6_decodes_upright(portrait):
    photo, stored, turned, _ = portrait
    as_stored = read_image(str(stored))
    upright = read_image(str(turned))
    assert as_stored.shape == (250, 250, 3)
    assert np.array_equal(upright, np.rot90(as_stored, -1))  # turned clockwise, exactly
    assert np.abs(upright.astype(int) - read_image(str(photo))).mean() < 3  # the photo again
    assert np.array_equal(read_image(str(turned), exif_orientation=False), as_stored)
    data = turned.read_bytes()
    assert np.array_equal(decode_image(data), upright)
    assert np.array_equal(decode_image(data, exif_orientation=False), as_stored)


def test_orientation_6_scores_like_the_upright_photo(scorer, reduced_scorer, portrait):
    """Issue 26, item 1: scored as stored, a turned photo lost its score (0.80 -> 0.36) or its
    face. Upright it scores like the original, as a crop and with landmarks taken from the
    upright photo; with exif_orientation=False it is scored as stored."""
    photo, stored, turned, lm = portrait
    q = scorer.score_files([photo, turned, stored])
    assert abs(q[1] - q[0]) < 0.02, q  # the JPEG re-encoded at quality 95: nothing more
    lms = np.stack([lm, lm])
    for s in (scorer, reduced_scorer):
        ql = s.score_files([photo, turned], lms)
        assert abs(ql[1] - ql[0]) < 0.02, ql
    assert scorer.score_files([turned], lm[None])[0] == pytest.approx(
        scorer.score(read_image(str(turned)), lm, format="rgb"), abs=1e-6
    )
    as_stored = Scorer(exif_orientation=False)
    assert as_stored.score_files([turned])[0] == q[2]
    wrong = as_stored.score_files([turned], lm[None])[0]  # upright landmarks on stored pixels
    assert abs(wrong - ql[0]) > 0.1, (wrong, ql[0])


def test_reduced_decoding_of_a_turned_photo_stays_on_the_upright_grid(portrait):
    """Decoded pixel i of a reduced upright image covers upright pixels [k*i, k*i + k): close
    to a k x k box filter of the full upright decode, and clearly closer than one pixel off."""
    _, _, turned, _ = portrait
    full = read_image(str(turned)).astype(np.float64)
    half, k = read_image(str(turned), min_width=64, min_height=64, return_scale=True)
    if not LIBJPEG:
        assert k == 1
        return
    assert k == 2 and half.shape == (125, 125, 3)
    box = full.reshape(125, 2, 125, 2, 3).mean(axis=(1, 3))
    shifted = np.roll(full, 1, axis=1).reshape(125, 2, 125, 2, 3).mean(axis=(1, 3))
    good, off = np.abs(half - box).mean(), np.abs(half - shifted).mean()
    assert good < 1.5 and off > 1.5 * good, (good, off)


def test_a_jpeg_with_a_trailer_decodes_as_without(scorer, photo, tmp_path):
    """Issue 26, item 14: phones append a video (motion photos), cameras maker data; the
    JPEG ends at its end-of-image marker. A JPEG cut short is still refused."""
    good = photo.read_bytes()
    rng = np.random.default_rng(14)
    trailer = bytearray(rng.integers(0, 256, 1024, np.uint8).tobytes())
    trailer[::97] = b"\xff" * len(trailer[::97])  # marker-like bytes
    (tmp_path / "trailer.jpg").write_bytes(good + bytes(trailer))
    (tmp_path / "video.jpg").write_bytes(good + b"\0\0\0\x18ftypmp42" + bytes(4096))
    (tmp_path / "cut.jpg").write_bytes(good[:-2])  # no end-of-image marker
    (tmp_path / "cut-trailer.jpg").write_bytes(good[: len(good) // 2] + bytes(trailer))
    want = read_image(str(photo))
    for name in ("trailer.jpg", "video.jpg"):
        assert np.array_equal(read_image(str(tmp_path / name)), want)
    q, messages, status = scorer.score_files_detailed(
        [photo] + [tmp_path / n for n in ("trailer.jpg", "video.jpg", "cut.jpg", "cut-trailer.jpg")]
    )
    assert status[:3] == [Status.ok] * 3 and q[1] == q[0] and q[2] == q[0], messages
    assert status[3:] == [Status.invalid] * 2, messages
    assert "truncated" in messages[3], messages[3]
    # cut short, then bytes that are not the JPEG's: damaged, whichever the walk meets first
    assert "truncated" in messages[4] or "corrupt" in messages[4], messages[4]
