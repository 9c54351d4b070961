"""The native YuNet detector: exactness against onnxruntime on real photos, landmark order,
options, and detection wired into Scorer and the CLI."""

import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import face_folder, read_csv
from tinyfq_native import Detector, Face, Scorer, Status
from tinyfq_native.cli import main
from tinyfq_native.images import detector_info, read_image


@pytest.fixture(scope="module")
def photos(data_root):
    """Real photos of both sets: LFW (250x250) and CelebA (in-the-wild, various sizes)."""
    lfw = sorted((data_root / "lfw" / "images").glob("*/*.jpg"))
    celeba = sorted((data_root / "celeba-subset" / "images").glob("*/*.jpg"))
    return lfw[::700] + celeba[::400]


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("onnxruntime")
    from tests import yunet_reference as ref

    if not ref.ONNX.exists():
        pytest.skip(f"{ref.ONNX} not found")
    return ref, ref.session(1)


@pytest.mark.parametrize("max_side", [320, 160, 96])
def test_native_detector_matches_onnxruntime_on_real_photos(photos, reference, max_side):
    ref, sess = reference
    det = Detector(max_side=max_side)
    faces = worst_conf = worst_px = 0.0
    for p in photos:
        img = read_image(str(p))
        tensor, sx, sy = det.prepare(img, "rgb")
        assert tensor.shape[1] % 32 == 0 and tensor.shape[2] % 32 == 0
        assert max(tensor.shape[1:]) <= max(32, -(-max_side // 32) * 32)
        native = det.detect_raw(img, "rgb")
        expected = ref.detect(sess, tensor, sx, sy)
        assert len(native) == len(expected), p
        if len(native):
            worst_conf = max(worst_conf, np.abs(native[:, 4] - expected[:, 4]).max())
            worst_px = max(worst_px, np.abs(np.delete(native - expected, 4, axis=1)).max())
        faces += len(native)
    assert faces >= len(photos) * 0.9  # the photos do have faces
    assert worst_conf <= 1e-4 and worst_px <= 0.5, (worst_conf, worst_px)


def test_landmarks_come_in_the_template_order(photos):
    det = Detector()
    n = 0
    for p in photos:
        img = read_image(str(p))
        face = det.largest(img, format="rgb")
        if face is None:
            continue
        lm = face.landmarks
        x, y, w, h = face.box
        assert lm.shape == (5, 2) and lm.dtype == np.float32
        # eyes above the nose above the mouth; image-left eye and mouth corner first
        assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
        assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])
        assert np.all((lm[:, 0] > x) & (lm[:, 0] < x + w) & (lm[:, 1] > y) & (lm[:, 1] < y + h))
        n += 1
    assert n >= len(photos) - 1


def test_a_blank_or_noise_image_has_no_face():
    det = Detector()
    assert det.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert det.detect(np.full((100, 100), 128, np.uint8)) == []
    rng = np.random.default_rng(0)
    assert det.detect(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)) == []


def test_pixel_formats_and_strides_agree(data_root):
    det = Detector()
    rgb = read_image(str(data_root / "lfw/images/Colin_Powell/Colin_Powell_0001.jpg"))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    a = det.detect(rgb, format="rgb")
    b = det.detect(bgr)
    c = det.detect(np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)]))
    wide = np.zeros((bgr.shape[0], bgr.shape[1] + 37, 3), np.uint8)
    wide[:, : bgr.shape[1]] = bgr
    d = det.detect(wide[:, : bgr.shape[1]])  # a view with a longer row stride
    assert len(a) >= 1
    for other in (b, c, d):
        assert len(other) == len(a)
        assert np.allclose(other[0].landmarks, a[0].landmarks, atol=1e-4)
    grey = det.detect(rgb.mean(axis=2).astype(np.uint8))
    assert len(grey) >= 1 and np.abs(grey[0].landmarks - a[0].landmarks).max() < 3


def _bilinear_twin(img, nw, nh):
    """Pixel-centre bilinear (cv2.resize INTER_LINEAR) in float32, one rounding per step."""
    h, w = img.shape[:2]
    f32 = np.float32

    def taps(n, size):
        s = np.clip((np.arange(n) + 0.5) * (size / n) - 0.5, 0, size - 1)
        i0 = s.astype(np.int64)
        return i0, np.minimum(i0 + 1, size - 1), (s - i0).astype(f32)

    x0, x1, wx = taps(nw, w)
    y0, y1, wy = taps(nh, h)

    def horizontal(rows):
        p0, p1 = rows[:, x0].astype(np.int32), rows[:, x1].astype(np.int32)
        return p0.astype(f32) + wx[None, :, None] * (p1 - p0).astype(f32)

    a, b = horizontal(img[y0]), horizontal(img[y1])
    return a + wy[:, None, None] * (b - a)


