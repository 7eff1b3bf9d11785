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

"""Replay bags written with rosbags (ros/bag_io.py, cli/make_bag.py) on the real TNO sequence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from rgbx_tracker_ros.cli import make_bag
from rgbx_tracker_ros.ros import bag_io

SHARED = Path(__file__).resolve().parents[1].parent / 'shared'
TNO = SHARED / 'data' / 'real' / 'tno_nato_camp'


@pytest.fixture(scope='module')
def tno_bag(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('bags') / 'tno.bag'
    assert make_bag.main([str(TNO), str(out), '--rate', '10']) == 0
    return out


def test_tno_bag_topics_counts_stamps_encodings(tno_bag: Path) -> None:
    with Reader(tno_bag) as reader:
        topics = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
        assert reader.message_count == 3 * 32
    assert topics == {'/rgb/image_raw': ('sensor_msgs/msg/Image', 32),
                      '/x/image_raw': ('sensor_msgs/msg/Image', 32),
                      '/ground_truth': ('vision_msgs/msg/Detection2DArray', 32)}
    frames = list(bag_io.iter_bag_images(tno_bag))
    assert len(frames) == 32
    stamps = np.array([f.stamp_ns for f, *_ in frames])
    np.testing.assert_array_equal(stamps, 1_000_000_000 + 100_000_000 * np.arange(32))
    for frame, rgb, rgb_enc, x, x_enc in frames:
        assert (rgb_enc, x_enc) == ('mono8', 'mono8')
        assert rgb.shape == x.shape == (270, 360) and rgb.dtype == np.uint8
        assert bag_io.decode_bag_image(frame.x_raw)[2] == frame.stamp_ns  # X has the RGB stamp
    # pixels are the files' pixels, unchanged
    k = 17
    _, rgb, _, x, _ = frames[k]
    np.testing.assert_array_equal(rgb, cv2.imread(str(TNO / 'visible' / f'{k + 1:05d}v.png'),
                                                  cv2.IMREAD_UNCHANGED))
    np.testing.assert_array_equal(x, cv2.imread(str(TNO / 'infrared' / f'{k + 1:05d}i.png'),
                                                cv2.IMREAD_UNCHANGED))


def test_tno_ground_truth_round_trip(tno_bag: Path) -> None:
    gt_file = np.loadtxt(TNO / 'visible.txt', delimiter=',').reshape(-1, 4)
    frames = bag_io.read_bag_frames(tno_bag)
    boxes = np.array([f.gt_xywh for f in frames])
    present = np.array([f.gt_present for f in frames])
    absent_in_file = np.all(gt_file == 0, axis=1)
    np.testing.assert_array_equal(present, ~absent_in_file)
    assert not present[0] and present[1:].all()          # frame 1 is 0,0,0,0 in the file
    np.testing.assert_allclose(boxes[present], gt_file[present], atol=1e-9)


def test_synthetic_bag_and_errors(tmp_path: Path) -> None:
    from rgbx_tracker_ros.data.synthetic import generate_sequence

    seq = generate_sequence('thermal', 6, 96, 80, seed=1, num_occlusions=0)
    info = bag_io.write_bag(bag_io.synthetic_source(seq), tmp_path / 's.bag', rate_hz=20.0,
                            start_ns=5_000_000_000)
    assert (info.rgb_encoding, info.x_encoding, info.size_wh) == ('rgb8', 'mono16', (96, 80))
    frames = list(bag_io.iter_bag_images(tmp_path / 's.bag'))
    assert [f.stamp_ns for f, *_ in frames] == [5_000_000_000 + 50_000_000 * k for k in range(6)]
    np.testing.assert_array_equal(frames[3][1], seq.rgb[3])
    np.testing.assert_array_equal(frames[3][3], seq.x_raw[3])
    np.testing.assert_allclose(frames[3][0].gt_xywh, seq.boxes_xywh[3])
    with pytest.raises(bag_io.BagError, match='rate'):
        bag_io.write_bag(bag_io.synthetic_source(seq), tmp_path / 'bad.bag', rate_hz=0)
    assert make_bag.main([str(tmp_path / 'missing'), str(tmp_path / 'x.bag')]) == 2


def test_raw_event_bag_round_trip(tmp_path: Path) -> None:
    from rgbx_tracker_ros.data.synthetic import generate_sequence

    seq = generate_sequence('event', 4, 96, 80, seed=2, num_occlusions=0)
    bag_io.write_bag(bag_io.synthetic_source(seq, raw_events=True), tmp_path / 'ev.bag')
    with Reader(tmp_path / 'ev.bag') as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
    assert topics['/x/events'] == 'sensor_msgs/msg/PointCloud2' and '/x/image_raw' not in topics
    frames = list(bag_io.iter_bag_images(tmp_path / 'ev.bag'))
    assert [f.x_type for f, *_ in frames] == ['sensor_msgs/msg/PointCloud2'] * 4
    for k, (_, _, _, events, enc) in enumerate(frames):
        assert enc == 'events'
        np.testing.assert_array_equal(events, seq.x_raw[k])
