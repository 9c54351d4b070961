"""The face tracker on synthetic detections: crossing faces, gaps, birth and death."""

import numpy as np
import pytest

from tinyfq_native.track import Tracker, iou, landmark_distance


class Det:
    """A detection as the tracker reads it: a box and five landmarks inside it."""

    def __init__(self, x, y, w=80.0, h=80.0):
        self.box = (float(x), float(y), float(w), float(h))
        self.landmarks = np.array(
            [
                (x + 0.3 * w, y + 0.4 * h),
                (x + 0.7 * w, y + 0.4 * h),
                (x + 0.5 * w, y + 0.55 * h),
                (x + 0.35 * w, y + 0.75 * h),
                (x + 0.65 * w, y + 0.75 * h),
            ],
            np.float32,
        )


def test_iou_and_landmark_distance():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    a = Det(0, 0, 100, 100).landmarks  # eye distance 40
    assert landmark_distance(a, a + np.array([4.0, 0.0])) == pytest.approx(0.1)


def test_crossing_faces_keep_their_tracks():
    """Two faces pass each other (boxes overlapping for several frames): the predicted
    positions keep each on its own track."""
    t = Tracker()
    seen = {"a": set(), "b": set()}
    for f in range(40):
        a, b = Det(10 + 12 * f, 100), Det(490 - 12 * f, 130)
        tracks = t.update([b, a] if f % 2 else [a, b])
        ta, tb = (tracks[1], tracks[0]) if f % 2 else (tracks[0], tracks[1])
        seen["a"].add(ta.id)
        seen["b"].add(tb.id)
        assert not t.ended
    assert seen == {"a": {1}, "b": {2}}
    done = t.finish()
    assert [tr.id for tr in done] == [1, 2]
    assert done[0].first == 0 and done[0].last == 39 and done[0].hits == 40


def test_gap_within_max_missed_continues_the_track():
    t = Tracker(max_missed=2)
    for f in range(25):
        if f in (10, 11):  # two frames without a detection; the face moves meanwhile
            assert t.update([], f) == []
            assert not t.ended
            continue
        (track,) = t.update([Det(20 + 5 * f, 50)], f)
        assert track.id == 1
    (done,) = t.finish()
    assert done.hits == 23 and done.first == 0 and done.last == 24


def test_gap_beyond_max_missed_ends_the_track_and_starts_another():
    t = Tracker(max_missed=1)
    ended_at = None
    ids = []
    for f in range(20):
        faces = [] if f in (8, 9) else [Det(20 + 5 * f, 50)]
        tracks = t.update(faces, f)
        ids += [tr.id for tr in tracks]
        if t.ended:
            assert ended_at is None
            ended_at = f
            (gone,) = t.ended
            assert (gone.id, gone.first, gone.last, gone.hits) == (1, 0, 7, 8)
    assert ended_at == 9  # the second miss in a row
    assert ids == [1] * 8 + [2] * 10
    assert [tr.id for tr in t.finish()] == [2]


def test_birth_after_min_hits_drops_one_frame_false_positives():
    t = Tracker(min_hits=3)
    ids = []
    for f in range(6):
        faces = [Det(100 + 2 * f, 100)]
        if f == 2:
            faces.append(Det(400, 300))  # a false positive in one frame only
        tracks = t.update(faces, f)
        ids.append(tracks[0].id)
        if f == 2:
            assert tracks[1].id == 0
        if f == 3:
            assert len(t.dropped) == 1 and t.dropped[0].hits == 1
    assert ids == [0, 0, 1, 1, 1, 1]
    (done,) = t.finish()
    assert done.id == 1 and done.hits == 6 and not t.dropped


def test_death_then_a_new_face_gets_a_new_id():
    t = Tracker(max_missed=0)
    t.update([Det(0, 0)], 0)
    t.update([Det(2, 0)], 1)
    t.update([], 2)
    assert [tr.id for tr in t.ended] == [1]
    (tr,) = t.update([Det(300, 300)], 3)
    assert tr.id == 2 and not t.ended


def test_landmarks_link_a_face_whose_box_changes_size():
    """The box shrinks to half (IoU 0.25, under the gate) but the landmarks stay close."""
    t = Tracker(min_iou=0.3)
    (a,) = t.update([Det(100, 100, 100, 100)])
    (b,) = t.update([Det(125, 125, 50, 50)])
    assert a is b
    (c,) = t.update([Det(400, 100, 50, 50)])  # far away: a new face
    assert c is not a and c.id == 2


def test_greedy_prefers_the_closer_pair():
    t = Tracker()
    t.update([Det(0, 0), Det(100, 0)])
    near_second, near_first = Det(95, 0), Det(10, 0)
    tracks = t.update([near_second, near_first])
    assert [tr.id for tr in tracks] == [2, 1]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="max_missed"):
        Tracker(max_missed=-1)
    with pytest.raises(ValueError, match="min_hits"):
        Tracker(min_hits=0)
    with pytest.raises(ValueError, match="smoothing"):
        Tracker(smoothing=2)
