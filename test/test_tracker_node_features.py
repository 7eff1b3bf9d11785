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

"""tracker_node in-process (worker stopped, steps called directly): parameter descriptors and
the parameter callback, ~/reset, ~/init_from_detections, the RGB-D 3D marker, the 'X only'
state. Tiny test variant with random weights (plumbing, not tracking quality)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray, ObjectHypothesisWithPose

from rgbx_tracker_ros.data.synthetic import generate_sequence
from rgbx_tracker_ros.ros.conversions import (
    array_to_image, box_to_detection, detections_to_result, ns_to_stamp, stamp_to_ns)
from rgbx_tracker_ros.ros.tracker_node import (
    PARAMETER_NAMES, TrackerNode, validate_parameters, view_state)

pytestmark = pytest.mark.ros

T0 = 5_000_000_000
DT = 100_000_000


def _make_node(modality: str = 'thermal', **extra):
    ctx = Context()
    rclpy.init(context=ctx, domain_id=random.SystemRandom().randint(1, 100))
    overrides = [Parameter('variant', value='test_tiny'), Parameter('checkpoint', value='none'),
                 Parameter('device', value='cpu'), Parameter('modality', value=modality)]
    overrides += [Parameter(k, value=v) for k, v in extra.items()]
    n = TrackerNode(start_worker=False, context=ctx, parameter_overrides=overrides)
    n.published = []
    n.detections_pub.publish = n.published.append
    n.ctx = ctx
    return n


def _close(n) -> None:
    n.destroy_node()
    rclpy.shutdown(context=n.ctx)


@pytest.fixture()
def node():
    n = _make_node()
    n.seq = generate_sequence('thermal', 10, 160, 128, seed=3, num_occlusions=0)
    yield n
    _close(n)


def _feed(n, k: int, with_x: bool = True) -> None:
    stamp = T0 + k * DT
    if with_x:
        n._on_x(array_to_image(n.seq.x_raw[k], 'mono16', stamp, 'x'))
    n._on_rgb(array_to_image(n.seq.rgb[k], 'rgb8', stamp, 'rgb'))
    n.step()


def _last(n):
    m = n.published[-1]
    return (stamp_to_ns(m.header.stamp), *detections_to_result(m))


def _detections(stamp: int, dets: list[tuple[list[float], str, float]]) -> Detection2DArray:
    msg = Detection2DArray(header=Header(stamp=ns_to_stamp(stamp), frame_id='rgb'))
    out = []
    for box, cls, score in dets:
        d = box_to_detection(box, score, msg.header)
        d.id = f'{cls}_{len(out)}'
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = cls, score
        d.results = [hyp]
        out.append(d)
    msg.detections = out
    return msg


def test_descriptors_mark_restart_parameters_read_only(node) -> None:
    read_only = {name for name in ('variant', 'checkpoint', 'device', 'modality', 'event_input',
                                   'qos_reliability', 'qos_depth', 'torch_threads', 'precision',
                                   'camera_info', 'initial_box')
                 if node.describe_parameter(name).read_only}
    assert read_only == {'variant', 'checkpoint', 'device', 'modality', 'event_input',
                         'qos_reliability', 'qos_depth', 'torch_threads', 'precision',
                         'camera_info', 'initial_box'}
    for name in ('slop', 'x_timeout', 'score_threshold', 'init_class_id'):
        assert not node.describe_parameter(name).read_only, name
    rng = node.describe_parameter('score_threshold').floating_point_range[0]
    assert (rng.from_value, rng.to_value) == (0.0, 1.0)
    res = node.set_parameters([Parameter('variant', value='b224')])[0]
    assert not res.successful
    assert node.get_parameter('variant').value == 'test_tiny'


def test_precision_parameter(node) -> None:
    """'auto' resolves to what the tracker runs (reported in diagnostics); bad values and fp16
    on a CPU are refused with the parameter's name."""
    assert node.params.precision == 'auto'
    assert node.pipeline.tracker.precision in ('fp32', 'bf16')
    assert node.pipeline.health.snapshot(0).values['precision'] == node.pipeline.tracker.precision
    values = {n: node.get_parameter(n).value for n in PARAMETER_NAMES}
    assert validate_parameters(dict(values, precision='BF16')).precision == 'bf16'
    with pytest.raises(ValueError, match='precision'):
        validate_parameters(dict(values, precision='int8'))
    with pytest.raises(ValueError, match='fp16.*CUDA'):
        validate_parameters(dict(values, precision='fp16'))
    forced = _make_node(precision='fp32')
    try:
        assert (forced.pipeline.tracker.precision == 'fp32'
                and forced.pipeline.tracker.autocast_dtype is None)
    finally:
        _close(forced)


