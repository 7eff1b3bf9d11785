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

"""tracker_node in-process, driven call by call (no DDS timing): ~/init semantics, bad frames.

The node's worker thread is stopped and its steps are called directly, so every assertion is
deterministic; the tiny test variant with random weights is used (plumbing, not tracking).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D

from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros.conversions import (
    array_to_image, box_to_detection, detections_to_result, ns_to_stamp, stamp_to_ns)
from rgbx_tracker_ros.ros.tracker_node import TrackerNode

pytestmark = pytest.mark.ros

T0 = 5_000_000_000
DT = 100_000_000


@pytest.fixture()
def node():
    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    n = TrackerNode(start_worker=False, context=ctx, parameter_overrides=[
        Parameter('variant', value='test_tiny'), Parameter('checkpoint', value='none'),
        Parameter('device', value='cpu'), Parameter('modality', value='thermal')])
    n.published = []
    n.detections_pub.publish = n.published.append
    seq = generate_sequence('thermal', 8, 160, 128, seed=2, num_occlusions=0)
    n.seq = seq
    yield n
    n.destroy_node()
    rclpy.shutdown(context=ctx)


def _feed(n, k: int, with_x: bool = True) -> None:
    """Push frame k (stamp T0 + k * DT) and run one worker step."""
    stamp = T0 + k * DT
    if with_x:
        n._on_x(array_to_image(n.seq.x_raw[k], 'mono16', stamp, 'x'))
    n._on_rgb(array_to_image(n.seq.rgb[k], 'rgb8', stamp, 'rgb'))
    n.step()


def _init(n, stamp: int, box) -> None:
    if np.all(np.isfinite(box)):
        det = box_to_detection(box, 1.0, Header(stamp=ns_to_stamp(stamp)))
    else:                                     # what a broken client could send
        det = Detection2D(header=Header(stamp=ns_to_stamp(stamp)))
        det.bbox.center.position.x, det.bbox.size_x = float(box[0]), float(box[2])
    n._on_init(det)


def _answers(n) -> list[tuple[int, np.ndarray | None, float | None]]:
    return [(stamp_to_ns(m.header.stamp), *detections_to_result(m)) for m in n.published]


def test_init_on_future_last_and_next_frames(node) -> None:
    gt = node.seq.boxes_xywh
    _init(node, T0 + 2 * DT, gt[2])           # a future frame: applied when frame 2 comes
    node.step()
    _feed(node, 0)
    _feed(node, 1)
    _feed(node, 2)
    ans = _answers(node)
    assert [a[0] for a in ans] == [T0, T0 + DT, T0 + 2 * DT]    # header = the RGB frame's
    assert ans[0][1] is None and ans[1][1] is None              # no target yet: empty arrays
    np.testing.assert_allclose(ans[2][1], gt[2])
    assert ans[2][2] == pytest.approx(1.0)
    assert node.published[2].header.frame_id == 'rgb'

    _feed(node, 3)
    assert _answers(node)[3][1] is not None                     # tracking
    _init(node, T0 + 3 * DT, gt[3])           # the last processed frame: re-init on it now
    node.step()
    stamp, box, score = _answers(node)[4]
    assert stamp == T0 + 3 * DT and score == pytest.approx(1.0)
    np.testing.assert_allclose(box, gt[3])

    _init(node, 0, gt[3])                     # stamp 0: the next frame
    node.step()
    _feed(node, 4)
    np.testing.assert_allclose(_answers(node)[5][1], gt[3])

    _init(node, T0 + DT, gt[1])               # an older frame: next frame, with a warning
    node.step()
    _feed(node, 5)
    stamp, box, score = _answers(node)[6]
    assert stamp == T0 + 5 * DT
    np.testing.assert_allclose(box, gt[1])
    values = node.pipeline.health.snapshot(0).values
    assert values['frames_processed'] == '6' and values['synchronized_pairs'] == '6'


def test_bad_inputs_are_counted_and_skipped(node) -> None:
    gt = node.seq.boxes_xywh
    _init(node, 0, [np.nan, 1.0, 5.0, 5.0])   # invalid box on ~/init
    _init(node, 0, [500.0, 500.0, 10.0, 10.0])  # outside the 160x128 image
    node.step()
    _feed(node, 0)                            # the init fails on the frame: no target
    assert _answers(node)[0][1] is None

    bad = array_to_image(node.seq.rgb[1], 'rgb8', T0 + DT, 'rgb')
    bad.data = bytes(bad.data)[:-7]           # truncated
    node._on_rgb(bad)
    # a depth image (32FC1, metres) on the thermal X topic
    node._on_x(array_to_image(np.ones((128, 160), np.float32), '32FC1', T0 + DT, 'x'))
    node.step()
    assert len(node.published) == 1           # nothing published for the rejected RGB frame

    _init(node, 0, gt[2])
    node.step()
    _feed(node, 2)
    np.testing.assert_allclose(_answers(node)[-1][1], gt[2])
    node.pipeline.tracker.track = lambda rgb, x: (np.array([np.nan, 0.0, 1.0, 1.0]), 0.5)
    _feed(node, 3)
    assert _answers(node)[-1][0] == T0 + 3 * DT and _answers(node)[-1][1] is None
    values = node.pipeline.health.snapshot(0).values
    assert values['bad_frames.init.invalid_box'] == '2'
    assert values['bad_frames.rgb.size_mismatch'] == '1'
    assert values['bad_frames.x.encoding'] == '1'
    assert values['bad_frames.tracker.nan_box'] == '1'
    assert values['bad_frames_total'] == '5'


def test_raw_events_are_rendered_per_rgb_interval_and_paired() -> None:
    from rgbx_tracker_ros.core.modality import events_to_frame
    from rgbx_tracker_ros.ros.conversions import events_to_pointcloud

    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    n = TrackerNode(start_worker=False, context=ctx, parameter_overrides=[
        Parameter('variant', value='test_tiny'), Parameter('checkpoint', value='none'),
        Parameter('device', value='cpu'), Parameter('modality', value='event'),
        Parameter('event_input', value='raw')])
    try:
        assert n.input_topics['x'] == '/x/events'
        seq = generate_sequence('event', 6, 160, 128, seed=4, num_occlusions=0)
        seen = []
        init, track = n.pipeline.tracker.initialize, n.pipeline.tracker.track
        n.pipeline.tracker.initialize = lambda rgb, x, box: (seen.append(x), init(rgb, x, box))[1]
        n.pipeline.tracker.track = lambda rgb, x: (seen.append(x), track(rgb, x))[1]
        _init(n, 0, seq.boxes_xywh[0])
        for k in range(6):
            stamp = int(seq.stamps_ns[k])
            cloud = events_to_pointcloud(seq.x_raw[k], stamp, 'events')
            rgb = array_to_image(seq.rgb[k], 'rgb8', stamp, 'rgb')
            if k % 2:                          # either order of arrival must pair
                n._on_rgb(rgb)
                n._on_events(cloud)
            else:
                n._on_events(cloud)
                n._on_rgb(rgb)
            n.step()
        assert len(seen) == 6
        for k in range(6):
            t0, t1 = (int(v) for v in seq.event_windows_us[k])
            want = events_to_frame(seq.x_raw[k], 128, 160, t0, t1)
            np.testing.assert_array_equal(seen[k], want)
        assert (seen[3] != 255).any()          # the frame shows events
        values = n.pipeline.health.snapshot(0).values
        assert values['synchronized_pairs'] == '6' and values['rgb_only_frames'] == '0'
        assert values['frames_in.x'] == '6'
    finally:
        n.destroy_node()
        rclpy.shutdown(context=ctx)
