"""`tinyfq video` and tinyfq_native.video on short clips made here from LFW photos with PyAV:
two people side by side, each showing five of their photos in turn while moving a few pixels a
frame. Also bursts (folders of frames), rotation metadata, variable frame rate, and bad input:
empty, cut short, corrupt, unsupported, missing, stalled, no face, Ctrl-C."""

from __future__ import annotations

import os
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import read_csv
from tinyfq_native.cli import main
from tinyfq_native.images import read_image
from tinyfq_native.png import encode_png, write_png
from tinyfq_native.video import VideoError, best_faces, contact_sheet

av = pytest.importorskip("av")

W, H = 640, 300  # the canvas: a 250x250 photo on each half, never overlapping
FRAMES = 30
PEOPLE = ("George_W_Bush", "Colin_Powell")
FIELDS = "video,track,rank,frame,time_s,score,status,x,y,w,h,confidence,message"


def canvas(photos, f: int) -> np.ndarray:
    """Frame ``f``: person 0 on the left moving right, person 1 on the right moving left,
    each showing photo (f // 6) % 5."""
    c = np.full((H, W, 3), 100, np.uint8)
    a, b = photos[0][(f // 6) % 5], photos[1][(f // 6) % 5]
    xa, xb = 10 + 2 * f, W - 250 - 10 - 2 * f
    c[25:275, xa : xa + 250] = a
    c[25:275, xb : xb + 250] = b
    return c


def encoder() -> str:
    for name in ("libx264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:
            continue
    pytest.skip("PyAV's FFmpeg has no h264 or mpeg4 encoder")


def write_clip(path, frames, *, fps=30, rotation=None, pts_ms=None, fmt=None) -> Path:
    """Encode RGB frames (a list or an iterable) to ``path`` with PyAV. ``rotation``: the
    display matrix's angle; ``pts_ms``: each frame's time in milliseconds (variable rate)."""
    container = av.open(str(path), "w", format=fmt)
    stream = container.add_stream(encoder(), rate=fps)
    first = None
    for i, image in enumerate(frames):
        if first is None:
            first = image
            stream.height, stream.width = image.shape[:2]
            stream.pix_fmt = "yuv420p"
            if rotation is not None:
                stream.set_display_rotation(rotation)
            if pts_ms is not None:
                stream.codec_context.time_base = Fraction(1, 1000)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return Path(path)


@pytest.fixture(scope="module")
def photos(data_root):
    """Five RGB photos of each person in which the detector finds exactly one face."""
    from tinyfq_native import Detector

    det = Detector()
    out = []
    for name in PEOPLE:
        files = sorted((data_root / "lfw" / "images" / name).glob("*.jpg"))
        ims = [im for im in (read_image(str(f)) for f in files[:12]) if len(det.detect(im)) == 1]
        assert len(ims) >= 5, name
        out.append(ims[:5])
    return out


@pytest.fixture(scope="module")
def clips(photos, tmp_path_factory):
    """The clips and folders the tests read (made once)."""
    root = tmp_path_factory.mktemp("clips")
    frames = [canvas(photos, f) for f in range(FRAMES)]
    two = write_clip(root / "two.mp4", frames)
    burst = root / "burst"
    burst.mkdir()
    for f in range(0, 12):
        write_png(burst / f"frame{f:04d}.png", frames[f])
    bad_burst = root / "bad_burst"
    bad_burst.mkdir()
    for f in range(3):
        write_png(bad_burst / f"frame{f:04d}.png", frames[f])
    (bad_burst / "frame0001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    mkv = write_clip(root / "two.mkv", frames, fmt="matroska")
    data = mkv.read_bytes()
    (root / "cut.mkv").write_bytes(data[: len(data) // 2])
    (root / "empty.mp4").write_bytes(b"")
    (root / "unknown.mkv").write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC", 1))
    rng = np.random.default_rng(0)
    plain = [
        np.clip(rng.normal(120, 20, (H, W, 3)) + f, 0, 255).astype(np.uint8) for f in range(10)
    ]
    noface = write_clip(root / "noface.mp4", plain)
    return {
        "root": root,
        "frames": frames,
        "two": two,
        "burst": burst,
        "bad_burst": bad_burst,
        "cut": root / "cut.mkv",
        "empty": root / "empty.mp4",
        "unknown": root / "unknown.mkv",
        "noface": noface,
        "mkv": mkv,
    }


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def side(box) -> int:
    """0 for a face on the left half of the canvas, 1 on the right."""
    return int(box[0] + box[2] / 2 > W / 2)


@pytest.fixture(scope="module")
def expected(clips):
    """Per side, the frame whose face scores highest and that score, by scoring every
    decoded frame of two.mp4 one at a time (the straightforward loop)."""
    from tinyfq_native import Scorer

    scorer = Scorer()
    best = {0: (-1, -1.0), 1: (-1, -1.0)}
    for n, frame in enumerate(decoded(clips["two"])):
        faces = scorer.score(frame, detect=True, all_faces=True, format="rgb")
        assert sorted(side(f.box) for f in faces) == [0, 1], n
        for f in faces:
            if f.score > best[side(f.box)][1]:
                best[side(f.box)] = (n, f.score)
    return best


def test_two_people_two_tracks_and_their_best_frames(clips, expected):
    run = best_faces(clips["two"], k=3)
    tracks = dict(run)
    assert run.frames == run.scored == FRAMES and run.tracks == 2 and run.rotation == 0
    assert run.fps == pytest.approx(30)
    assert sorted(tracks) == [1, 2]
    for picks in tracks.values():
        assert len(picks) == 3
        s = side(picks[0].box)
        assert all(side(p.box) == s for p in picks)  # one person per track
        assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)
        frame, score = expected[s]
        assert picks[0].frame == frame
        assert picks[0].score == pytest.approx(score, abs=1e-6)
        assert picks[0].time == pytest.approx(frame / 30, abs=1e-3)
        assert picks[0].crop.shape == (112, 112, 3) and picks[0].crop.dtype == np.uint8
        assert picks[0].image is None and picks[0].landmarks.shape == (5, 2)


def test_every_nth_frame(clips):
    run = best_faces(clips["two"], k=2, every=3, crops=False)
    tracks = dict(run)
    assert run.frames == FRAMES and run.scored == FRAMES // 3 and len(tracks) == 2
    assert all(p.frame % 3 == 0 and p.crop is None for ps in tracks.values() for p in ps)


def test_a_burst_folder_is_read_in_name_order(clips):
    run = best_faces(clips["burst"], k=2, keep_frames=True)
    tracks = dict(run)
    assert len(tracks) == 2 and run.frames == 12 and not run.errors
    for picks in tracks.values():
        p = picks[0]
        assert p.time is None
        np.testing.assert_array_equal(p.image, clips["frames"][p.frame])  # PNG is lossless


def test_rotation_metadata_is_honoured(clips, tmp_path, photos):
    """Frames stored turned a quarter clockwise, with a display matrix that turns them back
    (as phones write portrait videos): scored upright, boxes in the upright frame."""
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix (needs set_display_rotation)")
    stored = [np.ascontiguousarray(np.rot90(f, -1)) for f in clips["frames"][:12]]
    clip = write_clip(tmp_path / "portrait.mp4", stored, rotation=90)
    run = best_faces(clip, k=1)
    tracks = dict(run)
    assert run.rotation == 90 and len(tracks) == 2
    plain = dict(best_faces(clips["two"], k=1, crops=False))
    for picks in tracks.values():
        x, y, w, h = picks[0].box
        assert 0 <= x and x + w <= W + 2 and 0 <= y and y + h <= H + 2  # upright: W wide
        twin = next(ps[0] for ps in plain.values() if side(ps[0].box) == side(picks[0].box))
        assert abs(picks[0].box[1] - twin.box[1]) < 12


def test_variable_frame_rate_times_come_from_the_timestamps(clips, tmp_path):
    times = [0, 40, 70, 200, 210, 400, 433, 500, 900, 1000]
    clip = write_clip(tmp_path / "vfr.mkv", clips["frames"][:10], pts_ms=times, fmt="matroska")
    picks = [p for _, ps in best_faces(clip, k=10, crops=False) for p in ps]
    assert len(picks) == 20
    for p in picks:
        assert p.time == pytest.approx(times[p.frame] / 1000, abs=2e-3)


def test_bad_sources_raise_with_a_status(clips):
    from tinyfq_native import Status

    with pytest.raises(FileNotFoundError):
        best_faces(clips["root"] / "missing.mp4")
    for name, status, says in [
        ("empty", Status.invalid, "cannot open"),
        ("unknown", Status.unsupported, "no decoder"),
    ]:
        with pytest.raises(VideoError, match=says) as e:
            best_faces(clips[name])
        assert e.value.status == status
    run = best_faces(clips["cut"], k=1)
    got = []
    with pytest.raises(VideoError, match="cut short") as e:
        for track in run:
            got.append(track)
    assert e.value.status == Status.invalid
    assert len(got) == 2 and 0 < run.frames < FRAMES  # the tracks before the cut come first


def test_a_stalled_stream_times_out(clips):
    """A source that sends half a stream and then nothing (a local socket)."""
    data = clips["mkv"].read_bytes()
    server = socket.create_server(("127.0.0.1", 0))
    release = threading.Event()

    def serve():
        conn, _ = server.accept()
        conn.sendall(data[: len(data) // 2])
        release.wait(10)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    t0 = time.perf_counter()
    run = best_faces(
        f"tcp://127.0.0.1:{server.getsockname()[1]}", k=1, format="matroska", timeout=1
    )
    with pytest.raises(VideoError, match="stalled") as e:
        list(run)
    release.set()
    server.close()
    assert time.perf_counter() - t0 < 8 and e.value.frames > 0


def test_cli_rows_images_and_bad_inputs(clips, tmp_path, capsys, expected):
    out = tmp_path / "out"
    inputs = ["two", "empty", "cut", "burst", "noface", "unknown", "bad_burst"]
    missing = str(clips["root"] / "missing.mp4")
    argv = ["video", *(str(clips[i]) for i in inputs), missing, "-o", str(out), "-k", "2", "-q"]
    assert main([*argv, "--save-frames"]) == 1
    err = capsys.readouterr().err
    assert "5 of 8 inputs failed" in err and "no face found in 1 of 8" in err
    lines = (out / "tracks.csv").read_text().splitlines()
    assert lines[0].startswith("# tinyfq {") and lines[1] == FIELDS
    rows = read_csv(out / "tracks.csv")
    by = {}
    for r in rows:
        by.setdefault(Path(r["video"]).name, []).append(r)

    two = by["two.mp4"]
    assert [r["status"] for r in two] == ["ok"] * 5
    assert [r["track"] for r in two] == ["1", "1", "2", "2", ""]
    assert [r["rank"] for r in two[:4]] == ["1", "2", "1", "2"]
    assert two[-1]["message"] == f"{FRAMES} frames, {FRAMES} searched, 2 tracks"
    for r in two[:4]:
        assert 0 < float(r["score"]) < 1 and 0.6 <= float(r["confidence"]) <= 1
        assert float(r["time_s"]) == pytest.approx(int(r["frame"]) / 30, abs=1e-3)
        assert float(r["w"]) > 50 and float(r["h"]) > 50
    for r in (two[0], two[2]):  # the best of each track: the loop's best frame
        box = tuple(float(r[c]) for c in "xywh")
        assert int(r["frame"]) == expected[side(box)][0]
        assert float(r["score"]) == pytest.approx(expected[side(box)][1], abs=1e-5)
    folder = out / "two"
    for t in (1, 2):
        for k in (1, 2):
            crop = read_image(str(folder / f"track{t:03d}_rank{k}.png"))
            assert crop.shape == (112, 112, 3)
            assert read_image(str(folder / f"track{t:03d}_rank{k}_frame.png")).shape == (H, W, 3)
    sheet = read_image(str(folder / "contact_sheet.png"))
    assert sheet.shape == (4 + 2 * 116, 4 + 2 * 116, 3)
    # the sheet's rows, best track first, are the crops written
    best_track = max((two[0], two[2]), key=lambda r: float(r["score"]))["track"]
    first = read_image(str(folder / f"track{int(best_track):03d}_rank1.png"))
    np.testing.assert_array_equal(sheet[4:116, 4:116], first)

    (empty,) = by["empty.mp4"]
    assert empty["status"] == "invalid" and "cannot open" in empty["message"]
    assert empty["score"] == "" and empty["track"] == ""
    cut = by["cut.mkv"]
    assert cut[-1]["status"] == "invalid" and "cut short" in cut[-1]["message"]
    assert all(r["status"] == "ok" for r in cut[:-1]) and len(cut) > 1  # tracks kept
    assert (out / "cut" / "contact_sheet.png").is_file()
    burst = by["burst"]
    assert burst[-1]["status"] == "ok" and burst[-1]["message"].endswith("2 tracks")
    assert all(r["time_s"] == "" for r in burst)
    assert len(list((out / "burst").glob("track*_rank1.png"))) == 2
    assert [r["status"] for r in by["noface.mp4"]] == ["no_face"]
    assert not (out / "noface").exists()
    assert [r["status"] for r in by["unknown.mkv"]] == ["unsupported"]
    assert [(r["status"], r["message"]) for r in by["missing.mp4"]] == [
        ("missing", f"{missing}: No such file or directory")
    ]
    bad = by["bad_burst"]
    assert [(r["frame"], r["status"]) for r in bad if r["track"] == "" and r["status"] != "ok"] == [
        ("1", "invalid")
    ]


def test_cli_resume_keeps_complete_videos(clips, tmp_path, capsys):
    out = tmp_path / "out"
    two, empty = str(clips["two"]), str(clips["empty"])
    assert main(["video", two, empty, "-o", str(out), "-k", "1", "-q"]) == 1
    before = read_csv(out / "tracks.csv")
    capsys.readouterr()
    argv = ["video", two, empty, str(clips["burst"]), "-o", str(out), "-k", "1", "-q"]
    assert main([*argv, "--resume"]) == 1
    assert "resuming: 1 of 3 inputs already complete" in capsys.readouterr().err
    after = read_csv(out / "tracks.csv")
    assert [r for r in after if r["video"] == two] == [r for r in before if r["video"] == two]
    assert len([r for r in after if r["video"] == empty]) == 1  # tried again, one row
    assert any(r["video"] == str(clips["burst"]) for r in after)
    # other options than the file's: refused
    assert main([*argv[:-3], "-k", "2", "-q", "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_cli_ctrl_c_keeps_what_is_written_and_resume_finishes(clips, tmp_path, monkeypatch):
    """Ctrl-C in the second input: the first input's rows stay whole, exit 130; --resume
    does only the second."""
    from tinyfq_native._scorer import Scorer

    real = Scorer.score_batch
    calls = {"n": 0}

    def interrupted(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 4:  # the burst takes two batches of 8 frames; then two.mp4's second
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    out = tmp_path / "out"
    burst, two = str(clips["burst"]), str(clips["two"])
    argv = ["video", burst, two, "-o", str(out), "-k", "1", "-q"]
    monkeypatch.setattr(Scorer, "score_batch", interrupted)
    assert main(argv) == 130
    rows = read_csv(out / "tracks.csv")
    assert [(r["video"], r["track"]) for r in rows] == [(burst, "1"), (burst, "2"), (burst, "")]
    monkeypatch.setattr(Scorer, "score_batch", real)
    assert main([*argv, "--resume"]) == 0
    rows = read_csv(out / "tracks.csv")
    assert [r["track"] for r in rows if r["video"] == two] == ["1", "2", ""]
    assert len(rows) == 6


def test_cli_usage_and_set_up_errors(clips, tmp_path, capsys):
    assert main(["video", str(clips["two"]), "-o", str(tmp_path), "-k", "0"]) == 2
    assert main(["video", str(clips["two"])]) == 2  # no -o
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["video", str(clips["two"]), "-o", str(blocker / "out"), "-q"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_png_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    for shape in [(5, 7), (9, 3, 3), (1, 1, 3), (4, 6, 4), (33, 17, 1)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        write_png(tmp_path / "x.png", a)
        b = read_image(str(tmp_path / "x.png"))
        want = a[:, :, 0] if shape[-1:] == (1,) else a
        if shape[-1:] == (4,):
            b, want = b[:, :, :3], a[:, :, :3]
        np.testing.assert_array_equal(b.reshape(want.shape), want)
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        encode_png(np.zeros((2, 2, 2), np.uint8))


def test_contact_sheet_layout():
    a = np.full((112, 112, 3), 200, np.uint8)
    sheet = contact_sheet([[a, a, a], [a]], gap=4, background=7)
    assert sheet.shape == (4 + 2 * 116, 4 + 3 * 116, 3)
    assert (sheet[120:232, 120:232] == 7).all() and (sheet[120:232, 4:116] == 200).all()
    with pytest.raises(ValueError):
        contact_sheet([])


def test_arguments_are_checked(clips):
    with pytest.raises(ValueError, match="k must"):
        best_faces(clips["two"], k=0)
    with pytest.raises(ValueError, match="every must"):
        best_faces(clips["two"], every=0)
    assert os.path.exists(clips["two"])