def test_parameter_callback_validates_and_applies(node) -> None:
    ok = node.set_parameters([Parameter('slop', value=0.05)])[0]
    assert ok.successful
    assert (node.params.slop == pytest.approx(0.05)
            and node.pipeline.pairer.slop_s == pytest.approx(0.05))
    bad = node.set_parameters([Parameter('slop', value=0.6)])[0]   # >= x_timeout 0.5
    assert not bad.successful and 'slop' in bad.reason and 'x_timeout' in bad.reason
    assert node.get_parameter('slop').value == pytest.approx(0.05)
    assert node.pipeline.pairer.slop_s == pytest.approx(0.05)
    out_of_range = node.set_parameters([Parameter('score_threshold', value=1.5)])[0]
    assert not out_of_range.successful
    # both at once, consistent: accepted atomically
    both = node.set_parameters_atomically([Parameter('x_timeout', value=1.0),
                                           Parameter('slop', value=0.7)])
    assert both.successful
    assert node.pipeline.pairer.x_timeout_s == pytest.approx(1.0)
    assert node.set_parameters([Parameter('x_timeout', value=0.3)])[0].successful is False

    # score_threshold applies to the next answers: 1.0 hides every tracked (score < 1) frame
    gt = node.seq.boxes_xywh
    node._on_init(box_to_detection(gt[0], 1.0, Header(stamp=ns_to_stamp(0))))
    _feed(node, 0)
    _feed(node, 1)
    assert _last(node)[1] is not None and _last(node)[2] < 1.0
    assert node.set_parameters([Parameter('score_threshold', value=1.0)])[0].successful
    _feed(node, 2)
    assert _last(node)[0] == T0 + 2 * DT and _last(node)[1] is None
    assert node.pipeline.tracker.initialized            # still tracking, only not published


def test_reset_drops_the_target_until_reinit(node) -> None:
    gt = node.seq.boxes_xywh
    node._on_init(box_to_detection(gt[0], 1.0, Header(stamp=ns_to_stamp(0))))
    _feed(node, 0)
    _feed(node, 1)
    assert _last(node)[1] is not None
    resp = node._on_reset(Trigger.Request(), Trigger.Response())
    assert resp.success                           # worker stopped here: queued
    _feed(node, 2)
    _feed(node, 3)
    assert _last(node)[0] == T0 + 3 * DT and _last(node)[1] is None
    assert detections_to_result(node.published[-2])[0] is None
    assert not node.pipeline.tracker.initialized
    values = node.pipeline.health.snapshot(0).values
    assert 'target reset' in values['events'] and values['target'] == 'waiting for init'

    # re-init from a detector: class filter, then highest score
    dets = _detections(T0 + 4 * DT, [([10, 10, 20, 30], 'car', 0.95),
                                     (list(gt[4]), 'person', 0.8),
                                     ([50, 60, 10, 10], 'person', 0.6)])
    node.set_parameters([Parameter('init_class_id', value='person')])
    node._on_init_detections(dets)
    _feed(node, 4)
    stamp, box, score = _last(node)
    assert stamp == T0 + 4 * DT and score == pytest.approx(1.0)
    np.testing.assert_allclose(box, gt[4])

    node.set_parameters([Parameter('init_class_id', value='')])
    node._on_init_detections(_detections(T0 + 5 * DT, [([10, 10, 20, 30], 'car', 0.95),
                                                       (list(gt[5]), 'person', 0.8)]))
    _feed(node, 5)
    np.testing.assert_allclose(_last(node)[1], [10, 10, 20, 30])

    node.set_parameters([Parameter('init_class_id', value='dog')])
    node._on_init_detections(_detections(T0 + 6 * DT, [([10, 10, 20, 30], 'car', 0.95)]))
    _feed(node, 6)                                # no dog: keeps tracking, counted as bad
    assert node.pipeline.health.snapshot(0).values['bad_frames.init.no_detection'] == '1'
    assert _last(node)[1] is not None


