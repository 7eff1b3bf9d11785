# Copyright 2026 The rgbx_tracker_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""core.session.TrackingSession: init requests by stamp, reset, X alone, box clipping, X size
policy and score threshold, driven with a scripted tracker (no ROS, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rgbx_tracker_ros.core.params import NodeParams
from rgbx_tracker_ros.core.session import Frame, TrackingSession, aspect_mismatch, view_state
from rgbx_tracker_ros.core.sync import FramePair

H, W = 48, 64


class ScriptedTracker:
    """Returns the boxes it is told to; records what it was given."""

    def __init__(self) -> None:
        self.initialized = False
        self.next_box = np.array([10.0, 10.0, 8.0, 8.0])
        self.next_score = 0.9
        self.calls: list[tuple] = []

    def initialize(self, rgb, x, box):
        self.calls.append(('init', rgb.shape, None if x is None else x.shape, list(box)))
        self.initialized = True

    def track(self, rgb, x):
        self.calls.append(('track', rgb.shape, None if x is None else x.shape))
        return self.next_box, self.next_score

    def reset(self):
        self.initialized = False


def _frame(stamp: int, h: int = H, w: int = W, value: int = 128) -> Frame:
    return Frame(stamp, 'cam', np.full((h, w, 3), value, np.uint8), arrival_ns=stamp)


def _pair(stamp: int, x: Frame | None = None, rgb: Frame | None = None,
          rgb_missing: bool = False) -> FramePair:
    if rgb_missing:
        return FramePair(stamp, None, x, stamp, False, True)
    return FramePair(stamp, rgb or _frame(stamp), x, None if x is None else x.stamp_ns,
                     x is None)


def _session(**params) -> tuple[TrackingSession, ScriptedTracker, list]:
    problems: list = []
    tracker = ScriptedTracker()
    session = TrackingSession(tracker, NodeParams(**params),
                              problem=lambda *a: problems.append(a))
    return session, tracker, problems


def test_init_by_stamp_future_last_and_older() -> None:
    s, tr, problems = _session()
    assert s.process(_pair(100)).box is None                    # no target yet
    assert s.request_init(300, [5, 5, 10, 10])                  # future stamp
    s.handle_requests()
    assert not tr.initialized and s.process(_pair(200)).score is None
    a = s.process(_pair(300))
    assert a.score == 1.0 and a.box.tolist() == [5, 5, 10, 10] and not a.repeat
    # the stamp of the last processed frame: re-init on it and answer it again
    s.request_init(300, [6, 6, 10, 10])
    again = s.handle_requests()
    assert len(again) == 1 and again[0].repeat and again[0].stamp_ns == 300
    assert again[0].box.tolist() == [6, 6, 10, 10]
    # an older stamp: the next frame
    s.request_init(50, [7, 7, 10, 10])
    assert s.handle_requests() == []
    assert s.process(_pair(400)).box.tolist() == [7, 7, 10, 10]
    assert problems == []


def test_reset_drops_the_target_until_the_next_init() -> None:
    s, tr, _ = _session(initial_box=(1.0, 1.0, 10.0, 10.0))
    assert s.process(_pair(1)).score == 1.0                     # initial_box on frame 1
    assert s.process(_pair(2)).box is not None
    ticket = s.request_reset()
    s.handle_requests()
    assert s.wait_reset(ticket, 0.0) and not tr.initialized
    assert s.process(_pair(3)).box is None


def test_init_box_clipped_or_rejected_with_a_reason() -> None:
    s, tr, problems = _session()
    s.request_init(0, [-100, -100, 5000, 5000])
    s.handle_requests()
    a = s.process(_pair(1))
    assert a.box.tolist() == [0, 0, W, H] and tr.calls[-1][3] == [0, 0, W, H]
    s.request_init(0, [W - 2, 0, 10, 10])                         # 2 px inside: too small
    s.handle_requests()
    s.process(_pair(2))
    assert problems and problems[-1][:2] == ('init', 'invalid_box')
    assert f'{W}x{H}' in problems[-1][2]
    assert not s.request_init(0, [1, 1, 0, 5])                  # no size at all
    assert problems[-1][:2] == ('init', 'invalid_box')


@pytest.mark.parametrize('box, expected', [
    ([-9, -9, 19, 19], [0, 0, 10, 10]),
    ([60, 40, 20, 20], [60, 40, 4, 8]),
    ([100, 100, 5, 5], None),
])
def test_published_boxes_lie_inside_the_image(box, expected) -> None:
    s, tr, problems = _session(initial_box=(1.0, 1.0, 10.0, 10.0))
    s.process(_pair(1))
    tr.next_box = np.array(box, float)
    a = s.process(_pair(2))
    if expected is None:
        assert a.box is None and problems[-1][:2] == ('tracker', 'box_outside_image')
    else:
        assert a.box.tolist() == expected and problems == []


def test_score_threshold_hides_the_box_but_keeps_tracking() -> None:
    s, tr, _ = _session(initial_box=(1.0, 1.0, 10.0, 10.0), score_threshold=0.5)
    s.process(_pair(1))
    tr.next_score = 0.3
    a = s.process(_pair(2))
    assert a.box is None and a.tracking and tr.initialized


def test_x_of_another_aspect_is_a_bad_frame_unless_stretch() -> None:
    s, tr, problems = _session(initial_box=(1.0, 1.0, 10.0, 10.0))
    s.process(_pair(1, x=_frame(1, H * 2, W * 2)))             # same aspect: scaled
    assert tr.calls[-1][2] == (H, W, 3) and problems == []
    a = s.process(_pair(2, x=_frame(2, H, W * 2)))             # other aspect: RGB alone
    assert tr.calls[-1][2] is None and not a.used_x and a.state == 'RGB only'
    assert problems[-1][:2] == ('x', 'aspect_mismatch') and f'{W * 2}x{H}' in problems[-1][2]
    s2, tr2, problems2 = _session(initial_box=(1.0, 1.0, 10.0, 10.0), x_resize='stretch')
    s2.process(_pair(1, x=_frame(1, H, W * 2)))
    assert tr2.calls[-1][2] == (H, W, 3) and problems2 == []
    assert aspect_mismatch((480, 640), (512, 640)) and not aspect_mismatch((480, 640), (240, 320))


def test_x_alone_uses_a_black_frame_of_the_last_rgb_geometry() -> None:
    s, tr, _ = _session(initial_box=(1.0, 1.0, 10.0, 10.0))
    s.process(_pair(1, x=_frame(1)))
    x = Frame(2, 'thermal', np.full((H // 2, W // 2, 3), 200, np.uint8), 2)
    a = s.process(_pair(2, x=x, rgb_missing=True))
    assert a.rgb_missing and a.state == 'X only' and a.frame_id == 'cam' and a.stamp_ns == 2
    assert tr.calls[-1][1] == (H, W, 3) and tr.calls[-1][2] == (H, W, 3)
    assert a.image.shape == (H, W, 3) and int(a.image[0, 0, 0]) == 200   # drawn on X


def test_view_state() -> None:
    bright = np.full((8, 8, 3), 100, np.uint8)
    dark = np.zeros((8, 8, 3), np.uint8)
    assert view_state(bright, True, 12.0) == 'RGB-X'
    assert view_state(dark, True, 12.0) == 'X only'
    assert view_state(dark, False, 12.0) == 'RGB only'
    assert view_state(dark, True, 0.0) == 'RGB-X'