@pytest.mark.parametrize("fmt", ["rgb", "rgba", "gray"])
@pytest.mark.parametrize("shape", [(173, 251), (250, 250), (90, 61)])
def test_prepare_resizes_bilinearly_into_zero_padded_bgr_planes(shape, fmt):
    # 3- and 4-channel rows take AVX2 gathers where the CPU has them, up to the buffer's end
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(*shape, {"rgb": 3, "rgba": 4, "gray": 1}[fmt]), dtype=np.uint8)
    rgb = np.repeat(img, 3, axis=2) if fmt == "gray" else img[..., :3]
    det = Detector(max_side=160)
    tensor, sx, sy = det.prepare(img[..., 0] if fmt == "gray" else img, fmt)
    s = min(1.0, 160 / max(shape))
    nh, nw = max(1, round(shape[0] * s)), max(1, round(shape[1] * s))
    assert tensor.shape == (3, -(-nh // 32) * 32, -(-nw // 32) * 32)
    assert sx == pytest.approx(nw / shape[1]) and sy == pytest.approx(nh / shape[0])
    want = _bilinear_twin(rgb, nw, nh)[..., ::-1].transpose(2, 0, 1)  # RGB -> BGR planes
    assert np.abs(tensor[:, :nh, :nw] - want).max() < 1e-3  # of 0..255
    assert not tensor[:, nh:, :].any() and not tensor[:, :, nw:].any()


def test_large_photos_are_downscaled_and_mapped_back(data_root):
    rgb = read_image(str(data_root / "lfw/images/Colin_Powell/Colin_Powell_0001.jpg"))
    big = np.repeat(np.repeat(rgb, 4, axis=0), 4, axis=1)  # 1000 x 1000
    small = Detector(320).largest(rgb, format="rgb")
    large = Detector(320).largest(big, format="rgb")
    native = Detector(max_side=320)
    tensor, sx, sy = native.prepare(big, "rgb")
    assert tensor.shape == (3, 320, 320) and sx == sy == pytest.approx(0.32)
    # found in the 320-pixel input, mapped back to the big photo's pixels
    in_input = native.detect_prepared(tensor)[0]
    assert np.allclose(large.landmarks.reshape(-1), in_input[5:] / 0.32, atol=1e-3)
    assert np.allclose(large.box, in_input[:4] / 0.32, atol=1e-3)
    # and the same face as in the original photo (4x its coordinates), up to the detector's
    # own jitter between two input sizes
    assert np.abs(large.landmarks / 4 - small.landmarks).max() < 6
    assert large.box[2] / 4 == pytest.approx(small.box[2], rel=0.1)


def test_options_are_checked_and_min_face_filters():
    with pytest.raises(ValueError, match="max_side"):
        Detector(16)
    with pytest.raises(ValueError, match="score_threshold"):
        Detector(score_threshold=1.5)
    with pytest.raises(ValueError, match="nms_threshold"):
        Detector(nms_threshold=0)
    with pytest.raises(ValueError, match="uint8"):
        Detector().detect(np.zeros((10, 10, 3), np.float32))
    assert "max_side=160" in repr(Detector(160))


def test_min_face_drops_small_boxes(data_root):
    rgb = read_image(str(data_root / "lfw/images/Colin_Powell/Colin_Powell_0001.jpg"))
    face = Detector().largest(rgb, format="rgb")
    side = max(face.box[2], face.box[3])
    assert Detector(min_face=side - 1).largest(rgb, format="rgb") is not None
    assert Detector(min_face=side + 1).largest(rgb, format="rgb") is None


def test_scorer_detect_scores_the_largest_face_by_its_landmarks(photos):
    scorer = Scorer()
    imgs = [read_image(str(p)) for p in photos[:8]]
    bgrs = [np.ascontiguousarray(i[:, :, ::-1]) for i in imgs]
    for bgr in bgrs:
        face = scorer.detect(bgr)[0]
        assert scorer.score(bgr, detect=True) == pytest.approx(
            scorer.score(bgr, face.landmarks), abs=1e-6
        )
        every = scorer.score(bgr, detect=True, all_faces=True)
        assert isinstance(every[0], Face) and every[0].score == pytest.approx(
            scorer.score(bgr, face.landmarks), abs=1e-6
        )
    batch = scorer.score_batch(bgrs, detect=True, workers=2)
    one = scorer.score_batch(bgrs, detect=True, workers=1)
    assert batch.dtype == np.float32 and np.array_equal(batch, one)
    assert np.allclose(batch, [scorer.score(b, detect=True) for b in bgrs], atol=1e-6)
    blank = np.zeros((100, 100, 3), np.uint8)
    assert math.isnan(scorer.score(blank, detect=True))
    assert scorer.score(blank, detect=True, all_faces=True) == []
    with pytest.raises(ValueError, match="detect=True"):
        scorer.score(bgrs[0], all_faces=True)
    with pytest.raises(ValueError, match="not both"):
        scorer.score(bgrs[0], np.zeros((5, 2)), detect=True)


def test_score_files_with_detection(photos, tmp_path):
    import cv2

    scorer = Scorer(detector=Detector(160))
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 90, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    paths = [str(p) for p in photos[:6]] + [str(blank), str(broken), str(tmp_path / "gone.jpg")]
    scores, messages, kinds = scorer.score_files_detailed(paths, detect=True, workers=2)
    assert kinds[:6] == [Status.ok] * 6 and kinds[6:] == [
        Status.no_face,
        Status.invalid,
        Status.missing,
    ]
    assert messages[6] == "no face found" and "no such file" in messages[8]
    expect = [scorer.score(read_image(p), detect=True, format="rgb") for p in paths[:6]]
    assert np.allclose(scores[:6], expect, atol=1e-6) and np.isnan(scores[6:]).all()
    # errors="raise" raises for the broken file, never for a photo without a face
    with pytest.raises(ValueError):
        scorer.score_files(paths[:8], detect=True)
    assert np.isnan(scorer.score_files(paths[:7], detect=True)[6])
    results = scorer.score_files_faces(paths, workers=2)
    assert [r.status for r in results[6:]] == [Status.no_face, Status.invalid, Status.missing]
    assert results[0].faces[0].score == pytest.approx(scores[0], abs=1e-6)


def test_cli_detect_rows_all_faces_and_no_face(data_root, tmp_path):
    import cv2

    src = sorted((data_root / "lfw" / "images" / "Tony_Blair").glob("*.jpg"))[:5]
    folder = face_folder(tmp_path / "photos", src)
    cv2.imwrite(str(folder / "wall.png"), np.full((100, 100, 3), 200, np.uint8))
    out = tmp_path / "s.csv"
    assert main(["score", "--detect", str(folder), "-o", str(out), "-q"]) == 0
    rows = read_csv(out)
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["no_face"]
    scorer = Scorer()
    for r in rows[:5]:
        assert float(r["score"]) == pytest.approx(
            scorer.score(read_image(r["path"]), detect=True, format="rgb"), abs=2e-6
        )
    out = tmp_path / "all.csv"
    assert main(["score", "--detect", "--all-faces", str(folder), "-o", str(out), "-q"]) == 0
    every = read_csv(out)
    assert list(every[0]) == [
        "path",
        "face",
        "score",
        "status",
        "message",
        "x",
        "y",
        "w",
        "h",
        "confidence",
    ]
    per_file = {}
    for r in every:
        per_file.setdefault(r["path"], []).append(r)
    assert len(per_file) == 6 and len(every) >= 6
    for path, rs in per_file.items():
        if path.endswith("wall.png"):
            assert [r["status"] for r in rs] == ["no_face"] and rs[0]["face"] == ""
            continue
        assert [int(r["face"]) for r in rs] == list(range(len(rs)))
        faces = scorer.score(read_image(path), detect=True, all_faces=True, format="rgb")
        assert len(faces) == len(rs)
        for r, f in zip(rs, faces):
            assert float(r["w"]) == pytest.approx(f.box[2], abs=0.01)
            assert float(r["score"]) == pytest.approx(f.score, abs=2e-6)
    assert main(["score", "--all-faces", str(folder), "-q", "-o", str(out)]) == 2


def test_embedded_detector_is_the_recorded_conversion():
    """The sidecar compiled in is cpp/models/yunet.json, and its hashes are those of the
    committed graph and of the ONNX release it was converted from."""
    import hashlib
    import json

    from tests.conftest import REPO
    from tests.yunet_reference import ONNX

    models = REPO / "cpp" / "models"
    meta = detector_info()
    assert meta == json.loads((models / "yunet.json").read_text())
    assert (
        meta["bin_sha256"] == hashlib.sha256((models / "yunet.ncnn.bin").read_bytes()).hexdigest()
    )
    assert meta["graph"] == "fused" and meta["licence"].startswith("Apache-2.0")
    if ONNX.exists():
        assert meta["source_sha256"] == hashlib.sha256(ONNX.read_bytes()).hexdigest()


def test_recorded_conversion_command_reproduces_the_committed_graph(tmp_path):
    """Anyone can redo the conversion: the converter on the ONNX release writes the committed
    graph and weights byte for byte (pooling folded into the layers that feed it, the stem
    into the layer that reads it, runs of units into chains)."""
    import subprocess
    import sys

    pytest.importorskip("onnx")
    from tests.conftest import REPO
    from tests.yunet_reference import ONNX

    if not ONNX.exists():
        pytest.skip(f"{ONNX} not found")
    out = tmp_path / "yunet"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "convert_yunet.py"), str(ONNX), str(out)],
        check=True,
        capture_output=True,
    )
    models = REPO / "cpp" / "models"
    param = (models / "yunet.ncnn.param").read_text()
    assert Path(f"{out}.ncnn.param").read_text() == param
    assert Path(f"{out}.ncnn.bin").read_bytes() == (models / "yunet.ncnn.bin").read_bytes()
    assert "TinyfqMaxPool2" not in param and param.count(" 3=1") == 2 and " 3=2" in param
    assert "TinyfqConv3x3" not in param and " 4=3 5=2" in param  # the stem folded in
    assert param.count("TinyfqPwDw") == 12 and "-23306=9,16,64,1,64,64,1,64,64,1" in param