def test_view_state_reports_x_only_on_dark_rgb() -> None:
    bright = np.full((32, 32, 3), 120, np.uint8)
    dark = np.full((32, 32, 3), 3, np.uint8)
    assert view_state(bright, True, 12.0) == 'RGB-X'
    assert view_state(dark, True, 12.0) == 'X only'
    assert view_state(dark, False, 12.0) == 'RGB only'
    assert view_state(dark, True, 0.0) == 'RGB-X'


# ------------------------------------------------------------------------ RGB-D 3D marker
FX, FY, CX, CY = 210.0, 205.0, 79.5, 61.0       # depth camera intrinsics, 160x128
TARGET_XYZ = np.array([0.30, -0.15, 2.00])     # metres, optical frame


def _rgbd_frame():
    """RGB 320x256, depth 160x128 (16UC1 mm): wall at 4 m, a 0.4 x 0.5 m target at 2 m whose
    centre is TARGET_XYZ, with holes (0) in it; returns rgb, depth, box in RGB pixels."""
    h, w = 128, 160
    u = FX * TARGET_XYZ[0] / TARGET_XYZ[2] + CX          # pixel-centre coordinates
    v = FY * TARGET_XYZ[1] / TARGET_XYZ[2] + CY
    half_w = 0.2 * FX / TARGET_XYZ[2]
    half_h = 0.25 * FY / TARGET_XYZ[2]
    x0, x1 = u + 0.5 - half_w, u + 0.5 + half_w         # pixel-corner coordinates
    y0, y1 = v + 0.5 - half_h, v + 0.5 + half_h
    depth = np.full((h, w), 4000, np.uint16)
    cols = (np.arange(w) + 0.5 >= x0) & (np.arange(w) + 0.5 <= x1)
    rows = (np.arange(h) + 0.5 >= y0) & (np.arange(h) + 0.5 <= y1)
    depth[np.ix_(rows, cols)] = 2000
    rr, cc = np.nonzero(np.ix_(rows, cols)[0] & np.ix_(rows, cols)[1])
    depth[rr[::3], cc[::3]] = 0                          # holes: no measurement
    rgb = np.full((2 * h, 2 * w, 3), 90, np.uint8)
    box = np.array([x0, y0, x1 - x0, y1 - y0]) * 2.0     # RGB is twice the depth size
    return rgb, depth, box


def test_marker_lands_where_the_depth_says() -> None:
    n = _make_node('depth', camera_info='x')
    try:
        markers = []
        n.marker_pub.publish = markers.append
        info = CameraInfo(header=Header(frame_id='depth_optical_frame'), width=160, height=128)
        info.k = [FX, 0.0, CX, 0.0, FY, CY, 0.0, 0.0, 1.0]
        n._on_camera_info(info)
        rgb, depth, box = _rgbd_frame()
        n._on_init(box_to_detection(box, 1.0, Header(stamp=ns_to_stamp(0))))
        n._on_x(array_to_image(depth, '16UC1', T0, 'depth_frame'))
        n._on_rgb(array_to_image(rgb, 'rgb8', T0, 'rgb_frame'))
        n.step()
        assert len(markers) == 1
        cube, text = markers[0].markers
        assert cube.header.frame_id == 'depth_optical_frame'
        assert stamp_to_ns(cube.header.stamp) == T0
        pos = np.array([cube.pose.position.x, cube.pose.position.y, cube.pose.position.z])
        np.testing.assert_allclose(pos, TARGET_XYZ, atol=0.01)
        np.testing.assert_allclose([cube.scale.x, cube.scale.y], [0.4, 0.5], atol=0.03)
        assert '2.00 m' in text.text
        # no camera_info -> nothing known about intrinsics: a DELETEALL marker, no crash
        n.pipeline.session.intrinsics = None
        n._on_x(array_to_image(depth, '16UC1', T0 + DT, 'depth_frame'))
        n._on_rgb(array_to_image(rgb, 'rgb8', T0 + DT, 'rgb_frame'))
        n.step()
        assert markers[-1].markers[0].action == markers[-1].markers[0].DELETEALL
        assert stamp_to_ns(markers[-1].markers[0].header.stamp) == T0 + DT
    finally:
        _close(n)


def test_rgb_camera_dying_switches_to_x_alone_and_back() -> None:
    """No RGB for rgb_timeout while X arrives: the node answers the X frames (X stamps, RGB
    frame_id and image size, state 'X only', WARN); the first RGB frame brings back RGB-X."""
    import time as _time
    n = _make_node(rgb_timeout=0.05, initial_box=[60.0, 50.0, 24.0, 24.0])
    n.seq = generate_sequence('thermal', 10, 160, 128, seed=3, num_occlusions=0)
    drawn = []
    n.debug_pub.get_subscription_count = lambda: 1
    n.debug_pub.publish = drawn.append
    try:
        for k in range(3):
            _feed(n, k)
        assert [_last(n)[0], n.pipeline.health.x_state] == [T0 + 2 * DT, 'RGB-X']
        for k in range(3, 6):                      # the RGB camera stops; X goes on
            x_msg = array_to_image(n.seq.x_raw[k], 'mono16', T0 + k * DT, 'thermal_frame')
            n._on_x(x_msg)
            _time.sleep(0.08)
            n.step()
            stamp, box, _ = _last(n)
            assert stamp == T0 + k * DT and box is not None, k
            assert n.published[-1].header.frame_id == 'rgb'    # boxes stay in RGB pixels
        values = n.pipeline.health.snapshot(0).values
        assert values['x_state'] == 'X only' and values['x_only_frames'] == '3'
        assert 'RGB lost' in values['events']
        assert n.pipeline.health.snapshot(0).level == 1                   # WARN
        # the debug image shows the X frame (not the black RGB) with the 'X only' state
        assert drawn[-1].height == 128 and drawn[-1].width == 160
        assert np.frombuffer(bytes(drawn[-1].data), np.uint8).mean() > 20
        _feed(n, 6)                                # RGB is back
        assert [_last(n)[0], n.pipeline.health.x_state] == [T0 + 6 * DT, 'RGB-X']
        assert 'RGB resumed' in n.pipeline.health.snapshot(0).values['events']
        # rgb_timeout 0 switches it off at run time
        assert n.set_parameters([Parameter('rgb_timeout', value=0.0)])[0].successful
        assert n.pipeline.pairer.rgb_timeout_s is None
    finally:
        _close(n)


def test_annotations_draw_the_published_box_for_foxglove(node) -> None:
    from foxglove_msgs.msg import PointsAnnotation
    got = []
    node.annotations_pub.publish = got.append
    node.annotations_pub.get_subscription_count = lambda: 1
    gt = node.seq.boxes_xywh
    node._on_init(box_to_detection(gt[0], 1.0, Header(stamp=ns_to_stamp(0))))
    for k in range(3):
        _feed(node, k)
    assert len(got) == 3
    stamp, box, score = _last(node)
    msg = got[-1]
    loop = [p for p in msg.points if p.type == PointsAnnotation.LINE_LOOP]
    assert len(loop) == 1 and stamp_to_ns(loop[0].timestamp) == stamp == T0 + 2 * DT
    corners = np.array([[p.x, p.y] for p in loop[0].points])
    x, y, w, h = box
    np.testing.assert_allclose(corners, [[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    assert [t.text for t in msg.texts] == [f'{score:.2f}', 'RGB-X']
    assert any(p.type == PointsAnnotation.LINE_STRIP and len(p.points) >= 2 for p in msg.points)
    # no target: no box, the state says so
    node._on_reset(Trigger.Request(), Trigger.Response())
    _feed(node, 3)
    assert not [p for p in got[-1].points if p.type == PointsAnnotation.LINE_LOOP]
    assert got[-1].texts[-1].text.endswith('no target')
